"""Forms that embed anywhere listed: the script, its JSON, the framed page, the stage's extra
origins (the browser tests prove the same in chromium; these pin the HTTP answers)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from chalicelib import catalogue
from tests.conftest import ROOT

LISTED = "https://consentry.example"
DEMO_HOST = "http://127.0.0.1:8080"


def test_the_script_is_small_plain_javascript_that_talks_only_to_its_own_service(visitor):
    response = visitor.get("/embed.js")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    script = response.body.decode()
    assert len(script.encode()) < 16 * 1024
    code = re.sub(r"/\*.*?\*/|//[^\n]*", "", script, flags=re.S)
    assert "http" not in code, "the script may only reach the service it came from"
    assert "import " not in code and "require(" not in code
    for stored in ("cookie", "localStorage", "sessionStorage", "innerHTML"):
        assert stored not in code
    assert 'credentials: "omit"' in code


def test_the_form_as_data_carries_the_catalogues_exact_texts_in_the_visitors_language(visitor):
    cat = catalogue.load()
    for headers, query, lang in (
        ({}, "", "nl"),
        ({"Accept-Language": "en-GB,en;q=0.9"}, "", "en"),
        ({"Accept-Language": "en"}, "?lang=nl", "nl"),
    ):
        response = visitor.get(f"/forms/newsletter/embed{query}", headers={"Origin": LISTED, **headers})
        assert response.status_code == 200
        data = json.loads(response.body)
        assert data["lang"] == lang
        assert data["purposes"] == [
            {"id": p, "text": cat.purposes[p].texts[lang]} for p in cat.forms["newsletter"].purposes
        ]
        assert data["controller"]["name"] == cat.controller.name
        assert data["texts"]["submit"] == cat.forms["newsletter"].wording(lang).button
        assert response.headers["Access-Control-Allow-Origin"] == LISTED
        assert "Access-Control-Allow-Credentials" not in response.headers
        assert "Origin" in response.headers["Vary"]


def test_the_form_as_data_is_refused_to_an_unlisted_origin_and_unknown_forms(visitor):
    refused = visitor.get("/forms/newsletter/embed", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused.headers
    assert visitor.get("/forms/nope/embed").status_code == 404
    no_origin = visitor.get("/forms/newsletter/embed")  # a server, curl: allowed, no CORS
    assert no_origin.status_code == 200 and "Access-Control-Allow-Origin" not in no_origin.headers


def test_the_framed_form_page_keeps_the_controller_and_drops_the_sites_chrome(visitor):
    response = visitor.get("/forms/newsletter?embed=1&lang=en")
    body = response.body.decode()
    assert '<body class="embed">' in body and "<header" not in body and "<footer" not in body
    assert catalogue.load().controller.name in body and catalogue.load().controller.address in body
    assert f'href="{catalogue.load().controller.privacy_url}"' in body
    assert "frame-ancestors https://consentry.example" in response.headers["Content-Security-Policy"]
    sent = visitor.post_form(
        "/forms/newsletter?embed=1&lang=en", [("email", "frame@example.com"), ("purposes", "offers")]
    )
    assert sent.status_code == 200 and '<body class="embed">' in sent.body.decode()
    assert "frame-ancestors https://consentry.example" in sent.headers["Content-Security-Policy"]


def test_a_form_page_lets_the_browser_name_its_origin_and_link_pages_do_not(visitor):
    """A form page with "no-referrer" makes a browser send "Origin: null" with the form's own
    POST, which the origin check refuses: only link pages (tokens in the URL) carry it."""
    form = visitor.get("/forms/newsletter")
    assert 'name="referrer"' not in form.body.decode()
    assert form.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    link = visitor.get("/confirm/nonsense")
    assert '<meta name="referrer" content="no-referrer">' in link.body.decode()
    assert link.headers["Referrer-Policy"] == "no-referrer"


def test_the_stage_adds_its_own_origins_to_each_open_form(visitor, monkeypatch):
    monkeypatch.setenv("CONSENTRY_EXTRA_ORIGINS", f"{DEMO_HOST}, http://localhost:8080/")
    form = catalogue.load().form("newsletter")
    assert form is not None
    assert form.allowed_origins[-2:] == (DEMO_HOST, "http://localhost:8080")
    assert form.frame_ancestors[-2:] == (DEMO_HOST, "http://localhost:8080")
    csp = visitor.get("/forms/newsletter").headers["Content-Security-Policy"]
    assert f"{DEMO_HOST} http://localhost:8080" in csp
    asking = {"Origin": DEMO_HOST, "Access-Control-Request-Method": "POST"}
    preflight = visitor.client.http.request("OPTIONS", "/forms/newsletter", headers=asking)
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == DEMO_HOST
    signup = visitor.post_json(
        "/forms/newsletter", {"email": "demo@example.com", "purposes": ["offers"]}, {"Origin": DEMO_HOST}
    )
    assert signup.status_code == 202
    monkeypatch.delenv("CONSENTRY_EXTRA_ORIGINS")
    assert DEMO_HOST not in catalogue.load().form("newsletter").allowed_origins  # type: ignore[union-attr]


def test_a_form_that_lists_no_origin_stays_closed_and_origins_are_checked():
    assert catalogue._merged([], (DEMO_HOST,)) == ()
    assert catalogue._merged([LISTED], (DEMO_HOST, LISTED)) == (LISTED, DEMO_HOST)
    for bad in ("*", "https://*.example", "https://shop.example/path", "javascript:alert(1)", "shop.example"):
        with pytest.raises(ValueError, match="CONSENTRY_EXTRA_ORIGINS"):
            catalogue.extra_origins(bad)


def test_the_demo_snippets_show_the_catalogues_texts():
    """The README's plain snippet is demo/plain.html's form: its labels must stay the
    catalogue's words, or the ledger would record a text the visitor never read."""
    page = (ROOT / "demo" / "plain.html").read_text(encoding="utf-8")
    labels = dict(re.findall(r'<label for="cs-(\w+)">(.*?)</label>', page, re.S))
    texts = catalogue.load().purposes
    for purpose in ("newsletter", "offers"):
        assert labels[purpose] == texts[purpose].texts["nl"]
    assert 'action="http://127.0.0.1:8000/forms/newsletter"' in page
    framed = (ROOT / "demo" / "iframe.html").read_text(encoding="utf-8")
    assert '<iframe src="http://127.0.0.1:8000/forms/newsletter?embed=1"' in framed
    scripted = (ROOT / "demo" / "script.html").read_text(encoding="utf-8")
    assert '<script src="http://127.0.0.1:8000/embed.js" async>' in scripted


