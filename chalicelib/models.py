"""Pydantic models of every input, and the one place validation errors get their wording.

Imported only by the routes that accept input: pydantic costs cold-start time that the
form page does not pay.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)

from chalicelib.catalogue import LANGUAGES

# Control characters, Unicode line/paragraph separators and bidi overrides: none belongs in
# an address or a name, and several can break a mail header or disguise text.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029\u202a-\u202e\u2066-\u2069]")
MAX_EMAIL = 254
MAX_NAME = 100


def normalise_email(value: Any) -> str:
    """A deliverable-looking single address, normalised; never a header injection."""
    if not isinstance(value, str):
        raise ValueError("must be a text value")
    value = value.strip()
    if not value:
        raise ValueError("is required")
    if len(value) > MAX_EMAIL:
        raise ValueError(f"may be at most {MAX_EMAIL} characters")
    if _CONTROL.search(value):
        raise ValueError("may not contain line breaks or control characters")
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"is not a valid email address ({exc})") from None
    if len(result.local_part) > 64:
        raise ValueError("may have at most 64 characters before the @ (RFC 5321)")
    return result.normalized


def _clean_name(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("must be a text value")
    value = value.strip()
    if _CONTROL.search(value):
        raise ValueError("may not contain line breaks or control characters")
    if "<" in value or ">" in value:
        raise ValueError("may not contain < or >")
    if len(value) > MAX_NAME:
        raise ValueError(f"may be at most {MAX_NAME} characters")
    return value or None


def _blank_to_none(value: Any) -> Any:
    return None if value == "" else value


def _unique_purposes(value: list[str]) -> list[str]:
    if not value:
        raise ValueError("tick at least one purpose")
    return list(dict.fromkeys(value))


Email = Annotated[str, BeforeValidator(normalise_email)]
Name = Annotated[str | None, BeforeValidator(_clean_name)]
Lang = Annotated[str | None, BeforeValidator(_blank_to_none), Field(pattern="^(nl|en)$")]
PurposeId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_-]+$")]


class SignupRequest(BaseModel):
    """A visitor's signup, from an HTML form or a JSON body."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    email: Email
    name: Name = None
    lang: Lang = None
    purposes: Annotated[list[PurposeId], Field(max_length=20), AfterValidator(_unique_purposes)]

    website: str | None = Field(default=None, max_length=200)
    """Honeypot: a field humans never see; bots fill it."""


class PreferencesRequest(BaseModel):
    """A post from the preferences page (form-encoded) or its JSON equivalent.

    It can only say no: purposes not kept are withdrawn, never the other way round.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    form: Literal["preferences"] | None = None
    """The page's purposes form sends this: its checkboxes were shown, so a purpose not
    listed was unticked (a browser sends nothing at all for an unticked box)."""
    purposes: Annotated[list[PurposeId], Field(max_length=20)] | None = None
    """The purposes kept."""
    profiling: Literal["object", "allow"] | None = None
    everything: bool = False

    def kept(self) -> list[str] | None:
        """The purposes to keep; None when the post says nothing about purposes."""
        if self.purposes is not None:
            return list(dict.fromkeys(self.purposes))
        return [] if self.form == "preferences" else None


PREFERENCE_FIELDS = frozenset(PreferencesRequest.model_fields)


class LinkRequest(BaseModel):
    """The sending system asks for a person's unsubscribe link and headers."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: Email
    purpose: Annotated[PurposeId | None, BeforeValidator(_blank_to_none)] = None


class AudienceQuery(BaseModel):
    """The query string of ``GET /api/audiences/{purpose}``."""

    model_config = ConfigDict(extra="forbid")

    limit: Annotated[int, Field(ge=1, le=1000)] = 100
    cursor: Annotated[str | None, Field(max_length=2048)] = None


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


__all__ = [
    "LANGUAGES",
    "PREFERENCE_FIELDS",
    "AudienceQuery",
    "LinkRequest",
    "PreferencesRequest",
    "SignupRequest",
    "ValidationError",
    "field_errors",
    "normalise_email",
]
