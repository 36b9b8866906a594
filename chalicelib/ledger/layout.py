"""THE table of item kinds: every item the ledger writes, its keys and how values are coded.

README, docs and the record of processing (processing.py, checked against ``KINDS`` by a
test) point here instead of copying it. A person is keyed by a *subject id*, a keyed HMAC
of the normalised address, so keys leak nothing and survive erasure as the suppression
marker. Every key is built by a function below, and nowhere else.

A pending-only person's profile and events carry ``expires_at`` and vanish after the
retention period; confirming removes it. A signup by someone already retained sets
``expires_at`` from ``retained_since`` (a string): DynamoDB's TTL ignores non-numeric
values, so one unconditional write keeps the single-transaction budget and never
schedules a retained person for deletion. Reads treat an item past its expiry as gone
(``expired``): TTL deletes lazily.

Values are coded as DynamoDB's attribute values by ``encode``/``decode`` here, the way
boto3's TypeSerializer does for the types the ledger stores (numbers come back as
Decimal), so importing the ledger imports no boto3.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

    Encoded = dict[str, AttributeValueTypeDef]
    """An item, a key or expression values as DynamoDB's wire format has them."""

Key = dict[str, str]
"""An item's key as plain strings: ``{"pk": ..., "sk": ...}``."""


@dataclass(frozen=True)
class Kind:
    """One kind of item: its key patterns, and what it holds and how long."""

    name: str
    pk: str
    sk: str
    holds: str

    @property
    def prefixes(self) -> tuple[str, str]:
        """The literal start of its pk and sk (before the first placeholder)."""
        return self.pk.split("<", 1)[0], self.sk.split("<", 1)[0]


TABLE = """
profile            | S#<subject>        | PROFILE
    address; name and language as last confirmed; created_at, retained_since. expires_at
    (TTL) while the person is only pending; a retained person is kept until erased. The head
    of the person's hash chain (chain_head, chain_seq, chain_ttl, chain_run: chain.py) and
    chain_period, the sparse chain index's key (the hour it last changed)
pending signup     | S#<subject>        | PENDING#<signup>
    an unconfirmed signup: purposes, the text versions read (purpose -> version), form,
    address, name, language, requested_at, the key suffix of its one signup_requested event
    (event), mail_sent_at and SES's message_id once mailed (and a claim lease while its mail
    job runs); TTL, or deleted by its confirmation
purpose state      | S#<subject>        | P#<purpose>
    granted or withdrawn, basis, since, the signup that granted it; while granted, the sparse
    audience index's keys aud_pk = A#<purpose>, aud_sk = <subject>
profiling flag     | S#<subject>        | PROFILING
    objected or allowed, since
event              | S#<subject>        | E#<utc>#<id>#<suffix>
    one event with its evidence: type, at, purposes (a signup's and a confirmation's one event
    names them all, each text by its version) or purpose, basis, signup; its place in the
    person's hash chain: seq, prev, hash (chain.py); an unconfirmed signup's expire with it
request            | S#<subject>        | REQUEST#<type>
    an open access or erasure request: id, requested_at, mail_sent_at (and a claim lease while
    its mail job runs); TTL: the link's life
import guard       | S#<subject>        | IMPORT
    that an import without proof asked the address to confirm (TTL)
suppression marker | SUPPRESS#<subject> | SUPPRESS
    reason and date; no address. It outlives erasure; after one, the erased chain's last hash
    and seq
erasure record     | SUPPRESS#<subject> | E#<utc>#erased
    that an erasure was done: when, through which channel, how many items, the chain's last
    hash (TTL)
signed digest      | DIGEST             | D#<utc>
    the Merkle root of the chain heads changed since the digest before, its prev, count, KMS
    key id and signature (digests.py); its leaves in D#<utc>#L<n>, 1,000 an item: subject id,
    seq, hash and expiry of each head signed. No address; kept for good
consent text       | TEXT#<version>     | TEXT
    the exact consent text of a form, its purpose, language, form, first_shown; written once,
    never overwritten (an imported row's own text stays in its events)
rate counter       | RATE#<name>#<key>  | RATE
    the mail cap (per mailbox; per subject for a job without its mailbox): the times t1..tN of
    the last N mails; per network and hour
    (RATE#<name>#<key>#<window>): a count n. TTL: the window and CONSENTRY_RATE_COUNTER_HOURS
"""
"""Every kind of item, read by ``KINDS``: a row ``name | pk | sk``, then what it holds."""


def _kinds(table: str) -> tuple[Kind, ...]:
    kinds: list[Kind] = []
    for line in table.strip("\n").splitlines():
        if line.startswith(" "):
            kinds[-1] = replace(kinds[-1], holds=f"{kinds[-1].holds} {line.strip()}".strip())
        else:
            name, pk, sk = (part.strip() for part in line.split("|"))
            kinds.append(Kind(name, pk, sk, ""))
    return tuple(kinds)


KINDS = _kinds(TABLE)


def kind_of(pk: str, sk: str) -> Kind | None:
    """The kind an item of the table is, by its key."""
    for kind in KINDS:
        pk_prefix, sk_prefix = kind.prefixes
        if pk.startswith(pk_prefix) and (sk == sk_prefix if "<" not in kind.sk else sk.startswith(sk_prefix)):
            return kind
    return None


# -- keys ------------------------------------------------------------------------------


def person(subject: str) -> str:
    """The partition of everything about one person (erasure deletes all of it)."""
    return f"S#{subject}"


