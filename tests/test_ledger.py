"""The ledger on its own, on DynamoDB Local (AWS's engine: real isolation, real cancellation
reasons), through its public constructor: no app, no moto, no mock of our own. Races and
refusals: what one transaction lets through, what it refuses, and by which label."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import boto3
import pytest

from chalicelib.catalogue import ConsentText
from chalicelib.ledger import (
    AlreadyAsked,
    AlreadyConfirmed,
    Evidence,
    Ledger,
    LedgerConflict,
    Person,
    PurposeWithdrawn,
    RateCap,
    RateLimited,
    Refused,
    SignupGone,
    Suppressed,
    clear_cache,
    layout,
    utc_now,
)
from chalicelib.ledger.table import ATTEMPTS, Op
from tests.races import at_once, cancels_every_transaction, outcomes

DAY = 86400
FORM = Evidence("192.0.2.1", "ledger-test", "form:newsletter")
NEWSLETTER = ConsentText("newsletter", "en", "Yes, the newsletter.")
OFFERS = ConsentText("offers", "en", "Yes, offers.")


@pytest.fixture
def ledger(dynamodb_local: str, ledger_table: str) -> Ledger:
    clear_cache()
    return Ledger(
        boto3.client("dynamodb", region_name="eu-west-1", endpoint_url=dynamodb_local), ledger_table
    )


def _person(name: str) -> Person:
    return Person(f"subject-{name}", f"{name}@example.com", None, "en")


def _signup(ledger: Ledger, person: Person, caps: tuple[RateCap, ...] = (), now=None, texts=(NEWSLETTER,)):
    return ledger.record_signup(
        person,
        form_id="newsletter",
        caps=caps,
        texts=list(texts),
        evidence=FORM,
        now=now or utc_now(),
        retention_seconds=30 * DAY,
    )


def _confirm(ledger: Ledger, person: Person, signup_id: str, n: int = 1) -> tuple[str, ...]:
    evidence = Evidence(f"192.0.2.{n}", "ledger-test", "confirm_link")
    return ledger.confirm(
        subject=person.subject,
        signup_id=signup_id,
        sent_at=layout.iso(utc_now()),
        evidence=evidence,
        now=utc_now(),
    ).purposes


def _items(ledger: Ledger, person: Person) -> list[dict]:
    return list(ledger.table.query(layout.person(person.subject)))


# -- the transaction builder -------------------------------------------------------------


def test_a_refused_transaction_names_what_failed_by_label_and_writes_nothing(ledger):
    key = layout.profile("nobody")
    tx = ledger.table.transaction()
    tx.put("profile", {**key, "email": "a@example.com"}, condition="attribute_not_exists(pk)")
    tx.check("marker-there", layout.suppression("nobody"), "attribute_exists(pk)")
    tx.put("text", {**layout.text("v"), "text": "t"})
    with pytest.raises(Refused) as refused:
        tx.commit()
    assert refused.value.failed == {"marker-there"}
    assert ledger.table.get(key) is None and ledger.table.get(layout.text("v")) is None


def test_two_operations_of_one_transaction_cannot_share_a_label(ledger):
    tx = ledger.table.transaction().put("same", {**layout.text("a")})
    with pytest.raises(ValueError, match="same"):
        tx.put("same", {**layout.text("b")})


def test_a_transaction_that_keeps_conflicting_is_a_ledger_conflict_after_the_one_policy(ledger):
    """Sent ATTEMPTS times, then given up: nothing written, and a domain error, never
    botocore's TransactionCanceledException (which Chalice answered with a 500)."""
    with cancels_every_transaction(ledger.table.client) as attempts, pytest.raises(LedgerConflict):
        _signup(ledger, _person("crowded"))
    assert len(attempts) == ATTEMPTS
    assert _items(ledger, _person("crowded")) == []


def test_a_single_conditional_write_is_refused_by_its_label(ledger):
    op = Op.update(
        "guard",
        layout.import_guard("s"),
        "SET n = :one",
        condition="attribute_exists(pk)",
        values={":one": 1},
    )
    with pytest.raises(Refused) as refused:
        ledger.table.write(op)
    assert refused.value.failed == {"guard"}


# -- races -------------------------------------------------------------------------------


