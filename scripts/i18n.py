"""Build the gettext catalogues with Babel: extract, update, compile (`make i18n`).

    python scripts/i18n.py          extract the English ids from chalicelib/ and templates/
                                    (babel.cfg), merge them into the .po of each language the
                                    catalogue lists (a new one is created), fill the English
                                    .po with its ids, compile every .po to its .mo
    python scripts/i18n.py --check  change nothing; exit 1 when a .po or .mo is out of date or
                                    a translation is missing

Babel runs here and in the tests only; the Lambda reads the compiled .mo files with the
standard library's gettext (chalicelib/i18n.py). Output is deterministic (no line numbers,
the catalogues' own dates kept), so an unchanged text leaves the files unchanged.
"""

from __future__ import annotations

import argparse
import io
import sys
import tomllib
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "chalicelib" / "locale"
CATALOGUE = ROOT / "chalicelib" / "catalogue.toml"
DOMAIN = "consentry"
SOURCE_LANGUAGE = "en"


def languages() -> tuple[str, ...]:
    """The languages the catalogue lists (``[languages]`` in catalogue.toml): a new line
    there gets its .po file here on the next run, ready to translate. Read from the file
    itself: the app's loader refuses a language whose catalogue does not exist yet."""
    return tuple(tomllib.loads(CATALOGUE.read_text(encoding="utf-8"))["languages"])


HEADER = """\
# {language} texts of Consentry's pages and mails.
# The ids are the English source text. Written by `make i18n` (scripts/i18n.py): edit the
# translations here, then run `make i18n` again to compile the .mo files that ship."""


def po_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"


def extract() -> Catalog:
    """Every translatable text in the code and templates, as a template catalogue."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    template = Catalog(project="Consentry", msgid_bugs_address="privacy@consentry.example")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT),
        method_map,
        options_map,
        keywords=DEFAULT_KEYWORDS,
        comment_tags=("TRANSLATORS:",),
        strip_comment_tags=True,
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def read(lang: str) -> Catalog | None:
    path = po_path(lang)
    if not path.exists():
        return None
    with path.open("rb") as f:
        return read_po(f, locale=lang, domain=DOMAIN)


def updated(lang: str, template: Catalog) -> Catalog:
    """The language's catalogue with the template's ids; the English one translated to itself."""
    catalog = read(lang) or Catalog(locale=lang, domain=DOMAIN, project="Consentry")
    created = catalog.creation_date
    catalog.update(template, update_header_comment=False)
    catalog.creation_date = created
    catalog.obsolete.clear()  # a text no longer used is history, not a translation to keep
    catalog.fuzzy = False
    catalog.project, catalog.version = "Consentry", "1"
    catalog.copyright_holder = catalog.last_translator = catalog.language_team = "Consentry maintainers"
    catalog.msgid_bugs_address = "privacy@consentry.example"
    catalog.header_comment = HEADER.format(language=Locale.parse(lang).english_name)
    if lang == SOURCE_LANGUAGE:
        # English is the source: an id is its own translation unless someone edited the
        # wording here; a fuzzy guess from a similar id is never kept.
        for message in catalog:
            if message.id and (message.fuzzy or not _translated(message.string)):
                message.string = message.id
                message.flags.discard("fuzzy")
    return catalog


def _translated(string: str | tuple[str, ...] | None) -> bool:
    if isinstance(string, tuple | list):
        return all(string)
    return bool(string)


def missing(catalog: Catalog) -> list[str]:
    """Ids without a usable translation: empty, or fuzzy (gettext ignores fuzzy entries)."""
    return [str(m.id) for m in catalog if m.id and (not _translated(m.string) or m.fuzzy)]


def po_bytes(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    # Sorted by id, without line numbers: moving code does not rewrite the catalogues.
    write_po(out, catalog, width=100, include_lineno=False, ignore_obsolete=True, sort_output=True)
    return out.getvalue()


def mo_bytes(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when out of date")
    args = parser.parse_args()
    template = extract()
    stale: list[str] = []
    untranslated: dict[str, list[str]] = {}
    for lang in languages():
        catalog = updated(lang, template)
        po, mo = po_bytes(catalog), mo_bytes(catalog)
        gaps = missing(catalog)
        if gaps:
            untranslated[lang] = gaps
        for path, content in ((po_path(lang), po), (mo_path(lang), mo)):
            if path.exists() and path.read_bytes() == content:
                continue
            stale.append(str(path.relative_to(ROOT)))
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
    for lang, gaps in untranslated.items():
        print(
            f"{lang}: {len(gaps)} text(s) without a translation (empty, or fuzzy: a guess from a"
            f" similar text to check, then delete its '#, fuzzy' line):",
            file=sys.stderr,
        )
        for gap in gaps:
            print(f"  {gap!r}", file=sys.stderr)
    if args.check and stale:
        print("out of date (run `make i18n`): " + ", ".join(stale), file=sys.stderr)
    elif stale:
        print("written: " + ", ".join(stale))
    return 1 if untranslated or (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
