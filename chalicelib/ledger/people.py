"""Reading one person: the base every capability of the ledger builds on.

``snapshot`` is the one consistent query of a person's state items that the conditional
writes are planned from; ``contact`` and ``events`` are what the API and the access export
answer. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.ledger import layout
from chalicelib.ledger.records import Snapshot, Standing
from chalicelib.ledger.table import Table

CHAIN_FIELDS = ("seq", "hash", "prev")
"""What each event shows of its place in the person's hash chain (chain.py)."""


class People:
    """Reads a stage's table; receives its table (and the erasure journal's), builds nothing."""

    def __init__(self, table: Table, journal: Table | None = None) -> None:
        self.table = table
        self.journal = journal

    def snapshot(self, subject: str, now: datetime) -> Snapshot | None:
        """Profile, profiling, purpose states and pending signups in one query; None for
        nobody on file (or an expired pending-only person)."""
        profile: dict[str, Any] | None = None
        profiling: dict[str, Any] | None = None
        states: dict[str, dict[str, Any]] = {}
        pending: list[dict[str, Any]] = []
        for item in self.table.query(layout.person(subject), "P"):
            sk = item["sk"]
            if sk == layout.profile(subject)["sk"]:
                profile = item
            elif sk == layout.profiling(subject)["sk"]:
                profiling = item
            elif sk.startswith(layout.STATE_PREFIX):
                states[sk[len(layout.STATE_PREFIX) :]] = item
            elif sk.startswith(layout.PENDING_PREFIX) and int(item["expires_at"]) > now.timestamp():
                pending.append(item)
        if profile is None or layout.expired(profile, now):
            return None
        return Snapshot(subject, profile, profiling, states, pending)

    def standing(self, subject: str, now: datetime) -> Standing | None:
        """The person's standing for the preferences page: one query, nothing written."""
        snapshot = self.snapshot(subject, now)
        return snapshot.standing() if snapshot else None

    def on_file(self, subject: str, now: datetime) -> bool:
        """Whether a (not expired) profile exists: one consistent read."""
        profile = self.table.get(layout.profile(subject))
        return profile is not None and not layout.expired(profile, now)

    def suppression(self, subject: str) -> dict[str, Any] | None:
        """The suppression marker of a subject, if any: reason and date, never an address."""
        return self.table.get(layout.suppression(subject))

    def addresses(self, subjects: Iterable[str]) -> dict[str, str]:
        """subject -> address, for the people whose address is proven (a confirmed signup,
        a soft opt-in, an import with proof): consistent batch reads of their profiles.
        A pending-only person (a numeric ``expires_at``) or an erased one has none to give:
        an address nobody confirmed never leaves the ledger (issue 14, pushed changes)."""
        keys = [layout.profile(s) for s in sorted(set(subjects))]
        found: dict[str, str] = {}
        for item in self.table.get_many(keys):
            pending_only = isinstance(item.get("expires_at"), Decimal)
            if not pending_only and item.get("email"):
                found[layout.subject_of(item["pk"])] = str(item["email"])
        return found

    def contact(self, subject: str, now: datetime) -> dict[str, Any] | None:
        """Profile, per-purpose state and pending signups; None for nobody (or expired).

        A purpose's status is what was last confirmed or withdrawn; ``pending`` only while
        nothing was. ``pending_signup`` tells that an unconfirmed signup asks for it.
        Name and language are the confirmed ones (None while nothing is confirmed).
        """
        snapshot = self.snapshot(subject, now)
        if snapshot is None:
            return None
        waiting = snapshot.waiting
        purposes: dict[str, dict[str, Any]] = {}
        for purpose, item in snapshot.states.items():
            purposes[purpose] = {
                "status": item["state"],
                "basis": item.get("basis", "consent"),
                "since": item["since"],
                "pending_signup": purpose in waiting,
            }
        for item in sorted(snapshot.pending, key=lambda i: i["requested_at"]):
            for purpose in item["purposes"]:
                if purpose not in snapshot.states:
                    purposes[purpose] = {
                        "status": "pending",
                        "basis": "consent",
                        "since": item["requested_at"],
                        "pending_signup": True,
                    }
        return {
            "email": snapshot.profile["email"],
            "name": snapshot.profile.get("name"),
            "lang": snapshot.profile.get("lang"),
            "purposes": dict(sorted(purposes.items())),
            "profiling": snapshot.profiling_state,
            "suppressed": self.suppression(subject) is not None,
        }

    def events(self, subject: str, now: datetime) -> list[dict[str, Any]]:
        """Every event, oldest first, each consent event with the exact text it shows.

        An event that concerns purposes lists them (``purposes``): a signup's or a
        confirmation's one event names all of its purposes, and its evidence maps each to
        the version (``text_versions``) and the exact text (``texts``) shown for it. An
        event stored with one purpose (a withdrawal, a soft opt-in, an import, and every
        event written before issue 16) also keeps ``purpose``, and its one text under
        ``text_version`` and ``text``, as it always did."""
        items = [
            i
            for i in self.table.query(layout.person(subject), layout.EVENT_PREFIX)
            if not layout.expired(i, now)
        ]
        versions = set()
        for item in items:
            evidence = item.get("evidence", {})
            versions |= set(evidence.get("text_versions", {}).values())
            if "text_version" in evidence and "text" not in evidence:
                versions.add(evidence["text_version"])
        texts = self.texts(versions)
        events = []
        for item in items:
            evidence = dict(item.get("evidence", {}))
            version = evidence.get("text_version")
            if version and "text" not in evidence:  # an imported text is in its own event
                evidence["text"] = texts.get(version, {}).get("text")
            if "text_versions" in evidence:
                shown = evidence["text_versions"]
                evidence["texts"] = {p: texts.get(v, {}).get("text") for p, v in sorted(shown.items())}
            event: dict[str, Any] = {"type": item["type"], "at": item["at"]}
            if "purpose" in item:
                event["purpose"] = item["purpose"]
                event["purposes"] = [item["purpose"]]
            if "purposes" in item:
                event["purposes"] = list(item["purposes"])
            if "basis" in item:
                event["basis"] = item["basis"]
            if "signup" in item:
                evidence.setdefault("signup_id", item["signup"])
            event["evidence"] = evidence
            for field in CHAIN_FIELDS:
                if field in item:
                    event[field] = int(item[field]) if field == "seq" else item[field]
            events.append(event)
        return events

    def texts(self, versions: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The stored consent texts by version (texts never change: no consistent read)."""
        keys = [layout.text(v) for v in sorted(set(versions))]
        return {layout.version_of(i["pk"]): i for i in self.table.get_many(keys, consistent=False)}
