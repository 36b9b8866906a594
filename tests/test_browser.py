"""What a person sees, in a real browser, on the real local stack (`make run`, as tests/stack.py
starts it): the whole round trip in both languages, with JavaScript on and off, on a desktop
and on a phone; keyboard use and visible focus; axe-core on every page; screenshots of each
page in tests/artifacts/screenshots/ (the best are copied to docs/screenshots/)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from chalicelib import catalogue
from tests.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Visit,
    link_in,
    mail_to,
    missing_tools,
    subject_of,
    unique_address,
    visit,
)
from tests.stack import API_KEY, Stack, running_stack
from tests.texts import untranslated_on_page

pytestmark = [pytest.mark.stack, pytest.mark.browser]

FORM = "/forms/newsletter"
CHECK_INBOX = {"nl": "Kijk in uw inbox", "en": "Check your inbox"}
CONFIRM_SUBJECT = {"nl": "Bevestig uw aanmelding", "en": "Confirm your signup"}


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with running_stack() as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    problem = missing_tools()
    if problem:
        pytest.fail(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _api(stack: Stack, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(
        method, f"{stack.app}{path}", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10, **kwargs
    )


def _contact(stack: Stack, address: str) -> dict[str, Any]:
    answer = _api(stack, "GET", f"/api/contacts/{address}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def _page_checks(v: Visit, what: str, *, extra: tuple[str, ...] = ()) -> None:
    """Every page on the way: its language, no untranslated text, readable on a phone, axe
    where JavaScript runs, a screenshot."""
    html = v.page.content()
    assert f'<html lang="{v.lang}"' in html, f"{what} is not in {v.lang}"
    assert untranslated_on_page(html, extra=extra) == [], what
    if v.device == "phone":
        v.readable_on_a_phone(what)
    if v.js:
        v.axe(what)
    v.shot(what)


def _only_own_origins(v: Visit, *origins: str) -> None:
    """No fonts, CDNs or trackers: every request the pages made went to the service (or to
    the demo host page, itself standing in for the organisation's own site)."""
    foreign = [u for u in v.requests if not u.startswith(origins) and not u.startswith("data:")]
    assert foreign == [], foreign


@pytest.mark.parametrize("lang", ["nl", "en"])
@pytest.mark.parametrize("device", ["desktop", "phone"])
@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_the_whole_round_trip(stack: Stack, browser: Any, js: bool, device: str, lang: str) -> None:
    """Form, submit, mail, confirm page, button, preferences page, one-click, objection."""
    address = unique_address(f"rondje-{lang}")
    name = "Robin Rondje"
    with visit(browser, js=js, device=device, lang=lang) as v:
        page = v.page
        page.goto(f"{stack.app}{FORM}")  # the language from the browser's Accept-Language
        _page_checks(v, "form")

        page.get_by_role("button", name={"nl": "Aanmelden", "en": "Sign up"}[lang]).click()
        page.wait_for_load_state()
        email = page.locator("#email")
        assert email.get_attribute("aria-invalid") == "true"
        assert "email-error" in (email.get_attribute("aria-describedby") or "").split()
        assert page.locator("#email-error").is_visible()
        assert page.locator("fieldset").get_attribute("aria-describedby") == "purposes-error"
        _page_checks(v, "form-errors")

        email.fill(address)
        page.locator("#name").fill(name)
        page.get_by_label(catalogue.load().purposes["newsletter"].texts[lang]).check()
        page.get_by_label(catalogue.load().purposes["offers"].texts[lang]).check()
        page.locator("button[type=submit]").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == CHECK_INBOX[lang]
        _page_checks(v, "check-inbox")

        mail = mail_to(stack.moto, address)
        assert subject_of(mail).startswith(
            {"nl": "Bevestig uw aanmelding", "en": "Confirm your signup"}[lang]
        )
        # The mail viewer `make run` prints, as a person would open the mail.
        page.goto(f"http://127.0.0.1:{stack.mail_port}/")
        page.locator("article", has_text=address).first.locator("a[href*='/confirm/']").first.click()
        page.wait_for_load_state()
        assert page.url == link_in(mail, "confirm")
        _page_checks(v, "confirm")
        assert {p["status"] for p in _contact(stack, address)["purposes"].values()} == {"pending"}

        page.locator("form button[type=submit]").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == {"nl": "Bevestigd", "en": "Confirmed"}[lang]
        _page_checks(v, "confirmed")
        contact = _contact(stack, address)
        assert contact["lang"] == lang
        assert {p: s["status"] for p, s in contact["purposes"].items()} == {
            "newsletter": "granted",
            "offers": "granted",
        }

        links = _api(stack, "POST", "/api/links", json={"email": address, "purpose": "newsletter"}).json()
        unsubscribe = links["unsubscribe_url"]
        page.goto(unsubscribe)
        _page_checks(v, "preferences")

        # RFC 8058 one-click, as a mailbox provider sends it: a POST, no cookie, no page.
        answer = page.request.post(
            unsubscribe,
            data="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            max_redirects=0,
        )
        assert answer.status == 200
        page.reload()
        assert page.locator("[data-state]").first.get_attribute("data-state") == "withdrawn"
        assert page.locator("#purpose-newsletter").is_disabled()
        assert page.locator("#purpose-offers").is_checked()

        page.locator("input[name=profiling][value=object] + button").click()
        page.wait_for_load_state()
        assert page.locator("[data-profiling]").get_attribute("data-profiling") == "objected"
        assert page.locator("[role=status]").is_visible()
        _page_checks(v, "preferences-saved")
        contact = _contact(stack, address)
        assert contact["profiling"] == "objected"
        assert contact["purposes"]["newsletter"]["status"] == "withdrawn"
        assert contact["purposes"]["offers"]["status"] == "granted"
        _only_own_origins(v, stack.app, f"http://127.0.0.1:{stack.mail_port}")


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_other_pages_pass_the_same_checks(stack: Stack, browser: Any, lang: str) -> None:
    """The rights page and its errors, an unknown form, a bad link, the framed form page."""
    with visit(browser, js=True, device="phone", lang=lang) as v:
        page = v.page
        page.goto(f"{stack.app}/requests")
        _page_checks(v, "requests")
        page.locator("button[type=submit]").click()
        page.wait_for_load_state()
        assert page.locator("#email").get_attribute("aria-describedby") == "email-error"
        _page_checks(v, "requests-errors")
        page.locator(".errors a").first.click()  # the summary's link takes focus to the field
        assert page.evaluate("() => document.activeElement.id") == "email"
        page.goto(f"{stack.app}/forms/nope")
        _page_checks(v, "not-found")
        page.goto(f"{stack.app}{FORM}?embed=1")
        _page_checks(v, "form-framed")
    with visit(browser, js=True, device="desktop", lang=lang) as v:
        v.page.goto(f"{stack.app}/confirm/nonsense")  # no language in a bad token: both
        assert v.page.locator("p[lang=en]").count() == 1
        v.axe("invalid link")
        assert untranslated_on_page(v.page.content()) == []


def test_the_axe_check_would_catch_a_broken_page(stack: Stack, browser: Any) -> None:
    """The harness itself: an unlabelled field and grey-on-white text fail it."""
    with visit(browser, js=True, device="desktop", lang="nl") as v:
        v.page.goto(f"{stack.app}{FORM}")
        v.page.evaluate("() => document.querySelector('label[for=email]').remove()")
        v.page.evaluate("() => { document.querySelector('h1').style.color = '#ccc' }")
        with pytest.raises(AssertionError) as caught:
            v.axe("a broken form")
        assert '"id": "label"' in str(caught.value) and '"id": "color-contrast"' in str(caught.value)


def test_keyboard_alone_signs_up_with_visible_focus(stack: Stack, browser: Any) -> None:
    """Tab reaches every control in reading order, each shows a visible focus ring, Space
    ticks a box, Enter sends the form."""
    address = unique_address("toetsenbord")
    with visit(browser, js=True, device="desktop", lang="nl") as v:
        page = v.page
        page.goto(f"{stack.app}{FORM}")
        order = []
        for _ in range(9):
            page.keyboard.press("Tab")
            focused = page.evaluate(
                """() => { const e = document.activeElement; const s = getComputedStyle(e);
                    return {id: e.id || e.getAttribute('href') || e.textContent.trim(),
                            outline: s.outlineStyle, width: parseFloat(s.outlineWidth)}; }"""
            )
            assert focused["outline"] != "none" and focused["width"] >= 2, focused
            order.append(focused["id"])
        assert order == [
            "?lang=en",
            "email",
            "name",
            "purpose-newsletter",
            "purpose-offers",
            catalogue.load().controller.privacy_url,
            "Aanmelden",
            f"mailto:{catalogue.load().controller.email}",
            catalogue.load().controller.privacy_url,
        ]
        page.locator("#email").focus()
        page.keyboard.type(address)
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        page.keyboard.press("Space")
        assert page.locator("#purpose-newsletter").is_checked()
        for _ in range(3):  # the other purpose, the privacy link, the button
            page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.type") == "submit"
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.locator("h1").inner_text() == CHECK_INBOX["nl"]
        mail_to(stack.moto, address)


def test_the_pages_keep_their_own_strict_policy(stack: Stack, browser: Any) -> None:
    """Without the harness's CSP bypass: the hashed inline stylesheet applies, nothing is
    refused, and nothing but the service itself is asked for anything."""
    with visit(browser, js=True, device="phone", lang="nl", bypass_csp=False) as v:
        for path in (FORM, "/requests", "/confirm/nonsense"):
            v.page.goto(f"{stack.app}{path}")
            background = v.page.evaluate(
                "() => getComputedStyle(document.querySelector('main')).backgroundColor"
            )
            assert background.startswith("rgb(255, 255, 255)"), path  # style.css applied
        refused = [m for m in v.console if "Content Security Policy" in m or "Refused" in m]
        assert refused == []
        _only_own_origins(v, stack.app)


# -- embedding: the demo host page `make run` serves on its own origin ------------------------


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_a_plain_html_form_on_the_host_page_posts_straight_to_the_service(
    stack: Stack, browser: Any, js: bool
) -> None:
    address = unique_address("gewoon")
    with visit(browser, js=js, device="desktop", lang="nl", bypass_csp=False) as v:
        page = v.page
        page.goto(f"{stack.host}/plain.html")
        texts = catalogue.load().purposes
        for purpose in ("newsletter", "offers"):  # the catalogue's text, word for word
            assert page.locator(f"label[for=cs-{purpose}]").inner_text() == texts[purpose].texts["nl"]
        page.locator("#cs-email").fill(address)
        page.locator("#cs-offers").check()
        page.locator("form button").click()
        page.wait_for_load_state()
        assert page.url == f"{stack.app}{FORM}"
        assert page.locator("h1").inner_text() == CHECK_INBOX["nl"]
        mail_to(stack.moto, address)
        assert {p: s["status"] for p, s in _contact(stack, address)["purposes"].items()} == {
            "offers": "pending"
        }


def test_host_pages_pass_axe(stack: Stack, browser: Any) -> None:
    for device in ("desktop", "phone"):
        with visit(browser, js=True, device=device, lang="nl") as v:
            for name in ("index", "plain", "iframe", "script"):
                v.page.goto(f"{stack.host}/{name}.html")
                if name == "script":
                    v.page.wait_for_selector("form.consentry-form")
                v.axe(f"host page {name}")
                if device == "phone":
                    v.readable_on_a_phone(f"host page {name}")
                v.shot(f"host-{name}")


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_the_listed_host_may_frame_the_form(stack: Stack, browser: Any, js: bool) -> None:
    """With the CSP on (no bypass): the form page in an iframe on the listed host page."""
    address = unique_address("ingelijst")
    with visit(browser, js=js, device="desktop", lang="nl", bypass_csp=False) as v:
        page = v.page
        page.goto(f"{stack.host}/iframe.html")
        frame = page.frame_locator("iframe")
        frame.locator("#email").fill(address)
        frame.get_by_label(catalogue.load().purposes["newsletter"].texts["nl"]).check()
        v.shot("host-iframe-filled")
        frame.locator("button[type=submit]").click()
        frame.get_by_role("heading", name=CHECK_INBOX["nl"]).wait_for()
        assert page.url == f"{stack.host}/iframe.html"  # the host page stays
        v.shot("host-iframe-sent")
        mail_to(stack.moto, address)


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_an_unlisted_site_cannot_frame_the_form_or_use_it(stack: Stack, browser: Any, js: bool) -> None:
    """The same demo pages served as http://localhost:PORT: another origin, on no list."""
    unlisted = stack.host.replace("127.0.0.1", "localhost")
    with visit(browser, js=js, device="desktop", lang="nl", bypass_csp=False) as v:
        page = v.page
        page.goto(f"{unlisted}/iframe.html")
        _assert_refused_frame(page)
        # Unframed, the same page opens normally: it is the framing that is refused.
        page.goto(f"{stack.app}{FORM}?embed=1")
        assert page.locator("form #email").count() == 1
        # A link page is never framed, not even by the listed host.
        page.goto(f"{stack.host}/iframe.html")
        page.frame_locator("iframe").locator("#email").wait_for()
        page.evaluate(
            "src => { document.querySelector('iframe').src = src }", f"{stack.app}/confirm/nonsense"
        )
        _assert_refused_frame(page)
        # The plain form from the unlisted site: refused with a page that says why.
        page.goto(f"{unlisted}/plain.html")
        page.locator("#cs-email").fill(unique_address("vreemd"))
        page.locator("#cs-offers").check()
        page.locator("form button").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "Niet verstuurd"
        # The script: the service refuses the unlisted origin; the fallback link stays.
        page.goto(f"{unlisted}/script.html")
        if js:
            page.wait_for_selector("[data-consentry-ready=failed]")
        assert page.locator("[data-consentry-form] a").is_visible()
        assert page.locator("form.consentry-form").count() == 0


def _assert_refused_frame(page: Any) -> None:
    """Chromium replaces a frame refused by frame-ancestors with its own error page."""
    for _ in range(50):
        frame = page.frames[1] if len(page.frames) > 1 else None
        if frame is not None and frame.url.startswith("chrome-error://"):
            break
        page.wait_for_timeout(100)
    frame = page.frames[1]
    assert frame.url.startswith("chrome-error://"), frame.url
    assert frame.locator("#email, button").count() == 0


@pytest.mark.parametrize(("lang", "device"), [("nl", "desktop"), ("en", "phone")])
def test_the_script_renders_the_form_shows_errors_inline_and_signs_up_in_place(
    stack: Stack, browser: Any, lang: str, device: str
) -> None:
    address = unique_address(f"script-{lang}")
    with visit(browser, js=True, device=device, lang=lang) as v:
        page = v.page
        page.goto(f"{stack.host}/script.html")
        form = page.locator("form.consentry-form")
        form.wait_for()
        assert form.get_attribute("lang") == lang
        texts = catalogue.load().purposes
        shown = form.locator(".consentry-purpose label").all_inner_texts()
        assert shown == [texts["newsletter"].texts[lang], texts["offers"].texts[lang]]
        assert untranslated_on_page(f'<html lang="{lang}">{form.evaluate("f => f.outerHTML")}</html>') == []
        v.axe("script form")
        v.shot("host-script")

        email = form.locator("input[type=email]")
        email.fill("geen adres")
        form.locator("button").click()
        error = form.locator(".consentry-error:not([hidden])").first
        error.wait_for()
        assert email.get_attribute("aria-invalid") == "true"
        described = (email.get_attribute("aria-describedby") or "").split()
        assert error.get_attribute("id") in described and len(described) == 2  # hint and error
        assert page.evaluate("() => document.activeElement.type") == "email"
        messages = form.locator(".consentry-error:not([hidden])").all_inner_texts()
        assert (
            messages
            == {
                "nl": [
                    "Vul een geldig e-mailadres in, zoals naam@voorbeeld.nl.",
                    "Vink minstens één keuze aan.",
                ],
                "en": [
                    "Enter a valid email address, such as name@example.com.",
                    "Tick at least one purpose.",
                ],
            }[lang]
        )
        v.axe("script form with errors")
        v.shot("host-script-errors")

        email.fill(address)
        form.get_by_label(texts["offers"].texts[lang]).check()
        form.locator("button").click()
        done = page.locator(".consentry-done")
        done.wait_for()
        assert CHECK_INBOX[lang] in done.inner_text()
        assert page.evaluate("() => document.activeElement.className") == "consentry-done"
        assert page.url == f"{stack.host}/script.html"  # never left the page
        v.axe("script done")
        v.shot("host-script-done")
        assert subject_of(mail_to(stack.moto, address)).startswith(CONFIRM_SUBJECT[lang])
        events = _api(stack, "GET", f"/api/contacts/{address}/events").json()["events"]
        assert [e["evidence"]["text"] for e in events if e["type"] == "signup_requested"] == [
            texts["offers"].texts[lang]
        ]  # the ledger holds the text the script showed
        _only_own_origins(v, stack.app, stack.host)


def test_without_javascript_the_script_snippet_leaves_a_working_link(stack: Stack, browser: Any) -> None:
    with visit(browser, js=False, device="phone", lang="nl") as v:
        page = v.page
        page.goto(f"{stack.host}/script.html")
        link = page.locator("[data-consentry-form] a")
        link.click()
        page.wait_for_load_state()
        assert page.url == f"{stack.app}{FORM}"
        assert page.locator("form #email").count() == 1
