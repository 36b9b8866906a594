"""Concurrent invocations inside one test process: threads calling the flows the views
call, as Lambda runs simultaneous requests. chalice.test.Client swaps os.environ per
request and is not thread-safe, so the threads go one step below it.

Only on DynamoDB Local (the `aws` fixture's ledger): moto's in-process DynamoDB has no
isolation, and threads crash it ("dictionary changed size during iteration") or let them
read half-written state.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalicelib.ledger import Evidence


def evidence(channel: str, n: int = 1) -> Evidence:
    return Evidence(f"192.0.2.{n}", "race-test", channel)


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call in its own thread at the same time; return results in order and
    re-raise the first exception (a race must never end in an error)."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
        return [f.result() for f in futures]
