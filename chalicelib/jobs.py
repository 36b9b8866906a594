"""The mail queue: signups hand their mail to SQS so SES trouble never slows or loses them.

A job names the subject and the signup, never an address: queue messages hold no PII.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from chalicelib.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


@lru_cache(maxsize=4)
def _client(region: str) -> SQSClient:
    import boto3

    return boto3.client("sqs", region_name=region)


@lru_cache(maxsize=8)
def _queue_url(region: str, queue_name: str) -> str:
    """Resolved once per container; the queue's name is the stage setting."""
    return _client(region).get_queue_url(QueueName=queue_name)["QueueUrl"]


def enqueue(job: dict[str, Any]) -> None:
    settings = get_settings()
    _client(settings.region).send_message(
        QueueUrl=_queue_url(settings.region, settings.mail_queue),
        MessageBody=json.dumps(job, separators=(",", ":")),
    )


def confirmation_job(subject: str, signup_id: str) -> dict[str, str]:
    return {"kind": "confirm", "subject": subject, "signup": signup_id}
