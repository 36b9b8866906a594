"""The signup and confirmation flows: validate, record, hand the mail to the queue.

Views call these and turn the outcomes into pages or JSON; nothing here knows HTML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib import bots, caps, catalogue, jobs, metrics, tokens
from chalicelib.keys import get_keys
from chalicelib.ledger import (
    AlreadyConfirmed,
    Evidence,
    RateLimited,
    SignupGone,
    SignupNow,
    get_ledger,
    utc_now,
)
from chalicelib.models import SignupRequest, ValidationError, field_errors
from chalicelib.settings import get_settings


@dataclass
class SignupOutcome:
    """Either accepted (the same whatever the address's standing) or errors per field."""

    accepted: bool
    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    throttled: bool = False


def submit(form: catalogue.Form, data: dict[str, Any], lang: str, evidence: Evidence) -> SignupOutcome:
    """Validate a signup and record it as pending; nothing is stored for invalid input."""
    values = {
        "email": data.get("email") if isinstance(data.get("email"), str) else "",
        "name": data.get("name") if isinstance(data.get("name"), str) else "",
        "purposes": [p for p in data.get("purposes") or [] if isinstance(p, str)]
        if isinstance(data.get("purposes"), list)
        else [],
    }
    try:
        signup = SignupRequest.model_validate(data)
    except ValidationError as exc:
        return SignupOutcome(False, field_errors(exc), values)
    unknown = [p for p in signup.purposes if p not in form.purposes]
    if unknown:
        return SignupOutcome(False, {"purposes": f"unknown purpose: {', '.join(unknown)}"}, values)
    verdict = bots.stamp_verdict(form, data.get(bots.RENDER_FIELD))
    if signup.website or verdict == "bot":
        # A honeypot filled in, or a form posted faster than a person could fill it in:
        # a bot. The same answer as a real signup; nothing stored or sent.
        metrics.signup_sent_no_mail(
            "honeypot" if signup.website else "too_fast", get_keys().subject_id(signup.email)
        )
        return SignupOutcome(True)
    if verdict == "stale":
        # A person who left the form open for over a day: the form again, freshly stamped.
        return SignupOutcome(False, {bots.RENDER_FIELD: bots.STALE}, values)
    field = bots.answer_field(form)
    if field and not bots.verify_challenge(form, data.get(field), evidence.ip):
        metrics.signup_sent_no_mail("challenge", get_keys().subject_id(signup.email))
        return SignupOutcome(False, {"challenge": "the bot check was not passed; please try again"}, values)
    lang = signup.lang if signup.lang in form.languages else lang
    cat = catalogue.load()
    texts = [cat.purposes[p].consent_text(lang) for p in signup.purposes]
    keys = get_keys()
    subject = keys.subject_id(signup.email)
    try:
        recorded = get_ledger().record_signup(
            subject=subject,
            email=signup.email,
            name=signup.name,
            lang=lang,
            form_id=form.id,
            texts=texts,
            evidence=evidence,
            now=utc_now(),
            retention_seconds=get_settings().pending_seconds,
            caps=[
                *caps.mail_caps(subject, caps.mailbox_key(signup.email)),
                *caps.network_cap("signups", evidence.ip),
            ],
        )
    except RateLimited as exc:
        # Over the per-address cap: the same answer as always, and no mail (no list bombing).
        # Over the per-IP cap: a 429, which tells nothing about the address.
        over_ip = exc.counter not in caps.MAIL_COUNTERS
        metrics.signup_sent_no_mail("ip_limit" if over_ip else "address_cap", subject)
        return SignupOutcome(not over_ip, throttled=over_ip)
    jobs.enqueue(jobs.confirmation_job(subject, recorded.id), queue="confirm")
    metrics.signup_accepted(form.id, signup.purposes)
    return SignupOutcome(True)


@dataclass(frozen=True)
class ConfirmLink:
    """A checked confirm token: which signup, mailed when, in which language.

    It names no purposes: what a confirmation grants is what the signup holds when it is
    confirmed (a purpose withdrawn after the mail left it), read from the ledger."""

    subject: str
    signup_id: str
    sent_at: str
    form_id: str
    lang: str


def read_confirm_token(token: str) -> ConfirmLink:
    """Raises tokens.TokenError (tampered, foreign) or tokens.TokenExpired."""
    settings = get_settings()
    payload = tokens.load("confirm", token, max_age=settings.confirm_token_seconds)
    try:
        lang = str(payload.get("l", "nl"))
        return ConfirmLink(
            subject=str(payload["s"]),
            signup_id=str(payload["i"]),
            sent_at=str(payload["m"]),
            form_id=str(payload.get("f", "")),
            lang=lang if lang in catalogue.LANGUAGES else "nl",
        )
    except (KeyError, TypeError) as exc:
        raise tokens.TokenError("incomplete") from exc


def confirmable(link: ConfirmLink) -> SignupNow:
    """What pressing the button would grant now (the confirm page; one read, no write)."""
    return get_ledger().signup_now(link.subject, link.signup_id, utc_now())


@dataclass(frozen=True)
class Confirmed:
    """The purposes a confirmation granted now; none when it was confirmed before."""

    purposes: tuple[str, ...]


def confirm(link: ConfirmLink, evidence: Evidence) -> Confirmed:
    """Grant what the signup still holds; nothing new when it was confirmed before.

    Raises SignupGone when the signup expired, was erased or has nothing left to grant.
    """
    try:
        granted = get_ledger().confirm(
            subject=link.subject,
            signup_id=link.signup_id,
            sent_at=link.sent_at,
            evidence=evidence,
            now=utc_now(),
        )
    except AlreadyConfirmed:
        return Confirmed(())
    metrics.confirmed(granted)  # what was granted now, not what the link was mailed for
    return Confirmed(granted)


__all__ = [
    "ConfirmLink",
    "Confirmed",
    "SignupGone",
    "SignupOutcome",
    "confirm",
    "confirmable",
    "read_confirm_token",
    "submit",
]
