"""Concurrent invocations inside one test process: threads calling the flows the views
call, as Lambda runs simultaneous requests. chalice.test.Client swaps os.environ per
request and is not thread-safe, so the threads go one step below it.

Only on DynamoDB Local (the `aws` fixture's ledger): moto's in-process DynamoDB has no
isolation, and threads crash it ("dictionary changed size during iteration") or let them
read half-written state.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.awsrequest import AWSResponse

from chalicelib.ledger import Evidence


def evidence(channel: str, n: int = 1) -> Evidence:
    return Evidence(f"192.0.2.{n}", "race-test", channel)


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call in its own thread at the same time; return results in order and
    re-raise the first exception (a race must never end in an error)."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
        return [f.result() for f in futures]


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


@contextlib.contextmanager
def cancels_every_transaction(client: Any) -> Iterator[list[int]]:
    """DynamoDB's own 400 for a transaction that lost to others, parsed by botocore as
    it parses DynamoDB's wire answer, for every attempt of ``client``'s TransactWriteItems
    (the count of items of each attempt is yielded). A ``before-call`` answer replaces the
    request (a ``before-send`` one would still let the engine run the transaction)."""
    from botocore.parsers import create_parser

    attempts: list[int] = []

    def cancel(model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        items = json.loads(params["body"])["TransactItems"]
        attempts.append(len(items))
        body = json.dumps(
            {
                "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                "message": "Transaction cancelled, please refer cancellation reasons for specific reasons",
                "CancellationReasons": [{"Code": "TransactionConflict"} for _ in items],
            }
        ).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "test"}
        parser = create_parser(model.service_model.protocol)
        wire = {"status_code": 400, "headers": headers, "body": body}
        parsed = parser.parse(wire, model.output_shape)
        # As botocore's endpoint does: the modeled fields of the error (CancellationReasons).
        error_shape = model.service_model.shape_for_error_code(parsed["Error"]["Code"])
        parsed.update(parser.parse(wire, error_shape))
        return AWSResponse("https://dynamodb.eu-west-1.amazonaws.com/", 400, headers, _Raw(body)), parsed

    client.meta.events.register_first("before-call.dynamodb.TransactWriteItems", cancel)
    try:
        yield attempts
    finally:
        client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", cancel)


def outcomes(calls: list[Callable[[], Any]]) -> list[Any]:
    """Like ``at_once``, for races where some racers are refused: each call's result, or
    the exception it raised."""

    def run(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as exc:  # the refusal is the outcome under test
            return exc

    return at_once([lambda call=call: run(call) for call in calls])
