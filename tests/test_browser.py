"""What a person sees, in a real browser, on the real local stack (`make run`, as tests/stack.py
starts it): the whole round trip in every language the catalogue lists, with JavaScript on
and off, on a desktop and on a phone; each form in its own words and brand; the mail as a
phone shows it; the iframe that fits its page; keyboard use and visible focus; axe-core on
every page; screenshots of each page in tests/artifacts/screenshots/ (the best are copied to
docs/screenshots/). One stack serves every test of the module."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from chalicelib import catalogue, versions
from chalicelib.i18n import translator
from chalicelib.preferences import masked
from scripts.local_stack import TURNSTILE_TEST_SECRET
from tests.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    TURNSTILE_SCRIPT,
    Visit,
    link_in,
    mail_to,
    missing_tools,
    subject_of,
    unique_address,
    visit,
)
from tests.siteverify import serve, verifier_for
from tests.stack import API_KEY, Stack, running_stack
from tests.texts import untranslated_on_page

pytestmark = [pytest.mark.stack, pytest.mark.browser]

FORM = "/forms/newsletter"
CAT = catalogue.load()
LANGUAGES = tuple(CAT.languages)
DEVICES = ("desktop", "phone")
CHALLENGE_ORIGIN = TURNSTILE_SCRIPT.split("/turnstile")[0]


def _(lang: str, text: str) -> str:
    """The words a page shows in ``lang`` for an English id (the catalogue's gettext)."""
    return translator(lang)(text)


def _wording(form_id: str, lang: str) -> catalogue.FormTexts:
    return CAT.forms[form_id].wording(lang)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """The local stack, its challenge verified by a stand-in that knows the local secret."""
    verifier = serve(verifier_for(TURNSTILE_TEST_SECRET))
    url = f"http://127.0.0.1:{verifier.server_port}/siteverify"
    try:
        with running_stack({"CONSENTRY_CHALLENGE_VERIFY_URL": url}) as running:
            yield running
    finally:
        verifier.shutdown()
        verifier.server_close()


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


def _requested(stack: Stack, address: str) -> list[dict[str, Any]]:
    events = _api(stack, "GET", f"/api/contacts/{address}/events").json()["events"]
    return [e for e in events if e["type"] == "signup_requested"]


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


def _in_brand(v: Visit, form_id: str | None, what: str) -> None:
    """The page wears its form's brand: the accent on the button, the logo from the service
    itself (no third party), the heading first and the controller line right below it."""
    look = CAT.brand_of(form_id)
    page = v.page
    red, green, blue = (int(look.accent[i : i + 2], 16) for i in (1, 3, 5))
    accent = page.evaluate("() => getComputedStyle(document.querySelector('main button')).backgroundColor")
    assert accent == f"rgb({red}, {green}, {blue})", (what, accent, look.accent)
    if look.logo:
        logo = page.locator("header.site img")
        assert logo.get_attribute("alt") == look.name
        assert page.evaluate("() => document.querySelector('header.site img').naturalWidth") > 0, what
        assert logo.evaluate("img => img.src").endswith(f"/brand/{look.logo}")
    first = page.evaluate(
        "() => [...document.querySelector('main').children].slice(0, 2).map(e => e.className)"
    )
    assert page.locator("main > h1 + p.controller").count() == 1 and first[1] == "controller", (what, first)


# -- the whole round trip, in every language, on a desktop and a phone ------------------------

# JavaScript on: every language on both devices (axe needs it). Off: once, on a phone; the
# pages are the same server-rendered HTML, the difference is only that nothing runs.
ROUND_TRIPS = [*((lang, device, True) for lang in LANGUAGES for device in DEVICES), ("nl", "phone", False)]


@pytest.mark.parametrize(
    ("lang", "device", "js"),
    ROUND_TRIPS,
    ids=[f"{la}-{d}-{'js' if j else 'nojs'}" for la, d, j in ROUND_TRIPS],
)
def test_the_whole_round_trip(stack: Stack, browser: Any, lang: str, device: str, js: bool) -> None:
    """Form, errors, submit, the mail as a phone or desktop mail client shows it, its button,
    confirm page and button, preferences (whose, leaving one purpose, the one-click POST, the
    objection) and the way to the access and erasure page. LAW 4, 5, 8, 9, 17, 18, 20."""
    address = unique_address(f"rondje-{lang}")
    name = "Robin Rondje"
    wording = _wording("newsletter", lang)
    texts = {p: CAT.purposes[p].texts[lang] for p in CAT.forms["newsletter"].purposes}
    with visit(browser, js=js, device=device, lang=lang) as v:
        page = v.page
        page.goto(f"{stack.app}{FORM}")  # the language from the browser's Accept-Language
        assert page.locator("h1").inner_text() == wording.heading
        assert page.locator(".intro").inner_text() == wording.intro
        _in_brand(v, "newsletter", "form")
        _page_checks(v, "form")

        page.get_by_role("button", name=wording.button).click()
        page.wait_for_load_state()
        email = page.locator("#email")
        assert email.get_attribute("aria-invalid") == "true"
        assert "email-error" in (email.get_attribute("aria-describedby") or "").split()
        assert page.locator("#email-error").is_visible()
        assert page.locator("fieldset").get_attribute("aria-describedby") == "purposes-error"
        _page_checks(v, "form-errors")

        email.fill(address)
        page.locator("#name").fill(name)
        page.get_by_label(texts["newsletter"]).check()
        page.get_by_label(texts["offers"]).check()
        page.locator("button[type=submit]").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == _(lang, "Check your inbox")
        assert page.locator(".lead").inner_text() == wording.thank_you
        _page_checks(v, "check-inbox")
        (shown,) = {e["evidence"]["form_version"] for e in _requested(stack, address)}
        assert shown == versions.current(CAT, CAT.forms["newsletter"], lang).version  # LAW 5
        (requested,) = _requested(stack, address)
        assert set(requested["evidence"]["texts"].values()) == set(texts.values())

        # The mail, as a mail client shows its HTML part: the brand's header, one real button
        # with short words, nothing fetched (the viewer's CSP refuses any remote image).
        mail = mail_to(stack.moto, address)
        assert subject_of(mail).startswith(_(lang, "Confirm your signup with %(controller)s").split("%")[0])
        page.goto(f"http://127.0.0.1:{stack.mail_port}/")
        page.locator("article", has_text=address).first.locator("a.html").click()
        page.wait_for_load_state()
        button = page.get_by_role("link", name=_(lang, "Confirm my signup"))
        assert button.get_attribute("href") == link_in(mail, "confirm")  # the text part's full URL
        assert page.get_by_text(CAT.brand_of("newsletter").name, exact=True).is_visible()
        width = page.evaluate("() => document.querySelector('table table').getBoundingClientRect().width")
        assert width <= 560, width  # the container keeps its maximum on a desktop
        assert page.locator("img").count() == 0
        _page_checks(v, "mail", extra=(name, address, CAT.controller.email))
        button.click()
        page.wait_for_load_state()
        assert page.url == link_in(mail, "confirm")
        assert page.locator("h1").inner_text() == _(lang, "Confirm your signup")
        _in_brand(v, "newsletter", "confirm")
        _page_checks(v, "confirm")
        assert {p["status"] for p in _contact(stack, address)["purposes"].values()} == {"pending"}

        page.locator("form button[type=submit]").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == _(lang, "Confirmed")
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
        assert page.locator(".whose").inner_text() == _(lang, "For the address %(address)s") % {
            "address": masked(address)
        }
        assert address not in page.content()  # partly masked: a forwarded link shows little
        _page_checks(v, "preferences", extra=(masked(address),))

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
        assert page.locator("input[name=leave][value=newsletter]").count() == 0

        page.locator("input[name=profiling][value=object] + button").click()
        page.wait_for_load_state()
        assert page.locator("[data-profiling]").get_attribute("data-profiling") == "objected"
        assert page.locator("[role=status]").is_visible()
        _page_checks(v, "preferences-saved", extra=(masked(address),))

        # One button per purpose: leave the offers too, and only them.
        offers = CAT.purposes["offers"].labels[lang]
        page.get_by_role("button", name=_(lang, "Unsubscribe from %(purpose)s") % {"purpose": offers}).click()
        page.wait_for_load_state()
        contact = _contact(stack, address)
        assert contact["profiling"] == "objected"
        assert {p: s["status"] for p, s in contact["purposes"].items()} == {
            "newsletter": "withdrawn",
            "offers": "withdrawn",
        }
        assert contact["suppressed"] is False  # leaving each is not "everything"
        assert page.locator("[role=status]").inner_text() == _(
            lang, "You will no longer receive mails for: %(purpose)s. This took effect at once."
        ) % {"purpose": offers}
        v.shot("preferences-left")  # the page axe checked above, with another notice

        # The way to the person's data: on the page, and in every page's footer.
        footer = page.locator("footer a", has_text=_(lang, "See or erase your data"))
        assert footer.get_attribute("href") == f"../requests?lang={lang}"
        page.locator("#your-data a").click()
        page.wait_for_load_state()
        assert page.url == f"{stack.app}/requests?lang={lang}"
        assert page.locator("h1").inner_text() == _(lang, "See or erase your data")
        _only_own_origins(v, stack.app, f"http://127.0.0.1:{stack.mail_port}")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_other_pages_pass_the_same_checks(stack: Stack, browser: Any, lang: str) -> None:
    """The rights page and its errors, an unknown form, a bad link, the framed form page."""
    with visit(browser, js=True, device="phone", lang=lang) as v:
        page = v.page
        page.goto(f"{stack.app}/requests")
        _page_checks(v, "requests")
        page.locator("main button[type=submit]").click()
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
        v.page.goto(f"{stack.app}/confirm/nonsense")  # no language in a bad token: all of them
        assert v.page.locator("p[lang]").count() == len(LANGUAGES) - 1
        v.axe("invalid link")
        assert untranslated_on_page(v.page.content()) == []


@pytest.mark.parametrize("device", DEVICES)
def test_the_second_form_speaks_in_its_own_words_and_brand(stack: Stack, browser: Any, device: str) -> None:
    """The shop's form beside the newsletter's (the round trip's), in every language: heading,
    intro, button and colour from the catalogue, the logo from the service itself, the
    controller below the heading; axe clean (the catalogue refused any colour below AA)."""
    for lang in LANGUAGES:
        with visit(browser, js=True, device=device, lang=lang, challenge=True) as v:
            wording = _wording("shop", lang)
            v.page.goto(f"{stack.app}/forms/shop")
            assert v.page.locator("h1").inner_text() == wording.heading
            assert v.page.locator(".intro").inner_text() == wording.intro
            assert v.page.locator("main button[type=submit]").inner_text() == wording.button
            assert CAT.brand_of("shop") != CAT.brand_of("newsletter")
            _in_brand(v, "shop", "shop")
            _page_checks(v, "form-shop")
            _only_own_origins(v, stack.app, CHALLENGE_ORIGIN)


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
    controller = CAT.controller
    with visit(browser, js=True, device="desktop", lang="nl") as v:
        page = v.page
        page.goto(f"{stack.app}{FORM}")
        order = []
        for _step in range(11):
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
            "?lang=de",
            "email",
            "name",
            "purpose-newsletter",
            "purpose-offers",
            controller.privacy_url,
            _wording("newsletter", "nl").button,
            f"mailto:{controller.email}",
            controller.privacy_url,
            "../requests?lang=nl",
        ]
        page.locator("#email").focus()
        page.keyboard.type(address)
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        page.keyboard.press("Space")
        assert page.locator("#purpose-newsletter").is_checked()
        for _step in range(3):  # the other purpose, the privacy link, the button
            page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.type") == "submit"
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.locator("h1").inner_text() == _("nl", "Check your inbox")
        mail_to(stack.moto, address)


