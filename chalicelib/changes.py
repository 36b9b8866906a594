"""What a write to the ledger means to the systems that act on consent (issue 14).

DynamoDB Streams hands the stream handler every write to the table, with the item as it was
and as it became. ``decode`` reads one such record and says which consent change it was, if
any: a purpose granted or withdrawn, profiling objected to or allowed again, a suppression
marker set or lifted, a person erased. Everything else (events, pending signups, texts,
rate counters, deletes by erasure or TTL, a rewrite that leaves a state as it was) is no
change anyone outside has to act on, and decodes to None.

The item kinds and how their values are coded are the ledger's (chalicelib/ledger/layout.py):
a record's key says its kind (``layout.kind_of``), its images decode as the ledger reads items
(``layout.plain``); ``DECODERS`` below names the kinds whose changes leave.

Each change carries an id derived from the item's key and the version of its state (its
``since``, the marker's ``at``): a batch Lambda delivers again yields the same ids, so a
consumer drops what it has seen. No boto3, no pydantic, no Jinja2.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.ledger import layout

Record = Mapping[str, Any]
"""One record of a Lambda DynamoDB Streams event (``Records[i]``)."""


@dataclass(frozen=True)
class Change:
    """One consent change, as the systems that act on it see it."""

    id: str
    type: str
    """granted | withdrawn | profiling_objected | profiling_allowed | suppressed |
    unsuppressed | erased: the new state itself."""
    subject: str
    """The ledger's key for the person: a keyed hash of the address (no address in it)."""
    since: str
    """When the change was made (ISO 8601 UTC): later wins, whatever order events arrive in."""
    purpose: str | None = None
    basis: str | None = None
    """consent | soft_opt_in, for a purpose's change."""
    reason: str | None = None
    """Why a suppression marker was set: unsubscribe, complaint, bounce."""

    @property
    def needs_address(self) -> bool:
        """An erasure leaves with the subject hash alone: the address is gone, and must stay so."""
        return self.type != "erased"

    def detail(self, email: str | None) -> dict[str, Any]:
        """The event's JSON body (README, "Consent changes, pushed"): only what a consumer
        needs to act; the address only where it must act on one and the ledger holds a
        proven one."""
        out: dict[str, Any] = {"id": self.id, "type": self.type, "subject": self.subject}
        if email and self.needs_address:
            out["email"] = email
        for name in ("purpose", "basis", "reason"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        out["since"] = self.since
        return out

    @property
    def time(self) -> datetime:
        return datetime.fromisoformat(self.since)


def _value(image: Mapping[str, Any] | None, name: str) -> str | None:
    """A string (or number) attribute of a decoded image, as text."""
    if not image or image.get(name) is None:
        return None
    return str(image[name])


def change_id(pk: str, sk: str, version: str, kind: str) -> str:
    """The same for every delivery of one change; different for every change of an item."""
    return hashlib.sha256("\n".join((kind, pk, sk, version)).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class _Write:
    """One write the stream saw: the item's key, and the item before and after it (decoded
    as the ledger reads items; None where it did not exist)."""

    pk: str
    sk: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    seen: float
    """When the stream saw it (seconds, ``ApproximateCreationDateTime``)."""

    @property
    def subject(self) -> str:
        return layout.subject_of(self.pk)


def _purpose_state(w: _Write) -> Change | None:
    """``S#<subject> P#<purpose>``: granted or withdrawn, with its basis and since. A grant
    that only moves ``since`` (confirming again) is no change; a new basis is."""
    state, since = _value(w.new, "state"), _value(w.new, "since")
    if state not in ("granted", "withdrawn") or since is None:
        return None  # a delete (erasure, TTL) or an item not written as a state
    basis = _value(w.new, "basis") or "consent"
    if _value(w.old, "state") == state and (state == "withdrawn" or _value(w.old, "basis") == basis):
        return None
    purpose = w.sk[len(layout.STATE_PREFIX) :]
    return Change(change_id(w.pk, w.sk, since, state), state, w.subject, since, purpose=purpose, basis=basis)


def _profiling(w: _Write) -> Change | None:
    """``S#<subject> PROFILING``: objected or allowed (allowed where no item was)."""
    state, since = _value(w.new, "state"), _value(w.new, "since")
    if (
        state not in ("objected", "allowed")
        or since is None
        or state == (_value(w.old, "state") or "allowed")
    ):
        return None
    kind = f"profiling_{state}"
    return Change(change_id(w.pk, w.sk, since, kind), kind, w.subject, since)


def _suppression(w: _Write) -> Change | None:
    """``SUPPRESS#<subject> SUPPRESS``: set (a reason, a date) or lifted by a confirmed
    signup. The marker an erasure leaves is told by the ``erased`` change instead."""
    if w.new is None:
        if w.old is None or _value(w.old, "reason") == "erasure":
            return None
        was_set = _value(w.old, "at") or ""
        lifted = datetime.fromtimestamp(w.seen, UTC)  # a lifted marker has no time of its own
        return Change(
            change_id(w.pk, w.sk, was_set, "unsuppressed"), "unsuppressed", w.subject, layout.iso(lifted)
        )
    reason, at = _value(w.new, "reason"), _value(w.new, "at")
    if w.old is not None or at is None or reason == "erasure":
        return None  # kept as it was (the first reason stays), or an erasure's
    return Change(change_id(w.pk, w.sk, at, "suppressed"), "suppressed", w.subject, at, reason=reason)


def _erasure(w: _Write) -> Change | None:
    """``SUPPRESS#<subject> E#<utc>#erased``: the record that an erasure was done."""
    at = _value(w.new, "at")
    if w.old is not None or w.new is None or _value(w.new, "type") != "erased" or at is None:
        return None
    return Change(change_id(w.pk, w.sk, at, "erased"), "erased", w.subject, at)


DECODERS: dict[str, Callable[[_Write], Change | None]] = {
    # the kinds of layout.KINDS whose changes leave, by name, and how each is read
    "purpose state": _purpose_state,
    "profiling flag": _profiling,
    "suppression marker": _suppression,
    "erasure record": _erasure,
}


def decode(record: Record) -> Change | None:
    """The consent change one stream record is, or None."""
    data = record.get("dynamodb", {})
    keys = layout.plain(data.get("Keys") or {})
    pk, sk = keys.get("pk"), keys.get("sk")
    kind = layout.kind_of(pk, sk) if isinstance(pk, str) and isinstance(sk, str) else None
    decoder = DECODERS.get(kind.name) if kind else None
    if decoder is None:
        return None
    old, new = data.get("OldImage"), data.get("NewImage")
    seen = float(data.get("ApproximateCreationDateTime") or 0)
    return decoder(
        _Write(str(pk), str(sk), layout.plain(old) if old else None, layout.plain(new) if new else None, seen)
    )