def subject_of(pk: str) -> str:
    """The subject id a person's (or a marker's) partition key names."""
    return pk.split("#", 1)[1]


def profile(subject: str) -> Key:
    return {"pk": person(subject), "sk": "PROFILE"}


def pending(subject: str, signup_id: str) -> Key:
    return {"pk": person(subject), "sk": f"PENDING#{signup_id}"}


def state(subject: str, purpose: str) -> Key:
    return {"pk": person(subject), "sk": f"P#{purpose}"}


STATE_PREFIX = "P#"
PENDING_PREFIX = "PENDING#"
EVENT_PREFIX = "E#"


def profiling(subject: str) -> Key:
    return {"pk": person(subject), "sk": "PROFILING"}


def event(subject: str, at: str, change: str, suffix: str) -> Key:
    """Events sort by time; ``change`` (a signup's or a change's id) and ``suffix`` keep
    the events of one change apart and let a repeat of it find its own event."""
    return {"pk": person(subject), "sk": f"E#{at}#{change}#{suffix}"}


def request(subject: str, kind: str) -> Key:
    return {"pk": person(subject), "sk": f"REQUEST#{kind}"}


def import_guard(subject: str) -> Key:
    return {"pk": person(subject), "sk": "IMPORT"}


def suppression(subject: str) -> Key:
    """Suppression markers live outside the person's partition so erasure leaves them."""
    return {"pk": f"SUPPRESS#{subject}", "sk": "SUPPRESS"}


def erasure_record(subject: str, at: str) -> Key:
    return {"pk": f"SUPPRESS#{subject}", "sk": f"E#{at}#erased"}


def digest(at: str) -> Key:
    """A signed digest (digests.py); its leaves sort right after it."""
    return {"pk": "DIGEST", "sk": f"D#{at}"}


def text(version: str) -> Key:
    return {"pk": f"TEXT#{version}", "sk": "TEXT"}


def version_of(pk: str) -> str:
    """The text version a consent text's partition key names."""
    return pk[len("TEXT#") :]


def rate(name: str, key: str, window: int | None = None) -> Key:
    suffix = "" if window is None else f"#{window}"
    return {"pk": f"RATE#{name}#{key}{suffix}", "sk": "RATE"}


AUDIENCE_INDEX = "audience"


def audience(purpose: str) -> str:
    """The sparse index's partition for a purpose: only granted states carry it."""
    return f"A#{purpose}"


LISTED = "aud_pk = :aud_pk, aud_sk = :aud_sk"
"""The update that lists a granted state in the sparse index (values: ``listed``)."""


def listed(subject: str, purpose: str) -> dict[str, str]:
    return {":aud_pk": audience(purpose), ":aud_sk": subject}


# -- times and ids -----------------------------------------------------------------------


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Times as the ledger writes them: UTC, microseconds, ``Z`` (they sort as text)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def new_id() -> str:
    return secrets.token_hex(8)


def expired(item: Mapping[str, Any], now: datetime) -> bool:
    """TTL deletes lazily (up to days late): an item past its expiry counts as gone."""
    expires = item.get("expires_at")
    if expires is None or isinstance(expires, str):
        return False
    return int(expires) <= now.timestamp()


# -- values ----------------------------------------------------------------------------


def encode(value: Any) -> AttributeValueTypeDef:
    """A Python value as a DynamoDB attribute value (str, int, Decimal, bool, None, bytes,
    lists and tuples, mappings, sets of str or numbers), as boto3's TypeSerializer codes it."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if value is None:
        return {"NULL": True}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (int, Decimal)):
        return {"N": _number(value)}
    if isinstance(value, (bytes, bytearray)):
        return {"B": bytes(value)}
    if isinstance(value, Mapping):
        return {"M": {str(k): encode(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"L": [encode(v) for v in value]}
    if isinstance(value, (set, frozenset)) and value:
        if all(isinstance(v, str) for v in value):
            return {"SS": sorted(value)}
        if all(isinstance(v, (int, Decimal)) and not isinstance(v, bool) for v in value):
            return {"NS": [_number(v) for v in value]}
    raise TypeError(f"the ledger stores no {type(value).__name__}")


def _number(value: int | Decimal) -> str:
    if isinstance(value, Decimal) and not value.is_finite():
        raise TypeError("infinity and NaN are not supported")
    return str(value)


def decode(value: Mapping[str, Any]) -> Any:
    """A DynamoDB attribute value as Python (numbers as Decimal, as boto3 decodes them)."""
    ((tag, data),) = value.items()
    if tag == "S":
        return data
    if tag == "N":
        return Decimal(data)
    if tag == "BOOL":
        return bool(data)
    if tag == "NULL":
        return None
    if tag == "M":
        return {k: decode(v) for k, v in data.items()}
    if tag == "L":
        return [decode(v) for v in data]
    if tag == "B":
        return bytes(data)
    if tag == "SS":
        return set(data)
    if tag == "NS":
        return {Decimal(v) for v in data}
    if tag == "BS":
        return {bytes(v) for v in data}
    raise TypeError(f"unknown attribute value type {tag}")


def coded(attrs: Mapping[str, Any]) -> Encoded:
    """Attributes (or expression values) coded for DynamoDB; None means absent."""
    return {k: encode(v) for k, v in attrs.items() if v is not None}


def plain(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item as read, decoded."""
    return {k: decode(v) for k, v in item.items()}
