"""The sending system's side of saying no: who it may mail, and with which headers.

An audience page is a query on the sparse ``audience`` index (never a scan) plus one
consistent batch read; its cursor is the index's last key, signed so that a cursor the
service did not issue is refused. Every row carries a purpose-bound unsubscribe link.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib import catalogue, tokens
from chalicelib.keys import get_keys
from chalicelib.ledger import get_ledger, utc_now
from chalicelib.preferences import list_unsubscribe_headers, unsubscribe_url
from chalicelib.refusals import Invalid, NotFound

_CURSOR_KEYS = frozenset({"pk", "sk", "aud_pk", "aud_sk"})


class BadCursor(ValueError):
    """A cursor the service did not issue, or one issued for another purpose."""


@dataclass(frozen=True)
class AudiencePage:
    contacts: list[dict[str, Any]]
    next: str | None


def links(email: str, purpose: str | None) -> dict[str, Any]:
    """The unsubscribe URL and the two headers for a known address. Raises Invalid for a
    purpose not in the catalogue, NotFound for nobody on file."""
    if purpose is not None and purpose not in catalogue.load().purposes:
        raise Invalid({"purpose": f"unknown purpose: {purpose}"})
    subject = get_keys().subject_id(email)
    if not get_ledger().on_file(subject, utc_now()):
        raise NotFound("contact")
    url = unsubscribe_url(subject, purpose)
    return {"unsubscribe_url": url, "headers": list_unsubscribe_headers(url)}


def audience(purpose: str, limit: int, cursor: str | None) -> AudiencePage:
    """One page of exactly the granted, unsuppressed contacts for a purpose. Raises NotFound
    for a purpose not in the catalogue, BadCursor for a cursor it did not issue."""
    if purpose not in catalogue.load().purposes:
        raise NotFound("purpose")
    start = _read_cursor(purpose, cursor) if cursor else None
    members, last = get_ledger().audience(purpose, limit=limit, start=start, now=utc_now())
    contacts = [
        {
            "email": m.email,
            "name": m.name,
            "lang": m.lang,
            "profiling_allowed": m.profiling_allowed,
            "unsubscribe_url": unsubscribe_url(m.subject, purpose),
        }
        for m in members
    ]
    return AudiencePage(contacts, tokens.sign("cursor", {"p": purpose, "k": last}) if last else None)


def _read_cursor(purpose: str, cursor: str) -> dict[str, str]:
    try:
        payload = tokens.load("cursor", cursor)
    except tokens.TokenError as exc:
        raise BadCursor("not a cursor this service issued") from exc
    key = payload.get("k")
    if payload.get("p") != purpose or not isinstance(key, dict) or set(key) != _CURSOR_KEYS:
        raise BadCursor("this cursor belongs to another query")
    if key.get("aud_pk") != f"A#{purpose}" or not all(isinstance(v, str) for v in key.values()):
        raise BadCursor("this cursor belongs to another query")
    return {str(k): str(v) for k, v in key.items()}
