"""AWS calls per flow: DESIGN.md's table as budgets, counted by a botocore hook.

A flow is one request a visitor, a mailbox provider or the queue makes, with the state it
needs prepared beforehand (outside the count). ``measure`` counts the AWS API calls the
app makes while serving that one request; ``over_budget`` compares them with the table.
The tests (tests/test_aws_calls.py) and ``make bench`` run the same flows.

Counts are for a warm container: the key secret and the queue's URL are fetched once per
container and cached. ``measure(..., cold=True)`` drops those caches first, to show what
the first request of a container adds.

Adding a flow is one ``Flow(...)`` line in ``FLOWS``; a flow whose routes the app does not
have (yet) is skipped.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

Call = tuple[str, str]  # (service, operation), e.g. ("dynamodb", "TransactWriteItems")

FORM = {"Content-Type": "application/x-www-form-urlencoded"}

# How DESIGN.md's table names calls: a read, a write (a transaction is one write), a queue
# send, a mail send. Anything else is named by its operation and has no budget.
_READS = {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}
_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def kind(call: Call) -> str:
    service, operation = call
    if service == "dynamodb" and operation in _READS:
        return "read"
    if service == "dynamodb" and operation in _WRITES:
        return "write"
    if (service, operation) == ("sqs", "SendMessage"):
        return "queue send"
    if service in ("ses", "sesv2") and operation in ("SendEmail", "SendRawEmail"):
        return "mail send"
    return f"{service}:{operation}"


def by_kind(calls: list[Call]) -> dict[str, int]:
    return dict(Counter(kind(c) for c in calls))


def over_budget(counts: dict[str, int], budget: dict[str, int]) -> list[str]:
    """Each kind of call made more often than the budget allows (a kind not in it: 0)."""
    return [f"{k}: {n} > {budget.get(k, 0)}" for k, n in sorted(counts.items()) if n > budget.get(k, 0)]


def describe(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none"


class CallCounter:
    """A botocore ``before-call`` hook: records (service, operation) while recording, and
    (from ``before-parameter-build``) what each DynamoDB call touches, for the cost model.

    With a ``sizer`` (``install`` gives it one: a client outside the counted session), each
    item a write touches is also sized as stored before the call and after the request, so
    the cost model bills what DynamoDB bills: by the larger of the two, per started KB."""

    def __init__(self, sizer: Callable[[str, dict[str, Any]], int | None] | None = None) -> None:
        self.calls: list[Call] = []
        self.details: list[dict[str, Any]] = []
        self.sizer = sizer
        self._recording = False
        self._params: dict[str, Any] = {}
        self._writes: list[tuple[dict[str, Any], list[_Write]]] = []

    def params(self, params: dict[str, Any], **_: Any) -> None:
        self._params = params

    def hook(self, model: Any, **_: Any) -> None:
        if self._recording:
            self.calls.append((model.service_model.service_name, model.name))
            touched: dict[str, Any] = _touches(self._params)
            self.details.append(touched)
            if self.sizer is not None and model.service_model.service_name == "dynamodb":
                targets = _targets(model.name, self._params)
                writes = [_Write(*t, before=self.sizer(t[0], t[1])) for t in targets]
                if writes:
                    self._writes.append((touched, writes))

    @contextmanager
    def record(self) -> Iterator[list[Call]]:
        self.calls = []
        self.details = []
        self._writes = []
        self._recording = True
        try:
            yield self.calls
        finally:
            self._recording = False
            self._size_writes()

    def _size_writes(self) -> None:
        """Each write's items as stored after the request: units and sizes into its touches."""
        assert self.sizer is not None or not self._writes
        for touched, writes in self._writes:
            sizes = []
            for write in writes:
                after = self.sizer(write.table, write.key) if self.sizer else None
                sizes.append([write.kind, max(write.put, write.before or 0, after or 0)])
            touched["sizes"] = sizes
        self._writes = []


@dataclass
class _Write:
    """One item a write call touches: where, what kind (layout.py), and its sizes."""

    table: str
    key: dict[str, Any]
    kind: str
    put: int  # the size of the item a Put writes (0 for other actions)
    before: int | None = None


