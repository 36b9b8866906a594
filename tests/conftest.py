"""Shared fixtures: the app under chalice.test.Client with the stage's real resources: the
ledger on DynamoDB Local (one in-memory server per test process), the rest on moto."""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# No bytecode written into chalicelib/: Chalice names its package cache by a hash of the tree,
# and a test worker's new .pyc would change it under a package another worker just built. The
# environment variable carries that to the subprocesses tests start (chalice, scripts, stacks).
sys.dont_write_bytecode = True
os.environ["PYTHONDONTWRITEBYTECODE"] = "1"

BASE_URL = "https://consent.test"
API_KEY = "test-api-key-123"
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "CONSENTRY_BASE_URL": BASE_URL,
    }
)
for _var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
    os.environ.pop(_var, None)

from chalice.test import Client  # noqa: E402

from scripts import dynamodb_local as engine  # noqa: E402
from scripts.local_stack import ensure_table, provision  # noqa: E402

STAGE_ENV = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]["local"][
    "environment_variables"
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that needs DynamoDB Local (directly, or through ``aws`` or ``visitor``)
    is marked ``dynamodb``: ``make test-fast`` runs the others alone, in seconds."""
    for item in items:
        if "dynamodb_local" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.dynamodb)


# -- issue 16: the app's clients read the package's botocore data ----------------------------
@pytest.fixture(scope="session", autouse=True)
def packaged_aws_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test's AWS calls go through clients made as the package makes them: from the
    package's trimmed models alone (chalicelib/aws.py, scripts/awsdata.py). A call the
    package cannot make fails the tests that make it (tests/test_aws_data.py names it)."""
    from chalicelib import aws
    from scripts import awsdata

    folder = awsdata.write(tmp_path_factory.mktemp("awsdata"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(aws, "DATA", folder)
        aws.session.cache_clear()
        yield folder
    aws.session.cache_clear()


# -- end issue 16 ------------------------------------------------------------------------------


def _clear_caches() -> None:
    """What a new Lambda container starts without: each test has a fresh moto account."""
    from chalicelib import keys, ledger

    keys.clear_cache()
    ledger.clear_cache()


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[str]:
    """DynamoDB Local, in memory, for this test process: one per pytest-xdist worker, so
    workers never share a table. Started on first use (a JVM: about 2 s)."""
    from tests.stack import free_ports

    (port,) = free_ports(1)
    with engine.running(port) as url:
        yield url


@pytest.fixture
def ledger_table(dynamodb_local: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh ledger table on DynamoDB Local, made from resources.yaml; boto3, and so the
    ledger, reaches it through AWS_ENDPOINT_URL_DYNAMODB while every other service stays
    wherever the test puts it (moto's mock_aws lets loopback requests through)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local)
    ddb = boto3.client("dynamodb", region_name="eu-west-1", endpoint_url=dynamodb_local)
    for name in ddb.list_tables()["TableNames"]:
        ddb.delete_table(TableName=name)
    _clear_caches()
    return ensure_table(ddb, "local")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, ledger_table: str) -> Iterator[dict[str, str]]:
    """A fresh moto account with the stage's resources made from resources.yaml, and a
    fresh ledger table on DynamoDB Local.

    The process also gets the local stage's environment, as chalice gives it to requests,
    so tests can call the packaged modules directly (to mint a token, say)."""
    for key, value in STAGE_ENV.items():
        monkeypatch.setenv(key, value)
    # boto3's default session is kept between tests: the credentials are always the fake
    # ones above, and a new session would load every service's JSON model again (about
    # 1 s of each test's setup).
    with mock_aws(config={"core": {"reset_boto3_session": False}}):
        _clear_caches()
        resources = provision("local", api_key=API_KEY)
        yield resources
    _clear_caches()


class Visitor:
    """The app seen from outside: HTTP requests, the mail queue, the sent mail, the table."""

    def __init__(self, client: Client, resources: dict[str, str]) -> None:
        self.client = client
        self.resources = resources
        self.sqs = boto3.client("sqs", region_name="eu-west-1")
        self.ddb = boto3.client("dynamodb", region_name="eu-west-1")
        self.ses_seen = 0

    # -- HTTP ------------------------------------------------------------------------
    def get(self, path: str, headers: dict[str, str] | None = None) -> Any:
        return self.client.http.get(path, headers=headers or {})

    def post_form(
        self, path: str, fields: list[tuple[str, str]] | dict[str, Any], headers: dict[str, str] | None = None
    ) -> Any:
        body = urlencode(fields, doseq=True).encode()
        return self.client.http.post(
            path,
            headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
            body=body,
        )

    def post_json(self, path: str, data: Any, headers: dict[str, str] | None = None) -> Any:
        return self.client.http.post(
            path,
            headers={"Content-Type": "application/json", **(headers or {})},
            body=json.dumps(data).encode(),
        )

    def api(self, path: str) -> Any:
        return self.client.http.get(path, headers={"Authorization": f"Bearer {API_KEY}"})

    def contact(self, email: str) -> dict[str, Any]:
        response = self.api(f"/api/contacts/{email}")
        assert response.status_code == 200, response.body
        return json.loads(response.body)

    def events(self, email: str) -> list[dict[str, Any]]:
        response = self.api(f"/api/contacts/{email}/events")
        assert response.status_code == 200, response.body
        return json.loads(response.body)["events"]

    def signup(self, email: str, purposes: tuple[str, ...] = ("newsletter", "offers"), **extra: str) -> Any:
        fields: list[tuple[str, str]] = [("email", email)] + [("purposes", p) for p in purposes]
        fields += list(extra.items())
        response = self.post_form("/forms/newsletter", fields)
        assert response.status_code == 200, response.body
        return response

    # -- the queues, as the SQS triggers would deliver them --------------------------------
    def queued(self, queue: str | None = None) -> list[dict[str, Any]]:
        """Messages waiting in both mail queues (confirmations first), or in one of them
        (``confirm`` or ``mail``); each names its queue under ``QueueUrl``."""
        names = [queue] if queue else ["confirm", "mail"]
        messages = []
        for name in names:
            url = self.resources["confirm_queue_url" if name == "confirm" else "queue_url"]
            answer = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages += [{**m, "QueueUrl": url} for m in answer.get("Messages", [])]
        return messages

    def deliver(self, bodies: list[str], worker: str | None = None) -> Any:
        """Invoke a queue's consumer with these bodies; by default the one whose queue the
        flows put such a job in (a signup's confirmation: confirm_worker)."""
        if worker is None:
            kinds = {json.loads(b).get("kind") if b.startswith("{") else None for b in bodies}
            worker = "confirm_worker" if kinds == {"confirm"} else "mail_worker"
        queue = STAGE_ENV["CONSENTRY_CONFIRM_QUEUE" if worker == "confirm_worker" else "CONSENTRY_MAIL_QUEUE"]
        event = self.client.events.generate_sqs_event(queue_name=queue, message_bodies=bodies)
        return self.client.lambda_.invoke(worker, event)

    def run_mail_jobs(self) -> list[str]:
        """Deliver every queued job to its queue's consumer; return the bodies delivered."""
        bodies = []
        while messages := self.queued():
            for message in messages:
                confirm = message["QueueUrl"] == self.resources["confirm_queue_url"]
                self.deliver([message["Body"]], "confirm_worker" if confirm else "mail_worker")
                bodies.append(message["Body"])
                self.sqs.delete_message(QueueUrl=message["QueueUrl"], ReceiptHandle=message["ReceiptHandle"])
        return bodies

    # -- mail, as moto's SES recorded it -------------------------------------------------
    def sent_mail(self) -> list[EmailMessage]:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ses.models import ses_backends

        backend = ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"]
        mails = []
        for message in backend.sent_messages:
            raw = getattr(message, "raw_data", None)
            if raw is None:
                continue
            data = raw.encode() if isinstance(raw, str) else raw
            mails.append(message_from_bytes(data, policy=policy.default))
        return mails

    def mail_to(self, email: str) -> list[EmailMessage]:
        return [m for m in self.sent_mail() if email in str(m["To"])]

    def confirm_link(self, email: str) -> str:
        """The link in the latest confirmation mail to this address (the two mail queues
        are drained side by side, so a request mail may have come after it)."""
        mails = self.mail_to(email)
        assert mails, f"no mail was sent to {email}"
        for mail in reversed(mails):
            text = mail.get_body(("plain",)).get_content()
            match = re.search(re.escape(BASE_URL) + r"(/confirm/[A-Za-z0-9_.\-]+)", text)
            if match:
                return match.group(1)
        raise AssertionError(f"no confirmation mail was sent to {email}")

    # -- the table, read directly -------------------------------------------------------
    def items(self) -> list[dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        des = TypeDeserializer()
        items = []
        kwargs: dict[str, Any] = {"TableName": self.resources["table"]}
        while True:
            page = self.ddb.scan(**kwargs)
            items += [{k: des.deserialize(v) for k, v in i.items()} for i in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # -- saying no: links, one-click, audiences, SES feedback ------------------------------
    def api_post(self, path: str, data: Any) -> Any:
        return self.post_json(path, data, headers={"Authorization": f"Bearer {API_KEY}"})

    def subscribed(
        self, email: str, purposes: tuple[str, ...] = ("newsletter", "offers"), **extra: str
    ) -> None:
        """Sign up and confirm: the purposes end up granted."""
        self.signup(email, purposes=purposes, **extra)
        self.run_mail_jobs()
        response = self.client.http.post(
            self.confirm_link(email), headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert response.status_code == 200, response.body

    def links(self, email: str, purpose: str | None = None) -> dict[str, Any]:
        response = self.api_post("/api/links", {"email": email, **({"purpose": purpose} if purpose else {})})
        assert response.status_code == 200, response.body
        return json.loads(response.body)

    def unsubscribe_path(self, email: str, purpose: str | None = None) -> str:
        url = self.links(email, purpose)["unsubscribe_url"]
        assert url.startswith(BASE_URL + "/unsubscribe/"), url
        return url[len(BASE_URL) :]

    def one_click(self, path: str, headers: dict[str, str] | None = None) -> Any:
        """The RFC 8058 POST a mailbox provider sends: that body, no cookie, no login."""
        return self.client.http.post(
            path,
            headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
            body=b"List-Unsubscribe=One-Click",
        )

    def audience_page(self, purpose: str, query: str = "") -> Any:
        return self.api(f"/api/audiences/{purpose}{'?' + query if query else ''}")

    def audience(self, purpose: str, limit: int | None = None) -> list[dict[str, Any]]:
        """Every contact of an audience, following the cursor page by page."""
        from urllib.parse import quote

        contacts: list[dict[str, Any]] = []
        cursor = None
        for _ in range(1000):
            params = [f"limit={limit}"] if limit else []
            if cursor:
                params.append(f"cursor={quote(cursor)}")
            response = self.audience_page(purpose, "&".join(params))
            assert response.status_code == 200, response.body
            page = json.loads(response.body)
            contacts += page["contacts"]
            cursor = page["next"]
            if cursor is None:
                return contacts
        raise AssertionError("the audience never ended")

    def sns(self, notification: dict[str, Any]) -> Any:
        """Deliver an SES notification through SNS to the feedback handler."""
        event = self.client.events.generate_sns_event(
            message=json.dumps(notification), subject="Amazon SES Email Event Notification"
        )
        return self.client.lambda_.invoke("ses_feedback", event)

    @contextlib.contextmanager
    def dynamodb_calls(self) -> Iterator[list[str]]:
        """The DynamoDB operations the app makes meanwhile, observed on its own client."""
        from chalicelib import ledger

        calls: list[str] = []
        client = ledger.client()

        def record(model: Any, **_: Any) -> None:
            calls.append(model.name)

        client.meta.events.register("before-call.dynamodb", record)
        try:
            yield calls
        finally:
            client.meta.events.unregister("before-call.dynamodb", record)

    # -- proof and rights ----------------------------------------------------------------
    def api_delete(self, path: str) -> Any:
        return self.client.http.delete(path, headers={"Authorization": f"Bearer {API_KEY}"})

    def confirm(self, email: str) -> Any:
        """Deliver the queued mail and press the button behind the latest confirm link."""
        self.run_mail_jobs()
        return self.client.http.post(
            self.confirm_link(email), headers={"Content-Type": "application/x-www-form-urlencoded"}
        )

    def subscribe(
        self, email: str, purposes: tuple[str, ...] = ("newsletter", "offers"), **extra: str
    ) -> None:
        """Sign up through the form and confirm: granted by consent."""
        self.signup(email, purposes=purposes, **extra)
        assert self.confirm(email).status_code == 200

    def request_link(self, email: str) -> str:
        """The link in the latest access or erasure mail to this address."""
        for mail in reversed(self.mail_to(email)):
            text = mail.get_body(("plain",)).get_content()
            match = re.search(re.escape(BASE_URL) + r"(/requests/[A-Za-z0-9_.\-]+)", text)
            if match:
                return match.group(1)
        raise AssertionError(f"no request mail was sent to {email}")

    def subject(self, email: str) -> str:
        from chalicelib.keys import get_keys
        from chalicelib.models import normalise_email

        return get_keys().subject_id(normalise_email(email))

    def mailbox(self, email: str) -> str:
        """The key of the address's mail cap counter (caps.py)."""
        from chalicelib.caps import mailbox_key
        from chalicelib.models import normalise_email

        return mailbox_key(normalise_email(email))

    def pending(self, email: str) -> list[dict[str, Any]]:
        """The person's pending signups, as stored."""
        return [i for i in self.person_items(email) if i["sk"].startswith("PENDING#")]

    def person_items(self, email: str) -> list[dict[str, Any]]:
        """Every item in the person's partition, read from the table."""
        pk = f"S#{self.subject(email)}"
        return [i for i in self.items() if i["pk"] == pk]

    def audience_index(self, purpose: str) -> list[str]:
        """The subject ids the sparse audience index holds for a purpose, read directly."""
        answer = self.ddb.query(
            TableName=self.resources["table"],
            IndexName="audience",
            KeyConditionExpression="aud_pk = :p",
            ExpressionAttributeValues={":p": {"S": f"A#{purpose}"}},
        )
        return [i["aud_sk"]["S"] for i in answer["Items"]]


@pytest.fixture
def visitor(aws: dict[str, str]) -> Iterator[Visitor]:
    import app as app_module

    with Client(app_module.app, stage_name="local", project_dir=str(ROOT)) as client:
        yield Visitor(client, aws)
