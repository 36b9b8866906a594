"""What a write to the ledger means to the systems that act on consent (issue 14).

DynamoDB Streams hands the stream handler every write to the table, with the item as it was
and as it became. ``decode`` reads one such record and says which consent change it was, if
any: a purpose granted or withdrawn, profiling objected to or allowed again, a suppression
marker set or lifted, a person erased. Everything else (events, pending signups, texts,
rate counters, deletes by erasure or TTL, a rewrite that leaves a state as it was) is no
change anyone outside has to act on, and decodes to None.

The item kinds are the ledger's (the table in chalicelib/ledger.py's docstring): ``KINDS``
below is the one place here that names their keys, so when the table moves to
``chalicelib/ledger/layout.py`` only that tuple points somewhere else.

Each change carries an id derived from the item's key and the version of its state (its
``since``, the marker's ``at``): a batch Lambda delivers again yields the same ids, so a
consumer drops what it has seen. Standard library only: no boto3, no pydantic, no Jinja2.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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
    """A string or number attribute of a stream image (DynamoDB's JSON: {"S": "..."})."""
    if not image or name not in image:
        return None
    typed = image[name]
    return typed.get("S", typed.get("N"))


def change_id(pk: str, sk: str, version: str, kind: str) -> str:
    """The same for every delivery of one change; different for every change of an item."""
    return hashlib.sha256("\n".join((kind, pk, sk, version)).encode()).hexdigest()[:32]


def _images(record: Record) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    data = record["dynamodb"]
    return data.get("OldImage"), data.get("NewImage")


def _purpose_state(record: Record, subject: str, pk: str, sk: str) -> Change | None:
    """``S#<subject> P#<purpose>``: granted or withdrawn, with its basis and since. A grant
    that only moves ``since`` (confirming again) is no change; a new basis is."""
    old, new = _images(record)
    state, since = _value(new, "state"), _value(new, "since")
    if state not in ("granted", "withdrawn") or since is None:
        return None  # a delete (erasure, TTL) or an item not written as a state
    basis = _value(new, "basis") or "consent"
    if _value(old, "state") == state and (state == "withdrawn" or _value(old, "basis") == basis):
        return None
    return Change(change_id(pk, sk, since, state), state, subject, since, purpose=sk[2:], basis=basis)


def _profiling(record: Record, subject: str, pk: str, sk: str) -> Change | None:
    """``S#<subject> PROFILING``: objected or allowed (allowed where no item was)."""
    old, new = _images(record)
    state, since = _value(new, "state"), _value(new, "since")
    if state not in ("objected", "allowed") or since is None or state == (_value(old, "state") or "allowed"):
        return None
    kind = f"profiling_{state}"
    return Change(change_id(pk, sk, since, kind), kind, subject, since)


def _suppression(record: Record, subject: str, pk: str, sk: str) -> Change | None:
    """``SUPPRESS#<subject> SUPPRESS``: set (a reason, a date) or lifted by a confirmed
    signup. The marker an erasure leaves is told by the ``erased`` change instead."""
    old, new = _images(record)
    if new is None:
        if old is None or _value(old, "reason") == "erasure":
            return None
        at = _value(old, "at") or ""
        lifted = _approximate_time(record)
        return Change(change_id(pk, sk, at, "unsuppressed"), "unsuppressed", subject, lifted)
    reason, at = _value(new, "reason"), _value(new, "at")
    if old is not None or at is None or reason == "erasure":
        return None  # kept as it was (the first reason stays), or an erasure's
    return Change(change_id(pk, sk, at, "suppressed"), "suppressed", subject, at, reason=reason)


def _erasure(record: Record, subject: str, pk: str, sk: str) -> Change | None:
    """``SUPPRESS#<subject> E#<utc>#erased``: the record that an erasure was done."""
    old, new = _images(record)
    at = _value(new, "at")
    if old is not None or new is None or _value(new, "type") != "erased" or at is None:
        return None
    return Change(change_id(pk, sk, at, "erased"), "erased", subject, at)


def _approximate_time(record: Record) -> str:
    """When the stream saw a delete (to the second): a lifted marker has no time of its own."""
    seconds = float(record["dynamodb"].get("ApproximateCreationDateTime") or 0)
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


Decoder = Callable[[Record, str, str, str], "Change | None"]

KINDS: tuple[tuple[str, Callable[[str], bool], Decoder], ...] = (
    # (pk prefix, which sk, decoder): the ledger's item kinds whose changes leave.
    ("S#", lambda sk: sk.startswith("P#"), _purpose_state),
    ("S#", lambda sk: sk == "PROFILING", _profiling),
    ("SUPPRESS#", lambda sk: sk == "SUPPRESS", _suppression),
    ("SUPPRESS#", lambda sk: sk.startswith("E#") and sk.endswith("#erased"), _erasure),
)


def decode(record: Record) -> Change | None:
    """The consent change one stream record is, or None."""
    keys = record.get("dynamodb", {}).get("Keys") or {}
    pk, sk = _value(keys, "pk"), _value(keys, "sk")
    if pk is None or sk is None:
        return None
    for prefix, matches, decoder in KINDS:
        if pk.startswith(prefix) and matches(sk):
            return decoder(record, pk[len(prefix) :], pk, sk)
    return None
