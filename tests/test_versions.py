"""The text recorded is the text the visitor read, however the form was posted (LAW 5).

Every form page, the framed page, embed.js's form data and the plain snippet carry the
version of the texts they show; a post names it. A version the form never showed is
refused naming the field, with nothing stored and nothing sent; an older one records its
own, older texts; a post without one (a customer's snippet from before versions) is taken
to have shown today's texts and says so by carrying no version in its evidence."""

from __future__ import annotations

import json
import re

import pytest

from chalicelib import catalogue, versions
from scripts import texts as recorder
from tests.conftest import ROOT

OLD_NL = "Ja, stuur mij de maandelijkse nieuwsbrief van Voorbeeld Webwinkel B.V. per e-mail."
NEW_NL = "Ja, stuur mij elke maand de nieuwsbrief van Voorbeeld Webwinkel B.V. per e-mail."


def _version_on(body: str) -> str:
    return re.search(r'<input type="hidden" name="version" value="(\w+)">', body).group(1)  # type: ignore[union-attr]


def _requested(visitor, email):
    return [e for e in visitor.events(email) if e["type"] == "signup_requested"]


def test_every_way_a_form_is_shown_carries_the_version_of_its_texts(visitor):
    cat = catalogue.load()
    form = cat.forms["newsletter"]
    expected = {lang: versions.current(cat, form, lang).version for lang in form.languages}
    assert len(set(expected.values())) == len(form.languages)  # each language its own texts
    for lang, version in expected.items():
        assert _version_on(visitor.get(f"/forms/newsletter?lang={lang}").body.decode()) == version
        assert _version_on(visitor.get(f"/forms/newsletter?lang={lang}&embed=1").body.decode()) == version
        data = json.loads(visitor.get(f"/forms/newsletter/embed?lang={lang}").body)
        assert data["version"] == version
    plain = (ROOT / "demo" / "plain.html").read_text(encoding="utf-8")
    assert f'<input type="hidden" name="version" value="{expected["nl"]}">' in plain  # the README's snippet
    assert '<input type="text" name="website" tabindex="-1"' in plain  # and its honeypot
    for doc in ("README.md", "docs/pages.md"):
        text = (ROOT / doc).read_text(encoding="utf-8")
        assert f'name="version" value="{expected["nl"]}"' in text and 'name="website"' in text, doc


def test_every_version_shown_is_recorded_in_the_package_and_matches_its_texts():
    """`make texts` keeps texts_shown.json: a version must be recorded before its wording can
    be replaced, and every recorded one must still hash to its own texts (none edited)."""
    assert recorder.missing() == {}, "run `make texts` and commit chalicelib/texts_shown.json"
    history = versions.read_history()
    assert versions._entries(history)  # raises for an entry whose texts were edited
    tampered = json.loads(json.dumps(history))
    first = next(iter(tampered["versions"].values()))
    first["texts"][next(iter(first["texts"]))] += " (edited)"
    with pytest.raises(ValueError, match="does not match its texts"):
        versions._entries(tampered)


def test_a_version_the_form_never_showed_is_refused_and_nothing_is_stored_or_sent(visitor):
    shop_version = versions.current(catalogue.load(), catalogue.load().forms["shop"], "nl").version
    for version in ("0123456789abcdef0123", shop_version, "x" * 65):  # a guess, another form's, junk
        fields = [("email", "nooit@example.com"), ("purposes", "newsletter"), ("version", version)]
        page = visitor.post_form("/forms/newsletter", fields)
        assert page.status_code == 422
        body = page.body.decode()
        assert "Dit formulier is veranderd sinds u het kreeg" in body
        assert (
            _version_on(body)
            == versions.current(catalogue.load(), catalogue.load().forms["newsletter"], "nl").version
        )
        as_json = visitor.post_json(
            "/forms/newsletter",
            {"email": "nooit@example.com", "purposes": ["newsletter"], "version": version},
        )
        assert as_json.status_code == 422
        assert json.loads(as_json.body)["errors"] == {
            "version": "is not a version of this form's texts that was ever shown"
        }
    assert visitor.items() == [] and visitor.queued() == []


def test_a_post_without_a_version_records_todays_texts_and_says_so(visitor):
    """The decision for old plain snippets: they keep working, with today's texts in the
    posted language, and the events carry no form_version (the proof is weaker, and shows it)."""
    visitor.post_form(
        "/forms/newsletter", [("email", "oud@example.com"), ("purposes", "newsletter"), ("lang", "en")]
    )
    (event,) = _requested(visitor, "oud@example.com")
    assert event["evidence"]["texts"] == {"newsletter": catalogue.load().purposes["newsletter"].texts["en"]}
    assert "form_version" not in event["evidence"]


