"""Pydantic models of every input: the described contract of each body.

Imported only by the routes that accept input: pydantic costs cold-start time that the
form page does not pay. The checks and the wording of errors are chalicelib/fields.py's; the
signup route validates with chalicelib/signup_validator.py, which mirrors SignupRequest on
pydantic_core alone (tests/test_signup_validator.py holds the two to the same answers).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
)

from chalicelib.fields import (
    CONTROL,
    LOCAL_PART_NOT_ASCII,
    MAX_EMAIL,
    MAX_LANG,
    MAX_NAME,
    NAME_WITH_LINK,
    blank_to_none,
    clean_name,
    field_errors,
    mailbox,
    normalise_email,
    spoken,
    unique_purposes,
)

Email = Annotated[str, BeforeValidator(normalise_email)]
Name = Annotated[str | None, BeforeValidator(clean_name)]
# The length limit on the text itself: on the optional value it would be asked of None too.
Lang = Annotated[
    Annotated[str, Field(max_length=MAX_LANG)] | None,
    BeforeValidator(blank_to_none),
    AfterValidator(spoken),
]
PurposeId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_-]+$")]


class SignupRequest(BaseModel):
    """A visitor's signup, from an HTML form or a JSON body."""

    model_config = ConfigDict(defer_build=True, extra="ignore", str_strip_whitespace=True)

    email: Email
    name: Name = None
    lang: Lang = None
    purposes: Annotated[
        list[PurposeId], Field(max_length=20), AfterValidator(unique_purposes("tick at least one purpose"))
    ]

    website: str | None = Field(default=None, max_length=200)
    """Honeypot: a field humans never see; bots fill it."""


class PreferencesRequest(BaseModel):
    """A post from the preferences page (form-encoded) or its JSON equivalent.

    It can only say no: purposes not kept are withdrawn, never the other way round.
    """

    model_config = ConfigDict(defer_build=True, extra="forbid", str_strip_whitespace=True)

    form: Literal["preferences"] | None = None
    """The page's purposes form sends this: its checkboxes were shown, so a purpose not
    listed was unticked (a browser sends nothing at all for an unticked box)."""
    purposes: Annotated[list[PurposeId], Field(max_length=20)] | None = None
    """The purposes kept."""
    profiling: Literal["object", "allow"] | None = None
    everything: bool = False
    leave: PurposeId | None = None
    """The one purpose to leave (the button beside it), whatever else is kept."""

    def kept(self) -> list[str] | None:
        """The purposes to keep; None when the post says nothing about purposes."""
        if self.purposes is not None:
            return list(dict.fromkeys(self.purposes))
        return [] if self.form == "preferences" else None


PREFERENCE_FIELDS = frozenset(PreferencesRequest.model_fields)


class LinkRequest(BaseModel):
    """The sending system asks for a person's unsubscribe link and headers."""

    model_config = ConfigDict(defer_build=True, extra="forbid", str_strip_whitespace=True)

    email: Email
    purpose: Annotated[PurposeId | None, BeforeValidator(blank_to_none)] = None


