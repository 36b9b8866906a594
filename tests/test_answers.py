"""The one error boundary (chalicelib/views/answers.py): each refusal has one answer, and
the answers that must leak nothing are the same whatever lies behind them."""

from __future__ import annotations

import importlib
import json

from itsdangerous import URLSafeTimedSerializer

from chalicelib import tokens
from chalicelib.views import answers

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_every_answered_error_is_a_real_exception_class():
    for name in answers.ANSWERS:
        module, _, cls = name.rpartition(".")
        found = getattr(importlib.import_module(module), cls)
        assert isinstance(found, type) and issubclass(found, Exception), name


def test_an_error_takes_the_answer_of_its_nearest_ancestor():
    from chalicelib.ledger import LedgerConflict, LedgerError, Refused

    assert answers.answer_for(LedgerConflict("s")) is answers.answer_for(Refused({"x": "ValidationError"}))
    assert answers.answer_for(tokens.TokenExpired({})) is not answers.answer_for(tokens.TokenError("x"))
    assert answers.answer_for(LedgerError("a bug")) is None  # not listed: a 500, never guessed
    assert answers.answer_for(KeyError("x")) is None


def test_every_kind_of_unusable_link_on_every_link_route_gets_one_identical_400(visitor):
    """LAW 15/22: a tampered token, one signed with another key, one of another kind, a
    garbage one, and a genuine one for somebody no longer on file: the same page, byte for
    byte, on every route that takes a token; nothing written."""
    visitor.subscribe("gone@example.com")
    manage = visitor.unsubscribe_path("gone@example.com").rsplit("/", 1)[1]
    assert visitor.api_delete("/api/contacts/gone@example.com").status_code == 200
    subject = visitor.subject("gone@example.com")
    foreign = URLSafeTimedSerializer("another-key", salt="consentry.manage").dumps({"s": subject, "p": None})
    other_kind = tokens.sign("cursor", {"s": subject})
    tampered = manage[:-2] + ("AA" if not manage.endswith("AA") else "BB")
    before = visitor.items()
    bodies = set()
    for token in (manage, foreign, other_kind, tampered, "x"):
        for method, route in (
            ("GET", "/unsubscribe/"),
            ("POST", "/unsubscribe/"),
            ("GET", "/confirm/"),
            ("POST", "/confirm/"),
            ("GET", "/requests/"),
            ("POST", "/requests/"),
        ):
            post = method == "POST"
            body = b"List-Unsubscribe=One-Click" if post and route == "/unsubscribe/" else b""
            response = visitor.client.http.request(
                method, route + token, headers=FORM if post else {}, body=body
            )
            assert response.status_code == 400, (method, route, token[:12])
            bodies.add(response.body)
    assert len(bodies) == 1
    assert visitor.items() == before


def test_a_capped_address_gets_the_answer_a_real_signup_gets(visitor):
    """LAW 11: the fourth signup of an address in a day sends nothing and stores nothing,
    and says so to nobody: page and JSON are those of an accepted signup."""
    fields = [("email", "capped@example.com"), ("purposes", "newsletter")]
    pages = [visitor.post_form("/forms/newsletter", fields) for _ in range(4)]
    jsons = [
        visitor.post_json("/forms/newsletter", {"email": f"{a}@example.com", "purposes": ["newsletter"]})
        for a in ("capped", "fresh")
    ]
    assert len({(p.status_code, p.body) for p in pages}) == 1 and pages[0].status_code == 200
    assert {(j.status_code, j.body) for j in jsons} == {(202, b'{"status": "pending"}')}
    assert len(visitor.run_mail_jobs()) == 4  # three for capped@ (its cap), one for fresh@


def test_known_and_unknown_addresses_get_the_same_202(visitor):
    visitor.subscribe("known@example.com")
    for post in (visitor.post_form, visitor.post_json):
        known, unknown = (
            post("/requests", {"email": e, "type": "access"}) for e in ("known@example.com", "x@y.nl")
        )
        assert known.status_code == unknown.status_code == 202
        assert (known.body, known.headers) == (unknown.body, unknown.headers)


def test_every_json_answer_carries_the_one_header_set(visitor):
    """Built in one place: API answers, refusals and a visitor's JSON signup alike."""
    key = {"Authorization": "Bearer test-api-key-123"}
    answered = [
        visitor.client.http.get("/api/contacts/nobody@example.com"),  # 401
        visitor.client.http.get("/api/contacts/nobody@example.com", headers=key),  # 404
        visitor.client.http.get("/api/contacts/not-an-address", headers=key),  # 422
        visitor.post_json("/forms/newsletter", {"email": "j@example.com", "purposes": ["newsletter"]}),  # 202
        visitor.post_json("/forms/newsletter", {"email": "j@example.com"}),  # 422
        visitor.post_json("/forms/nope", {}),  # 404
    ]
    assert [a.status_code for a in answered] == [401, 404, 422, 202, 422, 404]
    for response in answered:
        json.loads(response.body)
        for name, value in answers.JSON_HEADERS.items():
            assert response.headers[name] == value, (response.status_code, name)
