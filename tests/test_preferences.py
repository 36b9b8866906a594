"""Posting the preferences page: keep some purposes, object to profiling, leave everything.

LAW 5 (each change its own event), 18 (no reason asked), 19, 20 (objection is its own
control; plain newsletters continue; the right to object is shown), 22.
"""

from __future__ import annotations

import json
import re

import pytest


def _statuses(visitor, email):
    return {p: s["status"] for p, s in visitor.contact(email)["purposes"].items()}


def _types(visitor, email):
    return [e["type"] for e in visitor.events(email)]


def test_keeping_one_purpose_withdraws_the_other(visitor):
    visitor.subscribed("ada@example.com")
    path = visitor.unsubscribe_path("ada@example.com")
    response = visitor.post_form(path, [("form", "preferences"), ("purposes", "newsletter")])
    assert response.status_code == 200
    body = response.body.decode()
    assert "Uw keuzes zijn opgeslagen" in body
    assert re.search(r'name="leave" value="newsletter"', body) and 'data-state="withdrawn"' in body
    assert 'name="leave" value="offers"' not in body  # withdrawn: nothing left to leave
    assert _statuses(visitor, "ada@example.com") == {"newsletter": "granted", "offers": "withdrawn"}
    (event,) = [e for e in visitor.events("ada@example.com") if e["type"] == "withdrawn"]
    assert (event["purpose"], event["evidence"]["channel"]) == ("offers", "preferences")
    assert [c["email"] for c in visitor.audience("offers")] == []
    assert visitor.contact("ada@example.com")["suppressed"] is False


def test_unticking_every_box_withdraws_all_without_suppressing(visitor):
    visitor.subscribed("bo@example.com")
    visitor.post_form(visitor.unsubscribe_path("bo@example.com"), [("form", "preferences")])
    assert _statuses(visitor, "bo@example.com") == {"newsletter": "withdrawn", "offers": "withdrawn"}
    assert visitor.contact("bo@example.com")["suppressed"] is False


def test_objecting_to_profiling_keeps_the_newsletter_and_shows_in_the_audience(visitor):
    """LAW 20: its own control; after it profiling_allowed is false, mail may continue."""
    visitor.subscribed("cor@example.com", purposes=("newsletter",))
    visitor.subscribed("dirk@example.com", purposes=("newsletter",))
    path = visitor.unsubscribe_path("cor@example.com")
    assert 'name="profiling" value="object"' in visitor.get(path).body.decode()
    response = visitor.post_form(path, {"profiling": "object"})
    assert response.status_code == 200
    body = response.body.decode()
    assert 'data-profiling="objected"' in body and 'name="profiling" value="allow"' in body
    contact = visitor.contact("cor@example.com")
    assert contact["profiling"] == "objected"
    assert _statuses(visitor, "cor@example.com") == {"newsletter": "granted"}
    audience = {c["email"]: c["profiling_allowed"] for c in visitor.audience("newsletter")}
    assert audience == {"cor@example.com": False, "dirk@example.com": True}
    (event,) = [e for e in visitor.events("cor@example.com") if e["type"] == "profiling_objected"]
    assert event["evidence"]["channel"] == "preferences" and "purpose" not in event
    # objecting again records nothing new; allowing again is its own event
    visitor.post_form(path, {"profiling": "object"})
    assert _types(visitor, "cor@example.com").count("profiling_objected") == 1
    visitor.post_json(path, {"profiling": "allow"})
    assert visitor.contact("cor@example.com")["profiling"] == "allowed"
    assert _types(visitor, "cor@example.com")[-1] == "profiling_allowed"


def test_profiling_is_allowed_by_default(visitor):
    visitor.subscribed("eva@example.com")
    assert visitor.contact("eva@example.com")["profiling"] == "allowed"
    assert visitor.audience("offers")[0]["profiling_allowed"] is True


def test_everything_withdraws_every_purpose_and_suppresses(visitor):
    visitor.subscribed("fenna@example.com")
    path = visitor.unsubscribe_path("fenna@example.com", "offers")  # a purpose link's page too
    response = visitor.post_form(path, {"everything": "1"})
    assert response.status_code == 200
    assert _statuses(visitor, "fenna@example.com") == {"newsletter": "withdrawn", "offers": "withdrawn"}
    contact = visitor.contact("fenna@example.com")
    assert contact["suppressed"] is True
    assert _types(visitor, "fenna@example.com").count("withdrawn") == 2
    (marker,) = [i for i in visitor.items() if i["pk"].startswith("SUPPRESS#")]
    assert marker["reason"] == "unsubscribed"


def test_one_post_with_several_changes_is_one_transaction_with_an_event_each(visitor):
    visitor.subscribed("gert@example.com")
    path = visitor.unsubscribe_path("gert@example.com")
    with visitor.dynamodb_calls() as dynamodb_calls:
        visitor.post_form(
            path, [("form", "preferences"), ("purposes", "newsletter"), ("profiling", "object")]
        )
    assert dynamodb_calls.count("TransactWriteItems") == 1
    assert "Scan" not in dynamodb_calls
    events = visitor.events("gert@example.com")[-2:]
    assert sorted(e["type"] for e in events) == ["profiling_objected", "withdrawn"]
    assert events[0]["at"] == events[1]["at"]


