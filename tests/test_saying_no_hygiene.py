"""What saying no leaves behind besides the ledger: logs (LAW 30) and cold-start imports."""

from __future__ import annotations

import json
import logging


def test_logs_of_saying_no_hold_no_address_token_or_link(visitor, caplog, monkeypatch):
    # The project's loggers, at their most talkative (Chalice sets its app's logger to ERROR).
    caplog.set_level(logging.DEBUG, logger="consentry")
    monkeypatch.setenv("CONSENTRY_SES_CONFIGURATION_SET", "consentry-local")
    visitor.subscribed("log.private@example.com")
    path = visitor.unsubscribe_path("log.private@example.com", "offers")
    token = path.rsplit("/", 1)[1]
    visitor.get(path)
    visitor.one_click(path)
    visitor.post_form(path, {"profiling": "object"})
    visitor.audience("newsletter")
    complaint = {
        "eventType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": "log.private@example.com"}],
            "feedbackId": "x",
        },
        "mail": {"messageId": "m", "tags": {"ses:configuration-set": ["consentry-local"]}},
    }
    visitor.sns(complaint)
    visitor.sns({"notificationType": "Bounce", "bounce": {"bounceType": "Permanent"}})
    ours = [r for r in caplog.records if r.name.split(".")[0] in ("consentry", "chalicelib", "app")]
    assert any(r.getMessage() == "feedback recorded" for r in ours)
    for record in ours:
        text = json.dumps(record.__dict__, default=str)
        # the route pattern (/unsubscribe/{token}) may appear; the link itself never
        for secret in ("log.private", token[:20], "/unsubscribe/" + token[:8]):
            assert secret not in text, (record.name, record.getMessage())
