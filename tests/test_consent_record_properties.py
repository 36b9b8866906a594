"""Random interleavings of everything that changes a person's standing, through the real
routes on the real ledger, checked against a model kept alongside (issue 10).

The steps: the person's signup, a stranger's signup of the same address (another name and
language), pressing confirm behind any link mailed so far (old or new), a one-click
unsubscribe (for one purpose or everything), a preferences post and an objection. After
every step `/api/contacts`, the audiences (`/api/audiences/{purpose}`) and the events must
say exactly what the model says: each purpose's state is what was last confirmed or
withdrawn (`pending` only while nothing was), a waiting signup shows beside it, name and
language are those of the last signup confirmed, and nothing unconfirmed reaches an
audience (LAW 2, 5, 7, 17, 19, 20).

One moto account per test, a fresh address per example; the per-address mail cap (3 a day)
is part of the model: a fourth signup stores nothing and sends nothing (LAW 11).
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import catalogue

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
PURPOSES = ("newsletter", "offers")
OWNER = {"name": "Anna", "lang": "nl"}
STRANGER = {"name": "Mallory", "lang": "en"}
MAILS_PER_DAY = 3
TEXTS = {p: purpose.texts for p, purpose in catalogue.load().purposes.items()}

_addresses = itertools.count(1)


@dataclass
class Model:
    """What the record must say, kept by hand from the steps taken."""

    state: dict[str, str] = field(default_factory=dict)  # purpose -> granted | withdrawn
    pending: dict[int, set[str]] = field(default_factory=dict)  # link index -> purposes held
    signers: list[dict[str, str]] = field(default_factory=list)  # link index -> who signed up
    confirmed: set[int] = field(default_factory=set)
    name: str | None = None
    lang: str | None = None
    profiling: str = "allowed"
    suppressed: bool = False
    signups: int = 0
    events: Counter[tuple[str, str | None]] = field(default_factory=Counter)

    def waiting(self, purpose: str) -> bool:
        return any(purpose in held for held in self.pending.values())

    def purposes(self) -> set[str]:
        return set(self.state) | {p for held in self.pending.values() for p in held}

    def withdraw(self, purposes: set[str]) -> None:
        """What saying no changes: granted or waiting purposes become withdrawn, and leave
        every waiting signup (one emptied is gone)."""
        for purpose in sorted(purposes):
            if self.state.get(purpose) == "granted" or self.waiting(purpose):
                self.state[purpose] = "withdrawn"
                self.events["withdrawn", purpose] += 1
                for held in self.pending.values():
                    held.discard(purpose)
        self.pending = {i: held for i, held in self.pending.items() if held}


STEP = st.one_of(
    st.tuples(
        st.just("signup"), st.sampled_from([OWNER, STRANGER]), st.sets(st.sampled_from(PURPOSES), min_size=1)
    ),
    st.tuples(st.just("confirm"), st.integers(0, 5)),
    st.tuples(st.just("one_click"), st.sampled_from([*PURPOSES, None])),
    st.tuples(st.just("preferences"), st.sets(st.sampled_from(PURPOSES))),
    st.tuples(st.just("profiling"), st.sampled_from(["object", "allow"])),
)


@settings(
    max_examples=50,
    deadline=None,
    database=None,  # nothing left in the work tree; a failure prints its steps
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=st.lists(STEP, min_size=1, max_size=8))
def test_the_api_the_audiences_and_the_events_agree_with_the_last_confirmed_or_withdrawn_state(
    visitor, steps
):
    email = f"prop{next(_addresses)}@example.com"
    model = Model()
    links: list[str] = []
    for step in steps:
        _take(visitor, email, model, links, step)
        _check(visitor, email, model)


def _take(visitor, email: str, model: Model, links: list[str], step: tuple) -> None:
    kind = step[0]
    if kind == "signup":
        _, who, purposes = step
        visitor.signup(email, purposes=tuple(sorted(purposes)), **who)
        visitor.run_mail_jobs()
        if model.signups < MAILS_PER_DAY:
            links.append(visitor.confirm_link(email))
            model.pending[len(model.signers)] = set(purposes)
            model.signers.append(who)
            model.events.update(("signup_requested", p) for p in purposes)
        model.signups += 1
        assert len(visitor.mail_to(email)) == len(links)  # over the cap: no mail, nothing stored
        mail = visitor.mail_to(email)[-1].get_body(("plain",)).get_content() if links else ""
        assert "Anna" not in mail and "Mallory" not in mail  # LAW 8: no name a signup typed
    elif kind == "confirm":
        if not links:
            return
        index = step[1] % len(links)
        shown = visitor.get(links[index])
        answer = visitor.client.http.post(links[index], headers=FORM)
        if index in model.pending:
            granted = model.pending.pop(index)
            lang = model.signers[index]["lang"]
            for page in (shown, answer):
                assert page.status_code == 200
                body = page.body.decode()
                assert {p for p in PURPOSES if TEXTS[p][lang] in body} == granted  # exactly what it holds
            model.events["confirmation_sent", None] += 1  # the mail's event: written by the confirmation
            for purpose in granted:
                model.state[purpose] = "granted"
                model.events["confirmed", purpose] += 1
            model.confirmed.add(index)
            model.name, model.lang = model.signers[index]["name"], lang
            model.suppressed = False
        elif index in model.confirmed:
            # Harmless (LAW 9): "already confirmed", or 410 once a later signup's grant
            # replaced this one's; either way nothing changes (checked below).
            assert shown.status_code == answer.status_code and answer.status_code in (200, 410)
        else:
            assert (shown.status_code, answer.status_code) == (410, 410)  # nothing left to grant
    elif kind == "one_click":
        if model.signups == 0:
            return
        purpose = step[1]
        assert visitor.one_click(visitor.unsubscribe_path(email, purpose)).status_code == 200
        model.withdraw({purpose} if purpose else model.purposes())
        model.suppressed = model.suppressed or purpose is None
    elif kind == "preferences":
        if model.signups == 0:
            return
        kept = step[1]
        fields = [("form", "preferences")] + [("purposes", p) for p in sorted(kept)]
        assert visitor.post_form(visitor.unsubscribe_path(email), fields).status_code == 200
        model.withdraw(set(PURPOSES) - kept)
    elif kind == "profiling":
        if model.signups == 0:
            return
        choice = {"object": "objected", "allow": "allowed"}[step[1]]
        answer = visitor.post_form(visitor.unsubscribe_path(email), {"profiling": step[1]})
        assert answer.status_code == 200
        if choice != model.profiling:
            model.events[f"profiling_{choice}", None] += 1
            model.profiling = choice


def _check(visitor, email: str, model: Model) -> None:
    response = visitor.api(f"/api/contacts/{email}")
    if model.signups == 0:
        assert response.status_code == 404
        return
    contact = json.loads(response.body)
    assert {p: (s["status"], s["pending_signup"]) for p, s in contact["purposes"].items()} == {
        p: (model.state.get(p, "pending"), model.waiting(p)) for p in model.purposes()
    }
    assert (contact["name"], contact["lang"]) == (model.name, model.lang)
    assert (contact["profiling"], contact["suppressed"]) == (model.profiling, model.suppressed)

    for purpose in PURPOSES:
        rows = [c for c in visitor.audience(purpose) if c["email"] == email]
        if model.state.get(purpose) == "granted" and not model.suppressed:
            (row,) = rows
            assert (row["name"], row["lang"]) == (model.name, model.lang)
            assert row["profiling_allowed"] == (model.profiling == "allowed")
        else:
            assert rows == []  # LAW 7, 19: never a pending or withdrawn address

    events = visitor.events(email)
    # Per purpose: a signup's and a confirmation's one event counts for each purpose it names.
    assert Counter((e["type"], p) for e in events for p in e.get("purposes") or [None]) == model.events
    for purpose in PURPOSES:
        said = [
            e["type"]
            for e in events
            if purpose in e.get("purposes", []) and e["type"] in ("confirmed", "withdrawn")
        ]
        last = {"confirmed": "granted", "withdrawn": "withdrawn"}[said[-1]] if said else None
        assert last == model.state.get(purpose)
