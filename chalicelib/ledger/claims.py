"""Claims: a mail job takes its item (a pending signup, a request) before it sends.

SQS may deliver one job twice at the same time. The job claims the item with one
conditional update that also reads it (``ReturnValues=ALL_NEW``, in place of the read it
replaces), holding a short lease; a second delivery finds the lease and sends nothing. A
job that dies after claiming is delivered again by the queue after its visibility timeout,
by which time the lease is over. A job whose send fails releases its claim, so the queue's
retry need not wait for the lease.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from chalicelib.ledger.errors import Busy, Refused
from chalicelib.ledger.layout import Key, new_id
from chalicelib.ledger.table import Op, Table

LEASE_SECONDS = 60
"""Longer than a mail worker may run (its Lambda timeout, 30 s), shorter than the queues'
visibility timeout (180 s): a live job keeps its claim, a dead one's redelivery finds it over."""

FREE = "(attribute_not_exists(claimed_until) OR claimed_until <= :now)"
"""The condition that no other delivery's lease lasts."""

RELEASED = "REMOVE claim, claimed_until"
"""What marking the mail as sent (or giving it up) removes."""


def lease(now: datetime) -> dict[str, Any]:
    """The values of a new claim (``SET claim = :claim, claimed_until = :until``)."""
    at = int(now.timestamp())
    return {":claim": new_id(), ":until": at + LEASE_SECONDS, ":now": at}


def claim(
    table: Table, label: str, key: Key, condition: str, now: datetime, **values: Any
) -> dict[str, Any] | None:
    """Claim ``key`` where ``condition`` (and no live lease) holds: the item as claimed, or
    None when the condition failed for another reason than a lease (the item is gone, sent
    or not this job's). Raises Busy while another delivery's lease lasts."""
    claimed = lease(now)
    op = Op.update(
        label,
        key,
        "SET claim = :claim, claimed_until = :until",
        condition=f"{condition} AND {FREE}",
        values={**claimed, **values},
    )
    try:
        return table.write(op, return_new=True, old=True)
    except Refused as refused:
        if held(refused.item, now):
            raise Busy(label) from refused
        return None


def held(item: dict[str, Any] | None, now: datetime) -> bool:
    """Whether another delivery's lease on the item lasts (and it is not sent yet)."""
    return (
        item is not None
        and "mail_sent_at" not in item
        and "claimed_until" in item
        and int(item["claimed_until"]) > now.timestamp()
    )


def release(table: Table, label: str, key: Key, claim_id: str) -> None:
    """Give up a claim (the send failed), so the queue's retry may claim at once. Best
    effort: a claim that is no longer ours is left alone."""
    with contextlib.suppress(Refused):
        table.write(Op.update(label, key, RELEASED, condition="claim = :claim", values={":claim": claim_id}))
