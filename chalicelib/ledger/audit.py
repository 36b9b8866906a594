"""Checking a person's hash chain (chain.py): what the evidence dossier and ``make verify``
report. Only they import it; nothing on a form, signup or link route does.

Each finding names its kind: ``altered`` (an event no longer matches its hash, or was
rewritten and rehashed), ``removed`` (a place in the chain is empty and no TTL explains
it), ``inserted`` (an event that is not on the chain), ``reordered`` (an event filed under a
time other than its own), ``head`` (the profile's head is behind its events) and
``state`` (a purpose state that is not the chain's last word on it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.ledger.chain import Head, hash_of

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
    kinds = {(e.get("type"), e.get("signup"), p) for e in chain.values() for p in purposes_of(e)}
    sent = {e.get("signup") for e in chain.values() if e.get("type") == "confirmation_sent"}
    for seq, event in sorted(chain.items()):
        if event.get("type") != "confirmed" or not event.get("signup"):
            continue
        signup = event["signup"]
        if any(("signup_requested", signup, p) not in kinds for p in purposes_of(event)):
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


def purposes_of(event: Mapping[str, Any]) -> list[str]:
    """The purposes an event speaks of: a signup's and a confirmation's one event lists them
    (issue 16), an event stored per purpose names one."""
    if "purposes" in event:
        return [str(p) for p in event["purposes"]]
    return [str(event["purpose"])] if event.get("purpose") else []


def _states(chain: Mapping[int, Mapping[str, Any]], states: Iterable[Mapping[str, Any]]) -> list[Finding]:
    """Each purpose's state must be the chain's last word on it."""
    last: dict[str, Mapping[str, Any]] = {}
    for _seq, event in sorted(chain.items()):
        if event.get("type") in GRANTS or event.get("type") == "withdrawn":
            last.update(dict.fromkeys(purposes_of(event), event))
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