def _targets(operation: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any], str, int]]:
    """(table, key, kind, size put) of each item a DynamoDB write call touches."""
    actions: list[tuple[str, dict[str, Any]]] = []
    if operation == "TransactWriteItems":
        actions = [next(iter(i.items())) for i in params["TransactItems"]]
    elif operation in ("PutItem", "UpdateItem", "DeleteItem"):
        actions = [(operation[: -len("Item")], params)]
    found = []
    for _action, body in actions:
        item = body.get("Item")
        key = {"pk": item["pk"], "sk": item["sk"]} if item else body["Key"]
        found.append((body["TableName"], key, _kind(key), item_bytes(item) if item else 0))
    return found


def _kind(key: dict[str, Any]) -> str:
    from chalicelib.ledger import layout

    kind = layout.kind_of(key["pk"]["S"], key["sk"]["S"])
    return kind.name if kind else "?"


def item_bytes(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it for capacity: attribute names plus values
    (strings and binaries by length, numbers about one byte per two digits, lists and maps 3
    bytes plus 1 per element). https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html"""
    return sum(len(name.encode()) + _value_bytes(value) for name, value in item.items())


def _value_bytes(value: dict[str, Any]) -> int:
    ((tag, data),) = value.items()
    if tag == "S":
        return len(data.encode())
    if tag == "B":
        return len(data)
    if tag == "N":
        return (len(data.lstrip("-").replace(".", "")) + 1) // 2 + 1
    if tag in ("BOOL", "NULL"):
        return 1
    if tag in ("SS", "NS", "BS"):
        return sum(_value_bytes({tag[0]: v}) for v in data)
    if tag == "L":
        return 3 + sum(1 + _value_bytes(v) for v in data)
    if tag == "M":
        return 3 + sum(1 + len(k.encode()) + _value_bytes(v) for k, v in data.items())
    raise ValueError(f"unknown attribute type {tag}")


def _touches(params: dict[str, Any]) -> dict[str, Any]:
    """Items a DynamoDB call reads or writes, and writes that also land in the audience
    index (they set aud_pk): what on-demand capacity is billed by."""
    if "TransactItems" in params:
        items = params["TransactItems"]
        indexed = sum(":aud_pk" in json.dumps(item) for item in items)
        return {"items": len(items), "indexed": indexed}
    if "RequestItems" in params:
        return {"items": sum(len(t.get("Keys", [])) for t in params["RequestItems"].values())}
    if "Key" in params or "Item" in params:
        return {"items": 1}
    if "KeyConditionExpression" in params:
        # A query of one person's state items (or one audience page's keys): well under
        # 4 KB, billed as one read unit.
        return {"items": 1}
    return {}


def forget_clients() -> None:
    """Drop what the app caches per container: its clients, the key secret, the queue URL."""
    from chalicelib import bus, jobs, keys, ledger, mail

    ledger.use(None)
    for cached in (jobs._client, jobs._queue_url, mail._client, bus._client):
        cached.cache_clear()
    keys.clear_cache()


def install(counter: CallCounter) -> None:
    """Hook the counter into the botocore session from which the app builds its clients
    (chalicelib/aws.py; on first use, so the cached ones are dropped and rebuilt). The
    counter's sizer reads through a session of its own, so its reads are not counted."""
    import os

    import botocore.session

    from chalicelib import aws

    aws.session().register("before-parameter-build", counter.params, unique_id="bench-params")
    aws.session().register("before-call", counter.hook, unique_id="bench-calls")
    region = os.environ.get("AWS_DEFAULT_REGION", "eu-west-1")
    reader = botocore.session.Session().create_client("dynamodb", region_name=region)

    def size(table: str, key: dict[str, Any]) -> int | None:
        found = reader.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        return item_bytes(found) if found else None

    counter.sizer = size
    forget_clients()


def uninstall() -> None:
    """Unhooked; the app rebuilds its clients."""
    from chalicelib import aws

    aws.session().unregister("before-parameter-build", unique_id="bench-params")
    aws.session().unregister("before-call", unique_id="bench-calls")
    forget_clients()


# -- the flows --------------------------------------------------------------------------

_serial = itertools.count(1)


def _address() -> str:
    return f"flow-{next(_serial)}@example.com"


class Driver:
    """What the flows need of the app under test: tests/conftest.py's Visitor and the key."""

    def __init__(self, visitor: Any, api_key: str) -> None:
        self.v = visitor
        self.api_key = api_key

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def take_job(self) -> str:
        """The queued mail job of the latest signup, taken off the queue."""
        messages = self.v.queued()
        assert messages, "the signup queued no mail job"
        for message in messages:
            self.v.sqs.delete_message(QueueUrl=message["QueueUrl"], ReceiptHandle=message["ReceiptHandle"])
        return str(messages[-1]["Body"])

    def confirm_path(self) -> str:
        email = _address()
        self.v.signup(email)
        self.v.run_mail_jobs()
        return str(self.v.confirm_link(email))

    def confirmed(self) -> str:
        """A person with both purposes granted; returns the address."""
        email = _address()
        self.v.signup(email)
        self.v.run_mail_jobs()
        answer = self.v.client.http.post(self.v.confirm_link(email), headers=FORM)
        assert answer.status_code == 200, answer.body
        return email

    def unsubscribe_path(self) -> str:
        answer = self.v.post_json("/api/links", {"email": self.confirmed()}, headers=self.bearer())
        assert answer.status_code == 200, answer.body
        return urlsplit(json.loads(answer.body)["unsubscribe_url"]).path


def _warm(d: Driver) -> None:
    """A signup first, so the key secret and the queue URL are cached, as in a warm container."""
    d.v.signup(_address())
    d.take_job()


def _queued_job(d: Driver) -> str:
    _warm(d)
    d.v.signup(_address())
    return d.take_job()


def _signup(d: Driver, _: None) -> Any:
    fields = [("email", _address()), ("purposes", "newsletter"), ("purposes", "offers")]
    return d.v.post_form("/forms/newsletter", fields)


def _get(path: str) -> Callable[[Driver, Any], Any]:
    return lambda d, _: d.v.get(path)


def _get_state(d: Driver, path: str) -> Any:
    return d.v.get(path)


def _post_button(d: Driver, path: str) -> Any:
    return d.v.client.http.post(path, headers=FORM)


def _one_click(d: Driver, path: str) -> Any:
    return d.v.post_form(path, {"List-Unsubscribe": "One-Click"})


def _preferences(d: Driver, path: str) -> Any:
    return d.v.post_form(path, [("purposes", "newsletter"), ("profiling", "object")])


def _warm_requests(d: Driver) -> None:
    """A request first, so the mail queue's URL is cached too."""
    _warm(d)
    _request(d, None)
    d.take_job()


def _request(d: Driver, _: None) -> Any:
    return d.v.post_form("/requests", {"email": _address(), "type": "access"})


def _request_job(d: Driver) -> str:
    """A known person's access request, its mail job taken off the queue."""
    email = d.confirmed()
    d.v.post_form("/requests", {"email": email, "type": "access"})
    return d.take_job()


def _stream_batch(d: Driver) -> dict[str, Any]:
    """A confirmed person's items as the table's stream hands them to push_changes (issue 14):
    one batch, its two grants among the profile, events and the rest."""
    from bench.events import stream_event

    email = d.confirmed()
    subject = d.v.subject(email)
    items = d.v.ddb.query(
        TableName=d.v.resources["table"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"S#{subject}"}},
    )["Items"]
    return stream_event(items, d.v.resources["table"])


