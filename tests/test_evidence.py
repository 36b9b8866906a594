"""`GET /api/contacts/{email}/evidence`: the dossier that proves a person's consent history
and says whether it verifies (issue 14). LAW 5 (GDPR art. 7(1), 5(2)): the exact texts,
when, from where, how confirmed, what was withdrawn, under a hash chain and a signed digest;
LAW 6: printable for a regulator."""

from __future__ import annotations

import json

import pytest
from boto3.dynamodb.types import TypeSerializer

from chalicelib.evidence import sign_digest
from chalicelib.ledger import utc_now
from tests.conftest import API_KEY

NEWSLETTER_TEXT = "Yes, send me the monthly newsletter of Voorbeeld Webwinkel B.V. by email."
SALE = {"order_id": "ORD-9", "purchased_at": "2026-02-01T10:00:00Z", "opt_out_offered": True}
PROOF = {"consented_at": "2024-03-01T09:00:00Z", "source": "fair stand", "text": "Yes, the newsletter."}


def _dossier(visitor, email: str, accept: str | None = None, query: str = ""):
    headers = {"Authorization": f"Bearer {API_KEY}"}
    if accept:
        headers["Accept"] = accept
    return visitor.get(f"/api/contacts/{email}/evidence{query}", headers)


def _verified(visitor, email: str) -> dict:
    response = _dossier(visitor, email)
    assert response.status_code == 200, response.body
    data = json.loads(response.body)
    assert data["chain"]["findings"] == [] and data["verified"] is True
    return data


def test_a_key_is_needed_and_nobody_is_404(visitor):
    visitor.subscribe("sleutel@example.com")
    assert visitor.get("/api/contacts/sleutel@example.com/evidence").status_code == 401
    assert _dossier(visitor, "niemand@example.com").status_code == 404


def test_signup_and_confirmation_verify_with_the_exact_text_and_then_under_a_digest(visitor):
    """LAW 5: the signup's text as shown, the mail, the click; first no digest, then one."""
    email = "dossier@example.com"
    visitor.subscribe(email, purposes=("newsletter",), lang="en")
    data = _verified(visitor, email)
    assert [e["type"] for e in data["events"]] == ["signup_requested", "confirmation_sent", "confirmed"]
    assert data["events"][0]["evidence"]["texts"]["newsletter"] == NEWSLETTER_TEXT
    assert data["events"][2]["evidence"]["requested_at"] == data["events"][0]["at"]
    assert data["chain"]["head"] == data["events"][-1]["hash"] and data["chain"]["length"] == 3
    assert data["digest"] is None

    sign_digest(utc_now())
    digest = _verified(visitor, email)["digest"]
    assert digest["leaf"]["head"] == data["events"][-1]["hash"] and digest["covers_events"] == 3
    assert (
        digest["algorithm"] == "ECDSA_SHA_256" and digest["signature"] and digest["root"] in digest["message"]
    )


@pytest.mark.parametrize("flow", ["withdraw", "object", "soft opt-in", "import"])
def test_every_flow_verifies(visitor, flow):
    """LAW 5: withdrawal, objection, soft opt-in and proven import each
    leave a chain that verifies, with the evidence of how."""
    email = f"flow-{flow.replace(' ', '-')}@example.com"
    if flow in ("withdraw", "object"):
        visitor.subscribe(email)
        if flow == "withdraw":
            visitor.one_click(visitor.unsubscribe_path(email, "offers"))
        else:
            visitor.post_form(
                visitor.unsubscribe_path(email),
                [("purposes", "newsletter"), ("purposes", "offers"), ("profiling", "object")],
            )
    elif flow == "soft opt-in":
        body = {"email": email, "purposes": ["offers"], "evidence": SALE}
        assert visitor.api_post("/api/soft-opt-ins", body).status_code == 201
    else:
        body = {"contacts": [{"email": email, "purposes": ["newsletter"], "evidence": PROOF}]}
        assert visitor.api_post("/api/imports", body).status_code == 200
    sign_digest(utc_now())
    data = _verified(visitor, email)
    last = data["events"][-1]
    expected = {
        "withdraw": "withdrawn",
        "object": "profiling_objected",
        "soft opt-in": "soft_opt_in_recorded",
        "import": "imported",
    }
    assert last["type"] == expected[flow]
    if flow == "import":
        assert last["evidence"]["text"] == PROOF["text"] and last["evidence"]["source"] == "fair stand"
    if flow == "soft opt-in":
        assert last["evidence"]["order_id"] == "ORD-9" and last["evidence"]["opt_out_offered"] is True
    assert data["digest"]["leaf"]["seq"] == data["chain"]["length"]


def test_erasure_leaves_nobody_to_prove(visitor):
    """LAW 26: after erasure, no dossier."""
    visitor.subscribe("vergeet@example.com")
    assert visitor.api_delete("/api/contacts/vergeet@example.com").status_code == 200
    assert _dossier(visitor, "vergeet@example.com").status_code == 404


def test_tampering_makes_the_dossier_say_it_does_not_verify(visitor):
    email = "vals@example.com"
    visitor.subscribe(email, purposes=("newsletter",))
    (confirmed,) = [i for i in visitor.person_items(email) if i.get("type") == "confirmed"]
    forged = {**confirmed, "at": "2020-01-01T00:00:00.000000Z"}
    ser = TypeSerializer()
    visitor.ddb.put_item(
        TableName=visitor.resources["table"], Item={k: ser.serialize(v) for k, v in forged.items()}
    )
    data = json.loads(_dossier(visitor, email).body)
    assert data["verified"] is False
    assert [(f["kind"], f["seq"], f["type"]) for f in data["chain"]["findings"]] == [
        ("altered", 3, "confirmed")
    ]
    page = _dossier(visitor, email, "text/html").body.decode()
    assert "Het dossier klopt niet." in page


def test_the_printable_page_speaks_the_regulators_language_and_escapes_what_people_typed(visitor):
    """LAW 6: a page a data-protection authority can read, Dutch by default, English on
    request; what a person typed is shown as text, never as markup."""
    email = "pagina@example.com"
    visitor.subscribe(email, purposes=("newsletter",), name="Bo & Zoon", lang="en")
    sign_digest(utc_now())
    response = _dossier(visitor, email, "text/html")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Cache-Control"] == "no-store"
    page = response.body.decode()
    assert "Bewijs van toestemming" in page and "Het dossier klopt." in page
    assert NEWSLETTER_TEXT in page and "Bo &amp; Zoon" in page and "Bo & Zoon" not in page
    assert "openssl dgst -sha256 -verify" in page
    english = _dossier(visitor, email, "text/html", "?lang=en").body.decode()
    assert "Evidence of consent" in english and "Confirmed by clicking the link in that mail" in english
