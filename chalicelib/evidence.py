"""Evidence that proves itself (issue 14): the hourly signed digest, and the dossier on one
person for a data-protection authority. No HTTP here (views/api.py answers), and nothing
here is imported by the form, signup or link routes."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any

from chalicelib.ledger import audit, chain, layout
from chalicelib.ledger.digests import Digests, Leaf, merkle_root, message, message_hash

FIRST_LOOKBACK_HOURS = 48
"""The first digest covers heads changed this long before it (chains start with the code
that writes them; docs/operations.md says how to cover more once)."""


def _ledger() -> Any:
    from chalicelib.ledger import get_ledger

    return get_ledger()


def sign_digest(now: datetime, lookback_hours: int = FIRST_LOOKBACK_HOURS) -> dict[str, Any] | None:
    """Sign the Merkle root of every chain head changed since the last digest and store it;
    the digest, or None when no head changed."""
    from chalicelib import signing

    digests = Digests(_ledger().table)
    last = digests.last()
    since = (
        datetime.fromisoformat(str(last["at"]).replace("Z", "+00:00"))
        if last
        else now - timedelta(hours=lookback_hours)
    )
    leaves = digests.changed(since, now)
    if not leaves:
        return None
    at = layout.iso(now)
    root = merkle_root(leaves)
    prev = message_hash(last) if last else ""
    key_id, signature = signing.sign(message(at, len(leaves), root, prev))
    digest = {
        "at": at,
        "root": root,
        "prev": prev,
        "count": len(leaves),
        "since": layout.iso(since),
        "key_id": key_id,
        "algorithm": signing.ALGORITHM,
        "signature": base64.b64encode(signature).decode(),
    }
    digests.store(digest, leaves)
    return digest


def dossier(subject: str, now: datetime) -> dict[str, Any] | None:
    """Everything that proves a person's consent history, and whether it holds up: None
    for nobody on file."""
    ledger = _ledger()
    contact = ledger.contact(subject, now)
    if contact is None:
        return None
    items = list(ledger.table.query(layout.person(subject)))
    profile = next((i for i in items if i["sk"] == "PROFILE"), None)
    stored = [i for i in items if str(i["sk"]).startswith(layout.EVENT_PREFIX)]
    states = [i for i in items if str(i["sk"]).startswith(layout.STATE_PREFIX)]
    findings = [f.as_dict() for f in audit.check(stored, profile, now, states)]
    head = chain.Head.of(profile)
    covered = Digests(ledger.table).covering(subject, profile or {})
    digest = None
    if covered is not None:
        signed, leaf = covered
        on_chain = any(e.get("hash") == leaf.head and int(e.get("seq", 0)) == leaf.seq for e in stored)
        leaves = _leaves(ledger.table, signed)
        root_holds = merkle_root(leaves) == signed["root"]
        if not on_chain or not root_holds:
            findings.append(
                {
                    "kind": "digest",
                    "seq": leaf.seq,
                    "at": signed["at"],
                    "type": None,
                    "detail": "the chain no longer holds the head this digest signed"
                    if not on_chain
                    else "the digest's leaves no longer give its root",
                }
            )
        digest = {
            "at": signed["at"],
            "root": signed["root"],
            "prev": signed.get("prev", ""),
            "count": int(signed["count"]),
            "key_id": signed["key_id"],
            "algorithm": signed["algorithm"],
            "signature": signed["signature"],
            "leaf": {"subject": leaf.subject, "seq": leaf.seq, "head": leaf.head},
            "message": message(
                signed["at"], int(signed["count"]), signed["root"], signed.get("prev", "")
            ).decode(),
            "covers_events": leaf.seq,
        }
    return {
        "verified": not findings,
        "subject": subject,
        "contact": contact,
        "events": ledger.events(subject, now),
        "chain": {
            "head": head.hash,
            "length": head.seq,
            "canonical_form": "SHA-256 of the event's attributes except pk, sk, hash and expires_at, "
            "as JSON with sorted keys and no spaces, UTF-8 (docs/evidence.md)",
            "findings": findings,
        },
        "digest": digest,
    }


def _leaves(table: Any, digest: dict[str, Any]) -> list[Leaf]:
    at = str(digest["at"])
    return [Leaf.parse(t) for item in table.query("DIGEST", f"D#{at}#L") for t in item["leaves"]]