def test_of_twelve_simultaneous_signups_of_one_address_exactly_the_cap_get_through(ledger):
    """LAW 11 on the engine itself: the counter and the signup are one transaction."""
    person = _person("bombed")
    cap = RateCap("mail", person.subject, 3, DAY, DAY, sliding=True)
    results = outcomes([partial(_signup, ledger, person, (cap,)) for _ in range(12)])
    refused = [r for r in results if isinstance(r, RateLimited)]
    assert len(results) - len(refused) == 3
    assert {r.counter for r in refused} == {"mail"} and len(refused) == 9
    pending = [i for i in _items(ledger, person) if i["sk"].startswith(layout.PENDING_PREFIX)]
    assert len(pending) == 3


def test_twenty_simultaneous_uses_of_an_hourly_cap_let_exactly_its_limit_through(ledger):
    cap = RateCap("ip", "network", 5, 3600, 3600)
    now = utc_now()
    results = outcomes([partial(ledger.charge, [cap], now) for _ in range(20)])
    assert sum(r is None for r in results) == 5
    assert all(isinstance(r, RateLimited) for r in results if r is not None)


def test_eight_simultaneous_confirmations_grant_once(ledger):
    person = _person("clicky")
    signup = _signup(ledger, person, texts=(NEWSLETTER, OFFERS))
    results = outcomes([partial(_confirm, ledger, person, signup.id, n) for n in range(8)])
    granted = [r for r in results if isinstance(r, tuple)]
    assert granted == [("newsletter", "offers")]
    assert all(isinstance(r, AlreadyConfirmed) for r in results if not isinstance(r, tuple))
    confirmed = [e for e in ledger.events(person.subject, utc_now()) if e["type"] == "confirmed"]
    assert [e["purposes"] for e in confirmed] == [["newsletter", "offers"]]


def test_a_withdrawal_racing_a_confirmation_leaves_the_state_of_the_last_event(ledger):
    """LAW 17: whichever commits last is the state; neither is lost, none is doubled."""
    for round_ in range(5):
        person = _person(f"torn{round_}")
        signup = _signup(ledger, person)

        def withdraw(person: Person = person) -> object:
            return ledger.say_no(person.subject, withdraw=["newsletter"], evidence=FORM, now=utc_now())

        confirmed, _said = outcomes([partial(_confirm, ledger, person, signup.id), withdraw])
        events = [
            e["type"]
            for e in ledger.events(person.subject, utc_now())
            if e["type"] in ("confirmed", "withdrawn")
        ]
        assert events.count("withdrawn") == 1, events
        assert events.count("confirmed") == (1 if isinstance(confirmed, tuple) else 0), (confirmed, events)
        if isinstance(confirmed, Exception):
            assert isinstance(confirmed, SignupGone)  # the withdrawal emptied the signup first
        state = ledger.contact(person.subject, utc_now())["purposes"]["newsletter"]["status"]
        assert state == {"confirmed": "granted", "withdrawn": "withdrawn"}[events[-1]]


def test_six_simultaneous_unsubscribes_record_one_withdrawal(ledger):
    person = _person("eager")
    _confirm(ledger, person, _signup(ledger, person).id)
    said = at_once(
        [
            partial(ledger.say_no, person.subject, withdraw=None, evidence=FORM, now=utc_now())
            for _ in range(6)
        ]
    )
    assert sorted(len(s.withdrawn) for s in said) == [0] * 5 + [1]
    withdrawn = [e for e in ledger.events(person.subject, utc_now()) if e["type"] == "withdrawn"]
    assert len(withdrawn) == 1


# -- refusals ----------------------------------------------------------------------------


def _import_signup(ledger: Ledger, person: Person, caps: tuple[RateCap, ...] = ()):
    ledger.store_texts([OFFERS], "import", utc_now())
    return ledger.record_import_signup(
        person,
        guard_seconds=365 * DAY,
        caps=caps,
        texts=[OFFERS],
        evidence=Evidence(None, None, "import"),
        now=utc_now(),
        retention_seconds=30 * DAY,
    )


def test_an_unproven_import_is_refused_by_the_marker_the_guard_or_a_withdrawal(ledger):
    """LAW 22, 26: each refusal is its own domain error, whatever else the transaction held."""
    marked = _person("marked")
    ledger.erase(subject=marked.subject, now=utc_now(), channel="api", record_seconds=DAY)
    with pytest.raises(Suppressed) as suppressed:
        _import_signup(ledger, marked)
    assert suppressed.value.reason == "erasure"

    asked = _person("asked")
    _import_signup(ledger, asked)
    with pytest.raises(AlreadyAsked):
        _import_signup(ledger, asked)

    left = _person("left")
    _confirm(ledger, left, _signup(ledger, left, texts=(OFFERS,)).id)
    ledger.say_no(left.subject, withdraw=["offers"], evidence=FORM, now=utc_now())
    with pytest.raises(PurposeWithdrawn) as withdrawn:
        _import_signup(ledger, left)
    assert withdrawn.value.purpose == "offers"


