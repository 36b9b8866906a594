"""GET and POST /confirm/{token}: a button, a grant in one transaction, harmless repeats."""

from __future__ import annotations

import json

import pytest
from itsdangerous import URLSafeTimedSerializer

from chalicelib import tokens

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _signed_up(visitor, email="uma@example.com", purposes=("newsletter", "offers")) -> str:
    visitor.signup(email, purposes=purposes)
    visitor.run_mail_jobs()
    return visitor.confirm_link(email)


def _statuses(visitor, email):
    return {p: s["status"] for p, s in visitor.contact(email)["purposes"].items()}


def test_get_shows_a_button_and_changes_nothing(visitor):
    """LAW 9: mail scanners prefetch links; GET never confirms."""
    link = _signed_up(visitor)
    before = visitor.items()
    response = visitor.get(link)
    assert response.status_code == 200
    body = response.body.decode()
    assert '<form method="post">' in body and "<button" in body
    assert _statuses(visitor, "uma@example.com") == {"newsletter": "pending", "offers": "pending"}
    assert visitor.items() == before


def test_post_grants_every_purpose_of_that_signup_with_evidence(visitor):
    link = _signed_up(visitor)
    response = visitor.client.http.post(link, headers={**FORM, "User-Agent": "Clicker/2"})
    assert response.status_code == 200
    assert "bevestigd" in response.body.decode()
    contact = visitor.contact("uma@example.com")
    for purpose in ("newsletter", "offers"):
        assert contact["purposes"][purpose]["status"] == "granted"
        assert contact["purposes"][purpose]["basis"] == "consent"
    events = visitor.events("uma@example.com")
    confirmed = [e for e in events if e["type"] == "confirmed"]
    # One event names every purpose that signup granted (issue 16: one item, not one each).
    assert [e["purposes"] for e in confirmed] == [["newsletter", "offers"]]
    requested = [e for e in events if e["type"] == "signup_requested"]
    for event in confirmed:
        assert event["basis"] == "consent"
        assert event["evidence"]["user_agent"] == "Clicker/2"
        assert event["evidence"]["channel"] == "confirm_link"
        assert event["evidence"]["requested_at"] == requested[0]["at"]
        assert event["evidence"]["signup_id"] == requested[0]["evidence"]["signup_id"]


def test_the_confirmation_page_tells_of_the_right_to_object(visitor):
    link = _signed_up(visitor)
    body = visitor.client.http.post(link, headers=FORM).body.decode()
    assert "bezwaar te maken tegen profilering" in body


def test_confirming_twice_is_harmless(visitor):
    link = _signed_up(visitor)
    visitor.client.http.post(link, headers=FORM)
    events_before = visitor.events("uma@example.com")
    again = visitor.client.http.post(link, headers=FORM)
    assert again.status_code == 200
    assert "al bevestigd" in again.body.decode()
    assert visitor.events("uma@example.com") == events_before


def test_confirming_one_signup_does_not_grant_another(visitor):
    visitor.signup("vera@example.com", purposes=("newsletter",))
    visitor.run_mail_jobs()
    first = visitor.confirm_link("vera@example.com")
    visitor.signup("vera@example.com", purposes=("offers",))
    visitor.run_mail_jobs()
    visitor.client.http.post(first, headers=FORM)
    assert _statuses(visitor, "vera@example.com") == {"newsletter": "granted", "offers": "pending"}


def test_pending_addresses_are_never_in_an_audience(visitor):
    """LAW 7: only a confirmed purpose carries the audience index keys."""
    link = _signed_up(visitor, "wim@example.com", purposes=("newsletter",))

    assert visitor.audience_index("newsletter") == []
    visitor.client.http.post(link, headers=FORM)
    assert len(visitor.audience_index("newsletter")) == 1
    assert visitor.audience_index("offers") == []


def test_tampered_token_is_400_and_changes_nothing(visitor):
    link = _signed_up(visitor)
    before = visitor.items()
    tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    for method in ("GET", "POST"):
        response = visitor.client.http.request(method, tampered, headers=FORM if method == "POST" else {})
        assert response.status_code == 400
        assert "Ongeldige link" in response.body.decode()
    assert visitor.items() == before


def test_a_token_of_another_kind_or_key_is_refused_alike(visitor):
    link = _signed_up(visitor)
    payload = tokens.load("confirm", link.rsplit("/", 1)[1])
    other_kind = tokens.sign("manage", payload)
    foreign = URLSafeTimedSerializer("someone-elses-key", salt="consentry.confirm").dumps(payload)
    answers = [visitor.client.http.post(f"/confirm/{t}", headers=FORM) for t in (other_kind, foreign, "x")]
    assert {a.status_code for a in answers} == {400}
    assert len({a.body for a in answers}) == 1  # one uniform error
    assert _statuses(visitor, "uma@example.com") == {"newsletter": "pending", "offers": "pending"}


def test_expired_token_is_410_with_a_new_link_offered(visitor, monkeypatch):
    visitor.signup("xavi@example.com", lang="en")
    week_and_a_day_ago = __import__("time").time() - 8 * 86400
    monkeypatch.setattr(
        "itsdangerous.timed.TimestampSigner.get_timestamp", lambda self: int(week_and_a_day_ago)
    )
    visitor.run_mail_jobs()
    monkeypatch.undo()
    link = visitor.confirm_link("xavi@example.com")
    for method in ("GET", "POST"):
        response = visitor.client.http.request(method, link, headers=FORM if method == "POST" else {})
        assert response.status_code == 410
        body = response.body.decode()
        assert "expired" in body and 'href="../forms/newsletter?lang=en"' in body
    assert _statuses(visitor, "xavi@example.com") == {"newsletter": "pending", "offers": "pending"}


def test_a_signup_past_its_retention_cannot_be_confirmed(visitor):
    link = _signed_up(visitor, "yara@example.com")
    for item in visitor.items():
        if item["sk"].startswith("PENDING#"):
            visitor.ddb.update_item(
                TableName=visitor.resources["table"],
                Key={"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}},
                UpdateExpression="SET expires_at = :past",
                ExpressionAttributeValues={":past": {"N": "1000"}},
            )
    response = visitor.client.http.post(link, headers=FORM)
    assert response.status_code == 410
    assert not any(e["type"] == "confirmed" for e in visitor.events("yara@example.com"))


def test_link_pages_leak_nothing_onward(visitor):
    """LAW 14: token pages send no referrer and are not cached."""
    link = _signed_up(visitor)
    for response in (
        visitor.get(link),
        visitor.client.http.post(link, headers=FORM),
        visitor.get("/confirm/bad"),
    ):
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"


def test_tokens_are_signed_bound_to_kind_and_unguessable(aws):
    payload = {"s": "abc", "i": "1"}
    token = tokens.sign("confirm", payload)
    assert tokens.load("confirm", token) == payload
    with pytest.raises(tokens.TokenError):
        tokens.load("manage", token)
    assert tokens.sign("confirm", payload) != tokens.sign("confirm", {"s": "abd", "i": "1"})
    assert len(token.rsplit(".", 1)[1]) >= 27  # an HMAC-SHA1 signature at least
    assert json.dumps(payload) not in token
