"""Deploy a stage as ops do: the resource stack once, then the functions with `chalice deploy`.

    python scripts/deploy.py resources --stage prod   # make resources STAGE=prod
    python scripts/deploy.py app --stage prod         # make deploy STAGE=prod
    python scripts/deploy.py dns --stage prod         # make dns STAGE=prod

``resources`` creates (or updates) the CloudFormation stack ``consentry-<stage>-resources``
from .chalice/resources.yaml, with the stage's mail domain taken from CONSENTRY_SENDER in
.chalice/config.json, and prints the DNS records the mail domain needs.

``app`` checks that the account, region and resources are the ones the stage's policy
names, builds the package (scripts/package.py: the zip the tests run), and runs
``chalice deploy --stage <stage>`` with the mail queues' names exported (app.py reads them
when it registers the queue consumers). Chalice reuses the package just built.

``dns`` prints the records again: DKIM (from the stack), MAIL FROM with its SPF, DMARC, and
for a stage with a custom domain the API's record and the certificate's validation record.

``certificate`` asks ACM (in the stage's region) for the certificate of the stage's API
domain, once, and prints its ARN for config.json and the record that validates it.
Uses the AWS credentials and region of the environment (AWS_PROFILE, AWS_REGION, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from email.utils import parseaddr
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts import deploy_guard  # noqa: E402
from scripts import package as packaging  # noqa: E402

RESOURCES = ROOT / ".chalice" / "resources.yaml"
PLACEHOLDER_ACCOUNT = "111122223333"
_ARN = re.compile(r"^arn:aws:[a-z0-9-]+:(?P<region>[a-z0-9-]*):(?P<account>\d{12}|):")


def stack_name(stage: str) -> str:
    return f"consentry-{stage}-resources"


def mail_domain(stage: str) -> str:
    """The domain of the stage's sender address: the SES identity mail leaves from."""
    _, address = parseaddr(packaging.stage_env(stage)["CONSENTRY_SENDER"])
    if "@" not in address:
        raise SystemExit(f"CONSENTRY_SENDER of stage {stage} has no address")
    return address.rsplit("@", 1)[1].lower()


def policy(stage: str) -> dict[str, Any]:
    config = json.loads(packaging.CONFIG.read_text(encoding="utf-8"))
    name = config["stages"][stage].get("iam_policy_file")
    if not name:
        raise SystemExit(f"stage {stage} has no iam_policy_file")
    return dict(json.loads((ROOT / ".chalice" / name).read_text(encoding="utf-8")))


def function_policies(stage: str) -> list[dict[str, Any]]:
    """The policies of the stage's functions that have a role of their own (issue 14: the
    digest function, the only one that may sign)."""
    config = json.loads(packaging.CONFIG.read_text(encoding="utf-8"))
    functions = config["stages"][stage].get("lambda_functions", {})
    names = [f["iam_policy_file"] for f in functions.values() if "iam_policy_file" in f]
    return [dict(json.loads((ROOT / ".chalice" / n).read_text(encoding="utf-8"))) for n in names]


def policy_scope(stage: str) -> tuple[str, str]:
    """The one account and region every ARN of the stage's policies names."""
    accounts, regions = set(), set()
    statements = [s for p in (policy(stage), *function_policies(stage)) for s in p["Statement"]]
    for statement in statements:
        for arn in statement["Resource"]:
            match = _ARN.match(arn)
            if match is None:
                raise SystemExit(f"not an ARN in the {stage} policy: {arn}")
            accounts.add(match["account"])
            regions.add(match["region"])
    if len(accounts) != 1 or len(regions) != 1:
        raise SystemExit(f"the {stage} policy names several accounts or regions: {accounts} {regions}")
    return accounts.pop(), regions.pop()


def dns_records(domain: str, region: str, dkim: list[str]) -> list[tuple[str, str, str]]:
    """(name, type, value) of every record the sending domain needs.

    DKIM: the three CNAMEs of SES's Easy DKIM (2048-bit keys, rotated by SES).
    MAIL FROM ``bounce.<domain>``: an MX to SES's feedback endpoint and an SPF record that
    allows SES, so SPF passes aligned with the From domain (DMARC relaxed alignment).
    DMARC: monitor first (p=none with reports), then quarantine once reports are clean.
    """
    records = []
    for line in dkim:
        name, _, target = line.partition(" CNAME ")
        records.append((name.strip(), "CNAME", target.strip()))
    bounce = f"bounce.{domain}"
    records += [
        (bounce, "MX", f"10 feedback-smtp.{region}.amazonses.com"),
        (bounce, "TXT", '"v=spf1 include:amazonses.com -all"'),
        (
            f"_dmarc.{domain}",
            "TXT",
            f'"v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}; adkim=r; aspf=r"',
        ),
    ]
    return records


