"""LAW 27 and 28: every kind of personal data has a maximum age, and the record of processing
names every kind the ledger writes, with its purpose, basis, retention and processors."""

from __future__ import annotations

import json
import time

import pytest

from chalicelib import processing
from chalicelib.settings import _KEYS, SettingsError, _build, get_settings
from tests.conftest import ROOT

DAY = 86400
PROOF = {
    "consented_at": "2024-06-01T10:00:00Z",
    "source": "webshop checkout 2024",
    "text": "Ja, aanbiedingen.",
}
SALE = {"order_id": "ORD-9", "purchased_at": "2025-01-10T09:00:00Z", "opt_out_offered": True}
RETENTION_SETTINGS = {
    "CONSENTRY_PENDING_DAYS": "30",
    "CONSENTRY_CONFIRM_TOKEN_DAYS": "7",
    "CONSENTRY_REQUEST_TOKEN_DAYS": "2",
    "CONSENTRY_RATE_COUNTER_HOURS": "48",
    "CONSENTRY_IMPORT_GUARD_DAYS": "365",
    "CONSENTRY_ERASURE_RECORD_DAYS": "365",
}


def test_every_retention_period_is_a_stage_setting_with_a_default():
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    assert {k: config["environment_variables"].get(k) for k in RETENTION_SETTINGS} == RETENTION_SETTINGS
    resources = (ROOT / ".chalice" / "resources.yaml").read_text()
    # every function's log group keeps logs for LogRetentionDays, 30 unless ops choose
    assert resources.count("RetentionInDays: !Ref LogRetentionDays") == 5
    assert "LogRetentionDays:\n    Type: Number\n    Default: 30" in resources
    # the archive of consent changes (issue 14) holds addresses: a week unless ops choose
    assert "RetentionDays: !Ref ChangesArchiveDays" in resources
    assert "ChangesArchiveDays:\n    Type: Number\n    Default: 7" in resources
    for stage in config["stages"].values():
        assert not set(stage.get("environment_variables", {})) & set(RETENTION_SETTINGS)


def _settings(**env):
    base = {
        "CONSENTRY_STAGE": "t",
        "CONSENTRY_TABLE": "t",
        "CONSENTRY_MAIL_QUEUE": "q",
        "CONSENTRY_CONFIRM_QUEUE": "c",
    }
    base |= {"CONSENTRY_SECRET_ID": "s", "CONSENTRY_SENDER": "a@example.com"}
    values = base | env
    return _build(tuple(values.get(k) for k in _KEYS))


def test_retention_settings_are_read_and_checked():
    settings = _settings()
    assert (settings.request_token_days, settings.rate_counter_hours) == (2, 48)
    assert (settings.import_guard_days, settings.erasure_record_days) == (365, 365)
    assert _settings(CONSENTRY_REQUEST_TOKEN_DAYS="5").request_token_seconds == 5 * DAY
    for bad in ({"CONSENTRY_REQUEST_TOKEN_DAYS": "31"}, {"CONSENTRY_RATE_COUNTER_HOURS": "x"},
                {"CONSENTRY_IMPORT_GUARD_DAYS": "0"}, {"CONSENTRY_IMPORT_WORKERS": "11"}):  # fmt: skip
        with pytest.raises(SettingsError):
            _settings(**bad)


