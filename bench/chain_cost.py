"""What the hash chain (issue 14) adds to a signup and its confirmation, in DynamoDB units:
``python -m bench.chain_cost`` (DynamoDB Local from node_modules, as the tests use it).

Each flow runs twice on a fresh table: with the chain, and with ``Transaction.event``
stripped of its chain (events written as before issue 14). DynamoDB reports the capacity
each call consumed (``ReturnConsumedCapacity=INDEXES``): write units for the transactions
(2 per item and KB), read units for the head read, index units for the chain index.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _flows(client: Any, table: str, chained: bool) -> dict[str, dict[str, float]]:
    from chalicelib.catalogue import ConsentText
    from chalicelib.ledger import Evidence, Ledger, Person, clear_cache, layout, utc_now
    from chalicelib.ledger.table import Transaction

    clear_cache()
    units: dict[str, Counter[str]] = {}
    current: list[str] = []

    def before(params: dict[str, Any], **_: Any) -> None:
        params["ReturnConsumedCapacity"] = "INDEXES"

    def after(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if not current:
            return
        counted = units.setdefault(current[-1], Counter())
        consumed = parsed.get("ConsumedCapacity")
        for entry in consumed if isinstance(consumed, list) else [consumed] if consumed else []:
            counted["write units" if model.name in ("TransactWriteItems", "PutItem", "UpdateItem") else "read units"] += (
                entry.get("Table", {}).get("CapacityUnits", 0) or entry.get("CapacityUnits", 0)
            )
            for name, index in (entry.get("GlobalSecondaryIndexes") or {}).items():
                counted[f"index {name} units"] += index.get("CapacityUnits", 0)
        counted[f"{model.name} calls"] += 1

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

        def upsert(self: Transaction, label: str, key: dict[str, str], update: str, **attrs: Any) -> Transaction:
            return self.update(label, key, update)

        Transaction.ensure_event = upsert  # type: ignore[method-assign]

        def unchained(self: Transaction, label: str, key: dict[str, str], **attrs: Any) -> Transaction:
            self.events.append(key)
            return self.put(label, {**key, **attrs}, condition="attribute_not_exists(pk)")

        Transaction.event = unchained  # type: ignore[method-assign]
    try:
        ledger = Ledger(client, table)
        texts = [
            ConsentText("newsletter", "nl", "Ja, stuur mij de maandelijkse nieuwsbrief."),
            ConsentText("offers", "nl", "Ja, stuur mij aanbiedingen."),
        ]
        form = Evidence("203.0.113.7", "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0", "form:newsletter", "v1")
        for n in range(3):
            person = Person(f"{n:x}" * 64, f"bench{n}@example.com", "Bench", "nl")
            ledger.store_texts(texts, "newsletter", utc_now())
            with flow("signup (2 purposes)"):
                signup = ledger.record_signup(
                    person, form_id="newsletter", texts=texts, evidence=form, now=utc_now(), retention_seconds=86400
                )
            sent_at = layout.iso(utc_now())
            with flow("mail job (record sent)"):
                ledger.record_confirmation_sent(
                    subject=person.subject, signup_id=signup.id, sent_at=sent_at, expires_at=9_999_999_999, message_id="m"
                )
            with flow("confirm (2 purposes)"):
                ledger.confirm(subject=person.subject, signup_id=signup.id, sent_at=sent_at, evidence=form, now=utc_now())
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

    (port,) = free_ports(1)
    results: dict[str, Any] = {}
    with dynamodb_local.running(port) as url:
        client = boto3.client(
            "dynamodb", region_name="eu-west-1", endpoint_url=url, aws_access_key_id="x", aws_secret_access_key="x"
        )
        for chained in (False, True):
            for name in client.list_tables()["TableNames"]:
                client.delete_table(TableName=name)
            table = ensure_table(client, "local")
            results["with the chain" if chained else "without the chain"] = _flows(client, table, chained)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
