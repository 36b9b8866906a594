"""A mail job claims what it mails before it sends (chalicelib/ledger/claims.py): SQS may
deliver one job twice at the same time, and then one mail leaves, not two (found on
DynamoDB Local before the claim: six simultaneous deliveries of one job sent six mails).
On DynamoDB Local, whose conditional writes really are isolated."""

from __future__ import annotations

import json
from datetime import timedelta
from functools import partial

import boto3
import pytest

from chalicelib import mail
from chalicelib.ledger import Busy, get_ledger, utc_now
from chalicelib.ledger.claims import LEASE_SECONDS
from tests.races import outcomes

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _job(visitor, queue: str) -> str:
    (message,) = visitor.queued(queue)
    visitor.sqs.delete_message(QueueUrl=message["QueueUrl"], ReceiptHandle=message["ReceiptHandle"])
    return str(message["Body"])


def test_six_simultaneous_deliveries_of_one_confirmation_job_send_one_mail(visitor):
    """LAW 11: no duplicate mail from a redelivered job, even one delivered twice at once."""
    visitor.signup("twice@example.com", purposes=("newsletter",))
    job = _job(visitor, "confirm")
    results = outcomes([partial(mail.handle_job, job) for _ in range(6)])
    assert all(r is None or isinstance(r, Busy) for r in results), results
    assert len(visitor.mail_to("twice@example.com")) == 1
    (pending,) = visitor.pending("twice@example.com")
    assert pending["mail_sent_at"] and pending["message_id"]  # marked once, with the mail's id
    mail.handle_job(job)  # the queue's later redelivery of a busy one: nothing more
    assert len(visitor.mail_to("twice@example.com")) == 1
    # and the one mail's link confirms, recording the one mail as its event
    confirmed = visitor.client.http.post(visitor.confirm_link("twice@example.com"), headers=FORM)
    assert confirmed.status_code == 200
    sent = [e for e in visitor.events("twice@example.com") if e["type"] == "confirmation_sent"]
    assert [e["evidence"]["message_id"] for e in sent] == [pending["message_id"]]


def test_six_simultaneous_deliveries_of_one_request_job_send_one_mail_counted_once(visitor):
    visitor.subscribe("asks@example.com")
    assert visitor.post_form("/requests", {"email": "asks@example.com", "type": "access"}).status_code == 202
    job = _job(visitor, "mail")
    before = len(visitor.mail_to("asks@example.com"))
    results = outcomes([partial(mail.handle_job, job) for _ in range(6)])
    assert all(r is None or isinstance(r, Busy) for r in results), results
    assert len(visitor.mail_to("asks@example.com")) == before + 1
    counter = next(
        i for i in visitor.items() if i["pk"] == f"RATE#mailbox#{visitor.mailbox('asks@example.com')}"
    )
    assert len([k for k in counter if k.startswith("t") and counter[k]]) == 2  # the signup's, the request's


def test_a_job_that_died_after_claiming_is_sent_by_a_delivery_after_the_lease(visitor):
    """The claim holds while its job may still run, and no longer: a redelivery after the
    lease claims and sends."""
    visitor.signup("died@example.com", purposes=("newsletter",))
    job = json.loads(_job(visitor, "confirm"))
    ledger, now = get_ledger(), utc_now()
    assert ledger.claim_confirmation(job["subject"], job["signup"], now) is not None  # then it died
    subject, signup = job["subject"], job["signup"]
    with pytest.raises(Busy):
        ledger.claim_confirmation(subject, signup, now + timedelta(seconds=LEASE_SECONDS - 1))
    later = ledger.claim_confirmation(subject, signup, now + timedelta(seconds=LEASE_SECONDS + 1))
    assert later is not None and later.email == "died@example.com"


def test_a_send_ses_refuses_gives_the_claim_up_for_the_queues_retry(visitor):
    ses = boto3.client("ses", region_name="eu-west-1")
    ses.delete_identity(Identity="consentry.example")
    visitor.signup("retry@example.com", purposes=("newsletter",))
    job = _job(visitor, "confirm")
    with pytest.raises(Exception, match=r"not verified|MessageRejected|identity"):
        mail.handle_job(job)
    ses.verify_domain_identity(Domain="consentry.example")
    boto3.client("sesv2", region_name="eu-west-1").create_email_identity(EmailIdentity="consentry.example")
    mail.handle_job(job)  # at once: no lease to wait out
    assert len(visitor.mail_to("retry@example.com")) == 1
