"""Time one POST /api/imports of 1,000 rows through the real route, on moto.

    .venv/bin/python scripts/bench_import.py [--rows 1000] [--latency-ms 0 15] [--workers 1 8]

Each run gets a fresh moto account with the stage's resources from resources.yaml, then
imports a realistic mix: rows with proof (three distinct consent texts), rows without
proof (each queues a confirmation mail), rows of suppressed addresses, and invalid rows.
It checks every row got its expected result and prints the wall time of the request.

Two honest adjustments to moto, both printed with the numbers:
- moto deep-copies the whole table before every TransactWriteItems (to roll back a
  cancelled one), so under plain moto 1,000 transactions cost O(rows x table size): about
  10 minutes here, a property of the mock, not of DynamoDB. ``--moto-rollback item``
  (the default) snapshots only the items a transaction touches, with the same rollback.
  ``--moto-rollback table`` keeps moto's own behaviour.
- ``--latency-ms`` sleeps that long in every AWS call before moto answers, to stand in
  for the network round trip to DynamoDB, SQS and SES. moto's backend is not thread-safe,
  so calls are served one at a time behind a lock; the sleeps overlap, as on AWS.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
API_KEY = "bench-api-key-123"


def _environment() -> dict[str, str]:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "CONSENTRY_BASE_URL": "https://consent.bench",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    env = {**config["environment_variables"], **config["stages"]["local"]["environment_variables"]}
    os.environ.update(env)
    return env


CALLS: Counter[str] = Counter()
MOTO_SECONDS = [0.0]


def _patch_moto(rollback: str, latency: float) -> None:
    import moto.dynamodb.models as ddb
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.dynamodb.exceptions import TransactionCanceledException
    from moto.dynamodb.models.table import Table

    lock = threading.Lock()
    answer = getattr(BotocoreStubber, "_bench_original", BotocoreStubber.__call__)
    BotocoreStubber._bench_original = answer  # type: ignore[attr-defined]

    def serve(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        if latency:
            time.sleep(latency)  # the round trip; overlaps between threads as on AWS
        with lock:
            started = time.perf_counter()
            try:
                return answer(self, event_name, request, **kwargs)
            finally:
                # Time moto spends playing the AWS service: on AWS that is server-side.
                MOTO_SECONDS[0] += time.perf_counter() - started
                CALLS[event_name.split(".", 1)[1]] += 1

    BotocoreStubber.__call__ = serve  # type: ignore[method-assign]
    if rollback != "item":
        return

    class _NoTableCopy:
        """moto's transaction copies whole tables; items are snapshotted below instead."""

        @staticmethod
        def deepcopy(obj: Any, memo: Any = None) -> Any:
            return obj if isinstance(obj, Table) else copy.deepcopy(obj, memo)

    ddb.copy = _NoTableCopy  # type: ignore[assignment]
    transact = getattr(ddb.DynamoDBBackend, "_bench_original", ddb.DynamoDBBackend.transact_write_items)
    ddb.DynamoDBBackend._bench_original = transact  # type: ignore[attr-defined]

    def transact_with_item_rollback(self: Any, transact_items: list[dict[str, Any]]) -> None:
        snapshots = []
        for entry in transact_items:
            op = next(iter(entry.values()))
            table = self.get_table(op["TableName"])
            if "Item" in op:
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            current = self.get_item(op["TableName"], key)
            snapshots.append((table, op["TableName"], key, copy.deepcopy(current)))
        try:
            transact(self, transact_items)
        except TransactionCanceledException:
            for table, name, key, before in reversed(snapshots):
                if self.get_item(name, key) is not None:
                    self.delete_item(name, key)
                if before is not None:
                    table.put_item(before.to_json()["Attributes"])
            raise

    ddb.DynamoDBBackend.transact_write_items = transact_with_item_rollback  # type: ignore[method-assign]


TEXTS = (
    "Ja, mail mij aanbiedingen van Voorbeeld Webwinkel B.V.",
    "Yes, send me the newsletter.",
    "Ja, houd mij op de hoogte van acties in de winkel.",
)


