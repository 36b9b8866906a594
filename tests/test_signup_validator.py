"""The signup route's pydantic_core validator answers exactly as the SignupRequest model.

The route validates with chalicelib/signup_validator.py (no pydantic: a cold start's
saving, docs/operations.md); models.SignupRequest is the described contract. Over generated
bodies (valid ones, every field wrong in its own ways, fields missing, wrong types, long
strings, names holding links, domains or an @, IDN and ASCII addresses, unknown fields)
both must accept the same bodies with the same values, and refuse the same ones with the
same errors: the same 422 body (fields.field_errors) a visitor sees.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chalicelib.fields import field_errors
from chalicelib.models import SignupRequest, ValidationError
from chalicelib.signup_validator import validate_signup

ADDRESSES = [
    "ada@example.com",
    " Ada.Lovelace@Example.COM ",
    "Info@example.org",
    "anna@bücher.de",
    "anna@xn--bcher-kva.de",
    "jösé@example.com",
    "a@b",
    "not an address",
    "two@@example.com",
    "ada@example.com\n",
    "ada@exa\u2028mple.com",
    "a" * 65 + "@example.com",
    "a@" + "b" * 250 + ".com",
    "ada@例え.jp",
    "ada@localhost",
    "",
    "   ",
]
NAMES = [
    "Ada",
    " Ada Lovelace ",
    "",
    "see www.example.com",
    "https://evil.example",
    "ada@example.com",
    "example.com",
    "ｅｘａｍｐｌｅ．ｃｏｍ",
    "Dr. A. B",
    "<b>Ada</b>",
    "Ada\r\nBcc: x",
    "x" * 101,
    "x" * 100,
    "Zoë",
]
PURPOSES = ["newsletter", "offers", "events", "a", "Newsletter", "", "x" * 65, "x" * 64, "a b", "ä"]
WEBSITES = [None, "", "x" * 200, "x" * 201, " " + "x" * 200 + " ", "http://spam.example"]
LANGS = ["nl", "en", "de", "fr", "", " en ", "EN", "x" * 8, "x" * 9]
FIELDS = ["email", "name", "lang", "purposes", "website"]

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=300),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
values = {
    "email": st.one_of(st.sampled_from(ADDRESSES), st.emails(), junk),
    "name": st.one_of(st.sampled_from(NAMES), st.none(), junk),
    "lang": st.one_of(st.sampled_from(LANGS), st.none(), junk),
    "purposes": st.one_of(
        st.lists(st.sampled_from(PURPOSES), max_size=22),
        st.lists(st.one_of(st.sampled_from(PURPOSES), junk), max_size=4),
        junk,
    ),
    "website": st.one_of(st.sampled_from(WEBSITES), st.text(max_size=210), junk),
}


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A body with each field present or not (mostly present), plus unknown fields."""
    body: dict[str, Any] = {}
    for field in FIELDS:
        if draw(st.integers(0, 4)):
            body[field] = draw(values[field])
    body.update(
        draw(st.dictionaries(st.text(max_size=8).filter(lambda k: k not in FIELDS), junk, max_size=2))
    )
    return body


def outcome(check: Any, body: dict[str, Any]) -> tuple[str, Any]:
    try:
        valid = check(body)
    except ValidationError as exc:
        raw = [(e["type"], e["loc"], e["msg"]) for e in exc.errors(include_url=False)]
        return "refused", (field_errors(exc), raw)
    fields = dataclasses.asdict(valid) if dataclasses.is_dataclass(valid) else valid.model_dump()
    return "accepted", fields


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies())
@example({"email": "ada@example.com", "purposes": ["newsletter", "newsletter"], "name": " Ada "})
@example({"email": "anna@bücher.de", "purposes": ["offers"], "lang": "", "extra": 1})
@example({"email": "ada@example.com", "purposes": ["newsletter"], "lang": None})
@example({"email": "ada@example.com", "purposes": [], "lang": "x" * 9, "website": 5})
@example({})
def test_the_route_validator_and_the_model_give_the_same_answer(body):
    assert outcome(validate_signup, body) == outcome(SignupRequest.model_validate, body)


def test_a_valid_body_is_normalised_the_same_way():
    """Not only equal: the values a signup stores (the address in its ASCII form, the name
    trimmed, each purpose once)."""
    body = {"email": " Anna@Bücher.de ", "name": " Anna ", "purposes": ["offers", "offers"], "x": 1}
    signup = validate_signup(body)
    assert (signup.email, signup.name, signup.purposes) == ("Anna@xn--bcher-kva.de", "Anna", ["offers"])
    assert outcome(validate_signup, body) == outcome(SignupRequest.model_validate, body)


def test_a_blank_or_absent_language_is_no_language():
    """A form may send lang="" or a JSON body null: no language, not a crash (both once
    asked the length limit of None)."""
    for lang in ("", None):
        body = {"email": "ada@example.com", "purposes": ["newsletter"], "lang": lang}
        assert validate_signup(body).lang is None
        assert SignupRequest.model_validate(body).lang is None
