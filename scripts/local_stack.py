"""The `make run` local stack: Consentry on DynamoDB Local and moto, with no AWS account.

The ledger runs on DynamoDB Local (scripts/dynamodb_local.py) with its data on disk in the
data dir, so a restart keeps it; moto's server runs everything else in this process on
loopback. The stage's resources come from the same `.chalice/resources.yaml` that
production uses; `chalice local` serves the app; a thread per mail queue drains it into
the app's SQS handler the way a Lambda trigger would, so a confirmation mail shows up
within a second; a small page shows the mail sent, and beside it the consent changes the
table's stream pushed to the stage's bus (scripts/local_changes.py).

`provision()` is importable on its own: the tests call it under `moto.mock_aws()`, with
DynamoDB pointed at DynamoDB Local by `AWS_ENDPOINT_URL_DYNAMODB`.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import html
import json
import logging
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Collection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.exceptions import BotoCoreError, ClientError

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo"
DEMO_APP_URL = "http://127.0.0.1:8000"  # what demo/*.html name; replaced by the app's real URL
DEMO_HOST_URL = "http://127.0.0.1:8080"  # and the host page's own, replaced by HOST_PORT's
TEMPLATE = ROOT / ".chalice" / "resources.yaml"
CONFIG = ROOT / ".chalice" / "config.json"
SENDER_DOMAIN = "consentry.example"
# Cloudflare's documented Turnstile test secret (it passes any answer): public, not a secret.
TURNSTILE_TEST_SECRET = "1x0000000000000000000000000000000AA"  # noqa: S105
READY_LINE = "Consentry local stack ready"
# moto's CloudFormation skips these types (and warns on every DescribeStacks):
# provision() leaves them out of the stack and creates what the app needs with boto3
# directly (the secret, the SES identity and configuration set); the topic policy and the
# alarms matter only on AWS.
MOTO_CANNOT_CREATE = {
    "AWS::SecretsManager::Secret",
    "AWS::SNS::TopicPolicy",
    "AWS::SES::ConfigurationSet",
    "AWS::SES::ConfigurationSetEventDestination",
    "AWS::SES::EmailIdentity",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",  # it names the alarms (issue 12)
    "AWS::KMS::Key",  # moto keeps its key policy as a dict, then cannot read it back
    "AWS::KMS::Alias",
    "AWS::Events::Connection",  # the optional webhook's (issue 14): never made locally
    "AWS::Events::ApiDestination",
}

# Not under "consentry": Chalice sets its app's logger (named after the app) to ERROR.
log = logging.getLogger("local_stack")


def _region() -> str:
    return os.environ.get("AWS_DEFAULT_REGION") or "eu-west-1"


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that reads the short intrinsic forms (!Ref, !Sub, !GetAtt)."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def _template() -> dict[str, Any]:
    return yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506 (a SafeLoader)


def moto_template(also_leave_out: Collection[str] = ()) -> str:
    """resources.yaml as JSON, minus what moto's CloudFormation cannot create (and the
    resource types in ``also_leave_out``)."""
    template = _template()
    resources = template["Resources"]
    skip = MOTO_CANNOT_CREATE | set(also_leave_out)
    left_out = {name for name, r in resources.items() if r["Type"] in skip}
    for name in left_out:
        del resources[name]

    def mentions(out: Any, name: str) -> bool:
        text = json.dumps(out)
        return f'"{name}"' in text or f"${{{name}." in text or f"${{{name}}}" in text

    template["Outputs"] = {
        key: out
        for key, out in template.get("Outputs", {}).items()
        if not any(mentions(out, name) for name in left_out)
    }
    return json.dumps(template)


TABLE_TYPE = "AWS::DynamoDB::Table"
# CloudFormation's table properties that CreateTable takes as they are.
_TABLE_AS_IS = (
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "BillingMode",
    "ProvisionedThroughput",
    "DeletionProtectionEnabled",
    "Tags",
)


def table_definition(stage: str, logical: str = "Table") -> tuple[dict[str, Any], dict[str, Any]]:
    """A table of resources.yaml (the ledger, ``Table``, unless named) as CreateTable's
    arguments, and the settings that have calls of their own (TTL, point-in-time
    recovery): one definition of each table, whichever engine makes it."""
    resource = _template()["Resources"][logical]
    assert resource["Type"] == TABLE_TYPE, logical
    props = dict(resource["Properties"])
    name = props.pop("TableName")
    if isinstance(name, dict):  # !Sub consentry-${Stage}: the one intrinsic a name uses here
        name = name["Fn::Sub"].replace("${Stage}", stage)
    create: dict[str, Any] = {"TableName": name, **{k: props.pop(k) for k in _TABLE_AS_IS if k in props}}
    if sse := props.pop("SSESpecification", None):
        create["SSESpecification"] = {"Enabled": sse.pop("SSEEnabled"), **sse}
    if stream := props.pop("StreamSpecification", None):
        create["StreamSpecification"] = {"StreamEnabled": True, **stream}
    settings = {
        key: props.pop(key)
        for key in ("TimeToLiveSpecification", "PointInTimeRecoverySpecification")
        if key in props
    }
    if props:
        raise ValueError(f"provision() cannot make the table's {sorted(props)}: teach table_definition()")
    return create, settings


def ensure_table(ddb: Any, stage: str, *, stream: bool = True) -> str:
    """Every table of resources.yaml (the ledger, the erasure journal), made where it is
    missing; the ledger's name. ``stream=False`` makes a new ledger without its stream: the
    benchmarks, whose moto keeps every stream record and copies the table with each
    transaction (10 MB more per signup), build the stream handler's batches themselves."""
    tables = [n for n, r in _template()["Resources"].items() if r["Type"] == TABLE_TYPE]
    names = {logical: _ensure_one_table(ddb, stage, logical, stream) for logical in tables}
    return names["Table"]


