"""Each person's events form a hash chain, so an edited, removed, inserted or reordered
event shows (GDPR art. 7(1), 5(2): consent the controller can prove, not a row anyone
could have written yesterday).

Every event carries ``seq`` (its place in the person's chain, 1 for the first), ``prev``
(the ``hash`` of the event before it in the chain, empty for the first) and ``hash``:
SHA-256, as lowercase hex, of the event's **canonical form**: its stored attributes except
``pk``, ``sk``, ``hash`` and ``expires_at`` (the TTL, which confirming removes), as JSON
with sorted keys, no spaces (``separators=(",", ":")``), non-ASCII kept, UTF-8; numbers
as integers, sets as sorted lists. ``prev`` and ``seq`` are inside it, so the hash covers
the previous hash. The key is checked apart: an event's ``sk`` starts ``E#<at>#``.

The chain head (the last event's hash and seq) lives on the person's PROFILE item, which
most event-writing transactions write anyway, so extending the chain usually adds no item
to a transaction. ``Transaction.commit`` (table.py) reads the head, links the
transaction's events in key order, and writes the new head on condition that the head is
still the one it read: two writers can never fork a chain; the one that loses re-reads
and retries (the single retry policy), and a LedgerConflict ends it.

Events of a pending signup expire (TTL) and may leave a gap. A gap is lawful only where
the event after it says so: ``prev_ttl`` and ``prev_run`` name the latest expiry and the
first seq of the run of expiring events just before it (the head keeps ``chain_ttl``,
``chain_run`` for the run at its end; 0 when there is none).

``chain_period`` (``<hour>#<shard>``) lists a changed head in the sparse ``chain`` index,
by hour, for the signed digests (digests.py); it changes at most once an hour per person.

This module is stdlib only, and small: it is imported on the signup path. Checking a
chain (the dossier, ``make verify``) is audit.py's, imported only there.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

UNHASHED = frozenset({"pk", "sk", "hash", "expires_at"})
"""Attributes outside the canonical form: the key (checked apart), the hash itself, the TTL."""

HEAD_FIELDS = ("chain_head", "chain_seq", "chain_ttl", "chain_run", "chain_period")
"""The profile's attributes that hold the chain head."""

INDEX = "chain"
"""The sparse index of chain heads by the hour they changed (digests.py reads it)."""

SHARDS = 16
"""An hour's heads are spread over this many index partitions (by the subject's first hex
digit), so a burst of signups never makes one index partition hot."""


def _plain(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, Decimal)):
        number = Decimal(value)
        return int(number) if number == number.to_integral_value() else str(number)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    raise TypeError(f"no canonical form for {type(value).__name__}")


def canonical(event: Mapping[str, Any]) -> bytes:
    """The bytes an event's hash is taken over (see the module's docstring)."""
    fields = {k: v for k, v in event.items() if k not in UNHASHED and v is not None}
    return json.dumps(_plain(fields), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def hash_of(event: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(event)).hexdigest()


def period(subject: str, moment: datetime) -> str:
    """The chain index's partition for a head changed at ``moment``."""
    return f"{moment.strftime('%Y-%m-%dT%H')}#{subject[:1].lower() or '0'}"


def shards() -> list[str]:
    return [format(n, "x") for n in range(SHARDS)]


class Head(NamedTuple):
    """The end of a person's chain, as the profile holds it (a NamedTuple: a frozen
    dataclass costs a cold start about 5 million instructions more, bench/chain_cost.py)."""

    hash: str = ""
    seq: int = 0
    ttl: int = 0
    """The latest expiry of the run of expiring events at the chain's end; 0: none."""
    run: int = 0
    """The seq that run starts at; 0: none."""

    @staticmethod
    def of(profile: Mapping[str, Any] | None) -> Head:
        if not profile or not profile.get("chain_head"):
            return Head()
        return Head(
            str(profile["chain_head"]),
            int(profile.get("chain_seq", 0)),
            int(profile.get("chain_ttl", 0)),
            int(profile.get("chain_run", 0)),
        )

    def link(self, event: Mapping[str, Any]) -> tuple[dict[str, Any], Head]:
        """The event with its place in the chain and its hash, and the head after it."""
        seq = self.seq + 1
        linked: dict[str, Any] = {**event, "seq": seq, "prev": self.hash}
        if self.ttl:
            linked["prev_ttl"], linked["prev_run"] = self.ttl, self.run
        linked["hash"] = hash_of(linked)
        expires = event.get("expires_at")
        if isinstance(expires, (int, Decimal)) and not isinstance(expires, bool):
            ttl, run = (max(self.ttl, int(expires)), self.run) if self.ttl else (int(expires), seq)
        else:
            ttl, run = 0, 0
        return linked, Head(linked["hash"], seq, ttl, run)

    def values(self, subject: str, moment: datetime) -> dict[str, Any]:
        """The profile's head attributes, as expression values (``:chain_head``, ...)."""
        return {
            ":chain_head": self.hash,
            ":chain_seq": self.seq,
            ":chain_ttl": self.ttl,
            ":chain_run": self.run,
            ":chain_period": period(subject, moment),
        }


SET_HEAD = ", ".join(f"{name} = :{name}" for name in HEAD_FIELDS)
"""The assignments that write a head (values: ``Head.values``)."""


def head_condition(read: Head) -> tuple[str, dict[str, Any]]:
    """The condition that the head is still the one read, and its values."""
    if not read.hash:
        return "attribute_not_exists(chain_head)", {}
    return "chain_head = :chain_was", {":chain_was": read.hash}
