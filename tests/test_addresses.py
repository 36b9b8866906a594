"""International addresses: every address accepted is one the mail worker can send to.

An internationalised domain is stored, looked up and mailed in its ASCII (IDNA) form, so its
two spellings are one person. A local part that is not ASCII needs SMTPUTF8, which SES does
not offer: every route refuses it at once with a 422 naming the field (LAW 12), and nothing
is stored, queued or sent.
"""

from __future__ import annotations

import json
from urllib.parse import quote

UNICODE = "anna@bücher.de"
PUNYCODE = "anna@xn--bcher-kva.de"
NOT_ASCII = "jösé@example.com"
EVIDENCE = {"order_id": "ORD-1", "purchased_at": "2025-02-01T12:00:00Z", "opt_out_offered": True}


def _personal(visitor) -> list[dict]:
    return [i for i in visitor.items() if not i["pk"].startswith(("TEXT#", "RATE#"))]


def test_an_idn_domain_is_mailed_in_its_ascii_form(visitor):
    visitor.signup(UNICODE)
    visitor.run_mail_jobs()  # raised UnicodeEncodeError in formataddr before: five times, then the DLQ
    (mail,) = visitor.sent_mail()
    assert str(mail["To"]) == PUNYCODE
    assert visitor.sqs.receive_message(QueueUrl=visitor.resources["dlq_url"]).get("Messages", []) == []
    assert visitor.confirm(PUNYCODE).status_code == 200
    assert visitor.contact(UNICODE)["email"] == PUNYCODE
    assert [c["email"] for c in visitor.audience("newsletter")] == [PUNYCODE]


def test_both_spellings_of_a_domain_are_one_person(visitor):
    """The same mailbox: the same subject, whichever spelling a route is given."""
    visitor.signup(UNICODE, purposes=("newsletter",))
    visitor.signup(PUNYCODE.upper().replace("ANNA", "anna"), purposes=("offers",))
    assert visitor.subject(UNICODE) == visitor.subject(PUNYCODE)
    for spelling in (UNICODE, PUNYCODE, quote(UNICODE)):
        contact = visitor.contact(spelling)
        assert set(contact["purposes"]) == {"newsletter", "offers"}
    assert len({i["pk"] for i in _personal(visitor)}) == 1


def _refused(response) -> dict:
    assert response.status_code == 422, (response.status_code, response.body[:300])
    return json.loads(response.body)["errors"]


def test_a_local_part_ses_cannot_deliver_is_422_on_every_route_and_leaves_nothing(visitor):
    form = visitor.post_form("/forms/newsletter?lang=en", [("email", NOT_ASCII), ("purposes", "newsletter")])
    assert form.status_code == 422 and 'id="email-error"' in form.body.decode()
    assert "before the @" in form.body.decode()  # a reason a person understands, not "invalid"
    errors = _refused(visitor.post_json("/forms/newsletter", {"email": NOT_ASCII, "purposes": ["offers"]}))
    assert "ASCII" in errors["email"]
    assert "email" in _refused(visitor.post_json("/requests", {"email": NOT_ASCII, "type": "access"}))
    assert "email" in _refused(
        visitor.api_post(
            "/api/soft-opt-ins", {"email": NOT_ASCII, "purposes": ["offers"], "evidence": EVIDENCE}
        )
    )
    assert "email" in _refused(visitor.api_post("/api/links", {"email": NOT_ASCII}))
    assert "email" in _refused(visitor.api(f"/api/contacts/{quote(NOT_ASCII)}"))
    imported = visitor.api_post(
        "/api/imports", {"contacts": [{"email": NOT_ASCII, "purposes": ["newsletter"]}]}
    )
    (row,) = json.loads(imported.body)["results"]
    assert row["result"] == "invalid" and row["reason"].startswith("email: ") and "ASCII" in row["reason"]
    assert _personal(visitor) == []
    assert visitor.queued() == [] and visitor.sent_mail() == []
