"""Start `make run`'s local stack as a subprocess on free ports, for tests that need it real."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from scripts.local_stack import port_free as port_free  # re-exported: the tests check ports with it

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "local-dev-key"
READY_LINE = "Consentry local stack ready"


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass
class Stack:
    app: str
    moto: str
    mail_port: int
    ports: tuple[int, ...]
    process: subprocess.Popen[str]
    host: str = ""
    """The demo host page's origin (HOST_PORT): listed for the stage's forms."""
    dynamodb: str = ""
    """DynamoDB Local's URL (DYNAMODB_PORT), holding the ledger in the data dir."""
    output: list[str] = field(default_factory=list)
    exit_code: int | None = None

    @property
    def log(self) -> str:
        return "".join(self.output)


@contextmanager
def running_stack(extra_env: dict[str, str] | None = None, data_dir: Path | None = None) -> Iterator[Stack]:
    """The stack, ready; on exit SIGINT and wait (killing the group if it will not stop).

    Its data (DynamoDB Local's files, the stage secret) go to ``data_dir``, kept for a
    restart; by default a temporary dir, removed afterwards (never the project's .local/)."""
    with (
        tempfile.TemporaryDirectory(prefix="consentry-stack-") as scratch,
        _running_stack(extra_env or {}, data_dir or Path(scratch)) as stack,
    ):
        yield stack


@contextmanager
def _running_stack(extra_env: dict[str, str], data_dir: Path) -> Iterator[Stack]:
    port, moto_port, dynamodb_port, mail_port, host_port = free_ports(5)
    env = {
        **os.environ,
        "PORT": str(port),
        "MOTO_PORT": str(moto_port),
        "DYNAMODB_PORT": str(dynamodb_port),
        "MAIL_PORT": str(mail_port),
        "HOST_PORT": str(host_port),
        "CONSENTRY_API_KEY": API_KEY,
        "CONSENTRY_DATA_DIR": str(data_dir),
        "PYTHONUNBUFFERED": "1",
        **extra_env,
    }
    process = subprocess.Popen(
        [sys.executable, "scripts/local_stack.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,  # so a failed test can stop the whole group
    )
    stack = Stack(
        f"http://127.0.0.1:{port}",
        f"http://127.0.0.1:{moto_port}",
        mail_port,
        (port, moto_port, dynamodb_port, mail_port, host_port),
        process,
        host=f"http://127.0.0.1:{host_port}",
        dynamodb=f"http://127.0.0.1:{dynamodb_port}",
    )
    ready = threading.Event()

    def read() -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            stack.output.append(line)
            if READY_LINE in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        while not ready.wait(0.2):
            if process.poll() is not None:
                raise RuntimeError("stack exited:\n" + stack.log)
            if time.monotonic() > deadline:
                raise RuntimeError("stack not ready in 60 s:\n" + stack.log)
        yield stack
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            stack.exit_code = process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise RuntimeError("stack did not stop within 15 s of SIGINT:\n" + stack.log) from None