def api_domain(stage: str) -> dict[str, str] | None:
    """The stage's custom domain as config.json gives it to Chalice (``domain_name``,
    ``certificate_arn``), or None for a stage without one (dev). The one place the API's
    public address is written: links are made from the requests it serves (baseurl.py)."""
    config = json.loads(packaging.CONFIG.read_text(encoding="utf-8"))
    domain = config["stages"][stage].get("api_gateway_custom_domain")
    return dict(domain) if domain else None


def _covers(pattern: str, name: str) -> bool:
    """Whether a certificate name (``*.example.com`` covers one label) covers ``name``."""
    pattern, name = pattern.lower(), name.lower()
    if pattern.startswith("*."):
        return "." in name and name.split(".", 1)[1] == pattern[2:]
    return pattern == name


def certificate_problems(acm: Any, domain: dict[str, str], account: str, region: str) -> list[str]:
    """Why API Gateway could not serve the domain with its certificate, if it could not:
    another region or account, missing, not (yet) issued, or not naming the domain."""
    arn, name = domain["certificate_arn"], domain["domain_name"]
    match = _ARN.match(arn)
    if match is None or not arn.startswith("arn:aws:acm:"):
        return [f"the certificate_arn of {name} in config.json is not an ACM certificate ARN: {arn}"]
    if match["account"] == PLACEHOLDER_ACCOUNT:
        return [
            f"config.json still names the example certificate for {name}: run"
            f" `make certificate STAGE=…` and put the ARN it prints"
        ]
    if match["region"] != region or match["account"] != account:
        return [
            f"the certificate for {name} is in {match['region']}/{match['account']}; a regional API"
            f" needs it in its own region and account, {region}/{account}"
        ]
    try:
        cert = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    except acm.exceptions.ResourceNotFoundException:
        return [f"ACM has no certificate {arn} for {name}: run `make certificate STAGE=…`"]
    found = []
    if cert.get("Status") != "ISSUED":
        found.append(
            f"the certificate for {name} is {cert.get('Status')}, not ISSUED: publish the validation"
            f" record `make dns` prints and wait for ACM to issue it"
        )
    names = [cert.get("DomainName", ""), *cert.get("SubjectAlternativeNames", [])]
    if not any(_covers(n, name) for n in names):
        found.append(f"the certificate names {sorted(set(names))}, not {name}")
    return found


def template_parameters() -> dict[str, dict[str, Any]]:
    """The parameters resources.yaml declares, by name (short-form tags read as plain data)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load(RESOURCES.read_text(encoding="utf-8"), Loader=Loader)  # noqa: S506 (SafeLoader)
    return dict(template.get("Parameters", {}))


def stack_parameters(given: dict[str, str], previous: dict[str, str] | None) -> list[dict[str, Any]]:
    """The parameters for create or update: those given, and for an existing stack the
    previous value of every other one the template still declares, so `make resources` run
    again without ALARM_EMAIL keeps the subscription (CloudFormation would otherwise fall
    back to the defaults). Values are passed as read, except a NoEcho one's (the webhook's
    secret), which DescribeStacks masks: UsePreviousValue keeps it, and a new stack gets ""
    (no webhook) unless it was given."""
    declared = template_parameters()
    secret = {key for key, p in declared.items() if isinstance(p, dict) and p.get("NoEcho")}
    values = {key: previous[key] for key in declared if previous and key in previous and key not in secret}
    values.update(given)
    out: list[dict[str, Any]] = [
        {"ParameterKey": key, "ParameterValue": value} for key, value in values.items()
    ]
    for key in sorted(secret - set(given)):
        if previous is not None and key in previous:
            out.append({"ParameterKey": key, "UsePreviousValue": True})
        elif previous is None:
            out.append({"ParameterKey": key, "ParameterValue": ""})
    return out


def _session() -> Any:
    import boto3

    return boto3.session.Session()


def _outputs(cfn: Any, stage: str) -> dict[str, str]:
    stack = cfn.describe_stacks(StackName=stack_name(stage))["Stacks"][0]
    if not stack["StackStatus"].endswith("_COMPLETE") or "ROLLBACK" in stack["StackStatus"]:
        raise SystemExit(f"stack {stack_name(stage)} is {stack['StackStatus']}")
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def api_records(session: Any, domain: dict[str, str]) -> list[tuple[str, str, str]]:
    """The API domain's record (a CNAME to API Gateway's regional name, once `make deploy`
    made the domain) and, while ACM waits for it, the certificate's validation record."""
    name = domain["domain_name"]
    records = []
    apigw = session.client("apigateway")
    try:
        target = apigw.get_domain_name(domainName=name)["regionalDomainName"]
        records.append((name, "CNAME", target))
    except apigw.exceptions.NotFoundException:
        records.append((name, "CNAME", "<regional domain name: run `make dns` again after `make deploy`>"))
    acm = session.client("acm")
    try:
        cert = acm.describe_certificate(CertificateArn=domain["certificate_arn"])["Certificate"]
    except (acm.exceptions.ResourceNotFoundException, acm.exceptions.InvalidArnException):
        return records
    if cert.get("Status") == "PENDING_VALIDATION":
        for option in cert.get("DomainValidationOptions", []):
            record = option.get("ResourceRecord")
            if record:
                records.append((record["Name"].rstrip("."), record["Type"], record["Value"].rstrip(".")))
    return records


