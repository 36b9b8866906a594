"""Faults lose no consent and send no duplicate mail: SES outages, poisoned jobs, races."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib.mail import MailError

DOMAIN = "consentry.example"


def _ses_down() -> None:
    """A real SES refusal, from moto: the sending domain is no longer verified."""
    boto3.client("ses", region_name="eu-west-1").delete_identity(Identity=DOMAIN)
    boto3.client("sesv2", region_name="eu-west-1").delete_email_identity(EmailIdentity=DOMAIN)


def _ses_up() -> None:
    boto3.client("ses", region_name="eu-west-1").verify_domain_identity(Domain=DOMAIN)
    boto3.client("sesv2", region_name="eu-west-1").create_email_identity(EmailIdentity=DOMAIN)


def test_ses_failing_for_the_first_attempts_still_ends_with_exactly_one_mail(visitor):
    visitor.signup("outage@example.com")
    (message,) = visitor.queued()
    _ses_down()
    for _ in range(3):  # SQS redelivers after each failure
        with pytest.raises(ClientError, match="MessageRejected"):  # the Lambda fails: SQS keeps the job
            visitor.deliver([message["Body"]])
    assert visitor.sent_mail() == []
    assert visitor.contact("outage@example.com")["purposes"]["newsletter"]["status"] == "pending"
    _ses_up()
    visitor.deliver([message["Body"]])
    visitor.deliver([message["Body"]])  # and once more, as a late duplicate delivery
    assert len(visitor.mail_to("outage@example.com")) == 1
    assert visitor.confirm("outage@example.com").status_code == 200
    types = [e["type"] for e in visitor.events("outage@example.com")]
    assert types.count("confirmation_sent") == 1


def _receive(visitor, url: str) -> list[dict]:
    return visitor.sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=0, WaitTimeSeconds=0
    ).get("Messages", [])


def test_a_poisoned_job_lands_in_the_dead_letter_queue_not_in_a_loop(visitor):
    queue, dlq = visitor.resources["queue_url"], visitor.resources["dlq_url"]
    visitor.sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"kind": "nonsense"}))
    failures = 0
    for _ in range(20):  # bounded: the redrive policy must end it well before this
        messages = _receive(visitor, queue)
        if not messages:
            break
        with pytest.raises(MailError):
            visitor.deliver([messages[0]["Body"]])
        failures += 1
    assert failures == 5  # maxReceiveCount in resources.yaml
    assert _receive(visitor, queue) == []
    (dead,) = _receive(visitor, dlq)
    assert json.loads(dead["Body"]) == {"kind": "nonsense"}
    assert visitor.sent_mail() == []


def test_a_job_for_a_vanished_signup_is_dropped_quietly(visitor):
    visitor.signup("gone@example.com")
    (message,) = visitor.queued()
    job = json.loads(message["Body"])
    job["signup"] = "0000000000000000"
    visitor.deliver([json.dumps(job)])  # no exception: nothing to retry
    assert visitor.sent_mail() == []


def test_a_crash_between_write_and_queue_send_is_recovered_by_submitting_again(visitor):
    """The signup is recorded but its job never reached the queue (the Lambda died)."""
    visitor.signup("crash@example.com")
    visitor.sqs.purge_queue(QueueUrl=visitor.resources["confirm_queue_url"])  # the lost send
    assert visitor.sent_mail() == []
    visitor.signup("crash@example.com")  # the visitor, seeing no mail, submits again
    visitor.run_mail_jobs()
    assert len(visitor.mail_to("crash@example.com")) == 1
    visitor.client.http.post(
        visitor.confirm_link("crash@example.com"),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    statuses = {p: s["status"] for p, s in visitor.contact("crash@example.com")["purposes"].items()}
    assert statuses == {"newsletter": "granted", "offers": "granted"}


def test_a_conditional_failure_becomes_the_right_answer_not_a_500(visitor):
    """Confirming a signup that an unsubscribe already withdrew: a clear answer, no 5xx."""
    visitor.signup("race@example.com", purposes=("newsletter",))
    visitor.run_mail_jobs()
    link = visitor.confirm_link("race@example.com")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    first = visitor.client.http.post(link, headers=form)
    second = visitor.client.http.post(link, headers=form)
    assert (first.status_code, second.status_code) == (200, 200)
