"""LAW 29 as far as the repository decides it: data encrypted at rest, secrets generated in
AWS and never committed, the secret's key material never in config or logs."""

from __future__ import annotations

import json
import re
import subprocess

from scripts.local_stack import moto_template
from tests.conftest import ROOT

TEMPLATE = json.loads(moto_template())["Resources"]
FULL = (ROOT / ".chalice" / "resources.yaml").read_text()


def _of_type(kind: str) -> dict:
    return {name: r["Properties"] for name, r in TEMPLATE.items() if r["Type"] == kind}


def test_the_ledger_is_encrypted_backed_up_and_expires_items():
    table = _of_type("AWS::DynamoDB::Table")["Table"]
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["BillingMode"] == "PAY_PER_REQUEST"


def test_every_queue_is_encrypted():
    queues = _of_type("AWS::SQS::Queue")
    # the mail queue, the confirmation queue, their dead-letter queue; the webhook's (issue 14)
    assert len(queues) == 4
    assert all(q.get("SqsManagedSseEnabled") is True for q in queues.values())


def test_the_key_secret_is_generated_by_aws_not_written_anywhere():
    assert "AWS::SecretsManager::Secret" in FULL and "GenerateStringKey: master_key" in FULL
    config = (ROOT / ".chalice" / "config.json").read_text()
    for needle in ("master_key", "token_keys", "subject_key", "api_keys", "AWS_SECRET_ACCESS_KEY"):
        assert needle not in config


def test_no_secret_material_is_committed():
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    patterns = [
        re.compile(r"AKIA[0-9A-Z]{16}"),  # an AWS access key id
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
        re.compile(r'"(master_key|subject_key)"\s*:\s*"[0-9a-f]{32,}"'),
    ]
    for name in files:
        path = ROOT / name
        if path.suffix in {".png", ".mo", ".zip"} or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        for pattern in patterns:
            assert not pattern.search(text), f"{name} holds what looks like a secret"


def test_the_erasure_journal_is_encrypted_and_forgets():
    """Issue 12: the journal outside the ledger holds subject hashes and times only, and
    expires (LAW 27); it needs no backup of its own."""
    journal = _of_type("AWS::DynamoDB::Table")["ErasureJournal"]
    assert journal["SSESpecification"]["SSEEnabled"] is True
    assert journal["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert journal["KeySchema"] == [{"AttributeName": "subject", "KeyType": "HASH"}]
