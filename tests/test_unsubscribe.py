"""GET and POST /unsubscribe/{token}: the page changes nothing, one click withdraws at once.

LAW 15 (links keep working), 17 (RFC 8058 one-click), 18 (as easy as agreeing), 19 (out of
every audience at once), 22 (a suppression marker without an address).
"""

from __future__ import annotations

import re
import time

import pytest
from itsdangerous import URLSafeTimedSerializer

from chalicelib import tokens

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
MULTIPART = "multipart/form-data; boundary=XyZ"


def _multipart(value: str) -> bytes:
    return (
        b'--XyZ\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
        + value.encode()
        + b"\r\n--XyZ--\r\n"
    )


def _statuses(visitor, email):
    return {p: s["status"] for p, s in visitor.contact(email)["purposes"].items()}


def _emails(visitor, purpose):
    return [c["email"] for c in visitor.audience(purpose)]


def _events(visitor, email, kind):
    return [e for e in visitor.events(email) if e["type"] == kind]


def test_get_shows_the_preferences_page_and_changes_nothing(visitor):
    """LAW 17: a GET on the unsubscribe URL withdraws nothing (scanners prefetch links)."""
    visitor.subscribed("ada@example.com")
    path = visitor.unsubscribe_path("ada@example.com")
    before = visitor.items()
    response = visitor.get(path)
    assert response.status_code == 200
    assert visitor.items() == before
    assert _statuses(visitor, "ada@example.com") == {"newsletter": "granted", "offers": "granted"}
    body = response.body.decode()
    assert '<html lang="nl">' in body
    leave = re.findall(r'<input type="hidden" name="leave" value="(\w+)">', body)
    assert leave == ["newsletter", "offers"]  # one button per purpose, to leave just that one
    assert 'name="everything" value="1"' in body
    assert 'name="profiling" value="object"' in body
    assert "recht bezwaar te maken tegen profilering" in body
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers


def test_the_page_speaks_the_persons_language_and_shows_each_state(visitor):
    visitor.subscribed("ben@example.com", purposes=("newsletter",), lang="en")
    body = visitor.get(visitor.unsubscribe_path("ben@example.com")).body.decode()
    assert '<html lang="en">' in body and "Your email preferences" in body
    assert 'data-state="granted"' in body and 'data-state="none"' in body
    assert re.findall(r'name="leave" value="(\w+)"', body) == ["newsletter"]  # offers: never asked
    assert 'aria-label="Unsubscribe from Newsletter"' in body
    assert "right to object" in body


def test_one_click_without_cookies_withdraws_everything_and_answers_200(visitor):
    """LAW 17, 18, 19, 22: no cookie, no login, no redirect; out of every audience at once."""
    visitor.subscribed("cas@example.com")
    visitor.subscribed("dex@example.com")
    path = visitor.unsubscribe_path("cas@example.com")
    response = visitor.one_click(path, headers={"User-Agent": "GoogleOneClick/1.0"})
    assert response.status_code == 200
    assert "Location" not in response.headers and "Set-Cookie" not in response.headers
    assert "U bent afgemeld" in response.body.decode()
    assert _statuses(visitor, "cas@example.com") == {"newsletter": "withdrawn", "offers": "withdrawn"}
    assert _emails(visitor, "newsletter") == ["dex@example.com"]
    assert _emails(visitor, "offers") == ["dex@example.com"]
    withdrawn = _events(visitor, "cas@example.com", "withdrawn")
    assert sorted(e["purpose"] for e in withdrawn) == ["newsletter", "offers"]
    for event in withdrawn:
        assert event["evidence"]["channel"] == "one_click"
        assert event["evidence"]["ip"] == "127.0.0.1"
        assert event["evidence"]["user_agent"] == "GoogleOneClick/1.0"
        assert event["evidence"]["previous"] == "granted"
    contact = visitor.contact("cas@example.com")
    assert contact["suppressed"] is True
    (marker,) = [i for i in visitor.items() if i["pk"].startswith("SUPPRESS#")]
    assert marker["reason"] == "unsubscribed"
    assert "cas" not in str(marker)  # a keyed hash, a reason and a date: no address


def test_a_purpose_bound_link_leaves_the_other_purpose_granted(visitor):
    visitor.subscribed("eli@example.com")
    response = visitor.one_click(visitor.unsubscribe_path("eli@example.com", "offers"))
    assert response.status_code == 200
    assert "Aanbiedingen" in response.body.decode()
    assert _statuses(visitor, "eli@example.com") == {"newsletter": "granted", "offers": "withdrawn"}
    assert _emails(visitor, "offers") == []
    assert _emails(visitor, "newsletter") == ["eli@example.com"]
    assert visitor.contact("eli@example.com")["suppressed"] is False


def test_one_click_again_is_harmless(visitor):
    visitor.subscribed("fay@example.com")
    path = visitor.unsubscribe_path("fay@example.com")
    visitor.one_click(path)
    events, items = visitor.events("fay@example.com"), visitor.items()
    again = visitor.one_click(path)
    assert again.status_code == 200
    assert "al afgemeld" in again.body.decode()
    assert visitor.events("fay@example.com") == events
    assert visitor.items() == items


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"List-Unsubscribe=One-Click\r\n"),
        ("text/plain", b"List-Unsubscribe=One-Click"),
        (MULTIPART, _multipart("One-Click")),
    ],
)
def test_one_click_in_every_encoding_a_provider_may_use(visitor, content_type, body):
    visitor.subscribed("gus@example.com")
    path = visitor.unsubscribe_path("gus@example.com", "newsletter")
    response = visitor.client.http.post(path, headers={"Content-Type": content_type}, body=body)
    assert response.status_code == 200, response.body
    assert _statuses(visitor, "gus@example.com") == {"newsletter": "withdrawn", "offers": "granted"}


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"List-Unsubscribe=Something-Else"),
        ("application/x-www-form-urlencoded", b""),
        ("text/plain", b"unsubscribe me"),
        ("application/json", b'{"List-Unsubscribe": "One-Click"}'),
        (MULTIPART, _multipart("Two-Clicks")),
    ],
)
def test_another_body_is_refused_and_withdraws_nothing(visitor, content_type, body):
    """A one-click POST with another body is never a withdrawal of something not asked."""
    visitor.subscribed("hal@example.com")
    path = visitor.unsubscribe_path("hal@example.com")
    before = visitor.items()
    response = visitor.client.http.post(path, headers={"Content-Type": content_type}, body=body)
    assert response.status_code == 400
    assert visitor.items() == before