def test_the_pages_keep_their_own_strict_policy(stack: Stack, browser: Any) -> None:
    """Without the harness's CSP bypass: the hashed inline stylesheet (with the form's
    colours) applies, the logo comes from the service, nothing is refused, and nothing but
    the service itself is asked for anything."""
    with visit(browser, js=True, device="phone", lang="nl", bypass_csp=False) as v:
        for path in (FORM, "/confirm/nonsense", "/requests"):
            v.page.goto(f"{stack.app}{path}")
            background = v.page.evaluate(
                "() => getComputedStyle(document.querySelector('main')).backgroundColor"
            )
            assert background.startswith("rgb(255, 255, 255)"), path  # style.css applied
            assert v.page.evaluate("() => document.querySelector('header img').naturalWidth") > 0, path
        _in_brand(v, None, "requests")  # a page of no form: the catalogue's own brand
        refused = [m for m in v.console if "Content Security Policy" in m or "Refused" in m]
        assert refused == []
        _only_own_origins(v, stack.app)


# -- embedding: the demo host page `make run` serves on its own origin ------------------------


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_a_plain_html_form_on_the_host_page_posts_straight_to_the_service(
    stack: Stack, browser: Any, js: bool
) -> None:
    """The README's snippet: the catalogue's texts word for word, the version they belong to
    and the honeypot. A version the form never showed is refused; the real one is recorded
    with its texts (LAW 5)."""
    address = unique_address("gewoon")
    nl = versions.current(CAT, CAT.forms["newsletter"], "nl")
    with visit(browser, js=js, device="desktop", lang="nl", bypass_csp=False) as v:
        page = v.page
        page.goto(f"{stack.host}/plain.html")
        for purpose in ("newsletter", "offers"):  # the catalogue's text, word for word
            assert page.locator(f"label[for=cs-{purpose}]").inner_text() == nl.text_for(purpose).text
        assert page.locator("input[name=version]").get_attribute("value") == nl.version
        assert page.locator("input[name=website]").count() == 1
        page.locator("#cs-email").fill(address)
        page.locator("#cs-offers").check()
        if js:  # a snippet with a version the service never showed: refused, nothing stored
            page.evaluate(
                "() => { document.querySelector('input[name=version]').value = 'f00f00f00f00f00f00f0' }"
            )
            page.locator("form button").click()
            page.wait_for_load_state()
            changed = _(
                "nl", "This form has changed since it was shown to you. Please read it again and send it."
            )
            assert changed in page.locator(".errors").inner_text()
            assert _api(stack, "GET", f"/api/contacts/{address}").status_code == 404
            page.goto(f"{stack.host}/plain.html")
            page.locator("#cs-email").fill(address)
            page.locator("#cs-offers").check()
        page.locator("form button").click()
        page.wait_for_load_state()
        assert page.url == f"{stack.app}{FORM}"
        assert page.locator("h1").inner_text() == _("nl", "Check your inbox")
        mail_to(stack.moto, address)
        assert {p: s["status"] for p, s in _contact(stack, address)["purposes"].items()} == {
            "offers": "pending"
        }
        (event,) = _requested(stack, address)
        assert (event["evidence"]["form_version"], event["evidence"]["texts"]["offers"]) == (
            nl.version,
            nl.text_for("offers").text,
        )


