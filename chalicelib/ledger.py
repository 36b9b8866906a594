"""The consent ledger: the only module that talks to DynamoDB.

Every change of a person's standing is an append-only event written in the same
transaction as the state it causes, so state and evidence never disagree. Items:

    S#<subject> PROFILE                      address; name, language as last confirmed
    S#<subject> PENDING#<signup>             an unconfirmed signup: purposes, address, name, language (TTL)
    S#<subject> P#<purpose>                  granted | withdrawn, basis, since (+ audience keys)
    S#<subject> PROFILING                    objected | allowed, since
    S#<subject> E#<utc>#<signup>#<suffix>    one event with its evidence
    SUPPRESS#<subject> SUPPRESS              reason and date; no address
    TEXT#<version> TEXT                      the exact consent text of a form, stored once
                                             (an imported text stays in its own events)
    S#<subject> REQUEST#<type>               an access or erasure request (TTL)
    S#<subject> IMPORT                       an import asked this address to confirm (TTL)
    SUPPRESS#<subject> E#<utc>#erased        that an erasure was done, when, how (TTL)

A pending-only person's profile and events carry ``expires_at`` and vanish after the
retention period. Confirming removes it. A signup by someone already retained sets
``expires_at`` from ``retained_since`` (a string): DynamoDB's TTL ignores non-numeric
values, so one unconditional write keeps the single-transaction budget and never
schedules a retained person for deletion.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from chalicelib.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from chalicelib.catalogue import ConsentText

_ser = TypeSerializer()
_des = TypeDeserializer()


class LedgerError(Exception):
    """Base of the ledger's domain errors; callers never see botocore errors."""


class SignupGone(LedgerError):
    """The signup is unknown, expired or erased."""


class AlreadyConfirmed(LedgerError):
    """The signup was confirmed before: nothing new to record."""


class RateLimited(LedgerError):
    """A rate counter is at its cap; ``counter`` names which one. Nothing was written."""

    def __init__(self, counter: str) -> None:
        super().__init__(counter)
        self.counter = counter


@dataclass(frozen=True)
class RateCap:
    """A counter written in the same transaction as what it counts: at most ``limit`` per
    window. Keys are keyed hashes (per address, per mailbox, per IP), never a global hot key.

    ``sliding``: at most ``limit`` in any ``window_seconds`` (the mail cap: any 24 hours,
    not a calendar day), kept as the times of the last ``limit`` uses on the counter item;
    otherwise a count per fixed window (the per-IP limits, whose limits are too large for
    one slot per use)."""

    name: str
    key: str
    limit: int
    window_seconds: int
    keep_seconds: int
    sliding: bool = False


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


class _Cancelled(LedgerError):
    """A transaction was cancelled; ``codes`` holds the reason of each operation."""

    def __init__(self, codes: list[str]) -> None:
        super().__init__(", ".join(codes))
        self.codes = codes


@dataclass(frozen=True)
class Evidence:
    """How a request reached us, as API Gateway reports it (never a client header)."""

    ip: str | None
    user_agent: str | None
    channel: str

    def as_dict(self) -> dict[str, str]:
        data = {"channel": self.channel}
        if self.ip:
            data["ip"] = self.ip
        if self.user_agent:
            data["user_agent"] = self.user_agent[:512]
        return data


@dataclass(frozen=True)
class Signup:
    id: str
    subject: str
    requested_at: str
    purposes: tuple[str, ...]


@dataclass(frozen=True)
class PendingMail:
    """What the mail job needs to send one confirmation mail. No name: the mail holds only
    the request, the controller and the link (LAW 8), nothing the signup typed."""

    email: str
    lang: str
    form_id: str
    purposes: tuple[str, ...]
    expires_at: int
    already_sent: bool


class PersonGone(LedgerError):
    """Nobody is on file under this subject (never was, expired or erased)."""


class LedgerConflict(LedgerError):
    """The person's state kept changing under a write; the caller may retry later.

    ``lang``: the person's language, as last read, for the answer that says so."""

    def __init__(self, subject: str, lang: str | None = None) -> None:
        super().__init__(subject)
        self.lang = lang


@dataclass(frozen=True)
class Standing:
    """A person's current standing as the preferences page shows it (one read)."""

    subject: str
    email: str
    name: str | None
    lang: str
    states: dict[str, str]
    """purpose -> granted | withdrawn as last confirmed or withdrawn, else pending (only a
    signup waits); purposes never asked for are absent."""
    profiling: str
    """allowed (the default) or objected."""
    waiting: frozenset[str] = frozenset()
    """Purposes an unconfirmed signup asks for: shown beside the state, never instead of it."""


@dataclass(frozen=True)
class SignupNow:
    """What a confirm link would do at this moment: the confirm page's one read."""

    purposes: tuple[str, ...]
    """What the pending signup still holds; empty once it is gone."""
    confirmed: bool
    """It is gone because it was confirmed (its grants carry its id)."""


@dataclass(frozen=True)
class SaidNo:
    """What one 'no' changed: nothing at all when it was said before."""

    withdrawn: tuple[str, ...] = ()
    profiling: str | None = None
    """The new profiling state when it changed, else None."""
    suppressed: bool = False
    """Whether a suppression marker was written (or kept)."""
    standing: Standing | None = None
    """The standing after the change; None for a subject nobody is on file for."""

    @property
    def changed(self) -> bool:
        return bool(self.withdrawn) or self.profiling is not None


@dataclass(frozen=True)
class AudienceMember:
    subject: str
    email: str
    name: str | None
    lang: str
    profiling_allowed: bool


@dataclass
class _Snapshot:
    """The raw items behind a Standing: what conditional writes are conditioned on."""

    subject: str
    profile: dict[str, Any]
    profiling: dict[str, Any] | None
    states: dict[str, dict[str, Any]]
    pending: list[dict[str, Any]]

    @property
    def expires_at(self) -> int | None:
        """A pending-only person's expiry, which new items share; None once retained."""
        value = self.profile.get("expires_at")
        return None if value is None or isinstance(value, str) else int(value)

    @property
    def purposes(self) -> set[str]:
        """Every purpose this person has a state or a pending signup for."""
        return set(self.states) | {p for item in self.pending for p in item["purposes"]}

    @property
    def profiling_state(self) -> str:
        return (self.profiling or {}).get("state", "allowed")

    @property
    def waiting(self) -> frozenset[str]:
        """Purposes some unconfirmed signup asks for."""
        return frozenset(p for item in self.pending for p in item["purposes"])

    def standing(self) -> Standing:
        """A waiting signup never hides a state: a purpose is pending only while nothing
        was confirmed or withdrawn for it."""
        states = {p: str(i["state"]) for p, i in self.states.items()}
        for purpose in self.waiting:
            states.setdefault(purpose, "pending")
        return Standing(
            subject=self.subject,
            email=self.profile["email"],
            name=self.profile.get("name"),
            lang=self.profile.get("lang") or "nl",
            states=dict(sorted(states.items())),
            profiling=self.profiling_state,
            waiting=self.waiting,
        )


@dataclass
class _Plan:
    """One transaction's operations and what they will have changed once written."""

    ops: list[dict[str, Any]] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    profiling: str | None = None
    suppressed: bool = False
    dedupe: int | None = None
    """Index of the op whose failed condition means 'already recorded' (SNS redelivery)."""


@dataclass(frozen=True)
class RequestMail:
    """What the mail job needs to send one access or erasure link."""

    email: str
    name: str | None
    lang: str


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _item(**attrs: Any) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in attrs.items() if v is not None}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _des.deserialize(v) for k, v in item.items()}


def _pk(subject: str) -> str:
    return f"S#{subject}"


def _suppression_key(subject: str) -> dict[str, Any]:
    """Suppression markers live outside the person's partition so erasure leaves them."""
    return _item(pk=f"SUPPRESS#{subject}", sk="SUPPRESS")