def print_dns(stage: str, region: str, outputs: dict[str, str], session: Any = None) -> None:
    dkim = [outputs[k] for k in sorted(outputs) if k.startswith("DkimRecord")]
    print(f"\nDNS records for {mail_domain(stage)} (publish them, then SES verifies the domain):")
    records = dns_records(mail_domain(stage), region, dkim)
    domain = api_domain(stage)
    if domain and session is not None:
        records += api_records(session, domain)
    for name, kind, value in records:
        print(f"  {name:55} {kind:6} {value}")
    if not domain:
        print(f"  (stage {stage} has no custom domain: links point at the API's execute-api URL)")


def deploy_resources(stage: str, alarm_email: str | None = None, webhook_url: str | None = None) -> int:
    from botocore.exceptions import ClientError

    session = _session()
    cfn = session.client("cloudformation")
    name = stack_name(stage)
    try:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        exists = True
    except ClientError:
        stack, exists = {}, False
    given = {"Stage": stage, "MailDomain": mail_domain(stage)}
    if alarm_email is not None:
        given["AlarmEmail"] = alarm_email
    # Issue 14: the webhook consent changes are POSTed to; its secret comes from the
    # environment (never the command line, which `ps` and shell history show).
    if webhook_url is not None:
        given["WebhookUrl"] = webhook_url
    if os.environ.get("WEBHOOK_SECRET"):
        given["WebhookSecret"] = os.environ["WEBHOOK_SECRET"]
    if os.environ.get("WEBHOOK_HEADER"):
        given["WebhookHeader"] = os.environ["WEBHOOK_HEADER"]
    previous = (
        {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])} if exists else None
    )
    args = {
        "StackName": name,
        "TemplateBody": RESOURCES.read_text(encoding="utf-8"),
        "Parameters": stack_parameters(given, previous),
        "Tags": [{"Key": "app", "Value": "consentry"}, {"Key": "stage", "Value": stage}],
    }
    waiter_config = {"Delay": 10, "MaxAttempts": 180}
    if exists:
        try:
            cfn.update_stack(**args)
        except ClientError as exc:
            if "No updates are to be performed" not in str(exc):
                raise
            print(f"{name}: no changes")
        else:
            print(f"updating {name} ...", flush=True)
            cfn.get_waiter("stack_update_complete").wait(StackName=name, WaiterConfig=waiter_config)
    else:
        print(f"creating {name} in {session.region_name} ...", flush=True)
        cfn.create_stack(**args, EnableTerminationProtection=True)
        cfn.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=waiter_config)
    outputs = _outputs(cfn, stage)
    for key, value in sorted(outputs.items()):
        if not key.startswith("DkimRecord"):
            print(f"  {key}: {value}")
    print_dns(stage, session.region_name, outputs, session)
    print(
        "\nThen add the sending system's API keys to the secret (api_keys), and, while the"
        " account is in the SES sandbox, request production access."
    )
    return 0


