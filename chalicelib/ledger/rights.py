"""The data subject's rights: access and erasure requests, the export, the erasure.

Erasure deletes the person's partition and leaves only the marker (a keyed hash, a reason,
a date) and, for a limited time, the record that it was done.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chalicelib.ledger import claims, layout
from chalicelib.ledger.chain import Head
from chalicelib.ledger.counters import Counters, counted, over_cap
from chalicelib.ledger.errors import Busy, Refused
from chalicelib.ledger.layout import iso, new_id
from chalicelib.ledger.records import Evidence, RateCap, RequestMail
from chalicelib.ledger.table import Op

JOURNAL_SECONDS = 36 * 86400
"""How long the erasure journal remembers an erasure: point-in-time recovery reaches 35 days
back, so an older erasure is in every restore point already."""

REQUEST = "request"


class Rights(Counters):
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
        redelivered job whose request is open but unmailed is not counted again. The
        request is claimed for this delivery of the job (claims.py): Busy while another
        delivery's claim lasts.
        """
        keys = [layout.profile(subject), layout.request(subject, kind)]
        items = {i["sk"]: i for i in self.table.get_many(keys)}
        profile, request = items.get(keys[0]["sk"]), items.get(keys[1]["sk"])
        if profile is None or layout.expired(profile, now):
            return None
        if request is not None and not layout.expired(request, now):
            if request.get("id") != request_id or "mail_sent_at" in request:
                return None
            # This job's own request, opened and counted before its mail failed: claimed
            # again for this delivery (claims.py), not counted again.
            condition = "id = :id AND attribute_not_exists(mail_sent_at)"
            claimed = claims.claim(self.table, REQUEST, keys[1], condition, now, **{":id": request_id})
            if claimed is None:
                return None
            claim = str(claimed["claim"])
        else:
            claim = self._open(keys[1], request_id, kind, now, lifetime_seconds, caps)
            if not claim:
                return None
        return RequestMail(profile["email"], profile.get("name"), profile.get("lang") or "nl", claim)

    def _open(
        self,
        key: layout.Key,
        request_id: str,
        kind: str,
        now: datetime,
        lifetime_seconds: int,
        caps: Sequence[RateCap],
    ) -> str:
        """Open the request, claimed for this delivery, with its mail counted against the
        caps: one transaction. The claim; raises Busy or Refused when another delivery or job
        opened it first (``open_request`` answers those)."""
        claimed = claims.lease(now)
        tx = counted(self.table.transaction(), caps, now)
        tx.put(
            REQUEST,
            {
                **key,
                "id": request_id,
                "type": kind,
                "requested_at": iso(now),
                "expires_at": int(now.timestamp()) + lifetime_seconds,
                "claim": claimed[":claim"],
                "claimed_until": claimed[":until"],
            },
            condition="attribute_not_exists(pk) OR expires_at <= :now",
            values={":now": int(now.timestamp())},
        )
        try:
            tx.commit()
        except Refused as refused:
            if (capped := over_cap(refused)) is not None:
                raise capped from refused
            if REQUEST not in refused.failed:
                raise
            # Opened meanwhile: by another delivery of this very job (still at it: Busy)
            # or by another job (its link works: no second mail).
            if claims.held(self.table.get(key), now):
                raise Busy(REQUEST) from refused
            return ""
        return str(claimed[":claim"])

    def record_request_mail_sent(
        self, *, subject: str, kind: str, request_id: str, sent_at: str, message_id: str
    ) -> bool:
        """Mark a request's mail as sent; False when it already was (a redelivered job)."""
        try:
            self.table.write(
                Op.update(
                    REQUEST,
                    layout.request(subject, kind),
                    f"SET mail_sent_at = :at, message_id = :mid {claims.RELEASED}",
                    condition="id = :id AND attribute_not_exists(mail_sent_at)",
                    values={":at": sent_at, ":mid": message_id, ":id": request_id},
                )
            )
        except Refused:
            return False
        return True

    def release_request(self, subject: str, kind: str, claim: str) -> None:
        """The mail could not be sent: the queue's retry may claim it at once."""
        claims.release(self.table, REQUEST, layout.request(subject, kind), claim)

    def record_access_export(self, *, subject: str, evidence: Evidence, now: datetime) -> bool:
        """Record that the person took their data; False when nobody is on file."""
        profile = self.table.get(layout.profile(subject))
        if profile is None or layout.expired(profile, now):
            return False
        expires = profile.get("expires_at")
        at = iso(now)
        tx = self.table.transaction()
        tx.check("profile", layout.profile(subject), "attribute_exists(pk)")
        tx.event(
            "event",
            layout.event(subject, at, new_id(), "access_exported"),
            type="access_exported",
            at=at,
            evidence=evidence.as_dict(),
            # A pending-only person's history still expires with them.
            expires_at=int(expires) if isinstance(expires, (int, Decimal)) else None,
        )
        try:
            tx.commit()
        except Refused:
            return False
        return True

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
        for item in self.table.query(layout.person(subject)):
            sk = item["sk"]
            if sk.startswith((layout.STATE_PREFIX, layout.EVENT_PREFIX)) or layout.expired(item, now):
                continue  # states and events are answered in full below; expired is gone
            if sk == layout.profile(subject)["sk"]:
                profile = _public(item)
            elif sk == layout.profiling(subject)["sk"]:
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
        # The end of the person's hash chain outlives it on the marker and the record: a
        # signed digest that covered the chain is then explained (chain.py, digests.py).
        head = Head.of(self.table.get(layout.profile(subject)))
        last = {"last_hash": head.hash, "last_seq": head.seq} if head.seq else {}
        if self.journal is not None:
            # First, outside the table: a restore from backup replays it (scripts/ops.py), so
            # nobody erased after the restore point comes back. Subject hash and time only.
            self.journal.write(
                Op.put(
                    "journal",
                    {
                        "subject": subject,
                        "erased_at": at,
                        "expires_at": int(now.timestamp()) + JOURNAL_SECONDS,
                    },
                )
            )
        try:
            self.table.write(
                Op.put(
                    "marker",
                    {**layout.suppression(subject), "reason": "erasure", "at": at, **last},
                    condition="attribute_not_exists(pk) OR reason <> :erasure",
                    values={":erasure": "erasure"},
                )
            )
            marked = True
        except Refused:
            marked = False
        keys = [
            {"pk": i["pk"], "sk": i["sk"]} for i in self.table.query(layout.person(subject), keys_only=True)
        ]
        self.table.delete_all(keys)
        if keys or marked:
            self.table.write(
                Op.put(
                    "record",
                    {
                        **layout.erasure_record(subject, at),
                        "type": "erased",
                        "at": at,
                        "evidence": {"channel": channel, "items_deleted": len(keys), **last},
                        "expires_at": int(now.timestamp()) + record_seconds,
                    },
                )
            )
        return len(keys)


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
