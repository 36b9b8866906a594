"""The language a person chose at signup is kept, and every later mail and page uses it."""

from __future__ import annotations

import json
import re

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _lang_of(body: bytes | str) -> str:
    text = body.decode() if isinstance(body, bytes) else body
    match = re.search(r'<html lang="(\w+)">', text)
    assert match, text[:200]
    return match.group(1)


def test_an_english_signup_gets_english_mail_and_pages_ever_after(visitor):
    visitor.signup("engels@example.com", lang="en")  # the English form sends lang=en
    visitor.run_mail_jobs()
    mail = visitor.mail_to("engels@example.com")[-1]
    assert str(mail["Subject"]).startswith("Confirm your signup with")
    assert mail.get_body(("html",)).get_content().startswith('<!doctype html>\n<html lang="en">')
    confirm = visitor.confirm_link("engels@example.com")
    assert _lang_of(visitor.get(confirm).body) == "en"
    assert _lang_of(visitor.client.http.post(confirm, headers=FORM).body) == "en"
    assert visitor.contact("engels@example.com")["lang"] == "en"

    # Every later link: the preferences page, the one-click answer, saving choices.
    manage = visitor.unsubscribe_path("engels@example.com", "offers")
    page = visitor.get(manage).body.decode()
    assert _lang_of(page) == "en" and "Your email preferences" in page
    assert _lang_of(visitor.one_click(manage).body) == "en"
    saved = visitor.post_form(manage, [("profiling", "object")]).body.decode()
    assert _lang_of(saved) == "en" and "Your choices are saved." in saved

    # A request made from the Dutch page: the answer page is Dutch (whoever asked reads it),
    # the mail and its link's page are English (the address's owner reads them).
    asked = visitor.post_form("/requests", {"email": "engels@example.com", "type": "access"})
    assert asked.status_code == 202 and _lang_of(asked.body) == "nl"
    visitor.run_mail_jobs()
    request_mail = visitor.mail_to("engels@example.com")[-1]
    assert str(request_mail["Subject"]).startswith("Your request for access to your data at")
    page = visitor.get(visitor.request_link("engels@example.com")).body.decode()
    assert _lang_of(page) == "en" and "Download my data" in page


def test_a_dutch_default_signup_stays_dutch(visitor):
    visitor.subscribe("nederlands@example.com")  # no lang: the form's default, Dutch
    assert visitor.contact("nederlands@example.com")["lang"] == "nl"
    page = visitor.get(visitor.unsubscribe_path("nederlands@example.com")).body.decode()
    assert _lang_of(page) == "nl" and "Uw e-mailvoorkeuren" in page
    visitor.post_form("/requests?lang=en", {"email": "nederlands@example.com", "type": "erasure"})
    visitor.run_mail_jobs()
    assert str(visitor.mail_to("nederlands@example.com")[-1]["Subject"]).startswith(
        "Uw verzoek om verwijdering bij"
    )


def test_only_a_confirmed_signup_changes_the_language(visitor):
    """Anyone can type an address into a form; only its owner, by confirming, changes how
    we speak to them."""
    visitor.subscribe("wissel@example.com", lang="en")
    manage = visitor.unsubscribe_path("wissel@example.com")
    visitor.signup("wissel@example.com", lang="nl")  # not confirmed (yet)
    visitor.run_mail_jobs()
    assert visitor.contact("wissel@example.com")["lang"] == "en"
    assert _lang_of(visitor.get(manage).body) == "en"
    dutch_mail = visitor.mail_to("wissel@example.com")[-1]
    assert str(dutch_mail["Subject"]).startswith("Bevestig uw aanmelding")  # the new signup's own language
    confirmed = visitor.client.http.post(visitor.confirm_link("wissel@example.com"), headers=FORM)
    assert confirmed.status_code == 200
    assert visitor.contact("wissel@example.com")["lang"] == "nl"
    assert _lang_of(visitor.get(manage).body) == "nl"


def test_the_form_offers_each_other_language_in_its_own_words(visitor):
    """Languages are data: the switch lists the form's other languages by their own names."""
    dutch = visitor.get("/forms/newsletter").body.decode()
    switch = re.findall(r'<a href="(\?lang=\w+)" lang="(\w+)" hreflang="\w+">([^<]+)</a>', dutch)
    assert switch == [("?lang=en", "en", "English"), ("?lang=de", "de", "Deutsch")]
    english = visitor.get("/forms/newsletter?lang=en&embed=1").body.decode()
    assert 'href="?lang=nl&amp;embed=1"' not in english  # framed: no header, so no switch
    assert '<html lang="en" ' in english and '<body class="embed">' in english
    requests = visitor.get("/requests?lang=de").body.decode()
    assert 'href="?lang=nl" lang="nl" hreflang="nl">Nederlands</a>' in requests
    assert 'href="?lang=en" lang="en" hreflang="en">English</a>' in requests
    assert '<html lang="de">' in requests and "Ihre Daten einsehen oder löschen" in requests


def test_a_german_signup_is_answered_in_german_ever_after(visitor):
    """Languages are data: German came as a catalogue line, a .po file and its texts."""
    visitor.post_form(
        "/forms/newsletter", [("email", "deutsch@example.com"), ("purposes", "newsletter"), ("lang", "de")]
    )
    visitor.run_mail_jobs()
    (mail,) = visitor.mail_to("deutsch@example.com")
    assert str(mail["Subject"]) == "Bestätigen Sie Ihre Anmeldung bei Voorbeeld Webwinkel B.V."
    assert "Ja, senden Sie mir den monatlichen Newsletter" in mail.get_body(("plain",)).get_content()
    confirm = visitor.confirm_link("deutsch@example.com")
    assert "Ja, ich bestätige meine Anmeldung" in visitor.get(confirm).body.decode()
    assert _lang_of(visitor.client.http.post(confirm, headers=FORM).body) == "de"
    page = visitor.get(visitor.unsubscribe_path("deutsch@example.com")).body.decode()
    assert _lang_of(page) == "de" and "Ihre E-Mail-Einstellungen" in page
    assert visitor.contact("deutsch@example.com")["lang"] == "de"
    refused = visitor.post_json(
        "/forms/newsletter", {"email": "fr@example.com", "purposes": ["offers"], "lang": "fr"}
    )
    assert refused.status_code == 422
    assert json.loads(refused.body)["errors"]["lang"] == "must be one of nl, en, de"
