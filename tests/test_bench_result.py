"""bench/latest.json is the source of docs/operations.md's tables: it must be a whole result."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bench import cost, run

LATEST = Path(__file__).resolve().parent.parent / "bench" / "latest.json"


def test_the_committed_bench_result_has_every_figure():
    data = json.loads(LATEST.read_text())
    assert data["cold_start"]["baseline"] > 0
    package = data["cold_start"]["modes"]["package"]
    assert {"GET /forms/{id}", "POST /forms/{id}"} <= set(package)
    assert data["package"]["bytes"] > 0
    assert data["warm"]["bare_route_us"] > 0
    assert all(flow["over"] == [] for flow in data["aws_calls"].values() if flow.get("available"))
    assert run.report(data) == data["table"]


def test_the_cost_model_recomputes_from_the_result():
    data = json.loads(LATEST.read_text())
    model = cost.per_million(data, run.memory_sizes("prod"))
    assert abs(model["total"] - data["cost"]["total"]) < 0.01
    lines = model["usd_per_million_signups"]
    assert lines["SES"] == max(lines.values())  # one mail per signup dominates


def test_the_committed_bench_result_names_the_clean_commit_it_measured():
    """A result belongs to a commit: `make bench` records HEAD and whether the tree differed
    from it (bench/latest.json aside), and one of a dirty tree is not to be committed."""
    data = json.loads(LATEST.read_text())
    assert re.fullmatch(r"[0-9a-f]{40}", data["commit"]["sha"])
    assert data["commit"]["dirty"] is False
    assert 0 < data["seconds"] <= 600  # issue 16: within 10 minutes on the 2-core machine


def test_the_cost_of_pushing_consent_changes_recomputes_from_the_result():
    """Issue 14: the stream handler's row and its cost per million signups."""
    data = json.loads(LATEST.read_text())
    assert "stream batch (push_changes)" in data["cold_start"]["modes"]["package"]
    model = cost.push_per_million(data)
    assert model == data["cost_push"]
    assert model["per_signup"]["changes"] == 2  # the funnel grants two purposes: two events
    assert model["cases"]["quiet"]["total"] > model["cases"]["busy"]["total"] > 0