PROBE = """
import sys
sys.path.insert(0, {root!r})
from chalice.test import Client
import app
with Client(app.app, stage_name="local", project_dir={root!r}) as client:
    statuses = [client.http.get(path).status_code for path in ("/forms/newsletter/embed", "/embed.js")]
print(statuses, sorted(m for m in ("boto3", "pydantic", "chalicelib.ledger", "babel") if m in sys.modules))
"""


def test_the_embed_routes_stay_light_on_a_cold_start():
    answer = subprocess.run(
        [sys.executable, "-c", PROBE.format(root=str(ROOT))],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert answer.stdout.strip().splitlines()[-1] == "[200, 200] []", answer.stdout + answer.stderr


# -- issue 13: the iframe that fits, the script that carries what the page carries -----------


def test_a_framed_page_tells_only_its_listed_hosts_its_height_by_a_hashed_script(visitor):
    """The CSP allows exactly the one inline script (by its hash); the script posts only to
    the origins the form lists (data-frame-ancestors), and only framed pages have it."""
    import base64
    import hashlib

    framed = visitor.get("/forms/newsletter?embed=1")
    body, csp = framed.body.decode(), framed.headers["Content-Security-Policy"]
    (script,) = re.findall(r"<script>(.*?)</script>", body, re.S)
    digest = "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
    assert f"script-src {digest}" in csp and "unsafe-inline" not in csp
    listed = re.search(r'data-frame-ancestors="([^"]+)"', body).group(1)  # type: ignore[union-attr]
    assert listed.split() == list(catalogue.load().forms["newsletter"].frame_ancestors)
    assert "postMessage" in script and '"*"' not in script and "'*'" not in script
    after = visitor.post_form(
        "/forms/newsletter?embed=1", [("email", "hoog@example.com"), ("purposes", "offers")]
    )
    assert digest in after.headers["Content-Security-Policy"] and "<script>" in after.body.decode()
    for unframed in ("/forms/newsletter", "/forms/shop?embed=1", "/requests"):  # shop: framed by nobody
        page = visitor.get(unframed)
        assert "<script>" not in page.body.decode() and digest not in page.headers["Content-Security-Policy"]


def test_the_script_gets_the_forms_words_brand_version_and_defences(visitor):
    """embed.js shows the form's own words and colour and posts the version, the signed render
    time and the challenge's answer the form asks for (the challenge's script comes from the
    form's data, never from the script's own code)."""
    from chalicelib import tokens, versions

    cat = catalogue.load()
    shop = json.loads(visitor.get("/forms/shop/embed?lang=de").body)
    assert shop["version"] == versions.current(cat, cat.forms["shop"], "de").version
    assert shop["brand"] == {"name": "Voorbeeld Outlet", "accent": "#a3174f", "button_text": "#ffffff"}
    assert shop["texts"]["heading"] == cat.forms["shop"].wording("de").heading
    assert shop["texts"]["thank_you"] == cat.forms["shop"].wording("de").thank_you
    assert shop["stamp"]["field"] == "rendered"
    assert tokens.load("render", shop["stamp"]["value"], max_age=60)["f"] == "shop"
    assert shop["challenge"] == {
        "kind": "turnstile",
        "script": catalogue.CHALLENGES["turnstile"][1],
        "site_key": cat.forms["shop"].challenge_site_key,
        "field": "cf-turnstile-response",
    }
    answer = visitor.get("/forms/shop/embed")
    assert answer.headers["Cache-Control"] == "no-store"  # a render time is signed per visit
    newsletter = json.loads(visitor.get("/forms/newsletter/embed").body)
    assert "stamp" not in newsletter and "challenge" not in newsletter
    script = visitor.get("/embed.js").body.decode()
    for sent in ("version: data.version", "data.stamp.field", "challenge.field"):
        assert sent in script
