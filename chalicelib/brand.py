"""A form's look: its name, accent colour and logo, checked before any page shows them.

A marketer picks the colours; the catalogue refuses a colour a person cannot read. The
accent is the buttons' background (with ``button_text`` on it) and the colour of links,
on the white form and on the grey page around it, so each of those pairs must meet WCAG
2.x AA for text (4.5:1). The check runs when the catalogue loads: a bad colour stops the
service from starting, with the form and the field named, instead of shipping a page that
fails its visitors.

A logo is an SVG file in the package (``chalicelib/static/brand/``), served by the service
itself (``GET /brand/{file}``): no third-party request, and the pages' CSP keeps
``img-src 'self'``. It may not fetch anything or run anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

BRAND_DIR = Path(__file__).with_name("static") / "brand"
AA_TEXT = 4.5
WHITE = "#ffffff"
PAGE = "#f3f5f7"
"""The grey around the white form (style.css ``--page``): links in the header and footer."""
MAX_LOGO_BYTES = 32 * 1024
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_LOGO_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}\.svg$")
# What an SVG may not hold: scripts, event handlers, foreign content, and any reference
# that is not to a fragment of the file itself (a remote image, font or stylesheet).
_LOGO_FORBIDDEN = re.compile(
    r"<script|<foreignObject|\son\w+\s*=|@import|javascript:"
    r"|(?:href|src)\s*=\s*[\"'](?!#)|url\(\s*[\"']?(?!#)",
    re.IGNORECASE,
)


class BrandError(ValueError):
    """A brand setting that cannot be used; the message names the field."""


@dataclass(frozen=True)
class Brand:
    name: str
    accent: str
    button_text: str = WHITE
    logo: str | None = None
    """A file name in chalicelib/static/brand/, or None: the name is shown as text."""

    @property
    def accent_dark(self) -> str:
        """The hover colour: the accent a quarter darker (darker only adds contrast on white)."""
        return mix(self.accent, "#000000", 0.25)

    def css(self) -> str:
        """The brand's custom properties, appended to the pages' one hashed stylesheet."""
        return (
            f":root{{--accent:{self.accent};--accent-dark:{self.accent_dark};--on-accent:{self.button_text}}}"
        )


def checked(raw: dict[str, object], where: str, default: Brand | None = None) -> Brand:
    """A brand from its catalogue table (``where`` names it in errors), unset fields taken
    from ``default``; raises BrandError for a colour below AA or an unusable logo."""
    known = {"name", "accent", "button_text", "logo"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise BrandError(f"{where}.{unknown[0]}: not a brand setting (use {', '.join(sorted(known))})")
    fields: dict[str, str | None] = {}
    for key in known:
        value = raw.get(key, getattr(default, key) if default else None)
        if value is not None and not isinstance(value, str):
            raise BrandError(f"{where}.{key}: must be text")
        fields[key] = value or None
    if not fields["name"]:
        raise BrandError(f"{where}.name: a brand needs a name (the logo's text alternative)")
    accent = _colour(fields["accent"] or "#0b5cad", f"{where}.accent")
    button_text = _colour(fields["button_text"] or WHITE, f"{where}.button_text")
    for background, what in ((button_text, "the button text"), (WHITE, "the form"), (PAGE, "the page")):
        ratio = contrast(accent, background)
        if ratio < AA_TEXT:
            raise BrandError(
                f"{where}.accent: {accent} against {what} ({background}) has a contrast of"
                f" {ratio:.2f}:1; WCAG AA needs at least {AA_TEXT}:1 for text"
            )
    logo = fields["logo"]
    if logo is not None:
        _check_logo(logo, f"{where}.logo")
    return Brand(name=str(fields["name"]), accent=accent, button_text=button_text, logo=logo)


def _colour(value: str, where: str) -> str:
    if not _COLOUR.match(value):
        raise BrandError(f"{where}: {value!r} is not a colour like #0b5cad")
    return value.lower()


def _check_logo(name: str, where: str) -> None:
    if not _LOGO_NAME.match(name):
        raise BrandError(f"{where}: {name!r} must be the name of an .svg file in chalicelib/static/brand/")
    path = BRAND_DIR / name
    if not path.is_file():
        raise BrandError(f"{where}: {path} does not exist")
    data = path.read_bytes()
    if len(data) > MAX_LOGO_BYTES:
        raise BrandError(f"{where}: {name} is {len(data)} bytes; a logo may have at most {MAX_LOGO_BYTES}")
    text = data.decode("utf-8", errors="replace")
    if "<svg" not in text:
        raise BrandError(f"{where}: {name} is not an SVG image")
    found = _LOGO_FORBIDDEN.search(text)
    if found:
        raise BrandError(
            f"{where}: {name} holds {found.group(0)!r}; a logo may not run scripts or load anything"
        )


def logo_svg(name: str) -> str:
    """A checked logo's text (the route serves only names the catalogue lists)."""
    return (BRAND_DIR / name).read_text(encoding="utf-8")


# -- WCAG 2.x contrast ---------------------------------------------------------------------


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """Relative luminance (WCAG 2.x), for #rrggbb."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    """The contrast ratio of two colours, 1 to 21."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def mix(colour: str, other: str, share: float) -> str:
    """``colour`` with ``share`` of ``other`` mixed in, as #rrggbb."""
    parts = []
    for i in (1, 3, 5):
        a, b = int(colour[i : i + 2], 16), int(other[i : i + 2], 16)
        parts.append(round(a + (b - a) * share))
    return "#" + "".join(f"{p:02x}" for p in parts)
