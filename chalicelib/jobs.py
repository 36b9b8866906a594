"""The mail queues: flows hand their mail to SQS so SES trouble never slows or loses them.

Two queues, each with its own consumer: ``confirm`` holds the confirmation mail of a form
signup, which a visitor is waiting for; ``mail`` holds everything else (access and erasure
links, the confirmation mails of an import). A flood of requests or a large import never
stands between a visitor and their confirmation mail.

A job names the subject and the signup, never an address: queue messages hold no PII.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, cast

from chalicelib import aws, baseurl
from chalicelib.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef


@lru_cache(maxsize=4)
def _client(region: str) -> SQSClient:
    return cast("SQSClient", aws.client("sqs", region))


@lru_cache(maxsize=8)
def _queue_url(region: str, queue_name: str) -> str:
    """Resolved once per container; the queue's name is the stage setting."""
    return _client(region).get_queue_url(QueueName=queue_name)["QueueUrl"]


Queue = Literal["confirm", "mail"]


def _name(queue: Queue) -> str:
    settings = get_settings()
    return settings.confirm_queue if queue == "confirm" else settings.mail_queue


def _body(job: dict[str, Any]) -> str:
    """The job as queued, with the base URL of the request that queued it (the worker has
    no request to take it from; see baseurl.py). A stage that sets CONSENTRY_BASE_URL needs
    none."""
    base = baseurl.of_request()
    return json.dumps({**job, "base": base} if base else job, separators=(",", ":"))


def enqueue(job: dict[str, Any], queue: Queue = "mail") -> None:
    settings = get_settings()
    _client(settings.region).send_message(
        QueueUrl=_queue_url(settings.region, _name(queue)),
        MessageBody=_body(job),
    )


def confirmation_job(subject: str, signup_id: str) -> dict[str, str]:
    return {"kind": "confirm", "subject": subject, "signup": signup_id}


def enqueue_many(jobs: Iterable[dict[str, Any]]) -> None:
    """Send jobs ten to a call to the ``mail`` queue (an import's confirmation mails: bulk,
    nobody waits on a page for them); raises if SQS refuses one."""
    batch = [_body(job) for job in jobs]
    if not batch:
        return
    settings = get_settings()
    client = _client(settings.region)
    url = _queue_url(settings.region, _name("mail"))
    for start in range(0, len(batch), 10):
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {"Id": str(i), "MessageBody": body} for i, body in enumerate(batch[start : start + 10])
        ]
        for _ in range(3):
            failed = {
                f["Id"] for f in client.send_message_batch(QueueUrl=url, Entries=entries).get("Failed", [])
            }
            entries = [e for e in entries if e["Id"] in failed]
            if not entries:
                break
        if entries:
            raise RuntimeError(f"SQS refused {len(entries)} mail job(s)")


def request_job(subject: str, kind: str, lang: str, mailbox: str) -> dict[str, str]:
    """An access or erasure link to mail, if the subject is known: the worker decides.

    The id lets a redelivered job find its own request again instead of sending twice;
    ``mailbox`` is the mailbox's keyed hash, for the mail cap the worker charges.
    """
    return {
        "kind": "request",
        "subject": subject,
        "type": kind,
        "lang": lang,
        "id": secrets.token_hex(8),
        "mailbox": mailbox,
    }
