"""Forms, purposes and consent texts, loaded from the packaged catalogue file.

The catalogue is a file in the deployment package, so serving a form costs no AWS call.
Each consent text is identified by a hash of its exact wording: the ledger stores the
text once under that hash and every consent event points at it.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

CATALOGUE_FILE = Path(__file__).with_name("catalogue.toml")
# Another catalogue file, for the local stack only (never set on AWS): a restart with a
# changed catalogue shows that the texts people agreed to stay provable.
CATALOGUE_ENV = "CONSENTRY_CATALOGUE"
LANGUAGES = ("nl", "en")
# The bot challenges a form may use: where their widget comes from (the form page's CSP
# allows that host, for that form only) and where the answer is verified.
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


@dataclass(frozen=True)
class Catalogue:
    controller: Controller
    purposes: dict[str, Purpose]
    forms: dict[str, Form]

    def form(self, form_id: str) -> Form | None:
        return self.forms.get(form_id)

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
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    c = raw["controller"]
    controller = Controller(c["name"], c["address"], c["email"], c["privacy_url"])
    purposes = {
        pid: Purpose(pid, bool(p.get("soft_opt_in", False)), dict(p["label"]), dict(p["text"]))
        for pid, p in raw["purposes"].items()
    }
    forms: dict[str, Form] = {}
    for fid, f in raw["forms"].items():
        form = Form(
            id=fid,
            purposes=tuple(f["purposes"]),
            languages=tuple(f.get("languages", LANGUAGES)),
            default_lang=f.get("default_lang", "nl"),
            allowed_origins=tuple(f.get("allowed_origins", ())),
            frame_ancestors=tuple(f.get("frame_ancestors", ())),
            thank_you_url=f.get("thank_you_url") or None,
            min_fill_seconds=int(f.get("min_fill_seconds", 0)),
            challenge=f.get("challenge") or None,
            challenge_site_key=f.get("challenge_site_key") or None,
        )
        if form.challenge not in (None, *CHALLENGES):
            raise ValueError(f"form {fid!r}: challenge must be one of {sorted(CHALLENGES)}")
        for pid in form.purposes:
            purpose = purposes.get(pid)
            if purpose is None:
                raise ValueError(f"form {fid!r} offers unknown purpose {pid!r}")
            missing = [lang for lang in form.languages if lang not in purpose.texts]
            if missing:
                raise ValueError(f"purpose {pid!r} has no text in {missing}")
        forms[fid] = form
    return Catalogue(controller, purposes, forms)


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