def _every_flow(visitor):
    """Write every kind of item the service writes today."""
    visitor.subscribe("vast@example.com", name="Vera Vast")
    visitor.signup("wacht@example.com")
    visitor.api_post(
        "/api/soft-opt-ins", {"email": "klant@example.com", "purposes": ["offers"], "evidence": SALE}
    )
    visitor.api_post(
        "/api/imports",
        {
            "contacts": [
                {"email": "bewijs@example.com", "purposes": ["offers"], "evidence": PROOF},
                {"email": "lijst@example.com", "purposes": ["offers"]},
            ]
        },
    )
    visitor.post_form("/requests", {"email": "vast@example.com", "type": "access"})
    visitor.post_form("/requests", {"email": "weg@example.com", "type": "erasure"})
    visitor.subscribe("weg@example.com")
    visitor.post_form("/requests", {"email": "weg@example.com", "type": "erasure"})
    visitor.run_mail_jobs()
    visitor.client.http.post(
        visitor.request_link("vast@example.com"),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    visitor.client.http.post(
        visitor.request_link("weg@example.com"), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )


def test_every_item_written_is_in_the_record_and_expires_as_its_setting_says(visitor):
    _every_flow(visitor)
    settings = get_settings()
    now = time.time()
    retained = {visitor.subject(e) for e in ("vast@example.com", "klant@example.com", "bewijs@example.com")}
    expected = {
        "PENDING#": settings.pending_days * DAY,
        "REQUEST#": settings.request_token_days * DAY,
        "IMPORT": settings.import_guard_days * DAY,
    }
    kinds = set()
    for item in visitor.items():
        record = processing.record_for(item["pk"], item["sk"])
        assert record is not None, f"{item['pk'][:9]} {item['sk'][:9]} is not in the record of processing"
        kinds.add(record.name)
        expires = item.get("expires_at")
        numeric = isinstance(expires, (int, float)) or (expires is not None and str(expires).isdigit())
        own = next((seconds for prefix, seconds in expected.items() if item["sk"].startswith(prefix)), None)
        if item["pk"].startswith("RATE#"):
            # a counter lives for its window (at most a day) plus the keep period
            assert numeric and now < int(expires) <= now + DAY + settings.rate_counter_hours * 3600
            continue
        if item["pk"].startswith("SUPPRESS#") and item["sk"].startswith("E#"):
            limit = settings.erasure_record_days * DAY
        elif item["pk"].startswith(("SUPPRESS#", "TEXT#")):
            limit = None  # the marker stays (it holds no address); texts are no personal data
        elif item["pk"][2:] not in retained:
            limit = own or settings.pending_days * DAY  # never confirmed: everything goes
        else:
            limit = own  # proof of a retained person is kept until erased
        if limit is None:
            assert not numeric, item["sk"]
        else:
            assert numeric and abs(int(expires) - (now + limit)) < 60, item["sk"]
    assert kinds >= {
        "profile",
        "pending signup",
        "purpose states and profiling flag",
        "events",
        "access and erasure requests",
        "import guard",
        "suppression marker",
        "erasure record",
        "consent texts",
    }


def test_the_record_of_processing_says_what_why_basis_how_long_and_who(aws):
    record = processing.describe(get_settings())
    for entry in record["records"]:
        assert all(entry[k] for k in ("name", "data", "purpose", "basis", "retention")), entry
        assert "{" not in entry["retention"]
    retention = {e["name"]: e["retention"] for e in record["records"]}
    assert "30 days" in retention["pending signup"] and "2 days" in retention["access and erasure requests"]
    assert "48 hours" in retention["rate counters"] and "365 days" in retention["erasure record"]
    services = {p["service"] for p in record["processors"]["services"]}
    assert services == {
        "AWS Lambda",
        "Amazon API Gateway",
        "Amazon DynamoDB",
        "Amazon SQS",
        "Amazon SES",
        "AWS Secrets Manager",
        "Amazon CloudWatch Logs",
        "Amazon EventBridge",  # consent changes pushed (issue 14)
    }
    assert record["processors"]["region"] == "eu-west-1"
    outside = {o["name"]: o for o in record["outside_the_table"]}
    assert set(outside) == {
        "mail jobs",
        "logs",
        "backups",
        "erasure journal",
        "table stream",
        "consent changes",
    }
    assert "24 hours" in outside["table stream"]["retention"]
    assert "7 days" in outside["consent changes"]["retention"] and "CRM" in record["recipients"]
    from chalicelib.ledger import JOURNAL_SECONDS

    # the journal outlives every restore point by a day, and says so
    assert JOURNAL_SECONDS == 36 * 86400 and "36 days" in outside["erasure journal"]["retention"]
