"""Signing up and confirming: the pending signup, its confirmation mail, the grant.

An unconfirmed signup changes nothing anyone reads about a person: its name and language
stay on its own pending item (its confirmation mail and its confirmation need them) until
``confirm`` writes them to the profile.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from chalicelib.ledger import claims, layout
from chalicelib.ledger.counters import Counters, counted, over_cap
from chalicelib.ledger.errors import AlreadyConfirmed, LedgerConflict, Refused, SignupGone
from chalicelib.ledger.layout import Key, iso, new_id, utc_now
from chalicelib.ledger.records import Evidence, PendingMail, Person, RateCap, Signup, SignupNow, Snapshot
from chalicelib.ledger.table import PLANS, Op, Transaction

if TYPE_CHECKING:
    from chalicelib.catalogue import ConsentText


class Asked(TypedDict):
    """What a pending signup asks and when: a form's, or an imported row's without proof."""

    texts: Sequence[ConsentText]
    evidence: Evidence
    now: datetime
    retention_seconds: int


# Text versions this container has stored (per table): a text is written once and never
# changes, so one write per container and version is enough.
_STORED_TEXTS: set[tuple[str, str]] = set()


def clear_cache() -> None:
    """Forget which texts are stored (a new container would; tests use a fresh table each)."""
    _STORED_TEXTS.clear()


class Signups(Counters):
    def record_signup(
        self, person: Person, *, form_id: str, caps: Sequence[RateCap] = (), **asked: Unpack[Asked]
    ) -> Signup:
        """Pending state and one signup_requested event naming its purposes: one call (the
        texts are stored once per container, before it).

        Each cap's counter is incremented in the same transaction, on condition that it is
        below its limit: a capped signup writes nothing and raises RateLimited.
        """
        self.store_texts(asked["texts"], form_id, asked["now"])
        tx = counted(self.table.transaction(), caps, asked["now"])
        signup = self._pending_signup(tx, person, form_id, **asked)
        try:
            tx.commit()
        except Refused as refused:
            raise over_cap(refused) or refused from refused
        return signup

    def _pending_signup(
        self, tx: Transaction, person: Person, form_id: str, **asked: Unpack[Asked]
    ) -> Signup:
        """Add a pending signup to ``tx``: the profile's address and expiry, the signup,
        and one event that names its purposes, each with the version of the text shown for
        it (LAW 2, 5: one item for all of them, half the write units of one per purpose;
        the events API lists the purposes and each one's exact text). The texts must be
        stored already."""
        texts, evidence, now = asked["texts"], asked["evidence"], asked["now"]
        retention_seconds = asked["retention_seconds"]
        subject = person.subject
        signup_id = new_id()
        at = iso(now)
        expires = int(now.timestamp()) + retention_seconds
        purposes = tuple(t.purpose for t in texts)
        # Only what makes the person findable and lets them expire: the address (the key's
        # own), when first seen, the expiry of a pending-only person. Name and language wait
        # on the pending signup until its confirmation writes them.
        tx.update(
            "profile",
            layout.profile(subject),
            "SET email = if_not_exists(email, :email), created_at = if_not_exists(created_at, :at),"
            " expires_at = if_not_exists(retained_since, :exp)",
            values={":email": person.email, ":at": at, ":exp": expires},
        )
        requested = layout.event(subject, at, signup_id, REQUESTED)
        tx.put(
            "pending",
            {
                **layout.pending(subject, signup_id),
                "purposes": list(purposes),
                # What the confirmation mail and page repeat: the texts the visitor read.
                "texts": {t.purpose: t.version for t in texts},
                "form": form_id,
                "email": person.email,
                "name": person.name or None,
                "lang": person.lang,
                "requested_at": at,
                "expires_at": expires,
                "event": REQUESTED,
            },
            condition="attribute_not_exists(pk)",
        )
        tx.event(
            "requested",
            requested,
            type="signup_requested",
            at=at,
            purposes=list(purposes),
            signup=signup_id,
            expires_at=expires,
            evidence={
                **evidence.as_dict(),
                "form": form_id,
                "lang": person.lang,
                "text_versions": {text.purpose: text.version for text in texts},
            },
        )
        return Signup(signup_id, subject, at, purposes)

    def store_texts(self, texts: Iterable[ConsentText], form_id: str, now: datetime) -> None:
        """Store texts once under their versions before the rows that point at them.

        Every signup of a form shares its texts: writing each once per container, before
        and outside the signups' transactions, keeps that hot item out of them (DynamoDB
        cancels concurrent transactions on one item). A text is written before any event
        can point at it, and never overwritten.
        """
        at = iso(now)
        for text in texts:
            if (self.table.name, text.version) not in _STORED_TEXTS:
                self.table.write(
                    Op.update(
                        "text",
                        layout.text(text.version),
                        "SET #text = if_not_exists(#text, :text), purpose = if_not_exists(purpose, :p),"
                        " lang = if_not_exists(lang, :lang), form = if_not_exists(form, :form),"
                        " first_shown = if_not_exists(first_shown, :at)",
                        names={"#text": "text"},
                        values={
                            ":text": text.text,
                            ":p": text.purpose,
                            ":lang": text.lang,
                            ":form": form_id,
                            ":at": at,
                        },
                    )
                )
                _STORED_TEXTS.add((self.table.name, text.version))

    # -- the confirmation mail -----------------------------------------------------------

    def claim_confirmation(self, subject: str, signup_id: str, now: datetime) -> PendingMail | None:
        """Claim the signup's confirmation mail for this delivery of its job (claims.py):
        one conditional update that also reads the signup. None when the signup is gone,
        expired or mailed; raises Busy while another delivery's claim lasts."""
        pending = claims.claim(
            self.table,
            "pending",
            layout.pending(subject, signup_id),
            "attribute_exists(pk) AND expires_at > :now AND attribute_not_exists(mail_sent_at)",
            now,
        )
        if pending is None:
            return None
        # Signups stored before they kept their own address: the profile has it.
        email = pending.get("email") or (self.table.get(layout.profile(subject)) or {}).get("email")
        return PendingMail(
            email=str(email),
            lang=pending.get("lang") or "nl",
            form_id=pending["form"],
            purposes=tuple(pending["purposes"]),
            expires_at=int(pending["expires_at"]),
            already_sent=False,
            claim=str(pending["claim"]),
            texts=_texts(pending),
        )

    def release_confirmation(self, subject: str, signup_id: str, claim: str) -> None:
        """The mail could not be sent: the queue's retry may claim it at once."""
        claims.release(self.table, "pending", layout.pending(subject, signup_id), claim)

    def record_confirmation_sent(
        self, *, subject: str, signup_id: str, sent_at: str, message_id: str
    ) -> bool:
        """Mark the signup's mail as sent, with SES's message id; False when it already was
        (a redelivered job).

        One conditional update of the signup (1 write unit), no transaction: its
        confirmation_sent event is written by the confirmation, from what this records, in
        the transaction that makes it proof. A signup never confirmed keeps the record on
        its pending item until both expire; before issue 16 each mail job wrote the event
        here, in a transaction of two items (4 write units)."""
        try:
            self.table.write(
                Op.update(
                    "pending",
                    layout.pending(subject, signup_id),
                    f"SET mail_sent_at = :at, message_id = :id {claims.RELEASED}",
                    condition="attribute_exists(pk) AND attribute_not_exists(mail_sent_at)",
                    values={":at": sent_at, ":id": message_id},
                )
            )
        except Refused:
            return False
        return True

    # -- confirming ------------------------------------------------------------------------

    def signup_now(self, subject: str, signup_id: str, now: datetime) -> SignupNow:
        """What confirming this signup would grant at this moment: one read, nothing written."""
        snapshot = self.snapshot(subject, now)
        pending = snapshot.pending_signup(signup_id) if snapshot else None
        if pending is not None:
            return SignupNow(tuple(pending["purposes"]), confirmed=False, texts=_texts(pending))
        return SignupNow((), confirmed=snapshot is not None and snapshot.confirmed_by(signup_id))

    def confirm(
        self,
        *,
        subject: str,
        signup_id: str,
        sent_at: str,
        evidence: Evidence,
        now: datetime,
    ) -> SignupNow:
        """Grant what the signup still holds: two reads (the person, and whether a
        suppression marker is to be lifted), then one conditional transaction.

        Returns the purposes granted and the texts they were granted on. A purpose
        withdrawn after the mail was sent left the signup then (say_no), so it is not
        granted. The signup's name and language become
        the profile's: the person proved the address is theirs (an unconfirmed signup never
        writes them, so nobody else can). The signup's events lose their expiry: they are
        now proof. A confirmed signup is fresh consent: it lifts a suppression marker.

        The transaction is conditioned on the signup as read: a withdrawal in between
        cancels it, and it is planned again from a fresh read. Raises AlreadyConfirmed when
        it was confirmed before, SignupGone when it is unknown, expired, erased or has
        nothing left to grant, LedgerConflict when it kept changing.
        """
        suppressed: bool | None = None
        for _plan in range(PLANS):
            snapshot = self.snapshot(subject, now)
            pending = snapshot.pending_signup(signup_id) if snapshot else None
            if snapshot is None or pending is None:
                if snapshot is not None and snapshot.confirmed_by(signup_id):
                    raise AlreadyConfirmed(signup_id)
                raise SignupGone(signup_id)
            if suppressed is None:
                # Whether there is a marker to lift: 1 read unit, where deleting one that is
                # almost never there cost 2 write units in every confirmation.
                suppressed = self.suppression(subject) is not None
            try:
                self._confirmation(snapshot, pending, signup_id, sent_at, evidence, now, suppressed).commit()
            except Refused:
                now = max(utc_now(), now)  # a later change won the race: stamp after it
                continue
            except LedgerConflict as exc:
                raise LedgerConflict(subject) from exc
            return SignupNow(tuple(pending["purposes"]), confirmed=True, texts=_texts(pending))
        raise LedgerConflict(subject)

    def _confirmation(
        self,
        snapshot: Snapshot,
        pending: dict[str, Any],
        signup_id: str,
        sent_at: str,
        evidence: Evidence,
        now: datetime,
        suppressed: bool,
    ) -> Transaction:
        """The confirmation's one transaction: the signup taken, the profile retained, the
        signup's request and mail events kept as proof, each purpose granted, and one
        confirmed event naming the purposes granted (7 items for two purposes)."""
        subject = snapshot.subject
        at = iso(now)
        requested_at = str(pending["requested_at"])
        purposes = list(pending["purposes"])
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
        tx = self.table.transaction()
        tx.delete(
            "pending",
            layout.pending(subject, signup_id),
            # Exactly as read: a withdrawal since then cancels this grant.
            condition="attribute_exists(pk) AND expires_at > :now AND purposes = :purposes",
            values={":now": int(now.timestamp()), ":purposes": purposes},
        )
        tx.update(
            "profile",
            layout.profile(subject),
            "SET " + ", ".join(profile_sets) + " REMOVE expires_at",
            names={"#name": "name"} if ":name" in profile_values else None,
            values=profile_values,
        )
        if suppressed:
            # A confirmed double opt-in is the person's own new yes: it lifts an earlier
            # suppression (unsubscribed, complaint, bounce), or they could never be mailed again.
            tx.delete("unsuppress", layout.suppression(subject))
        # The signup's request events lose their expiry: they are now proof.
        for label, key in _requested_events(subject, pending, signup_id):
            tx.update(label, key, "REMOVE expires_at", condition="attribute_exists(pk)")
        _mail_event(tx, subject, pending, signup_id, sent_at, at)
        for purpose in purposes:
            grant_state(
                tx,
                f"state:{purpose}",
                subject,
                purpose,
                "basis = :consent, since = :at, signup = :signup",
                # Nothing stamped later may be overwritten: a withdrawal that won a race
                # stays the last word, and this grant is stamped anew after it.
                condition="attribute_not_exists(since) OR since < :at",
                values={":consent": "consent", ":at": at, ":signup": signup_id},
            )
        tx.event(
            "confirmed",
            layout.event(subject, at, signup_id, CONFIRMED),
            type="confirmed",
            at=at,
            purposes=purposes,
            basis="consent",
            signup=signup_id,
            evidence={**evidence.as_dict(), "requested_at": requested_at},
        )
        return tx


