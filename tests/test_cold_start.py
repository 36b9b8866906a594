"""A cold GET of a visitor page pays for neither boto3 nor pydantic (STYLE: lazy imports)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

PROBE = """
import sys
sys.path.insert(0, {root!r})
from chalice.test import Client
import app
with Client(app.app, stage_name="local", project_dir={root!r}) as client:
    statuses = [client.http.get(path).status_code for path in ("/forms/newsletter", "/requests")]
print(statuses, sorted(m for m in ("boto3", "pydantic", "chalicelib.ledger") if m in sys.modules))
"""


def test_form_and_request_pages_import_neither_boto3_nor_pydantic():
    answer = subprocess.run(
        [sys.executable, "-c", PROBE.format(root=str(ROOT))],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    last = answer.stdout.strip().splitlines()[-1]  # the lines before: JSON access logs
    assert last == "[200, 200] []", answer.stdout + answer.stderr