def test_a_preferences_post_never_grants(visitor):
    """Ticking a withdrawn purpose is ignored; the page points to the double opt-in form."""
    visitor.subscribed("hans@example.com")
    path = visitor.unsubscribe_path("hans@example.com")
    visitor.one_click(visitor.unsubscribe_path("hans@example.com", "offers"))
    events = visitor.events("hans@example.com")
    response = visitor.post_form(
        path, [("form", "preferences"), ("purposes", "newsletter"), ("purposes", "offers")]
    )
    assert response.status_code == 200
    body = response.body.decode()
    assert "opnieuw aan via het aanmeldformulier" in body and 'href="../forms/newsletter?lang=nl"' in body
    assert _statuses(visitor, "hans@example.com") == {"newsletter": "granted", "offers": "withdrawn"}
    assert visitor.events("hans@example.com") == events
    as_json = visitor.post_json(path, {"purposes": ["newsletter", "offers"]})
    answer = json.loads(as_json.body)
    assert answer["not_granted"] == ["offers"] and answer["purposes"]["offers"] == "withdrawn"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ([("form", "preferences"), ("purposes", "lottery")], "purposes"),
        ([("profiling", "maybe")], "profiling"),
        ([("everything", "please")], "everything"),
        ([("form", "preferences"), ("purposes", "newsletter"), ("admin", "1")], "admin"),
    ],
)
def test_bad_choices_are_422_naming_the_field_and_change_nothing(visitor, fields, field):
    visitor.subscribed("ines@example.com")
    path = visitor.unsubscribe_path("ines@example.com")
    before = visitor.items()
    page = visitor.post_form(path, fields)
    assert page.status_code == 422
    assert f'id="{field}-error"' in page.body.decode()
    assert "recht bezwaar te maken" in page.body.decode()
    data = {k: v for k, v in fields if k != "purposes"}
    if any(k == "purposes" for k, _ in fields):
        data["purposes"] = [v for k, v in fields if k == "purposes"]
    as_json = visitor.post_json(path, data)
    assert as_json.status_code == 422 and field in json.loads(as_json.body)["errors"]
    assert visitor.items() == before


def test_json_preferences_answer_with_the_new_standing(visitor):
    visitor.subscribed("jet@example.com", lang="en")
    response = visitor.post_json(visitor.unsubscribe_path("jet@example.com"), {"purposes": ["offers"]})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert json.loads(response.body) == {
        "withdrawn": ["newsletter"],
        "profiling": "allowed",
        "purposes": {"newsletter": "withdrawn", "offers": "granted"},
        "suppressed": False,
        "not_granted": [],
    }


def test_every_preferences_page_and_the_confirmation_page_tell_of_the_right_to_object(visitor):
    """LAW 20: shown before any marketing mail can be sent (at confirmation) and on every
    preferences page, in the person's language."""
    visitor.signup("kees@example.com", lang="en")
    visitor.run_mail_jobs()
    link = visitor.confirm_link("kees@example.com")
    confirm_page = visitor.get(link).body.decode()
    confirmed = visitor.client.http.post(link).body.decode()
    path = visitor.unsubscribe_path("kees@example.com")
    pages = [
        visitor.get(path).body.decode(),
        visitor.post_form(path, {"profiling": "object"}).body.decode(),
        visitor.post_form(path, {"everything": "1"}).body.decode(),
    ]
    for body in (confirm_page, confirmed):
        assert "right to object to profiling" in body
    for body in pages:
        assert "You have the right to object at any time to profiling" in body


# -- issue 13: whose preferences, one button per purpose --------------------------------------


def test_the_page_says_whose_preferences_with_the_address_partly_masked(visitor):
    """A forwarded link or a glance over a shoulder shows little; its owner still sees it is theirs."""
    from chalicelib.preferences import masked

    assert masked("ada@example.nl") == "a\u2022\u2022\u2022@example.nl"
    visitor.subscribed("gerrit@example.com", lang="de")
    body = visitor.get(visitor.unsubscribe_path("gerrit@example.com")).body.decode()
    assert "Für die Adresse g\u2022\u2022\u2022@example.com" in body
    assert "gerrit@example.com" not in body and "gerrit" not in body


def test_the_button_beside_a_purpose_leaves_just_that_one(visitor):
    """LAW 18, 19: one press, no reason; that purpose leaves its audience, the other stays,
    and nothing is suppressed (that is what 'everything' is for)."""
    visitor.subscribed("hanna@example.com", lang="en")
    path = visitor.unsubscribe_path("hanna@example.com")
    response = visitor.post_form(path, {"leave": "offers"})
    assert response.status_code == 200
    body = response.body.decode()
    assert "You will no longer receive mails for: Offers. This took effect at once." in body
    assert re.findall(r'name="leave" value="(\w+)"', body) == ["newsletter"]
    assert _statuses(visitor, "hanna@example.com") == {"newsletter": "granted", "offers": "withdrawn"}
    assert [c["email"] for c in visitor.audience("offers")] == []
    assert [c["email"] for c in visitor.audience("newsletter")] == ["hanna@example.com"]
    assert visitor.contact("hanna@example.com")["suppressed"] is False
    (event,) = [e for e in visitor.events("hanna@example.com") if e["type"] == "withdrawn"]
    assert (event["purpose"], event["evidence"]["channel"]) == ("offers", "preferences")
    again = visitor.post_form(path, {"leave": "offers"})
    assert "Nothing needed changing." in again.body.decode()
    assert len([e for e in visitor.events("hanna@example.com") if e["type"] == "withdrawn"]) == 1


def test_leaving_an_unknown_purpose_is_422_naming_the_field_and_changes_nothing(visitor):
    visitor.subscribed("ids@example.com")
    before = visitor.items()
    response = visitor.post_json(visitor.unsubscribe_path("ids@example.com"), {"leave": "lottery"})
    assert response.status_code == 422 and json.loads(response.body)["errors"] == {
        "leave": "unknown purpose: lottery"
    }
    assert visitor.items() == before
