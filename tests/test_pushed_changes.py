"""Consent changes pushed to the systems that act on them (issue 14): a withdrawal leaves
every system that mails at once (LAW 19), an objection reaches the systems that profile
(LAW 20), a suppression carries its reason (LAW 22, 31), an erasure reaches every recipient
without the address (LAW 26; GDPR art. 17(2), 19); at least once, each change with an id for
de-duplication, and no address in the logs (LAW 30).

The ledger runs on DynamoDB Local, whose table has a real stream: the records a change
writes are read from it exactly as Lambda reads them (scripts/local_changes.py, the same
reader `make run` uses) and handed to ``push_changes`` through chalice's test client. The
bus is moto's EventBridge, with a rule that sends everything on it to a queue, read here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import boto3
import pytest

from scripts.local_changes import BusTap, StreamReader, tap
from tests.conftest import ROOT, STAGE_ENV
from tests.stack import API_KEY

REGION = "eu-west-1"


class Changes:
    """The table's stream handed to push_changes, and what reached the bus."""

    def __init__(self, visitor: Any) -> None:
        endpoint = os.environ["AWS_ENDPOINT_URL_DYNAMODB"]
        self.visitor = visitor
        ddb = boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint)
        streams = boto3.client("dynamodbstreams", region_name=REGION, endpoint_url=endpoint)
        sqs = boto3.client("sqs", region_name=REGION)
        events = boto3.client("events", region_name=REGION)
        self.tap = BusTap(sqs, tap(sqs, events, visitor.resources["event_bus"]))
        self.reader = StreamReader(ddb, streams, visitor.resources["table"], REGION, start="TRIM_HORIZON")

    def batches(self) -> list[dict[str, Any]]:
        """The Lambda events for every record written since the last call."""
        events: list[dict[str, Any]] = []
        while self.reader.poll(events.append):  # 100 records at most per batch, as Lambda's
            pass
        return events

    def invoke(self, event: dict[str, Any]) -> Any:
        return self.visitor.client.lambda_.invoke("push_changes", event)

    def arrived(self) -> list[dict[str, Any]]:
        """The EventBridge events that reached the bus's queue since the last call."""
        return self.tap.drain()

    def pushed(self) -> list[dict[str, Any]]:
        """Hand every new stream record to push_changes; the details that arrived."""
        for event in self.batches():
            self.invoke(event)
        return [e["detail"] for e in self.arrived()]


@pytest.fixture
def changes(visitor: Any) -> Changes:
    return Changes(visitor)


def _of(details: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in details if d["type"] == kind]


def test_every_kind_of_change_reaches_the_bus_with_what_a_consumer_needs(visitor, changes):
    """LAW 19, 20, 22, 26: grant, objection, withdrawal, suppression, its lifting, erasure."""
    email = "anna.push@example.com"
    subject = visitor.subject(email)
    visitor.subscribe(email)
    granted = changes.pushed()
    assert sorted(d["purpose"] for d in granted) == ["newsletter", "offers"]
    since = visitor.contact(email)["purposes"]["newsletter"]["since"]
    for detail in granted:
        assert set(detail) == {"id", "type", "subject", "email", "purpose", "basis", "since"}
        assert (detail["type"], detail["subject"], detail["email"], detail["basis"]) == (
            "granted",
            subject,
            email,
            "consent",
        )
        assert detail["since"] == since

    path = visitor.unsubscribe_path(email)
    visitor.post_form(path, {"profiling": "object"})
    (objected,) = changes.pushed()
    assert set(objected) == {"id", "type", "subject", "email", "since"}
    assert (objected["type"], objected["email"]) == ("profiling_objected", email)
    visitor.post_form(path, {"profiling": "allow"})
    assert [d["type"] for d in changes.pushed()] == ["profiling_allowed"]

    visitor.one_click(visitor.unsubscribe_path(email, "newsletter"))
    (withdrawn,) = changes.pushed()
    assert {k: withdrawn[k] for k in ("type", "purpose", "basis", "email")} == {
        "type": "withdrawn",
        "purpose": "newsletter",
        "basis": "consent",
        "email": email,
    }
    assert withdrawn["since"] == visitor.contact(email)["purposes"]["newsletter"]["since"]

    visitor.post_form(path, {"everything": "1"})
    left = changes.pushed()
    assert [(d["type"], d.get("purpose")) for d in _of(left, "withdrawn")] == [("withdrawn", "offers")]
    (suppressed,) = _of(left, "suppressed")
    assert set(suppressed) == {"id", "type", "subject", "email", "reason", "since"}
    assert (suppressed["reason"], suppressed["email"]) == ("unsubscribed", email)
    assert len(left) == 2

    # Signing up and confirming again is the person's own new yes: the marker goes.
    visitor.subscribe(email)
    back = changes.pushed()
    assert sorted(d["type"] for d in back) == ["granted", "granted", "unsuppressed"]
    (lifted,) = _of(back, "unsuppressed")
    assert (lifted["subject"], lifted["email"]) == (subject, email)

    assert visitor.api_delete(f"/api/contacts/{email}").status_code == 200
    (erased,) = changes.pushed()
    assert erased["type"] == "erased" and erased["subject"] == subject


