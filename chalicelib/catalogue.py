"""Languages, forms, brands, purposes and consent texts, loaded from the packaged catalogue file.

The catalogue is a file in the deployment package, so serving a form costs no AWS call.
Each consent text is identified by a hash of its exact wording: the ledger stores the
text once under that hash and every consent event points at it (versions.py: the texts a
form shows, as one version). Which languages exist is data here too: ``[languages]``, each
with its gettext catalogue in ``locale/``. What a page could trip over (a colour below AA,
a missing text or translation, an unsafe logo) is refused when the file is parsed.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from chalicelib import brand
from chalicelib.brand import Brand

CATALOGUE_FILE = Path(__file__).with_name("catalogue.toml")
# Another catalogue file, for the local stack only (never set on AWS): a restart with a
# changed catalogue shows that the texts people agreed to stay provable.
CATALOGUE_ENV = "CONSENTRY_CATALOGUE"
LOCALE_DIR = Path(__file__).with_name("locale")
_LANG_CODE = re.compile(r"^[a-z]{2,3}$")
FORM_TEXTS = ("heading", "intro", "button", "thank_you")
"""What a form may word its own way, per language (else the pages' general wording)."""
# The bot challenges a form may use: where their widget comes from (the form page's CSP
# allows that host, for that form only), the answer's field and where it is verified.
CHALLENGES = {
    "turnstile": (
        "https://challenges.cloudflare.com",
        "https://challenges.cloudflare.com/turnstile/v0/api.js",
        "cf-turnstile-response",
        "https://challenges.cloudflare.com/turnstile/v0/siteverify",
    ),
    "hcaptcha": (
        "https://hcaptcha.com https://*.hcaptcha.com",
        "https://js.hcaptcha.com/1/api.js",
        "h-captcha-response",
        "https://api.hcaptcha.com/siteverify",
    ),
}


class CatalogueError(ValueError):
    """The catalogue file cannot be served as it is; the message names the field."""


@dataclass(frozen=True)
class Controller:
    name: str
    address: str
    email: str
    privacy_url: str


@dataclass(frozen=True)
class ConsentText:
    """The exact wording a visitor is shown for one purpose in one language."""

    purpose: str
    lang: str
    text: str

    @property
    def version(self) -> str:
        return text_version(self.purpose, self.lang, self.text)


@dataclass(frozen=True)
class Purpose:
    id: str
    soft_opt_in: bool
    labels: dict[str, str]
    texts: dict[str, str]

    def consent_text(self, lang: str) -> ConsentText:
        return ConsentText(self.id, lang, self.texts[lang])


@dataclass(frozen=True)
class FormTexts:
    """A form's own wording in one language; None where the general wording serves."""

    heading: str | None = None
    intro: str | None = None
    button: str | None = None
    thank_you: str | None = None


@dataclass(frozen=True)
class Form:
    id: str
    purposes: tuple[str, ...]
    languages: tuple[str, ...]
    default_lang: str
    allowed_origins: tuple[str, ...]
    frame_ancestors: tuple[str, ...]
    thank_you_url: str | None
    min_fill_seconds: int = 0
    """Above 0: the page carries a signed render time; faster posts are dropped silently."""
    challenge: str | None = None
    """None, "turnstile" or "hcaptcha": a bot challenge verified server-side."""
    challenge_site_key: str | None = None
    brand: Brand | None = None
    """The form's look; None: the catalogue's own brand."""
    wordings: dict[str, FormTexts] = field(default_factory=dict)
    """Language -> the form's own heading, intro, button and thank-you text."""

    def wording(self, lang: str) -> FormTexts:
        return self.wordings.get(lang) or FormTexts()


@dataclass(frozen=True)
class Catalogue:
    controller: Controller
    purposes: dict[str, Purpose]
    forms: dict[str, Form]
    languages: dict[str, str]
    """Every language pages and mails speak, code -> its own name; the first is the default."""
    brand: Brand
    """The look of pages that belong to no form (preferences, requests, links)."""

    @property
    def default_lang(self) -> str:
        return next(iter(self.languages))

    def lang_or_default(self, lang: object) -> str:
        """``lang`` when the service speaks it, else the default: for languages read back
        from a token or a record, which may predate a language's removal."""
        return lang if isinstance(lang, str) and lang in self.languages else self.default_lang

    def form(self, form_id: str) -> Form | None:
        return self.forms.get(form_id)

    def brand_of(self, form: Form | str | None) -> Brand:
        """A form's brand (by form or id), or the catalogue's own for anything else."""
        found = self.forms.get(form) if isinstance(form, str) else form
        return found.brand if found is not None and found.brand is not None else self.brand

    def texts_for(self, form: Form, lang: str) -> list[ConsentText]:
        return [self.purposes[p].consent_text(lang) for p in form.purposes]


def text_version(purpose: str, lang: str, text: str) -> str:
    """A stable id for one exact wording: the hash the ledger stores the text under."""
    digest = hashlib.sha256(f"{purpose}\n{lang}\n{text}".encode()).hexdigest()
    return digest[:32]


@lru_cache(maxsize=1)
def _parsed() -> Catalogue:
    """Parse and check the catalogue file once per process (``load()`` adds the stage's origins)."""
    path = Path(os.environ.get(CATALOGUE_ENV) or CATALOGUE_FILE)
    return parse(path.read_text(encoding="utf-8"))


def parse(text: str) -> Catalogue:
    """A catalogue from its TOML text, checked.

    Everything a page could trip over later is refused here with a CatalogueError naming
    the field: a language without its gettext catalogue or a purpose's text, a form text
    missing in one of the form's languages, a brand colour below WCAG AA, a logo that is
    missing or fetches anything."""
    raw = tomllib.loads(text)
    languages = _languages(raw.get("languages"))
    c = raw["controller"]
    controller = Controller(c["name"], c["address"], c["email"], c["privacy_url"])
    try:
        default_brand = brand.checked({"name": controller.name, **raw.get("brand", {})}, "brand")
    except brand.BrandError as exc:
        raise CatalogueError(str(exc)) from None
    purposes: dict[str, Purpose] = {}
    for pid, p in raw["purposes"].items():
        for key in ("label", "text"):
            missing = [lang for lang in languages if not (p.get(key) or {}).get(lang)]
            if missing:
                raise CatalogueError(f"purposes.{pid}.{key}.{missing[0]}: missing (every language needs it)")
        purposes[pid] = Purpose(pid, bool(p.get("soft_opt_in", False)), dict(p["label"]), dict(p["text"]))
    forms: dict[str, Form] = {}
    for fid, f in raw["forms"].items():
        forms[fid] = _form(fid, f, languages, purposes, default_brand)
    return Catalogue(controller, purposes, forms, languages, default_brand)


def _languages(raw: object) -> dict[str, str]:
    if not isinstance(raw, dict) or not raw:
        raise CatalogueError('languages: list each language as code = "its own name", the default first')
    for code, name in raw.items():
        if not _LANG_CODE.match(code) or not isinstance(name, str) or not name:
            raise CatalogueError(f"languages.{code}: needs a code like de and its own name, like Deutsch")
        if not (LOCALE_DIR / code / "LC_MESSAGES" / "consentry.mo").is_file():
            raise CatalogueError(f"languages.{code}: no gettext catalogue; run `make i18n` and translate it")
    return dict(raw)


def _form(
    fid: str, f: dict[str, Any], languages: dict[str, str], purposes: dict[str, Purpose], default: Brand
) -> Form:
    where = f"forms.{fid}"
    form_languages = tuple(f.get("languages", tuple(languages)))
    for lang in form_languages:
        if lang not in languages:
            raise CatalogueError(f"{where}.languages: {lang!r} is not in [languages]")
    default_lang = f.get("default_lang", form_languages[0])
    if default_lang not in form_languages:
        raise CatalogueError(f"{where}.default_lang: {default_lang!r} is not one of the form's languages")
    challenge = f.get("challenge") or None
    if challenge not in (None, *CHALLENGES):
        raise CatalogueError(f"{where}.challenge: must be one of {sorted(CHALLENGES)}")
    for pid in f["purposes"]:
        if pid not in purposes:
            raise CatalogueError(f"{where}.purposes: unknown purpose {pid!r}")
    wording: dict[str, dict[str, str]] = {lang: {} for lang in form_languages}
    for key in FORM_TEXTS:
        if key not in f:
            continue
        given = f[key]
        if not isinstance(given, dict):
            raise CatalogueError(f'{where}.{key}: give it per language ({key}.nl = "…")')
        for lang in form_languages:
            if not isinstance(given.get(lang), str) or not given[lang].strip():
                raise CatalogueError(f"{where}.{key}.{lang}: missing (the form speaks {lang})")
            wording[lang][key] = given[lang].strip()
    try:
        look = brand.checked(f["brand"], f"{where}.brand", default) if "brand" in f else None
    except brand.BrandError as exc:
        raise CatalogueError(str(exc)) from None
    return Form(
        id=fid,
        purposes=tuple(f["purposes"]),
        languages=form_languages,
        default_lang=default_lang,
        allowed_origins=tuple(f.get("allowed_origins", ())),
        frame_ancestors=tuple(f.get("frame_ancestors", ())),
        thank_you_url=f.get("thank_you_url") or None,
        min_fill_seconds=int(f.get("min_fill_seconds", 0)),
        challenge=challenge,
        challenge_site_key=f.get("challenge_site_key") or None,
        brand=look,
        wordings={lang: FormTexts(**texts) for lang, texts in wording.items()},
    )


# -- the stage's own embedding origins (issue 7) --------------------------------------------

EXTRA_ORIGINS = "CONSENTRY_EXTRA_ORIGINS"
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


def load() -> Catalogue:
    """The catalogue as this stage sees it: the file, parsed and checked once per process,
    with the stage's extra origins (read at call time: chalice local and the tests swap the
    stage's environment in around requests)."""
    return _with_stage_origins(os.environ.get(EXTRA_ORIGINS, ""))


def extra_origins(value: str) -> tuple[str, ...]:
    """``CONSENTRY_EXTRA_ORIGINS``: comma-separated origins this stage adds to each form's
    ``allowed_origins`` and ``frame_ancestors`` (where the form lists any).

    The catalogue is one file for every stage, but the sites that embed a form differ per
    stage: the local stack's demo host page (http://127.0.0.1:8080, or a test's free port)
    must not be listed for production. Exact origins only: no wildcard, no path.
    """
    origins = tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
    for origin in origins:
        if not _ORIGIN.match(origin):
            raise ValueError(f"{EXTRA_ORIGINS}: {origin!r} is not an origin like https://shop.example")
    return origins


@lru_cache(maxsize=4)
def _with_stage_origins(extra: str) -> Catalogue:
    parsed = _parsed()
    added = extra_origins(extra)
    if not added:
        return parsed
    forms = {
        fid: replace(
            form,
            allowed_origins=_merged(form.allowed_origins, added),
            frame_ancestors=_merged(form.frame_ancestors, added),
        )
        for fid, form in parsed.forms.items()
    }
    return replace(parsed, forms=forms)


def _merged(listed: tuple[str, ...], added: tuple[str, ...]) -> tuple[str, ...]:
    """The form's own list plus the stage's origins; a form that lists none (posted to or
    framed by nobody else) stays closed."""
    return tuple(dict.fromkeys((*listed, *added))) if listed else ()
