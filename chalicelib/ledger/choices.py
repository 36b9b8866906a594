"""Saying no: withdrawals, objections, suppression and SES feedback.

Each reads the person's partition once, then writes every state change with its event in
one transaction conditioned on the state it read: a concurrent change refuses it and it is
planned again from a fresh read, so state and evidence never disagree and saying no twice
records nothing new.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from chalicelib.ledger import layout
from chalicelib.ledger.errors import LedgerConflict, PersonGone, Refused
from chalicelib.ledger.layout import iso, new_id, utc_now
from chalicelib.ledger.people import People
from chalicelib.ledger.records import Evidence, SaidNo, Snapshot
from chalicelib.ledger.table import PLANS, Transaction

FEEDBACK = "feedback"
"""The label of a bounce's or complaint's own event: refused, it was recorded before."""


@dataclass
class _Plan:
    """One transaction's operations and what they will have changed once written."""

    tx: Transaction
    withdrawn: list[str] = field(default_factory=list)
    profiling: str | None = None
    suppressed: bool = False


def _feedback_change_id(feedback_id: str | None) -> str:
    """An event id derived from SES's feedback id, so a redelivered notification finds
    its own event already written."""
    if not feedback_id:
        return new_id()
    return hashlib.sha256(feedback_id.encode()).hexdigest()[:16]


class Choices(People):
    def say_no(
        self,
        subject: str,
        *,
        withdraw: Collection[str] | None,
        profiling: str | None = None,
        suppress: str | None = None,
        evidence: Evidence,
        now: datetime,
    ) -> SaidNo:
        """Withdraw purposes (None: every purpose on file), save a profiling choice
        (``objected``/``allowed``), leave a suppression marker: one conditional
        transaction, one event per change.

        Only granted or pending purposes change; a pending signup loses the withdrawn
        purposes (and goes when none is left). Raises PersonGone for nobody on file.
        """

        def plan(snapshot: Snapshot | None) -> _Plan:
            if snapshot is None:
                raise PersonGone(subject)
            # Each attempt stamps its own time: one planned again after a concurrent
            # change must sort after that change, as it was committed after it.
            at, change = iso(max(now, utc_now())), new_id()
            result = _Plan(self.table.transaction())
            purposes = snapshot.purposes if withdraw is None else withdraw
            _withdrawals(result, snapshot, purposes, evidence.as_dict(), at, change)
            _profiling(result, snapshot, profiling, evidence.as_dict(), at, change)
            if suppress:
                _suppression(result, subject, suppress, at)
            return result

        return self._carry_out(subject, now, plan)

    def record_feedback(
        self,
        subject: str,
        *,
        kind: str,
        permanent: bool,
        at: datetime,
        feedback_id: str | None,
        details: dict[str, str],
        now: datetime,
    ) -> SaidNo:
        """SES feedback about our mail, recorded once (a redelivered notification finds its
        own event and changes nothing).

        A complaint (``kind`` "complaint"): a ``complained`` event, every purpose withdrawn
        (channel ``complaint``), a suppression marker; for a subject nobody is on file for,
        only the marker. A bounce: always a ``bounced`` event; a permanent one also takes
        the person out of every audience (no consent is withdrawn: the address failed, the
        person did not say no) and leaves a suppression marker."""
        complaint = kind == "complaint"
        evidence = {"channel": kind, **details}

        def plan(snapshot: Snapshot | None) -> _Plan:
            when, change = iso(at), _feedback_change_id(feedback_id)
            result = _Plan(self.table.transaction())
            event = "complained" if complaint else "bounced"
            if snapshot is not None:
                _event(result.tx, FEEDBACK, snapshot, when, change, event, event, evidence)
                if complaint:
                    _withdrawals(result, snapshot, snapshot.purposes, evidence, when, change)
                elif permanent:
                    for purpose, item in sorted(snapshot.states.items()):
                        if "aud_pk" in item:
                            result.tx.update(
                                f"unlisted:{purpose}",
                                layout.state(subject, purpose),
                                "REMOVE aud_pk, aud_sk",
                                condition="attribute_exists(aud_pk)",
                            )
            if complaint or permanent:
                _suppression(result, subject, kind, when)
            return result

        return self._carry_out(subject, now, plan)

    def _carry_out(self, subject: str, now: datetime, plan_for: Callable[[Snapshot | None], _Plan]) -> SaidNo:
        """Read, plan, write conditionally; plan again from a fresh read if the state
        changed in between. Nothing to change means no write and no event."""
        snapshot = None
        for _plan in range(PLANS):
            snapshot = self.snapshot(subject, now)
            plan = plan_for(snapshot)
            if plan.tx:
                try:
                    plan.tx.commit()
                except Refused as refused:
                    if FEEDBACK in refused.failed:
                        # The event of this very notification exists: a redelivery.
                        return SaidNo(standing=snapshot.standing() if snapshot else None, repeated=True)
                    continue
                except LedgerConflict as exc:
                    raise LedgerConflict(subject, snapshot.lang if snapshot else None) from exc
            after = None
            if snapshot is not None:
                before = snapshot.standing()
                states = {**before.states, **dict.fromkeys(plan.withdrawn, "withdrawn")}
                after = replace(
                    before,
                    states=dict(sorted(states.items())),
                    profiling=plan.profiling or before.profiling,
                    waiting=before.waiting - set(plan.withdrawn),
                )
            return SaidNo(tuple(plan.withdrawn), plan.profiling, plan.suppressed, after)
        raise LedgerConflict(subject, snapshot.lang if snapshot else None)


