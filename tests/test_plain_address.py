"""The plain-address shortcut answers exactly as email-validator does: the address a person
gave is the one stored and mailed, and a bad one is refused with email-validator's reason.

models.normalise_email skips email-validator's import for plain ASCII addresses (a cold
start's saving, docs/operations.md). Over tens of thousands of addresses, made to sit on
every edge the shortcut draws (role names, Punycode and ``ab--`` labels, 63 and 64 character
labels, special-use and numeric top-level domains, quotes, brackets, dots in odd places,
letters outside ASCII), both must accept the same addresses with the same normalised form
and refuse the same ones with the same reason.
"""

from __future__ import annotations

import random

import email_validator
import pytest
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.models import MAX_EMAIL, normalise_email
from chalicelib.plain_address import ROLE_NAMES, SPECIAL_USE, plain_address

ATEXT = "abcxyzABCXYZ0189_!#$%&'*+-/=?^`{|}~"
ODD = ' "(),:;<>@[\\]é\u00a0ü'
LOCALS = [
    "ada",
    "Ada.Lovelace",
    "info",
    "INFO",
    "Postmaster",
    "www",
    "a" * 64,
    "a" * 65,
    ".ada",
    "ada.",
    "a..b",
    '"ada"',
    '"a b"',
    "a b",
    "jösé",
    "",
    "ada+tag",
    "o'neil",
    "x" * 63 + ".",
]
LABELS = [  # the first seven are ordinary
    "example",
    "EXAMPLE",
    "Example",
    "mail-1",
    "a",
    "1",
    "a" * 63,
    "-bad",
    "bad-",
    "123",
    "xn--bcher-kva",
    "XN--BCHER-KVA",
    "xn--zz",
    "ab--cd",
    "a--b",
    "a" * 64,
    "bücher",
    "b_c",
    "",
]
TLDS = ["com", "DE", "nl", "co", "x"]  # ordinary
TLDS += ["arpa", "invalid", "local", "localhost", "onion", "test", "TEST", "123", "c0m", "1a", "xn--p1ai"]


def email_validators(value: str) -> str:
    """email-validator itself, as models.py calls it."""
    ascii_email = validate_email(value, check_deliverability=False, allow_smtputf8=False).ascii_email
    assert ascii_email is not None  # SMTPUTF8 is refused, so every address it accepts has one
    return ascii_email


def reference(value: str) -> str:
    """email-validator with models.py's own limits (64 before the @, 254 in all)."""
    ascii_email = email_validators(value)
    if len(ascii_email.rpartition("@")[0]) > 64 or len(ascii_email) > MAX_EMAIL:
        raise EmailNotValidError("over models.py's limits")
    return ascii_email


def outcome(check, value: str) -> tuple[str, str]:
    try:
        return "accepted", check(value)
    except (ValueError, EmailNotValidError) as exc:
        return "refused", str(exc)


def _random_local(rng: random.Random) -> str:
    if rng.random() < 0.4:
        return rng.choice(LOCALS)
    if rng.random() < 0.5:
        atoms = (
            "".join(rng.choice(ATEXT) for _ in range(rng.randint(1, 8))) for _ in range(rng.randint(1, 3))
        )
        return ".".join(atoms)
    alphabet = ATEXT + "." * 4 + (ODD if rng.random() < 0.2 else "")
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 20)))


def _random_domain(rng: random.Random) -> str:
    if rng.random() < 0.5:  # an ordinary domain, which the shortcut should take
        labels = [rng.choice(LABELS[:7]) for _ in range(rng.randint(1, 3))]
        return ".".join([*labels, rng.choice(TLDS[:5])])
    labels = [rng.choice(LABELS) for _ in range(rng.randint(0, 3))]
    if rng.random() < 0.1:
        labels.append("".join(rng.choice("abcXYZ019-.") for _ in range(rng.randint(1, 12))))
    domain = ".".join([*labels, rng.choice(TLDS)])
    if rng.random() < 0.05:
        domain = rng.choice(["", ".", "[127.0.0.1]"]) + domain + rng.choice(["", ".", ".."])
    return domain


def corpus(n: int, seed: int = 16) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        address = f"{_random_local(rng)}@{_random_domain(rng)}"
        if rng.random() < 0.02:
            address = address.replace("@", rng.choice(["@@", "", "@x@"]), 1)
        out.append(address)
    return out


def test_the_shortcut_answers_as_email_validator_over_a_large_corpus():
    """LAW 12: an address is accepted, stored and refused as email-validator would."""
    addresses = corpus(20_000)
    fast = refused = 0
    for value in addresses:
        plain = plain_address(value)
        if plain is not None:
            fast += 1
            assert outcome(email_validators, value) == ("accepted", plain), value
        expected = outcome(reference, value)
        if expected[0] == "refused":
            refused += 1
        if len(value) <= MAX_EMAIL and value.rpartition("@")[0].isascii() and value == value.strip():
            got = outcome(normalise_email, value)
            assert got[0] == expected[0], value
            if got[0] == "accepted":
                assert got[1] == expected[1], value
    # the corpus reaches both sides of every edge: plenty taken by the shortcut, plenty refused
    assert fast > 4_000 and refused > 4_000, (fast, refused)


@settings(max_examples=2_000, deadline=None)
@given(
    local=st.one_of(st.sampled_from(LOCALS), st.text(alphabet=ATEXT + "..." + ODD, min_size=0, max_size=70)),
    labels=st.lists(
        st.one_of(st.sampled_from(LABELS), st.text(alphabet="aZ09-_.ü", max_size=66)), max_size=3
    ),
    tld=st.one_of(st.sampled_from(TLDS), st.text(alphabet="aZ09-", min_size=0, max_size=5)),
)
def test_the_shortcut_never_disagrees_with_email_validator(local, labels, tld):
    value = f"{local}@{'.'.join([*labels, tld])}"
    plain = plain_address(value)
    if plain is not None:
        assert outcome(email_validators, value) == ("accepted", plain)


@pytest.mark.parametrize(
    ("given_address", "stored"),
    [
        ("Ada@Example.COM", "Ada@example.com"),
        ("INFO@Example.com", "info@example.com"),
        ("a.b+c@mail-1.example.co", "a.b+c@mail-1.example.co"),
        ("anna@xn--bcher-kva.de", "anna@xn--bcher-kva.de"),  # email-validator's (Punycode)
        ("anna@bücher.de", "anna@xn--bcher-kva.de"),
    ],
)
def test_an_address_is_stored_in_email_validators_form(given_address, stored):
    assert normalise_email(given_address) == stored


@pytest.mark.parametrize("address", ["ada@example.test", "ada@x.localhost", "ab--c@ab--cd.com", '"a"@b.com'])
def test_what_email_validator_refuses_is_refused_with_its_reason(address):
    """LAW 12: what the shortcut does not take, email-validator judges and words."""
    with pytest.raises(ValueError, match="is not a valid email address"):
        normalise_email(address)


def test_the_shortcuts_lists_are_email_validators():
    """A new email-validator release that changes these lists must change the shortcut too."""
    assert list(SPECIAL_USE) == email_validator.SPECIAL_USE_DOMAIN_NAMES
    assert set(CASE_INSENSITIVE_MAILBOX_NAMES) == ROLE_NAMES
