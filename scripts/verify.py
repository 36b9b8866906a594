"""Check every hash chain and every signed digest of a stage, offline (issue 14).

    python scripts/verify.py --stage prod                       # make verify STAGE=prod
    python scripts/verify.py --stage prod --public-key key.pem  # no KMS call at all

Reads the table (Scan: read-only IAM is enough, docs/operations.md), fetches the digest
key's public half once (kms:GetPublicKey) unless given as a PEM or DER file, and checks
with nothing but that key and SHA-256:

- each person's chain (chalicelib/ledger/chain.py): every event's hash over its canonical
  form, every link, the head on the profile, each purpose state against the chain;
- each digest (chalicelib/ledger/digests.py): its signature, its Merkle root over its
  leaves, its link to the digest before it, and that every head it signed is still in
  its person's chain (or the person was erased, or the whole chain lawfully expired).

Prints each problem as: whose, which event, what happened (altered, removed, inserted,
reordered, head, state, digest) and how it shows; exits 1 when there is one, 0 when
everything verifies. ``STAGE=local`` reads the local stack (`make run`) on its ports.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib.ledger import audit, layout  # noqa: E402
from chalicelib.ledger.digests import PK, grouped, merkle_root, message, message_hash  # noqa: E402


@dataclass(frozen=True)
class Problem:
    """One problem: whose (subject, and the address where the profile still has it) or
    which digest, and what."""

    where: str
    kind: str
    detail: str
    seq: int | None = None
    at: str | None = None
    type: str | None = None

    def line(self) -> str:
        event = ""
        if self.seq is not None:
            event = f" event {self.seq}" + (f" ({self.type} at {self.at})" if self.type else "")
        return f"{self.where}:{event} {self.kind}: {self.detail}"


@dataclass
class Report:
    problems: list[Problem]
    people: int = 0
    events: int = 0
    digests: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(items: Iterable[dict[str, Any]], public_key: bytes | None, now: datetime) -> Report:
    """Every problem in a table's items (as read, decoded), checked with the public key
    (DER or PEM; None: signatures are not checked and that is reported)."""
    partitions: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        partitions.setdefault(str(item["pk"]), []).append(item)
    report = Report([])
    chains: dict[str, list[dict[str, Any]]] = {}
    for pk, part in sorted(partitions.items()):
        if not pk.startswith("S#"):
            continue
        subject = layout.subject_of(pk)
        profile = next((i for i in part if i["sk"] == "PROFILE"), None)
        events = [i for i in part if str(i["sk"]).startswith(layout.EVENT_PREFIX)]
        states = [i for i in part if str(i["sk"]).startswith(layout.STATE_PREFIX)]
        if profile is not None and layout.expired(profile, now):
            continue  # a pending-only person past their retention: gone, whatever TTL left
        where = _who(subject, profile)
        chains[subject] = audit.live(events, now)
        report.people += 1 if profile is not None else 0
        report.events += len(chains[subject])
        for found in audit.check(events, profile, now, states):
            report.problems.append(Problem(where, found.kind, found.detail, found.seq, found.at, found.type))
    erased = {
        layout.subject_of(pk): [i for i in part]
        for pk, part in partitions.items()
        if pk.startswith("SUPPRESS#") and any(_is_erasure(i) for i in part)
    }
    report.problems += _digests(partitions.get(PK, []), public_key, chains, erased, now, report)
    return report


def _who(subject: str, profile: dict[str, Any] | None) -> str:
    email = (profile or {}).get("email")
    return f"person {subject[:16]}" + (f" <{email}>" if email else "")


def _is_erasure(item: dict[str, Any]) -> bool:
    return item.get("reason") == "erasure" or item.get("type") == "erased"


def _digests(
    items: list[dict[str, Any]],
    public_key: bytes | None,
    chains: dict[str, list[dict[str, Any]]],
    erased: dict[str, list[dict[str, Any]]],
    now: datetime,
    report: Report,
) -> list[Problem]:
    problems: list[Problem] = []
    verifier = _verifier(public_key)
    previous: dict[str, Any] | None = None
    for digest, leaves in grouped(items):
        report.digests += 1
        where = f"digest {digest['at']}"
        if digest.get("missing"):
            problems.append(
                Problem(where, "digest", "its leaves are there but the signed digest item is gone")
            )
            continue
        expected_prev = message_hash(previous) if previous else ""
        if digest.get("prev", "") != expected_prev:
            problems.append(
                Problem(
                    where,
                    "digest",
                    "it does not follow the digest before it: a digest was removed or altered",
                )
            )
        signed = message(digest["at"], int(digest["count"]), digest["root"], digest.get("prev", ""))
        if verifier is not None and not verifier(signed, base64.b64decode(digest["signature"])):
            problems.append(Problem(where, "digest", "its signature does not verify with the public key"))
        if merkle_root(leaves) != digest["root"] or len(leaves) != int(digest["count"]):
            problems.append(Problem(where, "digest", "its leaves no longer give the root it signed"))
        for leaf in leaves:
            problem = _leaf(leaf, digest, chains.get(leaf.subject), erased.get(leaf.subject), now)
            if problem is not None:
                problems.append(problem)
        previous = digest
    if verifier is None and report.digests:
        problems.append(Problem("digests", "digest", "no public key: signatures were not checked"))
    return problems


def _leaf(
    leaf: Any,
    digest: dict[str, Any],
    events: list[dict[str, Any]] | None,
    erasure: list[dict[str, Any]] | None,
    now: datetime,
) -> Problem | None:
    """Whether a head a digest signed is still explained by the table."""
    where = f"person {leaf.subject[:16]}"
    erased_since = any(str(i.get("at", "")) >= str(digest["at"]) for i in erasure or [])
    if not events:
        if erased_since or erasure:
            return None
        if leaf.expiring and leaf.ttl <= now.timestamp():
            return None
        return Problem(
            where,
            "removed",
            f"its chain (signed up to event {leaf.seq} in digest {digest['at']}) is gone, with no erasure",
        )
    at_seq = [e for e in events if int(e.get("seq", 0)) == leaf.seq]
    if any(e.get("hash") == leaf.head for e in at_seq):
        return None
    if erased_since:
        return None  # erased after the digest, and signed up afresh since
    if at_seq:
        return Problem(
            where,
            "altered",
            f"digest {digest['at']} signed another event {leaf.seq}: the chain was rewritten since",
            leaf.seq,
            at_seq[0].get("at"),
            at_seq[0].get("type"),
        )
    last = max((int(e.get("seq", 0)) for e in events), default=0)
    if last < leaf.seq:
        return Problem(
            where,
            "removed",
            f"digest {digest['at']} signed events up to {leaf.seq}; the chain now ends at {last}",
            leaf.seq,
        )
    return None  # the event is gone; the chain check judged the gap (lawful expiry or removed)


def _verifier(public_key: bytes | None) -> Any:
    if public_key is None:
        return None
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

    key = (
        load_pem_public_key(public_key)
        if public_key.lstrip().startswith(b"-----")
        else load_der_public_key(public_key)
    )
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise SystemExit("the digest key is not an ECC key")

    def check(data: bytes, signature: bytes) -> bool:
        try:
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True

    return check


# -- reading a stage ----------------------------------------------------------------------


def _local_endpoints() -> None:
    """The local stack's ports (make run), unless the environment names endpoints."""
    if "AWS_ENDPOINT_URL_DYNAMODB" in os.environ:
        return
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{os.environ.get('MOTO_PORT', '5000')}"
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = f"http://127.0.0.1:{os.environ.get('DYNAMODB_PORT', '5001')}"