def _event(
    tx: Transaction,
    label: str,
    snapshot: Snapshot,
    at: str,
    change: str,
    suffix: str,
    kind: str,
    evidence: dict[str, str],
    **attrs: Any,
) -> None:
    """An event of a pending-only person expires with them."""
    tx.event(
        label,
        layout.event(snapshot.subject, at, change, suffix),
        type=kind,
        at=at,
        evidence=evidence,
        expires_at=snapshot.expires_at,
        **attrs,
    )


def _withdrawals(
    plan: _Plan,
    snapshot: Snapshot,
    purposes: Collection[str],
    evidence: dict[str, str],
    at: str,
    change: str,
) -> None:
    subject = snapshot.subject
    for purpose in sorted(set(purposes)):
        item = snapshot.states.get(purpose)
        state = item.get("state") if item else None
        asked = any(purpose in p["purposes"] for p in snapshot.pending)
        if state != "granted" and not asked:
            continue  # never granted, or withdrawn before: nothing to say no to
        sets = "#state = :withdrawn, since = :at, basis = if_not_exists(basis, :consent)"
        values: dict[str, Any] = {":withdrawn": "withdrawn", ":at": at, ":consent": "consent"}
        if snapshot.expires_at is not None:
            sets += ", expires_at = :exp"
            values[":exp"] = snapshot.expires_at
        if item is None:
            condition = "attribute_not_exists(pk)"
        else:
            condition = "#state = :was AND since = :since"
            values.update({":was": state, ":since": item["since"]})
        plan.tx.update(
            f"state:{purpose}",
            layout.state(subject, purpose),
            # Leaving the sparse index at once: no key, no audience row.
            f"SET {sets} REMOVE aud_pk, aud_sk",
            condition=condition,
            names={"#state": "state"},
            values=values,
        )
        _event(
            plan.tx,
            f"withdrawn:{purpose}",
            snapshot,
            at,
            change,
            f"withdrawn-{purpose}",
            "withdrawn",
            {**evidence, "previous": "granted" if state == "granted" else "pending"},
            purpose=purpose,
            basis=(item or {}).get("basis", "consent"),
        )
        plan.withdrawn.append(purpose)
    gone = set(plan.withdrawn)
    for pending in snapshot.pending:
        left = [p for p in pending["purposes"] if p not in gone]
        if len(left) == len(pending["purposes"]):
            continue
        key = {"pk": pending["pk"], "sk": pending["sk"]}
        if left:
            plan.tx.update(
                f"pending:{pending['sk']}",
                key,
                "SET purposes = :left",
                condition="attribute_exists(pk)",
                values={":left": left},
            )
        else:
            plan.tx.delete(f"pending:{pending['sk']}", key, condition="attribute_exists(pk)")


def _profiling(
    plan: _Plan,
    snapshot: Snapshot,
    choice: str | None,
    evidence: dict[str, str],
    at: str,
    change: str,
) -> None:
    if choice is None or choice == snapshot.profiling_state:
        return
    item = {
        **layout.profiling(snapshot.subject),
        "state": choice,
        "since": at,
        "expires_at": snapshot.expires_at,
    }
    if snapshot.profiling is None:
        plan.tx.put("profiling", item, condition="attribute_not_exists(pk)")
    else:
        plan.tx.put(
            "profiling",
            item,
            condition="#state = :was",
            names={"#state": "state"},
            values={":was": snapshot.profiling_state},
        )
    kind = "profiling_objected" if choice == "objected" else "profiling_allowed"
    _event(plan.tx, "profiling-event", snapshot, at, change, kind.replace("_", "-"), kind, evidence)
    plan.profiling = choice


def _suppression(plan: _Plan, subject: str, reason: str, at: str) -> None:
    """The marker: a keyed hash, a reason and a date; never an address. The first
    reason stays."""
    plan.tx.update(
        "suppression",
        layout.suppression(subject),
        "SET #reason = if_not_exists(#reason, :reason), #at = if_not_exists(#at, :at)",
        names={"#reason": "reason", "#at": "at"},
        values={":reason": reason, ":at": at},
    )
    plan.suppressed = True
