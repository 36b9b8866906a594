"""The ledger's domain errors: what a caller may be told, never a botocore error.

One base, ``LedgerError``. ``LedgerUnavailable`` and its kinds are faults that pass:
nothing was written, and the same request may simply be sent again (the views answer 503
with Retry-After). Every other error is an answer the caller owes its user.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class LedgerError(Exception):
    """Base of the ledger's domain errors; callers never see botocore errors."""


class SignupGone(LedgerError):
    """The signup is unknown, expired or erased."""


class AlreadyConfirmed(LedgerError):
    """The signup was confirmed before: nothing new to record."""


class PersonGone(LedgerError):
    """Nobody is on file under this subject (never was, expired or erased)."""


class RateLimited(LedgerError):
    """A rate counter is at its cap; ``counter`` names which one. Nothing was written."""

    def __init__(self, counter: str) -> None:
        super().__init__(counter)
        self.counter = counter


class Suppressed(LedgerError):
    """A suppression marker holds the subject: no import or soft opt-in may grant it."""

    def __init__(self, reason: str | None) -> None:
        super().__init__(reason or "suppressed")
        self.reason = reason


class PurposeWithdrawn(LedgerError):
    """The person withdrew this purpose: only their own fresh consent grants it again."""

    def __init__(self, purpose: str) -> None:
        super().__init__(purpose)
        self.purpose = purpose


class AlreadyAsked(LedgerError):
    """An earlier import already sent this address its one confirmation mail."""


class Busy(LedgerError):
    """Another delivery of the same mail job holds its claim: this one sends nothing, and
    the queue delivers the job again after the claim's lease (in case its holder died)."""


class LedgerUnavailable(LedgerError):
    """The ledger could not finish: nothing was written; the same request may be sent again."""


class LedgerConflict(LedgerUnavailable):
    """The person's state kept changing under a write, past the single retry policy
    (table.py); the caller may retry later.

    ``lang``: the person's language, as last read, for the answer that says so."""

    def __init__(self, subject: str | None = None, lang: str | None = None) -> None:
        super().__init__(subject or "conflict")
        self.subject = subject
        self.lang = lang


class Refused(LedgerUnavailable):
    """A write was cancelled by DynamoDB for a reason other than a conflict: ``codes``
    holds the reason of each operation that failed, by its label (table.py). The
    capabilities turn the refusals they expect into the errors above; one that escapes
    them is a fault that passes."""

    CONDITION = "ConditionalCheckFailed"

    def __init__(self, codes: Mapping[str, str], item: dict[str, Any] | None = None) -> None:
        super().__init__(", ".join(f"{label}: {code}" for label, code in codes.items()))
        self.codes = dict(codes)
        self.item = item
        """The item as it was, where the write asked for it (``Table.write(old=True)``)."""

    @property
    def failed(self) -> frozenset[str]:
        """The labels whose condition did not hold."""
        return frozenset(label for label, code in self.codes.items() if code == self.CONDITION)

    def failed_any(self, *prefixes: str) -> str | None:
        """The first failed label (in the transaction's order) starting with one of
        ``prefixes``; None when none did."""
        return next(
            (
                label
                for label, code in self.codes.items()
                if code == self.CONDITION and label.startswith(prefixes)
            ),
            None,
        )