def preflight(stage: str) -> list[str]:
    """What would make the deployed functions fail: a policy for another account or region,
    a missing resource stack, resources under other names than the stage's settings."""
    session = _session()
    account, region = policy_scope(stage)
    wrong = []
    caller = session.client("sts").get_caller_identity()["Account"]
    if account == PLACEHOLDER_ACCOUNT:
        wrong.append(f".chalice/policy-{stage}.json still names the example account {account}: put {caller}")
    elif account != caller:
        wrong.append(f".chalice/policy-{stage}.json names account {account}, the credentials are {caller}")
    if session.region_name != region:
        wrong.append(f"the policy is for {region}, the session region is {session.region_name}")
    env = packaging.stage_env(stage)
    try:
        outputs = _outputs(session.client("cloudformation"), stage)
    except Exception as exc:  # a missing stack is one more finding, not a crash
        wrong.append(f"no resource stack {stack_name(stage)} ({exc}): run `make resources STAGE={stage}`")
        return wrong
    if outputs.get("EventBusName") != env.get("CONSENTRY_EVENT_BUS"):
        wrong.append(
            f"the stack's event bus is {outputs.get('EventBusName')}, config.json says"
            f" {env.get('CONSENTRY_EVENT_BUS')} (CONSENTRY_EVENT_BUS): run `make resources STAGE={stage}`"
        )
    if not outputs.get("TableStreamArn"):
        wrong.append(f"the stack's table has no stream: run `make resources STAGE={stage}`")
    if outputs.get("TableName") != env["CONSENTRY_TABLE"]:
        wrong.append(
            f"the stack's table is {outputs.get('TableName')}, config.json says {env['CONSENTRY_TABLE']}"
        )
    for output, setting in (
        ("MailQueueUrl", "CONSENTRY_MAIL_QUEUE"),
        ("ConfirmQueueUrl", "CONSENTRY_CONFIRM_QUEUE"),
    ):
        if not outputs.get(output, "").endswith("/" + env[setting]):
            wrong.append(f"the stack's queue is {outputs.get(output)}, not {env[setting]} ({setting})")
    domain = api_domain(stage)
    if domain:
        wrong += certificate_problems(session.client("acm"), domain, caller, session.region_name)
    identity = session.client("sesv2").get_email_identity(EmailIdentity=mail_domain(stage))
    if not identity.get("VerifiedForSendingStatus"):
        print(
            f"warning: SES has not verified {mail_domain(stage)} yet: no mail leaves before its DNS records"
        )
    return wrong


def deploy_app(stage: str) -> int:
    wrong = preflight(stage)
    for problem in wrong:
        print(f"cannot deploy: {problem}", file=sys.stderr)
    if wrong:
        return 1
    package = packaging.build(stage, ROOT / "build" / f"package-{stage}")
    if problems := packaging.problems(package):
        print("cannot deploy, the package is wrong:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print(f"package {package} sha256 {packaging.sha256(package)}", flush=True)
    cmd = [packaging.chalice_bin(), "deploy", "--stage", stage]
    # push_changes subscribes to the table's stream, whose ARN only the stack knows.
    stream = _outputs(_session().client("cloudformation"), stage)["TableStreamArn"]
    env = packaging.chalice_env(stage, table_stream=stream)
    env[deploy_guard.PACKAGE_VARIABLE] = packaging.sha256(package)  # what app.py lets through
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    if done.returncode == 0 and "Reusing existing deployment package" not in done.stdout + done.stderr:
        print("warning: chalice built its own package, not the one tested (no bytecode)", file=sys.stderr)
    return done.returncode


def request_certificate(stage: str) -> int:
    """Ask ACM for the stage's API domain certificate (DNS-validated, in the stage's region);
    asking again within the hour returns the same one (idempotency token)."""
    domain = api_domain(stage)
    if not domain:
        print(f"stage {stage} has no api_gateway_custom_domain in config.json", file=sys.stderr)
        return 1
    acm = _session().client("acm")
    arn = acm.request_certificate(
        DomainName=domain["domain_name"],
        ValidationMethod="DNS",
        IdempotencyToken=f"consentry{stage}",
        Tags=[{"Key": "app", "Value": "consentry"}, {"Key": "stage", "Value": stage}],
    )["CertificateArn"]
    print(f"certificate for {domain['domain_name']}: {arn}")
    print(f"put it in .chalice/config.json: stages.{stage}.api_gateway_custom_domain.certificate_arn")
    print("then publish the validation record `make dns STAGE=…` prints; `make deploy` waits for ISSUED")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("resources", "app", "dns", "certificate"))
    parser.add_argument("--stage", required=True, choices=("dev", "prod"))
    parser.add_argument("--alarm-email", help="resources: the address the alarms mail (kept when not given)")
    parser.add_argument(
        "--webhook-url",
        help="resources: the HTTPS endpoint consent changes are POSTed to ('' removes it; kept when"
        " not given); its secret comes from WEBHOOK_SECRET in the environment",
    )
    args = parser.parse_args()
    if args.what == "resources":
        return deploy_resources(args.stage, args.alarm_email, args.webhook_url)
    if args.what == "app":
        return deploy_app(args.stage)
    if args.what == "certificate":
        return request_certificate(args.stage)
    session = _session()
    print_dns(
        args.stage, session.region_name, _outputs(session.client("cloudformation"), args.stage), session
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
