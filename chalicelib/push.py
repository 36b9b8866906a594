"""Consent changes out to the systems that act on them: the stream handler's work (issue 14).

A batch of DynamoDB Streams records becomes events on the stage's bus: each record is
decoded (chalicelib/changes.py), the proven addresses of the people concerned are read in
one batch read (an erasure needs none), and the events are put on the bus 10 a call
(chalicelib/bus.py). When the bus keeps refusing some, this raises, and Lambda delivers the
whole batch again: every change leaves at least once, each time with the same id.

Nothing here imports pydantic or Jinja2, and botocore only once a batch holds a change: the
stream handler's cold start is an ``import app`` and two botocore clients (chalicelib/aws.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from chalicelib import bus
from chalicelib.changes import Record, decode
from chalicelib.settings import SettingsError, get_settings

log = logging.getLogger("consentry.push")


def push(records: Iterable[Record]) -> int:
    """Put the consent changes among ``records`` on the stage's bus; the number put."""
    changes = [c for c in map(decode, records) if c is not None]
    if not changes:
        return 0
    settings = get_settings()
    if not settings.event_bus:
        raise SettingsError("CONSENTRY_EVENT_BUS is not set")
    subjects = {c.subject for c in changes if c.needs_address}
    addresses: dict[str, str] = {}
    if subjects:
        from chalicelib.ledger import get_ledger

        addresses = get_ledger().addresses(subjects)
    entries = [
        bus.entry(settings.event_bus, c.type, c.detail(addresses.get(c.subject)), c.time) for c in changes
    ]
    resent = bus.publish(entries, region=settings.region)
    log.info("changes pushed", extra={"count": len(entries), "attempt": resent})
    return len(entries)
