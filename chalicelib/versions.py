"""Which texts a visitor read: the version a form carries, and every version ever shown.

Every way a form reaches a visitor (the form page, the iframe, embed.js, a plain HTML form
copied onto a site) carries one hidden ``version``: a hash of the form, the language and
the exact consent texts it shows. A post names the version it was read in, so the ledger
records the text the visitor read even when the catalogue has changed since (a page left
open overnight, a customer's snippet pasted last year).

The catalogue holds only today's wording. Every version the service has shown stays in
``texts_shown.json`` beside it, in the package: `make texts` adds the catalogue's current
versions and never removes one, and a test fails while a current version is not in it, so
any wording is recorded before it can be replaced. A version that is neither current nor
recorded for that form was never shown: the post is refused, naming the field.

Serving a form needs only the current version (a hash of the parsed catalogue); the
history file is read on the first post of an older version only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from chalicelib.catalogue import Catalogue, ConsentText, Form

FIELD = "version"
HISTORY_FILE = Path(__file__).with_name("texts_shown.json")


class UnknownVersion(ValueError):
    """A version this form never showed: refused, nothing stored or sent."""


@dataclass(frozen=True)
class Shown:
    """The texts behind one version: what the visitor read, in which language."""

    version: str
    form_id: str
    lang: str
    texts: tuple[ConsentText, ...]

    def text_for(self, purpose: str) -> ConsentText | None:
        return next((t for t in self.texts if t.purpose == purpose), None)


def version_of(form_id: str, lang: str, texts: Sequence[ConsentText]) -> str:
    """The version of one form's texts in one language, in the order shown."""
    lines = [form_id, lang, *(f"{t.purpose}={t.version}" for t in texts)]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:20]


def current(cat: Catalogue, form: Form, lang: str) -> Shown:
    texts = tuple(cat.texts_for(form, lang))
    return Shown(version_of(form.id, lang, texts), form.id, lang, texts)


def shown(cat: Catalogue, form: Form, version: str) -> Shown:
    """The texts the form showed under ``version``: today's, or a recorded older one.

    Raises UnknownVersion for a version this form never showed (another form's, a typo,
    a guess)."""
    for lang in form.languages:
        now = current(cat, form, lang)
        if now.version == version:
            return now
    found = _history().get(version)
    if found is None or found.form_id != form.id:
        raise UnknownVersion(version)
    return found


def texts_recorded(
    cat: Catalogue,
    lang: str,
    purposes: Iterable[str],
    recorded: Mapping[str, str],
) -> list[ConsentText]:
    """The texts a signup recorded, in its purposes' order: what its confirmation mail and
    page repeat, whatever the catalogue says today.

    From the package when it holds that version (today's catalogue or the history: no AWS
    call), else from the ledger's own copy (one batch read; e.g. an import's wording).
    A signup stored before it kept its versions shows today's text.
    """
    known = {t.version: t for p in cat.purposes.values() for t in map(p.consent_text, p.texts)}
    wanted = [p for p in purposes if p in recorded or p in cat.purposes]

    def missing() -> list[str]:
        return [recorded[p] for p in wanted if p in recorded and recorded[p] not in known]

    if missing():  # an older wording: the history file is read only then
        known.update((t.version, t) for t in _known_texts())
    if missing():
        from chalicelib.ledger import get_ledger

        for version, item in get_ledger().texts(missing()).items():
            known[version] = ConsentText(str(item["purpose"]), str(item["lang"]), str(item["text"]))
    texts = []
    for purpose in wanted:
        if purpose not in recorded:
            texts.append(cat.purposes[purpose].consent_text(lang))
        elif recorded[purpose] in known:
            texts.append(known[recorded[purpose]])
    return texts


@lru_cache(maxsize=1)
def _known_texts() -> tuple[ConsentText, ...]:
    return tuple(t for shown_ in _history().values() for t in shown_.texts)


@lru_cache(maxsize=1)
def _history() -> dict[str, Shown]:
    """The recorded versions, each checked against its own hash: an edited text would
    otherwise be recorded as a text somebody read."""
    return _entries(read_history())


def read_history(path: Path = HISTORY_FILE) -> dict[str, Any]:
    if not path.is_file():
        return {"versions": {}}
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("versions"), dict), f"{path}: no versions"
    return data


def _entries(data: dict[str, Any]) -> dict[str, Shown]:
    found: dict[str, Shown] = {}
    for version, entry in data["versions"].items():
        lang = entry["lang"]
        texts = tuple(ConsentText(purpose, lang, text) for purpose, text in entry["texts"].items())
        if version_of(entry["form"], lang, texts) != version:
            raise ValueError(f"{HISTORY_FILE.name}: version {version} does not match its texts")
        found[version] = Shown(version, entry["form"], lang, texts)
    return found


def entry(shown_: Shown) -> dict[str, Any]:
    """One version as the history file keeps it."""
    return {"form": shown_.form_id, "lang": shown_.lang, "texts": {t.purpose: t.text for t in shown_.texts}}


def clear_cache() -> None:
    _history.cache_clear()
    _known_texts.cache_clear()
