"""What `make run` keeps between starts, in its data dir: the ledger (DynamoDB Local's
files) and the stage secret's master key, which the subject ids the ledger is keyed by and
the links already mailed derive from. Everything else (moto's queues and sent mail) starts
empty each time.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
SECRET_FILE = "stage-secret.json"  # noqa: S105 (a file name)
LEDGER_DIR = "dynamodb"
LEDGER_FILE = "shared-local-instance.db"  # what DynamoDB Local's -sharedDb writes there


def data_dir() -> Path:
    """`.local/` in the project (git-ignored), or env CONSENTRY_DATA_DIR."""
    return Path(os.environ.get("CONSENTRY_DATA_DIR") or ROOT / ".local").resolve()


def ledger_dir(data: Path) -> Path:
    return data / LEDGER_DIR


def claim(data: Path) -> IO[str] | None:
    """Lock the data dir for this run (two engines on one SQLite file would corrupt it);
    None when another run holds it. The lock ends with the file or the process."""
    import fcntl

    data.mkdir(parents=True, exist_ok=True)
    lock = (data / ".lock").open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return None
    return lock


def forget(data: Path) -> None:
    """`make run FRESH=1`: remove the ledger and the key this runner wrote, nothing else."""
    (data / SECRET_FILE).unlink(missing_ok=True)
    (ledger_dir(data) / LEDGER_FILE).unlink(missing_ok=True)


def stage_master_key(data: Path) -> str:
    """The stage secret's master key: made on the first run (readable by its owner only),
    the same on every later one."""
    path = data / SECRET_FILE
    if path.exists():
        return str(json.loads(path.read_text(encoding="utf-8"))["master_key"])
    key = secrets.token_hex(32)
    path.touch(mode=0o600)
    path.write_text(json.dumps({"master_key": key}) + "\n", encoding="utf-8")
    return key
