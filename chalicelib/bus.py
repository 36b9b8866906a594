"""The stage's EventBridge bus: consent changes leave through it (issue 14).

PutEvents takes at most 10 entries a call and may accept some and refuse others
(``FailedEntryCount``; throttled or failed inside EventBridge): the refused ones are sent
again, a few times with a growing pause, and whatever still fails raises ``PublishFailed``
after every other entry was sent, so the stream handler fails and Lambda delivers the whole
batch again. Entries already on the bus then arrive a second time with the same ids:
at least once, never lost.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

SOURCE = "consentry"
"""Every event's source: the pattern a rule on the bus matches (resources.yaml)."""
PER_CALL = 10
ATTEMPTS = 4
PAUSE_SECONDS = 0.1


class PublishFailed(RuntimeError):
    """Entries the bus kept refusing; the error codes only (never an entry's content)."""

    def __init__(self, codes: Sequence[str]) -> None:
        super().__init__(f"{len(codes)} entries refused: {', '.join(sorted(set(codes)))}")
        self.codes = list(codes)


@lru_cache(maxsize=4)
def _client(region: str) -> EventBridgeClient:
    from chalicelib import aws

    return cast("EventBridgeClient", aws.client("events", region))


def entry(bus: str, detail_type: str, detail: dict[str, Any], at: datetime) -> PutEventsRequestEntryTypeDef:
    """One PutEvents entry: the change's type as detail-type, its time as the event's."""
    return {
        "EventBusName": bus,
        "Source": SOURCE,
        "DetailType": detail_type,
        "Detail": json.dumps(detail, separators=(",", ":")),
        "Time": at,
    }


def publish(entries: Sequence[PutEventsRequestEntryTypeDef], *, region: str) -> int:
    """Put every entry on the bus, 10 a call; resend refused ones. Returns the number of
    resends; raises PublishFailed for entries still refused after ``ATTEMPTS`` tries."""
    client = _client(region)
    refused: list[str] = []
    resent = 0
    for start in range(0, len(entries), PER_CALL):
        pending = list(entries[start : start + PER_CALL])
        codes: list[str] = []
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(PAUSE_SECONDS * 2 ** (attempt - 1))
                resent += len(pending)
            answer = client.put_events(Entries=pending)
            if not answer.get("FailedEntryCount"):
                pending = []
                break
            results = answer["Entries"]  # in the order of the entries sent
            codes = [str(r.get("ErrorCode")) for r in results if r.get("ErrorCode")]
            pending = [e for e, r in zip(pending, results, strict=True) if r.get("ErrorCode")]
        if pending:
            refused += codes
    if refused:
        raise PublishFailed(refused)
    return resent
