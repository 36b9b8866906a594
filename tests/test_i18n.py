"""Every language the catalogue lists, through gettext: complete catalogues, compiled .mo
files in step with their .po files, and no page or mail that shows a string without a
translation."""

from __future__ import annotations

import gettext
import io
import json
import re
import time

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from chalicelib import catalogue
from chalicelib.i18n import LOCALE_DIR, translations
from chalicelib.preferences import masked
from scripts import i18n as build
from tests.texts import untranslated_in_text, untranslated_on_page

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
LANGUAGES = tuple(catalogue.load().languages)


def _po(lang: str):
    with build.po_path(lang).open("rb") as f:
        return read_po(f, locale=lang, domain=build.DOMAIN)


def test_every_text_in_the_code_and_templates_is_in_both_catalogues_and_translated():
    extracted = {m.id for m in build.extract() if m.id}
    assert len(extracted) > 80
    for lang in LANGUAGES:
        po = _po(lang)
        in_po = {m.id for m in po if m.id}
        assert extracted - in_po == set(), f"{lang}: texts not in the catalogue: run `make i18n`"
        assert build.missing(po) == [], f"{lang}: texts without a translation (empty or fuzzy)"
        if lang != build.SOURCE_LANGUAGE:
            same = [m.id for m in po if m.id and m.string == m.id]
            assert same == [], f"{lang}: 'translations' identical to the English id: {same}"


def test_the_committed_mo_files_are_the_compiled_po_files():
    """A .mo is what the Lambda reads: one older than its .po would ship old words."""
    for lang in LANGUAGES:
        compiled = io.BytesIO()
        write_mo(compiled, _po(lang), use_fuzzy=False)
        compiled.seek(0)
        expected = gettext.GNUTranslations(compiled)._catalog  # type: ignore[attr-defined]
        with build.mo_path(lang).open("rb") as f:
            shipped = gettext.GNUTranslations(f)._catalog  # type: ignore[attr-defined]
        expected.pop("", None), shipped.pop("", None)  # the header: dates only
        assert shipped == expected, f"{build.mo_path(lang)} is out of date: run `make i18n`"


def test_the_catalogues_live_in_the_package_and_need_no_babel():
    """chalicelib/ is what Chalice packages: the .mo files travel with it, and reading them
    takes the standard library only (Babel is in requirements-dev.txt, not requirements.txt)."""
    assert LOCALE_DIR.parent.name == "chalicelib"
    for lang in LANGUAGES:
        assert build.mo_path(lang).is_file()
        assert isinstance(translations(lang), gettext.GNUTranslations)
    runtime = (build.ROOT / "requirements.txt").read_text().lower()
    assert "babel" not in runtime
    ignored = (build.ROOT / ".gitignore").read_text()
    assert ".mo" not in ignored and "locale" not in ignored


def test_dutch_really_is_dutch():
    nl = translations("nl").gettext
    assert nl("Sign up") == "Aanmelden"
    assert nl("Check your inbox") == "Kijk in uw inbox"
    assert (
        translations("nl").ngettext(
            "The link is valid for %(days)s day.", "The link is valid for %(days)s days.", 1
        )
        % {"days": 1}
        == "De link is 1 dag geldig."
    )


def test_german_is_german_in_the_formal_sie_form():
    """A German reader is addressed as Sie throughout, never du; plurals have their own forms."""
    de = translations("de")
    assert de.gettext("Sign up") == "Anmelden"
    assert de.gettext("Controller") == "Verantwortlicher"  # the GDPR's own word (Art. 4 Nr. 7 DSGVO)
    assert (
        de.ngettext("The link is valid for %(days)s day.", "The link is valid for %(days)s days.", 7)
        % {"days": 7}
        == "Der Link ist 7 Tage gültig."
    )
    informal = re.compile(r"\b(du|dich|dir|dein\w*|euch|euer)\b", re.IGNORECASE)
    texts = [m.string for m in _po("de") if m.id]
    flat = [t for s in texts for t in (s if isinstance(s, tuple) else (s,))]
    assert [t for t in flat if informal.search(t)] == []
    assert sum(1 for t in flat if re.search(r"\b(Sie|Ihr\w*)\b", t)) > 50


# -- every page and every mail, rendered through the real routes, in each language ----------