def test_host_pages_pass_axe(stack: Stack, browser: Any) -> None:
    for device in DEVICES:
        with visit(browser, js=True, device=device, lang="nl", challenge=True) as v:
            for name in ("index", "plain", "iframe", "script", "shop"):
                v.page.goto(f"{stack.host}/{name}.html")
                if name in ("script", "shop"):
                    v.page.wait_for_selector("form.consentry-form")
                v.axe(f"host page {name}")
                if device == "phone":
                    v.readable_on_a_phone(f"host page {name}")
                v.shot(f"host-{name}")


def _fits(page: Any) -> dict[str, float]:
    """The iframe's height against its page's; waits until the page has told its height."""
    frame = page.frames[1]
    deadline = time.monotonic() + 10
    while True:
        outer = page.evaluate("() => document.querySelector('iframe').getBoundingClientRect().height")
        inner = frame.evaluate("() => Math.ceil(document.body.getBoundingClientRect().height)")
        scrolls = frame.evaluate(
            "() => document.documentElement.scrollHeight - document.documentElement.clientHeight"
        )
        if abs(outer - inner) <= 2 or time.monotonic() > deadline:
            return {"frame": outer, "page": inner, "scrolls": scrolls}
        page.wait_for_timeout(50)


@pytest.mark.parametrize(("lang", "device"), [("nl", "desktop"), ("en", "phone"), ("de", "phone")])
def test_the_iframe_fits_its_page_before_and_after_sending(
    stack: Stack, browser: Any, lang: str, device: str
) -> None:
    """With the CSP on: the framed page's hashed script tells the listed host its height and
    the host's few lines size the iframe: no inner scroll bar, and no blank space after the
    errors or the "check your inbox" page."""
    address = unique_address(f"ingelijst-{lang}")
    with visit(browser, js=True, device=device, lang=lang, bypass_csp=False) as v:
        page = v.page
        page.goto(f"{stack.host}/iframe.html")
        page.evaluate(
            "src => { document.querySelector('iframe').src = src }", f"{stack.app}{FORM}?embed=1&lang={lang}"
        )
        frame = page.frame_locator("iframe")
        frame.locator("#email").wait_for()
        first = _fits(page)
        assert abs(first["frame"] - first["page"]) <= 2 and first["scrolls"] <= 0, first
        frame.locator("button[type=submit]").click()
        frame.locator(".errors").wait_for()
        errors = _fits(page)
        assert errors["frame"] > first["frame"] and abs(errors["frame"] - errors["page"]) <= 2, (
            first,
            errors,
        )
        frame.locator("#email").fill(address)
        frame.get_by_label(CAT.purposes["newsletter"].texts[lang]).check()
        v.shot("host-iframe-filled")
        frame.locator("button[type=submit]").click()
        frame.get_by_role("heading", name=_(lang, "Check your inbox")).wait_for()
        sent = _fits(page)
        assert abs(sent["frame"] - sent["page"]) <= 2 and sent["frame"] < first["frame"] / 2, (first, sent)
        assert page.url == f"{stack.host}/iframe.html"  # the host page stays
        v.shot("host-iframe-sent")
        mail_to(stack.moto, address)
        refused = [m for m in v.console if "Content Security Policy" in m or "Refused" in m]
        assert refused == []


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
    for _step in range(50):
        frame = page.frames[1] if len(page.frames) > 1 else None
        if frame is not None and frame.url.startswith("chrome-error://"):
            break
        page.wait_for_timeout(100)
    frame = page.frames[1]
    assert frame.url.startswith("chrome-error://"), frame.url
    assert frame.locator("#email, button").count() == 0


