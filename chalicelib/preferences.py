"""Saying no: manage links, the one-click unsubscribe, the preferences page's choices.

A manage link names a subject and, optionally, the one purpose it was made for. It never
expires: it works as long as the person is on file (LAW 15). It can only say no: it
withdraws, objects, suppresses; it never grants (re-subscribing takes the double opt-in
form). Views call these and turn the outcomes into pages or JSON; nothing here knows HTML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib import baseurl, catalogue, metrics, tokens
from chalicelib.ledger import Evidence, PersonGone, SaidNo, Standing, get_ledger, utc_now
from chalicelib.settings import SettingsError, get_settings

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


def standing(link: ManageLink) -> Standing | None:
    """The person's standing, or None when nobody is on file (answered like a bad token)."""
    return get_ledger().standing(link.subject, utc_now())


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
        said = get_ledger().say_no(link.subject, withdraw=[link.purpose], evidence=evidence, now=utc_now())
        metrics.said_no(said.withdrawn, said.profiling, evidence.channel)
        return said
    return _everything(link, evidence)


def _everything(link: ManageLink, evidence: Evidence, profiling: str | None = None) -> SaidNo:
    said = get_ledger().say_no(
        link.subject,
        withdraw=None,
        profiling=profiling,
        suppress="unsubscribed",
        evidence=evidence,
        now=utc_now(),
    )
    metrics.said_no(said.withdrawn, said.profiling, evidence.channel)
    return said


@dataclass
class PreferencesOutcome:
    """A saved preferences post, or errors per field (nothing saved)."""

    said: SaidNo | None = None
    errors: dict[str, str] = field(default_factory=dict)
    status: int = 422
    not_granted: tuple[str, ...] = ()
    """Purposes ticked that a preferences post cannot grant: the form is the way back."""


def save(link: ManageLink, data: dict[str, Any], evidence: Evidence) -> PreferencesOutcome:
    """Save a preferences post: purposes not kept are withdrawn, the profiling choice is
    saved, 'everything' withdraws all and suppresses; one conditional transaction.

    Raises PersonGone when nobody is on file.
    """
    from chalicelib.models import PREFERENCE_FIELDS, PreferencesRequest, ValidationError, field_errors

    if not PREFERENCE_FIELDS & set(data):
        # Neither the one-click body nor a preferences post: refuse, never guess a "no".
        message = f"neither {ONE_CLICK_BODY} nor a preferences post ({', '.join(sorted(PREFERENCE_FIELDS))})"
        return PreferencesOutcome(errors={"body": message}, status=400)
    try:
        request = PreferencesRequest.model_validate(data)
    except ValidationError as exc:
        return PreferencesOutcome(errors=field_errors(exc))
    cat = catalogue.load()
    kept = request.kept()
    unknown = [p for p in kept or () if p not in cat.purposes]
    if unknown:
        return PreferencesOutcome(errors={"purposes": f"unknown purpose: {', '.join(unknown)}"})
    profiling = {"object": "objected", "allow": "allowed", None: None}[request.profiling]
    if request.everything:
        return PreferencesOutcome(said=_everything(link, evidence, profiling))
    # Purposes not kept are withdrawn if granted or pending; the ledger skips the rest.
    withdraw = [] if kept is None else [p for p in cat.purposes if p not in kept]
    said = get_ledger().say_no(
        link.subject, withdraw=withdraw, profiling=profiling, evidence=evidence, now=utc_now()
    )
    metrics.said_no(said.withdrawn, said.profiling, evidence.channel)
    standing = said.standing
    states, waiting = (standing.states, standing.waiting) if standing else ({}, frozenset())
    not_granted = tuple(
        p for p in kept or () if states.get(p) not in ("granted", "pending") and p not in waiting
    )
    return PreferencesOutcome(said=said, not_granted=not_granted)


__all__ = [
    "ONE_CLICK_BODY",
    "ManageLink",
    "PersonGone",
    "PreferencesOutcome",
    "is_one_click",
    "list_unsubscribe_headers",
    "manage_token",
    "one_click",
    "read_manage_token",
    "save",
    "standing",
    "unsubscribe_url",
]