def test_the_envelope_names_the_source_the_change_and_its_time(visitor, changes):
    visitor.subscribe("bea.push@example.com", purposes=("newsletter",))
    for batch in changes.batches():
        changes.invoke(batch)
    (event,) = changes.arrived()
    assert event["source"] == "consentry" and event["detail-type"] == "granted"
    assert event["time"] == event["detail"]["since"][:19] + "Z"  # EventBridge keeps whole seconds
    assert event["resources"] == []


def test_erased_carries_the_subject_hash_and_no_address(visitor, changes):
    """LAW 26: the recipients hear of the erasure without learning the address again; the
    subject hash they kept from earlier events tells them whom to erase."""
    email = "carla.push@example.com"
    visitor.subscribe(email, name="Carla Pushkin")
    earlier = changes.pushed()
    assert visitor.api_delete(f"/api/contacts/{email}").status_code == 200
    for batch in changes.batches():
        changes.invoke(batch)
    (event,) = changes.arrived()
    assert set(event["detail"]) == {"id", "type", "subject", "since"}
    assert event["detail"]["subject"] == earlier[0]["subject"]
    raw = json.dumps(event).lower()
    assert "carla" not in raw and "pushkin" not in raw and "@" not in raw


def test_a_complaint_and_a_bounce_suppress_with_their_reason(visitor, changes, monkeypatch):
    """LAW 31: the CRM learns which address complained (and withdrew) or bounced."""
    from tests.test_ses_feedback import OURS, _bounce, _complaint

    monkeypatch.setenv("CONSENTRY_SES_CONFIGURATION_SET", OURS)
    visitor.subscribe("dora.push@example.com", purposes=("newsletter",))
    visitor.subscribe("eef.push@example.com", purposes=("newsletter",))
    changes.pushed()
    visitor.sns(_complaint("dora.push@example.com"))
    visitor.sns(_bounce("eef.push@example.com"))
    details = changes.pushed()
    reasons = {d["email"]: d["reason"] for d in _of(details, "suppressed")}
    assert reasons == {"dora.push@example.com": "complaint", "eef.push@example.com": "bounce"}
    # A complaint withdraws; a bounce takes the address out of the audience, consent stays.
    assert [d["email"] for d in _of(details, "withdrawn")] == ["dora.push@example.com"]


def test_an_unconfirmed_signup_pushes_nothing_and_never_its_address(visitor, changes):
    """Anyone can type an address into a form: until it is confirmed, nothing about it
    leaves, and a withdrawal before confirming leaves without the address."""
    email = "fleur.push@example.com"
    visitor.signup(email)
    visitor.run_mail_jobs()
    assert changes.pushed() == []
    visitor.one_click(visitor.unsubscribe_path(email))
    for batch in changes.batches():
        changes.invoke(batch)
    arrived = changes.arrived()
    assert sorted(e["detail"]["type"] for e in arrived) == ["suppressed", "withdrawn", "withdrawn"]
    assert email not in json.dumps(arrived)