def _mint_expired(visitor, monkeypatch, email, lang):
    """A confirmation mail whose link is a week and a day old."""
    visitor.signup(email, lang=lang)
    monkeypatch.setattr(
        "itsdangerous.timed.TimestampSigner.get_timestamp", lambda self: int(time.time()) - 8 * 86400
    )
    visitor.run_mail_jobs()
    monkeypatch.undo()
    return visitor.confirm_link(email)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_page_or_mail_shows_a_string_without_a_translation(visitor, monkeypatch, lang):
    q = f"?lang={lang}"
    who = f"taal-{lang}@example.com"
    name = "Tess Taal"
    pages: dict[str, str] = {}

    def keep(label, response, status=200):
        assert response.status_code == status, (label, response.status_code)
        pages[label] = response.body.decode()

    keep("form", visitor.get(f"/forms/newsletter{q}"))
    keep("form framed", visitor.get(f"/forms/newsletter{q}&embed=1"))
    keep("unknown form", visitor.get(f"/forms/nope{q}"), 404)
    for fields in (
        [("email", "")],
        [("email", "geen adres"), ("name", "<b>x</b>"), ("purposes", "lottery")],
        [("email", "a\nb@example.com"), ("purposes", "newsletter")],
    ):
        keep(f"form errors {fields}", visitor.post_form(f"/forms/newsletter{q}", fields), 422)
    keep(
        "foreign origin",
        visitor.post_form(f"/forms/newsletter{q}", [], {"Origin": "https://evil.example"}),
        403,
    )
    keep("too large", visitor.post_form(f"/forms/newsletter{q}", {"email": "x" * 17000}), 413)
    keep(
        "check inbox",
        visitor.post_form(
            f"/forms/newsletter{q}", [("email", who), ("name", name), ("purposes", "newsletter")]
        ),
    )
    visitor.run_mail_jobs()
    confirm = visitor.confirm_link(who)
    keep("confirm", visitor.get(confirm))
    keep("confirmed", visitor.client.http.post(confirm, headers=FORM))
    keep("confirmed again", visitor.client.http.post(confirm, headers=FORM))
    keep("expired", visitor.get(_mint_expired(visitor, monkeypatch, f"oud-{who}", lang)), 410)
    keep("invalid link", visitor.get("/confirm/nonsense"), 400)

    manage = visitor.unsubscribe_path(who, "newsletter")
    keep("preferences", visitor.get(manage))
    keep("preferences error", visitor.post_form(manage, [("profiling", "maybe")]), 422)
    keep("objected", visitor.post_form(manage, [("profiling", "object")]))
    keep("one-click", visitor.one_click(manage))
    keep("one-click again", visitor.one_click(manage))
    keep("preferences after", visitor.get(manage))
    keep("saved nothing", visitor.post_form(manage, [("form", "preferences"), ("purposes", "newsletter")]))
    keep("unsubscribed from all", visitor.one_click(visitor.unsubscribe_path(who)))

    keep("requests", visitor.get(f"/requests{q}"))
    keep("requests error", visitor.post_form(f"/requests{q}", {"email": "", "type": "x"}), 422)
    keep("request received", visitor.post_form(f"/requests{q}", {"email": who, "type": "access"}), 202)
    visitor.post_form(f"/requests{q}", {"email": who, "type": "erasure"})
    visitor.run_mail_jobs()
    links = {}
    for mail in visitor.mail_to(who):
        found = re.search(r"https://consent\.test(/requests/\S+)", mail.get_body(("plain",)).get_content())
        if found:
            erasure = any(word in str(mail["Subject"]) for word in ("erasure", "verwijdering", "Löschung"))
            links["erasure" if erasure else "access"] = found.group(1)
    assert set(links) == {"access", "erasure"}, [str(m["Subject"]) for m in visitor.mail_to(who)]
    keep("access page", visitor.get(links["access"]))
    keep("erasure page", visitor.get(links["erasure"]))
    keep("erased", visitor.client.http.post(links["erasure"], headers=FORM))
    keep("nothing held", visitor.client.http.post(links["access"], headers=FORM))

    problems = {}
    for label, html in pages.items():
        expected_lang = "nl" if label == "invalid link" else lang
        assert re.search(f'<html lang="{expected_lang}"[ >]', html), label
        shown = [who, masked(who), f"oud-{who}", name, "geen adres", "<b>x</b>"]
        left = untranslated_on_page(html, extra=shown)
        if left:
            problems[label] = left
    assert problems == {}

    imported = f"import-{lang}@example.com"
    visitor.api_post(
        "/api/imports", {"contacts": [{"email": imported, "lang": lang, "purposes": ["offers"]}]}
    )
    visitor.run_mail_jobs()
    mails = [*visitor.mail_to(f"oud-{who}"), *visitor.mail_to(imported)]
    assert len(mails) >= 2
    for mail in mails:
        for part in ("plain", "html"):
            body = mail.get_body((part,)).get_content()
            left = (
                untranslated_in_text(body, lang, extra=[who, name, str(mail["To"])])
                if part == "plain"
                else untranslated_on_page(body, extra=[who, name])
            )
            assert left == [], (mail["Subject"], part, left)
        assert untranslated_in_text(str(mail["Subject"]), lang) == []


def test_the_technical_reason_stays_in_json_and_a_person_reads_a_message(visitor):
    answer = visitor.post_json("/forms/newsletter", {"email": "geen adres", "lang": "nl", "purposes": []})
    body = json.loads(answer.body)
    assert answer.status_code == 422
    assert body["errors"]["email"].startswith("is not a valid email address")
    assert body["messages"] == {
        "email": "Vul een geldig e-mailadres in, zoals naam@voorbeeld.nl.",
        "purposes": "Vink minstens één keuze aan.",
    }
    english = json.loads(
        visitor.post_json("/forms/newsletter", {"email": "", "lang": "en", "purposes": ["x"]}).body
    )
    assert english["messages"]["email"] == "Enter your email address."
