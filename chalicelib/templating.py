"""The Jinja2 environment every page and mail is rendered with, and the templates compiled
into the package.

Templates live in the project's ``templates/`` folder, which the deployment package
carries at its root (``vendor/templates`` links to it), beside ``chalicelib/``. The package
also carries them compiled (``templates/__compiled__/``, made by scripts/package.py), so a
cold start does not parse and compile Jinja2 templates; anywhere else they compile as usual.
Imported only when something is rendered (chalicelib/pages.py).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from types import CodeType

from jinja2 import BytecodeCache, Environment, FileSystemLoader, select_autoescape
from jinja2.bccache import Bucket

from chalicelib.i18n import translations
from chalicelib.pages import TEMPLATES

COMPILED = TEMPLATES / "__compiled__"


class CompiledTemplates(BytecodeCache):
    """Templates compiled when the package was built, one file per template.

    Read-only at run time (Lambda's code directory is): a file whose template source or
    Python version does not match is ignored by Jinja2 and the template compiled as usual.
    Keyed by the template's name alone, not its path, which differs between the build and
    Lambda; loaded code is told where its template is now, for tracebacks. ``write=True``
    is for the build (scripts/package.py)."""

    def __init__(self, directory: Path = COMPILED, *, write: bool = False) -> None:
        self.directory = directory
        self.write = write
        self._files: dict[str, str] = {}

    def get_cache_key(self, name: str, filename: str | None = None) -> str:
        key = hashlib.sha1(name.encode()).hexdigest()  # noqa: S324 - a file name, not security
        if filename:
            self._files[key] = filename
        return key

    def load_bytecode(self, bucket: Bucket) -> None:
        path = self.directory / f"{bucket.key}.cache"
        if not path.is_file():
            return
        with path.open("rb") as f:
            bucket.load_bytecode(f)
        if bucket.code is not None and bucket.key in self._files:
            bucket.code = _moved(bucket.code, self._files[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        if self.write:
            self.directory.mkdir(parents=True, exist_ok=True)
            with (self.directory / f"{bucket.key}.cache").open("wb") as f:
                bucket.write_bytecode(f)


def _moved(code: CodeType, filename: str) -> CodeType:
    """``code`` and the code objects in it, as if compiled from ``filename``."""
    consts = tuple(_moved(c, filename) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


@lru_cache(maxsize=16)
def environment(lang: str = "nl") -> Environment:
    """One environment per language (Dutch unless named: the forms' default), its gettext
    installed once: renders never swap translations under each other. Autoescaped; ``_()``
    marks translated text safe and escapes what is put into it (Jinja2's new-style gettext)."""
    return new_environment(lang, CompiledTemplates())


def new_environment(lang: str, compiled: BytecodeCache | None) -> Environment:
    """The environment as every page and mail is rendered with (the build compiles with it too)."""
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
