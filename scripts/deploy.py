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

``dns`` prints the records again: DKIM (from the stack), MAIL FROM with its SPF, DMARC.
Uses the AWS credentials and region of the environment (AWS_PROFILE, AWS_REGION, ...).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from email.utils import parseaddr
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

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


def policy_scope(stage: str) -> tuple[str, str]:
    """The one account and region every ARN of the stage's policy names."""
    accounts, regions = set(), set()
    for statement in policy(stage)["Statement"]:
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


def _session() -> Any:
    import boto3

    return boto3.session.Session()


def _outputs(cfn: Any, stage: str) -> dict[str, str]:
    stack = cfn.describe_stacks(StackName=stack_name(stage))["Stacks"][0]
    if not stack["StackStatus"].endswith("_COMPLETE") or "ROLLBACK" in stack["StackStatus"]:
        raise SystemExit(f"stack {stack_name(stage)} is {stack['StackStatus']}")
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def print_dns(stage: str, region: str, outputs: dict[str, str]) -> None:
    dkim = [outputs[k] for k in sorted(outputs) if k.startswith("DkimRecord")]
    print(f"\nDNS records for {mail_domain(stage)} (publish them, then SES verifies the domain):")
    for name, kind, value in dns_records(mail_domain(stage), region, dkim):
        print(f"  {name:55} {kind:6} {value}")


def deploy_resources(stage: str) -> int:
    from botocore.exceptions import ClientError

    session = _session()
    cfn = session.client("cloudformation")
    name = stack_name(stage)
    args = {
        "StackName": name,
        "TemplateBody": RESOURCES.read_text(encoding="utf-8"),
        "Parameters": [
            {"ParameterKey": "Stage", "ParameterValue": stage},
            {"ParameterKey": "MailDomain", "ParameterValue": mail_domain(stage)},
        ],
        "Tags": [{"Key": "app", "Value": "consentry"}, {"Key": "stage", "Value": stage}],
    }
    try:
        cfn.describe_stacks(StackName=name)
        exists = True
    except ClientError:
        exists = False
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
    print_dns(stage, session.region_name, outputs)
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
    done = subprocess.run(cmd, cwd=ROOT, env=packaging.chalice_env(stage), capture_output=True, text=True)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    if done.returncode == 0 and "Reusing existing deployment package" not in done.stdout + done.stderr:
        print("warning: chalice built its own package, not the one tested (no bytecode)", file=sys.stderr)
    return done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("resources", "app", "dns"))
    parser.add_argument("--stage", required=True, choices=("dev", "prod"))
    args = parser.parse_args()
    if args.what == "resources":
        return deploy_resources(args.stage)
    if args.what == "app":
        return deploy_app(args.stage)
    session = _session()
    print_dns(args.stage, session.region_name, _outputs(session.client("cloudformation"), args.stage))
    return 0


if __name__ == "__main__":
    sys.exit(main())