def test_a_redelivered_batch_carries_the_same_ids(visitor, changes):
    """Lambda delivers a batch again when an invocation fails: the consumer sees each change
    twice with one id, and drops the second."""
    visitor.subscribe("gijs.push@example.com")
    visitor.one_click(visitor.unsubscribe_path("gijs.push@example.com"))
    batches = changes.batches()
    for batch in batches:
        changes.invoke(batch)
    first = [e["detail"] for e in changes.arrived()]
    for batch in batches:
        changes.invoke(batch)
    again = [e["detail"] for e in changes.arrived()]
    kinds = ["granted", "granted", "suppressed", "withdrawn", "withdrawn"]
    assert sorted(d["type"] for d in first) == kinds and len({d["id"] for d in first}) == 5
    assert sorted(first, key=lambda d: d["id"]) == sorted(again, key=lambda d: d["id"])


def test_many_changes_go_ten_to_a_call(visitor, changes):
    """PutEvents takes at most 10 entries: a batch of 12 changes is two calls."""
    from chalicelib import bus

    for n in range(6):
        visitor.subscribe(f"h{n}.push@example.com")
    batch = {"Records": [r for b in changes.batches() for r in b["Records"]]}  # one batch of them all
    calls: list[int] = []
    client = bus._client(REGION)

    def count(params: dict[str, Any], **_: Any) -> None:
        calls.append(len(params["Entries"]))

    client.meta.events.register("before-parameter-build.events.PutEvents", count)
    try:
        changes.invoke(batch)
    finally:
        client.meta.events.unregister("before-parameter-build.events.PutEvents", count)
    assert calls == [10, 2]
    assert len(_of([e["detail"] for e in changes.arrived()], "granted")) == 12


class Refused:
    """EventBridge refusing an entry of PutEvents calls (``FailedEntryCount``), as it does
    when it throttles: the refused entry never reaches moto's bus, and the answer says so.
    ``calls``: how many calls refuse (each its entry at ``index``); None: every call."""

    def __init__(self, client: Any, index: int, calls: int | None) -> None:
        self.client, self.index, self.left = client, index, calls
        self.refused: list[str] = []
        self._hooks = {
            "before-parameter-build.events.PutEvents": self._drop,
            "before-call.events.PutEvents": self._nothing_left,
            "after-call.events.PutEvents": self._answer,
        }

    def __enter__(self) -> Refused:
        for name, hook in self._hooks.items():
            self.client.meta.events.register(name, hook)
        return self

    def __exit__(self, *_: Any) -> None:
        for name, hook in self._hooks.items():
            self.client.meta.events.unregister(name, hook)

    def _drop(self, params: dict[str, Any], **_: Any) -> None:
        self._now = (self.left is None or self.left > 0) and len(params["Entries"]) > self.index
        self._alone = self._now and len(params["Entries"]) == 1
        if self._now:
            entries = list(params["Entries"])  # a copy: the caller's list stays as it sent it
            entry = entries.pop(self.index)
            if not self._alone:  # a call needs one entry: the lone one is answered below
                params["Entries"] = entries
            self.refused.append(json.loads(entry["Detail"])["id"])
            if self.left is not None:
                self.left -= 1

    def _failed(self) -> dict[str, str]:
        return {"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"}

    def _nothing_left(self, **_: Any) -> Any:
        """The call's only entry refused: EventBridge answers without putting anything."""
        if self._now and self._alone:
            from botocore.awsrequest import AWSResponse

            http = AWSResponse("https://events.eu-west-1.amazonaws.com/", 200, {}, None)
            return http, {"FailedEntryCount": 1, "Entries": [self._failed()]}
        return None

    def _answer(self, parsed: dict[str, Any], **_: Any) -> None:
        if self._now and not self._alone:
            parsed["Entries"].insert(self.index, self._failed())
            parsed["FailedEntryCount"] = parsed.get("FailedEntryCount", 0) + 1