def _ensure_one_table(ddb: Any, stage: str, logical: str, stream: bool = True) -> str:
    """Create one table where it is missing (a restart keeps the one on disk), add an
    index resources.yaml gained since, and set TTL and backups as the template says."""
    create, settings = table_definition(stage, logical)
    if not stream:
        create.pop("StreamSpecification", None)
    name = create["TableName"]
    try:
        existing = ddb.describe_table(TableName=name)["Table"]
    except ClientError as exc:
        if _error_code(exc) != "ResourceNotFoundException":
            raise
        ddb.create_table(**create)
        ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
    else:
        stream = create.get("StreamSpecification")
        if stream and not existing.get("StreamSpecification", {}).get("StreamEnabled"):
            ddb.update_table(TableName=name, StreamSpecification=stream)  # made before issue 14
        have = {i["IndexName"] for i in existing.get("GlobalSecondaryIndexes", [])}
        for index in create.get("GlobalSecondaryIndexes", []):
            if index["IndexName"] not in have:
                ddb.update_table(
                    TableName=name,
                    AttributeDefinitions=create["AttributeDefinitions"],
                    GlobalSecondaryIndexUpdates=[{"Create": index}],
                )
                _wait_for_indexes(ddb, name)
    if ttl := settings.get("TimeToLiveSpecification"):
        try:
            ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        except ClientError as exc:
            if "already enabled" not in str(exc).lower():
                raise
    if pitr := settings.get("PointInTimeRecoverySpecification"):
        try:
            ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification=pitr)
        except ClientError as exc:
            if _error_code(exc) != "UnknownOperationException":  # DynamoDB Local keeps no backups
                raise
    return name


def _wait_for_indexes(ddb: Any, table: str, seconds: float = 60) -> None:
    """A new index is built in the background (CREATING); writes fail until it is ACTIVE."""
    deadline = time.monotonic() + seconds
    while any(
        i["IndexStatus"] != "ACTIVE"
        for i in ddb.describe_table(TableName=table)["Table"].get("GlobalSecondaryIndexes", [])
    ):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the indexes of {table} are not active after {seconds} s")
        time.sleep(0.1)


