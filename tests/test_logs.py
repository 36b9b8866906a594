"""LAW 30: logs hold no address, name, token or link, whatever the flow or the failure."""

from __future__ import annotations

import json
import logging

import pytest

from chalicelib.logs import JsonFormatter

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_flows_leave_no_address_name_token_or_link_in_the_logs(visitor, caplog):
    caplog.set_level(logging.DEBUG)
    email, name = "log.secret@example.com", "Geheime Naam"
    visitor.post_form("/forms/newsletter", [("email", email), ("name", name), ("purposes", "newsletter")])
    visitor.post_form("/forms/newsletter", [("email", "bad\r\n" + email), ("purposes", "newsletter")])
    visitor.post_json("/forms/newsletter", {"email": email, "purposes": ["nope"]})
    visitor.run_mail_jobs()
    link = visitor.confirm_link(email)
    token = link.rsplit("/", 1)[1]
    visitor.get(link)
    visitor.client.http.post(link, headers=FORM)
    visitor.client.http.post(link[:-4] + "AAAA", headers=FORM)
    visitor.api(f"/api/contacts/{email}")
    visitor.api(f"/api/contacts/{email}/events")
    visitor.get(f"/api/contacts/{email}")  # 401
    formatter = JsonFormatter()
    lines = [formatter.format(r) for r in caplog.records]
    lines += [json.dumps(r.__dict__, default=str) for r in caplog.records]  # every attribute too
    assert any('"route": "/confirm/{token}"' in line for line in lines)  # the logs are there
    for line in lines:
        for secret in ("log.secret", name, token[:16], "/confirm/" + token[:6], "consent.test/"):
            assert secret not in line, line


def test_every_log_line_is_json_with_a_request_id(visitor, caplog):
    import app

    caplog.set_level(logging.INFO, logger="consentry")
    handlers = [h for h in app.app.log.handlers if type(h) is logging.StreamHandler]
    assert handlers and all(isinstance(h.formatter, JsonFormatter) for h in handlers)
    visitor.signup("json.lines@example.com")
    records = [json.loads(handlers[0].formatter.format(r)) for r in caplog.records]
    assert records
    assert all(r["request_id"] != "-" for r in records)
    access = [r for r in records if r["logger"] == "consentry.access"]
    assert access[0]["route"] == "/forms/{form_id}" and access[0]["status"] == 200


def test_the_formatter_drops_fields_not_on_its_allowlist_and_exception_texts():
    record = logging.LogRecord("consentry.x", logging.ERROR, __file__, 1, "failed", None, None)
    record.email = "leak@example.com"
    record.subject = "abc123"
    try:
        raise ValueError("leak@example.com is not valid")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert "email" not in line and line["subject"] == "abc123"
    assert line["exception"] == "ValueError" and "leak" not in json.dumps(line)


@pytest.mark.stack
def test_the_running_stack_logs_metrics_for_each_flow_and_a_reason_for_each_signup_without_mail():
    """Issue 12, on `make run`'s stack over HTTP: the functions' output carries an EMF line
    for each flow and one reason record per signup that sent no mail; no line holds an
    address, a name, a token or an IP. The demo host page names its own port."""
    import re
    import time
    from email import message_from_string, policy

    import requests

    from tests.stack import API_KEY, running_stack

    email, name = "stack.metrics@example.org", "Geheime Naam"
    with running_stack() as stack:
        app = stack.app
        assert requests.get(f"{app}/forms/newsletter", timeout=10).status_code == 200
        fields = [("email", email), ("name", name), ("purposes", "newsletter"), ("purposes", "offers")]
        assert requests.post(f"{app}/forms/newsletter", data=fields, timeout=10).status_code == 200
        honey = [("email", "honey.stack@example.org"), ("purposes", "offers"), ("website", "x")]
        assert requests.post(f"{app}/forms/newsletter", data=honey, timeout=10).status_code == 200
        for _ in range(4):
            capped = [("email", "capped.stack@example.org"), ("purposes", "offers")]
            assert requests.post(f"{app}/forms/newsletter", data=capped, timeout=10).status_code == 200
        link, deadline = None, time.monotonic() + 10
        while link is None and time.monotonic() < deadline:
            mails = requests.get(f"{stack.moto}/moto-api/data.json", timeout=5).json()["ses"]
            raw = [m["raw_data"] for m in mails.get("RawMessage", []) if email in str(m["destinations"])]
            text = (
                message_from_string(raw[0], policy=policy.default).get_body(("plain",)).get_content()
                if raw
                else ""
            )
            found = re.search(re.escape(app) + r"/confirm/[A-Za-z0-9_.\-]+", text)
            link = found.group(0) if found else None
            time.sleep(0.1)
        assert link, stack.log
        assert requests.post(link, data={}, timeout=10).status_code == 200
        auth = {"Authorization": f"Bearer {API_KEY}"}
        links = requests.post(
            f"{app}/api/links", json={"email": email, "purpose": "newsletter"}, headers=auth, timeout=10
        )
        unsubscribe = links.json()["unsubscribe_url"]
        assert requests.post(unsubscribe, data="List-Unsubscribe=One-Click", timeout=10).status_code == 200
        everything = requests.post(f"{app}/api/links", json={"email": email}, headers=auth, timeout=10).json()
        saved = {"form": "preferences", "purposes": "offers", "profiling": "object"}
        assert requests.post(everything["unsubscribe_url"], data=saved, timeout=10).status_code == 200
        host = requests.get(f"{stack.host}/", timeout=10).text
        time.sleep(0.5)  # the last lines through the relay
    assert stack.host in host and "127.0.0.1:8080" not in host

    lines = [json.loads(line) for line in stack.log.splitlines() if line.startswith("{")]
    metrics = [line for line in lines if "_aws" in line]
    seen = {m["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"] for m in metrics}
    assert {
        "FormViews",
        "Signups",
        "SignupPurposes",
        "MailsSent",
        "Confirmations",
        "ConfirmedPurposes",
        "Withdrawals",
        "ProfilingObjections",
        "SignupsWithoutMail",
    } <= seen
    reasons = sorted(m["reason"] for m in metrics if "SignupsWithoutMail" in m)
    assert reasons == ["address_cap", "honeypot"]
    assert all(re.fullmatch(r"[0-9a-f]{40}", m["subject"]) for m in metrics if "SignupsWithoutMail" in m)
    token = link.rsplit("/", 1)[1]
    for line in stack.log.splitlines():
        for secret in (
            "stack.metrics",
            "honey.stack",
            "capped.stack",
            name,
            token[:16],
            "/confirm/" + token[:6],
        ):
            assert secret not in line, line
    for line in metrics:
        assert "127.0.0.1" not in json.dumps(line)
