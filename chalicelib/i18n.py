"""The languages of pages and mails, through gettext, and choosing between them.

The words live in gettext catalogues, ``locale/<lang>/LC_MESSAGES/consentry.po``, whose
message ids are the English source text (the usual gettext way: templates and code read
as the page does, and Babel extracts them). ``make i18n`` extracts, updates the
catalogues and compiles the ``.mo`` files that ship in the package; at run time only the
standard library's ``gettext`` reads them (Babel is a build tool, not a dependency).

Which languages exist is data: the catalogue's ``[languages]`` (catalogue.toml), each with
its ``.po`` file here. A missing translation would fall back to the English id:
tests/test_i18n.py fails the build when any id lacks a translation or a rendered page
shows a text its language does not cover.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Callable
from functools import lru_cache

from chalicelib import catalogue
from chalicelib.catalogue import LOCALE_DIR

DOMAIN = "consentry"


def language_name(lang: str) -> str:
    """A language by its own name: what a language switch shows, whatever the page's language."""
    return catalogue.load().languages[lang]


@lru_cache(maxsize=16)
def translations(lang: str) -> _gettext.GNUTranslations:
    """The compiled catalogue of one offered language, read once per process.

    A missing catalogue raises (FileNotFoundError): that is a packaging fault, never a
    reason to show a page in the wrong language.
    """
    if lang not in catalogue.load().languages:
        raise LookupError(f"no catalogue for language {lang!r}")
    found = _gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang])
    assert isinstance(found, _gettext.GNUTranslations)
    return found


def translator(lang: str) -> Callable[[str], str]:
    """``gettext`` for one language: ``_ = translator(lang)``, then ``_("English text")``."""
    return translations(lang).gettext


def ntranslator(lang: str) -> Callable[[str, str, int], str]:
    """``ngettext`` for one language (its .po file's header says how its plurals go)."""
    return translations(lang).ngettext


def N_(message: str) -> str:
    """Marks a text for extraction (Babel's default keywords include ``N_``) where it is
    translated later, into the language of the moment."""
    return message


# -- field errors, as a person reads them --------------------------------------------------
# The JSON answers keep the technical reason per field (for the sending system and for
# developers); pages and the embed script show these instead, in the page's language.

_EMAIL_REQUIRED = N_("Enter your email address.")
_EMAIL_TOO_LONG = N_("An email address may have at most 254 characters.")
_EMAIL_ONE_LINE = N_("Enter one email address, without line breaks.")
_EMAIL_INVALID = N_("Enter a valid email address, such as name@example.com.")
_EMAIL_NOT_ASCII = N_(
    "We cannot send mail to an address with accented or other special letters before the @."
    " Please use another address."
)
_NAME = N_("A name may have at most 100 characters, without line breaks, < or >.")
_NAME_LINK = N_("A name may not contain a web address, a domain name or an email address.")
_PURPOSES_NONE = N_("Tick at least one purpose.")
_PURPOSES_UNKNOWN = N_("Choose only from the purposes shown.")
_TYPE = N_("Choose what you would like: a copy of your data or its erasure.")
_INVALID = N_("This field is not valid.")
_CHALLENGE = N_("Complete the check against spam, then send the form again.")
_VERSION = N_("This form has changed since it was shown to you. Please read it again and send it.")
_STALE = N_("This form was open for more than a day. Please check it and send it again.")


def field_message(field: str, reason: str, lang: str) -> str:
    """The message a person reads for one field's technical reason, in their language."""
    if field == "email":
        if reason == "is required":
            message = _EMAIL_REQUIRED
        elif reason.startswith("may be at most"):
            message = _EMAIL_TOO_LONG
        elif "line breaks" in reason:
            message = _EMAIL_ONE_LINE
        elif "ASCII characters before the @" in reason:
            message = _EMAIL_NOT_ASCII
        else:
            message = _EMAIL_INVALID
    elif field == "name":
        message = _NAME_LINK if "web address" in reason else _NAME
    elif field == "purposes":
        message = _PURPOSES_UNKNOWN if reason.startswith("unknown purpose") else _PURPOSES_NONE
    elif field == "challenge":
        message = _CHALLENGE
    elif field == "version":
        message = _VERSION
    elif field == "rendered":
        message = _STALE
    elif field == "type":
        message = _TYPE
    else:
        message = _INVALID
    return translator(lang)(message)


def field_messages(errors: dict[str, str], lang: str) -> dict[str, str]:
    return {field: field_message(field, reason, lang) for field, reason in errors.items()}


def choose_language(
    requested: str | None, accept_language: str | None, offered: tuple[str, ...], default: str
) -> str:
    """?lang= first, then the browser's Accept-Language order, then the form's default."""
    if requested is not None and requested in offered:
        return requested
    ranked: list[tuple[float, str]] = []
    for index, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, f"{index:02d}{tag.strip().lower().split('-')[0]}"))
    for _, key in sorted(ranked):
        lang = key[2:]
        if lang in offered:
            return lang
    return default
