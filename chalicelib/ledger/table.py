"""The only code that calls DynamoDB: one ``Table`` and one transaction builder.

``Table`` reads (get, batch get, query with paging, one index page) and writes single
items; every request names the table here, once. ``Transaction`` collects labelled
operations and commits them in one ``TransactWriteItems``. Its ``commit`` owns the single
retry policy: a clash with a concurrent transaction (``TransactionConflict``) is sent
again, up to ``ATTEMPTS`` times with a short backoff, then is a ``LedgerConflict``; a
failed condition is a ``Refused`` that names the failed operations by label, never by
position. The capabilities (signups.py, choices.py, ...) turn refusals into domain errors.

Events go through ``Transaction.event``, so whatever every event write must carry along
(a per-person chain head conditioned in the same transaction) has one place to hook in:
``Transaction.events`` lists the events a transaction writes.

The client is created on first use, never at import (importing the ledger imports no
boto3), and can be handed in: ``Table(client, name)``, or ``use(client)`` for the stage's
own ledger.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, TypedDict, Unpack, cast

from chalicelib.ledger import layout
from chalicelib.ledger.errors import LedgerConflict, LedgerUnavailable, Refused
from chalicelib.ledger.layout import Key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

ATTEMPTS = 5
"""How often one transaction is sent while it clashes with concurrent ones."""
BACKOFF_SECONDS = 0.02
"""The first pause between two attempts; it doubles each time (0.3 s at most in all)."""
PLANS = 3
"""How often a write planned from a read is planned again from a fresh read when the state
it was conditioned on changed in between (a refused condition), before a LedgerConflict."""
BATCH_GET = 100
BATCH_WRITE = 25

Action = Literal["Put", "Update", "Delete", "ConditionCheck"]


class Names(TypedDict, total=False):
    """The attribute names and values a write's expressions use."""

    names: Mapping[str, str] | None
    values: Mapping[str, Any] | None


class Expression(Names, total=False):
    """A write's condition, and its names and values."""

    condition: str | None


@dataclass(frozen=True)
class Op:
    """One labelled write: the label names it when DynamoDB refuses it."""

    label: str
    action: Action
    body: dict[str, Any]

    @staticmethod
    def put(label: str, item: Mapping[str, Any], **expression: Unpack[Expression]) -> Op:
        """Put an item (its None attributes left out)."""
        return Op(label, "Put", _expression({"Item": layout.coded(item)}, expression))

    @staticmethod
    def update(label: str, key: Key, update: str, **expression: Unpack[Expression]) -> Op:
        body = {"Key": layout.coded(key), "UpdateExpression": update}
        return Op(label, "Update", _expression(body, expression))

    @staticmethod
    def delete(label: str, key: Key, **expression: Unpack[Expression]) -> Op:
        return Op(label, "Delete", _expression({"Key": layout.coded(key)}, expression))

    @staticmethod
    def check(label: str, key: Key, condition: str, **expression: Unpack[Names]) -> Op:
        """A condition on an item this transaction does not write."""
        return Op(
            label,
            "ConditionCheck",
            _expression({"Key": layout.coded(key)}, {**expression, "condition": condition}),
        )


def _expression(body: dict[str, Any], expression: Expression) -> dict[str, Any]:
    if condition := expression.get("condition"):
        body["ConditionExpression"] = condition
    if names := expression.get("names"):
        body["ExpressionAttributeNames"] = dict(names)
    if values := expression.get("values"):
        body["ExpressionAttributeValues"] = layout.coded(values)
    return body


