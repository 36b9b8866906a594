"""Metrics in CloudWatch's embedded metric format, and the record of every signup that sent
no mail (issue 12). LAW 30: neither ever holds an address, a name, a token or an IP."""

from __future__ import annotations

import json
import logging
from typing import Any

import boto3
import pytest

from chalicelib.logs import JsonFormatter
from tests.test_bots import verifier  # noqa: F401  (the fixture: a fake challenge verifier)
from tests.test_caps import strict_visitor  # noqa: F401  (the fixture: a per-IP limit of 2)

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def emf_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The log lines, as the function writes them, that carry an EMF block."""
    formatter = JsonFormatter()
    lines = [json.loads(formatter.format(r)) for r in caplog.records]
    return [line for line in lines if "_aws" in line]


def count(lines: list[dict[str, Any]], metric: str, **dimensions: str) -> int:
    return sum(
        line[metric]
        for line in lines
        if metric in line and all(line.get(k) == v for k, v in dimensions.items())
    )


def assert_valid_emf(line: dict[str, Any]) -> None:
    """What CloudWatch needs to turn the line into metrics (the EMF specification)."""
    block = line["_aws"]
    assert isinstance(block["Timestamp"], int) and block["Timestamp"] > 1_600_000_000_000
    (directive,) = block["CloudWatchMetrics"]
    assert directive["Namespace"] == "Consentry"
    for dimension_set in directive["Dimensions"]:
        assert dimension_set and all(isinstance(line[name], str) for name in dimension_set)
    for metric in directive["Metrics"]:
        assert metric["Unit"] == "Count" and line[metric["Name"]] == 1


def test_each_flow_writes_its_metrics(visitor, caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="consentry")
    email, name = "metrics.person@example.com", "Geheime Naam"
    visitor.get("/forms/newsletter")
    visitor.post_form(
        "/forms/newsletter",
        [("email", email), ("name", name), ("purposes", "newsletter"), ("purposes", "offers")],
    )
    link = (visitor.run_mail_jobs(), visitor.confirm_link(email))[1]
    assert visitor.client.http.post(link, headers=FORM).status_code == 200
    assert visitor.client.http.post(link, headers=FORM).status_code == 200  # again: counted once
    assert visitor.one_click(visitor.unsubscribe_path(email, "newsletter")).status_code == 200
    preferences = visitor.unsubscribe_path(email)
    visitor.post_form(preferences, {"form": "preferences", "purposes": "offers", "profiling": "object"})
    visitor.post_form("/requests", {"email": email, "type": "access"})
    visitor.run_mail_jobs()
    monkeypatch.setenv("CONSENTRY_SES_CONFIGURATION_SET", "consentry-local")  # feedback counts only for it
    complaint = {
        "eventType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": email}],
            "feedbackId": "fb-1",
            "timestamp": "2026-03-01T10:00:00.000Z",
        },
        "mail": {"messageId": "m-1", "tags": {"ses:configuration-set": ["consentry-local"]}},
    }
    visitor.sns(complaint)
    visitor.sns(complaint)  # SNS delivers at least once: a redelivery is not a second complaint

    lines = emf_lines(caplog)
    for line in lines:
        assert_valid_emf(line)
        assert line["Stage"] == "local"
    assert count(lines, "FormViews", Form="newsletter") == 1
    assert count(lines, "Signups", Form="newsletter") == 1
    assert count(lines, "SignupPurposes", Purpose="newsletter") == 1
    assert count(lines, "SignupPurposes", Purpose="offers") == 1
    assert count(lines, "MailsSent", Kind="confirm") == 1
    assert count(lines, "MailsSent", Kind="request") == 1
    assert count(lines, "Confirmations") == 1
    assert count(lines, "ConfirmedPurposes", Purpose="offers") == 1
    assert count(lines, "Withdrawals", Purpose="newsletter", Channel="one_click") == 1
    assert count(lines, "ProfilingObjections", Channel="preferences") == 1
    assert count(lines, "SesFeedback", Kind="complaint") == 1
    assert count(lines, "Withdrawals", Purpose="offers", Channel="complaint") == 1
    assert count(lines, "SignupsWithoutMail") == 0

    token = link.rsplit("/", 1)[1]
    text = json.dumps(lines)
    for secret in ("metrics.person", "example.com", name, token[:16], "127.0.0.1", "consent.test"):
        assert secret not in text


def test_a_mail_ses_refuses_is_counted_as_failed(visitor, caplog):
    caplog.set_level(logging.INFO, logger="consentry")
    boto3.client("ses", region_name="eu-west-1").delete_identity(Identity="consentry.example")
    boto3.client("sesv2", region_name="eu-west-1").delete_email_identity(EmailIdentity="consentry.example")
    visitor.signup("refused@example.com")
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="MessageRejected"):  # the job fails: SQS will retry it
        visitor.run_mail_jobs()
    lines = emf_lines(caplog)
    assert visitor.mail_to("refused@example.com") == []
    assert count(lines, "MailsFailed", Kind="confirm") == 1 and count(lines, "MailsSent") == 0


def _no_mail_records(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [line for line in emf_lines(caplog) if "SignupsWithoutMail" in line]


def test_every_signup_that_sent_no_mail_leaves_one_record_with_its_reason_and_subject(
    visitor,
    verifier,  # noqa: F811
    caplog,
):
    caplog.set_level(logging.INFO, logger="consentry")
    visitor.signup("honey@example.com", website="http://spam.example")
    for _ in range(4):  # the fourth is over the cap of three mails a day
        visitor.signup("capped@example.com")
    page = visitor.get("/forms/shop").body.decode()
    stamp = page.split('name="rendered" value="', 1)[1].split('"', 1)[0]
    shop = [("purposes", "offers"), ("cf-turnstile-response", "pass")]
    visitor.post_form("/forms/shop", [("email", "quick@example.com"), ("rendered", stamp), *shop])
    failed = visitor.post_form("/forms/shop", [("email", "robot@example.com"), ("purposes", "offers")])
    assert failed.status_code == 422

    records = _no_mail_records(caplog)
    reasons = {(r["reason"], r["subject"]) for r in records}
    assert reasons == {
        ("honeypot", visitor.subject("honey@example.com")),
        ("address_cap", visitor.subject("capped@example.com")),
        ("too_fast", visitor.subject("quick@example.com")),
        ("challenge", visitor.subject("robot@example.com")),
    }
    assert len(records) == 4  # one record each, and none for the signups that did send mail
    for record in records:
        assert record["Reason"] == record["reason"] and record["SignupsWithoutMail"] == 1
        assert "example.com" not in json.dumps(record)
    visitor.run_mail_jobs()
    assert len(visitor.mail_to("capped@example.com")) == 3


def test_a_signup_over_the_ip_limit_leaves_its_record(strict_visitor, caplog):  # noqa: F811
    caplog.set_level(logging.INFO, logger="consentry")
    for email in ("ip1@example.com", "ip2@example.com", "ip3@example.com"):
        strict_visitor.post_form("/forms/newsletter", [("email", email), ("purposes", "offers")])
    (record,) = _no_mail_records(caplog)
    assert record["reason"] == "ip_limit" and record["subject"] == strict_visitor.subject("ip3@example.com")
    assert "127.0.0.1" not in json.dumps(record)


def test_a_dimension_outside_the_vocabulary_never_reaches_the_line(caplog):
    from chalicelib import metrics

    caplog.set_level(logging.INFO, logger="consentry")
    metrics.said_no(["someone@example.com", "newsletter"], None, "one_click")
    metrics.signup_sent_no_mail("honeypot", "not a hash: someone@example.com")
    lines = emf_lines(caplog)
    assert [line["Purpose"] for line in lines if "Purpose" in line] == ["other", "newsletter"]
    assert "someone" not in json.dumps(lines) and "subject" not in lines[-1]
