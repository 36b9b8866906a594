"""Requests that race on one person, on DynamoDB Local's isolation: the ledger's
conditional transactions keep state and evidence in step, and every racer gets an answer,
never an error (tests/races.py runs them)."""

from __future__ import annotations

from functools import partial

from chalicelib import preferences, signups
from tests.races import at_once, evidence


def _confirm_link(visitor, address: str) -> signups.ConfirmLink:
    return signups.read_confirm_token(visitor.confirm_link(address).split("/confirm/", 1)[1])


def _confirm_or_gone(link: signups.ConfirmLink) -> str:
    """The answer the confirm page gives: granted now, already, or gone (410)."""
    try:
        return "granted" if signups.confirm(link, evidence("confirm_link")).purposes else "already"
    except signups.SignupGone:
        return "gone"


def test_eight_simultaneous_confirmations_of_one_link_confirm_once(visitor):
    """A double click, a mail scanner and a second device: one confirmation, the rest are
    told it was already done (LAW 9: confirming twice is harmless)."""
    visitor.signup("clicky@example.com")
    visitor.run_mail_jobs()
    link = _confirm_link(visitor, "clicky@example.com")
    answers = at_once([partial(signups.confirm, link, evidence("confirm_link", n)) for n in range(8)])
    assert sorted(a.purposes for a in answers) == [()] * 7 + [("newsletter", "offers")]
    confirmed = [e for e in visitor.events("clicky@example.com") if e["type"] == "confirmed"]
    assert [e["purposes"] for e in confirmed] == [["newsletter", "offers"]]
    purposes = visitor.contact("clicky@example.com")["purposes"]
    assert {p: s["status"] for p, s in purposes.items()} == {"newsletter": "granted", "offers": "granted"}


def test_one_clicks_racing_a_confirmation_withdraw_once_and_the_last_event_is_the_state(visitor):
    """A pending re-signup is confirmed while two one-click POSTs for the same link arrive
    (LAW 17): one withdrawal is recorded, none is lost or doubled, and the state is that
    of the last event. A one-click that lands first withdraws the pending signup too: the
    confirmation then finds it gone (the 410 page), never an error."""
    for round_ in range(5):
        address = f"torn{round_}@example.com"
        visitor.subscribed(address, purposes=("newsletter",))
        manage = preferences.read_manage_token(visitor.unsubscribe_path(address).split("/unsubscribe/", 1)[1])
        visitor.signup(address, purposes=("newsletter",))
        visitor.run_mail_jobs()
        link = _confirm_link(visitor, address)
        confirmed, *_ = at_once(
            [
                partial(_confirm_or_gone, link),
                partial(preferences.one_click, manage, evidence("one_click", 2)),
                partial(preferences.one_click, manage, evidence("one_click", 3)),
            ]
        )
        changes = [e["type"] for e in visitor.events(address) if e["type"] in ("confirmed", "withdrawn")]
        assert changes.count("withdrawn") == 1, changes
        assert changes.count("confirmed") == (2 if confirmed == "granted" else 1), (confirmed, changes)
        state = visitor.contact(address)["purposes"]["newsletter"]["status"]
        assert state == {"confirmed": "granted", "withdrawn": "withdrawn"}[changes[-1]], changes
