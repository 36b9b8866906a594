"""Signed digests: the Merkle root of every chain head that changed since the last digest,
signed with the stage's KMS key (signing.py), stored in the table.

A chain proves its own order, but anyone who can write the table can rewrite a whole
chain and its head. A digest fixes, at its time, each changed person's head (subject, seq,
hash) under a signature only the digest function can make: a chain rewritten afterwards
no longer holds a head a digest signed. Digests are chained too (``prev`` is the hash of
the previous digest's signed message), so removing one shows.

Found cheaply: each head change writes ``chain_period`` (``<hour>#<shard>``, chain.py) on
the profile, which lists it in the sparse, keys-only ``chain`` index. An index entry is
written only when that value changes (at most once an hour per person), and a digest
queries the hours since the last digest, 16 shards each, then reads those profiles.

Items (layout.py): ``DIGEST`` / ``D#<at>`` the digest (root, prev, count, key, signature),
``DIGEST`` / ``D#<at>#L<n>`` its leaves, 1,000 to an item. Not imported on the request
path of any form or link; stdlib only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.ledger import chain, layout
from chalicelib.ledger.table import Op, Table

PK = "DIGEST"
CHUNK = 1000
FORMAT = "consentry-digest/1"


@dataclass(frozen=True, order=True)
class Leaf:
    """One person's chain head as a digest signs it."""

    subject: str
    seq: int
    head: str
    ttl: int = 0
    """The head's run of expiring events (chain.Head): a pending-only person's whole chain
    (``run`` 1) may lawfully be gone after ``ttl``."""
    run: int = 0

    def text(self) -> str:
        return f"{self.subject} {self.seq} {self.head} {self.ttl} {self.run}"

    @staticmethod
    def parse(text: str) -> Leaf:
        subject, seq, head, ttl, run = text.split(" ")
        return Leaf(subject, int(seq), head, int(ttl), int(run))

    @property
    def expiring(self) -> bool:
        """The whole chain was due to expire (TTL) when the digest signed it."""
        return self.run == 1 and self.ttl > 0


def leaf_hash(leaf: Leaf) -> bytes:
    """RFC 6962's leaf hash: SHA-256 of 0x00 and the leaf's text
    (``<subject> <seq> <head> <ttl> <run>``, UTF-8)."""
    return hashlib.sha256(b"\x00" + leaf.text().encode()).digest()


def merkle_root(leaves: Sequence[Leaf]) -> str:
    """The Merkle tree hash of the leaves sorted by subject (RFC 6962: a node is SHA-256 of
    0x01 and its two children; an odd last node rises unchanged), hex; of none, SHA-256 of
    nothing."""
    level = [leaf_hash(leaf) for leaf in sorted(leaves)]
    if not level:
        return hashlib.sha256(b"").hexdigest()
    while len(level) > 1:
        paired = [
            hashlib.sha256(b"\x01" + a + b).digest() for a, b in zip(level[::2], level[1::2], strict=False)
        ]
        level = paired + ([level[-1]] if len(level) % 2 else [])
    return level[0].hex()


def message(at: str, count: int, root: str, prev: str) -> bytes:
    """What the KMS key signs (``MessageType=RAW``: KMS takes its SHA-256)."""
    return f"{FORMAT}\n{at}\n{count}\n{root}\n{prev}".encode()


def message_hash(digest: dict[str, Any]) -> str:
    """A digest's identity for the next one's ``prev``."""
    signed = message(digest["at"], int(digest["count"]), digest["root"], digest.get("prev", ""))
    return hashlib.sha256(signed).hexdigest()


def hours(since: datetime, until: datetime) -> list[str]:
    """Every hour from ``since``'s to ``until``'s, as chain.period writes them."""
    start = since.replace(minute=0, second=0, microsecond=0)
    out = []
    while start <= until:
        out.append(start.strftime("%Y-%m-%dT%H"))
        start += timedelta(hours=1)
    return out