def test_the_version_decides_the_language_of_the_texts_recorded(visitor):
    cat = catalogue.load()
    german = versions.current(cat, cat.forms["newsletter"], "de")
    visitor.post_json(
        "/forms/newsletter",
        {"email": "deutsch@example.com", "purposes": ["offers"], "lang": "nl", "version": german.version},
    )
    (event,) = _requested(visitor, "deutsch@example.com")
    offers = german.text_for("offers")
    assert offers is not None
    assert (event["evidence"]["texts"]["offers"], event["evidence"]["lang"]) == (offers.text, "de")
    assert event["evidence"]["form_version"] == german.version
    page = visitor.post_form(
        "/forms/newsletter?lang=nl",
        [("email", "seite@example.com"), ("purposes", "offers"), ("lang", "nl"), ("version", german.version)],
    )
    body = page.body.decode()  # the answer speaks the language the visitor read
    assert '<html lang="de">' in body and "Bitte prüfen Sie Ihr Postfach" in body


@pytest.fixture
def reworded(tmp_path, monkeypatch):
    """The catalogue after a marketer reworded the Dutch newsletter text (a new release)."""
    source = catalogue.CATALOGUE_FILE.read_text(encoding="utf-8")
    assert source.count(OLD_NL) == 1
    changed = tmp_path / "catalogue.toml"
    changed.write_text(source.replace(OLD_NL, NEW_NL), encoding="utf-8")
    monkeypatch.setattr(catalogue, "CATALOGUE_FILE", changed)
    catalogue._parsed.cache_clear()
    catalogue._with_stage_origins.cache_clear()
    yield
    monkeypatch.undo()
    catalogue._parsed.cache_clear()
    catalogue._with_stage_origins.cache_clear()


def test_a_page_left_open_across_a_release_records_the_older_text_it_showed(visitor, request):
    """LAW 5: the visitor read the old wording, so the ledger records the old wording."""
    before = _version_on(visitor.get("/forms/newsletter").body.decode())
    request.getfixturevalue("reworded")  # the release happens while the page is open
    now = visitor.get("/forms/newsletter").body.decode()
    assert NEW_NL in now and _version_on(now) != before
    for email, version, text in (
        ("open@example.com", before, OLD_NL),
        ("nieuw@example.com", _version_on(now), NEW_NL),
    ):
        response = visitor.post_form(
            "/forms/newsletter",
            [("email", email), ("purposes", "newsletter"), ("purposes", "offers"), ("version", version)],
        )
        assert response.status_code == 200
        (event,) = _requested(visitor, email)
        evidence = event["evidence"]
        assert evidence["texts"]["newsletter"] == text and evidence["form_version"] == version
    stored = {i["text"] for i in visitor.items() if i["pk"].startswith("TEXT#")}
    assert {OLD_NL, NEW_NL} <= stored  # both wordings kept once, each under its own version


def test_the_confirmation_mail_and_page_repeat_the_text_the_visitor_read(visitor, request):
    """LAW 5 and 8: a release between the signup and its confirmation changes nothing the
    person is asked to confirm: the mail, the page and the page after the button show the
    wording the form showed, and the grant stands on it."""
    version = _version_on(visitor.get("/forms/newsletter").body.decode())
    fields = [("email", "lees@example.com"), ("purposes", "newsletter"), ("version", version)]
    assert visitor.post_form("/forms/newsletter", fields).status_code == 200
    request.getfixturevalue("reworded")  # released before the mail job runs
    visitor.run_mail_jobs()
    (mail,) = visitor.mail_to("lees@example.com")
    body = mail.get_body(("plain",)).get_content()
    assert OLD_NL in body and NEW_NL not in body
    link = visitor.confirm_link("lees@example.com")
    for answer in (visitor.get(link), visitor.post_form(link, {})):
        assert answer.status_code == 200
        page = answer.body.decode()
        assert OLD_NL in page and NEW_NL not in page
    (granted,) = [e for e in visitor.events("lees@example.com") if e["type"] == "confirmed"]
    assert granted["purposes"] == ["newsletter"]
    (asked,) = _requested(visitor, "lees@example.com")
    assert asked["evidence"]["texts"] == {"newsletter": OLD_NL}


def test_a_wording_only_the_ledger_holds_is_read_from_it(visitor, request, monkeypatch):
    """A version neither today's catalogue nor the package's history knows (an import's
    wording, a history file that lost a line) is read from the ledger's own copy."""
    visitor.signup("kopie@example.com", ("newsletter",), lang="nl")
    request.getfixturevalue("reworded")
    monkeypatch.setattr(versions, "_known_texts", lambda: ())  # the package knows only today's
    visitor.run_mail_jobs()
    body = visitor.mail_to("kopie@example.com")[0].get_body(("plain",)).get_content()
    assert OLD_NL in body and NEW_NL not in body
