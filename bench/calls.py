"""AWS calls per flow, as JSON on stdout: ``python -m bench.calls``.

The flows of bench/flows.py, run the way the tests run them (chalice's test client on
in-process moto, the stage's resources made from resources.yaml), once in a warm
container and once as a container's first request.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from chalice.test import Client
    from moto import mock_aws

    # tests/conftest.py sets fake credentials and holds the Visitor the flows drive.
    from tests.conftest import API_KEY, STAGE_ENV, Visitor, provision

    os.environ.update(STAGE_ENV)
    import app as app_module
    from bench import flows

    results: dict[str, Any] = {}
    with mock_aws():
        resources = provision("local", api_key=API_KEY, stream=False)  # see ensure_table
        counter = flows.CallCounter()
        flows.install(counter)
        with Client(app_module.app, stage_name="local", project_dir=str(ROOT)) as client:
            driver = flows.Driver(Visitor(client, resources), API_KEY)
            for flow in flows.FLOWS:
                if not flow.available(app_module):
                    results[flow.name] = {"available": False, "budget": flow.budget, "note": flow.note}
                    continue
                warm = flows.measure(flow, driver, counter)
                details = list(counter.details)
                cold = flows.measure(flow, driver, counter, cold=True)
                extra = list(cold)
                for call in warm:
                    if call in extra:
                        extra.remove(call)
                counts = flows.by_kind(warm)
                results[flow.name] = {
                    "available": True,
                    "calls": [f"{s}:{o}" for s, o in warm],
                    "touches": details,
                    "by_kind": counts,
                    "budget": flow.budget,
                    "over": flows.over_budget(counts, flow.budget),
                    "cold_extra": [f"{s}:{o}" for s, o in extra],
                    "note": flow.note,
                }
        flows.uninstall()
    json.dump(results, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
