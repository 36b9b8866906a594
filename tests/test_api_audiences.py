"""POST /api/links and GET /api/audiences/{purpose}: who may be mailed, with which headers.

LAW 7 (pending never in an audience), 16 (List-Unsubscribe headers), 19, 20, 22.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from chalicelib import tokens
from tests.conftest import BASE_URL


def test_links_answer_the_url_and_both_headers(visitor):
    """LAW 16: List-Unsubscribe with the https URL and a mailto, and the one-click header."""
    visitor.subscribed("ada@example.com")
    answer = visitor.links("ADA@example.com")
    url = answer["unsubscribe_url"]
    assert url.startswith(f"{BASE_URL}/unsubscribe/")
    assert answer["headers"] == {
        "List-Unsubscribe": f"<{url}>, <mailto:unsubscribe@consentry.example?subject=unsubscribe>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert set(answer) == {"unsubscribe_url", "headers"}
    assert "example.com" not in url.lower()  # the token names a keyed hash, not the address


def test_links_for_unknown_addresses_purposes_and_keys(visitor):
    visitor.subscribed("bo@example.com")
    assert visitor.api_post("/api/links", {"email": "nobody@example.com"}).status_code == 404
    unknown_purpose = visitor.api_post("/api/links", {"email": "bo@example.com", "purpose": "lottery"})
    assert unknown_purpose.status_code == 422 and "purpose" in json.loads(unknown_purpose.body)["errors"]
    extra = visitor.api_post("/api/links", {"email": "bo@example.com", "list": "x"})
    assert extra.status_code == 422 and "list" in json.loads(extra.body)["errors"]
    bad = visitor.api_post("/api/links", {"email": "not-an-address"})
    assert bad.status_code == 422 and "email" in json.loads(bad.body)["errors"]
    anonymous = visitor.post_json("/api/links", {"email": "bo@example.com"})
    assert anonymous.status_code == 401 and b"unsubscribe" not in anonymous.body


def test_the_audience_is_exactly_the_granted_unsuppressed_contacts_page_by_page(visitor):
    """LAW 7, 19, 22: never pending, withdrawn or suppressed; queried, never scanned."""
    granted = [f"m{i}@example.com" for i in range(7)]
    for email in granted:
        visitor.subscribed(email, purposes=("newsletter",))
    visitor.signup("pending@example.com", purposes=("newsletter",))
    visitor.subscribed("withdrawn@example.com", purposes=("newsletter",))
    visitor.one_click(visitor.unsubscribe_path("withdrawn@example.com", "newsletter"))
    visitor.subscribed("everything@example.com", purposes=("newsletter",))
    visitor.post_form(visitor.unsubscribe_path("everything@example.com"), {"everything": "1"})
    visitor.subscribed("marked@example.com", purposes=("newsletter",))
    # A marker on its own (as erasure or an import check leaves one) also keeps a person out.
    marked = visitor.contact("marked@example.com")
    assert marked["purposes"]["newsletter"]["status"] == "granted"
    from chalicelib.keys import get_keys

    visitor.ddb.put_item(
        TableName=visitor.resources["table"],
        Item={
            "pk": {"S": f"SUPPRESS#{get_keys().subject_id('marked@example.com')}"},
            "sk": {"S": "SUPPRESS"},
            "reason": {"S": "complaint"},
        },
    )
    visitor.subscribed("offers-only@example.com", purposes=("offers",))

    pages = 0
    contacts: list[dict] = []
    cursor = None
    with visitor.dynamodb_calls() as dynamodb_calls:
        while True:
            query = "limit=2" + (f"&cursor={quote(cursor)}" if cursor else "")
            response = visitor.audience_page("newsletter", query)
            assert response.status_code == 200
            page = json.loads(response.body)
            assert len(page["contacts"]) <= 2
            contacts += page["contacts"]
            pages += 1
            cursor = page["next"]
            if cursor is None:
                break
    assert pages >= 4
    assert sorted(c["email"] for c in contacts) == sorted(granted)
    assert set(dynamodb_calls) <= {"Query", "BatchGetItem"} and "Query" in dynamodb_calls
    for contact in contacts:
        assert set(contact) == {"email", "name", "lang", "profiling_allowed", "unsubscribe_url"}
        assert contact["unsubscribe_url"].startswith(f"{BASE_URL}/unsubscribe/")
    assert [c["email"] for c in visitor.audience("offers")] == ["offers-only@example.com"]
    assert sorted(c["email"] for c in visitor.audience("newsletter", limit=1000)) == sorted(granted)


def test_an_audience_row_carries_a_link_for_that_purpose_only(visitor):
    visitor.subscribed("cor@example.com", name="Cor", lang="en")
    (row,) = visitor.audience("offers")
    assert (row["name"], row["lang"], row["profiling_allowed"]) == ("Cor", "en", True)
    visitor.one_click(row["unsubscribe_url"][len(BASE_URL) :])
    statuses = {p: s["status"] for p, s in visitor.contact("cor@example.com")["purposes"].items()}
    assert statuses == {"newsletter": "granted", "offers": "withdrawn"}
    assert visitor.audience("offers") == []


def test_unknown_purpose_bad_cursor_and_bad_limit(visitor):
    visitor.subscribed("dex@example.com", purposes=("newsletter",))
    visitor.subscribed("eli@example.com", purposes=("newsletter",))
    assert visitor.audience_page("lottery").status_code == 404
    first = json.loads(visitor.audience_page("newsletter", "limit=1").body)
    assert first["next"]
    forged = tokens.sign("confirm", tokens.load("cursor", first["next"]))
    for cursor in ("x", first["next"][:-2] + "xx", forged):
        response = visitor.audience_page("newsletter", f"cursor={quote(cursor)}")
        assert response.status_code == 400 and "cursor" in json.loads(response.body)["errors"]
    other_purpose = visitor.audience_page("offers", f"cursor={quote(first['next'])}")
    assert other_purpose.status_code == 400
    for limit in ("0", "1001", "many"):
        response = visitor.audience_page("newsletter", f"limit={limit}")
        assert response.status_code == 422 and "limit" in json.loads(response.body)["errors"]
    assert visitor.get("/api/audiences/newsletter").status_code == 401