class AudienceQuery(BaseModel):
    """The query string of ``GET /api/audiences/{purpose}``."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    limit: Annotated[int, Field(ge=1, le=1000)] = 100
    cursor: Annotated[str | None, Field(max_length=2048)] = None


# -- proof and rights ------------------------------------------------------------------
# API bodies refuse unknown fields (extra="forbid"): a misspelt "evidence" key must not
# pass as a row without proof.

MAX_ORDER_ID = 100
MAX_SOURCE = 200
MAX_TEXT = 4000
CLOCK_SKEW = timedelta(minutes=5)
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _moment(value: Any) -> datetime:
    """An ISO 8601 date and time with a zone, not in the future, as UTC."""
    example = "e.g. 2024-05-01T12:00:00Z"
    if not isinstance(value, str):
        raise ValueError(f"must be an ISO 8601 date and time ({example})")
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"is not an ISO 8601 date and time ({example})") from None
    if len(text) <= 10:
        raise ValueError(f"needs a time of day, not only a date ({example})")
    if moment.tzinfo is None:
        raise ValueError(f"needs a time zone, Z or +hh:mm ({example})")
    try:
        in_utc = moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:30+01:00 is before year 1 in UTC
        raise ValueError("is out of range") from None
    if in_utc > datetime.now(UTC) + CLOCK_SKEW:
        raise ValueError("is in the future")
    return in_utc


def _text(most: int, *, lines: bool) -> Any:
    """A required, non-blank text of at most ``most`` characters; line breaks only if allowed."""

    def check(raw: Any) -> str:
        if not isinstance(raw, str):
            raise ValueError("must be a text value")
        value = raw.strip()
        if not value:
            raise ValueError("may not be empty")
        if (_TEXT_CONTROL if lines else CONTROL).search(value):
            raise ValueError("may not contain control characters" + ("" if lines else " or line breaks"))
        if len(value) > most:
            raise ValueError(f"may be at most {most} characters")
        return value

    return BeforeValidator(check)


def _must_be_true(value: Any) -> Any:
    if value is not True:
        raise ValueError("must be true: soft opt-in needs an opt-out offered at the sale")
    return value


Moment = Annotated[datetime, BeforeValidator(_moment)]
Purposes = Annotated[
    list[PurposeId], Field(max_length=20), AfterValidator(unique_purposes("name at least one purpose"))
]


class _ApiBody(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", str_strip_whitespace=True)


class SoftOptInEvidence(_ApiBody):
    """What proves a soft opt-in: a sale by this organisation that offered an opt-out."""

    order_id: Annotated[str, _text(MAX_ORDER_ID, lines=False)]
    purchased_at: Moment
    opt_out_offered: Annotated[StrictBool, BeforeValidator(_must_be_true)]


class SoftOptInRequest(_ApiBody):
    """``POST /api/soft-opt-ins``: an existing customer, their own similar products."""

    email: Email
    name: Name = None
    lang: Lang = None
    purposes: Purposes
    evidence: SoftOptInEvidence


class ImportEvidence(_ApiBody):
    """A row's own proof of consent: when, where, and the exact text agreed to."""

    consented_at: Moment
    source: Annotated[str, _text(MAX_SOURCE, lines=False)]
    text: Annotated[str, _text(MAX_TEXT, lines=True)]


class ImportRow(_ApiBody):
    """One contact of ``POST /api/imports``; without evidence it is only ever asked."""

    email: Email
    name: Name = None
    lang: Lang = None
    purposes: Purposes
    evidence: ImportEvidence | None = None


class ImportRequest(_ApiBody):
    """The batch; each row is validated on its own so a bad row spoils nothing."""

    contacts: list[Any]


class DataSubjectRequest(_ApiBody):
    """``POST /requests``: a person asks for their data or its erasure."""

    email: Email
    type: Literal["access", "erasure"]
    lang: Lang = None


def api_errors(exc: ValidationError) -> dict[str, str]:
    """One reason per field, the field named by its dotted path (``evidence.purchased_at``)."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        field = ".".join(str(part) for part in error.get("loc") or ()) or "body"
        message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
        kind = error.get("type")
        if kind == "missing":
            message = "is required"
        elif kind == "extra_forbidden":
            message = "is not a known field"
        elif kind == "literal_error" and field == "type":
            message = "must be access or erasure"
        elif kind in ("model_type", "model_attributes_type", "dict_type"):
            message = "must be a JSON object"
        errors.setdefault(field, message)
    return errors


__all__ = [
    "LOCAL_PART_NOT_ASCII",
    "MAX_EMAIL",
    "MAX_NAME",
    "NAME_WITH_LINK",
    "PREFERENCE_FIELDS",
    "AudienceQuery",
    "DataSubjectRequest",
    "ImportEvidence",
    "ImportRequest",
    "ImportRow",
    "LinkRequest",
    "PreferencesRequest",
    "SignupRequest",
    "SoftOptInEvidence",
    "SoftOptInRequest",
    "ValidationError",
    "api_errors",
    "field_errors",
    "mailbox",
    "normalise_email",
]
