"""Each person's events form a hash chain (issue 14), so the ledger's proof of consent can
prove itself (LAW 5: GDPR art. 7(1), 5(2)): every event carries ``hash`` over its
canonical form (docs/evidence.md) and ``prev``, the hash of the event before it, written in
the transaction that writes the event and conditioned on the chain head, so concurrent
writers never fork a chain."""

from __future__ import annotations

import hashlib
import itertools
import json
from decimal import Decimal

import boto3
import pytest

from chalicelib.catalogue import ConsentText
from chalicelib.ledger import Evidence, Ledger, LedgerConflict, Person, clear_cache, layout, utc_now
from chalicelib.ledger.audit import check
from tests.races import at_once

DAY = 86400
FORM = Evidence("192.0.2.1", "chain-test", "form:newsletter")
TEXTS = [ConsentText("newsletter", "en", "Yes, the newsletter."), ConsentText("offers", "en", "Yes, offers.")]


def _canonical_hash(item: dict) -> str:
    """The documented canonical form, computed here on its own (not by the ledger's code):
    every attribute but pk, sk, hash and expires_at, sorted-key compact JSON, UTF-8."""

    def plain(value):
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else str(value)
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    fields = {k: plain(v) for k, v in item.items() if k not in ("pk", "sk", "hash", "expires_at")}
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _in_chain_order(items: list[dict]) -> list[dict]:
    events = sorted((i for i in items if i["sk"].startswith("E#")), key=lambda e: int(e["seq"]))
    return events


def _assert_linked(events: list[dict]) -> None:
    assert [int(e["seq"]) for e in events] == list(range(1, len(events) + 1))
    assert events[0]["prev"] == ""
    for before, after in itertools.pairwise(events):
        assert after["prev"] == before["hash"]


def test_every_event_links_to_the_one_before_and_the_api_shows_the_chain(visitor):
    """LAW 5: signup, confirmation mail, confirmation, one-click withdrawal: one chain."""
    email = "ketting@example.com"
    visitor.subscribe(email)
    visitor.one_click(visitor.unsubscribe_path(email, "offers"))
    items = visitor.person_items(email)
    stored = _in_chain_order(items)
    assert [e["type"] for e in stored] == [
        "signup_requested",
        "confirmation_sent",
        "confirmed",
        "withdrawn",
    ]
    _assert_linked(stored)
    for event in stored:
        assert event["hash"] == _canonical_hash(event)
    (profile,) = [i for i in items if i["sk"] == "PROFILE"]
    assert profile["chain_head"] == stored[-1]["hash"] and int(profile["chain_seq"]) == len(stored)

    shown = visitor.events(email)
    assert [e["at"] for e in shown] == sorted(e["at"] for e in shown)  # oldest first
    assert [(e["seq"], e["hash"], e["prev"]) for e in sorted(shown, key=lambda e: e["seq"])] == [
        (int(e["seq"]), e["hash"], e["prev"]) for e in stored
    ]


@pytest.fixture
def ledger(dynamodb_local: str, ledger_table: str) -> Ledger:
    clear_cache()
    client = boto3.client("dynamodb", region_name="eu-west-1", endpoint_url=dynamodb_local)
    return Ledger(client, ledger_table)


def _events(ledger: Ledger, subject: str) -> list[dict]:
    return _in_chain_order(list(ledger.table.query(layout.person(subject))))


def _signed_up(ledger: Ledger, name: str) -> tuple[Person, str]:
    person = Person(f"subject-{name}", f"{name}@example.com", None, "en")
    signup = ledger.record_signup(
        person, form_id="newsletter", texts=TEXTS, evidence=FORM, now=utc_now(), retention_seconds=30 * DAY
    )
    return person, signup.id


def test_a_transaction_writing_several_events_chains_them_in_key_order(ledger):
    person, signup_id = _signed_up(ledger, "twee")
    ledger.confirm(
        subject=person.subject,
        signup_id=signup_id,
        sent_at=layout.iso(utc_now()),
        evidence=FORM,
        now=utc_now(),
    )
    events = _events(ledger, person.subject)
    # the confirmation writes two events: its mail's and its own, chained in key order
    assert [e["type"] for e in events] == ["signup_requested", "confirmation_sent", "confirmed"]
    assert [e["sk"] for e in events] == sorted(e["sk"] for e in events)
    _assert_linked(events)


def test_simultaneous_writers_never_fork_a_chain(ledger):
    """Eight events of one person at once: each lands at its own place in one chain, or
    (past the single retry policy) is refused whole with a LedgerConflict."""
    person, _ = _signed_up(ledger, "samen")

    def export(n: int):
        fresh = Ledger(ledger.table.client, ledger.table.name)  # a Lambda of its own
        try:
            return fresh.record_access_export(
                subject=person.subject, evidence=Evidence(f"192.0.2.{n}", "race", "request"), now=utc_now()
            )
        except LedgerConflict:
            return "conflict"

    results = at_once([lambda n=n: export(n) for n in range(8)])
    events = _events(ledger, person.subject)
    _assert_linked(events)
    assert sum(r is True for r in results) == len(events) - 1 >= 1  # the signup's one event, the exports
    assert check(events, ledger.table.get(layout.profile(person.subject)), utc_now()) == []


def test_a_confirmation_chains_the_mail_event_a_dead_mail_job_never_wrote(ledger):
    """The token proves the mail went out; if its job died before recording it, the
    confirmation writes the confirmation_sent event, chained like any other."""
    person, signup_id = _signed_up(ledger, "stil")
    sent_at = layout.iso(utc_now())
    ledger.confirm(subject=person.subject, signup_id=signup_id, sent_at=sent_at, evidence=FORM, now=utc_now())
    events = _events(ledger, person.subject)
    assert [e["type"] for e in events] == ["signup_requested", "confirmation_sent", "confirmed"]
    _assert_linked(events)
    assert all("expires_at" not in e for e in events)  # now proof: kept
    assert check(events, ledger.table.get(layout.profile(person.subject)), utc_now()) == []


def test_erasure_removes_the_chain_and_the_marker_keeps_its_last_hash(ledger):
    """LAW 26: the events go with the person; the marker (no address) keeps the last hash,
    so a signed digest that covered the chain is explained."""
    person, _ = _signed_up(ledger, "weg")
    last = _events(ledger, person.subject)[-1]["hash"]
    ledger.erase(subject=person.subject, now=utc_now(), channel="api", record_seconds=DAY)
    assert list(ledger.table.query(layout.person(person.subject))) == []
    marker = ledger.table.get(layout.suppression(person.subject))
    assert marker is not None and marker["last_hash"] == last and int(marker["last_seq"]) == 1
    (record,) = list(ledger.table.query(f"SUPPRESS#{person.subject}", "E#"))
    assert record["evidence"]["last_hash"] == last
