"""What the hash chain (issue 14) adds to a signup and its confirmation, in DynamoDB units:
``python -m bench.chain_cost`` (DynamoDB Local from node_modules, as the tests use it).

Each flow runs twice on a fresh table: with the chain, and with ``Transaction.event``
stripped of its chain (events written as before issue 14). DynamoDB reports the capacity
each call consumed by DynamoDB's size rules from the items before and after each transaction (DynamoDB Local's
own ConsumedCapacity is not what AWS bills): 2 write units per item and KB for a
transaction, 1 per KB for each index write, 1 read unit per 4 KB of a consistent read.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


INDEXES = (("audience", ("aud_pk", "aud_sk"), False), ("chain", ("chain_period", "pk"), True))
"""The table's global indexes: name, key attributes, keys only (else all attributes)."""


def value_size(value: dict[str, Any]) -> int:
    """DynamoDB's item size rules (the developer guide's 'Item sizes'), closely enough."""
    ((tag, data),) = value.items()
    if tag == "S":
        return len(data.encode())
    if tag == "N":
        return len(str(data).lstrip("-").replace(".", "")) // 2 + 2
    if tag in ("BOOL", "NULL"):
        return 1
    if tag == "B":
        return len(data)
    if tag == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in data.items())
    if tag == "L":
        return 3 + sum(value_size(v) + 1 for v in data)
    if tag == "SS":
        return sum(len(v.encode()) for v in data)
    return sum(len(str(v)) for v in data)


def item_size(item: dict[str, Any] | None) -> int:
    return sum(len(k.encode()) + value_size(v) for k, v in (item or {}).items())


def index_units(
    was: dict[str, Any] | None, now: dict[str, Any] | None, keys: tuple[str, ...], keys_only: bool
) -> int:
    """Write units an index is billed for one item's change (1 per KB per index write)."""

    def entry(item: dict[str, Any] | None) -> dict[str, Any] | None:
        if item is None or any(k not in item for k in keys):
            return None
        return {k: item[k] for k in (*keys, "sk")} if keys_only else item

    old, new = entry(was), entry(now)
    if old == new:
        return 0
    if old is None or new is None:
        return math.ceil(item_size(old or new) / 1024)
    if any(old[k] != new[k] for k in keys):
        return math.ceil(item_size(old) / 1024) + math.ceil(item_size(new) / 1024)
    return math.ceil(max(item_size(old), item_size(new)) / 1024)


