"""One cold start: a fresh interpreter imports the app and serves one event (or the baseline).

    python cold.py SCENARIO.json

Kept to the standard library and run with nothing on sys.path but the app (or the unzipped
package) and the interpreter's own site-packages, so what it costs is what a Lambda cold
start of that route costs. The baseline is the same script with kind "baseline": it pays
the same interpreter start and the same reading of its scenario.
"""

import json
import os
import sys


class _Context:
    """What a handler may read of the runtime's context object."""

    function_name = "consentry-bench"
    aws_request_id = "bench"
    memory_limit_in_mb = 1024

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        scenario = json.load(f)
    kind = scenario["kind"]
    if kind == "baseline":
        import boto3

        region = scenario.get("region", "eu-west-1")
        boto3.client("dynamodb", region_name=region)
        boto3.client("sesv2", region_name=region)
    elif kind in ("http", "sqs"):
        sys.path.insert(0, scenario["root"])
        import app

        handler = getattr(app, scenario["handler"])
        result = handler(scenario["event"], _Context())
        if kind == "http" and result["statusCode"] != scenario["status"]:
            sys.stderr.write(f"status {result['statusCode']}, expected {scenario['status']}\n")
            sys.stderr.flush()
            os._exit(3)
        if scenario.get("modules"):
            sys.stdout.write(json.dumps(sorted(sys.modules)) + "\n")
    elif kind == "probe":
        # What one part of a cold start costs: the app plus some imports and clients.
        import importlib

        sys.path.insert(0, scenario["root"])
        import app

        for name in scenario.get("imports", []):
            importlib.import_module(name)
        if "validate" in scenario:
            from chalicelib.signup_validator import validate_signup

            validate_signup(scenario["validate"])
        if scenario.get("clients"):
            from chalicelib import aws

            for service in scenario["clients"]:
                aws.client(service, "eu-west-1")
    elif kind != "empty":
        raise SystemExit(f"unknown kind {kind}")
    sys.stdout.write("ok\n")
    sys.stdout.flush()
    # A Lambda container is not torn down after its first request: skip interpreter teardown.
    os._exit(0)


main()
