"""The record of processing (GDPR art. 30): what is stored, why, on what basis, how long.

One list serves three readers: the README (the record itself), the access export (GDPR
art. 15(1) owes the person the purposes, the retention and the recipients, in words they
read: each text is translated through gettext), and the tests,
which check that every kind of item the ledger writes is listed here with its limit.
Retention is stated from the stage settings, so the text never drifts from the TTLs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.i18n import N_, translator
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
        N_("profile"),
        (("S#", "PROFILE"),),
        N_(
            "email address; name (optional) and language as confirmed; when first recorded and since"
            " when retained"
        ),
        N_("sending the mail the person agreed to, in their language; answering their requests"),
        N_(
            "consent (GDPR art. 6(1)(a)); for customers under soft opt-in, legitimate interest"
            " (art. 6(1)(f)) within ePrivacy art. 13(2) / Telecommunicatiewet 11.7(3)"
        ),
        N_(
            "unconfirmed: {pending_days} days after the signup; confirmed, soft opt-in or imported"
            " with proof: until erased (on the person's request or by the operator)"
        ),
    ),
    Record(
        N_("pending signup"),
        (("S#", "PENDING#"),),
        N_(
            "purposes asked for, form, email address, name (optional), language, time of the request,"
            " time the mail was sent"
        ),
        N_(
            "double opt-in: granting nothing, and changing nothing shown about the person, until the"
            " address owner confirms"
        ),
        N_("consent being asked (art. 6(1)(a))"),
        N_("{pending_days} days, or until confirmed"),
    ),
    Record(
        N_("purpose states and profiling flag"),
        (("S#", "P#"), ("S#", "PROFILING")),
        N_("per purpose: granted or withdrawn, legal basis, since when; objection to profiling"),
        N_("knowing who may be mailed for what, and whether profiling is allowed"),
        N_("art. 6(1)(a), 6(1)(f); art. 21 (objection)"),
        N_("until erased"),
    ),
    Record(
        N_("events"),
        (("S#", "E#"),),
        N_(
            "every signup, confirmation, soft opt-in, import, withdrawal, objection and access export:"
            " time, form or channel, consent text version, language, IP address and user agent as"
            " API Gateway reports them, and the proof the sending system supplied (order id and"
            " purchase time; import source, consent time and the text agreed to)"
        ),
        N_("proving consent, its withdrawal and the person's choices (art. 7(1), 5(2))"),
        N_("legal obligation to prove consent (art. 6(1)(c) with art. 7(1))"),
        N_("events of unconfirmed signups: {pending_days} days; all others: until erased"),
    ),
    Record(
        N_("access and erasure requests"),
        (("S#", "REQUEST#"),),
        N_("type of request, when it was made, when its link was mailed"),
        N_("one working link per request; no mail bombing of an address with request mail"),
        N_("legal obligation (art. 6(1)(c) with art. 12, 15, 17)"),
        N_("{request_token_days} days, the lifetime of the link"),
    ),
    Record(
        N_("import guard"),
        (("S#", "IMPORT"),),
        N_("when an import without proof asked the address to confirm; no address"),
        N_("an imported address without proof gets at most one double opt-in mail"),
        N_("legitimate interest (art. 6(1)(f)): not mailing people who never asked"),
        N_("{import_guard_days} days"),
    ),
    Record(
        N_("suppression marker"),
        (("SUPPRESS#", "SUPPRESS"),),
        N_(
            "a keyed hash of the address, the reason (erasure, complaint, bounce, unsubscribed)"
            " and the date; no address, no name"
        ),
        N_("keeping an erased, complaining or unsubscribed person out of imports and soft opt-ins"),
        N_("legal obligation (art. 6(1)(c) with art. 17 and 21(3)); legitimate interest (art. 6(1)(f))"),
        N_(
            "no fixed limit: deleting it would let the address back in through an import; a new"
            " signup the person confirms removes it"
        ),
    ),
    Record(
        N_("erasure record"),
        (("SUPPRESS#", "E#"),),
        N_("when an erasure was done, through which channel, how many items it deleted; no address"),
        N_("accountability: showing that the erasure was done (art. 5(2), 12)"),
        N_("legal obligation (art. 6(1)(c))"),
        N_("{erasure_record_days} days"),
    ),
    Record(
        N_("signed digests"),
        (("DIGEST", "D#"),),
        N_(
            "each hour, the keyed hashes of the people whose records changed and the SHA-256 of the"
            " last event of each, under a signature of the organisation's key; no address, no name"
        ),
        N_("proving that the records of consent were not changed afterwards (art. 5(2), 7(1))"),
        N_("legal obligation (art. 6(1)(c) with art. 7(1)); legitimate interest (art. 6(1)(f))"),
        N_("no fixed limit: a digest proves the records of everyone in it, also of the years before"),
    ),
    Record(
        N_("rate counters"),
        (("RATE#", "RATE"),),
        N_(
            "per address hash and mailbox hash the times of its last mails; per IP address hash"
            " the count of signups and of requests in an hour"
        ),
        N_("stopping list bombing: capping the mail anyone can trigger per address and posts per IP"),
        N_("legitimate interest (art. 6(1)(f))"),
        N_("{rate_counter_hours} hours"),
    ),
    Record(
        N_("consent texts"),
        (("TEXT#", "TEXT"),),
        N_(
            "the exact wording a form showed, its language, form and first use; not personal data"
            " (an imported row's own text may be, so it is kept in that row's events and erased"
            " with them)"
        ),
        N_("proving what exactly a person agreed to"),
        N_("not personal data"),
        N_("kept while any event may point at it"),
    ),
)

OUTSIDE_THE_TABLE: tuple[dict[str, str], ...] = (
    {
        "name": N_("mail jobs"),
        "where": N_("Amazon SQS queues (confirmations, other mail) and their dead-letter queue"),
        "data": N_("subject hash, mailbox hash, signup or request id, language; no address"),
        "retention": N_("until the mail is sent; at most 4 days in the queue, 14 in the dead-letter queue"),
    },
    {
        "name": N_("logs"),
        "where": "Amazon CloudWatch Logs",
        "data": N_("what happened and its ids; never an address, a name, a token or a link"),
        "retention": N_("30 days (the log groups in .chalice/resources.yaml)"),
    },
    {
        "name": N_("backups"),
        "where": N_("DynamoDB point-in-time recovery"),
        "data": N_("a continuous backup of the table"),
        "retention": N_("35 days: erased and expired items leave the backups within 35 days"),
    },
    {
        "name": N_("table stream"),
        "where": N_(
            "DynamoDB Streams of the ledger table, read only by the function that pushes consent changes"
        ),
        "data": N_("every write to the table, the item before and after it (addresses included)"),
        "retention": N_("24 hours (DynamoDB's own limit)"),
    },
    {
        "name": N_("consent changes"),
        "where": N_(
            "the stage's Amazon EventBridge bus, its archive, and the dead-letter queue of the"
            " optional webhook"
        ),
        "data": N_(
            "per change of a consent state: its kind, purpose, legal basis or reason, time,"
            " the subject hash, and the address where it is proven (never for an erasure)"
        ),
        "retention": N_(
            "on the bus: until delivered; the archive: 7 days (a stack parameter, for"
            " replays); the webhook's dead-letter queue: 14 days"
        ),
    },
    {
        "name": N_("erasure journal"),
        "where": N_("a second DynamoDB table (consentry-<stage>-erasures)"),
        "data": N_("subject hash and time of each erasure; no address, no name"),
        "retention": N_(
            "36 days, one more than the backups reach back: a table restored from them"
            " is made to forget everyone erased after its restore point"
        ),
    },
)

PROCESSORS: tuple[dict[str, str], ...] = (
    {"service": "AWS Lambda", "role": N_("runs the code; holds data only while handling a request")},
    {"service": "Amazon API Gateway", "role": N_("receives requests (IP address, user agent, bodies)")},
    {"service": "Amazon DynamoDB", "role": N_("the consent ledger, encrypted at rest")},
    {"service": "Amazon SQS", "role": N_("the mail queues, encrypted at rest; jobs hold no address")},
    {"service": "Amazon SES", "role": N_("sends the mail: recipient address and content")},
    {"service": "AWS Secrets Manager", "role": N_("the signing and hashing keys; no personal data")},
    {"service": "Amazon CloudWatch Logs", "role": N_("function logs without addresses, tokens or links")},
    {
        "service": "Amazon EventBridge",
        "role": N_(
            "carries consent changes to the organisation's own systems; keeps them a week for replays"
        ),
    },
)


def record_for(pk: str, sk: str) -> Record | None:
    """The record an item of the table belongs to, by its key."""
    for record in RECORDS:
        if any(pk.startswith(p) and sk.startswith(s) for p, s in record.keys):
            return record
    return None


def describe(settings: Settings, lang: str = "en") -> dict[str, Any]:
    """The record with the stage's own retention periods filled in, in ``lang``: the access
    export gives it to the person in their own language (the keys stay English: data)."""
    _ = translator(lang)
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
                "name": _(r.name),
                "data": _(r.data),
                "purpose": _(r.purpose),
                "basis": _(r.basis),
                "retention": _(r.retention).format(**limits),
            }
            for r in RECORDS
        ],
        "outside_the_table": [{k: _(v) for k, v in o.items()} for o in OUTSIDE_THE_TABLE],
        "processors": {
            "who": _("Amazon Web Services EMEA SARL, under the AWS GDPR Data Processing Addendum"),
            "region": settings.region,
            "services": [{"service": p["service"], "role": _(p["role"])} for p in PROCESSORS],
        },
        "recipients": _(
            "the organisation's own sending system (through the API): address, name,"
            " language, per-purpose states, profiling flag; the organisation's own systems that act"
            " on consent (a CRM, a shop), through its event bus: each change of a consent state with"
            " the address it concerns, an erasure with the subject hash alone"
        ),
    }
