"""Grants with proof instead of a confirmation click: soft opt-ins and imports.

Each checks inside its own transaction that no suppression marker holds the subject and
that the person did not withdraw the purpose; a refusal names which (by label) and writes
nothing. An imported row without proof is only ever a pending signup, like a form's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Unpack

from chalicelib.ledger import layout
from chalicelib.ledger.counters import counted, over_cap
from chalicelib.ledger.errors import AlreadyAsked, LedgerError, PurposeWithdrawn, Refused, Suppressed
from chalicelib.ledger.layout import iso, new_id
from chalicelib.ledger.records import Evidence, Person, RateCap, Signup
from chalicelib.ledger.signups import Asked, Signups, grant_state
from chalicelib.ledger.table import Transaction

if TYPE_CHECKING:
    from chalicelib.catalogue import ConsentText

NOT_SUPPRESSED = "not-suppressed"
GUARD = "import-guard"
NOT_WITHDRAWN = "not-withdrawn:"
GRANT = "state:"


@dataclass(frozen=True)
class _Grant:
    """One purpose granted without a click: its basis, its event type and evidence."""

    purpose: str
    basis: str
    kind: str
    evidence: dict[str, Any]


class Proof(Signups):
    def record_soft_opt_in(
        self,
        person: Person,
        *,
        purposes: Sequence[str],
        proof: Mapping[str, Any],
        evidence: Evidence,
        now: datetime,
    ) -> None:
        """Grant purposes with basis soft_opt_in and record the sale that proves it.

        One transaction: raises Suppressed or PurposeWithdrawn, and then writes nothing.
        """
        proven = {**evidence.as_dict(), **proof}
        grants = [_Grant(p, "soft_opt_in", "soft_opt_in_recorded", proven) for p in purposes]
        self._grant_with_proof(person, grants, now)

    def record_import(
        self,
        person: Person,
        *,
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
            _Grant(
                t.purpose,
                "consent",
                "imported",
                {**base, "lang": t.lang, "text_version": t.version, "text": t.text},
            )
            for t in texts
        ]
        self._grant_with_proof(person, grants, now)

    def record_import_signup(
        self, person: Person, *, guard_seconds: int, caps: Sequence[RateCap] = (), **asked: Unpack[Asked]
    ) -> Signup:
        """An imported row without proof: a pending signup exactly like a form's, never a grant.

        Capped like a form's signup (``caps``: RateLimited when over).

        The same transaction refuses a suppressed subject or a withdrawn purpose, and sets
        a guard so that a later import of the address sends no second mail while it
        lasts. Raises Suppressed, PurposeWithdrawn or AlreadyAsked. The texts must be
        stored already (store_texts).
        """
        subject, now = person.subject, asked["now"]
        tx = counted(self.table.transaction(), caps, now)
        signup = self._pending_signup(tx, person, "import", **asked)
        _not_suppressed(tx, subject)
        tx.put(
            GUARD,
            {
                **layout.import_guard(subject),
                "asked_at": iso(now),
                "expires_at": int(now.timestamp()) + guard_seconds,
            },
            condition="attribute_not_exists(pk) OR expires_at <= :now",
            values={":now": int(now.timestamp())},
        )
        for text in asked["texts"]:
            _not_withdrawn(tx, subject, text.purpose)
        try:
            tx.commit()
        except Refused as refused:
            if (capped := over_cap(refused)) is not None:
                raise capped from refused
            if NOT_SUPPRESSED not in refused.failed and GUARD in refused.failed:
                raise AlreadyAsked(subject) from refused
            raise self._refusal(subject, refused) from refused
        return signup

    def _grant_with_proof(self, person: Person, grants: Sequence[_Grant], now: datetime) -> None:
        """Grants that need no confirmation click (a sale, an import with proof): each
        gets its event and its state in one transaction that also checks the suppression
        marker and keeps the profile."""
        at = iso(now)
        event_id = new_id()
        subject = person.subject
        tx = self.table.transaction()
        _not_suppressed(tx, subject)
        _retain_profile(tx, person, at)
        for grant in grants:
            tx.event(
                f"event:{grant.purpose}",
                layout.event(subject, at, event_id, grant.purpose),
                type=grant.kind,
                at=at,
                purpose=grant.purpose,
                basis=grant.basis,
                evidence=grant.evidence,
            )
        for grant in grants:
            _grant_unless_withdrawn(tx, subject, grant.purpose, grant.basis, at)
        try:
            tx.commit()
        except Refused as refused:
            raise self._refusal(subject, refused) from refused

    def _refusal(self, subject: str, refused: Refused) -> LedgerError:
        """The domain error of a refused grant: the marker first, then a withdrawn purpose."""
        if NOT_SUPPRESSED in refused.failed:
            marker = self.suppression(subject) or {}
            return Suppressed(marker.get("reason"))
        label = refused.failed_any(NOT_WITHDRAWN, GRANT)
        if label is not None:
            return PurposeWithdrawn(label.split(":", 1)[1])
        return refused


def _not_suppressed(tx: Transaction, subject: str) -> None:
    tx.check(NOT_SUPPRESSED, layout.suppression(subject), "attribute_not_exists(pk)")


def _not_withdrawn(tx: Transaction, subject: str, purpose: str) -> None:
    tx.check(
        NOT_WITHDRAWN + purpose,
        layout.state(subject, purpose),
        "attribute_not_exists(#state) OR #state <> :withdrawn",
        names={"#state": "state"},
        values={":withdrawn": "withdrawn"},
    )


def _retain_profile(tx: Transaction, person: Person, at: str) -> None:
    """Create or keep the profile, retained from now on: a grant makes it proof."""
    sets = [
        "email = if_not_exists(email, :email)",
        "lang = if_not_exists(lang, :lang)",
        "created_at = if_not_exists(created_at, :at)",
        "retained_since = if_not_exists(retained_since, :at)",
    ]
    values: dict[str, Any] = {":email": person.email, ":lang": person.lang, ":at": at}
    if person.name:
        sets.append("#name = if_not_exists(#name, :name)")
        values[":name"] = person.name
    tx.update(
        "profile",
        layout.profile(person.subject),
        "SET " + ", ".join(sets) + " REMOVE expires_at",
        names={"#name": "name"} if person.name else None,
        values=values,
    )


def _grant_unless_withdrawn(tx: Transaction, subject: str, purpose: str, basis: str, at: str) -> None:
    """Grant a purpose unless the person withdrew it.

    Proven consent (an import with evidence) sets basis ``consent`` and its time; a
    soft opt-in never downgrades an existing grant by consent nor moves its date.
    """
    if basis == "consent":
        assigns = "basis = :basis, since = :at"
    else:
        assigns = "basis = if_not_exists(basis, :basis), since = if_not_exists(since, :at)"
    grant_state(
        tx,
        GRANT + purpose,
        subject,
        purpose,
        assigns,
        condition="attribute_not_exists(#state) OR #state <> :withdrawn",
        values={":withdrawn": "withdrawn", ":basis": basis, ":at": at},
    )