def _flows(client: Any, table: str, chained: bool, agent: str) -> dict[str, dict[str, float]]:
    import boto3

    from chalicelib.catalogue import ConsentText
    from chalicelib.ledger import Evidence, Ledger, Person, clear_cache, layout, utc_now
    from chalicelib.ledger.table import Transaction

    clear_cache()
    units: dict[str, Counter[str]] = {}
    current: list[str] = []
    raw = boto3.client("dynamodb", region_name="eu-west-1", endpoint_url=client.meta.endpoint_url)
    before_images: list[tuple[dict[str, Any], dict[str, Any] | None]] = []

    def read(key: dict[str, Any]) -> dict[str, Any] | None:
        return raw.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")

    def before(params: dict[str, Any], model: Any, **_: Any) -> None:
        before_images.clear()
        if model.name == "TransactWriteItems":
            for entry in params["TransactItems"]:
                ((_kind, body),) = entry.items()
                key = body.get("Key") or {"pk": body["Item"]["pk"], "sk": body["Item"]["sk"]}
                before_images.append((key, read(key)))

    def after(parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if not current:
            return
        counted = units.setdefault(current[-1], Counter())
        counted[f"{model.name} calls"] += 1
        if model.name == "TransactWriteItems" and "Error" not in parsed:
            for key, was in before_images:
                now = read(key)
                size = max(item_size(was), item_size(now))
                counted["write units"] += 2 * math.ceil(size / 1024)
                counted["bytes written"] += item_size(now)
                for index, attrs, keys_only in INDEXES:
                    counted[f"index {index} units"] += index_units(was, now, attrs, keys_only)
        elif model.name == "GetItem":
            counted["read units"] += math.ceil(max(1, item_size(parsed.get("Item"))) / 4096)
        elif model.name == "Query":
            counted["read units"] += math.ceil(
                max(1, sum(item_size(i) for i in parsed.get("Items", []))) / 4096
            )

    client.meta.events.register("before-parameter-build.dynamodb", before)
    client.meta.events.register("after-call.dynamodb", after)

    @contextmanager
    def flow(name: str):  # type: ignore[no-untyped-def]
        current.append(name)
        try:
            yield
        finally:
            current.pop()

    original, ensure = Transaction.event, Transaction.ensure_event
    if not chained:

        def upsert(
            self: Transaction, label: str, key: dict[str, str], update: str, **attrs: Any
        ) -> Transaction:
            return self.update(label, key, update)

        Transaction.ensure_event = upsert  # type: ignore[method-assign]

        def unchained(self: Transaction, label: str, key: dict[str, str], **attrs: Any) -> Transaction:
            self.events.append(key)
            return self.put(label, {**key, **attrs}, condition="attribute_not_exists(pk)")

        Transaction.event = unchained  # type: ignore[method-assign]
    try:

        def ledger() -> Ledger:
            return Ledger(client, table)  # a request of its own, as get_ledger() makes one

        texts = [
            ConsentText("newsletter", "nl", "Ja, stuur mij de maandelijkse nieuwsbrief."),
            ConsentText("offers", "nl", "Ja, stuur mij aanbiedingen."),
        ]
        form = Evidence("203.0.113.7", agent, "form:newsletter", "v1")
        for n in range(3):
            person = Person(f"{n:x}" * 64, f"bench{n}@example.com", "Bench", "nl")
            ledger().store_texts(texts, "newsletter", utc_now())
            with flow("signup (2 purposes)"):
                signup = ledger().record_signup(
                    person,
                    form_id="newsletter",
                    texts=texts,
                    evidence=form,
                    now=utc_now(),
                    retention_seconds=86400,
                )
            sent_at = layout.iso(utc_now())
            with flow("mail job (record sent)"):
                ledger().record_confirmation_sent(
                    subject=person.subject,
                    signup_id=signup.id,
                    sent_at=sent_at,
                    expires_at=9_999_999_999,
                    message_id="m",
                )
            with flow("confirm (2 purposes)"):
                ledger().confirm(
                    subject=person.subject, signup_id=signup.id, sent_at=sent_at, evidence=form, now=utc_now()
                )
    finally:
        Transaction.event, Transaction.ensure_event = original, ensure  # type: ignore[method-assign]
        client.meta.events.unregister("before-parameter-build.dynamodb", before)
        client.meta.events.unregister("after-call.dynamodb", after)
    return {name: {k: v / 3 for k, v in sorted(c.items())} for name, c in units.items()}


def main() -> int:
    sys.path.insert(0, str(ROOT))
    import boto3

    from scripts import dynamodb_local
    from scripts.local_stack import ensure_table
    from tests.stack import free_ports

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "bench")  # DynamoDB Local accepts any
    (port,) = free_ports(1)
    results: dict[str, Any] = {}
    with dynamodb_local.running(port) as url:
        client = boto3.client("dynamodb", region_name="eu-west-1", endpoint_url=url)
        agents = {
            "a desktop browser's user agent": "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Firefox/140.0",
            "the longest user agent kept (512 characters)": "M" * 512,
        }
        for label, agent in agents.items():
            for chained in (False, True):
                for name in client.list_tables()["TableNames"]:
                    client.delete_table(TableName=name)
                table = ensure_table(client, "local")
                flows = _flows(client, table, chained, agent)
                results.setdefault(label, {})["with the chain" if chained else "without the chain"] = flows
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