REQUESTED = "requested"
"""The key suffix of a signup's one signup_requested event (its pending item names it)."""
SENT = "confirmation_sent"
CONFIRMED = "confirmed"
"""Suffixes of the events a confirmation writes; within one change they sort in the order
written ("confirmation_sent" < "confirmed"), so a listing by key is the order of writing."""


def _requested_events(subject: str, pending: dict[str, Any], signup_id: str) -> list[tuple[str, Key]]:
    """The signup_requested events of a pending signup: the one whose key suffix it names, or for a
    signup stored before issue 16, one per purpose it still holds (a purpose withdrawn since
    keeps its expiry and goes with the withdrawal's evidence)."""
    requested_at = str(pending["requested_at"])
    if "event" in pending:
        return [("requested", layout.event(subject, requested_at, signup_id, str(pending["event"])))]
    return [
        (f"requested:{purpose}", layout.event(subject, requested_at, signup_id, purpose))
        for purpose in pending["purposes"]
    ]


def _mail_event(
    tx: Transaction, subject: str, pending: dict[str, Any], signup_id: str, sent_at: str, at: str
) -> None:
    """The confirmation mail's event, which the confirmation writes: the mail job only marks
    the signup (mail_sent_at, message_id). The mail was provably sent (the token came from
    it), so it is written even if the job died before marking. A mail job before issue 16
    wrote the event itself (its signup has mail_sent_at but no message_id): that event is
    kept instead. Recorded at the confirmation's time (its key, its ``at``: the hash chain files
    every event under the time it was written), the mail's own time in ``evidence.sent_at``."""
    if "mail_sent_at" in pending and "message_id" not in pending:
        tx.update(
            "sent",
            layout.event(subject, str(pending["mail_sent_at"]), signup_id, "sent"),
            "REMOVE expires_at",
            condition="attribute_exists(pk)",
        )
        return
    evidence = {"channel": "email", "sent_at": str(pending.get("mail_sent_at") or sent_at)}
    if "message_id" in pending:
        evidence["message_id"] = str(pending["message_id"])
    tx.event(
        "sent",
        layout.event(subject, at, signup_id, SENT),
        type="confirmation_sent",
        at=at,
        signup=signup_id,
        evidence=evidence,
    )


def grant_state(
    tx: Transaction,
    label: str,
    subject: str,
    purpose: str,
    sets: str,
    *,
    condition: str,
    values: dict[str, Any],
) -> None:
    """A purpose granted (with ``sets`` besides): its state, and the sparse audience keys
    that list it while it stays granted."""
    tx.update(
        label,
        layout.state(subject, purpose),
        f"SET #state = :granted, {sets}, {layout.LISTED}",
        condition=condition,
        names={"#state": "state"},
        values={":granted": "granted", **values, **layout.listed(subject, purpose)},
    )


def _texts(pending: dict[str, Any]) -> dict[str, str]:
    """The text versions a pending signup recorded, for the purposes it still holds."""
    recorded = pending.get("texts") or {}
    return {str(p): str(recorded[p]) for p in pending["purposes"] if p in recorded}
