"""Plain `chalice deploy` refuses to run: `make deploy` ships the package the tests ran.

`chalice deploy` on its own builds a zip of sources only (no bytecode: a cold form view
costs 1.00x the baseline instead of 0.40x) and skips `make deploy`'s checks (account,
region, resource stack, certificate). Chalice has no deploy hook (aws/chalice#758), but
every chalice command imports app.py, before it makes any AWS call; app.py calls ``check``
only when the chalice command line is running (never in Lambda, whose package carries no
``chalice.cli``). It lets `chalice deploy` through only when scripts/deploy.py started it,
naming the SHA-256 of the package it built and checked, and that package is the one
Chalice will upload: its own cached zip for this tree.
"""

from __future__ import annotations

import os

PACKAGE_VARIABLE = "CONSENTRY_DEPLOY_PACKAGE"
MESSAGE = (
    "plain `chalice deploy` is refused: use `make deploy STAGE=<stage>`. It builds the package"
    " with bytecode (scripts/package.py), checks the account, region and resources, then runs"
    " chalice deploy on that package; chalice on its own would ship sources only."
)


def check() -> None:
    """Raise click's error (printed, exit status 1) when the command is an unsanctioned
    `chalice deploy`; any other chalice command (package, local, ...) goes on."""
    import click

    context = click.get_current_context(silent=True)
    if context is None or context.info_name != "deploy":
        return
    from scripts import package as packaging

    expected = os.environ.get(PACKAGE_VARIABLE)
    cached = packaging.cached_package()
    if expected and cached.exists() and packaging.sha256(cached) == expected:
        return
    raise click.ClickException(MESSAGE)
