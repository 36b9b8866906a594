"""What a flow refuses, and why: raised by the flows, answered by views/answers.py.

Flows return their result or raise; they never pick a status code. These are the refusals
that belong to no one module (the ledger, the tokens, the request reader and the bot
check have their own errors, answered in the same place).
"""

from __future__ import annotations

from typing import Any, Literal


class Invalid(ValueError):
    """Input that cannot be accepted: the reason per field (422). ``values`` keeps what
    was typed, for a form shown again; ``lang`` is the language its texts were read in."""

    def __init__(
        self, errors: dict[str, str], values: dict[str, Any] | None = None, lang: str | None = None
    ) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
        self.values = values or {}
        self.lang = lang


class Throttled(Exception):
    """Too many posts from one network (429): it says nothing about any address. ``lang``:
    the language of the texts the visitor read, where a flow knows it."""

    def __init__(self, what: Literal["signups", "requests"], lang: str | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.lang = lang


class NotFound(LookupError):
    """Nothing of that name: ``what`` says what ("contact", "purpose", "form")."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what