def test_an_entry_putevents_refuses_is_sent_again(visitor, changes):
    from chalicelib import bus

    visitor.subscribe("ines.push@example.com")
    visitor.subscribe("jan.push@example.com")
    batch = {"Records": [r for b in changes.batches() for r in b["Records"]]}
    with Refused(bus._client(REGION), index=0, calls=2) as refused:
        changes.invoke(batch)
    assert len(refused.refused) == 2 and len(set(refused.refused)) == 1  # refused twice
    details = [e["detail"] for e in changes.arrived()]
    assert len(details) == 4 and len({d["id"] for d in details}) == 4  # each once, none lost
    assert refused.refused[0] in {d["id"] for d in details}


def test_entries_refused_to_the_end_fail_the_batch_and_arrive_when_lambda_retries(visitor, changes):
    """The handler fails (Lambda keeps the batch and delivers it again); the retry puts every
    change on the bus, those that made it the first time again with the same ids."""
    from chalicelib import bus

    visitor.subscribe("kees.push@example.com")
    (batch,) = changes.batches()
    with Refused(bus._client(REGION), index=0, calls=None) as refused, pytest.raises(bus.PublishFailed):
        changes.invoke(batch)
    assert len(refused.refused) == bus.ATTEMPTS
    first = {e["detail"]["id"] for e in changes.arrived()}
    assert len(first) == 1 and refused.refused[0] not in first
    changes.invoke(batch)  # Lambda's retry, the fault gone
    again = {e["detail"]["id"] for e in changes.arrived()}
    assert again == first | {refused.refused[0]}


def test_pushing_logs_counts_never_an_address(visitor, changes, caplog):
    """LAW 30, also when PutEvents keeps refusing and the batch fails."""
    import logging

    from chalicelib import bus
    from chalicelib.logs import JsonFormatter

    caplog.set_level(logging.DEBUG)
    visitor.subscribe("mies.secret@example.com", name="Mies Geheim")
    batch = {"Records": [r for b in changes.batches() for r in b["Records"]]}
    with Refused(bus._client(REGION), index=0, calls=None), pytest.raises(bus.PublishFailed) as failed:
        changes.invoke(batch)
    changes.invoke(batch)
    assert "mies" not in str(failed.value).lower() and "ThrottlingException" in str(failed.value)
    lines = [JsonFormatter().format(r) for r in caplog.records if r.name.startswith("consentry.push")]
    assert len(lines) == 1 and '"count": 2' in lines[0]
    for record in caplog.records:
        line = json.dumps(record.__dict__, default=str).lower()
        assert "mies" not in line and "geheim" not in line, line


# -- the stream handler's cold start ---------------------------------------------------------

COLD = """
import json, sys
sys.path.insert(0, {root!r})
import app
before = set(sys.modules)
app.push_changes(json.loads(sys.stdin.read()), None)
heavy = ("pydantic", "jinja2", "email_validator", "itsdangerous", "chalicelib.models", "chalicelib.mail")
print(json.dumps({{"at_import": sorted(m for m in before if m.split(".")[0] in ("boto3", "botocore")),
                  "loaded": sorted(m for m in sys.modules if m in heavy or m.split(".")[0] in heavy)}}))
"""


