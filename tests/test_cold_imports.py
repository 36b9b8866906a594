"""The cold-start budget of `GET /forms/{id}`, checked without timing (make bench times it).

A fresh interpreter imports the app and serves one form page; what it imported is what
every cold form view pays for. The form needs Chalice, Jinja2 and the catalogue, and no
AWS client, no validation library and no token signing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.events import api_event

ROOT = Path(__file__).resolve().parent.parent
NOT_FOR_THE_FORM = {
    "boto3",
    "botocore",
    "s3transfer",
    "urllib3",
    "pydantic",
    "pydantic_core",
    "email_validator",
    "idna",
    "dns",
    "itsdangerous",
    "chalicelib.models",
    "chalicelib.ledger",
    "chalicelib.keys",
    "chalicelib.tokens",
    "chalicelib.signups",
    "chalicelib.mail",
}


def _cold_modules(tmp_path: Path, form_id: str, status: int) -> set[str]:
    event = api_event("GET", "/forms/{form_id}", f"/forms/{form_id}", {"form_id": form_id})
    scenario = {
        "kind": "http",
        "root": str(ROOT),
        "handler": "app",
        "event": event,
        "status": status,
        "modules": True,
    }
    file = tmp_path / "scenario.json"
    file.write_text(json.dumps(scenario))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_"))}
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    env.update(config["stages"]["local"]["environment_variables"])
    done = subprocess.run(
        [sys.executable, "-I", "-B", str(ROOT / "bench" / "cold.py"), str(file)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # the module list is the line that is a JSON list (the app's JSON logs are objects)
    return set(json.loads(next(line for line in done.stdout.splitlines() if line.startswith("["))))


def _not_for_the_form(modules: set[str]) -> set[str]:
    """Those modules and every module inside them (the ledger is a package)."""
    return {m for m in modules if any(m == n or m.startswith(n + ".") for n in NOT_FOR_THE_FORM)}


def test_a_cold_form_page_imports_no_aws_client_validation_or_signing(tmp_path):
    modules = _cold_modules(tmp_path, "newsletter", 200)
    assert {"app", "chalicelib.views.public", "jinja2", "chalicelib.catalogue"} <= modules
    assert _not_for_the_form(modules) == set()


def test_an_unknown_form_is_as_cheap(tmp_path):
    assert _not_for_the_form(_cold_modules(tmp_path, "nope", 404)) == set()
