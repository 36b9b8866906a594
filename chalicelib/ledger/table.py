"""The only code that calls DynamoDB: one ``Table`` and one transaction builder.

``Table`` reads (get, batch get, query with paging, one index page) and writes single
items; every request names the table here, once. ``Transaction`` collects labelled
operations and commits them in one ``TransactWriteItems``. Its ``commit`` owns the single
retry policy: a clash with a concurrent transaction (``TransactionConflict``) is sent
again, up to ``ATTEMPTS`` times with a short backoff, then is a ``LedgerConflict``; a
failed condition is a ``Refused`` that names the failed operations by label, never by
position. The capabilities (signups.py, choices.py, ...) turn refusals into domain errors.

Events go through ``Transaction.event`` (or ``ensure_event``), so every event is linked
into its person's hash chain in one place: ``commit`` reads the chain heads, links the
events (chain.py) and writes the new heads in the same transaction, on condition that they
are still the heads it read. A head that moved meanwhile is read again and the transaction
sent again under the same retry policy.

The client is created on first use, never at import (importing the ledger imports no
boto3), and can be handed in: ``Table(client, name)``, or ``use(client)`` for the stage's
own ledger.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypedDict, Unpack, cast

from chalicelib.ledger import chain, layout
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
        self.heads: dict[str, chain.Head] = {}
        """The chain head of each profile this Table read or wrote: a transaction's first
        guess, so a write planned from a read reads nothing more (a stale guess fails its
        condition and is read again)."""

    def _seen(self, item: dict[str, Any]) -> dict[str, Any]:
        if item.get("sk") == PROFILE:
            self.heads[str(item["pk"])] = chain.Head.of(item)
        return item

    # -- reads ----------------------------------------------------------------------

    def get(self, key: Key, *, consistent: bool = True) -> dict[str, Any] | None:
        answer = self.client.get_item(TableName=self.name, Key=layout.coded(key), ConsistentRead=consistent)
        if "Item" not in answer:
            if key.get("sk") == PROFILE:
                self.heads[key["pk"]] = chain.Head()
            return None
        return self._seen(layout.plain(answer["Item"]))

    def get_many(self, keys: Sequence[Key], *, consistent: bool = True) -> list[dict[str, Any]]:
        """Batch reads, 100 keys a call, retrying what DynamoDB left over; in no order."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), BATCH_GET):
            chunk = [layout.coded(k) for k in keys[start : start + BATCH_GET]]
            request: dict[str, Any] = {self.name: {"Keys": chunk, "ConsistentRead": consistent}}
            while request:
                answer = self.client.batch_get_item(RequestItems=request)
                found += [self._seen(layout.plain(i)) for i in answer["Responses"].get(self.name, [])]
                request = dict(answer.get("UnprocessedKeys") or {})
        return found

    def query(
        self,
        pk: str,
        prefix: str | None = None,
        *,
        keys_only: bool = False,
        newest_first: bool = False,
        limit: int | None = None,
        start: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every item of a partition (whose sk starts with ``prefix``; from sk ``start``
        on), consistently, page after page; ``limit`` items a page."""
        condition = "pk = :pk"
        if start is not None:
            condition += " AND sk >= :start"
        elif prefix is not None:
            condition += " AND begins_with(sk, :prefix)"
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": layout.coded(
                {":pk": pk, ":prefix": prefix if start is None else None, ":start": start}
            ),
            "ConsistentRead": True,
            "ScanIndexForward": not newest_first,
        }
        if limit is not None:
            kwargs["Limit"] = limit
        if keys_only:
            kwargs["ProjectionExpression"] = "pk, sk"
        while True:
            page = self.client.query(**kwargs)
            for item in page.get("Items", []):
                yield self._seen(layout.plain(item))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def index_all(self, index: str, attribute: str, value: str) -> Iterator[dict[str, Any]]:
        """Every entry of a global index's partition, page after page."""
        start: Mapping[str, str] | None = None
        while True:
            items, start = self.index_page(index, attribute, value, limit=1000, start=start)
            yield from items
            if start is None:
                return

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
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The events by label, as given (commit links them into their chains)."""
    ensured: dict[str, str] = field(default_factory=dict)
    """Labels of events that may exist already, and the update for when they do."""
    _moved: dict[str, chain.Head] = field(default_factory=dict)

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
        its own event and is refused by this label). It is linked into its person's chain
        when the transaction commits."""
        self.events.append(key)
        self.bodies[label] = {**key, **attrs}
        return self.put(label, {**key, **attrs}, condition="attribute_not_exists(pk)")

    def ensure_event(self, label: str, key: Key, update: str, **attrs: Any) -> Transaction:
        """An event that may exist already (written by another step that may have died
        before it): ``update`` it where it exists, else write it, chained, as ``event``."""
        self.ensured[label] = update
        return self.event(label, key, **attrs)

    def commit(self) -> None:
        """Write every operation or none. A clash with concurrent transactions, or a chain
        head that moved since it was read, is sent again (the single retry policy); raises
        LedgerConflict when it keeps clashing and Refused, by label, when a condition fails
        or DynamoDB refuses for another reason."""
        client = self.table.client
        ops, read = self.ops, _Read()
        refused: Refused | None = None
        for attempt in range(ATTEMPTS):
            if self.bodies:
                before, read = read, (self._guess() if attempt == 0 else None) or self._read()
                if refused is not None and read == before:
                    # The heads and the events are as read before: the condition that
                    # failed was one of the transaction's own.
                    raise refused
                ops = self._chained(read)
            try:
                client.transact_write_items(TransactItems=[self.table._transact_item(op) for op in ops])
                self.table.heads.update(self._moved)
                return
            except client.exceptions.TransactionCanceledException as exc:
                codes = _codes(exc)
                labelled = {op.label: code for op, code in zip(ops, codes, strict=False) if code != "None"}
                failed = {label for label, code in labelled.items() if code == Refused.CONDITION}
                refused = None
                if self.bodies and failed and failed <= read.rereadable:
                    refused = Refused(labelled)  # a head that moved? read again and see
                    refused.__cause__ = exc
                elif "TransactionConflict" not in codes or Refused.CONDITION in codes:
                    raise Refused(labelled) from exc
                if attempt + 1 == ATTEMPTS:
                    raise LedgerConflict() from exc
                time.sleep(BACKOFF_SECONDS * 2**attempt)

    # -- the hash chain (chain.py) ------------------------------------------------------------

    def _guess(self) -> _Read | None:
        """The heads as this Table last saw them, and the ensured events taken to exist
        (they nearly always do); None when a head was never seen."""
        persons = list(dict.fromkeys(body["pk"] for body in self.bodies.values()))
        if not all(pk in self.table.heads for pk in persons):
            return None
        heads = tuple((pk, self.table.heads[pk]) for pk in persons)
        return _Read(heads, frozenset(self.ensured), frozenset(self.ensured))

    def _read(self) -> _Read:
        """The chain heads of the persons whose events this writes, and which of the
        ensured events exist: one consistent read."""
        persons = list(dict.fromkeys(body["pk"] for body in self.bodies.values()))
        keys = [{"pk": pk, "sk": PROFILE} for pk in persons]
        keys += [_key(self.bodies[label]) for label in self.ensured]
        if len(keys) == 1:
            found = [item] if (item := self.table.get(keys[0])) else []
        else:
            found = self.table.get_many(keys)
        have = {(i["pk"], i["sk"]): i for i in found}
        heads = tuple((pk, chain.Head.of(have.get((pk, PROFILE)))) for pk in persons)
        existing = frozenset(e for e in self.ensured if tuple(_key(self.bodies[e]).values()) in have)
        return _Read(heads, existing, frozenset(self.ensured))

    def _chained(self, read: _Read) -> list[Op]:
        """The operations with every new event linked into its person's chain, and each
        person's head moved on condition that it is still the one read."""
        now = layout.utc_now()
        linked: dict[str, dict[str, Any]] = {}
        heads: dict[str, tuple[chain.Head, chain.Head]] = {}
        for pk, head in read.heads:
            new = [(label, body) for label, body in self.bodies.items() if body["pk"] == pk]
            moved = head
            for label, body in sorted(new, key=lambda lb: str(lb[1]["sk"])):
                if label in read.existing:
                    continue
                linked[label], moved = moved.link(body)
            heads[pk] = (head, moved)
        self._moved = {pk: new for pk, (_was, new) in heads.items()}
        ops: list[Op] = []
        placed: set[str] = set()
        for op in self.ops:
            if op.label in read.existing:
                key = _key(self.bodies[op.label])
                ops.append(Op.update(op.label, key, self.ensured[op.label], condition="attribute_exists(pk)"))
            elif op.label in linked:
                ops.append(Op.put(op.label, linked[op.label], condition="attribute_not_exists(pk)"))
            elif (
                (owner := _profile_of(op)) is not None
                and owner in heads
                and heads[owner][1] != heads[owner][0]
            ):
                ops.append(_with_head(op, owner, *heads[owner], now))
                placed.add(owner)
            else:
                ops.append(op)
        for pk, (was, new_head) in heads.items():
            if pk not in placed and new_head != was:
                check = Op.check(HEAD_LABEL, {"pk": pk, "sk": PROFILE}, "attribute_exists(pk)")
                ops.append(_with_head(check, pk, was, new_head, now))
        return ops


HEAD_LABEL = "chain-head"
"""The label of the head's own write, where the transaction writes no profile itself."""
PROFILE = "PROFILE"


class _Read(NamedTuple):
    """What a transaction read before linking its events (a NamedTuple: cheaper to define
    than a dataclass on the signup path's cold start)."""

    heads: tuple[tuple[str, chain.Head], ...] = ()
    existing: frozenset[str] = frozenset()
    """The labels of ensured events that exist already."""
    ensured: frozenset[str] = frozenset()

    @property
    def rereadable(self) -> frozenset[str]:
        """Labels whose failed condition means: read again and retry."""
        return frozenset({HEAD_LABEL, "profile", *self.ensured})


def _key(item: Mapping[str, Any]) -> Key:
    return {"pk": str(item["pk"]), "sk": str(item["sk"])}


def _profile_of(op: Op) -> str | None:
    """The person whose profile ``op`` writes or checks; None for any other item."""
    key = op.body.get("Key") or op.body.get("Item") or {}
    if key.get("sk") == {"S": PROFILE}:
        return str(key["pk"]["S"])
    return None


def _with_head(op: Op, pk: str, was: chain.Head, new: chain.Head, now: datetime) -> Op:
    """``op`` on a person's profile, moving the chain head from ``was`` to ``new``: the
    head attributes set, on condition that the head is still ``was``."""
    if op.action == "Delete":
        raise ValueError("a transaction that writes events cannot delete their profile")
    condition, was_values = chain.head_condition(was)
    values = {**new.values(layout.subject_of(pk), now), **was_values}
    body = dict(op.body)
    if old := body.get("ConditionExpression"):
        condition = f"({old}) AND ({condition})"
    body["ConditionExpression"] = condition
    body["ExpressionAttributeValues"] = {**body.get("ExpressionAttributeValues", {}), **layout.coded(values)}
    if op.action == "Put":
        body["Item"] = {
            **body["Item"],
            **layout.coded({k[1:]: v for k, v in values.items() if k != ":chain_was"}),
        }
        return Op(op.label, "Put", body)
    if op.action == "ConditionCheck":
        body["UpdateExpression"] = "SET " + chain.SET_HEAD
        return Op(op.label, "Update", body)
    update = str(body["UpdateExpression"])
    if re.search(r"\bSET\b", update):
        update = re.sub(r"\bSET\b", "SET " + chain.SET_HEAD + ",", update, count=1)
    else:
        update = f"SET {chain.SET_HEAD} {update}"
    body["UpdateExpression"] = update
    return Op(op.label, "Update", body)


def _codes(exc: Exception) -> list[str]:
    """The reason of each operation of a cancelled transaction ("None" for those that passed)."""
    response = cast("dict[str, Any]", getattr(exc, "response", {}))
    return [str(r.get("Code") or "None") for r in response.get("CancellationReasons") or []]


# -- the stage's client ------------------------------------------------------------------

_handed: list[DynamoDBClient] = []


@lru_cache(maxsize=4)
def _stage_client(region: str) -> DynamoDBClient:
    from chalicelib import aws

    return cast("DynamoDBClient", aws.client("dynamodb", region))


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
