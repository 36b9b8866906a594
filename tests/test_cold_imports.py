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

import pytest

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


# -- the routes that reach AWS: a moto server in another process (bench/run.py --modules) ----

SIGNUP, CONFIRM_GET, CONFIRM_POST = "POST /forms/{id}", "GET /confirm/{token}", "POST /confirm/{token}"
AUDIENCE = "GET /api/audiences/{purpose}"


@pytest.fixture(scope="module")
def cold_routes() -> dict[str, set[str]]:
    """What a cold signup, a cold confirm (both requests of the link) and a cold API read
    import, each in a fresh interpreter against moto's server."""
    env = {**os.environ, "CONSENTRY_LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--modules", SIGNUP, "/confirm/", AUDIENCE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.splitlines()[-1])  # the last line (the app logs before it)
    return {route: set(modules) for route, modules in found.items()}


def _of(modules: set[str], *packages: str) -> set[str]:
    return {m for m in modules if m.split(".")[0] in packages}


@pytest.mark.stack
def test_a_cold_signup_of_a_plain_address_imports_neither_email_validator_nor_boto3(cold_routes):
    """pydantic_core validates the signup; a plain ASCII address needs no email-validator
    (chalicelib/plain_address.py) and the clients come from botocore (chalicelib/aws.py)."""
    modules = cold_routes[SIGNUP]
    assert {"chalicelib.signup_validator", "pydantic_core", "botocore.session"} <= modules
    assert _of(modules, "email_validator", "idna", "dns", "boto3", "s3transfer") == set()


@pytest.mark.stack
def test_a_cold_signup_imports_no_pydantic(cold_routes):
    """The signup body is validated by pydantic_core alone (chalicelib/signup_validator.py):
    importing pydantic and building the model would cost a cold signup about a fifth of the
    baseline (docs/operations.md, Performance)."""
    modules = cold_routes[SIGNUP]
    assert _of(modules, "pydantic") == set()
    assert "chalicelib.models" not in modules


@pytest.mark.stack
@pytest.mark.parametrize("route", [CONFIRM_GET, CONFIRM_POST])
def test_a_cold_confirm_link_imports_no_validation_library(cold_routes, route):
    """A confirm link carries no input to validate but its signed token: no pydantic."""
    modules = cold_routes[route]
    assert {"itsdangerous", "chalicelib.signups", "botocore.session"} <= modules
    assert _of(modules, "pydantic", "pydantic_core", "email_validator", "idna", "boto3") == set()


@pytest.mark.stack
def test_a_cold_json_answer_imports_no_jinja2(cold_routes):
    """Pages import Jinja2 when they render (chalicelib/pages.py): the API never does."""
    modules = cold_routes[AUDIENCE]
    assert {"chalicelib.pages", "chalicelib.views.answers"} <= modules
    assert _of(modules, "jinja2", "markupsafe") == set()