def _event_sk(at: str, signup_id: str, suffix: str) -> str:
    return f"E#{at}#{signup_id}#{suffix}"


def new_id() -> str:
    return secrets.token_hex(8)


def _feedback_change_id(feedback_id: str | None) -> str:
    """An event id derived from SES's feedback id, so a redelivered notification finds
    its own event already written."""
    if not feedback_id:
        return new_id()
    return hashlib.sha256(feedback_id.encode()).hexdigest()[:16]


def _failed(reasons: list[str], index: int) -> bool:
    return index < len(reasons) and reasons[index] == "ConditionalCheckFailed"


class Ledger:
    """Reads and writes a stage's table. Receives its client; builds nothing itself."""

    def __init__(self, client: DynamoDBClient, table: str, erasure_journal: str | None = None) -> None:
        self._db = client
        self._table = table
        self._journal = erasure_journal

    # -- writes ---------------------------------------------------------------------

    def record_signup(
        self,
        *,
        subject: str,
        email: str,
        name: str | None,
        lang: str,
        form_id: str,
        texts: Sequence[ConsentText],
        evidence: Evidence,
        now: datetime,
        retention_seconds: int,
        caps: Sequence[RateCap] = (),
        extra_ops: Sequence[dict[str, Any]] = (),
        snapshots: bool = True,
    ) -> Signup:
        """Pending state, one signup_requested event per purpose, and the texts: one call.

        An unconfirmed signup changes nothing anyone reads about a person: its name and
        language stay on its own PENDING# item (its confirmation mail and its confirmation
        need them) until ``confirm`` writes them to the profile.

        Each cap's counter is incremented in the same transaction, on condition that it is
        below its limit: a capped signup writes nothing and raises RateLimited.
        ``extra_ops`` are checks another ledger method adds to the same transaction (an
        import's suppression check); ``snapshots=False`` when the texts are stored already.
        """
        signup_id = new_id()
        at = iso(now)
        expires = int(now.timestamp()) + retention_seconds
        pk = _pk(subject)
        purposes = tuple(t.purpose for t in texts)
        ops: list[dict[str, Any]] = [
            {
                # Only what makes the person findable and lets them expire: the address (the
                # key's own), when first seen, the expiry of a pending-only person. Name and
                # language wait on the pending signup until its confirmation writes them.
                "Update": {
                    "TableName": self._table,
                    "Key": _item(pk=pk, sk="PROFILE"),
                    "UpdateExpression": (
                        "SET email = if_not_exists(email, :email),"
                        " created_at = if_not_exists(created_at, :at),"
                        " expires_at = if_not_exists(retained_since, :exp)"
                    ),
                    "ExpressionAttributeValues": _item(**{":email": email, ":at": at, ":exp": expires}),
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _item(
                        pk=pk,
                        sk=f"PENDING#{signup_id}",
                        purposes=list(purposes),
                        form=form_id,
                        email=email,
                        name=name or None,
                        lang=lang,
                        requested_at=at,
                        expires_at=expires,
                    ),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        for text in texts:
            ops.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": _item(
                            pk=pk,
                            sk=_event_sk(at, signup_id, text.purpose),
                            type="signup_requested",
                            at=at,
                            purpose=text.purpose,
                            signup=signup_id,
                            expires_at=expires,
                            evidence={
                                **evidence.as_dict(),
                                "form": form_id,
                                "lang": lang,
                                "text_version": text.version,
                            },
                        ),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        ops.extend(extra_ops)
        if snapshots:
            self.store_texts(texts, form_id, now)
        counters = [self._rate_counter(cap, now) for cap in caps]
        self._transact_with_counters(counters + ops, [cap.name for cap in caps])
        return Signup(signup_id, subject, at, purposes)

    def _rate_counter(self, cap: RateCap, now: datetime) -> dict[str, Any]:
        if cap.sliding:
            return self._sliding_counter(cap, now)
        window = int(now.timestamp()) // cap.window_seconds
        return {
            "Update": {
                "TableName": self._table,
                "Key": _item(pk=f"RATE#{cap.name}#{cap.key}#{window}", sk="RATE"),
                "UpdateExpression": "ADD n :one SET expires_at = if_not_exists(expires_at, :exp)",
                "ConditionExpression": "attribute_not_exists(n) OR n < :limit",
                "ExpressionAttributeValues": _item(
                    **{
                        ":one": 1,
                        ":limit": cap.limit,
                        ":exp": (window + 1) * cap.window_seconds + cap.keep_seconds,
                    }
                ),
            }
        }

    def _sliding_counter(self, cap: RateCap, now: datetime) -> dict[str, Any]:
        """At most ``limit`` uses in any ``window_seconds``, in one update and no read.

        Slots t1..tN hold the times of the last N uses, t1 the oldest. A use is allowed
        while t1 is missing or older than the window; it shifts every slot down by one and
        puts now last: ``SET t1 = if_not_exists(t2, 0), …, tN = :now``. DynamoDB evaluates
        every right-hand operand on the item as it was before the update (and each slot is
        read before it is written, so a left-to-right evaluation agrees).
        """
        at = int(now.timestamp())
        slots = [f"t{i}" for i in range(1, cap.limit + 1)]
        shifts = [f"{slots[i]} = if_not_exists({slots[i + 1]}, :zero)" for i in range(cap.limit - 1)]
        return {
            "Update": {
                "TableName": self._table,
                "Key": _item(pk=f"RATE#{cap.name}#{cap.key}", sk="RATE"),
                "UpdateExpression": "SET " + ", ".join([*shifts, f"{slots[-1]} = :now", "expires_at = :exp"]),
                "ConditionExpression": "attribute_not_exists(t1) OR t1 < :cutoff",
                "ExpressionAttributeValues": _item(
                    **{
                        **({":zero": 0} if shifts else {}),
                        ":now": at,
                        ":cutoff": at - cap.window_seconds,
                        ":exp": at + cap.window_seconds + cap.keep_seconds,
                    }
                ),
            }
        }

    def charge(self, caps: Sequence[RateCap], now: datetime) -> None:
        """Count one use against caps that guard no write of their own (a request's per-IP
        limit): one update per call. Raises RateLimited, and then counts nothing."""
        if len(caps) == 1:
            try:
                self._db.update_item(**self._rate_counter(caps[0], now)["Update"])
            except self._db.exceptions.ConditionalCheckFailedException as exc:
                raise RateLimited(caps[0].name) from exc
        elif caps:
            self._transact_with_counters([self._rate_counter(c, now) for c in caps], [c.name for c in caps])

    def _transact_with_counters(self, ops: list[dict[str, Any]], counter_names: list[str]) -> None:
        """Run a transaction whose first items are rate counters; retry one write conflict."""
        for attempt in (1, 2):
            try:
                self._db.transact_write_items(TransactItems=ops)
                return
            except self._db.exceptions.TransactionCanceledException as exc:
                reasons = exc.response.get("CancellationReasons") or []
                codes = [r.get("Code") for r in reasons]
                for index, name in enumerate(counter_names):
                    if index < len(codes) and codes[index] == "ConditionalCheckFailed":
                        raise RateLimited(name) from exc
                if attempt == 1 and "TransactionConflict" in codes:
                    continue
                raise

    def _text_snapshot(self, text: ConsentText, form_id: str, at: str) -> dict[str, Any]:
        """Store a text once under its version; an existing snapshot is never overwritten."""
        return {
            "Update": {
                "TableName": self._table,
                "Key": _item(pk=f"TEXT#{text.version}", sk="TEXT"),
                "UpdateExpression": (
                    "SET #text = if_not_exists(#text, :text), purpose = if_not_exists(purpose, :p),"
                    " lang = if_not_exists(lang, :lang), form = if_not_exists(form, :form),"
                    " first_shown = if_not_exists(first_shown, :at)"
                ),
                "ExpressionAttributeNames": {"#text": "text"},
                "ExpressionAttributeValues": _item(
                    **{
                        ":text": text.text,
                        ":p": text.purpose,
                        ":lang": text.lang,
                        ":form": form_id,
                        ":at": at,
                    }
                ),
            }
        }

    def record_confirmation_sent(
        self, *, subject: str, signup_id: str, sent_at: str, expires_at: int, message_id: str
    ) -> bool:
        """Mark the signup's mail as sent; False when it already was (a redelivered job)."""
        pk = _pk(subject)
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": _item(pk=pk, sk=f"PENDING#{signup_id}"),
                            "UpdateExpression": "SET mail_sent_at = :at",
                            "ConditionExpression": (
                                "attribute_exists(pk) AND attribute_not_exists(mail_sent_at)"
                            ),
                            "ExpressionAttributeValues": _item(**{":at": sent_at}),
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": _item(
                                pk=pk,
                                sk=_event_sk(sent_at, signup_id, "sent"),
                                type="confirmation_sent",
                                at=sent_at,
                                signup=signup_id,
                                expires_at=expires_at,
                                evidence={"channel": "email", "message_id": message_id},
                            ),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except self._db.exceptions.TransactionCanceledException:
            return False
        return True

    def signup_now(self, subject: str, signup_id: str, now: datetime) -> SignupNow:
        """What confirming this signup would grant at this moment: one read, nothing written."""
        snapshot = self._snapshot(subject, now)
        pending = _pending_of(snapshot, signup_id)
        if pending is not None:
            return SignupNow(tuple(pending["purposes"]), confirmed=False)
        return SignupNow((), confirmed=_confirmed_by(snapshot, signup_id))

    def confirm(
        self,
        *,
        subject: str,
        signup_id: str,
        sent_at: str,
        evidence: Evidence,
        now: datetime,
    ) -> tuple[str, ...]:
        """Grant what the signup still holds: one read, then one conditional transaction.

        Returns the purposes granted. A purpose withdrawn after the mail was sent left the
        signup then (say_no), so it is not granted. The signup's name and language become
        the profile's: the person proved the address is theirs (an unconfirmed signup never
        writes them, so nobody else can). The signup's events lose their expiry: they are
        now proof. A confirmed signup is fresh consent: it lifts a suppression marker.

        The transaction is conditioned on the signup as read: a withdrawal in between
        cancels it, and it is planned again from a fresh read. Raises AlreadyConfirmed when
        it was confirmed before, SignupGone when it is unknown, expired, erased or has
        nothing left to grant, LedgerConflict when it kept changing.
        """
        for _attempt in range(3):
            snapshot = self._snapshot(subject, now)
            pending = _pending_of(snapshot, signup_id)
            if snapshot is None or pending is None:
                if _confirmed_by(snapshot, signup_id):
                    raise AlreadyConfirmed(signup_id)
                raise SignupGone(signup_id)
            ops = self._confirm_ops(snapshot, pending, signup_id, sent_at, evidence, now)
            if self._transact(ops) is None:
                return tuple(pending["purposes"])
            now = max(utc_now(), now)  # a later change won the race: stamp after it
        raise LedgerConflict(subject)

    def _confirm_ops(
        self,
        snapshot: _Snapshot,
        pending: dict[str, Any],
        signup_id: str,
        sent_at: str,
        evidence: Evidence,
        now: datetime,
    ) -> list[dict[str, Any]]:
        subject = snapshot.subject
        pk = _pk(subject)
        at = iso(now)
        requested_at = str(pending["requested_at"])
        profile_sets = [
            "retained_since = if_not_exists(retained_since, :at)",
            "email = if_not_exists(email, :email)",
            "created_at = if_not_exists(created_at, :at)",
            "lang = :lang",
        ]
        profile_values: dict[str, Any] = {
            ":at": at,
            ":email": pending.get("email") or snapshot.profile["email"],
            ":lang": pending.get("lang") or "nl",
        }
        if pending.get("name"):
            # A signup without a name keeps the name the person confirmed before.
            profile_sets.append("#name = :name")
            profile_values[":name"] = pending["name"]
        ops: list[dict[str, Any]] = [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": _item(pk=pk, sk=f"PENDING#{signup_id}"),
                    # Exactly as read: a withdrawal since then cancels this grant.
                    "ConditionExpression": (
                        "attribute_exists(pk) AND expires_at > :now AND purposes = :purposes"
                    ),
                    "ExpressionAttributeValues": _item(
                        **{":now": int(now.timestamp()), ":purposes": list(pending["purposes"])}
                    ),
                }
            },
            {
                # The mail was provably sent (the token came from it): make sure its
                # event exists and is kept, even if the mail job died before writing it.
                "Update": {
                    "TableName": self._table,
                    "Key": _item(pk=pk, sk=_event_sk(sent_at, signup_id, "sent")),
                    "UpdateExpression": (
                        "SET #type = if_not_exists(#type, :type), #at = if_not_exists(#at, :at),"
                        " signup = if_not_exists(signup, :signup) REMOVE expires_at"
                    ),
                    "ExpressionAttributeNames": {"#type": "type", "#at": "at"},
                    "ExpressionAttributeValues": _item(
                        **{":type": "confirmation_sent", ":at": sent_at, ":signup": signup_id}
                    ),
                }
            },
            {
                "Update": {
                    "TableName": self._table,
                    "Key": _item(pk=pk, sk="PROFILE"),
                    "UpdateExpression": "SET " + ", ".join(profile_sets) + " REMOVE expires_at",
                    "ExpressionAttributeValues": _item(**profile_values),
                    **({"ExpressionAttributeNames": {"#name": "name"}} if ":name" in profile_values else {}),
                }
            },
            # A confirmed double opt-in is the person's own new yes: it lifts an earlier
            # suppression (unsubscribed, complaint, bounce), or they could never be mailed again.
            # Deleting a marker that is not there is no failure.
            {"Delete": {"TableName": self._table, "Key": _suppression_key(subject)}},
        ]
        for purpose in pending["purposes"]:
            ops.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": _item(pk=pk, sk=_event_sk(requested_at, signup_id, purpose)),
                        "UpdateExpression": "REMOVE expires_at",
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                }
            )
            ops.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": _item(pk=pk, sk=f"P#{purpose}"),
                        "UpdateExpression": (
                            "SET #state = :granted, basis = :consent, since = :at,"
                            " signup = :signup, aud_pk = :aud_pk, aud_sk = :aud_sk"
                        ),
                        # Nothing stamped later may be overwritten: a withdrawal that won a
                        # race stays the last word, and this grant is stamped anew after it.
                        "ConditionExpression": "attribute_not_exists(since) OR since < :at",
                        "ExpressionAttributeNames": {"#state": "state"},
                        "ExpressionAttributeValues": _item(
                            **{
                                ":granted": "granted",
                                ":consent": "consent",
                                ":at": at,
                                ":signup": signup_id,
                                ":aud_pk": f"A#{purpose}",
                                ":aud_sk": subject,
                            }
                        ),
                    }
                }
            )
            ops.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": _item(
                            pk=pk,
                            sk=_event_sk(at, signup_id, f"confirmed-{purpose}"),
                            type="confirmed",
                            at=at,
                            purpose=purpose,
                            basis="consent",
                            signup=signup_id,
                            evidence={**evidence.as_dict(), "requested_at": requested_at},
                        ),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        return ops

    # -- saying no ------------------------------------------------------------------
    #
    # Withdrawals, objections, suppression and SES feedback. Each reads the person's
    # partition once, then writes every state change with its event in one transaction
    # conditioned on the state it read: a concurrent change cancels it and it is planned
    # again from a fresh read, so state and evidence never disagree and saying no twice
    # records nothing new.

    def standing(self, subject: str, now: datetime) -> Standing | None:
        """The person's standing for the preferences page: one query, nothing written."""
        snapshot = self._snapshot(subject, now)
        return snapshot.standing() if snapshot else None

    def on_file(self, subject: str, now: datetime) -> bool:
        """Whether a (not expired) profile exists: one consistent read."""
        answer = self._db.get_item(
            TableName=self._table, Key=_item(pk=_pk(subject), sk="PROFILE"), ConsistentRead=True
        )
        return "Item" in answer and not _expired(_plain(answer["Item"]), now)

    def say_no(
        self,
        subject: str,
        *,
        withdraw: Collection[str] | None,
        profiling: str | None = None,
        suppress: str | None = None,
        evidence: Evidence,
        now: datetime,
    ) -> SaidNo:
        """Withdraw purposes (None: every purpose on file), save a profiling choice
        (``objected``/``allowed``), leave a suppression marker: one conditional
        transaction, one event per change.

        Only granted or pending purposes change; a pending signup loses the withdrawn
        purposes (and goes when none is left). Raises PersonGone for nobody on file.
        """

        def plan(snapshot: _Snapshot | None) -> _Plan:
            if snapshot is None:
                raise PersonGone(subject)
            # Each attempt stamps its own time: one planned again after a concurrent
            # change must sort after that change, as it was committed after it.
            at, change = iso(max(now, utc_now())), new_id()
            result = _Plan()
            purposes = snapshot.purposes if withdraw is None else withdraw
            self._plan_withdrawals(result, snapshot, purposes, evidence.as_dict(), at, change)
            self._plan_profiling(result, snapshot, profiling, evidence.as_dict(), at, change)
            if suppress:
                self._plan_suppression(result, subject, suppress, at)
            return result

        return self._carry_out(subject, now, plan)

    def record_complaint(
        self,
        subject: str,
        *,
        at: datetime,
        feedback_id: str | None,
        details: dict[str, str],
        now: datetime,
    ) -> SaidNo:
        """A spam complaint: a ``complained`` event, every purpose withdrawn (channel
        ``complaint``), a suppression marker. A redelivered notification changes nothing.
        For a subject nobody is on file for, only the marker is left."""

        def plan(snapshot: _Snapshot | None) -> _Plan:
            when, change = iso(at), _feedback_change_id(feedback_id)
            evidence = {"channel": "complaint", **details}
            result = _Plan()
            if snapshot is not None:
                result.dedupe = len(result.ops)
                result.ops.append(
                    self._event_put(snapshot, when, change, "complained", "complained", evidence)
                )
                self._plan_withdrawals(result, snapshot, snapshot.purposes, evidence, when, change)
            self._plan_suppression(result, subject, "complaint", when)
            return result

        return self._carry_out(subject, now, plan)

    def record_bounce(
        self,
        subject: str,
        *,
        permanent: bool,
        at: datetime,
        feedback_id: str | None,
        details: dict[str, str],
        now: datetime,
    ) -> SaidNo:
        """A bounce: always a ``bounced`` event. A permanent one also takes the person out
        of every audience (no consent is withdrawn: the address failed, the person did
        not say no) and leaves a suppression marker."""

        def plan(snapshot: _Snapshot | None) -> _Plan:
            when, change = iso(at), _feedback_change_id(feedback_id)
            result = _Plan()
            if snapshot is not None:
                result.dedupe = len(result.ops)
                result.ops.append(
                    self._event_put(
                        snapshot, when, change, "bounced", "bounced", {"channel": "bounce", **details}
                    )
                )
                if permanent:
                    for purpose, item in sorted(snapshot.states.items()):
                        if "aud_pk" in item:
                            result.ops.append(
                                {
                                    "Update": {
                                        "TableName": self._table,
                                        "Key": _item(pk=_pk(subject), sk=f"P#{purpose}"),
                                        "UpdateExpression": "REMOVE aud_pk, aud_sk",
                                        "ConditionExpression": "attribute_exists(aud_pk)",
                                    }
                                }
                            )
            if permanent:
                self._plan_suppression(result, subject, "bounce", when)
            return result

        return self._carry_out(subject, now, plan)

    def audience(
        self, purpose: str, *, limit: int, start: dict[str, str] | None, now: datetime
    ) -> tuple[list[AudienceMember], dict[str, str] | None]:
        """One page of the sparse ``audience`` index (a query, never a scan), checked
        against the table in one consistent batch read: only granted, unsuppressed
        people on file. Returns the members and the key to continue from (or None)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "audience",
            "KeyConditionExpression": "aud_pk = :aud",
            "ExpressionAttributeValues": _item(**{":aud": f"A#{purpose}"}),
            "Limit": limit,
        }
        if start:
            kwargs["ExclusiveStartKey"] = _item(**start)
        page = self._db.query(**kwargs)
        subjects = [str(_plain(i)["aud_sk"]) for i in page.get("Items", [])]
        keys = []
        for subject in subjects:
            pk = _pk(subject)
            keys += [
                _item(pk=pk, sk="PROFILE"),
                _item(pk=pk, sk="PROFILING"),
                _item(pk=pk, sk=f"P#{purpose}"),
                _suppression_key(subject),
            ]
        found = {(i["pk"], i["sk"]): i for i in self._batch_get(keys)}
        members = []
        for subject in subjects:
            pk = _pk(subject)
            profile = found.get((pk, "PROFILE"))
            state = found.get((pk, f"P#{purpose}"))
            # The index is eventually consistent; the table read is not: trust the table.
            if profile is None or _expired(profile, now) or state is None:
                continue
            if state.get("state") != "granted" or "aud_pk" not in state:
                continue
            if (f"SUPPRESS#{subject}", "SUPPRESS") in found:
                continue
            profiling = found.get((pk, "PROFILING")) or {}
            members.append(
                AudienceMember(
                    subject=subject,
                    email=profile["email"],
                    name=profile.get("name"),
                    lang=profile.get("lang") or "nl",
                    profiling_allowed=profiling.get("state", "allowed") != "objected",
                )
            )
        last = page.get("LastEvaluatedKey")
        return members, ({k: str(v) for k, v in _plain(last).items()} if last else None)

    def _snapshot(self, subject: str, now: datetime) -> _Snapshot | None:
        """Profile, profiling, purpose states and pending signups in one query."""
        profile: dict[str, Any] | None = None
        profiling: dict[str, Any] | None = None
        states: dict[str, dict[str, Any]] = {}
        pending: list[dict[str, Any]] = []
        for item in self._query(subject, "P"):
            sk = item["sk"]
            if sk == "PROFILE":
                profile = item
            elif sk == "PROFILING":
                profiling = item
            elif sk.startswith("P#"):
                states[sk[2:]] = item
            elif sk.startswith("PENDING#") and int(item["expires_at"]) > now.timestamp():
                pending.append(item)
        if profile is None or _expired(profile, now):
            return None
        return _Snapshot(subject, profile, profiling, states, pending)

    def _carry_out(
        self, subject: str, now: datetime, plan_for: Callable[[_Snapshot | None], _Plan]
    ) -> SaidNo:
        """Read, plan, write conditionally; plan again from a fresh read if the state
        changed in between. Nothing to change means no write and no event."""
        for _attempt in range(3):
            snapshot = self._snapshot(subject, now)
            plan = plan_for(snapshot)
            if plan.ops:
                reasons = self._transact(plan.ops)
                if reasons is not None:
                    if plan.dedupe is not None and _failed(reasons, plan.dedupe):
                        # The event of this very notification exists: a redelivery.
                        return SaidNo(standing=snapshot.standing() if snapshot else None)
                    continue
            after = None
            if snapshot is not None:
                before = snapshot.standing()
                states = {**before.states, **dict.fromkeys(plan.withdrawn, "withdrawn")}
                after = replace(
                    before,
                    states=dict(sorted(states.items())),
                    profiling=plan.profiling or before.profiling,
                    waiting=before.waiting - set(plan.withdrawn),
                )
            return SaidNo(tuple(plan.withdrawn), plan.profiling, plan.suppressed, after)
        raise LedgerConflict(subject, lang=snapshot.profile.get("lang") if snapshot else None)

    def _transact(self, ops: list[dict[str, Any]]) -> list[str] | None:
        """None when written; else the cancellation reason code of each operation."""
        try:
            self._db.transact_write_items(TransactItems=ops)
        except self._db.exceptions.TransactionCanceledException as exc:
            reasons = exc.response.get("CancellationReasons") or []
            return [str(r.get("Code", "None")) for r in reasons]
        return None

    def _event_put(
        self,
        snapshot: _Snapshot,
        at: str,
        change: str,
        suffix: str,
        kind: str,
        evidence: dict[str, str],
        **attrs: Any,
    ) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._table,
                "Item": _item(
                    pk=_pk(snapshot.subject),
                    sk=_event_sk(at, change, suffix),
                    type=kind,
                    at=at,
                    evidence=evidence,
                    expires_at=snapshot.expires_at,
                    **attrs,
                ),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _plan_withdrawals(
        self,
        plan: _Plan,
        snapshot: _Snapshot,
        purposes: Collection[str],
        evidence: dict[str, str],
        at: str,
        change: str,
    ) -> None:
        pk = _pk(snapshot.subject)
        for purpose in sorted(set(purposes)):
            item = snapshot.states.get(purpose)
            state = item.get("state") if item else None
            asked = any(purpose in p["purposes"] for p in snapshot.pending)
            if state != "granted" and not asked:
                continue  # never granted, or withdrawn before: nothing to say no to
            sets = "#state = :withdrawn, since = :at, basis = if_not_exists(basis, :consent)"
            values: dict[str, Any] = {":withdrawn": "withdrawn", ":at": at, ":consent": "consent"}
            if snapshot.expires_at is not None:
                sets += ", expires_at = :exp"
                values[":exp"] = snapshot.expires_at
            if item is None:
                condition = "attribute_not_exists(pk)"
            else:
                condition = "#state = :was AND since = :since"
                values.update({":was": state, ":since": item["since"]})
            plan.ops.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": _item(pk=pk, sk=f"P#{purpose}"),
                        # Leaving the sparse index at once: no key, no audience row.
                        "UpdateExpression": f"SET {sets} REMOVE aud_pk, aud_sk",
                        "ConditionExpression": condition,
                        "ExpressionAttributeNames": {"#state": "state"},
                        "ExpressionAttributeValues": _item(**values),
                    }
                }
            )
            plan.ops.append(
                self._event_put(
                    snapshot,
                    at,
                    change,
                    f"withdrawn-{purpose}",
                    "withdrawn",
                    {**evidence, "previous": "granted" if state == "granted" else "pending"},
                    purpose=purpose,
                    basis=(item or {}).get("basis", "consent"),
                )
            )
            plan.withdrawn.append(purpose)
        gone = set(plan.withdrawn)
        for pending in snapshot.pending:
            left = [p for p in pending["purposes"] if p not in gone]
            if len(left) == len(pending["purposes"]):
                continue
            key = _item(pk=pk, sk=pending["sk"])
            if left:
                plan.ops.append(
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": key,
                            "UpdateExpression": "SET purposes = :left",
                            "ConditionExpression": "attribute_exists(pk)",
                            "ExpressionAttributeValues": _item(**{":left": left}),
                        }
                    }
                )
            else:
                plan.ops.append(
                    {
                        "Delete": {
                            "TableName": self._table,
                            "Key": key,
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    }
                )

    def _plan_profiling(
        self,
        plan: _Plan,
        snapshot: _Snapshot,
        choice: str | None,
        evidence: dict[str, str],
        at: str,
        change: str,
    ) -> None:
        if choice is None or choice == snapshot.profiling_state:
            return
        put: dict[str, Any] = {
            "TableName": self._table,
            "Item": _item(
                pk=_pk(snapshot.subject),
                sk="PROFILING",
                state=choice,
                since=at,
                expires_at=snapshot.expires_at,
            ),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        if snapshot.profiling is not None:
            put["ConditionExpression"] = "#state = :was"
            put["ExpressionAttributeNames"] = {"#state": "state"}
            put["ExpressionAttributeValues"] = _item(**{":was": snapshot.profiling_state})
        kind = "profiling_objected" if choice == "objected" else "profiling_allowed"
        plan.ops.append({"Put": put})
        plan.ops.append(self._event_put(snapshot, at, change, kind.replace("_", "-"), kind, evidence))
        plan.profiling = choice

    def _plan_suppression(self, plan: _Plan, subject: str, reason: str, at: str) -> None:
        """The marker: a keyed hash, a reason and a date; never an address. The first
        reason stays."""
        plan.ops.append(
            {
                "Update": {
                    "TableName": self._table,
                    "Key": _suppression_key(subject),
                    "UpdateExpression": (
                        "SET #reason = if_not_exists(#reason, :reason), #at = if_not_exists(#at, :at)"
                    ),
                    "ExpressionAttributeNames": {"#reason": "reason", "#at": "at"},
                    "ExpressionAttributeValues": _item(**{":reason": reason, ":at": at}),
                }
            }
        )
        plan.suppressed = True

    def _batch_get(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Consistent batch reads, 100 keys a call, retrying what DynamoDB left over."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {
                self._table: {"Keys": keys[start : start + 100], "ConsistentRead": True}
            }
            while request:
                answer = self._db.batch_get_item(RequestItems=request)
                found += map(_plain, answer["Responses"].get(self._table, []))
                request = answer.get("UnprocessedKeys") or {}
        return found

    # -- reads ----------------------------------------------------------------------

    def pending_mail(self, subject: str, signup_id: str, now: datetime) -> PendingMail | None:
        """The pending signup (and the profile, for signups stored before they kept their own
        address) in one read; None when the signup is gone."""
        pk = _pk(subject)
        answer = self._db.batch_get_item(
            RequestItems={
                self._table: {
                    "Keys": [_item(pk=pk, sk="PROFILE"), _item(pk=pk, sk=f"PENDING#{signup_id}")],
                    "ConsistentRead": True,
                }
            }
        )
        items = {i["sk"]: i for i in map(_plain, answer["Responses"].get(self._table, []))}
        profile, pending = items.get("PROFILE"), items.get(f"PENDING#{signup_id}")
        if not profile or not pending or int(pending["expires_at"]) <= now.timestamp():
            return None
        return PendingMail(
            email=pending.get("email") or profile["email"],
            lang=pending.get("lang") or "nl",
            form_id=pending["form"],
            purposes=tuple(pending["purposes"]),
            expires_at=int(pending["expires_at"]),
            already_sent="mail_sent_at" in pending,
        )

    def _query(self, subject: str, prefix: str) -> Iterable[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": _item(**{":pk": _pk(subject), ":prefix": prefix}),
            "ConsistentRead": True,
        }
        while True:
            page = self._db.query(**kwargs)
            yield from map(_plain, page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def contact(self, subject: str, now: datetime) -> dict[str, Any] | None:
        """Profile, per-purpose state and pending signups; None for nobody (or expired).

        A purpose's status is what was last confirmed or withdrawn; ``pending`` only while
        nothing was. ``pending_signup`` tells that an unconfirmed signup asks for it.
        Name and language are the confirmed ones (None while nothing is confirmed).
        """
        snapshot = self._snapshot(subject, now)
        if snapshot is None:
            return None
        profile, profiling = snapshot.profile, snapshot.profiling
        waiting = snapshot.waiting
        purposes: dict[str, dict[str, Any]] = {}
        for purpose, item in snapshot.states.items():
            purposes[purpose] = {
                "status": item["state"],
                "basis": item.get("basis", "consent"),
                "since": item["since"],
                "pending_signup": purpose in waiting,
            }
        for item in sorted(snapshot.pending, key=lambda i: i["requested_at"]):
            for purpose in item["purposes"]:
                if purpose not in snapshot.states:
                    purposes[purpose] = {
                        "status": "pending",
                        "basis": "consent",
                        "since": item["requested_at"],
                        "pending_signup": True,
                    }
        return {
            "email": profile["email"],
            "name": profile.get("name"),
            "lang": profile.get("lang"),
            "purposes": dict(sorted(purposes.items())),
            "profiling": (profiling or {}).get("state", "allowed"),
            "suppressed": self.suppression(subject) is not None,
        }

    def addresses(self, subjects: Iterable[str]) -> dict[str, str]:
        """subject -> address, for the people whose address is proven (a confirmed signup,
        a soft opt-in, an import with proof): consistent batch reads of their profiles.
        A pending-only person (numeric ``expires_at``) or an erased one has none to give:
        an address nobody confirmed never leaves the ledger (issue 14, pushed changes)."""
        keys = [_item(pk=_pk(s), sk="PROFILE") for s in sorted(set(subjects))]
        found = {}
        for item in self._batch_get(keys):
            pending_only = isinstance(item.get("expires_at"), (int, Decimal))
            if not pending_only and item.get("email"):
                found[str(item["pk"])[len(_pk("")) :]] = str(item["email"])
        return found

    def suppression(self, subject: str) -> dict[str, Any] | None:
        """The suppression marker of a subject, if any: reason and date, never an address."""
        answer = self._db.get_item(TableName=self._table, Key=_suppression_key(subject), ConsistentRead=True)
        return _plain(answer["Item"]) if "Item" in answer else None

    def events(self, subject: str, now: datetime) -> list[dict[str, Any]]:
        """Every event, oldest first, each consent event with the exact text it shows."""
        items = [i for i in self._query(subject, "E#") if not _expired(i, now)]
        versions = {
            i["evidence"]["text_version"]
            for i in items
            if "text_version" in i.get("evidence", {}) and "text" not in i["evidence"]
        }
        texts = self.texts(versions)
        events = []
        for item in items:
            evidence = dict(item.get("evidence", {}))
            version = evidence.get("text_version")
            if version and "text" not in evidence:  # an imported text is in its own event
                evidence["text"] = texts.get(version, {}).get("text")
            event: dict[str, Any] = {"type": item["type"], "at": item["at"]}
            if "purpose" in item:
                event["purpose"] = item["purpose"]
            if "basis" in item:
                event["basis"] = item["basis"]
            if "signup" in item:
                evidence.setdefault("signup_id", item["signup"])
            event["evidence"] = evidence
            events.append(event)
        return events

    def texts(self, versions: Iterable[str]) -> dict[str, dict[str, Any]]:
        keys = [_item(pk=f"TEXT#{v}", sk="TEXT") for v in sorted(set(versions))]
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), 100):
            request = {self._table: {"Keys": keys[start : start + 100]}}
            while request:
                answer = self._db.batch_get_item(RequestItems=request)
                for item in map(_plain, answer["Responses"].get(self._table, [])):
                    found[item["pk"][5:]] = item
                request = answer.get("UnprocessedKeys") or {}
        return found

    # -- proof and rights -------------------------------------------------------------
    # Soft opt-ins and imports grant without a confirmation click, so each checks inside
    # its own transaction that no suppression marker holds the subject and that the
    # person did not withdraw the purpose. Erasure deletes the person's partition and
    # leaves only the marker (a keyed hash, a reason, a date) and, for a limited time,
    # the record that it was done.

    def _transact_or_raise(self, ops: list[dict[str, Any]]) -> None:
        """One transaction. A clash with a concurrent one is retried; a failed condition
        raises _Cancelled with each operation's cancellation code."""
        for attempt in range(_CONFLICT_RETRIES + 1):
            try:
                self._db.transact_write_items(TransactItems=ops)
                return
            except self._db.exceptions.TransactionCanceledException as exc:
                codes = _cancellation_codes(exc)
                if "TransactionConflict" in codes and attempt < _CONFLICT_RETRIES:
                    time.sleep(0.02 * 2**attempt)
                    continue
                raise _Cancelled(codes) from exc

    def _refusal(self, subject: str, codes: Sequence[str], purposes: Sequence[str]) -> LedgerError:
        """The domain error for cancelled [marker check, *anything, *one op per purpose]."""
        failed = "ConditionalCheckFailed"
        if codes and codes[0] == failed:
            marker = self.suppression(subject) or {}
            return Suppressed(marker.get("reason"))
        tail = list(codes[-len(purposes) :]) if purposes else []
        for purpose, code in zip(purposes, tail, strict=False):
            if code == failed:
                return PurposeWithdrawn(purpose)
        return LedgerError(f"transaction cancelled: {', '.join(codes)}")

    def _not_suppressed(self, subject: str) -> dict[str, Any]:
        return {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": _suppression_key(subject),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _not_withdrawn(self, subject: str, purpose: str) -> dict[str, Any]:
        return {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": _item(pk=_pk(subject), sk=f"P#{purpose}"),
                "ConditionExpression": "attribute_not_exists(#state) OR #state <> :withdrawn",
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": _item(**{":withdrawn": "withdrawn"}),
            }
        }

    def _retain_profile(
        self, subject: str, *, email: str, name: str | None, lang: str, at: str
    ) -> dict[str, Any]:
        """Create or keep the profile, retained from now on: a grant makes it proof."""
        sets = [
            "email = if_not_exists(email, :email)",
            "lang = if_not_exists(lang, :lang)",
            "created_at = if_not_exists(created_at, :at)",
            "retained_since = if_not_exists(retained_since, :at)",
        ]
        values: dict[str, Any] = {":email": email, ":lang": lang, ":at": at}
        if name:
            sets.append("#name = if_not_exists(#name, :name)")
            values[":name"] = name
        return {
            "Update": {
                "TableName": self._table,
                "Key": _item(pk=_pk(subject), sk="PROFILE"),
                "UpdateExpression": "SET " + ", ".join(sets) + " REMOVE expires_at",
                "ExpressionAttributeValues": _item(**values),
                **({"ExpressionAttributeNames": {"#name": "name"}} if name else {}),
            }
        }

    def _grant_unless_withdrawn(self, subject: str, purpose: str, basis: str, at: str) -> dict[str, Any]:
        """Grant a purpose unless the person withdrew it.

        Proven consent (an import with evidence) sets basis ``consent`` and its time; a
        soft opt-in never downgrades an existing grant by consent nor moves its date.
        """
        if basis == "consent":
            assigns = "basis = :basis, since = :at"
        else:
            assigns = "basis = if_not_exists(basis, :basis), since = if_not_exists(since, :at)"
        return {
            "Update": {
                "TableName": self._table,
                "Key": _item(pk=_pk(subject), sk=f"P#{purpose}"),
                "UpdateExpression": (f"SET #state = :granted, {assigns}, aud_pk = :aud_pk, aud_sk = :aud_sk"),
                "ConditionExpression": "attribute_not_exists(#state) OR #state <> :withdrawn",
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": _item(
                    **{
                        ":granted": "granted",
                        ":withdrawn": "withdrawn",
                        ":basis": basis,
                        ":at": at,
                        ":aud_pk": f"A#{purpose}",
                        ":aud_sk": subject,
                    }
                ),
            }
        }

    def _event(
        self,
        subject: str,
        *,
        at: str,
        event_id: str,
        type: str,
        evidence: Mapping[str, Any],
        purpose: str | None = None,
        basis: str | None = None,
        expires_at: int | None = None,
    ) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._table,
                "Item": _item(
                    pk=_pk(subject),
                    sk=_event_sk(at, event_id, purpose or type),
                    type=type,
                    at=at,
                    purpose=purpose,
                    basis=basis,
                    evidence=dict(evidence),
                    expires_at=expires_at,
                ),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def record_soft_opt_in(
        self,
        *,
        subject: str,
        email: str,
        name: str | None,
        lang: str,
        purposes: Sequence[str],
        proof: Mapping[str, Any],
        evidence: Evidence,
        now: datetime,
    ) -> None:
        """Grant purposes with basis soft_opt_in and record the sale that proves it.

        One transaction: raises Suppressed or PurposeWithdrawn, and then writes nothing.
        """
        proven = {**evidence.as_dict(), **proof}
        self._grant_with_proof(
            subject,
            email=email,
            name=name,
            lang=lang,
            grants=[(p, "soft_opt_in", "soft_opt_in_recorded", proven) for p in purposes],
            now=now,
        )

    def _grant_with_proof(
        self,
        subject: str,
        *,
        email: str,
        name: str | None,
        lang: str,
        grants: Sequence[tuple[str, str, str, dict[str, Any]]],
        now: datetime,
    ) -> None:
        """Grants that need no confirmation click (a sale, an import with proof): each
        (purpose, basis, event type, evidence) gets its event and its state in one
        transaction that also checks the suppression marker and keeps the profile."""
        at = iso(now)
        event_id = new_id()
        ops = [
            self._not_suppressed(subject),
            self._retain_profile(subject, email=email, name=name, lang=lang, at=at),
        ]
        states = []
        for purpose, basis, kind, proof in grants:
            ops.append(
                self._event(
                    subject, at=at, event_id=event_id, type=kind, purpose=purpose, basis=basis, evidence=proof
                )
            )
            states.append(self._grant_unless_withdrawn(subject, purpose, basis, at))
        try:
            self._transact_or_raise(ops + states)
        except _Cancelled as exc:
            raise self._refusal(subject, exc.codes, [g[0] for g in grants]) from exc

    def store_texts(self, texts: Iterable[ConsentText], form_id: str, now: datetime) -> None:
        """Store texts once under their versions before the rows that point at them.

        Every signup of a form shares its texts: writing each once per container, before
        and outside the signups' transactions, keeps that hot item out of them (DynamoDB
        cancels concurrent transactions on one item). A text is written before any event
        can point at it, and never overwritten.
        """
        at = iso(now)
        for text in texts:
            if (self._table, text.version) not in _STORED_TEXTS:
                self._db.update_item(**self._text_snapshot(text, form_id, at)["Update"])
                _STORED_TEXTS.add((self._table, text.version))

    def record_import(
        self,
        *,
        subject: str,
        email: str,
        name: str | None,
        lang: str,
        texts: Sequence[ConsentText],
        proof: Mapping[str, Any],
        evidence: Evidence,
        now: datetime,
    ) -> None:
        """Grant an imported row's purposes as proven consent, with its evidence.

        The sending system typed the text: it may hold personal data, so it is kept in the
        row's own events (erased with the person), never in a shared TEXT# item. One
        transaction: raises Suppressed or PurposeWithdrawn, and then writes nothing.
        """
        base = {**evidence.as_dict(), **proof, "form": "import"}
        grants = [
            (
                t.purpose,
                "consent",
                "imported",
                {**base, "lang": t.lang, "text_version": t.version, "text": t.text},
            )
            for t in texts
        ]
        self._grant_with_proof(subject, email=email, name=name, lang=lang, grants=grants, now=now)

    def record_import_signup(
        self,
        *,
        subject: str,
        email: str,
        name: str | None,
        lang: str,
        texts: Sequence[ConsentText],
        evidence: Evidence,
        now: datetime,
        retention_seconds: int,
        guard_seconds: int,
        caps: Sequence[RateCap] = (),
    ) -> Signup:
        """An imported row without proof: a pending signup exactly like a form's, never a grant.

        Capped like a form's signup (``caps``: RateLimited when over).

        The same transaction refuses a suppressed subject or a withdrawn purpose, and sets
        a guard so that a later import of the address sends no second mail while it
        lasts. Raises Suppressed, PurposeWithdrawn or AlreadyAsked. The texts must be
        stored already (store_texts).
        """
        at = iso(now)
        guard = {
            "Put": {
                "TableName": self._table,
                "Item": _item(
                    pk=_pk(subject),
                    sk="IMPORT",
                    asked_at=at,
                    expires_at=int(now.timestamp()) + guard_seconds,
                ),
                "ConditionExpression": "attribute_not_exists(pk) OR expires_at <= :now",
                "ExpressionAttributeValues": _item(**{":now": int(now.timestamp())}),
            }
        }
        purposes = [t.purpose for t in texts]
        checks = [
            self._not_suppressed(subject),
            guard,
            *(self._not_withdrawn(subject, p) for p in purposes),
        ]
        for attempt in range(_CONFLICT_RETRIES + 1):
            try:
                return self.record_signup(
                    subject=subject,
                    email=email,
                    name=name,
                    lang=lang,
                    form_id="import",
                    texts=texts,
                    evidence=evidence,
                    now=now,
                    retention_seconds=retention_seconds,
                    extra_ops=checks,
                    snapshots=False,
                    caps=caps,
                )
            except self._db.exceptions.TransactionCanceledException as exc:
                codes = _cancellation_codes(exc)[-len(checks) :]
                if "TransactionConflict" in codes and attempt < _CONFLICT_RETRIES:
                    time.sleep(0.02 * 2**attempt)
                    continue
                if codes[:1] != ["ConditionalCheckFailed"] and codes[1:2] == ["ConditionalCheckFailed"]:
                    raise AlreadyAsked(subject) from exc
                raise self._refusal(subject, codes, purposes) from exc
        raise LedgerError("unreachable")  # pragma: no cover

    def open_request(
        self,
        *,
        subject: str,
        request_id: str,
        kind: str,
        now: datetime,
        lifetime_seconds: int,
        caps: Sequence[RateCap] = (),
    ) -> RequestMail | None:
        """Record an access or erasure request of a known person; None sends no mail.

        None when the subject is unknown (nothing is stored then), when a request of this
        kind is open already (its link still works: one mail per link lifetime, so nobody
        can bomb an address with request mail), or when this job's mail went before.
        The mail is counted against ``caps`` in the same write that opens the request,
        only for a known person: RateLimited when over (nothing is written then). A
        redelivered job whose request is open but unmailed is not counted again.
        """
        pk = _pk(subject)
        answer = self._db.batch_get_item(
            RequestItems={
                self._table: {
                    "Keys": [_item(pk=pk, sk="PROFILE"), _item(pk=pk, sk=f"REQUEST#{kind}")],
                    "ConsistentRead": True,
                }
            }
        )
        items = {i["sk"]: i for i in map(_plain, answer["Responses"].get(self._table, []))}
        profile, request = items.get("PROFILE"), items.get(f"REQUEST#{kind}")
        if profile is None or _expired(profile, now):
            return None
        open_request = request is not None and not _expired(request, now)
        if open_request and (request.get("id") != request_id or "mail_sent_at" in request):
            return None
        person = RequestMail(
            email=profile["email"], name=profile.get("name"), lang=profile.get("lang") or "nl"
        )
        if open_request:
            return person  # this job's own request, opened and counted before its mail failed
        put = {
            "Put": {
                "TableName": self._table,
                "Item": _item(
                    pk=pk,
                    sk=f"REQUEST#{kind}",
                    id=request_id,
                    type=kind,
                    requested_at=iso(now),
                    expires_at=int(now.timestamp()) + lifetime_seconds,
                ),
                "ConditionExpression": "attribute_not_exists(pk) OR expires_at <= :now OR id = :id",
                "ExpressionAttributeValues": _item(**{":now": int(now.timestamp()), ":id": request_id}),
            }
        }
        counters = [self._rate_counter(cap, now) for cap in caps]
        try:
            self._transact_with_counters([*counters, put], [cap.name for cap in caps])
        except self._db.exceptions.TransactionCanceledException as exc:
            if _cancellation_codes(exc)[-1:] == ["ConditionalCheckFailed"]:
                return None  # another job opened a request of this kind meanwhile
            raise  # a clash that outlasted the retry: the queue delivers the job again
        return person

    def record_request_mail_sent(
        self, *, subject: str, kind: str, request_id: str, sent_at: str, message_id: str
    ) -> bool:
        """Mark a request's mail as sent; False when it already was (a redelivered job)."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key=_item(pk=_pk(subject), sk=f"REQUEST#{kind}"),
                UpdateExpression="SET mail_sent_at = :at, message_id = :mid",
                ConditionExpression="id = :id AND attribute_not_exists(mail_sent_at)",
                ExpressionAttributeValues=_item(**{":at": sent_at, ":mid": message_id, ":id": request_id}),
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def record_access_export(self, *, subject: str, evidence: Evidence, now: datetime) -> bool:
        """Record that the person took their data; False when nobody is on file."""
        pk = _pk(subject)
        answer = self._db.get_item(TableName=self._table, Key=_item(pk=pk, sk="PROFILE"), ConsistentRead=True)
        profile = _plain(answer["Item"]) if "Item" in answer else None
        if profile is None or _expired(profile, now):
            return False
        expires = profile.get("expires_at")
        at = iso(now)
        ops = [
            {
                "ConditionCheck": {
                    "TableName": self._table,
                    "Key": _item(pk=pk, sk="PROFILE"),
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
            self._event(
                subject,
                at=at,
                event_id=new_id(),
                type="access_exported",
                evidence=evidence.as_dict(),
                # A pending-only person's history still expires with them.
                expires_at=int(expires) if isinstance(expires, (int, Decimal)) else None,
            ),
        ]
        try:
            self._transact_or_raise(ops)
        except _Cancelled:
            return False
        return True

    def _partition(self, subject: str, *, keys_only: bool = False) -> Iterable[dict[str, Any]]:
        """Every item under the person's key, whatever its kind."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": _item(**{":pk": _pk(subject)}),
            "ConsistentRead": True,
        }
        if keys_only:
            kwargs["ProjectionExpression"] = "pk, sk"
        while True:
            page = self._db.query(**kwargs)
            yield from map(_plain, page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def export(self, subject: str, now: datetime) -> dict[str, Any] | None:
        """Everything held about a person (GDPR art. 15, 20); None for nobody.

        Profile, per-purpose states, profiling, every event with the exact texts agreed
        to, the suppression status, and every other record under the person's key
        (pending signups, requests, an import's guard, and kinds added later).
        """
        contact = self.contact(subject, now)
        if contact is None:
            return None
        profile: dict[str, Any] = {}
        profiling: dict[str, Any] = {"state": contact["profiling"]}
        records: list[dict[str, Any]] = []
        for item in self._partition(subject):
            sk = item["sk"]
            if sk.startswith(("P#", "E#")) or _expired(item, now):
                continue  # states and events are answered in full below; expired is gone
            if sk == "PROFILE":
                profile = _public(item)
            elif sk == "PROFILING":
                profiling = _public(item)
            else:
                records.append({"record": sk.split("#", 1)[0].lower(), **_public(item)})
        marker = self.suppression(subject)
        return {
            "profile": profile,
            "purposes": contact["purposes"],
            "profiling": profiling,
            "events": self.events(subject, now),
            "records": records,
            "suppression": {"reason": marker.get("reason"), "at": marker.get("at")} if marker else None,
        }

    def erase(self, *, subject: str, now: datetime, channel: str, record_seconds: int) -> int:
        """Delete every item of a person and leave the suppression marker; the count deleted.

        The marker goes first, so an import racing the erasure is refused; a repeat is
        harmless (the marker put is conditional, the deletes find nothing). The record
        that an erasure happened holds no address and expires after ``record_seconds``.
        """
        at = iso(now)
        if self._journal:
            # First, outside the table: a restore from backup replays it (scripts/ops.py), so
            # nobody erased after the restore point comes back. Subject hash and time only.
            self._db.put_item(
                TableName=self._journal,
                Item=_item(subject=subject, erased_at=at, expires_at=int(now.timestamp()) + JOURNAL_SECONDS),
            )
        try:
            self._db.put_item(
                TableName=self._table,
                Item={**_suppression_key(subject), **_item(reason="erasure", at=at)},
                ConditionExpression="attribute_not_exists(pk) OR reason <> :erasure",
                ExpressionAttributeValues=_item(**{":erasure": "erasure"}),
            )
            marked = True
        except self._db.exceptions.ConditionalCheckFailedException:
            marked = False
        keys = [_item(pk=i["pk"], sk=i["sk"]) for i in self._partition(subject, keys_only=True)]
        for start in range(0, len(keys), 25):
            request = {self._table: [{"DeleteRequest": {"Key": k}} for k in keys[start : start + 25]]}
            for attempt in range(8):
                answer = self._db.batch_write_item(RequestItems=request)
                request = answer.get("UnprocessedItems") or {}
                if not request:
                    break
                time.sleep(0.05 * 2**attempt)
            if request:
                raise LedgerError("erasure incomplete: DynamoDB kept refusing deletes; run it again")
        if keys or marked:
            self._db.put_item(
                TableName=self._table,
                Item=_item(
                    pk=f"SUPPRESS#{subject}",
                    sk=f"E#{at}#erased",
                    type="erased",
                    at=at,
                    evidence={"channel": channel, "items_deleted": len(keys)},
                    expires_at=int(now.timestamp()) + record_seconds,
                ),
            )
        return len(keys)


JOURNAL_SECONDS = 36 * 86400
"""How long the erasure journal remembers an erasure: point-in-time recovery reaches 35 days
back, so an older erasure is in every restore point already."""


# Text versions this container has stored (per table): a text is written once and never
# changes, so one write per container and version is enough.
_STORED_TEXTS: set[tuple[str, str]] = set()


def clear_cache() -> None:
    """Forget which texts are stored (a new container would; tests use a fresh table each)."""
    _STORED_TEXTS.clear()


def _expired(item: dict[str, Any], now: datetime) -> bool:
    """TTL deletes lazily (up to days late): an item past its expiry counts as gone."""
    expires = item.get("expires_at")
    if expires is None or isinstance(expires, str):
        return False
    return int(expires) <= now.timestamp()


def _pending_of(snapshot: _Snapshot | None, signup_id: str) -> dict[str, Any] | None:
    """The signup's pending item while it waits (not expired, not confirmed, not emptied)."""
    if snapshot is None:
        return None
    return next((p for p in snapshot.pending if p["sk"] == f"PENDING#{signup_id}"), None)


def _confirmed_by(snapshot: _Snapshot | None, signup_id: str) -> bool:
    """Whether this signup granted something once: a grant keeps its signup's id, also
    after a later withdrawal, so an old link never grants again."""
    return snapshot is not None and any(i.get("signup") == signup_id for i in snapshot.states.values())


_CONFLICT_RETRIES = 4


def _cancellation_codes(exc: Exception) -> list[str]:
    """The code of each operation of a cancelled transaction ("None" for those that passed)."""
    reasons = getattr(exc, "response", {}).get("CancellationReasons") or []
    return [str(r.get("Code") or "None") for r in reasons]


def _public(item: dict[str, Any]) -> dict[str, Any]:
    """An item as a person may read it: no keys, numbers as numbers, expiry as a time."""
    out: dict[str, Any] = {}
    for key, value in item.items():
        if key in ("pk", "sk", "aud_pk", "aud_sk"):
            continue
        if isinstance(value, Decimal):
            value = int(value) if value == value.to_integral_value() else float(value)
            if key == "expires_at":
                value = iso(datetime.fromtimestamp(value, UTC))
        out[key] = value
    return out


@lru_cache(maxsize=4)
def _client(region: str) -> DynamoDBClient:
    import boto3

    return boto3.client("dynamodb", region_name=region)


def get_ledger() -> Ledger:
    """The ledger for the current stage; the client is built on first use and reused."""
    settings = get_settings()
    return Ledger(_client(settings.region), settings.table_name, settings.erasure_journal)
