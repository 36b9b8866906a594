"""The consent ledger: the only package that talks to DynamoDB.

Every change of a person's standing is an append-only event written in the same
transaction as the state it causes, so state and evidence never disagree. The items and
their keys: layout.py. The one table and transaction builder: table.py. One module per
capability: signups (sign up, confirm), choices (saying no), proof (soft opt-ins and
imports), rights (requests, export, erasure), audience; people (reads), counters (rate
caps) and claims (a mail job's lease on what it mails) under them. Importing the ledger
imports no boto3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.ledger import table as _table
from chalicelib.ledger.audience import Audience
from chalicelib.ledger.choices import Choices
from chalicelib.ledger.errors import (
    AlreadyAsked,
    AlreadyConfirmed,
    Busy,
    LedgerConflict,
    LedgerError,
    LedgerUnavailable,
    PersonGone,
    PurposeWithdrawn,
    RateLimited,
    Refused,
    SignupGone,
    Suppressed,
)
from chalicelib.ledger.layout import iso, new_id, utc_now
from chalicelib.ledger.proof import Proof
from chalicelib.ledger.records import (
    AudienceMember,
    Evidence,
    PendingMail,
    Person,
    RateCap,
    RequestMail,
    SaidNo,
    Signup,
    SignupNow,
    Standing,
)
from chalicelib.ledger.rights import JOURNAL_SECONDS, Rights
from chalicelib.ledger.signups import clear_cache
from chalicelib.ledger.table import Table, use
from chalicelib.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class Ledger(Proof, Choices, Rights, Audience):
    """Reads and writes a stage's table: every capability over one Table. Receives its
    client; builds nothing itself."""

    def __init__(self, client: DynamoDBClient, table: str, erasure_journal: str | None = None) -> None:
        super().__init__(Table(client, table), Table(client, erasure_journal) if erasure_journal else None)


def client() -> DynamoDBClient:
    """The DynamoDB client the stage's ledger uses (made on first use; see ``use``)."""
    return _table.client(get_settings().region)


def get_ledger() -> Ledger:
    """The ledger for the current stage; the client is built on first use and reused."""
    settings = get_settings()
    return Ledger(client(), settings.table_name, settings.erasure_journal)


__all__ = [
    "JOURNAL_SECONDS",
    "AlreadyAsked",
    "AlreadyConfirmed",
    "AudienceMember",
    "Busy",
    "Evidence",
    "Ledger",
    "LedgerConflict",
    "LedgerError",
    "LedgerUnavailable",
    "PendingMail",
    "Person",
    "PersonGone",
    "PurposeWithdrawn",
    "RateCap",
    "RateLimited",
    "Refused",
    "RequestMail",
    "SaidNo",
    "Signup",
    "SignupGone",
    "SignupNow",
    "Standing",
    "Suppressed",
    "Table",
    "clear_cache",
    "client",
    "get_ledger",
    "iso",
    "new_id",
    "use",
    "utc_now",
]
