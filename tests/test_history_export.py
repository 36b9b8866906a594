"""A person's whole history can be exported (LAW 6): for a regulator, by the controller
through `GET /api/contacts/{email}/events`, and for the person, in their access export. Both
hold every event the ledger wrote about them, of every kind, oldest first, with its evidence,
and say the same."""

from __future__ import annotations

import json

import pytest

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
OURS = "consentry-local"  # the configuration set the local stage's stack makes
SALE = {"order_id": "ORD-66", "purchased_at": "2025-05-01T10:00:00Z", "opt_out_offered": True}
PROOF = {"consented_at": "2024-03-01T09:00:00Z", "source": "fair stand", "text": "Yes, the newsletter."}
EVERY_KIND = {
    "signup_requested",
    "confirmation_sent",
    "confirmed",
    "soft_opt_in_recorded",
    "imported",
    "profiling_objected",
    "profiling_allowed",
    "withdrawn",
    "bounced",
    "complained",
    "access_exported",
}


def _feedback(kind: str, email: str, feedback_id: str) -> dict:
    """An SES event about our own configuration set's mail, as SNS delivers it."""
    details = (
        {"bounceType": "Transient", "bouncedRecipients": [{"emailAddress": email}]}
        if kind == "Bounce"
        else {"complainedRecipients": [{"emailAddress": email}], "complaintFeedbackType": "abuse"}
    )
    return {
        "eventType": kind,
        kind.lower(): {**details, "timestamp": "2026-04-01T10:00:00.000Z", "feedbackId": feedback_id},
        "mail": {"messageId": f"m-{feedback_id}", "tags": {"ses:configuration-set": [OURS]}},
    }


@pytest.fixture
def a_long_history(visitor, monkeypatch):
    """One person through every flow that writes an event about them."""
    monkeypatch.setenv("CONSENTRY_SES_CONFIGURATION_SET", OURS)
    email = "historie@example.com"
    visitor.subscribe(email, purposes=("newsletter",), lang="en")
    assert (
        visitor.api_post(
            "/api/soft-opt-ins", {"email": email, "purposes": ["offers"], "evidence": SALE}
        ).status_code
        == 201
    )
    imported = visitor.api_post(
        "/api/imports", {"contacts": [{"email": email, "purposes": ["newsletter"], "evidence": PROOF}]}
    )
    assert json.loads(imported.body)["results"][0]["result"] == "imported"
    path = visitor.unsubscribe_path(email)
    visitor.post_form(path, {"profiling": "object"})
    visitor.post_form(path, {"profiling": "allow"})
    visitor.one_click(visitor.unsubscribe_path(email, "offers"))
    visitor.sns(_feedback("Bounce", email, "fb-bounce"))
    visitor.sns(_feedback("Complaint", email, "fb-complaint"))
    return email


def test_the_regulators_view_and_the_persons_export_hold_the_same_whole_history(visitor, a_long_history):
    """LAW 6, 25: every kind of event, oldest first, with its evidence, in both."""
    email = a_long_history
    before = visitor.events(email)
    assert {e["type"] for e in before} == EVERY_KIND - {"access_exported"}
    assert [e["at"] for e in before] == sorted(e["at"] for e in before)
    assert all(e["evidence"] for e in before)

    assert visitor.post_form("/requests", {"email": email, "type": "access"}).status_code == 202
    visitor.run_mail_jobs()
    export = visitor.client.http.post(visitor.request_link(email), headers=FORM)
    assert export.status_code == 200
    data = json.loads(export.body)
    assert {e["type"] for e in data["events"]} == EVERY_KIND
    assert data["events"] == visitor.events(email)  # the person's copy is the regulator's, whole
    assert data["events"][: len(before)] == before
    (signed_up,) = [e for e in data["events"] if e["type"] == "signup_requested"]
    assert (
        signed_up["evidence"]["texts"]["newsletter"]
        == "Yes, send me the monthly newsletter of Voorbeeld Webwinkel B.V. by email."
    )
    (imported,) = [e for e in data["events"] if e["type"] == "imported"]
    assert imported["evidence"]["text"] == PROOF["text"] and imported["evidence"]["source"] == "fair stand"
