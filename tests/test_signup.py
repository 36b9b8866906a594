"""POST /forms/{id}: a signup is recorded as pending with its evidence, or refused whole."""

from __future__ import annotations

import html
import json
import re

import pytest

from chalicelib import catalogue


def test_form_post_answers_check_your_inbox_and_records_pending(visitor):
    response = visitor.post_form(
        "/forms/newsletter",
        [("email", "Anna@Example.com"), ("name", "Anna"), ("purposes", "newsletter"), ("purposes", "offers")],
        headers={"User-Agent": "Firefox/140"},
    )
    assert response.status_code == 200
    assert "Kijk in uw inbox" in response.body.decode()
    contact = visitor.contact("Anna@example.com")
    assert contact["email"] == "Anna@example.com"
    assert {p: s["status"] for p, s in contact["purposes"].items()} == {
        "newsletter": "pending",
        "offers": "pending",
    }
    # Name and language wait on the pending signup until its confirmation writes them.
    assert (contact["name"], contact["lang"]) == (None, None)
    (pending,) = [i for i in visitor.person_items("Anna@example.com") if i["sk"].startswith("PENDING#")]
    assert (pending["email"], pending["name"], pending["lang"]) == ("Anna@example.com", "Anna", "nl")
    assert len(visitor.queued()) == 1


def test_json_signup_answers_202_pending(visitor):
    response = visitor.post_json(
        "/forms/newsletter", {"email": "bob@example.com", "lang": "en", "purposes": ["offers"]}
    )
    assert response.status_code == 202
    assert json.loads(response.body) == {"status": "pending"}
    assert list(visitor.contact("bob@example.com")["purposes"]) == ["offers"]
    (pending,) = [i for i in visitor.person_items("bob@example.com") if i["sk"].startswith("PENDING#")]
    assert pending["lang"] == "en"


def test_each_purpose_gets_its_own_state_and_its_own_text_in_the_event(visitor):
    """LAW 2: a signup's one event names exactly the purposes ticked, each with the text
    shown for it; each purpose has its own state."""
    visitor.signup("carla@example.com", purposes=("newsletter",))
    assert list(visitor.contact("carla@example.com")["purposes"]) == ["newsletter"]
    (event,) = visitor.events("carla@example.com")
    assert (event["type"], event["purposes"]) == ("signup_requested", ["newsletter"])
    assert list(event["evidence"]["texts"]) == list(event["evidence"]["text_versions"]) == ["newsletter"]
    visitor.signup("carla@example.com", purposes=("newsletter", "offers"))
    later = visitor.events("carla@example.com")[-1]
    assert later["purposes"] == ["newsletter", "offers"]
    assert set(later["evidence"]["texts"]) == {"newsletter", "offers"}
    assert later["evidence"]["texts"]["newsletter"] != later["evidence"]["texts"]["offers"]


def test_event_evidence_holds_the_exact_text_the_page_showed(visitor):
    """LAW 5: the stored text equals the label the visitor read, byte for byte."""
    page = visitor.get("/forms/newsletter?lang=en").body.decode()
    shown = {
        m.group(1): html.unescape(m.group(2))
        for m in re.finditer(r'<label for="purpose-(\w+)">(.*?)</label>', page, re.S)
    }
    visitor.post_form(
        "/forms/newsletter?lang=en",
        [("email", "dirk@example.com"), ("lang", "en"), ("purposes", "newsletter"), ("purposes", "offers")],
        headers={"User-Agent": "TestBrowser/1.0"},
    )
    (event,) = visitor.events("dirk@example.com")
    assert event["purposes"] == ["newsletter", "offers"]
    evidence = event["evidence"]
    for purpose in ("newsletter", "offers"):
        text = evidence["texts"][purpose]
        assert text.encode() == shown[purpose].encode()
        assert evidence["text_versions"][purpose] == catalogue.text_version(purpose, "en", text)
    assert evidence["lang"] == "en" and evidence["form"] == "newsletter"
    assert evidence["ip"] == "127.0.0.1"
    assert evidence["user_agent"] == "TestBrowser/1.0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", event["at"])
    texts = [i for i in visitor.items() if i["pk"].startswith("TEXT#")]
    assert sorted(t["text"] for t in texts) == sorted(shown.values())


def test_source_ip_comes_from_api_gateway_not_from_forwarded_headers(visitor):
    visitor.post_form(
        "/forms/newsletter",
        [("email", "eve@example.com"), ("purposes", "offers")],
        headers={"X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9"},
    )
    assert visitor.events("eve@example.com")[0]["evidence"]["ip"] == "127.0.0.1"


def test_the_text_snapshot_is_stored_once_and_never_overwritten(visitor):
    visitor.signup("fay@example.com")
    visitor.signup("gus@example.com")
    texts = [i for i in visitor.items() if i["pk"].startswith("TEXT#")]
    assert len(texts) == 2
    assert all(t["first_shown"] < visitor.events("gus@example.com")[0]["at"] for t in texts)


