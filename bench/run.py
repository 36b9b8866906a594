"""`make bench`: cold start per route, AWS calls per flow, warm time per request, package size.

    python -m bench.run [--runs 11] [--wall] [--quick]

Prints a table and writes it as JSON to bench/results/<UTC time>.json and bench/latest.json
(the copy docs/operations.md quotes).

Cold start. A fresh process (bench/cold.py) imports the app from the unzipped deployment
package, on a Python that has only boto3 (as the Lambda runtime does) and may not write
bytecode (Lambda's /var/task is read-only), and serves one request of the route against
moto's server (a separate process, so its work is not counted). Counted in instructions by
valgrind's cachegrind where it is installed (deterministic: one run each), else as the
median of wall-time ratios over ``--runs`` interleaved runs. Always side by side with the
baseline measured in the same run: a process that imports boto3 and creates a DynamoDB and
an SESv2 client. The package is measured as `make deploy` ships it (with bytecode) and as
plain `chalice package` makes it (sources only), to show what the bytecode buys.

AWS calls per flow: bench/calls.py (a botocore hook under moto), against DESIGN.md's table.

Warm time: the same requests served in this process, many times, each timed in CPU time
of this process (moto's server runs apart, so AWS latency is not in it), as a ratio to a
bare Chalice route (one route returning a small JSON body) measured in the same rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BUILD = ROOT / "build" / "bench"
RESULTS = BENCH / "results"
LATEST = BENCH / "latest.json"
COLD = BENCH / "cold.py"
sys.path.insert(0, str(ROOT))

from bench import cost, events  # noqa: E402
from bench.flows import FLOWS  # noqa: E402
from scripts import package as packaging  # noqa: E402

REGION = "eu-west-1"
BASE_URL = "https://consent.bench"
API_KEY = "bench-api-key-123"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

# The budgets, as ratios to the baseline (cold) and in bytes (package).
BUDGETS = {  # issue 16's
    "GET /forms/{id}": 0.4,
    "POST /forms/{id}": 1.2,
    "GET /confirm/{token}": 1.2,
    "POST /confirm/{token}": 1.2,
}
PLAIN_MODE = ("GET /forms/{id}", "POST /forms/{id}")  # also measured without bytecode
FIRST_MODE = "package"  # what `make deploy` ships; the budgets are judged on it
MAX_PACKAGE = 4_000_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the stack: moto's server and the app in this process, for preparing requests -------


class Stack:
    """moto's server in its own process, the stage's resources in it, and the app in this
    process (to prepare signups, mail and links the measured requests need)."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
        self.env = {
            **config.get("environment_variables", {}),
            **config["stages"]["local"]["environment_variables"],
            "CONSENTRY_BASE_URL": BASE_URL,
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }
        self.sent: list[EmailMessage] = []

    @contextlib.contextmanager
    def running(self) -> Iterator[Stack]:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            self._wait()
            for var in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION"):
                os.environ.pop(var, None)
            os.environ.update(self.env)
            from scripts.local_stack import provision

            self.resources = provision("local", api_key=API_KEY, stream=False)  # see ensure_table
            import app as app_module
            from chalicelib import mail

            self.app = app_module
            self.templates = list(app_module.app.routes)
            send = mail.send

            def keep(message: EmailMessage, kind: str) -> str:  # this process's mail jobs only
                self.sent.append(message)
                return send(message, kind)

            mail.send = keep
            yield self
        finally:
            server.terminate()
            try:
                server.wait(5)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("moto's server did not start")

    def fresh_tables(self) -> None:
        """Empty tables for the next warm round. moto copies the whole table for each item
        of a transaction (to roll back), so each write got slower as the rounds filled it:
        the warm phase once ran 13 minutes while moto grew to 4.9 GB. A round prepares the
        state its requests need; nothing of an earlier round is read."""
        import boto3

        from chalicelib import ledger
        from scripts.local_stack import ensure_table

        ddb = boto3.client("dynamodb", region_name=REGION)
        for name in ddb.list_tables()["TableNames"]:
            ddb.delete_table(TableName=name)
        ensure_table(ddb, "local", stream=False)  # as provisioned (see ensure_table)
        ledger.clear_cache()  # which consent texts the table holds: none now

    def child_env(self) -> dict[str, str]:
        """What a cold process gets: the stage's environment, nothing of this process's."""
        keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
        return {**keep, **self.env, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}

    # -- requests, as API Gateway and SQS deliver them --------------------------------

    def event(
        self, method: str, url: str, body: str | None = None, headers: dict[str, str] | None = None
    ) -> Any:
        return events.request_event(self.templates, method, url, headers=headers, body=body)

    def call(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.app.app(event, events.LambdaContext())

    def job_event(self, body: str) -> dict[str, Any]:
        return events.sqs_event(body, self.resources["queue_arn"], REGION)

    # -- preparing state ----------------------------------------------------------------

    def signup_event(self, email: str) -> dict[str, Any]:
        body = urlencode([("email", email), ("purposes", "newsletter"), ("purposes", "offers")])
        return self.event("POST", "/forms/newsletter", body, FORM)

    def signup_job(self, email: str) -> str:
        """Sign up and take the mail job off the confirmation queue (which is left empty)."""
        answer = self.call(self.signup_event(email))
        assert answer["statusCode"] == 200, answer
        import boto3

        sqs = boto3.client("sqs", region_name=REGION)
        queue = self.resources["confirm_queue_url"]  # signups' mail has its own queue (issue 10)
        bodies = []
        while True:
            got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
            messages = got.get("Messages", [])
            if not messages:
                break
            for m in messages:
                bodies.append(m["Body"])
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
        from chalicelib.keys import get_keys

        subject = get_keys().subject_id(email)
        mine = [b for b in bodies if json.loads(b)["subject"] == subject]
        assert mine, f"no mail job for {email}"
        return mine[-1]

    def confirm_path(self, email: str) -> str:
        job = self.signup_job(email)
        self.sent.clear()
        self.app.mail_worker(self.job_event(job), events.LambdaContext())
        (message,) = self.sent
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        match = re.search(re.escape(BASE_URL) + r"(/confirm/[A-Za-z0-9_.\-]+)", text)
        assert match, "no confirm link in the mail"
        return match.group(1)

    def confirmed(self, email: str) -> None:
        answer = self.call(self.event("POST", self.confirm_path(email), "", FORM))
        assert answer["statusCode"] == 200, answer

    def stream_batch(self, email: str) -> dict[str, Any]:
        """A confirmed person's items as the table's stream hands them to push_changes
        (issue 14): one batch, its two grants among the profile, events and the rest."""
        import boto3

        from chalicelib.keys import get_keys

        self.confirmed(email)
        items = boto3.client("dynamodb", region_name=REGION).query(
            TableName=self.resources["table"],
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"S#{get_keys().subject_id(email)}"}},
        )["Items"]
        return events.stream_event(items, self.resources["table"], REGION)

    def unsubscribe_path(self, email: str) -> str:
        self.confirmed(email)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"}
        answer = self.call(self.event("POST", "/api/links", json.dumps({"email": email}), headers))
        assert answer["statusCode"] == 200, answer
        return urlsplit(json.loads(answer["body"])["unsubscribe_url"]).path


