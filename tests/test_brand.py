"""Each form in its own words and look, and what the catalogue refuses before a visitor sees
it: a colour below WCAG AA, a logo that could fetch or run anything, a text missing in one
of a form's languages (issue 13). The controller line stays on every page (LAW 4)."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from chalicelib import brand, catalogue

SOURCE = catalogue.CATALOGUE_FILE.read_text(encoding="utf-8")


def _changed(old: str, new: str) -> str:
    assert SOURCE.count(old) == 1, old
    return SOURCE.replace(old, new)


def _refused(text: str) -> str:
    with pytest.raises(catalogue.CatalogueError) as caught:
        catalogue.parse(text)
    return str(caught.value)


@pytest.mark.parametrize(
    ("setting", "field", "against"),
    [
        ('accent = "#f5a623"', "forms.shop.brand.accent", "the button text (#ffffff)"),  # orange, white text
        ('accent = "#a3174f"\nbutton_text = "#7a1038"', "forms.shop.brand.accent", "the button text"),
        ('accent = "#8e9aa6"\nbutton_text = "#000000"', "forms.shop.brand.accent", "the form (#ffffff)"),
    ],
)
def test_a_colour_below_wcag_aa_is_refused_when_the_catalogue_loads(setting, field, against):
    """The error names the form, the field, what it was measured against and the ratio."""
    message = _refused(_changed('accent = "#a3174f"', setting))
    assert message.startswith(f"{field}: ") and against in message
    assert re.search(r"contrast of \d\.\d\d:1; WCAG AA needs at least 4.5:1", message)


def test_the_catalogues_own_brand_and_a_malformed_colour_are_checked_too():
    assert _refused(
        _changed(
            '[brand]\nname = "Voorbeeld Webwinkel"\naccent = "#0b5cad"',
            '[brand]\nname = "X"\naccent = "#dddddd"',
        )
    ).startswith("brand.accent: ")
    assert "is not a colour like #0b5cad" in _refused(_changed('accent = "#a3174f"', 'accent = "raspberry"'))
    assert "not a brand setting" in _refused(
        _changed('accent = "#a3174f"', 'accent = "#a3174f"\nfont = "Comic Sans"')
    )


def test_the_demo_forms_are_two_brands_and_both_meet_aa():
    cat = catalogue.load()
    newsletter, shop = cat.brand_of("newsletter"), cat.brand_of("shop")
    assert newsletter.accent != shop.accent and newsletter.logo != shop.logo and newsletter.name != shop.name
    for look in (newsletter, shop, cat.brand_of(None)):
        for background in (look.button_text, brand.WHITE, brand.PAGE):
            assert brand.contrast(look.accent, background) >= 4.5
        assert brand.contrast(look.accent_dark, look.button_text) > brand.contrast(
            look.accent, look.button_text
        )
    assert cat.forms["newsletter"].wording("de").heading != cat.forms["shop"].wording("de").heading


def test_the_contrast_is_wcags():
    assert round(brand.contrast("#000000", "#ffffff"), 2) == 21.0
    assert round(brand.contrast("#777777", "#ffffff"), 2) == 4.48  # the classic just-fails grey
    assert brand.contrast("#0b5cad", "#0b5cad") == 1.0


@pytest.mark.parametrize(
    ("svg", "reason"),
    [
        ('<svg xmlns="http://www.w3.org/2000/svg"><image href="https://cdn.example/l.png"/></svg>', "href="),
        ('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "<script"),
        ('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>', "onload="),
        ('<svg xmlns="http://www.w3.org/2000/svg"><style>@import "https://x";</style></svg>', "@import"),
        ('<svg xmlns="http://www.w3.org/2000/svg"><rect fill="url(https://x/p#a)"/></svg>', "url("),
        ("<p>not an image</p>", "not an SVG image"),
    ],
)
def test_a_logo_that_could_fetch_or_run_anything_is_refused(tmp_path, monkeypatch, svg, reason):
    """A logo is served by the service under a strict CSP: the file itself may not reach out."""
    monkeypatch.setattr(brand, "BRAND_DIR", tmp_path)
    (tmp_path / "logo.svg").write_text(svg)
    with pytest.raises(brand.BrandError) as caught:
        brand.checked({"name": "Shop", "logo": "logo.svg"}, "forms.shop.brand")
    assert str(caught.value).startswith("forms.shop.brand.logo: ") and reason in str(caught.value)


def test_a_logo_must_be_an_svg_file_that_is_there():
    assert "does not exist" in _refused(_changed('logo = "outlet.svg"', 'logo = "gone.svg"'))
    assert "must be the name of an .svg file" in _refused(
        _changed('logo = "outlet.svg"', 'logo = "../catalogue.toml"')
    )
    same_fragment = (
        '<svg xmlns="http://www.w3.org/2000/svg"><defs><linearGradient id="g"/></defs>'
        '<rect fill="url(#g)"/></svg>'
    )
    assert brand._LOGO_FORBIDDEN.search(same_fragment) is None  # a reference inside the file is fine


def test_a_text_or_translation_missing_in_one_of_a_forms_languages_is_refused():
    assert _refused(
        _changed('intro.de = "Angebote zu Produkten', 'intro.fr = "Angebote zu Produkten')
    ).startswith("forms.shop.intro.de: missing")
    assert _refused(_changed('label.de = "Angebote"\n', "")).startswith("purposes.offers.label.de: missing")
    assert _refused(_changed('de = "Deutsch"', 'de = "Deutsch"\nfr = "Français"')).startswith(
        "languages.fr: no gettext catalogue"
    )
    assert "is not in [languages]" in _refused(
        _changed(
            'languages = ["nl", "en", "de"]\ndefault_lang = "nl"\nallowed_origins = ["https://consentry.example"]\n',
            'languages = ["nl", "en", "de", "fr"]\ndefault_lang = "nl"\nallowed_origins = ["https://consentry.example"]\n',
        )
    )


def test_logos_are_served_by_the_service_itself_and_nothing_else_is(visitor):
    logo = visitor.get("/brand/outlet.svg")
    assert logo.status_code == 200 and logo.headers["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert logo.body.decode() == brand.logo_svg("outlet.svg")
    assert (
        "sandbox" in logo.headers["Content-Security-Policy"]
        and logo.headers["X-Content-Type-Options"] == "nosniff"
    )
    for other in ("nope.svg", "catalogue.toml", "..%2Fcatalogue.toml"):
        assert visitor.get(f"/brand/{other}").status_code == 404


def _inline_style_hash(body: str) -> str:
    css = re.search(r"<style>(.*?)</style>", body, re.S).group(1)  # type: ignore[union-attr]
    return "'sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode() + "'"


@pytest.mark.parametrize("form_id", ["newsletter", "shop"])
def test_a_form_page_wears_its_brand_under_a_strict_policy(visitor, form_id):
    """The brand's colours are in the one hashed inline stylesheet (no 'unsafe-inline'), the
    logo comes from the service (img-src 'self'), the form's words replace the general ones."""
    cat = catalogue.load()
    look, wording = cat.brand_of(form_id), cat.forms[form_id].wording("en")
    response = visitor.get(f"/forms/{form_id}?lang=en")
    body, csp = response.body.decode(), response.headers["Content-Security-Policy"]
    assert f"--accent:{look.accent}" in body and _inline_style_hash(body) in csp
    assert "unsafe-inline" not in csp and "img-src 'self'" in csp
    assert f'<img src="../brand/{look.logo}" alt="{look.name}"' in body
    assert f"<h1>{wording.heading}</h1>" in body and wording.intro in body
    assert f'<button type="submit">{wording.button}</button>' in body
    assert "<title>" + wording.heading + " · " + look.name + "</title>" in body


