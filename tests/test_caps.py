"""LAW 11: caps that stop list bombing, written in the same transaction as the signup."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import boto3
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
    assert [e["purposes"] for e in requested] == [["newsletter", "offers"]] * 3


def test_forty_simultaneous_signups_of_one_address_store_three_and_mail_three(visitor):
    """LAW 11 under a race: the counter and the signup are one transaction, so of forty
    signups at the same moment exactly three get through, and each gets its mail."""
    from chalicelib import catalogue, signups

    form = catalogue.load().form("newsletter")
    data = {"email": "bombed@example.com", "purposes": ["newsletter"]}
    outcomes = at_once(
        [partial(signups.submit, form, data, "nl", evidence("form:newsletter", n)) for n in range(40)]
    )
    # the same answer every time: accepted (a refusal, throttled or invalid, would raise)
    assert all(isinstance(o, signups.Accepted) for o in outcomes)
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


# -- one cap for every mail anyone can trigger (issue 10) -----------------------------------


def test_the_cap_is_per_mailbox_whatever_the_tag_or_the_case(visitor):
    """LAW 11: dave+1@, dave+2@ and Dave@ reach one inbox: three mails in all, not three each."""
    spellings = ["dave+1@example.com", "dave+2@example.com", "Dave+3@Example.com", "dave@example.com"]
    answers = {visitor.signup(email).body for email in spellings}
    assert len(answers) == 1  # the same answer, capped or not
    visitor.run_mail_jobs()
    assert len(visitor.sent_mail()) == 3
    # Each spelling stays its own person: the cap folds the mailbox, the ledger does not.
    assert visitor.contact("dave+1@example.com")["email"] == "dave+1@example.com"
    assert visitor.api("/api/contacts/dave@example.com").status_code == 404  # capped: nothing stored


def test_signups_and_access_and_erasure_requests_share_one_cap(visitor):
    """A known address got 5 mails a day before: confirmations and request links each
    counted apart. Now they count together, and a capped request is answered alike."""
    visitor.subscribe("known@example.com")  # mail 1
    visitor.signup("known@example.com", purposes=("offers",))  # mail 2
    for kind in ("access", "erasure"):
        answer = visitor.post_form("/requests", {"email": "known@example.com", "type": kind})
        assert answer.status_code == 202
    visitor.run_mail_jobs()  # mail 3: the access link; the erasure link would be the fourth
    assert len(visitor.mail_to("known@example.com")) == 3
    requests = [i["sk"] for i in visitor.person_items("known@example.com") if i["sk"].startswith("REQUEST#")]
    assert requests == ["REQUEST#access"]  # the capped request left nothing
    visitor.signup("known@example.com")  # the same answer as always, and no mail
    visitor.run_mail_jobs()
    assert len(visitor.mail_to("known@example.com")) == 3


def test_a_capped_request_stores_nothing_and_a_redelivered_job_is_not_counted_twice(visitor):
    visitor.subscribe("twice@example.com")
    visitor.post_form("/requests", {"email": "twice@example.com", "type": "access"})
    (job,) = visitor.queued("mail")
    visitor.deliver([job["Body"]])
    visitor.deliver([job["Body"]])  # SQS delivers at least once: one mail, counted once
    visitor.post_form("/requests", {"email": "twice@example.com", "type": "erasure"})
    visitor.run_mail_jobs()
    assert len(visitor.mail_to("twice@example.com")) == 3  # confirmation, access, erasure
    requests = [i["sk"] for i in visitor.person_items("twice@example.com") if i["sk"].startswith("REQUEST#")]
    assert sorted(requests) == ["REQUEST#access", "REQUEST#erasure"]


def test_the_cap_slides_over_any_24_hours_not_the_utc_calendar_day(aws):
    """Three mails just before midnight UTC, three just after: six arrived within minutes
    before. The counter's slots hold the last three times; checked on moto's DynamoDB."""
    from datetime import UTC, datetime, timedelta

    from chalicelib.caps import mail_caps
    from chalicelib.ledger import RateLimited, get_ledger

    ledger = get_ledger()
    cap = mail_caps("slide-subject", "slide-mailbox")
    evening = datetime(2026, 3, 1, 23, 57, tzinfo=UTC)
    for minute in range(3):
        ledger.charge(cap, evening + timedelta(minutes=minute))
    for later in (timedelta(minutes=5), timedelta(hours=23, minutes=57, seconds=59)):
        with pytest.raises(RateLimited):
            ledger.charge(cap, evening + later)  # after midnight, and until 24 h after the first
    ledger.charge(cap, evening + timedelta(hours=24, seconds=1))  # the first has left the window
    with pytest.raises(RateLimited):
        ledger.charge(cap, evening + timedelta(hours=24, seconds=2))  # the second has not
    ledger.charge(cap, evening + timedelta(hours=24, minutes=1, seconds=1))
    table = boto3.client("dynamodb", region_name="eu-west-1")
    item = table.get_item(
        TableName=aws["table"], Key={"pk": {"S": "RATE#mailbox#slide-mailbox"}, "sk": {"S": "RATE"}}
    )
    slots = [int(item["Item"][f"t{i}"]["N"]) for i in (1, 2, 3)]
    start = int(evening.timestamp())
    assert slots == [start + 120, start + 86401, start + 86461]  # oldest first; refusals wrote nothing


def test_requests_from_one_network_are_limited_like_signups(strict_visitor):
    """POST /requests had no per-IP limit: 300 posts in 9 s. Now it has the forms' limit."""
    for email in ("r1@example.com", "r2@example.com"):
        assert strict_visitor.post_form("/requests", {"email": email, "type": "access"}).status_code == 202
    page = strict_visitor.post_form("/requests", {"email": "r3@example.com", "type": "access"})
    assert page.status_code == 429 and "Probeer het over een uur opnieuw" in page.body.decode()
    as_json = strict_visitor.post_json("/requests", {"email": "r4@example.com", "type": "erasure"})
    assert as_json.status_code == 429 and as_json.headers["Retry-After"] == "3600"
    assert len(strict_visitor.queued("mail")) == 2
    # Signups have their own hourly count: the requests did not use it up.
    strict_visitor.signup("s1@example.com")