def _rows(n: int) -> tuple[list[dict[str, Any]], Counter[str], list[str]]:
    rows: list[dict[str, Any]] = []
    expected: Counter[str] = Counter()
    suppressed: list[str] = []
    for i in range(n):
        email = f"bench{i}@example.com"
        kind = i % 20
        if kind < 12:  # 60 %: proven consent
            rows.append(
                {
                    "email": email,
                    "name": f"Klant {i}",
                    "purposes": ["newsletter", "offers"] if i % 2 else ["offers"],
                    "evidence": {
                        "consented_at": "2024-10-01T12:00:00Z",
                        "source": "webshop checkout",
                        "text": TEXTS[i % 3],
                    },
                }
            )
            expected["imported"] += 1
        elif kind < 18:  # 30 %: no proof, asked once
            rows.append({"email": email, "purposes": ["offers"]})
            expected["reconfirmation_sent"] += 1
        elif kind == 18:  # 5 %: suppressed
            rows.append({"email": email, "purposes": ["offers"], "evidence": rows[0]["evidence"]})
            suppressed.append(email)
            expected["suppressed"] += 1
        else:  # 5 %: invalid
            rows.append({"email": f"bench{i}-at-example.com", "purposes": ["offers"]})
            expected["invalid"] += 1
    return rows, expected, suppressed


def run(rows_n: int, workers: int, latency: float, rollback: str) -> dict[str, Any]:
    from moto import mock_aws

    env = _environment()
    with tempfile.TemporaryDirectory() as project, mock_aws():
        _patch_moto(rollback, latency)
        config = json.loads((ROOT / ".chalice" / "config.json").read_text())
        config["stages"]["local"]["environment_variables"]["CONSENTRY_IMPORT_WORKERS"] = str(workers)
        (Path(project) / ".chalice").mkdir()
        (Path(project) / ".chalice" / "config.json").write_text(json.dumps(config))

        from chalice.test import Client

        from chalicelib import keys
        from scripts.local_stack import provision

        keys.clear_cache()
        resources = provision("local", api_key=API_KEY, stream=False)  # see ensure_table
        import boto3

        import app as app_module

        rows, expected, suppressed = _rows(rows_n)
        ddb = boto3.client("dynamodb", region_name="eu-west-1")
        subject_key = keys.get_keys()
        for email in suppressed:
            ddb.put_item(
                TableName=env["CONSENTRY_TABLE"],
                Item={
                    "pk": {"S": f"SUPPRESS#{subject_key.subject_id(email)}"},
                    "sk": {"S": "SUPPRESS"},
                    "reason": {"S": "erasure"},
                    "at": {"S": "2025-01-01T00:00:00.000000Z"},
                },
            )
        body = json.dumps({"contacts": rows}).encode()
        with Client(app_module.app, stage_name="local", project_dir=project) as client:
            CALLS.clear()
            MOTO_SECONDS[0] = 0.0
            started = time.perf_counter()
            response = client.http.post(
                "/api/imports",
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"},
                body=body,
            )
            elapsed = time.perf_counter() - started
            calls, moto_seconds = dict(CALLS), MOTO_SECONDS[0]
        assert response.status_code == 200, response.body[:500]
        results = json.loads(response.body)["results"]
        got = Counter(r["result"] for r in results)
        assert len(results) == rows_n and got == expected, (got, expected)
        sqs = boto3.client("sqs", region_name="eu-west-1")
        queued = int(
            sqs.get_queue_attributes(
                QueueUrl=resources["queue_url"], AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]["ApproximateNumberOfMessages"]
        )
        keys.clear_cache()
    return {
        "rows": rows_n,
        "workers": workers,
        "latency_ms": latency * 1000,
        "moto_rollback": rollback,
        "seconds": round(elapsed, 2),
        "moto_service_seconds": round(moto_seconds, 2),
        "client_seconds": round(
            elapsed - moto_seconds - (latency * sum(calls.values()) if workers == 1 else 0), 2
        )
        if workers == 1
        else None,
        "aws_calls": calls,
        "body_bytes": len(body),
        "results": dict(got),
        "mail_jobs_queued": queued,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0.0, 15.0])
    parser.add_argument("--moto-rollback", choices=("item", "table"), default="item")
    args = parser.parse_args()
    for latency in args.latency_ms:
        for workers in args.workers:
            print(json.dumps(run(args.rows, workers, latency / 1000, args.moto_rollback)), flush=True)


if __name__ == "__main__":
    main()
