"""Who may be mailed for a purpose: the sparse ``audience`` index, checked against the table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.ledger import layout
from chalicelib.ledger.people import People
from chalicelib.ledger.records import AudienceMember


class Audience(People):
    def audience(
        self, purpose: str, *, limit: int, start: dict[str, str] | None, now: datetime
    ) -> tuple[list[AudienceMember], dict[str, str] | None]:
        """One page of the sparse ``audience`` index (a query, never a scan), checked
        against the table in one consistent batch read: only granted, unsuppressed
        people on file. Returns the members and the key to continue from (or None)."""
        rows, last = self.table.index_page(
            layout.AUDIENCE_INDEX, "aud_pk", layout.audience(purpose), limit=limit, start=start
        )
        subjects = [str(row["aud_sk"]) for row in rows]
        keys = []
        for subject in subjects:
            keys += [
                layout.profile(subject),
                layout.profiling(subject),
                layout.state(subject, purpose),
                layout.suppression(subject),
            ]
        found = {(i["pk"], i["sk"]): i for i in self.table.get_many(keys)}

        def read(key: layout.Key) -> dict[str, Any] | None:
            return found.get((key["pk"], key["sk"]))

        members = []
        for subject in subjects:
            profile = read(layout.profile(subject))
            state = read(layout.state(subject, purpose))
            # The index is eventually consistent; the table read is not: trust the table.
            if profile is None or layout.expired(profile, now) or state is None:
                continue
            if state.get("state") != "granted" or "aud_pk" not in state:
                continue
            if read(layout.suppression(subject)) is not None:
                continue
            profiling = read(layout.profiling(subject)) or {}
            members.append(
                AudienceMember(
                    subject=subject,
                    email=profile["email"],
                    name=profile.get("name"),
                    lang=profile.get("lang") or "nl",
                    profiling_allowed=profiling.get("state", "allowed") != "objected",
                )
            )
        return members, last
