"""Rate counters: written in the same transaction as what they count.

A counter's update is conditioned on it being below its cap, so a capped write writes
nothing at all; its label (``cap:<name>``) tells which cap refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from chalicelib.ledger import layout
from chalicelib.ledger.errors import RateLimited, Refused
from chalicelib.ledger.people import People
from chalicelib.ledger.records import RateCap
from chalicelib.ledger.table import Op, Transaction

LABEL = "cap:"


def counter(cap: RateCap, now: datetime) -> Op:
    """One use counted against ``cap``, refused (label ``cap:<name>``) when it is at its cap."""
    if cap.sliding:
        return _sliding(cap, now)
    window = int(now.timestamp()) // cap.window_seconds
    return Op.update(
        LABEL + cap.name,
        layout.rate(cap.name, cap.key, window),
        "ADD n :one SET expires_at = if_not_exists(expires_at, :exp)",
        condition="attribute_not_exists(n) OR n < :limit",
        values={":one": 1, ":limit": cap.limit, ":exp": (window + 1) * cap.window_seconds + cap.keep_seconds},
    )


def _sliding(cap: RateCap, now: datetime) -> Op:
    """At most ``limit`` uses in any ``window_seconds``, in one update and no read.

    Slots t1..tN hold the times of the last N uses, t1 the oldest. A use is allowed
    while t1 is missing or older than the window; it shifts every slot down by one and
    puts now last: ``SET t1 = if_not_exists(t2, 0), …, tN = :now``. DynamoDB evaluates
    every right-hand operand on the item as it was before the update (and each slot is
    read before it is written, so a left-to-right evaluation agrees).
    """
    at = int(now.timestamp())
    slots = [f"t{i}" for i in range(1, cap.limit + 1)]
    shifts = [f"{slots[i]} = if_not_exists({slots[i + 1]}, :zero)" for i in range(cap.limit - 1)]
    return Op.update(
        LABEL + cap.name,
        layout.rate(cap.name, cap.key),
        "SET " + ", ".join([*shifts, f"{slots[-1]} = :now", "expires_at = :exp"]),
        condition="attribute_not_exists(t1) OR t1 < :cutoff",
        values={
            ":zero": 0 if shifts else None,
            ":now": at,
            ":cutoff": at - cap.window_seconds,
            ":exp": at + cap.window_seconds + cap.keep_seconds,
        },
    )


def counted(tx: Transaction, caps: Sequence[RateCap], now: datetime) -> Transaction:
    """The transaction with one use counted against each cap, first."""
    return tx.add(*(counter(cap, now) for cap in caps))


def over_cap(refused: Refused) -> RateLimited | None:
    """The cap that refused a write, if one did: it wins over any other refusal."""
    label = refused.failed_any(LABEL)
    return RateLimited(label[len(LABEL) :]) if label else None


class Counters(People):
    def charge(self, caps: Sequence[RateCap], now: datetime) -> None:
        """Count one use against caps that guard no write of their own (a request's per-IP
        limit): one update per call. Raises RateLimited, and then counts nothing."""
        try:
            if len(caps) == 1:
                self.table.write(counter(caps[0], now))
            elif caps:
                counted(self.table.transaction(), caps, now).commit()
        except Refused as refused:
            raise over_cap(refused) or refused from refused
