"""Concurrency on the real local stack (DynamoDB Local, chalice local's threads): caps and
transactions hold when requests race, and no event is lost."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.stack import API_KEY, running_stack

AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture(scope="module")
def stack():
    with running_stack() as running:
        yield running


def _mails(stack, address: str) -> list[str]:
    ses = requests.get(f"{stack.moto}/moto-api/data.json", timeout=10).json().get("ses", {})
    return [m["raw_data"] for m in ses.get("RawMessage", []) if any(address in d for d in m["destinations"])]


def _contact(stack, address: str) -> dict[str, Any]:
    return requests.get(f"{stack.app}/api/contacts/{address}", headers=AUTH, timeout=10).json()


def _events(stack, address: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{stack.app}/api/contacts/{address}/events", headers=AUTH, timeout=10)
    return answer.json()["events"]


def _wait_for_mail(stack, address: str, count: int, seconds: float = 10) -> list[str]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        mails = _mails(stack, address)
        if len(mails) >= count:
            return mails
        time.sleep(0.1)
    return _mails(stack, address)


@pytest.mark.stack
def test_fifty_simultaneous_signups_of_one_address_give_at_most_three_mails(stack):
    address = "bombed@example.org"

    def sign_up(_: int) -> int:
        answer = requests.post(
            f"{stack.app}/forms/newsletter",
            data=[("email", address), ("purposes", "newsletter")],
            timeout=30,
        )
        return answer.status_code

    # chalice local listens with a backlog of 5: ten at a time still race, without resets
    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(sign_up, range(50)))
    assert set(statuses) == {200}, statuses  # the same answer every time, never a 5xx
    time.sleep(2)  # let the drainer finish
    mails = _wait_for_mail(stack, address, 3, seconds=3)
    assert len(mails) == 3  # the cap, exactly: three signups got through, 47 were capped
    contact = _contact(stack, address)
    assert contact["purposes"] == {"newsletter": contact["purposes"]["newsletter"]}
    assert contact["purposes"]["newsletter"]["status"] == "pending"
    # Every mail has its signup, none lost: each link confirms, and each confirmation writes
    # its mail's event from what the mail job marked.
    for mail in mails:
        assert _post(_confirm_link(stack, mail), "") == 200
    events = _events(stack, address)
    requested = [e for e in events if e["type"] == "signup_requested"]
    sent = [e for e in events if e["type"] == "confirmation_sent"]
    assert len(requested) == len(sent) == len(mails)


def _confirm_link(stack, mail: str) -> str:
    found = re.search(re.escape(stack.app) + r"/confirm/[A-Za-z0-9_.\-]+", mail.replace("=\n", ""))
    assert found
    return found.group(0)


def _post(url: str, body: str) -> int:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return requests.post(url, data=body, headers=headers, timeout=10).status_code


@pytest.mark.stack
def test_a_confirm_racing_an_unsubscribe_ends_in_the_state_of_the_last_event(stack):
    signup = [("purposes", "newsletter")]
    for round_ in range(6):
        address = f"race{round_}@example.org"
        requests.post(f"{stack.app}/forms/newsletter", data=[("email", address), *signup], timeout=10)
        (first,) = _wait_for_mail(stack, address, 1)
        assert _post(_confirm_link(stack, first), "") == 200  # subscribed
        links = requests.post(f"{stack.app}/api/links", json={"email": address}, headers=AUTH, timeout=10)
        unsubscribe = links.json()["unsubscribe_url"]
        # a second signup is pending; its confirmation now races a one-click unsubscribe
        requests.post(f"{stack.app}/forms/newsletter", data=[("email", address), *signup], timeout=10)
        second = _wait_for_mail(stack, address, 2)[-1]
        with ThreadPoolExecutor(max_workers=2) as pool:
            racing = [
                pool.submit(_post, _confirm_link(stack, second), ""),
                pool.submit(_post, unsubscribe, "List-Unsubscribe=One-Click"),
            ]
            statuses = [r.result() for r in racing]
        assert all(s < 500 for s in statuses), statuses
        events = [e for e in _events(stack, address) if "newsletter" in e.get("purposes", [])]
        changes = [e for e in events if e["type"] in ("confirmed", "withdrawn")]
        state = _contact(stack, address)["purposes"]["newsletter"]["status"]
        assert state == {"confirmed": "granted", "withdrawn": "withdrawn"}[changes[-1]["type"]]
        # no event lost: two confirmations and the one withdrawal, or one confirmation when
        # the one-click came first and withdrew the pending signup with the granted purpose
        assert [e["type"] for e in changes].count("withdrawn") == 1
        assert [e["type"] for e in changes].count("confirmed") in (1, 2)
