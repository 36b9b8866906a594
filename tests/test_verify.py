"""`make verify` (scripts/verify.py) finds real tampering done directly in the table, and says
whose event, which one and what happened; a clean table verifies (issue 14; LAW 5: the
record of consent proves itself, GDPR art. 7(1), 5(2)). The digest is signed by the local
stack's KMS key (moto) and checked offline with its public half only."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer

from chalicelib.evidence import sign_digest
from chalicelib.ledger import utc_now
from scripts import verify

SALE = {"order_id": "ORD-7", "purchased_at": "2026-01-01T10:00:00Z", "opt_out_offered": True}
SER = TypeSerializer()


def _public_key() -> bytes:
    kms = boto3.client("kms", region_name="eu-west-1")
    return bytes(kms.get_public_key(KeyId="alias/consentry-local-digest")["PublicKey"])


def _rehash(item: dict) -> str:
    """What an attacker who read docs/evidence.md computes for an event they edit."""
    fields = {k: (int(v) if isinstance(v, Decimal) else v) for k, v in item.items()}
    fields = {k: v for k, v in fields.items() if k not in ("pk", "sk", "hash", "expires_at")}
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Table:
    """The table as an attacker with write access sees it: raw puts and deletes."""

    def __init__(self, visitor) -> None:
        self.v = visitor
        self.name = visitor.resources["table"]

    def put(self, item: dict) -> None:
        self.v.ddb.put_item(TableName=self.name, Item={k: SER.serialize(v) for k, v in item.items()})

    def delete(self, item: dict) -> None:
        self.v.ddb.delete_item(TableName=self.name, Key={"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}})

    def events(self, email: str) -> list[dict]:
        items = [i for i in self.v.person_items(email) if i["sk"].startswith("E#")]
        return sorted(items, key=lambda e: int(e["seq"]))

    def one(self, email: str, sk: str) -> dict:
        (item,) = [i for i in self.v.person_items(email) if i["sk"] == sk]
        return item


@pytest.fixture
def signed(visitor, monkeypatch):
    """Three people through the flows, and a signed digest over their chains."""
    visitor.subscribe("ann@example.com")
    visitor.one_click(visitor.unsubscribe_path("ann@example.com", "offers"))
    visitor.signup("bob@example.com", purposes=("newsletter",))
    visitor.run_mail_jobs()
    assert (
        visitor.api_post(
            "/api/soft-opt-ins", {"email": "cas@example.com", "purposes": ["offers"], "evidence": SALE}
        ).status_code
        == 201
    )
    digest = sign_digest(utc_now())
    assert digest is not None and digest["count"] == 3
    return Table(visitor)


def _problems(visitor) -> list[verify.Problem]:
    return verify.verify(visitor.items(), _public_key(), utc_now()).problems


def test_a_clean_table_verifies_with_the_public_key_alone(visitor, signed, capsys):
    report = verify.verify(visitor.items(), _public_key(), utc_now())
    assert report.ok and report.people == 3 and report.digests == 1
    # ann: her signup, its mail and confirmation, a withdrawal; bob: a signup; cas: a sale
    assert report.events == 4 + 1 + 1
    assert verify.main(["--stage", "local"]) == 0
    assert "checked 3 people, 6 events, 1 digests: everything verifies" in capsys.readouterr().out


def test_an_edited_event_is_found(visitor, signed, capsys):
    """LAW 5: the confirmation's evidence rewritten (another IP) shows as altered, by event."""
    confirmed = signed.events("ann@example.com")[2]
    assert confirmed["type"] == "confirmed"
    signed.put({**confirmed, "evidence": {**confirmed["evidence"], "ip": "203.0.113.9"}})
    (problem,) = _problems(visitor)
    assert (problem.kind, problem.seq, problem.type) == ("altered", 3, "confirmed")
    assert problem.where.endswith("<ann@example.com>")
    assert verify.main(["--stage", "local"]) == 1
    assert "event 3 (confirmed at" in capsys.readouterr().out