def _audience(d: Driver, _: str) -> Any:
    return d.v.client.http.get("/api/audiences/newsletter", headers=d.bearer())


@dataclass(frozen=True)
class Flow:
    name: str
    routes: tuple[tuple[str, str], ...]  # (method, route) the app must have; ("SQS", any handler name)
    budget: dict[str, int]  # at most this many calls of each kind: DESIGN.md's table
    prepare: Callable[[Driver], Any]  # not counted
    request: Callable[[Driver, Any], Any]  # counted; returns the response
    status: int | None = 200
    note: str = field(default="")

    def available(self, app_module: Any) -> bool:
        """Whether the app has what the flow needs (flows of later issues skip until then)."""
        for method, route in self.routes:
            if method == "SQS":
                if not callable(getattr(app_module, route, None)):
                    return False
            elif method not in app_module.app.routes.get(route, {}):
                return False
        return True


_FORM = (("GET", "/forms/{form_id}"),)
_SIGNUP = (("POST", "/forms/{form_id}"),)
_MANAGE = (("POST", "/api/links"),)

FLOWS: tuple[Flow, ...] = (
    Flow("form GET", _FORM, {}, lambda d: None, _get("/forms/newsletter")),
    # Issue 14: every event extends its person's hash chain, conditioned on the chain head
    # (ledger/chain.py), so a write that was not planned from a read of the person first
    # reads the head: +1 consistent GetItem (1 read unit) on the signup and the mail job.
    Flow("signup POST", _SIGNUP, {"read": 1, "write": 1, "queue send": 1}, _warm, _signup,
         note="DESIGN.md: 1 transaction; +1 read of the chain head (issue 14)"),
    # DESIGN.md's table says 1 read, 1 send, 1 write. Measured (issue 15): the read became a
    # conditional update that claims the signup and returns it (ReturnValues=ALL_NEW), so two
    # deliveries of one job at once send one mail: 0 reads, 2 writes, the same 3 calls. Since
    # issue 16 the second write is a plain conditional update too (the mail's event is written
    # by the confirmation): 2 write units, where a transaction of two items took 4, and no read
    # of the chain head (issue 14), as the job writes no event.
    Flow("mail job", (*_SIGNUP, ("SQS", "confirm_worker")), {"mail send": 1, "write": 2},
         _queued_job, lambda d, job: d.v.deliver([job]), status=None,
         note="DESIGN.md: 1 read + 1 write; the read is now the claim, a write (see flows.py)"),
    # DESIGN.md's table says 0 reads / one conditional transaction. Measured: one consistent
    # query of the person's state items first (issue 10): confirming grants what the signup
    # holds now (a purpose withdrawn after the mail left it), the page lists exactly that, and
    # the confirmation writes the signup's name and language, which only the signup holds.
    Flow("confirm GET", (("GET", "/confirm/{token}"),), {"read": 1}, Driver.confirm_path, _get_state,
         note="DESIGN.md: 0; +1 read, see flows.py"),
    # Issue 16: +1 read (1 read unit, 0.14 USD a million) of the suppression marker, so that
    # the transaction deletes it only where there is one to lift, not always (2 write units).
    Flow("confirm POST", (("POST", "/confirm/{token}"),), {"read": 2, "write": 1}, Driver.confirm_path,
         _post_button, note="DESIGN.md: 1 transaction; +2 reads, see flows.py"),
    Flow("unsubscribe GET", (("GET", "/unsubscribe/{token}"), *_MANAGE), {"read": 1},
         Driver.unsubscribe_path, _get_state),
    # DESIGN.md's table says one conditional transaction. Measured: one consistent read
    # first, kept on purpose: it tells which purposes are granted or pending (a withdrawal
    # must also stop a pending signup, and saying no twice must record nothing), and an
    # erased person gets the uniform 400. A blind write would fail for an all-purposes
    # link, or record a duplicate event on every repeat.
    Flow("one-click POST", (("POST", "/unsubscribe/{token}"), *_MANAGE), {"read": 1, "write": 1},
         Driver.unsubscribe_path, _one_click, note="DESIGN.md: 1 transaction; +1 read, see flows.py"),
    Flow("preferences POST", (("POST", "/unsubscribe/{token}"), *_MANAGE), {"read": 1, "write": 1},
         Driver.unsubscribe_path, _preferences, note="DESIGN.md: 1 transaction; +1 read, see flows.py"),
    Flow("audience page", (("GET", "/api/audiences/{purpose}"),), {"read": 2}, Driver.confirmed, _audience,
         note="not in DESIGN.md's table: one index query, one batch read of the page's people"),
    Flow("request POST", (("POST", "/requests"),), {"write": 1, "queue send": 1}, _warm_requests, _request,
         status=202,
         note="not in DESIGN.md's table: the per-network counter (the same for every address) + the job"),
    Flow("changes push", (("SQS", "push_changes"),), {"read": 1, "events:PutEvents": 1}, _stream_batch,
         lambda d, batch: d.v.client.lambda_.invoke("push_changes", batch), status=None,
         note="not in DESIGN.md's table (issue 14): a confirmed person's stream records; the two"
         " grants put on the bus with the address read once"),
    Flow("request mail job", (("POST", "/requests"), ("SQS", "mail_worker")),
         {"read": 1, "write": 2, "mail send": 1}, _request_job, lambda d, job: d.v.deliver([job]),
         status=None, note="not in DESIGN.md's table: the request opened with its mail cap in one"
         " transaction, then marked sent"),
)  # fmt: skip


def measure(flow: Flow, driver: Driver, counter: CallCounter, *, cold: bool = False) -> list[Call]:
    """The AWS calls the app makes serving the flow's request once (after its preparation)."""
    state = flow.prepare(driver)
    if cold:
        forget_clients()
    with counter.record() as calls:
        response = flow.request(driver, state)
    if flow.status is not None:
        assert response.status_code == flow.status, (flow.name, response.status_code, response.body[:300])
    return list(calls)