def test_a_full_cap_outranks_every_other_refusal(ledger):
    """An address at its mail cap is told only that (as a form signup is): not whether an
    earlier import asked it."""
    person = _person("both")
    cap = RateCap("mail", person.subject, 1, DAY, DAY, sliding=True)
    _import_signup(ledger, person, (cap,))
    with pytest.raises(RateLimited):
        _import_signup(ledger, person, (cap,))


def test_a_soft_opt_in_racing_an_erasure_never_grants_the_erased(ledger):
    """LAW 26: the marker goes first, so a grant either lands before the erasure (and is
    erased with the person) or is refused by the marker; never a grant that outlives it."""
    for round_ in range(4):
        person = _person(f"racer{round_}")

        def grant(person: Person = person) -> object:
            return ledger.record_soft_opt_in(
                person, purposes=["offers"], proof={"order_id": "1"}, evidence=FORM, now=utc_now()
            )

        def erase(person: Person = person) -> object:
            return ledger.erase(subject=person.subject, now=utc_now(), channel="api", record_seconds=DAY)

        granted, _ = outcomes([grant, erase])
        assert granted is None or isinstance(granted, Suppressed)
        if ledger.contact(person.subject, utc_now()) is not None:  # the grant landed after the deletes
            pytest.fail("a soft opt-in outlived the erasure")


def test_the_stage_ledger_uses_the_client_it_is_handed(ledger, monkeypatch):
    from chalicelib import ledger as package
    from tests.conftest import STAGE_ENV

    for key, value in STAGE_ENV.items():
        monkeypatch.setenv(key, value)
    package.use(ledger.table.client)
    try:
        assert package.client() is ledger.table.client
        assert package.get_ledger().table.client is ledger.table.client
    finally:
        package.use(None)
    assert package.client() is not ledger.table.client


def test_an_expired_pending_signup_is_gone_before_ttl_deletes_it(ledger):
    person = _person("late")
    then = utc_now() - timedelta(days=31)
    signup = _signup(ledger, person, now=then)
    with pytest.raises(SignupGone):
        _confirm(ledger, person, signup.id)
    assert ledger.contact(person.subject, utc_now()) is None


# -- a ledger written before issue 16 stays provable ----------------------------------------


def _stored_before_issue_16(ledger: Ledger, person: Person, texts=(NEWSLETTER, OFFERS)) -> tuple[str, str]:
    """A pending signup exactly as the previous version wrote it, its mail sent by the
    previous mail job: one signup_requested event per purpose, a confirmation_sent event,
    and a pending item without the key of a single event or SES's message id. Written
    item by item, as that version's transactions left them. Returns (signup id, sent at)."""
    ledger.store_texts(texts, "newsletter", utc_now())
    now = utc_now() - timedelta(minutes=2)
    at, sent_at, signup_id = layout.iso(now), layout.iso(now + timedelta(minutes=1)), "0123456789abcdef"
    expires = int(now.timestamp()) + 30 * DAY
    tx = ledger.table.transaction()
    tx.put(
        "profile",
        {**layout.profile(person.subject), "email": person.email, "created_at": at, "expires_at": expires},
    )
    tx.put(
        "pending",
        {
            **layout.pending(person.subject, signup_id),
            "purposes": [t.purpose for t in texts],
            "form": "newsletter",
            "email": person.email,
            "lang": "en",
            "requested_at": at,
            "expires_at": expires,
            "mail_sent_at": sent_at,
        },
    )
    for text in texts:
        tx.put(
            f"requested:{text.purpose}",
            {
                **layout.event(person.subject, at, signup_id, text.purpose),
                "type": "signup_requested",
                "at": at,
                "purpose": text.purpose,
                "signup": signup_id,
                "expires_at": expires,
                "evidence": {
                    **FORM.as_dict(),
                    "form": "newsletter",
                    "lang": "en",
                    "text_version": text.version,
                },
            },
        )
    tx.put(
        "sent",
        {
            **layout.event(person.subject, sent_at, signup_id, "sent"),
            "type": "confirmation_sent",
            "at": sent_at,
            "signup": signup_id,
            "expires_at": expires,
            "evidence": {"channel": "email", "message_id": "old-message"},
        },
    )
    tx.commit()
    return signup_id, sent_at


