"""GET /forms/{id}: what a visitor sees before saying yes (LAW 1, 2, 3, 4)."""

from __future__ import annotations

import html
import re

from chalicelib import catalogue


def _labels(body: str) -> dict[str, str]:
    """checkbox id -> the label text the visitor reads, unescaped."""
    return {
        m.group(1): html.unescape(m.group(2))
        for m in re.finditer(r'<label for="(purpose-[a-z_-]+)">(.*?)</label>', body, re.S)
    }


def test_form_page_in_dutch_by_default_shows_everything_before_submitting(visitor):
    response = visitor.get("/forms/newsletter")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    body = response.body.decode()
    controller = catalogue.load().controller
    assert '<html lang="nl">' in body
    assert controller.name in body and controller.address in body
    assert f'href="{controller.privacy_url}"' in body
    assert "op elk moment intrekken" in body
    assert '<form method="post"' in body
    assert _labels(body) == {
        "purpose-newsletter": catalogue.load().purposes["newsletter"].texts["nl"],
        "purpose-offers": catalogue.load().purposes["offers"].texts["nl"],
    }


def test_no_checkbox_is_ticked_and_only_the_address_is_required(visitor):
    body = visitor.get("/forms/newsletter").body.decode()
    checkboxes = re.findall(r'<input type="checkbox"[^>]*>', body)
    assert len(checkboxes) == 2
    assert all("checked" not in box for box in checkboxes)
    required = re.findall(r"<input[^>]*\brequired\b[^>]*>", body)
    assert len(required) == 1 and 'name="email"' in required[0]


def test_each_purpose_has_its_own_checkbox_with_its_own_name_value(visitor):
    body = visitor.get("/forms/newsletter").body.decode()
    values = re.findall(r'<input type="checkbox" id="purpose-(\w+)" name="purposes" value="(\w+)"', body)
    assert values == [("newsletter", "newsletter"), ("offers", "offers")]


def test_consent_is_not_bundled_with_terms(visitor):
    body = visitor.get("/forms/newsletter").body.decode().lower()
    for bundled in ("algemene voorwaarden", "terms and conditions", "terms of service"):
        assert bundled not in body


def test_english_by_query_and_by_accept_language(visitor):
    by_query = visitor.get("/forms/newsletter?lang=en").body.decode()
    assert '<html lang="en">' in by_query and "withdraw your consent at any time" in by_query
    assert _labels(by_query)["purpose-newsletter"] == catalogue.load().purposes["newsletter"].texts["en"]
    by_header = visitor.get("/forms/newsletter", headers={"Accept-Language": "en-GB,en;q=0.9,nl;q=0.5"})
    assert '<html lang="en">' in by_header.body.decode()
    preferring_german = visitor.get("/forms/newsletter", headers={"Accept-Language": "de-AT, nl;q=0.8"})
    assert '<html lang="de">' in preferring_german.body.decode()
    not_offered_first = visitor.get(
        "/forms/newsletter", headers={"Accept-Language": "fr, nl;q=0.8, en;q=0.6"}
    )
    assert '<html lang="nl">' in not_offered_first.body.decode()
    unknown = visitor.get("/forms/newsletter?lang=fr", headers={"Accept-Language": "fr"})
    assert '<html lang="nl">' in unknown.body.decode()


def test_unknown_form_is_404(visitor):
    response = visitor.get("/forms/nope")
    assert response.status_code == 404
    assert "bestaat niet" in response.body.decode()


def test_form_page_headers_are_strict(visitor):
    headers = visitor.get("/forms/newsletter").headers
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors https://consentry.example" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
