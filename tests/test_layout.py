"""The one table of item kinds (chalicelib/ledger/layout.py): every key the ledger builds is
of a kind it lists, the record of processing covers each kind (LAW 28), the docs point to it
instead of copying it, and values are coded exactly as boto3 codes them, so moving the ledger
into a package changed nothing stored."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from chalicelib import processing
from chalicelib.ledger import layout
from tests.conftest import ROOT


def _example(pattern: str) -> str:
    return re.sub(r"<[^>]+>", "x", pattern)


def test_every_key_builder_builds_a_key_of_the_kind_it_is_named_for():
    built = {
        "profile": layout.profile("s"),
        "pending signup": layout.pending("s", "i"),
        "purpose state": layout.state("s", "newsletter"),
        "profiling flag": layout.profiling("s"),
        "event": layout.event("s", "2026-01-01T00:00:00.000000Z", "i", "newsletter"),
        "request": layout.request("s", "access"),
        "import guard": layout.import_guard("s"),
        "suppression marker": layout.suppression("s"),
        "erasure record": layout.erasure_record("s", "2026-01-01T00:00:00.000000Z"),
        "consent text": layout.text("v1"),
        "rate counter": layout.rate("mail", "s"),
        "signed digest": layout.digest("2026-01-01T00:00:00.000000Z"),
    }
    assert {kind.name for kind in layout.KINDS} == set(built)
    for name, key in built.items():
        kind = layout.kind_of(key["pk"], key["sk"])
        assert kind is not None and kind.name == name, (name, key)
    assert layout.kind_of(*layout.rate("ip", "h", 123).values()).name == "rate counter"


def test_every_kind_is_in_the_record_of_processing_and_every_record_is_of_a_kind():
    """LAW 28: processing.py names where each record lives; it is checked here, not copied."""
    for kind in layout.KINDS:
        assert processing.record_for(_example(kind.pk), _example(kind.sk)) is not None, kind.name
    for record in processing.RECORDS:
        for pk, sk in record.keys:
            kind = layout.kind_of(pk + "x", sk if not sk.endswith("#") else sk + "x")
            assert kind is not None, (record.name, pk, sk)


def test_the_docs_point_to_the_table_instead_of_copying_it():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "chalicelib/ledger/layout.py" in readme
    assert "| `S#<subject>` | `PROFILE` |" not in readme  # the old copy, drifted from the code


VALUES = [
    "text",
    "",
    0,
    -7,
    1796020657,
    Decimal("12.50"),
    True,
    False,
    None,
    b"\x00bytes",
    ["newsletter", "offers"],
    ("a", 1),
    {"channel": "form:newsletter", "ip": "192.0.2.1", "nested": {"n": 3, "none": None}},
    {"a", "b"},
    {1, 2},
]


@pytest.mark.parametrize("value", VALUES, ids=[f"{i}-{type(v).__name__}" for i, v in enumerate(VALUES)])
def test_values_are_coded_as_boto3_codes_them(value):
    ours, theirs = layout.encode(value), TypeSerializer().serialize(value)
    if "SS" in ours or "NS" in ours:  # sets: the same members, in any order
        assert {k: sorted(v) for k, v in ours.items()} == {k: sorted(v) for k, v in theirs.items()}
    else:
        assert ours == theirs
    decoded = TypeDeserializer().deserialize(theirs)
    assert layout.decode(theirs) == (bytes(decoded.value) if hasattr(decoded, "value") else decoded)


def test_what_boto3_refuses_the_codec_refuses():
    for bad in (1.5, object(), Decimal("Infinity")):
        with pytest.raises(TypeError):
            layout.encode(bad)
        with pytest.raises(TypeError):
            TypeSerializer().serialize(bad)
