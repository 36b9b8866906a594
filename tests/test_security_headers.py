"""Every answer carries the security headers; HTTPS answers send HSTS (LAW 29).

Chalice's own 405 and 415 answers, JSON answers and our refusals carried no CSP or no
nosniff before, and no answer had Strict-Transport-Security.
"""

from __future__ import annotations

import pytest

from tests.conftest import API_KEY

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _answers(visitor) -> dict[str, object]:
    http = visitor.client.http
    return {
        "form page": visitor.get("/forms/newsletter"),
        "signup JSON 202": visitor.post_json(
            "/forms/newsletter", {"email": "h@example.com", "purposes": ["offers"]}
        ),
        "unknown form JSON 404": visitor.post_json("/forms/nope", {}),
        "Chalice's 405": http.request("PUT", "/forms/newsletter", headers=FORM, body=b""),
        "Chalice's 415": http.post("/forms/newsletter", headers={"Content-Type": "text/csv"}, body=b"a,b"),
        "refused preflight 403": http.request(
            "OPTIONS", "/forms/newsletter", headers={"Origin": "https://evil.example"}
        ),
        "foreign origin 403": visitor.post_json(
            "/requests",
            {"email": "h@example.com", "type": "access"},
            headers={"Origin": "https://evil.example"},
        ),
        "API 401": http.get("/api/contacts/h@example.com"),
        "API 200": http.get("/api/contacts/h@example.com", headers={"Authorization": f"Bearer {API_KEY}"}),
        "embed.js": visitor.get("/embed.js"),
    }


def test_every_answer_carries_csp_nosniff_and_hsts_over_https(visitor):
    for name, response in _answers(visitor).items():
        headers = response.headers
        assert "default-src 'none'" in headers.get("Content-Security-Policy", ""), name
        assert headers.get("X-Content-Type-Options") == "nosniff", name
        assert headers.get("Strict-Transport-Security") == "max-age=63072000; includeSubDomains", name


def test_pages_keep_their_own_policy(visitor):
    page = visitor.get("/forms/newsletter").headers["Content-Security-Policy"]
    assert "style-src 'sha256-" in page and "frame-ancestors https://consentry.example" in page
    assert "form-action 'none'" not in page


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:8000"])
def test_no_hsts_where_the_stage_is_served_over_plain_http(visitor, monkeypatch, base_url):
    """chalice local (make run) is HTTP: HSTS there means nothing and would only mislead."""
    monkeypatch.setenv("CONSENTRY_BASE_URL", base_url)
    for name, response in _answers(visitor).items():
        assert "Strict-Transport-Security" not in response.headers, name
        assert response.headers.get("X-Content-Type-Options") == "nosniff", name
