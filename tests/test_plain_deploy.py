"""`chalice deploy` run by hand refuses, before any AWS call, and says to use `make deploy`;
the `chalice deploy` that `make deploy` runs ships the package it built (with bytecode).

Chalice is run as ops would run it, in the project, with its AWS endpoint pointed at a
socket of this test: what connects there is every AWS call it tried.
"""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scripts import deploy_guard
from scripts import package as packaging

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def fake_aws() -> Iterator[tuple[str, list[bytes]]]:
    """An endpoint that records each connection's first bytes and answers nothing useful."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    seen: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    seen.append(conn.recv(4096))
                    conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}", seen
    finally:
        server.close()
        thread.join(5)


def chalice_deploy(endpoint: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = packaging.chalice_env("dev")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", deploy_guard.PACKAGE_VARIABLE):
        env.pop(name, None)
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_MAX_ATTEMPTS="1",
        **extra,
    )
    return subprocess.run(
        [packaging.chalice_bin(), "deploy", "--stage", "dev"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_plain_chalice_deploy_refuses_before_any_aws_call_and_names_make_deploy():
    with fake_aws() as (endpoint, seen):
        done = chalice_deploy(endpoint)
    assert done.returncode != 0
    assert "use `make deploy STAGE=<stage>`" in done.stderr
    assert "deployment package" not in done.stdout + done.stderr  # nothing was built
    assert seen == []


def test_a_deploy_naming_another_package_is_refused_too():
    with fake_aws() as (endpoint, seen):
        done = chalice_deploy(endpoint, **{deploy_guard.PACKAGE_VARIABLE: "0" * 64})
    assert "use `make deploy STAGE=<stage>`" in done.stderr
    assert seen == []


def test_make_deploys_chalice_deploy_ships_the_package_it_built(tmp_path):
    """scripts/deploy.py names the package it built and checked: chalice reuses that zip
    (bytecode and all) and goes on to AWS."""
    package = packaging.build("dev", tmp_path / "dev")
    assert packaging.problems(package) == []
    with fake_aws() as (endpoint, seen):
        done = chalice_deploy(endpoint, **{deploy_guard.PACKAGE_VARIABLE: packaging.sha256(package)})
    output = done.stdout + done.stderr
    assert "refused" not in output
    assert "Reusing existing deployment package" in output, output[-3000:]
    # The zip chalice reused is the one built (found by content: the cache's name hashes the
    # tree, which another test worker may touch after this deploy).
    cached = {packaging.sha256(z) for z in packaging.cached_package().parent.glob("*.zip")}
    assert packaging.sha256(package) in cached
    assert seen, "it went on to call AWS"
