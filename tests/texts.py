"""What a person reads on a page or in a mail, and whether each piece of it is translated.

A page passes when every piece of its visible text is either data (the controller, the
catalogue's consent texts, what the visitor typed, a link) or part of a translation in the
language of the element it stands in (``lang`` attributes count: the invalid-link page is
Dutch with English parts). Anything else is a string that bypassed gettext: a hard-coded
English word on a Dutch page, or a missing translation that fell back to its English id.
Used by the catalogue tests (pages and mails through chalice's test client) and by the
browser tests (live pages, including the form the embed script renders on a host page).
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Iterable
from functools import lru_cache
from html.parser import HTMLParser

from chalicelib import catalogue
from chalicelib.catalogue import LOCALE_DIR

_PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")
_SPACE = re.compile(r"\s+")
# What separates the pieces of one visible line: punctuation between a text and its data.
_SEPARATORS = re.compile(r"[\s·,;:()/.!?\-–—]+")
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_INVISIBLE = {"script", "style", "template", "noscript"}


def normalise(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


@lru_cache(maxsize=4)
def translated_chunks(lang: str) -> tuple[str, ...]:
    """The fixed parts of every translation of one language (placeholders cut out)."""
    found = gettext.translation("consentry", LOCALE_DIR, languages=[lang])
    chunks: list[str] = []
    for key, value in found._catalog.items():  # type: ignore[attr-defined]
        if key == "":
            continue
        chunks += [_SEPARATORS.sub(" ", c).strip() for c in _PLACEHOLDER.split(value) if c.strip()]
    return tuple(chunks)


def data_values(lang: str, extra: Iterable[str] = ()) -> list[str]:
    """Texts a page shows that are data, not wording: longest first, so they cut cleanly.

    The catalogue's own words are data too: consent texts and labels, each form's heading,
    intro, button and thank-you text, brand names, each language's own name."""
    cat = catalogue.load()
    c = cat.controller
    values = [c.name, c.address, c.email, c.privacy_url, *cat.languages.values(), *extra]
    for purpose in cat.purposes.values():
        values += [purpose.texts.get(lang, ""), purpose.labels.get(lang, ""), purpose.id]
    for form in cat.forms.values():
        wording = form.wording(lang)
        values += [wording.heading or "", wording.intro or "", wording.button or "", wording.thank_you or ""]
        values.append(cat.brand_of(form).name)
    values.append(cat.brand_of(None).name)
    return sorted({normalise(v) for v in values if v and v.strip()}, key=len, reverse=True)


def untranslated(pieces: Iterable[tuple[str, str]], extra: Iterable[str] = ()) -> list[str]:
    """The pieces of visible text, as (lang, text), that no translation of their language covers."""
    extra = list(extra)
    left = []
    for lang, text in pieces:
        text = normalise(text)
        for value in data_values(lang, extra):
            text = text.replace(value, "\x00")
        text = re.sub(r"https?://\S+|\d+", "\x00", text)
        for part in text.split("\x00"):
            part = _SEPARATORS.sub(" ", part).strip()
            if not re.search(r"[^\W\d_]", part):  # no letters: numbers, punctuation
                continue
            uncovered = _uncovered(part, translated_chunks(lang))
            if uncovered:
                left.append(f"[{lang}] {uncovered}")
    return left


def _uncovered(part: str, chunks: tuple[str, ...]) -> str | None:
    """Cover the words of ``part`` from left to right with the longest runs that occur in a
    translation (two messages may share one line: "The link is valid… Did not sign up?…");
    the first word that no translation holds, with what follows it, is the answer."""
    words = part.split(" ")
    start = 0
    while start < len(words):
        end = len(words)
        while end > start and not any(" ".join(words[start:end]) in chunk for chunk in chunks):
            end -= 1
        if end == start:
            return " ".join(words[start:])
        start = end
    return None


class _Visible(HTMLParser):
    """Text nodes a person sees or hears, each with the language of the element it is in."""

    def __init__(self, lang: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str, bool]] = [("", lang, False)]
        self.pieces: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        _, lang, hidden = self.stack[-1]
        hidden = hidden or tag in _INVISIBLE or a.get("aria-hidden") == "true" or "hidden" in a
        lang = a.get("lang") or lang
        for name in ("aria-label", "title", "alt", "placeholder"):
            if a.get(name) and not hidden:
                self.pieces.append((lang, a[name] or ""))
        if tag not in _VOID:
            self.stack.append((tag, lang, hidden))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, 0, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        _, lang, hidden = self.stack[-1]
        if data.strip() and not hidden:
            self.pieces.append((lang, data))


def page_pieces(html: str) -> list[tuple[str, str]]:
    match = re.search(r'<html[^>]*\blang="(\w+)"', html)
    parser = _Visible(match.group(1) if match else "nl")
    parser.feed(html)
    return parser.pieces


def untranslated_on_page(html: str, extra: Iterable[str] = ()) -> list[str]:
    return untranslated(page_pieces(html), extra)


def untranslated_in_text(text: str, lang: str, extra: Iterable[str] = ()) -> list[str]:
    """A plain-text mail: each line is a piece."""
    return untranslated(((lang, line) for line in text.splitlines() if line.strip() not in ("", "--")), extra)