def test_wrong_content_type_is_415_and_changes_nothing(visitor):
    visitor.subscribed("ida@example.com")
    path = visitor.unsubscribe_path("ida@example.com")
    before = visitor.items()
    response = visitor.client.http.post(path, headers={"Content-Type": "text/xml"}, body=b"<x/>")
    assert response.status_code == 415
    assert visitor.items() == before


def test_tampered_foreign_and_other_kind_tokens_get_one_uniform_400(visitor):
    """LAW 14: a confirm token cannot unsubscribe, a manage token cannot confirm."""
    visitor.signup("jan@example.com")
    visitor.run_mail_jobs()
    confirm_link = visitor.confirm_link("jan@example.com")
    manage = visitor.unsubscribe_path("jan@example.com").rsplit("/", 1)[1]
    payload = tokens.load("manage", manage)
    foreign = URLSafeTimedSerializer("someone-elses-key", salt="consentry.manage").dumps(payload)
    tampered = manage[:-3] + ("AAA" if not manage.endswith("AAA") else "BBB")
    confirm_token = confirm_link.rsplit("/", 1)[1]
    before = visitor.items()
    answers = []
    for token in (confirm_token, foreign, tampered, "x", tokens.sign("cursor", payload)):
        answers.append(visitor.get(f"/unsubscribe/{token}"))
        answers.append(visitor.one_click(f"/unsubscribe/{token}"))
    answers.append(visitor.client.http.post(f"/confirm/{manage}", headers=FORM))
    assert {a.status_code for a in answers} == {400}
    assert len({a.body for a in answers}) == 1
    assert visitor.items() == before


def test_a_manage_token_for_nobody_on_file_gets_the_same_400(visitor):
    visitor.subscribed("kai@example.com")
    bad = visitor.get("/unsubscribe/x")
    nobody = tokens.sign("manage", {"s": "0" * 40, "p": None})
    for response in (visitor.get(f"/unsubscribe/{nobody}"), visitor.one_click(f"/unsubscribe/{nobody}")):
        assert response.status_code == 400
        assert response.body == bad.body
    assert not [i for i in visitor.items() if i["pk"] == "S#" + "0" * 40]


def test_unsubscribe_links_never_expire_while_the_person_is_on_file(visitor, monkeypatch):
    """LAW 15: at least 30 days after the mail; here a link minted 400 days ago."""
    visitor.subscribed("lea@example.com")
    long_ago = time.time() - 400 * 86400
    monkeypatch.setattr("itsdangerous.timed.TimestampSigner.get_timestamp", lambda self: int(long_ago))
    path = visitor.unsubscribe_path("lea@example.com", "newsletter")
    monkeypatch.undo()
    assert visitor.get(path).status_code == 200
    assert visitor.one_click(path).status_code == 200
    assert _statuses(visitor, "lea@example.com")["newsletter"] == "withdrawn"


def test_withdrawing_a_pending_signup_stops_it(visitor):
    visitor.signup("mo@example.com")
    visitor.run_mail_jobs()
    confirm_link = visitor.confirm_link("mo@example.com")
    assert visitor.one_click(visitor.unsubscribe_path("mo@example.com")).status_code == 200
    assert _statuses(visitor, "mo@example.com") == {"newsletter": "withdrawn", "offers": "withdrawn"}
    withdrawn = _events(visitor, "mo@example.com", "withdrawn")
    assert {e["evidence"]["previous"] for e in withdrawn} == {"pending"}
    assert not [i for i in visitor.items() if i["sk"].startswith("PENDING#")]
    assert visitor.client.http.post(confirm_link, headers=FORM).status_code == 410
    # Never confirmed: what the withdrawal wrote expires with the person (LAW 10).
    person = [i for i in visitor.items() if i["pk"].startswith("S#")]
    assert person and all(str(i.get("expires_at", "")).isdigit() for i in person), person


def test_withdrawing_one_purpose_of_a_pending_signup_keeps_the_other_pending(visitor):
    visitor.signup("nel@example.com")
    visitor.one_click(visitor.unsubscribe_path("nel@example.com", "offers"))
    assert _statuses(visitor, "nel@example.com") == {"newsletter": "pending", "offers": "withdrawn"}
    (pending,) = [i for i in visitor.items() if i["sk"].startswith("PENDING#")]
    assert pending["purposes"] == ["newsletter"]


def test_signing_up_again_after_unsubscribing_lifts_the_marker(visitor):
    """A confirmed double opt-in is a new yes: the person is back in the audience."""
    visitor.subscribed("oz@example.com", purposes=("newsletter",))
    visitor.one_click(visitor.unsubscribe_path("oz@example.com"))
    assert visitor.contact("oz@example.com")["suppressed"] is True
    visitor.subscribed("oz@example.com", purposes=("newsletter",))
    assert visitor.contact("oz@example.com")["suppressed"] is False
    assert _emails(visitor, "newsletter") == ["oz@example.com"]
