"""HTML pages: the Jinja2 environment, and responses with the headers every page needs.

Templates live in the project's ``templates/`` folder, which the deployment package
carries at its root (``vendor/templates`` links to it), beside ``chalicelib/``. The package
also carries them compiled (``templates/__compiled__/``, made by scripts/package.py), so a
cold start does not parse and compile Jinja2 templates (chalicelib/compiled_templates.py);
anywhere else they compile as usual.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalice import Response

from chalicelib import catalogue
from chalicelib.brand import Brand
from chalicelib.i18n import translations
from chalicelib.web import Headers

if TYPE_CHECKING:
    from jinja2 import BytecodeCache, Environment

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
COMPILED = TEMPLATES / "__compiled__"


@lru_cache(maxsize=16)
def environment(lang: str = "nl") -> Environment:
    """One environment per language (Dutch unless named: the forms' default), its gettext
    installed once: renders never swap translations under each other. Autoescaped; ``_()``
    marks translated text safe and escapes what is put into it (Jinja2's new-style gettext).
    Jinja2 is imported here, at the first page or mail, not at ``import app``."""
    from chalicelib.compiled_templates import CompiledTemplates

    return new_environment(lang, CompiledTemplates(COMPILED))


def new_environment(lang: str, compiled: BytecodeCache | None) -> Environment:
    """The environment as every page and mail is rendered with (the build compiles with it too)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "xml"], default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
        bytecode_cache=compiled,
    )
    # {% trans %} blocks collapse their line breaks and indentation, as babel.cfg extracts them.
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@lru_cache(maxsize=8)
def _stylesheet(look: Brand | None = None) -> tuple[str, str]:
    """The inline stylesheet (with the brand's colours) and its CSP hash: no extra request,
    no 'unsafe-inline'; one hash per brand."""
    css = (TEMPLATES / "style.css").read_text(encoding="utf-8").rstrip("\n")
    if look is not None:
        css += "\n" + look.css()
    return css, _hash(css)


@lru_cache(maxsize=1)
def _frame_script() -> tuple[str, str]:
    """The framed page's one inline script (it tells the host page its height) and its hash:
    the CSP allows exactly this text and nothing else."""
    script = (TEMPLATES / "frame.js").read_text(encoding="utf-8").rstrip("\n")
    return script, _hash(script)


def _brand(look: Brand | None) -> Brand:
    return look if look is not None else catalogue.load().brand_of(None)


def render(name: str, lang: str, *, brand: Brand | None = None, **context: Any) -> str:
    look = _brand(brand)
    css, _ = _stylesheet(look)
    framed = bool(context.get("embed") and context.get("frame_ancestors"))
    # Links between pages are relative (the stage may sit under a path): "../" from
    # /forms/{id}, /confirm/{token} and the like; "" from /requests itself.
    context.setdefault("root", "../")
    context.setdefault("controller", catalogue.load().controller)  # every page names it
    return (
        environment(lang)
        .get_template(name)
        .render(
            lang=lang,
            css=css,
            brand=look,
            frame_script=_frame_script()[0] if framed else None,
            **context,
        )
    )


def security_headers(
    *,
    frame_ancestors: tuple[str, ...] = (),
    form_action: tuple[str, ...] = (),
    link_page: bool,
    challenge_host: str | None = None,
    brand: Brand | None = None,
    framed: bool = False,
) -> Headers:
    """CSP that allows only our own inline style; token pages leak nothing onward.

    A form with a bot challenge also allows that one provider's script and frame; a framed
    form page (``framed``) its own hashed script that tells the host page its height."""
    _, style_hash = _stylesheet(_brand(brand))
    ancestors = " ".join(frame_ancestors) if frame_ancestors else "'none'"
    actions = " ".join(("'self'", *form_action))
    scripts = [*([challenge_host] if challenge_host else []), *([_frame_script()[1]] if framed else [])]
    policy = f"; script-src {' '.join(scripts)}" if scripts else ""
    if challenge_host:
        policy += f"; frame-src {challenge_host}; connect-src {challenge_host}"
    headers: Headers = {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": (
            f"default-src 'none'; style-src {style_hash}; img-src 'self'; base-uri 'none';"
            f" form-action {actions}; frame-ancestors {ancestors}{policy}"
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
    brand: Brand | None = None,
    **context: Any,
) -> Response:
    """A page in ``lang`` in ``brand``'s look (the catalogue's own unless a form's)."""
    framed = bool(context.get("embed") and frame_ancestors)
    return Response(
        body=render(name, lang, brand=brand, link_page=link_page, frame_ancestors=frame_ancestors, **context),
        status_code=status,
        headers=security_headers(
            frame_ancestors=frame_ancestors,
            form_action=form_action,
            link_page=link_page,
            challenge_host=challenge_host,
            brand=brand,
            framed=framed,
        ),
    )
