"""The signup and confirmation flows: validate, record, hand the mail to the queue.

Each returns its result or raises (refusals.Invalid, refusals.Throttled, the ledger's and
the tokens' errors); views/answers.py turns those into answers. Nothing here knows HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from chalicelib import bots, caps, catalogue, jobs, metrics, tokens, versions
from chalicelib.keys import get_keys
from chalicelib.ledger import (
    AlreadyConfirmed,
    Evidence,
    Person,
    RateLimited,
    SignupGone,
    SignupNow,
    get_ledger,
    utc_now,
)
from chalicelib.refusals import Invalid, Throttled
from chalicelib.settings import get_settings


@dataclass(frozen=True)
class Accepted:
    """A signup accepted: the same answer whatever the address's standing (new, pending,
    subscribed, suppressed, capped, a bot's)."""

    lang: str | None = None
    """The language of the texts the visitor read (a posted version decides it)."""


def submit(form: catalogue.Form, data: dict[str, Any], lang: str, evidence: Evidence) -> Accepted:
    """Validate a signup and record it as pending; nothing is stored for invalid input.

    Raises Invalid (the reason per field, the input kept) or Throttled (this network's
    hourly limit); bots.ChallengeUnavailable when the bot check's provider did not answer.

    The texts recorded are those of the version the post names (the page, iframe, script or
    plain form carries it): today's, or an older one the form showed; a version it never
    showed is refused. A post without one (a plain form from before versions) is taken to
    have shown today's texts in its language; its events carry no ``form_version``."""
    # pydantic_core only here, and no pydantic: a confirm link's cold start pays for neither,
    # a signup's for the core alone (docs/operations.md, Performance)
    from chalicelib.fields import field_errors
    from chalicelib.signup_validator import ValidationError, validate_signup

    values = {
        "email": data.get("email") if isinstance(data.get("email"), str) else "",
        "name": data.get("name") if isinstance(data.get("name"), str) else "",
        "purposes": [p for p in data.get("purposes") or [] if isinstance(p, str)]
        if isinstance(data.get("purposes"), list)
        else [],
    }
    cat = catalogue.load()
    errors: dict[str, str] = {}
    try:
        signup = validate_signup(data)
    except ValidationError as exc:
        errors = field_errors(exc)
    posted = data.get(versions.FIELD)
    shown: versions.Shown | None = None
    if posted is not None and posted != "":
        try:
            if not isinstance(posted, str) or len(posted) > 64:
                raise versions.UnknownVersion(str(posted)[:64])
            shown = versions.shown(cat, form, posted)
        except versions.UnknownVersion:
            errors[versions.FIELD] = "is not a version of this form's texts that was ever shown"
    if errors:
        raise Invalid(errors, values, lang=shown.lang if shown else None)
    if shown is None:
        lang = signup.lang if signup.lang in form.languages else lang
        shown = versions.current(cat, form, lang)
    else:
        evidence = replace(evidence, version=shown.version)
    unknown = [p for p in signup.purposes if shown.text_for(p) is None or p not in cat.purposes]
    if unknown:
        raise Invalid({"purposes": f"unknown purpose: {', '.join(unknown)}"}, values, lang=shown.lang)
    verdict = bots.stamp_verdict(form, data.get(bots.RENDER_FIELD))
    if signup.website or verdict == "bot":
        # A honeypot filled in, or a form posted faster than a person could fill it in:
        # a bot. The same answer as a real signup; nothing stored or sent.
        metrics.signup_sent_no_mail(
            "honeypot" if signup.website else "too_fast", get_keys().subject_id(signup.email)
        )
        return Accepted()
    if verdict == "stale":
        # A person who left the form open for over a day: the form again, freshly stamped.
        raise Invalid({bots.RENDER_FIELD: bots.STALE}, values, lang=shown.lang)
    field = bots.answer_field(form)
    if field and not bots.verify_challenge(form, data.get(field), evidence.ip):
        metrics.signup_sent_no_mail("challenge", get_keys().subject_id(signup.email))
        raise Invalid(
            {"challenge": "the bot check was not passed; please try again"}, values, lang=shown.lang
        )
    lang = shown.lang
    texts = [text for p in signup.purposes if (text := shown.text_for(p)) is not None]
    keys = get_keys()
    subject = keys.subject_id(signup.email)
    try:
        recorded = get_ledger().record_signup(
            Person(subject, signup.email, signup.name, lang),
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
        if over_ip:
            raise Throttled("signups", lang) from exc
        return Accepted(lang)
    jobs.enqueue(jobs.confirmation_job(subject, recorded.id), queue="confirm")
    metrics.signup_accepted(form.id, signup.purposes)
    return Accepted(lang)


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
            lang=catalogue.load().lang_or_default(lang),
        )
    except (KeyError, TypeError) as exc:
        raise tokens.TokenError("incomplete") from exc


def confirmable(link: ConfirmLink) -> SignupNow:
    """What pressing the button would grant now (the confirm page; one read, no write).

    Raises SignupGone when it would grant nothing and was never confirmed (expired,
    erased, or every purpose withdrawn since)."""
    now = get_ledger().signup_now(link.subject, link.signup_id, utc_now())
    if not now.confirmed and not now.purposes:
        raise SignupGone(link.signup_id)
    return now


@dataclass(frozen=True)
class Confirmed:
    """What a confirmation granted now (its purposes and the texts they were granted on);
    None when it was confirmed before."""

    granted: SignupNow | None

    @property
    def purposes(self) -> tuple[str, ...]:
        return self.granted.purposes if self.granted else ()


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
        return Confirmed(None)
    metrics.confirmed(granted.purposes)  # what was granted now, not what the link was mailed for
    return Confirmed(granted)


__all__ = [
    "Accepted",
    "ConfirmLink",
    "Confirmed",
    "SignupGone",
    "confirm",
    "confirmable",
    "read_confirm_token",
    "submit",
]
