"""Consent stands alone (LAW 3, GDPR art. 7(2) and 7(4)): no form bundles it with terms or
the privacy notice, and nothing the service does for a person waits on a yes.

The form pages are read as a browser reads them (every field and its attributes), in every
form and language the catalogue lists, so a checkbox added to a template or a form later is
caught here, not by a regulator."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

from chalicelib import catalogue

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# Words a bundled consent would carry, in each language the demo speaks.
BUNDLED = (
    "terms",
    "conditions",
    "voorwaarden",
    "geschäftsbedingungen",
    "agb",
    "i accept",
    "ik ga akkoord",
    "ich akzeptiere",
    "i agree to the privacy",
)


class _Fields(HTMLParser):
    """Every form field of a page with its attributes, and the page's visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[dict[str, str | None]] = []
        self.links: list[str] = []
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("input", "select", "textarea"):
            self.fields.append({"tag": tag, **dict(attrs)})
        elif tag == "a":
            self.links.append(dict(attrs).get("href") or "")
        elif tag in ("style", "script"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


def _read(body: bytes) -> _Fields:
    parser = _Fields()
    parser.feed(body.decode())
    return parser


def test_every_form_asks_for_the_address_and_its_own_purposes_and_nothing_to_accept(visitor):
    """LAW 3: no terms or privacy box, no box but one per purpose (unticked); the privacy
    notice is a link to read, never a box to tick; only the address is required (LAW 1, 4)."""
    cat = catalogue.load()
    assert cat.forms  # every form the catalogue lists, the demo's two and any added later
    for form_id, form in cat.forms.items():
        for lang in form.languages:
            for query in ("", "&embed=1"):
                page = _read(visitor.get(f"/forms/{form_id}?lang={lang}{query}").body)
                where = (form_id, lang, query)
                boxes = [f for f in page.fields if f.get("type") in ("checkbox", "radio")]
                assert [(b["name"], b["value"]) for b in boxes] == [("purposes", p) for p in form.purposes], (
                    where
                )
                assert not [b for b in boxes if "checked" in b], where
                assert [f.get("name") for f in page.fields if "required" in f] == ["email"], where
                shown = {f.get("name") for f in page.fields if f.get("type") != "hidden"} - {"website"}
                assert shown == {"email", "name", "purposes"}, where  # website: the hidden honeypot
                assert cat.controller.privacy_url in page.links, where
                text = " ".join(page.text).lower()
                assert not [w for w in BUNDLED if re.search(rf"\b{w}\b", text)], where
            data = json.loads(visitor.get(f"/forms/{form_id}/embed?lang={lang}").body)
            assert [p["id"] for p in data["purposes"]] == list(form.purposes)  # the script's form: the same
            assert data["controller"]["privacy_url"] == cat.controller.privacy_url


def test_a_signup_needs_nothing_but_the_address_and_one_purpose(visitor):
    """LAW 3: no other field is a condition of the yes. The bare minimum signs up and
    confirms; a form of the customer's own that adds a terms box changes nothing recorded."""
    bare = visitor.post_json("/forms/newsletter", {"email": "kaal@example.com", "purposes": ["offers"]})
    assert bare.status_code == 202
    assert visitor.confirm("kaal@example.com").status_code == 200  # the button posts nothing
    (granted,) = visitor.contact("kaal@example.com")["purposes"].values()
    assert (granted["status"], granted["basis"]) == ("granted", "consent")
    visitor.post_form(
        "/forms/newsletter",
        [
            ("email", "extra@example.com"),
            ("purposes", "newsletter"),
            ("terms", "on"),
            ("privacy", "accepted"),
        ],
    )
    stored = json.dumps(visitor.person_items("extra@example.com"), default=str)
    assert "terms" not in stored and "accepted" not in stored
    (event,) = visitor.events("extra@example.com")
    texts = event["evidence"]["texts"]
    assert texts == {"newsletter": catalogue.load().purposes["newsletter"].texts["nl"]}  # the yes alone


def test_saying_no_to_everything_takes_nothing_else_away(visitor):
    """LAW 3: consent is no condition for the person's other rights. After leaving every
    purpose (suppressed), they still object to profiling, see their data and erase it."""
    visitor.subscribe("nee@example.com", lang="en")
    path = visitor.unsubscribe_path("nee@example.com")
    assert visitor.post_form(path, {"everything": "1"}).status_code == 200
    assert visitor.contact("nee@example.com")["suppressed"] is True
    assert visitor.post_form(path, {"profiling": "object"}).status_code == 200
    assert visitor.contact("nee@example.com")["profiling"] == "objected"

    assert visitor.post_form("/requests", {"email": "nee@example.com", "type": "access"}).status_code == 202
    visitor.run_mail_jobs()
    export = visitor.client.http.post(visitor.request_link("nee@example.com"), headers=FORM)
    assert export.status_code == 200
    data = json.loads(export.body)
    assert {p: s["status"] for p, s in data["purposes"].items()} == {
        "newsletter": "withdrawn",
        "offers": "withdrawn",
    }
    assert visitor.post_form("/requests", {"email": "nee@example.com", "type": "erasure"}).status_code == 202
    visitor.run_mail_jobs()
    erased = visitor.client.http.post(visitor.request_link("nee@example.com"), headers=FORM)
    assert erased.status_code == 200
    assert visitor.api("/api/contacts/nee@example.com").status_code == 404
