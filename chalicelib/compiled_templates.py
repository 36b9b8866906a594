"""The pages' and mails' templates compiled when the package was built (issue 15's bytecode).

Apart from pages.py so that Jinja2, which this class is made of, is imported at the first
page or mail, not at ``import app``: the functions that render none (the SES feedback
handler, the stream handler) never pay for it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import CodeType

from jinja2 import BytecodeCache
from jinja2.bccache import Bucket


class CompiledTemplates(BytecodeCache):
    """Templates compiled when the package was built, one file per template.

    Read-only at run time (Lambda's code directory is): a file whose template source or
    Python version does not match is ignored by Jinja2 and the template compiled as usual.
    Keyed by the template's name alone, not its path, which differs between the build and
    Lambda; loaded code is told where its template is now, for tracebacks. ``write=True``
    is for the build (scripts/package.py)."""

    def __init__(self, directory: Path, *, write: bool = False) -> None:
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