# -- the routes measured ------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One row: a request of one route, made afresh (with its state) for every run."""

    name: str
    flow: str  # bench/flows.py's flow of the same request: its AWS calls
    make: Callable[[Stack, str], tuple[str, dict[str, Any], int | None]]  # -> handler, event, status
    repeatable: bool = False  # the same request may be served again (a GET that changes nothing)


def _form(s: Stack, _: str) -> tuple[str, dict[str, Any], int | None]:
    return "app", s.event("GET", "/forms/newsletter"), 200


def _signup(s: Stack, email: str) -> tuple[str, dict[str, Any], int | None]:
    return "app", s.signup_event(email), 200


def _mail_job(s: Stack, email: str) -> tuple[str, dict[str, Any], int | None]:
    return "mail_worker", s.job_event(s.signup_job(email)), None


def _confirm_get(s: Stack, email: str) -> tuple[str, dict[str, Any], int | None]:
    return "app", s.event("GET", s.confirm_path(email)), 200


def _confirm_post(s: Stack, email: str) -> tuple[str, dict[str, Any], int | None]:
    return "app", s.event("POST", s.confirm_path(email), "", FORM), 200


def _unsubscribe_get(s: Stack, email: str) -> tuple[str, dict[str, Any], int | None]:
    return "app", s.event("GET", s.unsubscribe_path(email)), 200