def test_the_stream_handler_imports_no_pydantic_or_jinja2_and_boto3_only_when_it_pushes(
    dynamodb_local, changes, visitor
):
    """A cold push_changes: `import app` loads no AWS SDK, and pushing loads no validation or
    page rendering (make bench measures its cold start)."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    from tests.stack import free_ports

    visitor.subscribe("lot.push@example.com", purposes=("newsletter",))
    (batch,) = changes.batches()
    (port,) = free_ports(1)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        moto = f"http://127.0.0.1:{port}"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
            **STAGE_ENV,
            "AWS_ENDPOINT_URL": moto,
            "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local,
        }
        done = subprocess.run(
            [sys.executable, "-I", "-c", COLD.format(root=str(ROOT))],
            input=json.dumps(batch),
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        result = json.loads(done.stdout.strip().splitlines()[-1])
        assert result == {"at_import": [], "loaded": []}
        # moto's server in this process serves the same accounts as mock_aws: the bus and
        # its tap are the ones this test's stack has.
        assert [e["detail"]["email"] for e in changes.arrived()] == ["lot.push@example.com"]
    finally:
        server.stop()


# -- the stack: stream, bus, archive, webhook ------------------------------------------------


def _resources() -> dict[str, Any]:
    import yaml

    from scripts.local_stack import TEMPLATE, _CfnLoader

    return yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)  # noqa: S506 (a SafeLoader)


def test_the_stack_streams_the_table_to_a_bus_with_an_archive():
    template = _resources()
    resources = template["Resources"]
    stream = resources["Table"]["Properties"]["StreamSpecification"]
    assert stream == {"StreamViewType": "NEW_AND_OLD_IMAGES"}  # a change is told from a rewrite
    assert resources["EventBus"]["Properties"]["Name"] == {"Fn::Sub": "consentry-${Stage}"}
    archive = resources["ChangesArchive"]["Properties"]
    assert archive["SourceArn"] == {"Fn::GetAtt": ["EventBus", "Arn"]}
    assert archive["RetentionDays"] == {"Ref": "ChangesArchiveDays"}  # it holds addresses: LAW 27
    assert template["Parameters"]["ChangesArchiveDays"]["Default"] == 7
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    for name, stage in config["stages"].items():
        assert stage["environment_variables"]["CONSENTRY_EVENT_BUS"] == f"consentry-{name}"


def test_the_optional_webhook_posts_with_its_secret_retries_a_day_then_dead_letters():
    template = _resources()
    resources = template["Resources"]
    webhook = {n: r for n, r in resources.items() if r.get("Condition") == "HasWebhook"}
    assert set(webhook) == {
        "WebhookConnection",
        "WebhookDestination",
        "WebhookRole",
        "WebhookRule",
        "WebhookDeadLetterQueuePolicy",
    }
    assert template["Conditions"]["HasWebhook"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "WebhookUrl"}, ""]}]}
    auth = webhook["WebhookConnection"]["Properties"]
    assert auth["AuthorizationType"] == "API_KEY"
    assert auth["AuthParameters"]["ApiKeyAuthParameters"] == {
        "ApiKeyName": {"Ref": "WebhookHeader"},
        "ApiKeyValue": {"Ref": "WebhookSecret"},
    }
    assert template["Parameters"]["WebhookSecret"]["NoEcho"] is True
    # a webhook without a secret is refused by the stack itself
    (assertion,) = template["Rules"]["WebhookNeedsSecret"]["Assertions"]
    assert assertion["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "WebhookSecret"}, ""]}]}
    destination = webhook["WebhookDestination"]["Properties"]
    assert destination["InvocationEndpoint"] == {"Ref": "WebhookUrl"} and destination["HttpMethod"] == "POST"
    rule = webhook["WebhookRule"]["Properties"]
    assert rule["EventBusName"] == {"Fn::GetAtt": ["EventBus", "Name"]}
    assert rule["EventPattern"] == {"source": ["consentry"]}
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["WebhookDestination", "Arn"]}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["WebhookDeadLetterQueue", "Arn"]}}
    dlq = resources["WebhookDeadLetterQueue"]["Properties"]
    assert dlq["SqsManagedSseEnabled"] is True and dlq["MessageRetentionPeriod"] == 14 * 86400
    (grant,) = webhook["WebhookDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert grant["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["WebhookRule", "Arn"]}}}
    (invoke,) = webhook["WebhookRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert invoke["Action"] == "events:InvokeApiDestination"
    assert invoke["Resource"] == {"Fn::GetAtt": ["WebhookDestination", "Arn"]}
    alarm = resources["WebhookDeadLetterAlarm"]["Properties"]
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["WebhookDeadLetterQueue", "QueueName"]}
    behind = resources["ChangesBehindAlarm"]["Properties"]
    assert (behind["MetricName"], behind["Threshold"]) == ("IteratorAge", 600000)


def test_make_resources_takes_the_webhook_and_keeps_its_secret_when_run_again(tmp_path, monkeypatch):
    """`make resources WEBHOOK_URL=…` with WEBHOOK_SECRET in the environment (never on the
    command line); run again without either, the stack keeps both: the NoEcho secret by
    UsePreviousValue, as DescribeStacks shows it only masked. (moto's CloudFormation cannot
    make the connection, destination, rule or role: the parameters are what is tried here.)"""
    from moto import mock_aws
    from moto.cloudformation.models import cloudformation_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    from scripts import deploy
    from scripts.local_stack import moto_template

    template = tmp_path / "resources.json"
    left_out = {"AWS::Events::Rule", "AWS::IAM::Role", "AWS::SQS::QueuePolicy"}
    template.write_text(moto_template(also_leave_out=left_out))
    monkeypatch.setattr(deploy, "RESOURCES", template)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("WEBHOOK_SECRET", "s3cret-for-the-crm-endpoint")

    def secret() -> str:
        (stack,) = cloudformation_backends[DEFAULT_ACCOUNT_ID][REGION].stacks.values()
        return str(stack.parameters["WebhookSecret"])

    with mock_aws():
        assert deploy.deploy_resources("prod", webhook_url="https://crm.example/consent") == 0
        assert secret() == "s3cret-for-the-crm-endpoint"
        monkeypatch.delenv("WEBHOOK_SECRET")
        assert deploy.deploy_resources("prod", alarm_email="ops@consentry.example") == 0
        stack = boto3.client("cloudformation", region_name=REGION).describe_stacks()["Stacks"][0]
        shown = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
        assert shown["WebhookUrl"] == "https://crm.example/consent"
        assert secret() == "s3cret-for-the-crm-endpoint"


# -- `make run` for real -------------------------------------------------------------------


@pytest.mark.stack
def test_make_run_pushes_signup_confirm_one_click_and_erasure_to_the_local_bus() -> None:
    """The local stack reads DynamoDB Local's stream into push_changes and the bus delivers
    to a queue the mail viewer shows: each change is listed there within seconds."""
    import re
    import time
    import uuid

    import requests

    from tests.stack import running_stack
    from tests.test_local_stack import _api, _subscribe

    with running_stack() as stack:

        def listed() -> list[tuple[str, ...]]:
            """(change, purpose or reason, address) of each row of the viewer's table."""
            page = requests.get(f"http://127.0.0.1:{stack.mail_port}/", timeout=10).text
            table = page.split('<table id="changes">', 1)[-1].split("</table>", 1)[0]
            rows = re.findall(r"<tr>((?:<td>[^<]*</td>)+)</tr>", table)
            return [tuple(re.findall(r"<td>([^<]*)</td>", row))[1:4] for row in rows]

        def shown(*want: tuple[str, str, str]) -> list[tuple[str, ...]]:
            deadline = time.monotonic() + 10
            while not set(want) <= set(rows := listed()) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert set(want) <= set(rows), f"{rows}\n{stack.log}"
            return rows

        address = f"bus-{uuid.uuid4().hex[:8]}@example.org"
        _subscribe(stack, address)
        shown(("granted", "newsletter", address), ("granted", "offers", address))
        link = _api(stack, "/api/links", email=address, purpose="newsletter")["unsubscribe_url"]
        assert requests.post(link, data="List-Unsubscribe=One-Click", timeout=10).status_code == 200
        shown(("withdrawn", "newsletter", address))
        erased = requests.delete(
            f"{stack.app}/api/contacts/{address}", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10
        )
        assert erased.status_code == 200, erased.text
        rows = shown(("erased", "", "(no address)"))
        assert [row[0] for row in rows] == ["erased", "withdrawn", "granted", "granted"]  # newest first
    assert stack.exit_code == 0, stack.log
