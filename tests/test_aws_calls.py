"""AWS calls per flow stay within DESIGN.md's table (bench/flows.py holds the table).

Counted by a botocore ``before-call`` hook on the session the app's clients come from,
with moto behind it, for a warm container (key secret and queue URL already cached).
Flows of routes the app does not have yet are left out and named in the output.
"""

from __future__ import annotations

import pytest

import app as app_module
from bench import flows
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
