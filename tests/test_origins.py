"""LAW 13: embedded cross-site forms. A foreign Origin is refused; CORS only for listed ones."""

from __future__ import annotations

import json

LISTED = "https://consentry.example"


def test_preflight_allows_only_the_forms_listed_origins_without_credentials(visitor):
    ok = visitor.client.http.request(
        "OPTIONS", "/forms/newsletter", headers={"Origin": LISTED, "Access-Control-Request-Method": "POST"}
    )
    assert ok.status_code == 204
    assert ok.headers["Access-Control-Allow-Origin"] == LISTED
    assert ok.headers["Access-Control-Allow-Methods"] == "POST"
    assert "Access-Control-Allow-Credentials" not in ok.headers
    for origin in ("https://evil.example", "null", "*"):
        refused = visitor.client.http.request("OPTIONS", "/forms/newsletter", headers={"Origin": origin})
        assert refused.status_code == 403
        assert "Access-Control-Allow-Origin" not in refused.headers
    assert (
        visitor.client.http.request("OPTIONS", "/forms/nope", headers={"Origin": LISTED}).status_code == 403
    )


def test_a_json_signup_from_a_listed_origin_gets_cors_headers(visitor):
    response = visitor.post_json(
        "/forms/newsletter", {"email": "cors@example.com", "purposes": ["offers"]}, headers={"Origin": LISTED}
    )
    assert response.status_code == 202
    assert response.headers["Access-Control-Allow-Origin"] == LISTED
    assert response.headers["Vary"] == "Origin"


def test_a_foreign_origin_is_refused_with_403_and_no_cors(visitor):
    response = visitor.post_json(
        "/forms/newsletter",
        {"email": "cors@example.com", "purposes": ["offers"]},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert json.loads(response.body) == {"error": "origin not allowed for this form"}
    assert visitor.api("/api/contacts/cors@example.com").status_code == 404


def test_the_service_itself_is_an_allowed_origin(visitor):
    own = visitor.post_form(
        "/forms/newsletter",
        [("email", "self@example.com"), ("purposes", "offers")],
        headers={"Origin": "https://consent.test"},
    )
    assert own.status_code == 200


def test_pages_may_be_framed_only_where_the_form_says_so(visitor):
    form = visitor.get("/forms/newsletter").headers
    assert (
        "frame-ancestors https://consentry.example https://www.consentry.example"
        in form["Content-Security-Policy"]
    )
    assert "X-Frame-Options" not in form
    for path in ("/forms/nope", "/confirm/bad", "/unsubscribe/bad"):
        headers = visitor.get(path).headers
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY"