def _one_click(s: Stack, email: str) -> tuple[str, dict[str, Any], int | None]:
    return "app", s.event("POST", s.unsubscribe_path(email), "List-Unsubscribe=One-Click", FORM), 200


def _preferences(s: Stack, email: str) -> tuple[str, dict[str, Any], int | None]:
    body = urlencode([("purposes", "newsletter"), ("profiling", "object")])
    return "app", s.event("POST", s.unsubscribe_path(email), body, FORM), 200


def _audience(s: Stack, email: str) -> tuple[str, dict[str, Any], int | None]:
    s.confirmed(email)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    return "app", s.event("GET", "/api/audiences/newsletter?limit=50", headers=headers), 200


def _stream_batch(s: Stack, email: str) -> tuple[str, dict[str, Any], int | None]:
    return "push_changes", s.stream_batch(email), None


ROUTES = (
    Route("GET /forms/{id}", "form GET", _form, repeatable=True),
    Route("POST /forms/{id}", "signup POST", _signup),
    Route("mail job (SQS)", "mail job", _mail_job),
    Route("GET /confirm/{token}", "confirm GET", _confirm_get, repeatable=True),
    Route("POST /confirm/{token}", "confirm POST", _confirm_post),
    Route("GET /unsubscribe/{token}", "unsubscribe GET", _unsubscribe_get, repeatable=True),
    Route("POST /unsubscribe/{token} one-click", "one-click POST", _one_click),
    Route("POST /unsubscribe/{token} preferences", "preferences POST", _preferences),
    Route("GET /api/audiences/{purpose}", "audience page", _audience, repeatable=True),
    Route("stream batch (push_changes)", "changes push", _stream_batch),
)


def available_routes(app_module: Any) -> list[Route]:
    flows = {f.name: f for f in FLOWS}
    return [r for r in ROUTES if flows[r.flow].available(app_module)]


# -- cold start ---------------------------------------------------------------------------

_serial = iter(range(1, 1_000_000))


def _email(tag: str) -> str:
    return f"bench-{tag}-{next(_serial)}@example.com"


