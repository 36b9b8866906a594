"""The record of processing (GDPR art. 30): what is stored, why, on what basis, how long.

One list serves three readers: the README (the record itself), the access export (GDPR
art. 15(1) owes the person the purposes, the retention and the recipients), and the tests,
which check that every kind of item the ledger writes is listed here with its limit.
Retention is stated from the stage settings, so the text never drifts from the TTLs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.settings import Settings


@dataclass(frozen=True)
class Record:
    """One kind of data: where it lives (``pk-prefix sk-prefix`` patterns) and its rules."""

    name: str
    keys: tuple[tuple[str, str], ...]
    data: str
    purpose: str
    basis: str
    retention: str


RECORDS: tuple[Record, ...] = (
    Record(
        "profile",
        (("S#", "PROFILE"),),
        "email address; name (optional) and language as confirmed; when first recorded and since"
        " when retained",
        "sending the mail the person agreed to, in their language; answering their requests",
        "consent (GDPR art. 6(1)(a)); for customers under soft opt-in, legitimate interest"
        " (art. 6(1)(f)) within ePrivacy art. 13(2) / Telecommunicatiewet 11.7(3)",
        "unconfirmed: {pending_days} days after the signup; confirmed, soft opt-in or imported"
        " with proof: until erased (on the person's request or by the operator)",
    ),
    Record(
        "pending signup",
        (("S#", "PENDING#"),),
        "purposes asked for, form, email address, name (optional), language, time of the request,"
        " time the mail was sent",
        "double opt-in: granting nothing, and changing nothing shown about the person, until the"
        " address owner confirms",
        "consent being asked (art. 6(1)(a))",
        "{pending_days} days, or until confirmed",
    ),
    Record(
        "purpose states and profiling flag",
        (("S#", "P#"), ("S#", "PROFILING")),
        "per purpose: granted or withdrawn, legal basis, since when; objection to profiling",
        "knowing who may be mailed for what, and whether profiling is allowed",
        "art. 6(1)(a), 6(1)(f); art. 21 (objection)",
        "until erased",
    ),
    Record(
        "events",
        (("S#", "E#"),),
        "every signup, confirmation, soft opt-in, import, withdrawal, objection and access export:"
        " time, form or channel, consent text version, language, IP address and user agent as"
        " API Gateway reports them, and the proof the sending system supplied (order id and"
        " purchase time; import source, consent time and the text agreed to)",
        "proving consent, its withdrawal and the person's choices (art. 7(1), 5(2))",
        "legal obligation to prove consent (art. 6(1)(c) with art. 7(1))",
        "events of unconfirmed signups: {pending_days} days; all others: until erased",
    ),
    Record(
        "access and erasure requests",
        (("S#", "REQUEST#"),),
        "type of request, when it was made, when its link was mailed",
        "one working link per request; no mail bombing of an address with request mail",
        "legal obligation (art. 6(1)(c) with art. 12, 15, 17)",
        "{request_token_days} days, the lifetime of the link",
    ),
    Record(
        "import guard",
        (("S#", "IMPORT"),),
        "when an import without proof asked the address to confirm; no address",
        "an imported address without proof gets at most one double opt-in mail",
        "legitimate interest (art. 6(1)(f)): not mailing people who never asked",
        "{import_guard_days} days",
    ),
    Record(
        "suppression marker",
        (("SUPPRESS#", "SUPPRESS"),),
        "a keyed hash of the address, the reason (erasure, complaint, bounce, unsubscribed)"
        " and the date; no address, no name",
        "keeping an erased, complaining or unsubscribed person out of imports and soft opt-ins",
        "legal obligation (art. 6(1)(c) with art. 17 and 21(3)); legitimate interest (art. 6(1)(f))",
        "no fixed limit: deleting it would let the address back in through an import; a new"
        " signup the person confirms removes it",
    ),
    Record(
        "erasure record",
        (("SUPPRESS#", "E#"),),
        "when an erasure was done, through which channel, how many items it deleted; no address",
        "accountability: showing that the erasure was done (art. 5(2), 12)",
        "legal obligation (art. 6(1)(c))",
        "{erasure_record_days} days",
    ),
    Record(
        "rate counters",
        (("RATE#", "RATE"),),
        "per address hash and mailbox hash the times of its last mails; per IP address hash"
        " the count of signups and of requests in an hour",
        "stopping list bombing: capping the mail anyone can trigger per address and posts per IP",
        "legitimate interest (art. 6(1)(f))",
        "{rate_counter_hours} hours",
    ),
    Record(
        "consent texts",
        (("TEXT#", "TEXT"),),
        "the exact wording a form showed, its language, form and first use; not personal data"
        " (an imported row's own text may be, so it is kept in that row's events and erased"
        " with them)",
        "proving what exactly a person agreed to",
        "not personal data",
        "kept while any event may point at it",
    ),
)

OUTSIDE_THE_TABLE: tuple[dict[str, str], ...] = (
    {
        "name": "mail jobs",
        "where": "Amazon SQS queues (confirmations, other mail) and their dead-letter queue",
        "data": "subject hash, mailbox hash, signup or request id, language; no address",
        "retention": "until the mail is sent; at most 4 days in the queue, 14 in the dead-letter queue",
    },
    {
        "name": "logs",
        "where": "Amazon CloudWatch Logs",
        "data": "what happened and its ids; never an address, a name, a token or a link",
        "retention": "30 days (the log groups in .chalice/resources.yaml)",
    },
    {
        "name": "backups",
        "where": "DynamoDB point-in-time recovery",
        "data": "a continuous backup of the table",
        "retention": "35 days: erased and expired items leave the backups within 35 days",
    },
    {
        "name": "table stream",
        "where": "DynamoDB Streams of the ledger table, read only by the function that pushes"
        " consent changes",
        "data": "every write to the table, the item before and after it (addresses included)",
        "retention": "24 hours (DynamoDB's own limit)",
    },
    {
        "name": "consent changes",
        "where": "the stage's Amazon EventBridge bus, its archive, and the dead-letter queue of"
        " the optional webhook",
        "data": "per change of a consent state: its kind, purpose, legal basis or reason, time,"
        " the subject hash, and the address where it is proven (never for an erasure)",
        "retention": "on the bus: until delivered; the archive: 7 days (a stack parameter, for"
        " replays); the webhook's dead-letter queue: 14 days",
    },
    {
        "name": "erasure journal",
        "where": "a second DynamoDB table (consentry-<stage>-erasures)",
        "data": "subject hash and time of each erasure; no address, no name",
        "retention": "36 days, one more than the backups reach back: a table restored from them"
        " is made to forget everyone erased after its restore point",
    },
)

PROCESSORS: tuple[dict[str, str], ...] = (
    {"service": "AWS Lambda", "role": "runs the code; holds data only while handling a request"},
    {"service": "Amazon API Gateway", "role": "receives requests (IP address, user agent, bodies)"},
    {"service": "Amazon DynamoDB", "role": "the consent ledger, encrypted at rest"},
    {"service": "Amazon SQS", "role": "the mail queues, encrypted at rest; jobs hold no address"},
    {"service": "Amazon SES", "role": "sends the mail: recipient address and content"},
    {"service": "AWS Secrets Manager", "role": "the signing and hashing keys; no personal data"},
    {"service": "Amazon CloudWatch Logs", "role": "function logs without addresses, tokens or links"},
    {
        "service": "Amazon EventBridge",
        "role": "carries consent changes to the organisation's own systems; keeps them a week for replays",
    },
)


def record_for(pk: str, sk: str) -> Record | None:
    """The record an item of the table belongs to, by its key."""
    for record in RECORDS:
        if any(pk.startswith(p) and sk.startswith(s) for p, s in record.keys):
            return record
    return None


def describe(settings: Settings) -> dict[str, Any]:
    """The record with the stage's own retention periods filled in."""
    limits = {
        "pending_days": settings.pending_days,
        "request_token_days": settings.request_token_days,
        "import_guard_days": settings.import_guard_days,
        "erasure_record_days": settings.erasure_record_days,
        "rate_counter_hours": settings.rate_counter_hours,
    }
    return {
        "records": [
            {
                "name": r.name,
                "data": r.data,
                "purpose": r.purpose,
                "basis": r.basis,
                "retention": r.retention.format(**limits),
            }
            for r in RECORDS
        ],
        "outside_the_table": list(OUTSIDE_THE_TABLE),
        "processors": {
            "who": "Amazon Web Services EMEA SARL, under the AWS GDPR Data Processing Addendum",
            "region": settings.region,
            "services": list(PROCESSORS),
        },
        "recipients": "the organisation's own sending system (through the API): address, name,"
        " language, per-purpose states, profiling flag; the organisation's own systems that act"
        " on consent (a CRM, a shop), through its event bus: each change of a consent state with"
        " the address it concerns, an erasure with the subject hash alone",
    }