def test_a_signup_stored_before_issue_16_confirms_and_its_events_read_as_they_did(ledger):
    """LAW 5: the per-purpose events of the previous version stay readable, each with its
    exact text; confirming such a signup keeps them (their expiry removed) and adds no
    second mail event; the new confirmation names both purposes."""
    person = _person("old")
    signup_id, sent_at = _stored_before_issue_16(ledger, person)
    confirmed = ledger.confirm(
        subject=person.subject, signup_id=signup_id, sent_at=sent_at, evidence=FORM, now=utc_now()
    )
    assert (confirmed.purposes, confirmed.texts) == (("newsletter", "offers"), {})  # it kept no versions
    events = ledger.events(person.subject, utc_now())
    assert [(e["type"], e.get("purpose"), e.get("purposes")) for e in events] == [
        ("signup_requested", "newsletter", ["newsletter"]),
        ("signup_requested", "offers", ["offers"]),
        ("confirmation_sent", None, None),
        ("confirmed", None, ["newsletter", "offers"]),
    ]
    assert [e["evidence"]["text"] for e in events[:2]] == [NEWSLETTER.text, OFFERS.text]
    assert events[2]["evidence"]["message_id"] == "old-message"
    kept = [i for i in _items(ledger, person) if i["sk"].startswith(layout.EVENT_PREFIX)]
    assert len(kept) == 4 and not any("expires_at" in i for i in kept)  # all of it proof now
    states = {
        p: ledger.contact(person.subject, utc_now())["purposes"][p]["status"]
        for p in ("newsletter", "offers")
    }
    assert states == {"newsletter": "granted", "offers": "granted"}


def test_a_signup_marks_its_mail_and_the_confirmation_writes_the_mail_event(ledger):
    """The mail job writes one item (the signup: when, SES's message id), no event; the
    confirmation turns that into the confirmation_sent event, listed after the request."""
    person = _person("new")
    signup = _signup(ledger, person, texts=(NEWSLETTER, OFFERS))
    sent_at = layout.iso(utc_now())
    assert ledger.record_confirmation_sent(
        subject=person.subject, signup_id=signup.id, sent_at=sent_at, message_id="m-1"
    )
    assert not ledger.record_confirmation_sent(  # a redelivered job: already marked
        subject=person.subject, signup_id=signup.id, sent_at=sent_at, message_id="m-2"
    )
    assert [e["type"] for e in ledger.events(person.subject, utc_now())] == ["signup_requested"]
    _confirm(ledger, person, signup.id)
    events = ledger.events(person.subject, utc_now())
    assert [e["type"] for e in events] == ["signup_requested", "confirmation_sent", "confirmed"]
    assert (events[1]["evidence"]["sent_at"], events[1]["evidence"]["message_id"]) == (sent_at, "m-1")
    assert events[1]["at"] == events[2]["at"]  # recorded by the confirmation, in its chain order
    assert not any(
        "expires_at" in i for i in _items(ledger, person) if i["sk"].startswith(layout.EVENT_PREFIX)
    )


def test_marking_a_mail_sent_waits_out_a_transaction_on_the_signup(ledger):
    """A plain write to an item inside a running transaction is refused with a conflict:
    the mark is sent again (the ledger's one retry policy), so a sent mail is never left
    unmarked for a redelivery to send again."""
    person = _person("busy")
    signup = _signup(ledger, person)
    client = ledger.table.client
    conflicts = [1]

    def conflict_once(**_):
        if conflicts:
            conflicts.pop()
            error = {"Error": {"Code": "TransactionConflictException", "Message": "in a transaction"}}
            raise client.exceptions.TransactionConflictException(error, "UpdateItem")

    client.meta.events.register_first("before-call.dynamodb.UpdateItem", conflict_once)
    try:
        marked = ledger.record_confirmation_sent(
            subject=person.subject, signup_id=signup.id, sent_at=layout.iso(utc_now()), message_id="m"
        )
    finally:
        client.meta.events.unregister("before-call.dynamodb.UpdateItem", conflict_once)
    assert marked and conflicts == []
    (pending,) = [i for i in _items(ledger, person) if i["sk"].startswith(layout.PENDING_PREFIX)]
    assert pending["message_id"] == "m"