@pytest.mark.parametrize(("lang", "device"), [("nl", "desktop"), ("en", "phone"), ("de", "phone")])
def test_the_script_renders_the_form_shows_errors_inline_and_signs_up_in_place(
    stack: Stack, browser: Any, lang: str, device: str
) -> None:
    address = unique_address(f"script-{lang}")
    wording = _wording("newsletter", lang)
    shown = versions.current(CAT, CAT.forms["newsletter"], lang)
    with visit(browser, js=True, device=device, lang=lang) as v:
        page = v.page
        page.goto(f"{stack.host}/script.html")
        form = page.locator("form.consentry-form")
        form.wait_for()
        assert form.get_attribute("lang") == lang
        assert form.locator(".consentry-heading").inner_text() == wording.heading
        assert form.locator("button").inner_text() == wording.button
        shown_texts = form.locator(".consentry-purpose label").all_inner_texts()
        assert shown_texts == [t.text for t in shown.texts]
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
        assert messages == [
            _(lang, "Enter a valid email address, such as name@example.com."),
            _(lang, "Tick at least one purpose."),
        ]
        v.axe("script form with errors")
        v.shot("host-script-errors")

        email.fill(address)
        form.get_by_label(shown.text_for("offers").text).check()  # type: ignore[union-attr]
        form.locator("button").click()
        done = page.locator(".consentry-done")
        done.wait_for()
        assert _(lang, "Check your inbox") in done.inner_text() and wording.thank_you in done.inner_text()
        assert page.evaluate("() => document.activeElement.className") == "consentry-done"
        assert page.url == f"{stack.host}/script.html"  # never left the page
        v.axe("script done")
        v.shot("host-script-done")
        assert subject_of(mail_to(stack.moto, address)).startswith(
            _(lang, "Confirm your signup with %(controller)s").split("%")[0]
        )
        (event,) = _requested(stack, address)  # the ledger holds the text the script showed
        assert (event["evidence"]["texts"]["offers"], event["evidence"]["form_version"]) == (
            shown.text_for("offers").text,  # type: ignore[union-attr]
            shown.version,
        )
        _only_own_origins(v, stack.app, stack.host)


