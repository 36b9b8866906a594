"""Record the versions of the texts the forms show (`make texts`).

    python scripts/texts.py          add every version the catalogue shows now (each form,
                                     each of its languages) to chalicelib/texts_shown.json
    python scripts/texts.py --check  change nothing; exit 1 when one is missing

A version, once shown, can come back in a post long after the catalogue changed (a page
left open, a customer's plain HTML form): the service must still know its texts, so the
file only ever grows. Run this after changing a consent text or a form's purposes, before
the change ships; tests/test_versions.py fails while a current version is not recorded.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib import catalogue, versions  # noqa: E402

ABOUT = (
    "Every version of a form's consent texts the service has shown, by version: written by"
    " `make texts` (scripts/texts.py), never edited by hand, never shortened. A post naming"
    " one of these records its texts; see chalicelib/versions.py."
)


def missing() -> dict[str, dict[str, object]]:
    """The catalogue's current versions that the history does not hold yet."""
    cat = catalogue._parsed()  # the file as it ships, without a stage's origins
    recorded = versions.read_history()["versions"]
    found = {}
    for form in cat.forms.values():
        for lang in form.languages:
            shown = versions.current(cat, form, lang)
            if shown.version not in recorded:
                found[shown.version] = versions.entry(shown)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when out of date")
    args = parser.parse_args()
    new = missing()
    if args.check:
        for version, entry in new.items():
            where = f"{entry['form']}, {entry['lang']}"
            print(f"not recorded: {version} ({where}): run `make texts`", file=sys.stderr)
        return 1 if new else 0
    if new:
        history = versions.read_history()
        history = {"about": ABOUT, "versions": {**history["versions"], **new}}
        text = json.dumps(history, ensure_ascii=False, indent=2) + "\n"
        versions.HISTORY_FILE.write_text(text, encoding="utf-8")
        print(f"recorded {len(new)} version(s) in {versions.HISTORY_FILE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
