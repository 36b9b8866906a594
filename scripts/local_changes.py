"""Consent changes on `make run` (issue 14): the table's stream read as Lambda reads it, and
the stage's bus watched through a queue.

On AWS, Lambda polls the ledger table's DynamoDB stream and invokes ``push_changes`` with
batches of records; rules on the stage's event bus deliver what it puts there. Locally,
DynamoDB Local keeps the stream (the ``dynamodbstreams`` API on its own endpoint) and moto's
server runs the bus. ``StreamReader`` reads every shard of the stream and hands the app's
handler the event Lambda would (a batch that fails is handed over again, as Lambda retries
it); ``tap`` adds a rule that sends everything on the bus to a local SQS queue, and
``BusTap`` reads that queue into the list the mail viewer shows beside the mail.

The tests use the same pieces (tests/test_pushed_changes.py), against DynamoDB Local's real
stream and moto's EventBridge.
"""

from __future__ import annotations

import collections
import html
import json
import logging
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

log = logging.getLogger("local_stack")

TAP_NAME = "consentry-{stage}-bus-tap"
"""The local rule and queue that see everything on the bus (never on AWS)."""

Handler = Callable[[dict[str, Any]], Any]


def lambda_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A GetRecords record as a Lambda DynamoDB Streams event carries it: the same fields,
    the creation time in epoch seconds, and the stream's ARN."""
    data = dict(record["dynamodb"])
    created = data.get("ApproximateCreationDateTime")
    if created is not None and not isinstance(created, (int, float)):
        data["ApproximateCreationDateTime"] = int(created.timestamp())
    out = {**record, "dynamodb": data, "eventSourceARN": stream_arn, "awsRegion": region}
    return out


class StreamReader:
    """Every shard of a table's stream, read in order; what the handler took is skipped.

    ``start``: where to begin in the shards open now (``LATEST`` for `make run`, which must
    not push a restarted stack's past again; ``TRIM_HORIZON`` for a test's fresh table).
    Shards that open later are read from their start."""

    def __init__(self, ddb: Any, streams: Any, table: str, region: str, start: str = "LATEST") -> None:
        self.streams = streams
        self.region = region
        self.arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        self._iterators: dict[str, str] = {}
        self._closed: set[str] = set()
        self._refresh(start)

    def _refresh(self, start: str = "TRIM_HORIZON") -> None:
        """Open an iterator for every shard not seen before."""
        shards = self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
        for shard in shards:
            sid = shard["ShardId"]
            if sid not in self._iterators and sid not in self._closed:
                self._iterators[sid] = self._iterator(sid, start)

    def _iterator(self, shard: str, kind: str, sequence: str | None = None) -> str:
        args = {"StreamArn": self.arn, "ShardId": shard, "ShardIteratorType": kind}
        if sequence:
            args["SequenceNumber"] = sequence
        return str(self.streams.get_shard_iterator(**args)["ShardIterator"])

    def poll(self, handler: Handler) -> int:
        """Hand each shard's new records to ``handler`` as one Lambda event; move past
        them only when it returns. The number of records handed over and taken."""
        self._refresh()
        taken = 0
        for shard, iterator in list(self._iterators.items()):
            answer = self.streams.get_records(ShardIterator=iterator, Limit=100)
            records = answer.get("Records", [])
            if records:
                event = {"Records": [lambda_record(r, self.arn, self.region) for r in records]}
                try:
                    handler(event)
                except Exception:
                    # Lambda retries the batch: read it again from its first record.
                    first = records[0]["dynamodb"]["SequenceNumber"]
                    self._iterators[shard] = self._iterator(shard, "AT_SEQUENCE_NUMBER", first)
                    raise
                taken += len(records)
            following = answer.get("NextShardIterator")
            if following:
                self._iterators[shard] = following
            else:  # the shard closed; its children appear in describe_stream
                del self._iterators[shard]
                self._closed.add(shard)
        return taken


def tap(sqs: Any, events: Any, bus: str, stage: str = "local") -> str:
    """A rule on the bus that sends every consent change to a local queue; its URL."""
    name = TAP_NAME.format(stage=stage)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name=name, EventBusName=bus, EventPattern=json.dumps({"source": ["consentry"]}), State="ENABLED"
    )
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "local-tap", "Arn": arn}])
    return str(url)


class BusTap:
    """What arrived on the tap's queue, newest first (the last ``keep``)."""

    def __init__(self, sqs: Any, queue_url: str, keep: int = 200) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self._seen: collections.deque[dict[str, Any]] = collections.deque(maxlen=keep)
        self._lock = threading.Lock()

    def drain(self, wait_seconds: int = 0) -> list[dict[str, Any]]:
        """Take what waits on the queue: the EventBridge events, oldest first."""
        got: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                got.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            wait_seconds = 0
        with self._lock:
            self._seen.extend(got)
        return got

    def seen(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(reversed(self._seen))

    def section(self) -> str:
        """The mail viewer's part: each change as a CRM would get it, newest first."""
        rows = []
        for event in self.seen():
            d = event.get("detail", {})
            cells = (
                d.get("since", ""),
                d.get("type", ""),
                d.get("purpose") or d.get("reason") or "",
                d.get("email", "(no address)"),
                d.get("subject", "")[:12],
                d.get("id", ""),
            )
            rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
        head = "".join(
            f"<th>{h}</th>" for h in ("since", "change", "purpose / reason", "address", "subject", "id")
        )
        table = f'<table id="changes"><tr>{head}</tr>{"".join(rows)}</table>' if rows else "<p>None yet.</p>"
        return (
            "<style>#changes td,#changes th{text-align:left;padding:.2rem .4rem;"
            "border-bottom:1px solid #eee;font-size:.9rem}</style>"
            f"<h1>Consent changes on the bus (newest first)</h1>{table}"
        )


def _failed(what: str, exc: BaseException) -> None:
    """Type and place only: an error's text may quote an address."""
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" at {Path(frame.filename).name}:{frame.lineno}" if frame else ""
    log.warning("%s failed: %s%s; tried again", what, type(exc).__name__, where)


def start(
    handler: Callable[[dict[str, Any], Any], Any],
    resources: dict[str, str],
    dynamodb_url: str,
    stop: threading.Event,
) -> tuple[BusTap, list[threading.Thread]]:
    """The two loops of `make run`: the stream into ``handler`` (app.push_changes) every
    half second, and the tap's queue into the viewer's list. Both end with ``stop``."""
    import boto3

    region = resources["region"]
    ddb = boto3.client("dynamodb", region_name=region, endpoint_url=dynamodb_url)
    streams = boto3.client("dynamodbstreams", region_name=region, endpoint_url=dynamodb_url)
    sqs = boto3.client("sqs", region_name=region)
    bus_tap = BusTap(sqs, tap(sqs, boto3.client("events", region_name=region), resources["event_bus"]))
    reader = StreamReader(ddb, streams, resources["table"], region, start="LATEST")

    def read_stream() -> None:
        while not stop.wait(0.5):
            try:
                while reader.poll(lambda event: handler(event, None)):
                    pass
            except Exception as exc:  # as Lambda: the batch stays, and is tried again
                if not stop.is_set():
                    _failed("push_changes", exc)
                    stop.wait(2)

    def read_tap() -> None:
        while not stop.is_set():
            try:
                bus_tap.drain(wait_seconds=1)
            except (BotoCoreError, ClientError) as exc:
                if not stop.is_set():
                    _failed("reading the bus tap", exc)
                    stop.wait(1)

    threads = [threading.Thread(target=read_stream), threading.Thread(target=read_tap)]
    for thread in threads:
        thread.start()
    return bus_tap, threads
