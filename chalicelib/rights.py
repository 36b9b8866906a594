"""The data subject's rights: access (GDPR art. 15, 20) and erasure (art. 17).

A person proves control of the address by the link mailed to it: ``POST /requests`` only
queues a job naming the subject hash, and the mail worker sends a link if, and only if,
the address is on file. The answer, its timing and the calls behind it are the same
whatever the address: nothing tells a stranger whether someone is known, and nothing is
stored for an unknown address. Behind the link, a button does it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib import caps, catalogue, jobs, processing, tokens
from chalicelib.keys import get_keys
from chalicelib.ledger import Evidence, RateLimited, get_ledger, iso, utc_now
from chalicelib.models import DataSubjectRequest, ValidationError, api_errors
from chalicelib.refusals import Invalid, Throttled
from chalicelib.settings import get_settings

REQUEST_TYPES = ("access", "erasure")
EXPORT_FORMAT = "consentry-export/1"


def submit(data: dict[str, Any], lang: str, ip: str | None) -> None:
    """Validate a request and queue its mail; whether one is sent is the worker's business.

    The network's hourly limit is charged here, the same for every address; the mail cap
    is charged by the worker, only when it mails (see caps.py). Raises Invalid (the reason
    per field, the input kept) or Throttled; the same for a known and an unknown address."""
    values = {k: data.get(k) if isinstance(data.get(k), str) else "" for k in ("email", "type")}
    try:
        request = DataSubjectRequest.model_validate(data)
    except ValidationError as exc:
        raise Invalid(api_errors(exc), values) from None
    try:
        get_ledger().charge(caps.network_cap("requests", ip), utc_now())
    except RateLimited as exc:
        raise Throttled("requests") from exc
    lang = request.lang or lang
    subject = get_keys().subject_id(request.email)
    jobs.enqueue(jobs.request_job(subject, request.type, lang, caps.mailbox_key(request.email)))


@dataclass(frozen=True)
class RequestLink:
    """A checked request token: whose data, which request, in which language."""

    subject: str
    type: str
    lang: str


def read_request_token(token: str) -> RequestLink:
    """Raises tokens.TokenError (tampered, foreign) or tokens.TokenExpired."""
    payload = tokens.load("request", token, max_age=get_settings().request_token_seconds)
    try:
        subject, kind, lang = str(payload["s"]), str(payload["t"]), str(payload.get("l", "nl"))
    except (KeyError, TypeError) as exc:
        raise tokens.TokenError("incomplete") from exc
    if kind not in REQUEST_TYPES:
        raise tokens.TokenError("unknown request type")
    return RequestLink(subject, kind, catalogue.load().lang_or_default(lang))


def export(subject: str, evidence: Evidence, lang: str | None = None) -> dict[str, Any] | None:
    """Everything held about the person, after recording that they took it; None for nobody.

    The record of processing in it speaks the person's language (``lang``, else the default)."""
    ledger = get_ledger()
    now = utc_now()
    if not ledger.record_access_export(subject=subject, evidence=evidence, now=now):
        return None
    data = ledger.export(subject, now)
    if data is None:
        return None
    controller = catalogue.load().controller
    return {
        "format": EXPORT_FORMAT,
        "exported_at": iso(now),
        "controller": {
            "name": controller.name,
            "address": controller.address,
            "email": controller.email,
            "privacy_notice": controller.privacy_url,
        },
        **data,
        "processing": processing.describe(get_settings(), catalogue.load().lang_or_default(lang)),
    }


def erase(subject: str, channel: str, *, known_only: bool = False) -> bool:
    """Erase a person, leaving only the suppression marker. False when ``known_only`` and
    nobody is on file (then nothing is written)."""
    ledger = get_ledger()
    now = utc_now()
    if known_only and ledger.contact(subject, now) is None:
        return False
    ledger.erase(
        subject=subject,
        now=now,
        channel=channel,
        record_seconds=get_settings().erasure_record_seconds,
    )
    return True
