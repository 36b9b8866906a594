"""Saying no: manage links, the one-click unsubscribe, the preferences page's choices.

A manage link names a subject and, optionally, the one purpose it was made for. It never
expires: it works as long as the person is on file (LAW 15). It can only say no: it
withdraws, objects, suppresses; it never grants (re-subscribing takes the double opt-in
form). Each returns its result or raises; views/answers.py answers the errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib import baseurl, catalogue, metrics, tokens
from chalicelib.ledger import Evidence, PersonGone, SaidNo, Standing, get_ledger, utc_now
from chalicelib.refusals import Invalid
from chalicelib.settings import SettingsError, get_settings
from chalicelib.web import BadRequest

ONE_CLICK_BODY = "List-Unsubscribe=One-Click"
"""RFC 8058: the one body a mailbox provider posts to unsubscribe in one click."""
ONE_CLICK_POST = {"List-Unsubscribe-Post": ONE_CLICK_BODY}


@dataclass(frozen=True)
class ManageLink:
    """A checked manage token: whose link, and the purpose it was made for (or all)."""

    subject: str
    purpose: str | None


def manage_token(subject: str, purpose: str | None) -> str:
    return tokens.sign("manage", {"s": subject, "p": purpose})


def unsubscribe_url(subject: str, purpose: str | None) -> str:
    base_url = baseurl.current()
    if not base_url:
        raise SettingsError("no CONSENTRY_BASE_URL and no request to take the address from")
    return f"{base_url}/unsubscribe/{manage_token(subject, purpose)}"


def list_unsubscribe_headers(url: str) -> dict[str, str]:
    """RFC 2369 and RFC 8058 headers for a marketing mail: https first, mailto second."""
    targets = [f"<{url}>"]
    mailto = get_settings().unsubscribe_mailto
    if mailto:
        targets.append(f"<mailto:{mailto}?subject=unsubscribe>")
    return {"List-Unsubscribe": ", ".join(targets), **ONE_CLICK_POST}


def read_manage_token(token: str) -> ManageLink:
    """Raises tokens.TokenError for a tampered, foreign or other-kind token."""
    payload = tokens.load("manage", token)
    subject, purpose = payload.get("s"), payload.get("p")
    if not isinstance(subject, str) or not subject or not (purpose is None or isinstance(purpose, str)):
        raise tokens.TokenError("incomplete")
    return ManageLink(subject, purpose)


def standing(link: ManageLink) -> Standing:
    """The person's standing. Raises PersonGone when nobody is on file (answered like a
    bad token)."""
    found = get_ledger().standing(link.subject, utc_now())
    if found is None:
        raise PersonGone(link.subject)
    return found


def masked(email: str) -> str:
    """The address as the preferences page shows it: enough for its owner to recognise
    (a•••@example.nl), too little for someone looking over a shoulder or at a forwarded
    link to learn it."""
    local, at, domain = email.partition("@")
    return f"{local[:1]}\u2022\u2022\u2022{at}{domain}"


def is_one_click(fields: dict[str, Any], content_type: str) -> bool:
    """Exactly the RFC 8058 body, as web.read_body read it: ``List-Unsubscribe=One-Click``
    form-encoded or as plain text, or that one field of a multipart form. JSON is no
    one-click body."""
    if content_type.split(";")[0].strip().lower() == "application/json":
        return False
    name, _, value = ONE_CLICK_BODY.partition("=")
    return {k: str(v).strip() for k, v in fields.items()} == {name: value}


def one_click(link: ManageLink, evidence: Evidence) -> SaidNo:
    """Withdraw the link's purpose, or every purpose (and suppress) for a link without one.

    Raises PersonGone when nobody is on file.
    """
    if link.purpose is not None:
        return _say_no(link, evidence, withdraw=[link.purpose])
    return _say_no(link, evidence, withdraw=None, suppress="unsubscribed")


def _say_no(
    link: ManageLink,
    evidence: Evidence,
    *,
    withdraw: list[str] | None,
    profiling: str | None = None,
    suppress: str | None = None,
) -> SaidNo:
    said = get_ledger().say_no(
        link.subject,
        withdraw=withdraw,
        profiling=profiling,
        suppress=suppress,
        evidence=evidence,
        now=utc_now(),
    )
    metrics.said_no(said.withdrawn, said.profiling, evidence.channel)
    return said


@dataclass(frozen=True)
class Saved:
    """A saved preferences post: what it changed, and what it could not do."""

    said: SaidNo
    standing: Standing
    """The standing after it."""
    not_granted: tuple[str, ...] = ()
    """Purposes ticked that a preferences post cannot grant: the form is the way back."""


def save(link: ManageLink, data: dict[str, Any], evidence: Evidence) -> Saved:
    """Save a preferences post: purposes not kept are withdrawn, the profiling choice is
    saved, 'everything' withdraws all and suppresses, 'leave' withdraws the one purpose
    beside its button; one conditional transaction.

    Raises web.BadRequest (neither a one-click body nor a preferences post), Invalid (the
    reason per field; nothing saved) or PersonGone (nobody on file).
    """
    from chalicelib.models import PREFERENCE_FIELDS, PreferencesRequest, ValidationError, field_errors

    if not PREFERENCE_FIELDS & set(data):
        # Neither the one-click body nor a preferences post: refuse, never guess a "no".
        message = f"neither {ONE_CLICK_BODY} nor a preferences post ({', '.join(sorted(PREFERENCE_FIELDS))})"
        raise BadRequest(400, "body", message)
    try:
        request = PreferencesRequest.model_validate(data)
    except ValidationError as exc:
        raise Invalid(field_errors(exc)) from None
    cat = catalogue.load()
    kept = request.kept()
    unknown = [p for p in kept or () if p not in cat.purposes]
    if unknown:
        raise Invalid({"purposes": f"unknown purpose: {', '.join(unknown)}"})
    if request.leave is not None and request.leave not in cat.purposes:
        raise Invalid({"leave": f"unknown purpose: {request.leave}"})
    profiling = {"object": "objected", "allow": "allowed", None: None}[request.profiling]
    if request.everything:
        said = _say_no(link, evidence, withdraw=None, profiling=profiling, suppress="unsubscribed")
    elif request.leave is not None:
        # The page's button beside one purpose: just that one, whatever else holds.
        said = _say_no(link, evidence, withdraw=[request.leave], profiling=profiling)
    else:
        # Purposes not kept are withdrawn if granted or pending; the ledger skips the rest.
        withdraw = [] if kept is None else [p for p in cat.purposes if p not in kept]
        said = _say_no(link, evidence, withdraw=withdraw, profiling=profiling)
    if said.standing is None:
        raise PersonGone(link.subject)
    states, waiting = said.standing.states, said.standing.waiting
    not_granted = tuple(
        p for p in kept or () if states.get(p) not in ("granted", "pending") and p not in waiting
    )
    if request.everything or request.leave is not None:
        not_granted = ()
    return Saved(said, said.standing, not_granted)


__all__ = [
    "ONE_CLICK_BODY",
    "ManageLink",
    "PersonGone",
    "Saved",
    "is_one_click",
    "list_unsubscribe_headers",
    "manage_token",
    "masked",
    "one_click",
    "read_manage_token",
    "save",
    "standing",
    "unsubscribe_url",
]