def test_an_edit_that_recomputes_every_hash_is_caught_by_the_signed_digest(visitor, signed):
    """The attacker knows the canonical form: the withdrawal becomes a confirmation, its hash
    and the profile's head recomputed. The chain alone holds; the digest does not."""
    events = signed.events("ann@example.com")
    last = {**events[-1], "type": "confirmed"}
    last["hash"] = _rehash(last)
    signed.put(last)
    profile = signed.one("ann@example.com", "PROFILE")
    signed.put({**profile, "chain_head": last["hash"]})
    state = signed.one("ann@example.com", "P#offers")
    signed.put({**state, "state": "granted"})
    (problem,) = _problems(visitor)
    assert (problem.kind, problem.seq) == ("altered", len(events))
    assert "chain was rewritten" in problem.detail


def test_a_deleted_event_is_found(visitor, signed):
    events = signed.events("ann@example.com")
    signed.delete(events[1])  # the confirmation mail
    kinds = {(p.kind, p.seq) for p in _problems(visitor)}
    assert ("removed", 2) in kinds


def test_an_inserted_event_is_found(visitor, signed):
    """A grant nobody gave, with a correct hash, slipped in between two events."""
    events = signed.events("ann@example.com")
    fake = {
        **events[2],
        "sk": events[2]["sk"].replace("#confirmed", "#confirmed-extra"),
        "purposes": ["extra"],
    }
    fake["hash"] = _rehash(fake)
    signed.put(fake)
    problems = _problems(visitor)
    assert [(p.kind, p.seq) for p in problems] == [("inserted", 3)]


def test_an_old_copy_put_back_is_found(visitor, signed):
    """Replay: the offers state from before the withdrawal (granted, in the audience), and an
    old profile whose chain head is behind its events."""
    state = signed.one("ann@example.com", "P#offers")
    signed.put({**state, "state": "granted", "aud_pk": "A#offers", "aud_sk": state["pk"][2:]})
    profile = signed.one("ann@example.com", "PROFILE")
    events = signed.events("ann@example.com")
    signed.put({**profile, "chain_head": events[-2]["hash"], "chain_seq": len(events) - 1})
    kinds = sorted((p.kind, p.seq) for p in _problems(visitor))
    assert kinds == [("head", len(events) - 1), ("state", len(events))]


def test_an_erased_persons_event_put_back_is_found(visitor, signed):
    event = signed.events("bob@example.com")[0]
    assert visitor.api_delete("/api/contacts/bob@example.com").status_code == 200
    assert _problems(visitor) == []  # erasure is no tampering: the marker explains the digest
    signed.put(event)
    (problem,) = _problems(visitor)
    assert problem.kind == "inserted" and "nobody on file" in problem.detail


def test_reordered_events_are_found(visitor, signed):
    """The withdrawal filed before the confirmation it followed (their keys swapped)."""
    events = signed.events("ann@example.com")
    confirmed, withdrawn = events[2], events[3]
    for item in (confirmed, withdrawn):
        signed.delete(item)
    signed.put({**confirmed, "sk": withdrawn["sk"]})
    signed.put({**withdrawn, "sk": confirmed["sk"]})
    problems = _problems(visitor)
    assert sorted((p.kind, p.seq) for p in problems) == [("reordered", 3), ("reordered", 4)]


def test_a_removed_or_forged_digest_is_found(visitor, signed):
    digest = next(i for i in visitor.items() if i["pk"] == "DIGEST" and "#L" not in i["sk"])
    signed.put({**digest, "root": "0" * 64})
    assert {p.detail for p in _problems(visitor)} >= {
        "its signature does not verify with the public key",
        "its leaves no longer give the root it signed",
    }
    signed.delete(digest)
    (problem,) = _problems(visitor)
    assert problem.kind == "digest" and "gone" in problem.detail
