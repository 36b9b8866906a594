"""LAW 11: caps that stop list bombing, written in the same transaction as the signup."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest
from chalice.test import Client

from tests.conftest import ROOT, Visitor
from tests.races import at_once, evidence


def test_at_most_three_confirmation_mails_per_address_per_day(visitor):
    answers = [visitor.signup("victim@example.com").body for _ in range(5)]
    assert len(set(answers)) == 1  # the same answer every time
    visitor.run_mail_jobs()
    assert len(visitor.mail_to("victim@example.com")) == 3
    pending = [i for i in visitor.items() if i["sk"].startswith("PENDING#")]
    assert len(pending) == 3  # the capped signups stored nothing
    requested = [e for e in visitor.events("victim@example.com") if e["type"] == "signup_requested"]
    assert len(requested) == 3 * 2


def test_forty_simultaneous_signups_of_one_address_store_three_and_mail_three(visitor):
    """LAW 11 under a race: the counter and the signup are one transaction, so of forty
    signups at the same moment exactly three get through, and each gets its mail."""
    from chalicelib import catalogue, signups

    form = catalogue.load().form("newsletter")
    data = {"email": "bombed@example.com", "purposes": ["newsletter"]}
    outcomes = at_once(
        [partial(signups.submit, form, data, "nl", evidence("form:newsletter", n)) for n in range(40)]
    )
    assert all(o.accepted and not o.throttled for o in outcomes)  # the same answer every time
    assert len([i for i in visitor.items() if i["sk"].startswith("PENDING#")]) == 3
    assert len(visitor.run_mail_jobs()) == 3
    assert len(visitor.mail_to("bombed@example.com")) == 3
    requested = [e for e in visitor.events("bombed@example.com") if e["type"] == "signup_requested"]
    assert len(requested) == 3


def test_the_cap_is_per_address(visitor):
    for _ in range(3):
        visitor.signup("one@example.com")
    visitor.signup("two@example.com")
    visitor.run_mail_jobs()
    assert len(visitor.mail_to("two@example.com")) == 1


@pytest.fixture
def strict_visitor(aws, tmp_path: Path):
    """The app with a per-IP limit of 2 signups an hour, as a stage might set it."""
    import app as app_module

    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    config["stages"]["local"]["environment_variables"]["CONSENTRY_SIGNUPS_PER_IP_PER_HOUR"] = "2"
    (tmp_path / ".chalice").mkdir()
    (tmp_path / ".chalice" / "config.json").write_text(json.dumps(config))
    with Client(app_module.app, stage_name="local", project_dir=str(tmp_path)) as client:
        yield Visitor(client, aws)


def test_a_per_ip_limit_answers_429_and_stores_nothing(strict_visitor):
    strict_visitor.signup("a1@example.com")
    strict_visitor.signup("a2@example.com")
    third = strict_visitor.post_form(
        "/forms/newsletter", [("email", "a3@example.com"), ("purposes", "offers")]
    )
    assert third.status_code == 429
    assert "Probeer het over een uur opnieuw" in third.body.decode()
    as_json = strict_visitor.post_json(
        "/forms/newsletter", {"email": "a4@example.com", "purposes": ["offers"]}
    )
    assert as_json.status_code == 429 and as_json.headers["Retry-After"] == "3600"
    assert strict_visitor.api("/api/contacts/a3@example.com").status_code == 404
    assert len(strict_visitor.queued()) == 2
