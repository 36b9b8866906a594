"""POST /api/soft-opt-ins: an existing customer, own similar products, proven (LAW 23, 5, 22)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import catalogue

EVIDENCE = {"order_id": "ORD-1001", "purchased_at": "2025-03-01T11:15:00+01:00", "opt_out_offered": True}


def _soft(visitor, email="klant@example.com", purposes=("offers",), evidence=EVIDENCE, **extra):
    body = {"email": email, "purposes": list(purposes), **({"evidence": evidence} if evidence else {})}
    return visitor.api_post("/api/soft-opt-ins", body | extra)


def test_the_api_key_is_required(visitor):
    response = visitor.post_json("/api/soft-opt-ins", {"email": "klant@example.com"})
    assert response.status_code == 401
    assert visitor.items() == []


def test_a_customer_is_granted_offers_with_basis_soft_opt_in_and_the_sale_recorded(visitor):
    """LAW 23: the record proves the sale, the opt-out offered, and the organisation."""
    response = _soft(visitor, name="Karin Klant", lang="en")
    assert response.status_code == 201, response.body
    contact = json.loads(response.body)
    assert contact["email"] == "klant@example.com" and contact["name"] == "Karin Klant"
    assert contact["lang"] == "en" and contact["suppressed"] is False
    assert contact["purposes"]["offers"]["status"] == "granted"
    assert contact["purposes"]["offers"]["basis"] == "soft_opt_in"
    assert "newsletter" not in contact["purposes"]
    (event,) = visitor.events("klant@example.com")
    assert (event["type"], event["purpose"], event["basis"]) == (
        "soft_opt_in_recorded",
        "offers",
        "soft_opt_in",
    )
    evidence = event["evidence"]
    assert evidence["order_id"] == "ORD-1001"
    assert evidence["purchased_at"] == "2025-03-01T10:15:00.000000Z"  # normalised to UTC
    assert evidence["opt_out_offered"] is True
    assert evidence["controller"] == catalogue.load().controller.name
    assert evidence["channel"] == "api:soft_opt_in" and evidence["ip"] == "127.0.0.1"
    assert visitor.audience_index("offers") == [visitor.subject("klant@example.com")]
    assert visitor.queued() == []  # no mail is asked: that is the point of a soft opt-in


def test_the_customer_is_retained_not_scheduled_for_deletion(visitor):
    _soft(visitor)
    for item in visitor.person_items("klant@example.com"):
        assert not isinstance(item.get("expires_at"), (int, float)) and "expires_at" not in item, item["sk"]
    (profile,) = [i for i in visitor.person_items("klant@example.com") if i["sk"] == "PROFILE"]
    assert profile["retained_since"].endswith("Z")


def _in_the_future() -> str:
    return (datetime.now(UTC) + timedelta(days=2)).isoformat()


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"evidence": None}, "evidence", "is required"),
        ({"evidence": {**EVIDENCE, "opt_out_offered": False}}, "evidence.opt_out_offered", "must be true"),
        ({"evidence": {**EVIDENCE, "opt_out_offered": "true"}}, "evidence.opt_out_offered", "must be true"),
        (
            {"evidence": {k: v for k, v in EVIDENCE.items() if k != "opt_out_offered"}},
            "evidence.opt_out_offered",
            "is required",
        ),
        # A prospect has no order: never a soft opt-in.
        (
            {"evidence": {k: v for k, v in EVIDENCE.items() if k != "order_id"}},
            "evidence.order_id",
            "required",
        ),
        ({"evidence": {**EVIDENCE, "order_id": "  "}}, "evidence.order_id", "may not be empty"),
        ({"evidence": {**EVIDENCE, "purchased_at": "01-03-2025"}}, "evidence.purchased_at", "ISO 8601"),
        ({"evidence": {**EVIDENCE, "purchased_at": "2025-03-01"}}, "evidence.purchased_at", "time of day"),
        (
            {"evidence": {**EVIDENCE, "purchased_at": "2025-03-01T10:00:00"}},
            "evidence.purchased_at",
            "time zone",
        ),
        (
            {"evidence": {**EVIDENCE, "purchased_at": _in_the_future()}},
            "evidence.purchased_at",
            "in the future",
        ),
        ({"evidence": {**EVIDENCE, "coupon": "X"}}, "evidence.coupon", "not a known field"),
        ({"consent": True}, "consent", "not a known field"),
        ({"purposes": ["newsletter"]}, "purposes", "not eligible for soft opt-in: newsletter"),
        ({"purposes": ["offers", "newsletter"]}, "purposes", "not eligible for soft opt-in: newsletter"),
        ({"purposes": ["lottery"]}, "purposes", "unknown purpose: lottery"),
        ({"purposes": []}, "purposes", "at least one purpose"),
        ({"email": "not-an-address"}, "email", "not a valid email address"),
    ],
)
def test_missing_or_bad_evidence_and_ineligible_purposes_are_422_naming_the_reason(
    visitor, body, field, reason
):
    data = {"email": "klant@example.com", "purposes": ["offers"], "evidence": EVIDENCE} | body
    data = {k: v for k, v in data.items() if v is not None}
    response = visitor.api_post("/api/soft-opt-ins", data)
    assert response.status_code == 422, response.body
    errors = json.loads(response.body)["errors"]
    assert field in errors and reason in errors[field], errors
    assert visitor.items() == []  # all or nothing: not even the eligible purpose
    assert visitor.queued() == []


def test_an_erased_address_is_409_and_nothing_is_stored(visitor):
    visitor.subscribe("weg@example.com")
    assert visitor.api_delete("/api/contacts/weg@example.com").status_code == 200
    before = visitor.items()
    response = _soft(visitor, email="weg@example.com")
    assert response.status_code == 409
    assert "suppressed (erasure)" in json.loads(response.body)["error"]
    assert visitor.items() == before
    assert visitor.api("/api/contacts/weg@example.com").status_code == 404


def test_a_complaint_marker_is_409(visitor):
    """LAW 22: whatever left the marker (here a complaint, as SES feedback writes it)."""
    visitor.ddb.put_item(
        TableName=visitor.resources["table"],
        Item={
            "pk": {"S": f"SUPPRESS#{visitor.subject('boos@example.com')}"},
            "sk": {"S": "SUPPRESS"},
            "reason": {"S": "complaint"},
            "at": {"S": "2025-01-01T00:00:00.000000Z"},
        },
    )
    response = _soft(visitor, email="boos@example.com")
    assert response.status_code == 409 and "complaint" in json.loads(response.body)["error"]
    assert visitor.person_items("boos@example.com") == []


def test_a_withdrawn_purpose_is_not_granted_again_by_a_sale(visitor):
    visitor.subscribe("nee@example.com", purposes=("offers",))
    visitor.ddb.update_item(  # withdrawn, as the unsubscribe flow writes it
        TableName=visitor.resources["table"],
        Key={"pk": {"S": f"S#{visitor.subject('nee@example.com')}"}, "sk": {"S": "P#offers"}},
        UpdateExpression="SET #s = :w REMOVE aud_pk, aud_sk",
        ExpressionAttributeNames={"#s": "state"},
        ExpressionAttributeValues={":w": {"S": "withdrawn"}},
    )
    before = visitor.items()
    response = _soft(visitor, email="nee@example.com")
    assert response.status_code == 409 and "withdrew offers" in json.loads(response.body)["error"]
    assert visitor.items() == before
    assert visitor.audience_index("offers") == []


def test_a_soft_opt_in_never_downgrades_consent_and_never_rewrites_an_event(visitor):
    """LAW 5: events are append-only; a later sale adds one and changes none."""
    visitor.subscribe("fan@example.com", purposes=("offers",))
    granted = visitor.contact("fan@example.com")["purposes"]["offers"]
    events_before = [i for i in visitor.person_items("fan@example.com") if i["sk"].startswith("E#")]
    assert _soft(visitor, email="fan@example.com").status_code == 201
    assert (
        _soft(visitor, email="fan@example.com", evidence={**EVIDENCE, "order_id": "ORD-2"}).status_code == 201
    )
    assert visitor.contact("fan@example.com")["purposes"]["offers"] == granted  # consent, same date
    events_after = [i for i in visitor.person_items("fan@example.com") if i["sk"].startswith("E#")]
    assert [i for i in events_after if i in events_before] == events_before
    recorded = [e for e in visitor.events("fan@example.com") if e["type"] == "soft_opt_in_recorded"]
    assert [e["evidence"]["order_id"] for e in recorded] == ["ORD-1001", "ORD-2"]


def test_a_second_sale_keeps_the_soft_opt_in_date(visitor):
    _soft(visitor)
    since = visitor.contact("klant@example.com")["purposes"]["offers"]["since"]
    _soft(visitor, evidence={**EVIDENCE, "order_id": "ORD-2"})
    assert visitor.contact("klant@example.com")["purposes"]["offers"]["since"] == since
