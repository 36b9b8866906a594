"""AWS calls per flow stay within DESIGN.md's table (bench/flows.py holds the table).

Counted by a botocore ``before-call`` hook on the session the app's clients come from,
with moto behind it, for a warm container (key secret and queue URL already cached).
Flows of routes the app does not have yet are left out and named in the output.
"""

from __future__ import annotations

import pytest

import app as app_module
from bench import cost, flows
from tests.conftest import API_KEY


@pytest.fixture
def counted(visitor):
    counter = flows.CallCounter()
    flows.install(counter)
    yield flows.Driver(visitor, API_KEY), counter
    flows.uninstall()


def test_every_flow_makes_no_more_aws_calls_than_the_table_allows(counted):
    driver, counter = counted
    failures, measured = {}, []
    for flow in flows.FLOWS:
        if not flow.available(app_module):
            continue
        calls = flows.measure(flow, driver, counter)
        measured.append(flow.name)
        if problems := flows.over_budget(flows.by_kind(calls), flow.budget):
            failures[flow.name] = (problems, calls)
    assert failures == {}
    assert {"form GET", "signup POST", "mail job", "confirm GET", "confirm POST"} <= set(measured)


def test_exact_calls_of_the_form_the_signup_and_a_cold_container(counted):
    driver, counter = counted
    flow = {f.name: f for f in flows.FLOWS}
    assert flows.measure(flow["form GET"], driver, counter) == []
    # The confirm page lists what the signup holds now: one query, nothing written (issue 10).
    assert flows.measure(flow["confirm GET"], driver, counter) == [("dynamodb", "Query")]
    # The signup reads its person's chain head (issue 14), then writes in one transaction.
    assert sorted(flows.measure(flow["signup POST"], driver, counter)) == [
        ("dynamodb", "GetItem"),
        ("dynamodb", "TransactWriteItems"),
        ("sqs", "SendMessage"),
    ]
    # The first request of a container also fetches the key secret and the queue's URL.
    assert sorted(flows.measure(flow["signup POST"], driver, counter, cold=True)) == [
        ("dynamodb", "GetItem"),
        ("dynamodb", "TransactWriteItems"),
        ("secretsmanager", "GetSecretValue"),
        ("sqs", "GetQueueUrl"),
        ("sqs", "SendMessage"),
    ]
    assert flows.measure(flow["form GET"], driver, counter, cold=True) == []


def test_the_check_fails_a_flow_that_exceeds_the_table():
    assert flows.over_budget({"write": 2, "queue send": 1}, {"write": 1, "queue send": 1}) == ["write: 2 > 1"]
    assert flows.over_budget({"read": 1}, {}) == ["read: 1 > 0"]
    assert flows.over_budget({"sqs:GetQueueUrl": 1}, {"queue send": 1}) == ["sqs:GetQueueUrl: 1 > 0"]
    assert flows.over_budget({"write": 1}, {"write": 1}) == []


def _units(flow_name: str, driver, counter) -> float:
    flow = {f.name: f for f in flows.FLOWS}[flow_name]
    calls = flows.measure(flow, driver, counter)
    return cost._units([f"{s}:{o}" for s, o in calls], counter.details)[0]


def test_a_signup_funnel_writes_28_units(counted):
    """Issue 16: write units as DynamoDB bills them (bench/cost.py, per item and started KB,
    each item sized as stored): a signup 10 (5 items in one transaction), its mail job 2 (two
    plain conditional updates), its confirmation 16 (7 items, 2 of them in the audience
    index). Before issue 16: 14, 5 and 22."""
    driver, counter = counted
    assert {name: _units(name, driver, counter) for name in ("signup POST", "mail job", "confirm POST")} == {
        "signup POST": 10,
        "mail job": 2,
        "confirm POST": 16,
    }


def test_every_item_of_the_funnel_stays_under_1_kb_at_the_longest_input(counted):
    """An item over 1 KB costs a write unit more per KB (two in a transaction). The longest
    address, name and user agent a visitor can send, and every purpose of the form, still
    fit: the event names each purpose's text by its version, never the text itself."""
    driver, counter = counted
    v = driver.v
    longest = {"User-Agent": "Mozilla/5.0 " + "x" * 600}  # the ledger keeps 512 characters
    email = "l" * 64 + "@" + ".".join(["d" * 60] * 3) + ".exampl"
    assert len(email) == 254
    sizes: list[list] = []
    with counter.record():
        answer = v.post_form(
            "/forms/newsletter",
            [("email", email), ("name", "名" * 100), ("purposes", "newsletter"), ("purposes", "offers")],
            headers=longest,
        )
        assert answer.status_code == 200, answer.body
    sizes += [kind_size for touched in counter.details for kind_size in touched.get("sizes", [])]
    with counter.record():
        v.run_mail_jobs()
    sizes += [kind_size for touched in counter.details for kind_size in touched.get("sizes", [])]
    with counter.record():
        confirmed = v.client.http.post(v.confirm_link(email), headers={**flows.FORM, **longest})
        assert confirmed.status_code == 200, confirmed.body
    sizes += [kind_size for touched in counter.details for kind_size in touched.get("sizes", [])]
    # (a container's first signup also stores the form's texts, once per container)
    assert len([kind for kind, _size in sizes if kind != "consent text"]) == 5 + 2 + 7
    assert max(size for _kind, size in sizes) < 1024, sizes
