"""The plain checks of input fields and the wording of their errors: no pydantic here.

The pydantic models (chalicelib/models.py) call these checks, and so does the signup's own
validator (chalicelib/signup_validator.py), which runs on pydantic_core alone: importing
pydantic costs a cold signup about a fifth of its budget (docs/operations.md, Performance).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalicelib import catalogue
from chalicelib.plain_address import plain_address

if TYPE_CHECKING:
    from pydantic_core import ValidationError

# Control characters, Unicode line/paragraph separators and bidi overrides: none belongs in
# an address or a name, and several can break a mail header or disguise text.
CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029\u202a-\u202e\u2066-\u2069]")
MAX_EMAIL = 254
MAX_NAME = 100
MAX_LANG = 8
# A web address, a domain name or an email address: mail clients turn them into links, and a
# confirmed name is shown in mail (LAW 12). Matched after NFKC, which folds full-width letters
# and dots to ASCII; the ideographic full stop is a dot to IDNA too.
_LINK_LIKE = re.compile(r"://|www[.\u3002]|@|[^\W_][.\u3002][^\W\d_]{2,}", re.IGNORECASE)
NAME_WITH_LINK = "may not contain a web address, a domain name or an email address"


LOCAL_PART_NOT_ASCII = (
    "may have only ASCII characters before the @: our mail service (Amazon SES) cannot deliver"
    " to a mailbox name with accented or other non-ASCII letters"
)


def normalise_email(value: Any) -> str:
    """The one form of an address that every route stores, looks up and mails.

    A single address, never a header injection, and one the mail worker can send to: an
    internationalised domain in its ASCII (IDNA) form, so ``anna@bücher.de`` and
    ``anna@xn--bcher-kva.de`` are one address (one subject: the same mailbox). A local part
    with other than ASCII characters needs SMTPUTF8, which SES does not offer: refused here,
    not five failed mail jobs later.
    """
    if not isinstance(value, str):
        raise ValueError("must be a text value")
    value = value.strip()
    if not value:
        raise ValueError("is required")
    if len(value) > MAX_EMAIL:
        raise ValueError(f"may be at most {MAX_EMAIL} characters")
    if CONTROL.search(value):
        raise ValueError("may not contain line breaks or control characters")
    local, _, _domain = value.rpartition("@")
    if not local.isascii():
        raise ValueError(LOCAL_PART_NOT_ASCII)
    if len(local) <= 64 and (plain := plain_address(value)) is not None:
        return plain  # what email-validator would answer, without its import (cold start)
    return _judged_by_email_validator(value)


def _judged_by_email_validator(value: str) -> str:
    """email-validator's verdict and ASCII form: every address that is not plain ASCII,
    and the wording of every refusal."""
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise ValueError(f"is not a valid email address ({exc})") from None
    if len(result.local_part) > 64:
        raise ValueError("may have at most 64 characters before the @ (RFC 5321)")
    if result.ascii_email is None or len(result.ascii_email) > MAX_EMAIL:
        raise ValueError(f"may be at most {MAX_EMAIL} characters in its ASCII form")
    return result.ascii_email


def mailbox(email: str) -> str:
    """The mailbox behind a normalised address, for the mail cap only: lower-cased, a
    ``+tag`` removed (``Dave+1@`` and ``dave+2@`` reach one inbox). Never a subject: the
    ledger keeps each address as it was given."""
    local, _, domain = email.lower().rpartition("@")
    base = local.split("+", 1)[0]
    return f"{base or local}@{domain}"


def clean_name(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("must be a text value")
    value = value.strip()
    if CONTROL.search(value):
        raise ValueError("may not contain line breaks or control characters")
    if "<" in value or ">" in value:
        raise ValueError("may not contain < or >")
    if _LINK_LIKE.search(unicodedata.normalize("NFKC", value)):
        raise ValueError(NAME_WITH_LINK)
    if len(value) > MAX_NAME:
        raise ValueError(f"may be at most {MAX_NAME} characters")
    return value or None


def blank_to_none(value: Any) -> Any:
    return None if value == "" else value


def spoken(value: str | None) -> str | None:
    """A language the catalogue lists (``[languages]``): languages are data, not code."""
    if value is not None and value not in catalogue.load().languages:
        raise ValueError(f"must be one of {', '.join(catalogue.load().languages)}")
    return value


def unique_purposes(empty: str) -> Callable[[list[str]], list[str]]:
    """At least one purpose (``empty`` says so otherwise), each once, in the order given."""

    def check(value: list[str]) -> list[str]:
        if not value:
            raise ValueError(empty)
        return list(dict.fromkeys(value))

    return check


def field_errors(exc: ValidationError) -> dict[str, str]:
    """One readable reason per field, for the 422 answer and the form page."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        loc = error.get("loc") or ("body",)
        field = str(loc[0])
        message = str(error.get("msg", "is invalid"))
        message = message.removeprefix("Value error, ")
        if error.get("type") == "missing":
            message = "is required" if field != "purposes" else "tick at least one purpose"
        errors.setdefault(field, message)
    return errors