class Table:
    """One DynamoDB table, read and written in plain Python values (layout.py codes them)."""

    def __init__(self, client: DynamoDBClient, name: str) -> None:
        self.client = client
        self.name = name

    # -- reads ----------------------------------------------------------------------

    def get(self, key: Key, *, consistent: bool = True) -> dict[str, Any] | None:
        answer = self.client.get_item(TableName=self.name, Key=layout.coded(key), ConsistentRead=consistent)
        return layout.plain(answer["Item"]) if "Item" in answer else None

    def get_many(self, keys: Sequence[Key], *, consistent: bool = True) -> list[dict[str, Any]]:
        """Batch reads, 100 keys a call, retrying what DynamoDB left over; in no order."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), BATCH_GET):
            chunk = [layout.coded(k) for k in keys[start : start + BATCH_GET]]
            request: dict[str, Any] = {self.name: {"Keys": chunk, "ConsistentRead": consistent}}
            while request:
                answer = self.client.batch_get_item(RequestItems=request)
                found += map(layout.plain, answer["Responses"].get(self.name, []))
                request = dict(answer.get("UnprocessedKeys") or {})
        return found

    def query(
        self, pk: str, prefix: str | None = None, *, keys_only: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Every item of a partition (whose sk starts with ``prefix``), consistently, page
        after page."""
        condition = "pk = :pk" + (" AND begins_with(sk, :prefix)" if prefix is not None else "")
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": layout.coded({":pk": pk, ":prefix": prefix}),
            "ConsistentRead": True,
        }
        if keys_only:
            kwargs["ProjectionExpression"] = "pk, sk"
        while True:
            page = self.client.query(**kwargs)
            yield from map(layout.plain, page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def index_page(
        self, index: str, attribute: str, value: str, *, limit: int, start: Mapping[str, str] | None
    ) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
        """One page of a global index's partition, and the key to continue from (or None)."""
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "IndexName": index,
            "KeyConditionExpression": f"{attribute} = :value",
            "ExpressionAttributeValues": layout.coded({":value": value}),
            "Limit": limit,
        }
        if start:
            kwargs["ExclusiveStartKey"] = layout.coded(start)
        page = self.client.query(**kwargs)
        last = page.get("LastEvaluatedKey")
        items = [layout.plain(i) for i in page.get("Items", [])]
        return items, ({k: str(v) for k, v in layout.plain(last).items()} if last else None)

    # -- writes ---------------------------------------------------------------------

    def transaction(self) -> Transaction:
        return Transaction(self)

    def write(self, op: Op, *, return_new: bool = False, old: bool = False) -> dict[str, Any] | None:
        """One item written on its own (a Put or an Update): the item as written when
        ``return_new`` (Updates only), else None. A failed condition raises Refused; with
        ``old``, the refusal carries the item as it was (None: there was none)."""
        params: dict[str, Any] = {**op.body, "TableName": self.name}
        if old:
            params["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        if op.action not in ("Put", "Update"):
            raise ValueError(f"{op.action} is written in a transaction only")
        if return_new and op.action == "Update":
            params["ReturnValues"] = "ALL_NEW"
        for attempt in range(ATTEMPTS):
            try:
                if op.action == "Put":
                    self.client.put_item(**params)
                    return None
                answer = self.client.update_item(**params)
                return layout.plain(answer["Attributes"]) if return_new else None
            except self.client.exceptions.ConditionalCheckFailedException as exc:
                was = cast("dict[str, Any]", exc.response).get("Item")
                raise Refused({op.label: Refused.CONDITION}, layout.plain(was) if was else None) from exc
            except self.client.exceptions.TransactionConflictException as exc:
                # The item is in a transaction right now: the same policy as ``commit``.
                if attempt + 1 == ATTEMPTS:
                    raise LedgerConflict() from exc
                time.sleep(BACKOFF_SECONDS * 2**attempt)
        raise AssertionError("unreachable")

    def delete_all(self, keys: Sequence[Key]) -> None:
        """Delete items 25 a call, retrying what DynamoDB left over with a backoff."""
        for start in range(0, len(keys), BATCH_WRITE):
            chunk = [{"DeleteRequest": {"Key": layout.coded(k)}} for k in keys[start : start + BATCH_WRITE]]
            request: dict[str, Any] = {self.name: chunk}
            for attempt in range(8):
                answer = self.client.batch_write_item(RequestItems=request)
                request = dict(answer.get("UnprocessedItems") or {})
                if not request:
                    break
                time.sleep(0.05 * 2**attempt)
            if request:
                raise LedgerUnavailable("DynamoDB kept refusing deletes; run it again")

    def _transact_item(self, op: Op) -> TransactWriteItemTypeDef:
        body: Any = {**op.body, "TableName": self.name}
        if op.action == "Put":
            return {"Put": body}
        if op.action == "Update":
            return {"Update": body}
        if op.action == "Delete":
            return {"Delete": body}
        return {"ConditionCheck": body}


@dataclass
class Transaction:
    """Labelled operations committed together: all or nothing, in one call."""

    table: Table
    ops: list[Op] = field(default_factory=list)
    events: list[Key] = field(default_factory=list)
    """The keys of the events this transaction writes, in order."""

    def __len__(self) -> int:
        return len(self.ops)

    @property
    def labels(self) -> list[str]:
        return [op.label for op in self.ops]

    def add(self, *ops: Op) -> Transaction:
        for op in ops:
            if op.label in self.labels:
                raise ValueError(f"two operations labelled {op.label!r}")
            self.ops.append(op)
        return self

    def put(self, label: str, item: Mapping[str, Any], **expression: Unpack[Expression]) -> Transaction:
        return self.add(Op.put(label, item, **expression))

    def update(self, label: str, key: Key, update: str, **expression: Unpack[Expression]) -> Transaction:
        return self.add(Op.update(label, key, update, **expression))

    def delete(self, label: str, key: Key, **expression: Unpack[Expression]) -> Transaction:
        return self.add(Op.delete(label, key, **expression))

    def check(self, label: str, key: Key, condition: str, **expression: Unpack[Names]) -> Transaction:
        return self.add(Op.check(label, key, condition, **expression))

    def event(self, label: str, key: Key, **attrs: Any) -> Transaction:
        """Write one event: never over an existing one (a repeat of the same change finds
        its own event and is refused by this label)."""
        self.events.append(key)
        return self.put(label, {**key, **attrs}, condition="attribute_not_exists(pk)")

    def commit(self) -> None:
        """Write every operation or none. A clash with concurrent transactions is sent
        again (the single retry policy); raises LedgerConflict when it keeps clashing and
        Refused, by label, when a condition fails or DynamoDB refuses for another reason."""
        items = [self.table._transact_item(op) for op in self.ops]
        client = self.table.client
        for attempt in range(ATTEMPTS):
            try:
                client.transact_write_items(TransactItems=items)
                return
            except client.exceptions.TransactionCanceledException as exc:
                codes = _codes(exc)
                labelled = {
                    label: code for label, code in zip(self.labels, codes, strict=False) if code != "None"
                }
                if "TransactionConflict" not in codes or Refused.CONDITION in codes:
                    raise Refused(labelled) from exc
                if attempt + 1 == ATTEMPTS:
                    raise LedgerConflict() from exc
                time.sleep(BACKOFF_SECONDS * 2**attempt)


def _codes(exc: Exception) -> list[str]:
    """The reason of each operation of a cancelled transaction ("None" for those that passed)."""
    response = cast("dict[str, Any]", getattr(exc, "response", {}))
    return [str(r.get("Code") or "None") for r in response.get("CancellationReasons") or []]


# -- the stage's client ------------------------------------------------------------------

_handed: list[DynamoDBClient] = []


@lru_cache(maxsize=4)
def _stage_client(region: str) -> DynamoDBClient:
    import boto3

    return boto3.client("dynamodb", region_name=region)


def client(region: str) -> DynamoDBClient:
    """The client the stage's ledger uses: one handed in by ``use``, else its own,
    created on first use and reused."""
    return _handed[-1] if _handed else _stage_client(region)


def use(handed: DynamoDBClient | None) -> None:
    """Hand the stage's ledger a client (tests, tools); None forgets it and the client
    built before, so the next use builds one afresh (as a new container would)."""
    _handed.clear()
    _stage_client.cache_clear()
    if handed is not None:
        _handed.append(handed)