class Cold:
    """Runs bench/cold.py: under cachegrind (instructions) or timed (wall seconds)."""

    def __init__(self, stack: Stack, valgrind: str | None, scratch: Path) -> None:
        self.stack = stack
        self.valgrind = valgrind
        self.scratch = scratch
        self.unit = "instructions" if valgrind else "seconds"

    def run(self, python: Path, scenario: dict[str, Any]) -> float:
        fd, name = tempfile.mkstemp(suffix=".json", dir=self.scratch)  # runs may be parallel
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(scenario, f)
        path = Path(name)
        cmd = [str(python), "-B", str(COLD), str(path)]
        if self.valgrind:
            cmd = [
                self.valgrind,
                "--tool=cachegrind",
                "--cache-sim=no",
                "--cachegrind-out-file=/dev/null",
                *cmd,
            ]
        started = time.perf_counter()
        done = subprocess.run(
            cmd, env=self.stack.child_env(), capture_output=True, text=True, cwd=self.scratch
        )
        wall = time.perf_counter() - started
        if done.returncode != 0 or "ok" not in done.stdout:
            raise SystemExit(
                f"cold run failed ({scenario['kind']}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
            )
        if not self.valgrind:
            return wall
        match = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
        if not match:
            raise SystemExit(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
        return float(match.group(1).replace(",", ""))

    def modules(self, python: Path, scenario: dict[str, Any]) -> list[str]:
        """The modules a cold start of the scenario imported (its module list, not timed)."""
        path = self.scratch / "modules.json"
        path.write_text(json.dumps({**scenario, "modules": True}), encoding="utf-8")
        done = subprocess.run(
            [str(python), "-B", str(COLD), str(path)],
            env=self.stack.child_env(),
            capture_output=True,
            text=True,
            cwd=self.scratch,
        )
        listed = [line for line in done.stdout.splitlines() if line.startswith("[")]
        if done.returncode != 0 or not listed:
            raise SystemExit(f"cold run failed ({scenario['kind']}):\n{done.stderr[-4000:]}")
        return list(json.loads(listed[0]))

    def scenario(self, route: Route | None, root: Path | None) -> dict[str, Any]:
        if route is None:
            return {"kind": "baseline", "region": REGION}
        handler, event, status = route.make(self.stack, _email("cold"))
        kind = "sqs" if handler != "app" else "http"
        return {"kind": kind, "root": str(root), "handler": handler, "event": event, "status": status}


def measure_cold(
    cold: Cold, python: Path, roots: dict[str, Path], routes: list[Route], runs: int
) -> dict[str, Any]:
    """Each route's cold start in each mode, as a ratio to the baseline of the same run."""
    plan: list[tuple[str, str]] = [
        (mode, route.name)
        for mode in roots
        for route in routes
        if mode == FIRST_MODE or route.name in PLAIN_MODE  # other modes: these routes only
    ]
    by_name = {r.name: r for r in routes}
    values: dict[tuple[str, str], list[float]] = {key: [] for key in plan}
    ratios: dict[tuple[str, str], list[float]] = {key: [] for key in plan}
    baseline: list[float] = []
    if cold.valgrind:
        # Instruction counts do not depend on what else runs: one run each, side by side.
        scenarios = [cold.scenario(by_name[name], roots[mode]) for mode, name in plan]
        jobs = [cold.scenario(None, None), *scenarios]
        with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
            counts = list(pool.map(lambda sc: cold.run(python, sc), jobs))
        baseline.append(counts[0])
        for key, value in zip(plan, counts[1:], strict=True):
            values[key].append(value)
            ratios[key].append(value / counts[0])
    else:
        # Wall time: interleaved, so drift and noise fall on the baseline and the routes alike.
        for _ in range(runs):
            scenarios = [cold.scenario(by_name[name], roots[mode]) for mode, name in plan]
            base = cold.run(python, cold.scenario(None, None))
            baseline.append(base)
            for key, scenario in zip(plan, scenarios, strict=True):
                value = cold.run(python, scenario)
                values[key].append(value)
                ratios[key].append(value / base)
    return {
        "unit": cold.unit,
        "method": (
            "cachegrind instruction count, one run each"
            if cold.valgrind
            else f"median of wall-time ratios over {runs} interleaved runs"
        ),
        "baseline": statistics.median(baseline),
        "modes": {
            mode: {
                name: {
                    "ratio": statistics.median(ratios[(mode, name)]),
                    "value": statistics.median(values[(mode, name)]),
                }
                for m, name in plan
                if m == mode
            }
            for mode in roots
        },
    }


PROBES = {
    "import app": {},
    "+ chalicelib.signup_validator (pydantic_core)": {
        "imports": ["chalicelib.signup_validator"],
        "validate": {"email": "probe@example.com", "purposes": ["newsletter"]},
    },
    "+ botocore, DynamoDB, Secrets Manager and SQS clients": {
        "clients": ["dynamodb", "secretsmanager", "sqs"]
    },
}


def measure_probes(cold: Cold, python: Path, root: Path, baseline: float) -> dict[str, float]:
    """Where a cold signup's cost goes: each part over a bare `import app`, x baseline.
    Instruction counts only (one run each); timing walls this finely would be noise."""
    if not cold.valgrind:
        return {}
    jobs = [{"kind": "probe", "root": str(root), **probe} for probe in PROBES.values()]
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        counts = list(pool.map(lambda sc: cold.run(python, sc), jobs))
    parts = {"import app": counts[0] / baseline}
    for name, count in zip(list(PROBES)[1:], counts[1:], strict=True):
        parts[name] = (count - counts[0]) / baseline
    return parts


def baseline_ms(cold: Cold, python: Path, result: dict[str, Any]) -> float:
    """The baseline in milliseconds on this machine (to turn ratios into time for the cost
    model): the median of five timed runs when counting instructions."""
    if not cold.valgrind:
        return float(result["baseline"]) * 1000
    timer = Cold(cold.stack, None, cold.scratch)
    return statistics.median(timer.run(python, timer.scenario(None, None)) for _ in range(5)) * 1000


# -- warm time ----------------------------------------------------------------------------


def _bare_app() -> Any:
    from chalice import Chalice

    bare = Chalice(app_name="bare")

    @bare.route("/")
    def index() -> dict[str, str]:
        return {"hello": "world"}

    return bare


def measure_warm(stack: Stack, routes: list[Route], rounds: int, quick: bool) -> dict[str, Any]:
    """CPU time per request in this process, and its ratio to a bare Chalice route: in each
    round the bare route is timed right before each route, the ratio of their medians is
    that round's, and the result is the median over rounds (drift cancels out)."""
    bare = _bare_app()
    bare_event = events.api_event("GET", "/", "/", {})
    default = 4 if quick else 10
    per_round = {r.name: 100 for r in routes if r.repeatable}
    samples: dict[str, list[int]] = {r.name: [] for r in routes}
    ratios: dict[str, list[float]] = {r.name: [] for r in routes}
    sizes: dict[str, int] = {}
    bare_samples: list[int] = []

    def time_bare() -> float:
        batch = []
        for _ in range(100):
            started = time.process_time_ns()
            bare(bare_event, None)
            batch.append(time.process_time_ns() - started)
        bare_samples.extend(batch)
        return statistics.median(batch)

    # Warm everything once: imports, clients, the key secret, the queue URL, templates.
    for route in routes:
        handler, event, _ = route.make(stack, _email("warmup"))
        getattr(stack.app, handler)(event, events.LambdaContext())
    time_bare()
    for _ in range(rounds):
        stack.fresh_tables()
        for route in routes:
            count = per_round.get(route.name, default)
            if route.repeatable:
                prepared = [route.make(stack, _email("warm"))] * count
            else:
                prepared = [route.make(stack, _email("warm")) for _ in range(count)]
            bare_now = time_bare()
            batch = []
            for handler, event, status in prepared:
                target = getattr(stack.app, handler)
                started = time.process_time_ns()
                answer = target(event, events.LambdaContext())
                batch.append(time.process_time_ns() - started)
                if isinstance(answer, dict):
                    sizes[route.name] = len(str(answer.get("body") or "").encode())
                if status is not None and answer["statusCode"] != status:
                    raise SystemExit(f"{route.name}: status {answer['statusCode']}")
            samples[route.name].extend(batch)
            ratios[route.name].append(statistics.median(batch) / bare_now)
    return {
        "clock": "CPU time of the serving process (time.process_time_ns)",
        "bare_route_us": statistics.median(bare_samples) / 1000,
        "routes": {
            name: {
                "us": statistics.median(samples[name]) / 1000,
                "ratio": statistics.median(ratios[name]),
                "n": len(samples[name]),
                "bytes": sizes.get(name, 0),
            }
            for name in samples
        },
    }


# -- AWS calls, package -------------------------------------------------------------------


def measure_calls() -> dict[str, Any]:
    # Its answer is JSON on stdout: keep the app's INFO log lines out of it, and skip the
    # metric lines, which no log level silences (chalicelib/metrics.py).
    env = {**os.environ, "CONSENTRY_LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        [sys.executable, "-m", "bench.calls"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"bench.calls failed:\n{done.stderr[-4000:]}")
    answer = [line for line in done.stdout.splitlines() if not line.startswith('{"time": ')]
    return dict(json.loads("\n".join(answer)))


def unzip(package: Path, into: Path) -> Path:
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    with zipfile.ZipFile(package) as z:
        z.extractall(into)
    return into


# -- the report ---------------------------------------------------------------------------


def _fmt_ratio(x: float) -> str:
    return f"{x:.2f}x"


def report(data: dict[str, Any]) -> str:
    cold = data["cold_start"]
    lines = []
    unit = cold["unit"]
    base = cold["baseline"]
    base_txt = f"{base / 1e6:,.0f} M instructions" if unit == "instructions" else f"{base * 1000:.0f} ms"
    lines.append(f"Consentry bench, {data['when']} ({data['machine']})")
    lines.append(
        f"Cold start: {cold['method']}; baseline (import boto3, DynamoDB + SESv2 client) = {base_txt}"
    )
    lines.append("")
    modes = list(cold["modes"])
    head = [
        "route",
        *[f"cold {m}" for m in modes],
        "budget",
        "AWS calls (warm)",
        "cold adds",
        "warm",
        "warm/bare",
    ]
    rows = []
    for route in data["routes"]:
        name, flow = route["name"], route["flow"]
        calls = data["aws_calls"].get(flow, {})
        budget = data["budgets"]["cold_ratio"].get(name)
        verdict = ""
        if budget is not None:
            ratio = cold["modes"][modes[0]][name]["ratio"]
            verdict = (
                f"<= {budget}x {'met' if ratio <= budget else 'MISSED by ' + f'{ratio / budget - 1:.0%}'}"
            )
        warm = data["warm"]["routes"][name]
        rows.append(
            [
                name,
                *[
                    _fmt_ratio(cold["modes"][m][name]["ratio"]) if name in cold["modes"][m] else "-"
                    for m in modes
                ],
                verdict,
                _describe_calls(calls),
                ", ".join(calls.get("cold_extra", [])) or "-",
                f"{warm['us'] / 1000:.2f} ms",
                _fmt_ratio(warm["ratio"]),
            ]
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    lines.append("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    lines.append("")
    if cold.get("parts"):
        parts = "; ".join(f"{name} {value:.2f}x" for name, value in cold["parts"].items())
        lines.append(f"Parts of a cold start (x baseline): {parts}.")
    lines.append(f"Bare Chalice route, warm: {data['warm']['bare_route_us']:.0f} us CPU per request.")
    for name, flow in data["aws_calls"].items():
        if not flow.get("available"):
            lines.append(f"AWS calls: flow '{name}' skipped (its routes are not in the app yet).")
        elif flow["over"]:
            lines.append(f"AWS calls: flow '{name}' OVER the table: {', '.join(flow['over'])}")
    if "cost" in data:
        lines.append("")
        lines.extend(cost.report(data["cost"]))
        lines.append("")
    if "cost_push" in data:
        lines.extend(cost.push_report(data["cost_push"]))
        lines.append("")
    pkg = data["package"]
    verdict = "met" if pkg["bytes"] <= MAX_PACKAGE else f"MISSED by {pkg['bytes'] - MAX_PACKAGE:,} bytes"
    lines.append(
        f"deployment.zip: {pkg['bytes']:,} bytes ({pkg['bytes'] / 1e6:.2f} MB; budget 4 MB: {verdict});"
        f" without bytecode {pkg['bytes_without_bytecode']:,} bytes"
    )
    return "\n".join(lines)


def memory_sizes(stage: str) -> dict[str, int]:
    """The stage's memory for the API function, the mail worker and the stream handler."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    st = config["stages"][stage]
    api = int(st.get("lambda_memory_size", config.get("lambda_memory_size", 128)))
    functions = st.get("lambda_functions", {})
    worker = int(functions.get("mail_worker", {}).get("lambda_memory_size", api))
    push = int(functions.get("push_changes", {}).get("lambda_memory_size", api))
    return {"api": api, "worker": worker, "push": push}


def _describe_calls(flow: dict[str, Any]) -> str:
    if not flow.get("available"):
        return "n/a"
    counts = flow["by_kind"]
    text = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "0"
    return text + ("" if not flow["over"] else " (OVER)")


def measured_commit() -> dict[str, Any]:
    """The commit the bench measures, and whether the tree differed from it (a result of a
    dirty tree is not the commit's). Taken before the package is built from the tree."""
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    # bench/ results are written by this run; everything else must be as committed
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/latest.json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {"sha": head, "dirty": bool(status.strip())}


def _chosen(routes: list[Route], words: list[str]) -> list[Route]:
    return [r for r in routes if not words or any(w in r.name for w in words)]


def cold_modules(words: list[str]) -> int:
    """What each chosen route's cold start imports, from the working tree, as JSON
    ({route: [module, ...]}): tests/test_cold_imports.py holds each import decision to it."""
    stack = Stack()
    with stack.running(), tempfile.TemporaryDirectory() as scratch:
        cold = Cold(stack, None, Path(scratch))
        found = {
            route.name: cold.modules(Path(sys.executable), cold.scenario(route, ROOT))
            for route in _chosen(available_routes(stack.app), words)
        }
    sys.stdout.write(json.dumps(found) + "\n")
    return 0


def cold_only(words: list[str], valgrind: str | None, runs: int) -> int:
    """Cold starts of some routes, printed: a quick look at what a change does."""
    BUILD.mkdir(parents=True, exist_ok=True)
    package = packaging.build("prod", BUILD / "package-prod")
    python = packaging.lambda_python()
    root = unzip(package, BUILD / "unzipped")
    stack = Stack()
    with stack.running(), tempfile.TemporaryDirectory() as scratch:
        routes = _chosen(available_routes(stack.app), words)
        cold = Cold(stack, valgrind, Path(scratch))
        result = measure_cold(cold, python, {FIRST_MODE: root}, routes, runs)
        parts = measure_probes(cold, python, root, result["baseline"])
    base = result["baseline"]
    print(f"baseline {base / 1e6:,.0f} M" if cold.valgrind else f"baseline {base * 1000:.0f} ms")
    for name, row in result["modes"][FIRST_MODE].items():
        value = f"{row['value'] / 1e6:,.0f} M" if cold.valgrind else f"{row['value'] * 1000:.0f} ms"
        print(f"  {name:40} {row['ratio']:.2f}x  {value}")
    for name, value in parts.items():
        print(f"  part: {name:60} {value:.2f}x")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=11, help="interleaved runs when timing walls (>= 10)")
    parser.add_argument("--wall", action="store_true", help="time walls even where valgrind is installed")
    parser.add_argument("--rounds", type=int, default=5, help="warm rounds")
    parser.add_argument("--quick", action="store_true", help="fewer warm requests")
    parser.add_argument(
        "--cold-only",
        metavar="ROUTE",
        nargs="*",
        help="only the cold starts (and their parts) of the routes whose names contain one of"
        " these words (all routes if none), printed, nothing written: for trying a change",
    )
    parser.add_argument(
        "--modules",
        metavar="ROUTE",
        nargs="*",
        help="only list what the cold starts of these routes import (JSON on stdout)",
    )
    args = parser.parse_args()
    # A kill runs the cleanup too (moto's server is a child process).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    valgrind = None if args.wall else shutil.which("valgrind")
    if not valgrind and args.runs < 10:
        parser.error("at least 10 interleaved runs without valgrind")

    began = time.monotonic()
    if args.modules is not None:
        return cold_modules(args.modules)
    if args.cold_only is not None:
        return cold_only(args.cold_only, valgrind, args.runs)
    commit = measured_commit()
    BUILD.mkdir(parents=True, exist_ok=True)
    print("building the package (scripts/package.py) ...", flush=True)
    package = packaging.build("prod", BUILD / "package-prod")
    plain = packaging.without_bytecode(package, BUILD / "deployment-without-bytecode.zip")
    python = packaging.lambda_python()
    roots = {
        FIRST_MODE: unzip(package, BUILD / "unzipped"),
        "no bytecode": unzip(plain, BUILD / "unzipped-plain"),
    }
    print("AWS calls per flow (bench/calls.py) ...", flush=True)
    calls = measure_calls()
    stack = Stack()
    with stack.running(), tempfile.TemporaryDirectory() as scratch:
        routes = available_routes(stack.app)
        cold = Cold(stack, valgrind, Path(scratch))
        started = time.monotonic()
        print(f"cold starts ({cold.unit}) ...", flush=True)
        cold_result = measure_cold(cold, python, roots, routes, args.runs)
        cold_result["parts"] = measure_probes(cold, python, roots[FIRST_MODE], cold_result["baseline"])
        cold_result["baseline_ms"] = baseline_ms(cold, python, cold_result)
        print(f"  {time.monotonic() - started:.0f} s; warm requests ...", flush=True)
        started = time.monotonic()
        warm = measure_warm(stack, routes, args.rounds, args.quick)
        print(f"  {time.monotonic() - started:.0f} s", flush=True)
    now = datetime.now(UTC)
    data = {
        "when": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "commit": commit,
        "seconds": round(time.monotonic() - began),
        "machine": f"{os.uname().machine}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}",
        "budgets": {"cold_ratio": BUDGETS, "package_bytes": MAX_PACKAGE},
        "routes": [{"name": r.name, "flow": r.flow} for r in routes],
        "cold_start": cold_result,
        "aws_calls": calls,
        "warm": warm,
        "package": {
            "bytes": package.stat().st_size,
            "bytes_without_bytecode": plain.stat().st_size,
            "sha256": packaging.sha256(package),
        },
    }
    data["cost"] = cost.per_million(data, memory_sizes("prod"))
    if "stream batch (push_changes)" in data["warm"]["routes"]:
        data["push"] = {"memory_mb": memory_sizes("prod")["push"]}
        data["cost_push"] = cost.push_per_million(data)
    text = report(data)
    data["table"] = text
    print()
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{now.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    shutil.copyfile(out, LATEST)
    print(f"\nwritten: {out.relative_to(ROOT)} and {LATEST.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
