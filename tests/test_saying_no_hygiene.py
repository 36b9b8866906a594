"""What saying no leaves behind besides the ledger: logs (LAW 30) and cold-start imports."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

from tests.conftest import ROOT


def test_logs_of_saying_no_hold_no_address_token_or_link(visitor, caplog):
    # The project's loggers, at their most talkative (Chalice sets its app's logger to ERROR).
    caplog.set_level(logging.DEBUG, logger="consentry")
    visitor.subscribed("log.private@example.com")
    path = visitor.unsubscribe_path("log.private@example.com", "offers")
    token = path.rsplit("/", 1)[1]
    visitor.get(path)
    visitor.one_click(path)
    visitor.post_form(path, {"profiling": "object"})
    visitor.audience("newsletter")
    complaint = {
        "notificationType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": "log.private@example.com"}],
            "feedbackId": "x",
        },
        "mail": {"messageId": "m"},
    }
    visitor.sns(complaint)
    visitor.sns({"notificationType": "Bounce", "bounce": {"bounceType": "Permanent"}})
    ours = [r for r in caplog.records if r.name.split(".")[0] in ("consentry", "chalicelib", "app")]
    assert any(r.name == "consentry.feedback" for r in ours)
    for record in ours:
        text = json.dumps(record.__dict__, default=str)
        # the route pattern (/unsubscribe/{token}) may appear; the link itself never
        for secret in ("log.private", token[:20], "/unsubscribe/" + token[:8]):
            assert secret not in text, (record.name, record.getMessage())


def test_a_cold_form_page_still_imports_neither_boto3_nor_pydantic():
    """The new routes import their flows lazily: a GET /forms/{id} stays light."""
    code = """
import sys
import app
from chalice.test import Client
with Client(app.app, stage_name="local") as client:
    status = client.http.get("/forms/newsletter").status_code
print(status, sorted({m.split(".")[0] for m in sys.modules} & {"boto3", "pydantic"}))
"""
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "200 []"  # the lines before: JSON logs