def provision(
    stage: str = "local",
    api_key: str = "local-dev-key",
    master_key: str | None = None,
    *,
    stream: bool = True,
) -> dict[str, str]:
    """Create the stage's resources (moto in-process or server; the table wherever boto3's
    DynamoDB endpoint points) and fill in what moto's CloudFormation leaves out, so the app
    finds what production has. ``master_key``: the stage secret's key to restore (a
    restart keeps the links and subject ids it made); a new one when not given. ``stream``:
    see ``ensure_table``."""
    region = _region()

    def client(service: str) -> Any:
        return boto3.client(service, region_name=region)

    stack = f"consentry-{stage}"
    cfn = client("cloudformation")
    try:
        cfn.create_stack(
            StackName=stack,
            TemplateBody=moto_template(also_leave_out={TABLE_TYPE}),
            Parameters=[
                {"ParameterKey": "Stage", "ParameterValue": stage},
                {"ParameterKey": "MailDomain", "ParameterValue": SENDER_DOMAIN},
                {"ParameterKey": "WebhookSecret", "ParameterValue": ""},  # no webhook locally
            ],
        )
    except ClientError as exc:
        if _error_code(exc) != "AlreadyExistsException":
            raise
    cfn.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig={"Delay": 1})

    # Not in the stack: moto's CloudFormation would make it in moto, and it ignores TTL
    # and point-in-time recovery; with DynamoDB Local the table must outlive moto anyway.
    table = ensure_table(client("dynamodb"), stage, stream=stream)

    # The secret is not in moto's stack (MOTO_CANNOT_CREATE). On AWS the stack generates
    # master_key and ops add the API keys; here both are put explicitly, with Cloudflare's
    # public test secret for Turnstile (it passes every answer to the catalogue's test site
    # key), so the demo form with a bot challenge works on a laptop with a network.
    secret_id = f"consentry/{stage}/keys"
    keys = {"master_key": master_key or secrets.token_hex(32), "api_keys": [api_key]}
    value = json.dumps({**keys, "challenge_secret": TURNSTILE_TEST_SECRET})
    sm = client("secretsmanager")
    try:
        secret_arn = sm.put_secret_value(SecretId=secret_id, SecretString=value)["ARN"]
    except ClientError as exc:
        if _error_code(exc) != "ResourceNotFoundException":
            raise
        secret_arn = sm.create_secret(Name=secret_id, SecretString=value)["ARN"]

    # The digest signing key (issue 14), made here: moto's CloudFormation cannot.
    kms = client("kms")
    alias = f"alias/consentry-{stage}-digest"
    if not any(a["AliasName"] == alias for a in kms.list_aliases()["Aliases"]):
        key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=alias, TargetKeyId=key)

    # SES refuses to send from an unverified domain; verify it for both API versions.
    client("ses").verify_domain_identity(Domain=SENDER_DOMAIN)
    try:
        client("sesv2").create_email_identity(EmailIdentity=SENDER_DOMAIN)
    except ClientError as exc:
        if _error_code(exc) != "AlreadyExistsException":
            raise

    # The configuration set, so a stage that names one can send; moto records no events.
    try:
        client("sesv2").create_configuration_set(ConfigurationSetName=f"consentry-{stage}")
    except ClientError as exc:
        # SES v2 says AlreadyExistsException; moto answers in SES v1's words.
        if _error_code(exc) not in ("AlreadyExistsException", "ConfigurationSetAlreadyExistsException"):
            raise

    sqs = client("sqs")

    def queue(name: str) -> tuple[str, str]:
        url = sqs.get_queue_url(QueueName=f"consentry-{stage}-{name}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    queue_url, queue_arn = queue("mail")
    confirm_queue_url, confirm_queue_arn = queue("confirm")
    return {
        "stack": stack,
        "region": region,
        "table": table,
        "queue_url": queue_url,
        "queue_arn": queue_arn,
        "confirm_queue_url": confirm_queue_url,
        "confirm_queue_arn": confirm_queue_arn,
        "dlq_url": sqs.get_queue_url(QueueName=f"consentry-{stage}-mail-dlq")["QueueUrl"],
        "secret_id": secret_id,
        "secret_arn": secret_arn,
        "feedback_topic_arn": _output(cfn, stack, "FeedbackTopicArn"),
        "event_bus": _output(cfn, stack, "EventBusName"),
    }


def _output(cfn: Any, stack: str, key: str) -> str:
    outputs = cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    return next(o["OutputValue"] for o in outputs if o["OutputKey"] == key)


# --- the runner -----------------------------------------------------------------------


def _apply_stage_env(stage: str) -> None:
    """Give this process the stage's environment, as chalice local gives its requests."""
    config = json.loads(CONFIG.read_text(encoding="utf-8"))
    env = {**config.get("environment_variables", {})}
    env.update(config["stages"][stage].get("environment_variables", {}))
    for key, value in env.items():
        if key != "CONSENTRY_BASE_URL" or key not in os.environ:
            os.environ[key] = value


def _sqs_event(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """The event a Lambda SQS trigger delivers for one message."""
    attributes = {
        name: {"stringValue": a.get("StringValue"), "dataType": a["DataType"]}
        for name, a in message.get("MessageAttributes", {}).items()
    }
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": attributes,
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    return {"Records": [record]}


def _drain(
    handler: Callable[[dict[str, Any], Any], Any],
    resources: dict[str, str],
    stop: threading.Event,
) -> None:
    """Feed the mail queue to the app's handler; a failed job stays for redelivery, so
    the redrive policy moves a poisoned one to the DLQ as on AWS."""
    sqs = boto3.client("sqs", region_name=resources["region"])
    while not stop.is_set():
        try:
            messages = sqs.receive_message(
                QueueUrl=resources["queue_url"],
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
        except (BotoCoreError, ClientError) as exc:
            if not stop.is_set():
                log.warning("mail queue receive failed: %s", type(exc).__name__)
                stop.wait(1)
            continue
        for message in messages:
            try:
                handler(
                    _sqs_event(message, resources["queue_arn"], resources["region"]),
                    None,
                )
            except Exception as exc:
                # Type and place only: the body and the error text may hold an address.
                frame = traceback.extract_tb(exc.__traceback__)[-1]
                log.warning(
                    "mail job %s failed (receive %s): %s at %s:%s; left for redelivery",
                    message["MessageId"],
                    message.get("Attributes", {}).get("ApproximateReceiveCount", "?"),
                    type(exc).__name__,
                    Path(frame.filename).name,
                    frame.lineno,
                )
                continue
            sqs.delete_message(QueueUrl=resources["queue_url"], ReceiptHandle=message["ReceiptHandle"])


def _sign_digests(handler: Callable[[dict[str, Any], Any], Any], region: str, stop: threading.Event) -> None:
    """Stand in for the hourly schedule of the digest function (issue 14): every
    CONSENTRY_LOCAL_DIGEST_SECONDS (60) locally, so `make verify STAGE=local` has digests."""
    seconds = float(os.environ.get("CONSENTRY_LOCAL_DIGEST_SECONDS", "60"))
    while not stop.wait(seconds):
        event = {
            "version": "0",
            "id": "local",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": region,
            "resources": [],
            "detail": {},
        }
        try:
            handler(event, None)
        except Exception as exc:
            log.warning("digest failed: %s", type(exc).__name__)


_URL = re.compile(r"(https?://[^\s<>\"']+)")


def _mails(moto_url: str) -> list[dict[str, str]]:
    """SES messages moto holds, newest first, as to/subject/body text (and the path of the
    HTML part's own page, for a message that has one)."""
    with urllib.request.urlopen(f"{moto_url}/moto-api/data.json", timeout=5) as answer:
        ses = json.load(answer).get("ses", {})
    mails = []
    for m in ses.get("Message", []):  # SendEmail / SESv2 Simple
        to = ", ".join(a for addrs in m.get("destinations", {}).values() for a in addrs)
        mails.append({"to": to, "subject": m.get("subject", ""), "body": m.get("body", "")})
    for index, m in enumerate(ses.get("RawMessage", [])):  # SendRawEmail / SESv2 Raw: MIME text
        msg = email.message_from_string(m.get("raw_data", ""), policy=email.policy.default)
        part = msg.get_body(preferencelist=("plain", "html"))
        body = part.get_content() if part is not None else ""
        to = str(msg.get("To") or ", ".join(m.get("destinations", [])))
        html_path = f"/mail/{index}" if msg.get_body(preferencelist=("html",)) is not None else ""
        mails.append({"to": to, "subject": str(msg.get("Subject", "")), "body": body, "html": html_path})
    # data.json keeps each kind in send order; ids carry no time, so kinds stay grouped.
    return mails[::-1]


def _mail_page(moto_url: str, more: str = "") -> str:
    def linkify(text: str) -> str:
        parts = _URL.split(text)
        return "".join(
            f'<a href="{html.escape(p)}">{html.escape(p)}</a>' if i % 2 else html.escape(p)
            for i, p in enumerate(parts)
        )

    items = "".join(
        f"<article><h2>{html.escape(m['subject'])}</h2><p>To: {html.escape(m['to'])}"
        + (f' · <a class="html" href="{m["html"]}">as HTML</a>' if m.get("html") else "")
        + f"</p><pre>{linkify(m['body'])}</pre></article>"
        for m in _mails(moto_url)
    )
    return (
        "<!doctype html><meta charset=utf-8><title>Consentry local mail</title>"
        "<style>body{font-family:sans-serif;max-width:50rem;margin:auto}"
        "article{border-bottom:1px solid #ccc}pre{white-space:pre-wrap}</style>"
        f"<h1>Mail sent (newest first)</h1>{items or '<p>No mail yet.</p>'}{more}"
    )


def _mail_html(moto_url: str, index: int) -> str | None:
    """The HTML part of one sent message, as a mail client would render it."""
    with urllib.request.urlopen(f"{moto_url}/moto-api/data.json", timeout=5) as answer:
        raw = json.load(answer).get("ses", {}).get("RawMessage", [])
    if not 0 <= index < len(raw):
        return None
    msg = email.message_from_string(raw[index].get("raw_data", ""), policy=email.policy.default)
    part = msg.get_body(preferencelist=("html",))
    return str(part.get_content()) if part is not None else None


# A mail's HTML part is shown as a careful mail client shows it: its own inline styles, no
# script, and nothing fetched from anywhere (so a remote image or a pixel would show up
# as refused in the browser tests).
_MAIL_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
)


def _mail_viewer(port: int, moto_url: str, more: Callable[[], str] = str) -> ThreadingHTTPServer:
    """The mail page; ``more`` adds what else the stack shows beside it (the bus's events)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            csp = None
            try:
                found = re.fullmatch(r"/mail/(\d+)", self.path)
                if found:
                    one = _mail_html(moto_url, int(found.group(1)))
                    page, status, csp = (one or "not found").encode(), 200 if one else 404, _MAIL_CSP
                else:
                    page, status = _mail_page(moto_url, more()).encode(), 200
            except (OSError, ValueError) as exc:
                page, status = html.escape(f"moto unreachable: {exc}").encode(), 502
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            if csp:
                self.send_header("Content-Security-Policy", csp)
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


_DEMO_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8"}


def _host_pages(port: int, app_url: str) -> ThreadingHTTPServer:
    """The demo host page: the organisation's own site on another origin, embedding the form
    three ways (demo/). The files name the default app URL; served with the real one."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            name = self.path.split("?", 1)[0].lstrip("/") or "index.html"
            path = DEMO / name
            if "/" in name or path.suffix not in _DEMO_TYPES or not path.is_file():
                body, status, kind = b"not found", 404, "text/plain; charset=utf-8"
            else:
                text = path.read_text(encoding="utf-8").replace(DEMO_APP_URL, app_url)
                text = text.replace(DEMO_HOST_URL, f"http://127.0.0.1:{port}")
                body, status, kind = text.encode(), 200, _DEMO_TYPES[path.suffix]
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


_REQUEST_LINE = re.compile(r'"([A-Z]+) (/[^/ ?"]*)[^ "]* (HTTP/[\d.]+)"')


def _relay(stream: Any, out: Any) -> None:
    """Copy chalice local's output, cutting request paths to their first segment:
    the rest holds tokens and addresses."""
    for line in stream:
        out.write(_REQUEST_LINE.sub(r'"\1 \2/... \3"', line))
        out.flush()


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_ready(url: str, chalice: subprocess.Popen[str], stop: threading.Event) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not stop.is_set() and chalice.poll() is None:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return True
        except urllib.error.HTTPError:
            return True  # it answered
        except OSError:
            time.sleep(0.2)
    return False


def stop_process(proc: subprocess.Popen[Any], seconds: float = 5) -> None:
    """Ask a child to stop; kill it when it will not within ``seconds``."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> int:
    """Run the stack until Ctrl-C or SIGTERM; stop everything it started."""
    sys.path.insert(0, str(ROOT))  # run as a script: `scripts` and `app` from the project
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    from scripts import dynamodb_local, local_changes, local_data

    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    log.setLevel(logging.INFO)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's line per request
    port = int(os.environ.get("PORT", "8000"))
    moto_port = int(os.environ.get("MOTO_PORT", "5000"))
    dynamodb_port = int(os.environ.get("DYNAMODB_PORT", "5001"))
    mail_port = int(os.environ.get("MAIL_PORT", "8025"))
    host_port = int(os.environ.get("HOST_PORT", "8080"))
    api_key = os.environ.get("CONSENTRY_API_KEY") or "local-dev-key"
    app_url = f"http://127.0.0.1:{port}"
    moto_url = f"http://127.0.0.1:{moto_port}"
    host_url = f"http://127.0.0.1:{host_port}"
    data = local_data.data_dir()

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    busy = [p for p in (port, moto_port, dynamodb_port, mail_port, host_port) if not port_free(p)]
    if busy:
        print(f"port(s) in use on 127.0.0.1: {busy}", file=sys.stderr)
        return 1
    lock = local_data.claim(data)
    if lock is None:
        print(f"another `make run` uses the data dir {data}", file=sys.stderr)
        return 1
    if "--fresh" in sys.argv[1:]:
        local_data.forget(data)

    # Fake credentials always: the local stack must never reach a real account.
    os.environ.update(
        AWS_ENDPOINT_URL=moto_url,
        AWS_ENDPOINT_URL_DYNAMODB=f"http://127.0.0.1:{dynamodb_port}",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="eu-west-1",
        CONSENTRY_BASE_URL=app_url,
    )
    for var in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
        os.environ.pop(var, None)
    # The demo host page is another origin the local stage's forms may be embedded in: the
    # catalogue (one file for every stage) cannot list it, so the stage setting adds it.
    extra = [o for o in os.environ.get("CONSENTRY_EXTRA_ORIGINS", "").split(",") if o.strip()]
    os.environ["CONSENTRY_EXTRA_ORIGINS"] = ",".join(dict.fromkeys([*extra, host_url]))

    with contextlib.ExitStack() as running:
        running.callback(lock.close)
        dynamodb_url = running.enter_context(
            dynamodb_local.running(dynamodb_port, local_data.ledger_dir(data))
        )
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
        moto.start()
        running.callback(moto.stop)

        resources = provision("local", api_key, master_key=local_data.stage_master_key(data))
        # DynamoDB Local keeps expired items: sweep them now and every minute, as TTL would.
        ddb = boto3.client("dynamodb", region_name=_region())
        tables = [n for n in ddb.list_tables()["TableNames"] if n.startswith("consentry-local")]
        for table in tables:  # the ledger and the erasure journal
            dynamodb_local.sweep_expired(ddb, table)
        sweeper = threading.Thread(target=dynamodb_local.sweep_until, args=(ddb, tables, stop), daemon=True)
        sweeper.start()
        if stop.is_set():
            return 0
        _apply_stage_env("local")
        import app  # only now: the app reads the stage env

        # No autoreload: its stat() poller walks the whole tree (.venv too) every second
        # and restarts on any write in it (caches, .pyc); and the mail worker in this
        # process could not follow a reload anyway. Restart `make run` after code changes.
        chalice_cmd = [str(Path(sys.executable).with_name("chalice")), "local"]
        chalice_cmd += ["--stage", "local", "--host", "127.0.0.1", "--port", str(port)]
        chalice = subprocess.Popen(
            [*chalice_cmd, "--no-autoreload"],
            cwd=ROOT,
            env=os.environ.copy(),
            text=True,
            errors="replace",
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        running.callback(stop_process, chalice)
        for stream, out in ((chalice.stdout, sys.stdout), (chalice.stderr, sys.stderr)):
            threading.Thread(target=_relay, args=(stream, out), daemon=True).start()

        # One drainer per queue, as each queue has its own consumer on AWS.
        confirm_queue = {
            **resources,
            "queue_url": resources["confirm_queue_url"],
            "queue_arn": resources["confirm_queue_arn"],
        }
        for handler, queue in ((app.mail_worker, resources), (app.confirm_worker, confirm_queue)):
            drainer = threading.Thread(target=_drain, args=(handler, queue, stop))
            drainer.start()
            running.callback(drainer.join, 5)
        signer = threading.Thread(target=_sign_digests, args=(app.sign_digest, resources["region"], stop))
        signer.start()
        running.callback(signer.join, 5)
        running.callback(stop.set)

        # Issue 14: the table's stream into push_changes, as Lambda would; the bus seen
        # through a queue, whose events the mail viewer shows (scripts/local_changes.py).
        bus_tap, loops = local_changes.start(app.push_changes, resources, dynamodb_url, stop)
        for loop in loops:
            running.callback(loop.join, 5)
        running.callback(stop.set)

        viewer = _mail_viewer(mail_port, moto_url, bus_tap.section)
        threading.Thread(target=viewer.serve_forever, daemon=True).start()
        running.callback(viewer.server_close)
        running.callback(viewer.shutdown)

        host = _host_pages(host_port, app_url)
        threading.Thread(target=host.serve_forever, daemon=True).start()
        running.callback(host.server_close)
        running.callback(host.shutdown)

        if not _wait_ready(f"{app_url}/forms/newsletter", chalice, stop):
            if stop.is_set():
                return 0
            print("chalice local did not answer within 30 s", file=sys.stderr)
            return 1
        print(
            f"\n  form:      {app_url}/forms/newsletter\n"
            f"  API:       {app_url}/api/  (Authorization: Bearer {api_key})\n"
            f"  moto:      {moto_url}/moto-api/data.json\n"
            f"  DynamoDB:  {dynamodb_url}  (DynamoDB Local; data in {data})\n"
            f"  mail sent: http://127.0.0.1:{mail_port}/\n"
            f"  host page: {host_url}/  (the form embedded three ways, on another origin)\n\n"
            f"{READY_LINE}  (Ctrl-C stops it)",
            flush=True,
        )
        while not stop.wait(0.5):
            if chalice.poll() is not None and not stop.wait(0.5):  # not a Ctrl-C
                print(f"chalice local exited ({chalice.returncode})", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
