"""A write the ledger cannot finish is a 503 with Retry-After, never Chalice's JSON 500.

DynamoDB itself cancels every transaction here: a botocore hook on the app's own DynamoDB
client answers TransactWriteItems with the 400 that DynamoDB sends for a transaction that
lost to concurrent ones (TransactionCanceledException, every reason TransactionConflict).
Nothing of ours is mocked: the ledger's retries run and run out.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from chalicelib.ledger.table import ATTEMPTS
from tests.races import cancels_every_transaction

EVIDENCE = {"order_id": "ORD-9", "purchased_at": "2025-02-01T12:00:00Z", "opt_out_offered": True}


@contextlib.contextmanager
def dynamodb_cancels_every_transaction() -> Iterator[list[int]]:
    """On the app's own DynamoDB client (tests/races.py has the hook)."""
    from chalicelib import ledger

    with cancels_every_transaction(ledger.client()) as attempts:
        yield attempts


def _statuses(visitor, email):
    return {p: s["status"] for p, s in visitor.contact(email)["purposes"].items()}


def test_a_one_click_that_loses_its_retries_answers_503_in_the_persons_language(visitor):
    visitor.subscribe("busy@example.com", lang="en")
    path = visitor.unsubscribe_path("busy@example.com", "newsletter")
    before = visitor.items()
    with dynamodb_cancels_every_transaction() as attempts:
        response = visitor.one_click(path, headers={"Accept-Language": "nl"})
    assert len(attempts) == ATTEMPTS  # the ledger's single retry policy ran out
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert response.headers["Content-Type"].startswith("text/html")
    body = response.body.decode()
    assert '<html lang="en">' in body and "Please try again" in body  # her language, not the header's
    assert visitor.items() == before
    assert visitor.one_click(path).status_code == 200  # sent again once DynamoDB lets it through
    assert _statuses(visitor, "busy@example.com") == {"newsletter": "withdrawn", "offers": "granted"}


def test_a_preferences_post_as_json_gets_a_json_503(visitor):
    visitor.subscribe("json@example.com")
    path = visitor.unsubscribe_path("json@example.com")
    with dynamodb_cancels_every_transaction():
        response = visitor.post_json(path, {"profiling": "object"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert "error" in json.loads(response.body)
    assert visitor.contact("json@example.com")["profiling"] == "allowed"


def test_a_bare_ledger_error_on_the_api_is_a_json_503(visitor):
    """A soft opt-in's transaction cancelled for no reason the ledger has an answer for."""
    with dynamodb_cancels_every_transaction() as attempts:
        response = visitor.api_post(
            "/api/soft-opt-ins", {"email": "api@example.com", "purposes": ["offers"], "evidence": EVIDENCE}
        )
    assert len(attempts) == ATTEMPTS  # the same single retry policy
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert response.headers["Content-Type"] == "application/json"
    assert visitor.api("/api/contacts/api@example.com").status_code == 404


def _people(visitor) -> list[dict[str, Any]]:
    """What a signup or an import writes about people (consent texts are stored beforehand,
    outside the transaction, and are no one's)."""
    return [i for i in visitor.items() if not i["pk"].startswith("TEXT#")]


def test_a_signup_that_keeps_conflicting_is_a_503_not_a_500_and_stores_nothing(visitor):
    """Before the single retry policy, a signup that still conflicted after one retry leaked
    botocore's TransactionCanceledException as Chalice's 500."""
    fields = [("email", "crowded@example.com"), ("purposes", "newsletter")]
    with dynamodb_cancels_every_transaction() as attempts:
        page = visitor.post_form("/forms/newsletter", fields)
        as_json = visitor.post_json(
            "/forms/newsletter", {"email": "crowded@example.com", "purposes": ["newsletter"]}
        )
    assert len(attempts) == 2 * ATTEMPTS
    assert page.status_code == 503 and page.headers["Retry-After"] == "30"
    assert page.headers["Content-Type"].startswith("text/html")
    assert as_json.status_code == 503 and "error" in json.loads(as_json.body)
    assert _people(visitor) == [] and visitor.queued() == []


def test_an_import_that_keeps_conflicting_is_a_json_503_and_asks_nobody(visitor):
    rows = {"contacts": [{"email": "crowd@example.com", "purposes": ["offers"]}]}
    with dynamodb_cancels_every_transaction() as attempts:
        response = visitor.api_post("/api/imports", rows)
    assert len(attempts) == ATTEMPTS
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert _people(visitor) == [] and visitor.queued() == []
