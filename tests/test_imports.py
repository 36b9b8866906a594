"""POST /api/imports: proven rows imported, unproven rows only asked, bad rows alone (LAW 24, 5, 22)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from chalicelib import catalogue

PROOF = {
    "consented_at": "2024-11-05T09:30:00+01:00",
    "source": "Jaarbeurs 2024, paper form at stand 12",
    "text": "Ja, mail mij aanbiedingen van Voorbeeld Webwinkel B.V.\nAfmelden kan altijd.",
}
DAY = 86400


def _import(visitor, *rows):
    response = visitor.api_post("/api/imports", {"contacts": list(rows)})
    assert response.status_code == 200, response.body
    return json.loads(response.body)["results"]


def _statuses(visitor, email):
    return {p: s["status"] for p, s in visitor.contact(email)["purposes"].items()}


def test_the_api_key_is_required(visitor):
    response = visitor.post_json("/api/imports", {"contacts": []})
    assert response.status_code == 401


def test_a_row_with_its_own_proof_is_imported_with_the_exact_text(visitor):
    """LAW 5: who, what, when, how, the exact text and its version; the text kept with the person."""
    results = _import(
        visitor,
        {"email": "Beurs@Example.com", "name": "Bea Beurs", "purposes": ["offers"], "evidence": PROOF},
    )
    assert results == [{"email": "Beurs@Example.com", "result": "imported"}]
    contact = visitor.contact("beurs@example.com")
    assert contact["name"] == "Bea Beurs"
    assert contact["purposes"]["offers"]["status"] == "granted"
    assert contact["purposes"]["offers"]["basis"] == "consent"
    (event,) = visitor.events("beurs@example.com")
    assert (event["type"], event["purpose"], event["basis"]) == ("imported", "offers", "consent")
    evidence = event["evidence"]
    assert evidence["text"] == PROOF["text"]  # byte for byte, line break included
    assert evidence["text_version"] == catalogue.text_version("offers", "nl", PROOF["text"])
    assert evidence["source"] == PROOF["source"]
    assert evidence["consented_at"] == "2024-11-05T08:30:00.000000Z"
    assert evidence["channel"] == "import" and evidence["form"] == "import" and evidence["lang"] == "nl"
    assert evidence["batch"]
    # The text is kept in the person's own event, never in a shared item that erasure would miss.
    assert [i for i in visitor.items() if i["pk"] == f"TEXT#{evidence['text_version']}"] == []
    (stored,) = [i for i in visitor.person_items("beurs@example.com") if i.get("type") == "imported"]
    assert stored["evidence"]["text"] == PROOF["text"]
    assert visitor.audience_index("offers") == [visitor.subject("beurs@example.com")]
    assert visitor.queued() == []
    assert all("expires_at" not in i for i in visitor.person_items("beurs@example.com"))


def test_a_row_without_proof_is_never_granted_and_gets_exactly_one_mail(visitor):
    """LAW 24: a bought list reaches no audience; at most one double opt-in mail."""
    row = {"email": "gekocht@example.com", "purposes": ["newsletter", "offers"]}
    assert _import(visitor, row) == [{"email": "gekocht@example.com", "result": "reconfirmation_sent"}]
    assert _statuses(visitor, "gekocht@example.com") == {"newsletter": "pending", "offers": "pending"}
    visitor.run_mail_jobs()
    (mail,) = visitor.mail_to("gekocht@example.com")
    text = mail.get_body(("plain",)).get_content()
    assert "zonder bewijs van uw toestemming" in text and "/confirm/" in text

    for again in (row, {**row, "purposes": ["offers"]}):
        (result,) = _import(visitor, again)
        assert result["result"] == "reconfirmation_sent"
        assert "no second one" in result["reason"]
    assert visitor.queued() == []
    visitor.run_mail_jobs()
    assert len(visitor.mail_to("gekocht@example.com")) == 1
    assert _statuses(visitor, "gekocht@example.com") == {"newsletter": "pending", "offers": "pending"}
    assert visitor.audience_index("newsletter") == [] and visitor.audience_index("offers") == []
    types = [e["type"] for e in visitor.events("gekocht@example.com")]
    assert "imported" not in types and "confirmed" not in types


def test_the_person_may_still_confirm_the_one_mail_and_is_then_granted(visitor):
    _import(visitor, {"email": "later@example.com", "purposes": ["newsletter"]})
    assert visitor.confirm("later@example.com").status_code == 200
    assert _statuses(visitor, "later@example.com") == {"newsletter": "granted"}
    events = visitor.events("later@example.com")
    assert [e["type"] for e in events] == ["signup_requested", "confirmation_sent", "confirmed"]
    assert events[0]["evidence"]["form"] == "import" and events[0]["evidence"]["channel"] == "import"
    assert events[0]["evidence"]["texts"] == {
        "newsletter": catalogue.load().purposes["newsletter"].texts["nl"]
    }


def test_an_unproven_row_expires_like_any_unconfirmed_signup(visitor):
    _import(visitor, {"email": "vergeten@example.com", "purposes": ["offers"]})
    now = time.time()
    for item in visitor.person_items("vergeten@example.com"):
        days = 365 if item["sk"] == "IMPORT" else 30  # the guard holds no address
        assert abs(int(item["expires_at"]) - (now + days * DAY)) < 60, item["sk"]
    (guard,) = [i for i in visitor.person_items("vergeten@example.com") if i["sk"] == "IMPORT"]
    assert set(guard) == {"pk", "sk", "asked_at", "expires_at"}


def test_suppressed_addresses_are_refused_and_the_other_rows_still_import(visitor):
    """LAW 22: an erased or complaining address never creeps back in through an import."""
    visitor.subscribe("gewist@example.com")
    visitor.api_delete("/api/contacts/gewist@example.com")
    visitor.ddb.put_item(  # a complaint, as SES feedback leaves it
        TableName=visitor.resources["table"],
        Item={
            "pk": {"S": f"SUPPRESS#{visitor.subject('klacht@example.com')}"},
            "sk": {"S": "SUPPRESS"},
            "reason": {"S": "complaint"},
            "at": {"S": "2025-01-01T00:00:00.000000Z"},
        },
    )
    sent = len(visitor.sent_mail())
    results = _import(
        visitor,
        {"email": "gewist@example.com", "purposes": ["offers"], "evidence": PROOF},
        {"email": "gewist@example.com", "purposes": ["newsletter"]},
        {"email": "klacht@example.com", "purposes": ["offers"], "evidence": PROOF},
        {"email": "klacht@example.com", "purposes": ["offers"]},
        {"email": "nieuw@example.com", "purposes": ["offers"], "evidence": PROOF},
    )
    assert [r["result"] for r in results] == ["suppressed"] * 4 + ["imported"]
    assert results[0]["reason"] == "suppression marker: erasure"
    assert results[2]["reason"] == "suppression marker: complaint"
    assert visitor.person_items("gewist@example.com") == []
    assert visitor.person_items("klacht@example.com") == []
    assert visitor.queued() == [] and len(visitor.sent_mail()) == sent


def test_a_withdrawn_purpose_is_refused_as_suppressed(visitor):
    visitor.subscribe("stop@example.com", purposes=("offers",))
    visitor.ddb.update_item(  # withdrawn, as the unsubscribe flow writes it
        TableName=visitor.resources["table"],
        Key={"pk": {"S": f"S#{visitor.subject('stop@example.com')}"}, "sk": {"S": "P#offers"}},
        UpdateExpression="SET #s = :w REMOVE aud_pk, aud_sk",
        ExpressionAttributeNames={"#s": "state"},
        ExpressionAttributeValues={":w": {"S": "withdrawn"}},
    )
    before = visitor.person_items("stop@example.com")
    results = _import(
        visitor,
        {"email": "stop@example.com", "purposes": ["offers"], "evidence": PROOF},
        {"email": "stop@example.com", "purposes": ["offers"]},
    )
    assert [(r["result"], r["reason"]) for r in results] == [("suppressed", "the person withdrew offers")] * 2
    # Nothing of the person changed. (A batch's texts are stored before its rows run: a
    # text is not personal data, and one write per text keeps it out of every row's
    # transaction.)
    assert visitor.person_items("stop@example.com") == before
    assert visitor.queued() == []


def _future() -> str:
    return (datetime.now(UTC) + timedelta(days=1)).isoformat()


def test_bad_rows_are_invalid_with_the_field_named_and_spoil_nothing(visitor):
    def proof(**changes):
        return {"purposes": ["offers"], "evidence": {**PROOF, **changes}}

    without_text = {"consented_at": PROOF["consented_at"], "source": "x"}
    rows = [
        ({"email": "not-an-address", "purposes": ["offers"]}, "email: is not a valid email address"),
        ({"email": "a@example.com", "purposes": ["lottery"]}, "purposes: unknown purpose: lottery"),
        ({"email": "b@example.com", "purposes": []}, "purposes: name at least one purpose"),
        (
            {"email": "c@example.com", **proof(consented_at="gisteren")},
            "evidence.consented_at: is not an ISO",
        ),
        (
            {"email": "d@example.com", **proof(consented_at=_future())},
            "evidence.consented_at: is in the future",
        ),
        ({"email": "e@example.com", **proof(source="")}, "evidence.source: may not be empty"),
        ({"email": "f@example.com", **proof(text="  ")}, "evidence.text: may not be empty"),
        (
            {"email": "g@example.com", "purposes": ["offers"], "evidence": without_text},
            "evidence.text: is required",
        ),
        ({"email": "h@example.com", **proof(ip="1.2.3.4")}, "evidence.ip: is not a known field"),
        ({"email": "i@example.com", "purposes": ["offers"], "phone": "06"}, "phone: is not a known field"),
        (
            {"email": "j@example.com", "purposes": ["offers"], "evidence": "yes"},
            "evidence: must be a JSON object",
        ),
        ("k@example.com", "row: must be a JSON object"),
        ({"email": "l@example.com\r\nBcc: x@example.org", "purposes": ["offers"]}, "email: may not contain"),
    ]
    good = {"email": "goed@example.com", "purposes": ["offers"], "evidence": PROOF}
    results = _import(visitor, rows[0][0], *(r for r, _ in rows[1:]), good)
    assert len(results) == len(rows) + 1
    for (row, reason), result in zip(rows, results, strict=False):
        assert result["result"] == "invalid", result
        assert result["reason"].startswith(reason), result
        assert result["email"] == (row.get("email") if isinstance(row, dict) else None)
    assert results[-1] == {"email": "goed@example.com", "result": "imported"}
    people = {i["pk"] for i in visitor.items() if i["pk"].startswith("S#")}
    assert people == {f"S#{visitor.subject('goed@example.com')}"}


def test_a_batch_of_1000_rows_reports_every_row_in_order(visitor):
    rows = [{"email": f"rij{n}@example.com", "purposes": ["lottery"]} for n in range(1000)]
    results = _import(visitor, *rows)
    assert [r["email"] for r in results] == [r["email"] for r in rows]
    assert {r["result"] for r in results} == {"invalid"}


def test_over_the_row_limit_is_413_with_the_limit_and_nothing_stored(visitor):
    rows = [{"email": f"rij{n}@example.com", "purposes": ["offers"]} for n in range(1001)]
    response = visitor.api_post("/api/imports", {"contacts": rows})
    assert response.status_code == 413
    body = json.loads(response.body)
    assert body["limit"] == 1000 and "1000 rows" in body["error"]
    assert visitor.items() == [] and visitor.queued() == []


def test_a_body_over_the_api_cap_is_413_naming_it(visitor):
    row = {"email": "x@example.com", "purposes": ["offers"], "evidence": {**PROOF, "text": "x" * 4000}}
    response = visitor.api_post("/api/imports", {"contacts": [row] * 1100})
    assert response.status_code == 413
    assert "at most 4194304 bytes" in json.loads(response.body)["errors"]["body"]


def test_the_batch_refuses_unknown_fields_and_a_missing_list(visitor):
    for body, field in (({"contacts": [], "dry_run": True}, "dry_run"), ({"rows": []}, "contacts")):
        response = visitor.api_post("/api/imports", body)
        assert response.status_code == 422
        assert field in json.loads(response.body)["errors"]
    assert visitor.items() == []


def test_rows_of_one_address_in_one_batch_send_one_mail(visitor):
    results = _import(
        visitor,
        {"email": "dubbel@example.com", "purposes": ["offers"]},
        {"email": "DUBBEL@example.com", "purposes": ["newsletter"]},
    )
    assert [r["result"] for r in results] == ["reconfirmation_sent"] * 2
    assert "reason" not in results[0] and "no second one" in results[1]["reason"]
    assert len(visitor.queued()) == 1


def test_the_import_mail_goes_through_the_queue_and_holds_no_address(visitor):
    _import(visitor, {"email": "wachtrij@example.com", "purposes": ["offers"]})
    (message,) = visitor.queued()
    assert "wachtrij" not in message["Body"]
    assert json.loads(message["Body"])["kind"] == "confirm"


def test_an_unproven_import_row_is_capped_like_a_form_signup(visitor):
    """LAW 11 and 24: the import's one confirmation mail counts towards the daily cap."""
    for _ in range(3):
        visitor.signup("capped.import@example.com", purposes=("offers",))
    (result,) = _import(visitor, {"email": "capped.import@example.com", "purposes": ["newsletter"]})
    assert result["result"] == "invalid" and "maximum of mails in the last 24 hours" in result["reason"]
    visitor.run_mail_jobs()
    assert len(visitor.mail_to("capped.import@example.com")) == 3
    assert "newsletter" not in visitor.contact("capped.import@example.com")["purposes"]
