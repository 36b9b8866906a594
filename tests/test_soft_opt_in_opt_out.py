"""A customer mailed under the soft opt-in (LAW 23) is offered an opt-out in every message:
their row in the sending system's audience carries the one-click link, it withdraws at once,
and a later sale never brings back a customer who used it."""

from __future__ import annotations

import json

from tests.conftest import BASE_URL

SALE = {"order_id": "ORD-77", "purchased_at": "2025-04-01T12:00:00Z", "opt_out_offered": True}


def test_every_mail_to_a_customer_can_carry_an_opt_out_that_works_at_once(visitor):
    """LAW 23, 16, 19: the soft opt-in's own opt-out, through the same one-click link."""
    sale = {"email": "koper@example.com", "purposes": ["offers"], "evidence": SALE}
    assert visitor.api_post("/api/soft-opt-ins", sale).status_code == 201
    (row,) = visitor.audience("offers")
    assert row["email"] == "koper@example.com" and row["unsubscribe_url"].startswith(
        f"{BASE_URL}/unsubscribe/"
    )
    headers = visitor.links("koper@example.com", "offers")["headers"]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    assert visitor.one_click(row["unsubscribe_url"][len(BASE_URL) :]).status_code == 200
    assert visitor.audience("offers") == []
    state = visitor.contact("koper@example.com")["purposes"]["offers"]
    assert state["status"] == "withdrawn"
    (withdrawn,) = [e for e in visitor.events("koper@example.com") if e["type"] == "withdrawn"]
    assert withdrawn["evidence"]["channel"] == "one_click"

    again = visitor.api_post("/api/soft-opt-ins", {**sale, "evidence": {**SALE, "order_id": "ORD-78"}})
    assert again.status_code == 409 and "withdrew offers" in json.loads(again.body)["error"]
    assert visitor.audience("offers") == []