def read_table(stage: str) -> list[dict[str, Any]]:
    """Every item of the stage's table (a Scan, page after page), decoded."""
    import boto3

    from scripts import package as packaging

    name = packaging.stage_env(stage)["CONSENTRY_TABLE"]
    client = boto3.client("dynamodb", region_name=_region())
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": name, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        items += [layout.plain(i) for i in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def public_key(stage: str) -> bytes:
    """The digest key's public half (DER), fetched once."""
    import boto3

    alias = os.environ.get("CONSENTRY_DIGEST_KEY") or f"alias/consentry-{stage}-digest"
    return bytes(boto3.client("kms", region_name=_region()).get_public_key(KeyId=alias)["PublicKey"])


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "eu-west-1"


def run(stage: str, key_file: str | None = None, now: datetime | None = None) -> Report:
    if stage == "local":
        _local_endpoints()
    key = Path(key_file).read_bytes() if key_file else public_key(stage)
    return verify(read_table(stage), key, now or datetime.now(UTC))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True, choices=("local", "dev", "prod"))
    parser.add_argument(
        "--public-key", help="the digest key's public half (PEM or DER); else kms:GetPublicKey"
    )
    args = parser.parse_args(argv)
    report = run(args.stage, args.public_key)
    for problem in report.problems:
        print(problem.line())
    verdict = "everything verifies" if report.ok else f"{len(report.problems)} problem(s)"
    print(f"checked {report.people} people, {report.events} events, {report.digests} digests: {verdict}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
