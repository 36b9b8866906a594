"""HTML pages: the Jinja2 environment, and responses with the headers every page needs.

Templates live in the project's ``templates/`` folder, which the deployment package
carries at its root (``vendor/templates`` links to it), beside ``chalicelib/``.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalice import Response

from chalicelib.catalogue import LANGUAGES
from chalicelib.i18n import N_, translations, translator

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@lru_cache(maxsize=len(LANGUAGES))
def environment(lang: str = "nl") -> Environment:
    """One environment per language (Dutch unless named: the forms' default), its gettext
    installed once: renders never swap translations under each other. Autoescaped; ``_()``
    marks translated text safe and escapes what is put into it (Jinja2's new-style gettext).
    Jinja2 is imported here, at the first page: the functions that render none (the mail
    queue's, SES feedback's, the stream handler's) never pay for it."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "xml"], default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    # {% trans %} blocks collapse their line breaks and indentation, as babel.cfg extracts them.
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


@lru_cache(maxsize=1)
def _stylesheet() -> tuple[str, str]:
    """The inline stylesheet and its CSP hash: one file, no extra request, no 'unsafe-inline'."""
    css = (TEMPLATES / "style.css").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    return css, f"'sha256-{digest}'"


def render(name: str, lang: str, **context: Any) -> str:
    css, _ = _stylesheet()
    return environment(lang).get_template(name).render(lang=lang, css=css, **context)


def security_headers(
    *,
    frame_ancestors: tuple[str, ...] = (),
    form_action: tuple[str, ...] = (),
    link_page: bool,
    challenge_host: str | None = None,
) -> dict[str, str]:
    """CSP that allows only our own inline style; token pages leak nothing onward.

    A form with a bot challenge also allows that one provider's script and frame."""
    _, style_hash = _stylesheet()
    ancestors = " ".join(frame_ancestors) if frame_ancestors else "'none'"
    actions = " ".join(("'self'", *form_action))
    challenge = (
        f"; script-src {challenge_host}; frame-src {challenge_host}; connect-src {challenge_host}"
        if challenge_host
        else ""
    )
    headers = {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": (
            f"default-src 'none'; style-src {style_hash}; img-src 'self'; base-uri 'none';"
            f" form-action {actions}; frame-ancestors {ancestors}{challenge}"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer" if link_page else "strict-origin-when-cross-origin",
    }
    if not frame_ancestors:
        headers["X-Frame-Options"] = "DENY"
    if link_page:
        headers["Cache-Control"] = "no-store"
    return headers


def page(
    name: str,
    lang: str,
    *,
    status: int = 200,
    link_page: bool = False,
    frame_ancestors: tuple[str, ...] = (),
    form_action: tuple[str, ...] = (),
    challenge_host: str | None = None,
    **context: Any,
) -> Response:
    return Response(
        body=render(name, lang, link_page=link_page, **context),
        status_code=status,
        headers=security_headers(
            frame_ancestors=frame_ancestors,
            form_action=form_action,
            link_page=link_page,
            challenge_host=challenge_host,
        ),
    )


def not_sent_page(
    lang: str,
    status: int,
    *,
    frame_ancestors: tuple[str, ...] = (),
    link_page: bool = False,
    embed: bool = False,
) -> Response:
    """A refused post (foreign origin, unreadable or oversized body) as a page a person reads."""
    from chalicelib.catalogue import load

    _ = translator(lang)
    texts = {
        403: _("This form may not be sent from the site you are on."),
        413: _("What you sent is too large."),
    }
    return page(
        "message.html",
        lang,
        status=status,
        link_page=link_page,
        frame_ancestors=frame_ancestors,
        controller=load().controller,
        title=_("Not sent"),
        paragraphs=[texts.get(status, _("What you sent could not be read. Please try again."))],
        embed=embed,
    )


def invalid_link_page() -> Response:
    """A tampered, foreign or unknown link: one page in both languages (a token we cannot
    read names no language), the English parts marked as such for screen readers."""
    from chalicelib.catalogue import load

    title = N_("Invalid link")
    text = N_("This link is not valid. Check that you used the whole link from the mail.")
    nl, en = translator("nl"), translator("en")
    return page(
        "message.html",
        "nl",
        status=400,
        link_page=True,
        controller=load().controller,
        title=nl(title),
        title_en=en(title),
        paragraphs=[nl(text), {"text": en(text), "lang": "en"}],
    )
