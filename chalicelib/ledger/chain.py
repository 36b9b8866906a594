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

This module is stdlib only: it is imported on the signup path.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

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


@dataclass(frozen=True)
class Head:
    """The end of a person's chain, as the profile holds it."""

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


# -- checking a chain (the evidence dossier, make verify) ----------------------------------

GRANTS = frozenset({"confirmed", "imported", "soft_opt_in_recorded"})
"""The event types that grant a purpose; ``withdrawn`` withdraws it."""


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a person's chain: what, at which event, and how we know."""

    kind: str
    """altered | removed | inserted | reordered | head | state"""
    seq: int | None
    detail: str
    at: str | None = None
    type: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "seq": self.seq, "at": self.at, "type": self.type, "detail": self.detail}


def live(items: Iterable[Mapping[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Items not past their TTL (DynamoDB deletes lazily: an expired item counts as gone)."""
    stamp = now.timestamp()
    out = []
    for item in items:
        expires = item.get("expires_at")
        if isinstance(expires, (int, Decimal)) and not isinstance(expires, bool) and int(expires) <= stamp:
            continue
        out.append(dict(item))
    return out


def check(
    events: Iterable[Mapping[str, Any]],
    profile: Mapping[str, Any] | None,
    now: datetime,
    states: Iterable[Mapping[str, Any]] = (),
) -> list[Finding]:
    """Everything wrong with one person's chain: every event's own hash, its key, every
    link, the head on the profile, the links a confirmation needs, and whether each purpose
    state agrees with the chain's last word on it. Empty: the chain is whole."""
    stamp = int(now.timestamp())
    present = sorted(live(events, now), key=lambda e: str(e["sk"]))
    head = Head.of(profile)
    found: list[Finding] = []

    def finding(kind: str, event: Mapping[str, Any] | None, detail: str, seq: int | None = None) -> None:
        event = event or {}
        number = seq if seq is not None else (int(event["seq"]) if "seq" in event else None)
        found.append(Finding(kind, number, detail, event.get("at"), event.get("type")))

    by_seq: dict[int, list[dict[str, Any]]] = {}
    damaged: set[int] = set()
    for event in present:
        if not event.get("hash") or "seq" not in event:
            finding("inserted", event, f"{event['sk']} is not on the chain: it carries no hash")
            continue
        if hash_of(event) != event["hash"]:
            finding("altered", event, "its content no longer matches its hash")
            if "seq" in event:
                damaged.add(int(event["seq"]))
            continue
        if not str(event["sk"]).startswith(f"E#{event.get('at')}#"):
            finding("reordered", event, f"it happened at {event.get('at')} but is filed under {event['sk']}")
        by_seq.setdefault(int(event["seq"]), []).append(event)
    if profile is None and by_seq:
        first = by_seq[min(by_seq)][0]
        finding(
            "inserted", first, "events of nobody on file: the profile that holds their chain head is gone"
        )
        return found
    last = max([head.seq, *by_seq])
    chain: dict[int, dict[str, Any]] = {}
    for seq in range(last, 0, -1):
        candidates = by_seq.get(seq, [])
        if not candidates:
            continue
        successor = chain.get(seq + 1)
        wanted = successor["prev"] if successor is not None else (head.hash if seq == head.seq else None)
        genuine = [e for e in candidates if wanted is None or e["hash"] == wanted]
        for extra in candidates:
            if genuine and extra is genuine[0]:
                continue
            if successor is None and seq > head.seq:
                continue  # judged below, with the head
            finding("inserted", extra, f"a second event claims place {seq} in the chain")
        if genuine:
            chain[seq] = genuine[0]
        elif successor is not None:
            finding(
                "altered",
                candidates[0],
                f"event {seq + 1} follows a different event {seq}: this one was rewritten and rehashed",
            )
    # The head: the profile must name the last event.
    if last > head.seq:
        beyond = [chain.get(s) or by_seq[s][0] for s in range(head.seq + 1, last + 1) if s in by_seq]
        linked = all(e["prev"] == (chain.get(int(e["seq"]) - 1) or {}).get("hash", "") for e in beyond) and (
            head.seq == 0 or chain.get(head.seq, {}).get("hash") == head.hash
        )
        if linked and beyond:
            finding(
                "head",
                beyond[-1],
                f"events {head.seq + 1} to {last} lie past the profile's chain head (event {head.seq}): "
                "an old copy of the profile was put back, or they were added without moving the head",
                seq=head.seq,
            )
        else:
            for event in beyond:
                finding("inserted", event, f"event {event['seq']} is past the chain's head ({head.seq})")
    elif head.seq and head.seq in chain and chain[head.seq]["hash"] != head.hash:
        finding("head", chain[head.seq], "the profile's chain head names another last event")
    # Gaps: lawful only where the event after them says they were due to expire by now.
    for seq in range(1, head.seq + 1):
        if seq in chain or seq in by_seq or seq in damaged:
            continue
        after = next((chain[s] for s in range(seq + 1, head.seq + 1) if s in chain), None)
        ttl, run = (
            (int(after.get("prev_ttl", 0)), int(after.get("prev_run", 0))) if after else (head.ttl, head.run)
        )
        if ttl and run and run <= seq and ttl <= stamp:
            continue
        before = next((chain[s] for s in range(seq - 1, 0, -1) if s in chain), None)
        where = " and ".join(
            f"{'after' if e is before else 'before'} {e.get('type')} at {e.get('at')}"
            for e in (before, after)
            if e is not None
        )
        finding("removed", None, f"event {seq} is missing ({where or 'the only one'})", seq=seq)
    # Presence, not validity: an altered event was reported above, once.
    numbered = {int(e["seq"]): e for e in present if "seq" in e and e.get("hash")}
    found += _links({**numbered, **chain})
    found += _states({**numbered, **chain}, live(states, now))
    return found


def _links(chain: Mapping[int, Mapping[str, Any]]) -> list[Finding]:
    """A confirmation proves a signup: its request and its confirmation mail must be there."""
    found = []
    kinds = {(e.get("type"), e.get("signup"), e.get("purpose")) for e in chain.values()}
    sent = {e.get("signup") for e in chain.values() if e.get("type") == "confirmation_sent"}
    for seq, event in sorted(chain.items()):
        if event.get("type") != "confirmed" or not event.get("signup"):
            continue
        signup = event["signup"]
        if ("signup_requested", signup, event.get("purpose")) not in kinds:
            found.append(
                Finding(
                    "removed",
                    seq,
                    f"the signup request that event {seq} confirms is missing",
                    event.get("at"),
                    "confirmed",
                )
            )
        if signup not in sent:
            found.append(
                Finding(
                    "removed",
                    seq,
                    f"the confirmation mail event {seq} confirms is missing",
                    event.get("at"),
                    "confirmed",
                )
            )
    return found


def _states(chain: Mapping[int, Mapping[str, Any]], states: Iterable[Mapping[str, Any]]) -> list[Finding]:
    """Each purpose's state must be the chain's last word on it."""
    last: dict[str, Mapping[str, Any]] = {}
    for _seq, event in sorted(chain.items()):
        if event.get("purpose") and (event.get("type") in GRANTS or event.get("type") == "withdrawn"):
            last[str(event["purpose"])] = event
    found = []
    for item in states:
        purpose = str(item["sk"]).split("#", 1)[1]
        state = item.get("state")
        word = last.get(purpose)
        said = None if word is None else ("withdrawn" if word.get("type") == "withdrawn" else "granted")
        if said != state or ("aud_pk" in item and state != "granted"):
            found.append(
                Finding(
                    "state",
                    int(word["seq"]) if word else None,
                    f"{purpose} is {state} in the table, but the chain's last word on it is "
                    f"{said or 'nothing'}: the state item was altered or an old copy put back",
                    word.get("at") if word else None,
                    word.get("type") if word else None,
                )
            )
    return found