def _nothing_stored(visitor) -> None:
    assert [i for i in visitor.items() if not i["pk"].startswith("TEXT#")] == []
    assert visitor.queued() == []
    assert visitor.sent_mail() == []


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ([("email", "hans@example.com")], "purposes", "tick at least one purpose"),
        ([("email", "hans@example.com"), ("purposes", "")], "purposes", ""),
        ([("email", "hans@example.com"), ("purposes", "lottery")], "purposes", "unknown purpose: lottery"),
        ([("email", "not-an-address"), ("purposes", "newsletter")], "email", "not a valid email address"),
        ([("purposes", "newsletter")], "email", "required"),
        (
            [("email", "a@example.com\r\nBcc: victim@example.org"), ("purposes", "newsletter")],
            "email",
            "line breaks",
        ),
        ([("email", "a@example.com, b@example.com"), ("purposes", "newsletter")], "email", "not a valid"),
        ([("email", "x" * 250 + "@example.com"), ("purposes", "newsletter")], "email", "at most 254"),
        (
            [("email", "ida@example.com"), ("name", "Ida\nBcc: x"), ("purposes", "offers")],
            "name",
            "line breaks",
        ),
    ],
)
def test_bad_input_is_422_naming_the_field_and_leaves_nothing(visitor, fields, field, reason):
    response = visitor.post_json(
        "/forms/newsletter",
        {k: v for k, v in fields if k != "purposes"}
        | {"purposes": [v for k, v in fields if k == "purposes"]},
    )
    assert response.status_code == 422
    errors = json.loads(response.body)["errors"]
    assert field in errors and reason in errors[field]
    page = visitor.post_form("/forms/newsletter", fields)
    assert page.status_code == 422
    body = page.body.decode()
    assert f'id="{field}-error"' in body
    _nothing_stored(visitor)


def test_the_form_page_keeps_the_input_after_an_error(visitor):
    page = visitor.post_form(
        "/forms/newsletter", [("email", "jan@example.com"), ("name", "<b>Jan</b>")]
    ).body.decode()
    assert 'value="jan@example.com"' in page
    assert 'value="&lt;b&gt;Jan&lt;/b&gt;"' in page and "<b>Jan</b>" not in page
    assert 'aria-describedby="purposes-error"' in page


def test_a_plain_html_form_posting_only_email_and_purposes_works(visitor):
    response = visitor.post_form(
        "/forms/newsletter", [("email", "kim@example.com"), ("purposes", "newsletter")]
    )
    assert response.status_code == 200
    assert visitor.contact("kim@example.com")["purposes"]["newsletter"]["status"] == "pending"


def test_wrong_content_type_is_415_and_huge_body_is_413(visitor):
    response = visitor.client.http.post(
        "/forms/newsletter", headers={"Content-Type": "text/xml"}, body=b"<x/>"
    )
    assert response.status_code == 415
    big = visitor.post_form(
        "/forms/newsletter", [("email", "l@example.com"), ("purposes", "newsletter"), ("name", "x" * 17000)]
    )
    assert big.status_code == 413
    _nothing_stored(visitor)


def test_foreign_origin_is_403_and_listed_origin_works(visitor):
    fields = [("email", "mia@example.com"), ("purposes", "newsletter")]
    refused = visitor.post_form("/forms/newsletter", fields, headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    _nothing_stored(visitor)
    allowed = visitor.post_form("/forms/newsletter", fields, headers={"Origin": "https://consentry.example"})
    assert allowed.status_code == 200


def test_unknown_form_post_is_404_and_stores_nothing(visitor):
    assert (
        visitor.post_form("/forms/nope", [("email", "n@example.com"), ("purposes", "x")]).status_code == 404
    )
    _nothing_stored(visitor)


def test_honeypot_gets_the_normal_answer_and_nothing_is_stored(visitor):
    response = visitor.post_form(
        "/forms/newsletter",
        [("email", "bot@example.com"), ("purposes", "newsletter"), ("website", "http://spam")],
    )
    assert response.status_code == 200 and "Kijk in uw inbox" in response.body.decode()
    _nothing_stored(visitor)


def test_the_answer_is_the_same_for_new_pending_and_subscribed_addresses(visitor):
    first = visitor.signup("olga@example.com").body
    again = visitor.signup("olga@example.com").body
    visitor.run_mail_jobs()
    link = visitor.confirm_link("olga@example.com")
    visitor.client.http.post(link, headers={"Content-Type": "application/x-www-form-urlencoded"})
    subscribed = visitor.signup("olga@example.com").body
    assert first == again == subscribed


def test_a_new_signup_never_downgrades_a_granted_purpose(visitor):
    visitor.signup("piet@example.com", purposes=("newsletter",), name="Piet", lang="nl")
    visitor.run_mail_jobs()
    visitor.client.http.post(visitor.confirm_link("piet@example.com"))
    visitor.signup("piet@example.com", purposes=("newsletter", "offers"), name="Someone Else", lang="en")
    contact = visitor.contact("piet@example.com")
    assert contact["purposes"]["newsletter"]["status"] == "granted"
    assert contact["purposes"]["offers"]["status"] == "pending"
    # an unconfirmed signup by anyone never renames a subscriber or changes their language
    assert (contact["name"], contact["lang"]) == ("Piet", "nl")
