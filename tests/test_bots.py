"""LAW 11: bot defences beyond the honeypot, per form: a signed render time and a bot
challenge verified server-side (here against a fake verifier on loopback)."""

from __future__ import annotations

import json
import re
import time

import boto3
import pytest

from chalicelib import keys, tokens
from tests.siteverify import serve, verifier_for

SECRET = "challenge-secret-for-tests"


_FakeVerifier = verifier_for(SECRET)


@pytest.fixture
def verifier(visitor, monkeypatch):
    """A fake siteverify on loopback, and the stage secret holding the challenge secret."""
    server = serve(_FakeVerifier)
    monkeypatch.setenv("CONSENTRY_CHALLENGE_VERIFY_URL", f"http://127.0.0.1:{server.server_port}/siteverify")
    sm = boto3.client("secretsmanager", region_name="eu-west-1")
    secret_id = visitor.resources["secret_id"]
    value = json.loads(sm.get_secret_value(SecretId=secret_id)["SecretString"])
    sm.put_secret_value(SecretId=secret_id, SecretString=json.dumps({**value, "challenge_secret": SECRET}))
    keys.clear_cache()
    _FakeVerifier.seen = []
    yield server
    server.shutdown()
    server.server_close()


def _stamp(visitor) -> str:
    page = visitor.get("/forms/shop").body.decode()
    return re.search(r'name="rendered" value="([^"]+)"', page).group(1)


def _post(visitor, email, **fields):
    return visitor.post_form("/forms/shop", [("email", email), ("purposes", "offers"), *fields.items()])


def _stored(visitor, email) -> bool:
    return visitor.api(f"/api/contacts/{email}").status_code == 200


def test_only_a_form_that_asks_for_them_carries_the_defences(visitor):
    shop = visitor.get("/forms/shop")
    body = shop.body.decode()
    assert 'name="rendered"' in body and 'class="cf-turnstile"' in body
    assert 'src="https://challenges.cloudflare.com/turnstile/v0/api.js"' in body
    assert "script-src https://challenges.cloudflare.com" in shop.headers["Content-Security-Policy"]
    newsletter = visitor.get("/forms/newsletter")
    assert "rendered" not in newsletter.body.decode() and "<script" not in newsletter.body.decode()
    assert "script-src" not in newsletter.headers["Content-Security-Policy"]


def test_a_form_posted_faster_than_a_person_could_is_dropped_silently(visitor, verifier):
    stamp = _stamp(visitor)
    quick = _post(visitor, "quick@example.com", rendered=stamp, **{"cf-turnstile-response": "pass"})
    assert quick.status_code == 200 and "Kijk in uw inbox" in quick.body.decode()
    assert not _stored(visitor, "quick@example.com")
    assert visitor.queued() == []


def test_a_person_who_took_their_time_gets_through(visitor, verifier):
    stamp = tokens.sign("render", {"f": "shop", "t": int(time.time()) - 10})
    _post(visitor, "patient@example.com", rendered=stamp, **{"cf-turnstile-response": "pass"})
    assert _stored(visitor, "patient@example.com")
    (call,) = _FakeVerifier.seen
    assert call["response"] == ["pass"] and call["remoteip"] == ["127.0.0.1"]


def test_a_post_without_the_render_field_still_works_like_a_customers_own_form(visitor, verifier):
    _post(visitor, "ownform@example.com", **{"cf-turnstile-response": "pass"})
    assert _stored(visitor, "ownform@example.com")


@pytest.mark.parametrize("stamp", ["forged.token.value", "other-form", "not-int"])
def test_a_forged_or_foreign_stamp_is_dropped_silently(visitor, verifier, stamp):
    if stamp == "other-form":
        stamp = tokens.sign("render", {"f": "newsletter", "t": int(time.time()) - 60})
    elif stamp == "not-int":
        stamp = tokens.sign("render", {"f": "shop", "t": "yesterday"})
    response = _post(visitor, "forged@example.com", rendered=stamp, **{"cf-turnstile-response": "pass"})
    assert response.status_code == 200
    assert not _stored(visitor, "forged@example.com")


def test_a_failed_challenge_is_422_naming_it_and_stores_nothing(visitor, verifier):
    for answer in ("fail", ""):
        response = _post(visitor, "bot@example.com", **{"cf-turnstile-response": answer})
        assert response.status_code == 422
        assert 'id="challenge-error"' in response.body.decode()
    as_json = visitor.post_json("/forms/shop", {"email": "bot@example.com", "purposes": ["offers"]})
    assert as_json.status_code == 422 and "challenge" in json.loads(as_json.body)["errors"]
    assert not _stored(visitor, "bot@example.com")


def test_an_unreachable_verifier_is_503_and_stores_nothing(visitor, verifier):
    verifier.shutdown()
    verifier.server_close()
    response = _post(visitor, "later@example.com", **{"cf-turnstile-response": "pass"})
    assert response.status_code == 503
    assert not _stored(visitor, "later@example.com")


def test_a_form_left_open_for_more_than_a_day_is_shown_again_with_a_fresh_stamp(
    visitor, verifier, monkeypatch
):
    """A genuine stamp past its day is a person who left the tab open, not a bot: it was
    dropped silently before (LAW 11 keeps the silence for forged and too-young stamps)."""
    two_days_ago = time.time() - 2 * 86400
    with monkeypatch.context() as patched:
        patched.setattr("itsdangerous.timed.TimestampSigner.get_timestamp", lambda self: int(two_days_ago))
        old = _stamp(visitor)
    page = visitor.post_form(
        "/forms/shop?lang=en",
        [("email", "slow@example.com"), ("name", "Sam"), ("purposes", "offers"), ("rendered", old),
         ("cf-turnstile-response", "pass")],
    )  # fmt: skip
    assert page.status_code == 422
    body = page.body.decode()
    assert "This form was open for more than a day" in body
    assert 'value="slow@example.com"' in body and 'value="Sam"' in body  # the input is kept
    fresh = re.search(r'name="rendered" value="([^"]+)"', body).group(1)
    assert fresh != old and tokens.load("render", fresh, max_age=60)["f"] == "shop"
    dutch = visitor.post_form(
        "/forms/shop", [("email", "slow@example.com"), ("purposes", "offers"), ("rendered", old)]
    )
    assert dutch.status_code == 422 and "langer dan een dag open" in dutch.body.decode()
    as_json = visitor.post_json(
        "/forms/shop", {"email": "slow@example.com", "purposes": ["offers"], "rendered": old}
    )
    assert as_json.status_code == 422 and "rendered" in json.loads(as_json.body)["errors"]
    assert not _stored(visitor, "slow@example.com") and visitor.queued() == []