def grouped(items: Iterable[dict[str, Any]]) -> list[tuple[dict[str, Any], list[Leaf]]]:
    """The digest partition's items as digests with their leaves, oldest first."""
    digests: dict[str, tuple[dict[str, Any], list[Leaf]]] = {}
    leaves: dict[str, list[Leaf]] = {}
    for item in sorted(items, key=lambda i: str(i["sk"])):
        at = str(item["sk"]).split("#")[1]
        if "#L" in str(item["sk"]):
            leaves.setdefault(at, []).extend(Leaf.parse(t) for t in item["leaves"])
        else:
            digests[at] = (item, leaves.setdefault(at, []))
    orphans = set(leaves) - set(digests)
    for at in orphans:  # leaves whose digest item is gone: shown as a digest without a signature
        digests[at] = ({"pk": PK, "sk": f"D#{at}", "at": at, "missing": True}, leaves[at])
    return [digests[at] for at in sorted(digests)]


class Digests:
    """The digests in a stage's table: finding changed heads, storing and reading digests."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def last(self) -> dict[str, Any] | None:
        for item in self.table.query(PK, "D#", newest_first=True, limit=1):
            at = str(item["sk"]).split("#")[1]
            return self.table.get(layout.digest(at))
        return None

    def changed(self, since: datetime, now: datetime) -> list[Leaf]:
        """Every chain head whose index hour lies between ``since``'s and ``now``'s."""
        keys: list[layout.Key] = []
        for hour in hours(since, now):
            for shard in chain.shards():
                for entry in self.table.index_all(chain.INDEX, "chain_period", f"{hour}#{shard}"):
                    keys.append({"pk": str(entry["pk"]), "sk": str(entry["sk"])})
        leaves = []
        for profile in self.table.get_many(keys):
            if profile.get("chain_head"):
                subject = layout.subject_of(str(profile["pk"]))
                head = chain.Head.of(profile)
                leaves.append(Leaf(subject, head.seq, head.hash, head.ttl, head.run))
        return sorted(leaves)

    def store(self, digest: dict[str, Any], leaves: Sequence[Leaf]) -> None:
        """The digest, then its leaves; never over an existing one."""
        at = digest["at"]
        chunks = [leaves[i : i + CHUNK] for i in range(0, len(leaves), CHUNK)]
        for n, chunk in enumerate(chunks, 1):
            self.table.write(
                Op.put(
                    "leaves", {"pk": PK, "sk": f"D#{at}#L{n:05d}", "leaves": [leaf.text() for leaf in chunk]}
                )
            )
        self.table.write(
            Op.put(
                "digest",
                {"pk": PK, "sk": f"D#{at}", **digest, "chunks": len(chunks)},
                condition="attribute_not_exists(pk)",
            )
        )

    def every(self) -> list[tuple[dict[str, Any], list[Leaf]]]:
        """Every digest, oldest first, with its leaves."""
        return grouped(self.table.query(PK, "D#"))

    def covering(self, subject: str, profile: dict[str, Any]) -> tuple[dict[str, Any], Leaf] | None:
        """The first digest made after the person's head last changed that signs that head;
        else one of that hour that signed an earlier head; None when there is none yet."""
        period = str(profile.get("chain_period") or "")
        if not period:
            return None
        start = f"D#{period.split('#')[0]}"
        seq = int(profile.get("chain_seq") or 0)
        found: tuple[dict[str, Any], Leaf] | None = None
        for digest, leaves in self.every_from(start):
            for leaf in leaves:
                if leaf.subject == subject:
                    if leaf.seq == seq:
                        return digest, leaf
                    found = (digest, leaf)  # an earlier head, signed in the same hour
        return found

    def every_from(self, start: str, most: int = 3) -> Iterator[tuple[dict[str, Any], list[Leaf]]]:
        """Up to ``most`` digests from sort key ``start`` on, with their leaves."""
        seen = 0
        for item in self.table.query(PK, "D#", start=start):
            if "#L" in str(item["sk"]):
                continue
            if seen == most:
                return
            seen += 1
            at = str(item["sk"])[2:]
            leaves = [Leaf.parse(t) for i in self.table.query(PK, f"D#{at}#L") for t in i["leaves"]]
            yield item, leaves
