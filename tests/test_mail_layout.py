"""The confirmation mail as a person opens it on a phone: the form's brand, a real button
with short words, the full link in the text part, and still nothing but the request, the
controller and the link (LAW 8: no advertising, no tracking, nothing fetched from anywhere).
The browser tests render it at 390 px and check that nothing scrolls sideways."""

from __future__ import annotations

import re

from chalicelib import catalogue
from tests.conftest import BASE_URL


def _mail(visitor, email):
    (mail,) = visitor.mail_to(email)
    return mail, mail.get_body(("html",)).get_content(), mail.get_body(("plain",)).get_content()


def test_the_html_part_is_a_branded_mobile_first_layout_with_one_button(visitor):
    visitor.post_json(
        "/forms/newsletter", {"email": "knop@example.com", "purposes": ["offers"], "lang": "nl"}
    )
    visitor.run_mail_jobs()
    _message, html, text = _mail(visitor, "knop@example.com")
    link = BASE_URL + visitor.confirm_link("knop@example.com")
    look = catalogue.load().brand_of("newsletter")
    assert link in text  # the text part keeps the full URL
    assert re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', html) == [(link, "Bevestig mijn aanmelding")]
    assert html.count(link) == 1  # a button, not the long URL as text
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in html
    assert "max-width:560px" in html and f"background:{look.accent}" in html and look.name in html
    assert '<html lang="nl">' in html


def test_a_mail_wears_the_brand_of_the_form_it_came_from():
    """The shop's signup mail in the shop's colours and name, in German."""
    from chalicelib.ledger import PendingMail
    from chalicelib.mail import render_confirmation

    pending = PendingMail(
        email="laden@example.com",
        lang="de",
        form_id="shop",
        purposes=("offers",),
        expires_at=2000000000,
        already_sent=False,
    )
    mail = render_confirmation(pending, "https://consent.test/confirm/TOKEN", 30, 7)
    shop = catalogue.load().brand_of("shop")
    assert f"background:{shop.accent}" in mail.html and f">{shop.name}</td>" in mail.html
    assert ">Anmeldung bestätigen</a>" in mail.html and mail.subject.startswith(
        "Bestätigen Sie Ihre Anmeldung"
    )
    assert "https://consent.test/confirm/TOKEN" in mail.text


def test_the_mail_fetches_nothing_and_tracks_nothing(visitor):
    """LAW 8, 21: no image at all (a logo would be a fetch or an attachment), no remote
    style or font, no link but the one to confirm."""
    visitor.signup("kaal@example.com")
    visitor.run_mail_jobs()
    mail, html, _text = _mail(visitor, "kaal@example.com")
    assert "<img" not in html and "url(" not in html and "<link" not in html and "@import" not in html
    assert [u for u in re.findall(r"https?://[^\s\"'<>]+", html)] == [
        f"{BASE_URL}{visitor.confirm_link('kaal@example.com')}"
    ]
    assert not [part for part in mail.walk() if part.get_content_maintype() == "image"]
