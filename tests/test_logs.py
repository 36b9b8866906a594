"""LAW 30: logs hold no address, name, token or link, whatever the flow or the failure."""

from __future__ import annotations

import json
import logging

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