def test_the_thank_you_text_greets_a_visitor_after_sending(visitor):
    response = visitor.post_form(
        "/forms/newsletter?lang=de", [("email", "danke@example.com"), ("purposes", "newsletter")]
    )
    body = response.body.decode()
    assert '<p class="lead">Vielen Dank für Ihre Anmeldung!</p>' in body
    assert "<h1>Bitte prüfen Sie Ihr Postfach</h1>" in body


def test_every_page_shows_its_heading_then_the_controller_and_links_the_data_page(visitor):
    """LAW 4: the controller line on every page, right below the heading; every page's
    footer leads to the access and erasure page (GDPR art. 12(2): make the rights easy)."""
    visitor.subscribed("kop@example.com")
    pages = {
        "/forms/newsletter": "../requests?lang=nl",
        "/forms/shop?lang=en": "../requests?lang=en",
        "/forms/nope": "../requests?lang=nl",
        visitor.unsubscribe_path("kop@example.com"): "../requests?lang=nl",
        "/confirm/nonsense": "../requests?lang=nl",
        "/requests?lang=de": "requests?lang=de",
    }
    controller = catalogue.load().controller
    for path, requests_link in pages.items():
        body = visitor.get(path).body.decode()
        assert re.search(r"<main>\n<h1>[^\n]*</h1><p class=\"controller\">", body), path
        assert f"<strong>{controller.name}</strong>, {controller.address}" in body
        footer = body[body.index('<footer class="site">') :]
        assert f'<a href="{requests_link}">' in footer, path