def test_the_script_embeds_a_form_with_a_render_time_and_a_challenge(stack: Stack, browser: Any) -> None:
    """The shop's form by script, on a desktop in German and a phone in Dutch at once: its
    brand and words, the challenge's widget (the provider's script, here its stand-in), the
    signed render time and the version sent with the post; a person who takes the form's
    minimum time gets through (LAW 11)."""
    people = {("de", "desktop"): unique_address("winkel-de"), ("nl", "phone"): unique_address("winkel-nl")}
    posts: list[dict[str, Any]] = []
    with contextlib.ExitStack() as visits:
        forms = {}
        for lang, device in people:
            v = visits.enter_context(visit(browser, js=True, device=device, lang=lang, challenge=True))
            v.page.on("request", lambda r: posts.append(r.post_data_json) if r.method == "POST" else None)
            v.page.goto(f"{stack.host}/shop.html")
            form = v.page.locator("form.consentry-form")
            form.wait_for()
            forms[lang] = (v, form, time.monotonic())
        for (lang, _device), address in people.items():
            v, form, _rendered = forms[lang]
            shown = versions.current(CAT, CAT.forms["shop"], lang)
            assert form.locator(".consentry-heading").inner_text() == _wording("shop", lang).heading
            accent = form.locator("button").evaluate("b => getComputedStyle(b).backgroundColor")
            red, green, blue = (int(CAT.brand_of("shop").accent[i : i + 2], 16) for i in (1, 3, 5))
            assert accent == f"rgb({red}, {green}, {blue})"
            form.locator("input[name=cf-turnstile-response]").wait_for(state="attached")
            form.locator("input[type=email]").fill(address)
            form.get_by_label(shown.text_for("offers").text).check()  # type: ignore[union-attr]
            v.axe("shop script form")
            v.shot("host-shop")
        earliest = min(rendered for _v, _f, rendered in forms.values())
        time.sleep(max(0.0, CAT.forms["shop"].min_fill_seconds + 0.5 - (time.monotonic() - earliest)))
        for (lang, _device), address in people.items():
            v, form, _rendered = forms[lang]
            form.locator("button").click()
            v.page.locator(".consentry-done").wait_for()
            v.shot("host-shop-done")
            mail_to(stack.moto, address)
            (event,) = _requested(stack, address)
            assert event["evidence"]["form_version"] == versions.current(CAT, CAT.forms["shop"], lang).version
            _only_own_origins(v, stack.app, stack.host, CHALLENGE_ORIGIN)
    assert len(posts) == 2
    for body in posts:
        assert body["version"] in {
            versions.current(CAT, CAT.forms["shop"], lang).version for lang, _d in people
        }
        assert body["rendered"] and body["cf-turnstile-response"] == "pass"


def test_without_javascript_the_script_snippet_leaves_a_working_link(stack: Stack, browser: Any) -> None:
    with visit(browser, js=False, device="phone", lang="nl") as v:
        page = v.page
        page.goto(f"{stack.host}/script.html")
        link = page.locator("[data-consentry-form] a")
        link.click()
        page.wait_for_load_state()
        assert page.url == f"{stack.app}{FORM}"
        assert page.locator("form #email").count() == 1
