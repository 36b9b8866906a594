"""What a million signups cost: list prices times what the bench measured.

A signup here is the whole funnel: one form view, one signup POST, its mail job, the
confirm page and the confirm POST. Calls, items written and read, page sizes and CPU time
per request come from the bench (bench/latest.json); prices are eu-west-1 list prices;
everything else is an assumption named in ``ASSUMPTIONS``. docs/operations.md prints it.
"""

from __future__ import annotations

import math
from typing import Any

PRICES_CHECKED = "2026-11-29"
# USD, eu-west-1 (Ireland), on-demand list prices, first pricing tier.
PRICES: dict[str, dict[str, Any]] = {
    "lambda_request": {
        "usd": 0.20 / 1e6,
        "unit": "request",
        "source": "https://aws.amazon.com/lambda/pricing/",
        "note": "$0.20 per million requests",
    },
    "lambda_gb_second": {
        "usd": 0.0000166667,
        "unit": "GB-second (x86)",
        "source": "https://aws.amazon.com/lambda/pricing/",
        "note": "first 6 billion GB-s a month",
    },
    "api_gateway_rest": {
        "usd": 3.50 / 1e6,
        "unit": "REST API call",
        "source": "https://aws.amazon.com/api-gateway/pricing/",
        "note": "first 333 million calls a month (AWS whitepaper 'Best practices for API Gateway"
        " private APIs', cost optimization); Chalice deploys REST APIs",
    },
    "dynamodb_wru": {
        "usd": 0.7068 / 1e6,
        "unit": "write request unit (on-demand)",
        "source": "https://aws.amazon.com/dynamodb/pricing/on-demand/",
        "note": "ASSUMPTION: Ireland's $1.4135 per million before AWS halved on-demand"
        " throughput prices on 1 Nov 2024",
    },
    "dynamodb_rru": {
        "usd": 0.1413 / 1e6,
        "unit": "read request unit (on-demand)",
        "source": "https://aws.amazon.com/dynamodb/pricing/on-demand/",
        "note": "ASSUMPTION: Ireland's $0.283 per million, halved on 1 Nov 2024",
    },
    "ses_message": {
        "usd": 0.10 / 1000,
        "unit": "outbound message",
        "source": "https://aws.amazon.com/ses/pricing/",
        "note": "$0.10 per 1,000 (ASSUMPTION: not re-read from the page)",
    },
    "sqs_request": {
        "usd": 0.40 / 1e6,
        "unit": "standard queue request",
        "source": "https://aws.amazon.com/sqs/pricing/",
        "note": "$0.40 per million after the first million (ASSUMPTION: not re-read)",
    },
    "logs_gb": {
        "usd": 0.57,
        "unit": "GB of logs ingested",
        "source": "https://aws.amazon.com/cloudwatch/pricing/",
        "note": "ASSUMPTION: Ireland's standard ingestion price",
    },
    "data_out_gb": {
        "usd": 0.09,
        "unit": "GB out to the internet",
        "source": "https://aws.amazon.com/ec2/pricing/on-demand/",
        "note": "ASSUMPTION: first 10 TB a month; API Gateway bills transfer at EC2 rates",
    },
}

# Issue 14: consent changes pushed to the stage's bus. EventBridge's list prices are the same
# in every commercial region (ASSUMPTION: read from a stored summary of the pricing page, not
# the page itself).
PRICES.update(
    {
        "eventbridge_event": {
            "usd": 1.00 / 1e6,
            "unit": "custom event put on a bus (each 64 KB chunk)",
            "source": "https://aws.amazon.com/eventbridge/pricing/",
            "note": "$1.00 per million (ASSUMPTION: not re-read from the page)",
        },
        "eventbridge_archive_gb": {
            "usd": 0.10,
            "unit": "GB of events archived",
            "source": "https://aws.amazon.com/eventbridge/pricing/",
            "note": "$0.10 per GB processed, plus $0.023 per GB-month stored (ASSUMPTION)",
        },
        "eventbridge_api_destination": {
            "usd": 0.20 / 1e6,
            "unit": "API destination invocation (the optional webhook)",
            "source": "https://aws.amazon.com/eventbridge/pricing/",
            "note": "$0.20 per million (ASSUMPTION)",
        },
        "dynamodb_stream_read": {
            "usd": 0.0,
            "unit": "GetRecords by a Lambda trigger",
            "source": "https://aws.amazon.com/dynamodb/pricing/on-demand/",
            "note": "free: GetRecords calls that Lambda makes for a DynamoDB trigger are not charged",
        },
    }
)

ASSUMPTIONS: dict[str, Any] = {
    # A Lambda function gets one vCPU at 1,769 MB and a proportional share below; this
    # machine's core counts as one vCPU.
    "full_vcpu_mb": 1769,
    # Time spent waiting on AWS per call, in-region (not measured here: moto answers locally).
    "wait_ms": {"dynamodb": 8.0, "sqs": 10.0, "sesv2": 60.0, "secretsmanager": 15.0, "events": 15.0},
    # Lambda's own log lines per invocation (START, END, REPORT) plus the app's.
    "log_bytes_per_invocation": 400,
    "response_header_bytes": 600,
    # The SQS trigger receives and deletes each message: two requests besides the send.
    "sqs_requests_per_job": 3,
    # Share of invocations that start a new container (steady traffic: few).
    "cold_share": 0.01,
    # The stream handler (issue 14). Busy: Lambda fills batches of 100 records. Quiet: each
    # write burst of the funnel (signup, mail job, confirmation) is a batch of its own.
    "stream_batch_records": 100,
    "quiet_invocations_per_signup": 3,
    # One event on the bus as archived (the JSON envelope with its detail), bytes.
    "event_bytes": 600,
}

# The funnel of one signup: (route of the bench, flow of the AWS-call count, memory key).
FUNNEL = (
    ("GET /forms/{id}", "form GET", "api"),
    ("POST /forms/{id}", "signup POST", "api"),
    ("mail job (SQS)", "mail job", "worker"),
    ("GET /confirm/{token}", "confirm GET", "api"),
    ("POST /confirm/{token}", "confirm POST", "api"),
)


def _units(calls: list[str], touches: list[dict[str, Any]]) -> tuple[float, float]:
    """On-demand units of one request: a write costs 1 WRU per started KB of the item (the
    larger of its size before and after), twice that in a transaction, and 1 more where it
    lands in the audience index (written after the transaction, as a plain write); strongly
    consistent reads 1 RRU an item (up to 4 KB). Results without item sizes (measured before
    the bench sized items) count every item as under 1 KB."""
    wru = rru = 0.0
    for call, touched in zip(calls, touches, strict=True):
        operation = call.split(":")[1] if call.startswith("dynamodb:") else ""
        if operation in ("TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem"):
            sizes = [size for _kind, size in touched.get("sizes", [])]
            units = sum(_kb(size) for size in sizes) if sizes else touched.get("items", 0)
            wru += (2 * units if operation == "TransactWriteItems" else units) + touched.get("indexed", 0)
        elif operation:
            rru += touched.get("items", 0)
    return wru, rru


def _kb(size: int) -> int:
    """Write units of one item: per started KB, at least one."""
    return max(1, math.ceil(size / 1024))


def per_million(data: dict[str, Any], memory: dict[str, int]) -> dict[str, Any]:
    """Cost lines per million signups, from a bench result and the stage's memory sizes."""
    a, p = ASSUMPTIONS, PRICES
    warm, cold, calls = data["warm"]["routes"], data["cold_start"], data["aws_calls"]
    baseline_ms = cold.get("baseline_ms")
    lines: dict[str, float] = {}
    gb_seconds = invocations = api_calls = wru = rru = sqs = mails = out_bytes = 0.0
    cold_gb_seconds = 0.0
    for route, flow, fn in FUNNEL:
        mem = memory[fn]
        share = min(1.0, mem / a["full_vcpu_mb"])
        flow_calls = calls[flow]["calls"]
        wait = sum(a["wait_ms"].get(c.split(":")[0], 10.0) for c in flow_calls)
        ms = math.ceil(warm[route]["us"] / 1000 / share + wait)
        gb_seconds += ms / 1000 * mem / 1024
        invocations += 1
        if fn == "api":
            api_calls += 1
            out_bytes += warm[route].get("bytes", 0) + a["response_header_bytes"]
        w, r = _units(flow_calls, calls[flow].get("touches", [{}] * len(flow_calls)))
        wru, rru = wru + w, rru + r
        sqs += sum(c == "sqs:SendMessage" for c in flow_calls) * a["sqs_requests_per_job"]
        mails += sum(c.endswith(":SendEmail") for c in flow_calls)
        mode = cold["modes"]["package"]
        if baseline_ms and route in mode:
            cold_ms = mode[route]["ratio"] * baseline_ms / share
            cold_gb_seconds += a["cold_share"] * cold_ms / 1000 * mem / 1024
    n = 1e6
    lines["Lambda requests"] = invocations * n * p["lambda_request"]["usd"]
    lines["Lambda duration (warm)"] = gb_seconds * n * p["lambda_gb_second"]["usd"]
    lines[f"Lambda duration (cold starts, {a['cold_share']:.0%} of invocations)"] = (
        cold_gb_seconds * n * p["lambda_gb_second"]["usd"]
    )
    lines["API Gateway (REST)"] = api_calls * n * p["api_gateway_rest"]["usd"]
    lines["DynamoDB writes (on-demand)"] = wru * n * p["dynamodb_wru"]["usd"]
    lines["DynamoDB reads (on-demand)"] = rru * n * p["dynamodb_rru"]["usd"]
    lines["SES"] = mails * n * p["ses_message"]["usd"]
    lines["SQS"] = sqs * n * p["sqs_request"]["usd"]
    lines["CloudWatch Logs"] = invocations * a["log_bytes_per_invocation"] * n / 1e9 * p["logs_gb"]["usd"]
    lines["Data transfer out (pages)"] = out_bytes * n / 1e9 * p["data_out_gb"]["usd"]
    return {
        "per_signup": {
            "invocations": invocations,
            "api_calls": api_calls,
            "gb_seconds_warm": gb_seconds,
            "wru": wru,
            "rru": rru,
            "sqs_requests": sqs,
            "mails": mails,
            "bytes_out": out_bytes,
        },
        "usd_per_million_signups": lines,
        "total": sum(lines.values()),
        "form_view_only_per_million": (
            n * (p["lambda_request"]["usd"] + p["api_gateway_rest"]["usd"])
            + n
            * math.ceil(warm["GET /forms/{id}"]["us"] / 1000 / min(1.0, memory["api"] / a["full_vcpu_mb"]))
            / 1000
            * memory["api"]
            / 1024
            * p["lambda_gb_second"]["usd"]
        ),
        "prices_checked": PRICES_CHECKED,
        "assumptions": ASSUMPTIONS,
    }


def report(model: dict[str, Any]) -> list[str]:
    out = ["Cost per million signups (form view + signup + mail + confirm page + confirm), USD, eu-west-1:"]
    for name, usd in model["usd_per_million_signups"].items():
        out.append(f"  {name:55} {usd:9.2f}")
    out.append(f"  {'total':55} {model['total']:9.2f}")
    out.append(f"  a form view alone: {model['form_view_only_per_million']:.2f} per million views")
    return out


def _funnel_writes(calls: dict[str, Any]) -> tuple[int, int]:
    """Items one signup funnel writes (each at most one stream record: a write that changes
    nothing leaves none) and the grants among them (the writes that enter the audience index:
    the changes pushed)."""
    records = grants = 0
    for _, flow, _ in FUNNEL:
        for call, touched in zip(calls[flow]["calls"], calls[flow].get("touches", []), strict=False):
            if call.split(":")[1] in ("TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem"):
                records += touched.get("items", 0)
                grants += touched.get("indexed", 0)
    return records, grants


def push_per_million(data: dict[str, Any]) -> dict[str, Any]:
    """What pushing a million signup funnels' consent changes costs (issue 14): the stream
    (free to a Lambda trigger), the handler's invocations (busy and quiet traffic), its one
    read of the addresses, PutEvents, the archive, and the optional webhook. From the bench's
    "stream batch (push_changes)" row: one funnel's records in one batch."""
    a, p = ASSUMPTIONS, PRICES
    push = data["push"]
    mem = push["memory_mb"]
    share = min(1.0, mem / a["full_vcpu_mb"])
    route = data["warm"]["routes"]["stream batch (push_changes)"]
    flow_calls = data["aws_calls"]["changes push"]["calls"]
    wait = sum(a["wait_ms"].get(c.split(":")[0], 10.0) for c in flow_calls)
    work_ms = math.ceil(route["us"] / 1000 / share + wait)
    _, rru = _units(flow_calls, data["aws_calls"]["changes push"].get("touches", [{}] * len(flow_calls)))
    records, changes = _funnel_writes(data["aws_calls"])
    n = 1e6
    cases = {}
    for name, invocations, billed_ms in (
        # busy: the funnel's records share full batches with others; its work is the same
        ("busy", records / a["stream_batch_records"], work_ms),
        # quiet: two batches with no change (1 ms each, billed) and the one with the grants
        ("quiet", a["quiet_invocations_per_signup"], work_ms + (a["quiet_invocations_per_signup"] - 1)),
    ):
        lines = {
            "DynamoDB Streams reads (Lambda trigger)": 0.0,
            "Lambda requests": invocations * n * p["lambda_request"]["usd"],
            "Lambda duration": billed_ms / 1000 * mem / 1024 * n * p["lambda_gb_second"]["usd"],
            "DynamoDB reads (the addresses)": rru * n * p["dynamodb_rru"]["usd"],
            "EventBridge PutEvents": changes * n * p["eventbridge_event"]["usd"],
            "EventBridge archive": changes * a["event_bytes"] * n / 1e9 * p["eventbridge_archive_gb"]["usd"],
            "CloudWatch Logs": invocations * a["log_bytes_per_invocation"] * n / 1e9 * p["logs_gb"]["usd"],
        }
        cases[name] = {"invocations": invocations, "usd": lines, "total": sum(lines.values())}
    return {
        "per_signup": {"stream_records": records, "changes": changes, "rru": rru, "work_ms": work_ms},
        "cases": cases,
        "webhook_per_million": changes * n * p["eventbridge_api_destination"]["usd"],
        "prices_checked": PRICES_CHECKED,
    }


def push_report(model: dict[str, Any]) -> list[str]:
    per = model["per_signup"]
    out = [
        f"Pushing consent changes, per million signups (USD): {per['stream_records']} stream records and"
        f" {per['changes']} changes per signup, {per['work_ms']} ms billed for the batch that holds them:"
    ]
    for name, case in model["cases"].items():
        parts = ", ".join(f"{k} {v:.2f}" for k, v in case["usd"].items() if v)
        out.append(
            f"  {name:5} ({case['invocations']:.2f} invocations a signup): {case['total']:.2f}  ({parts})"
        )
    out.append(f"  the optional webhook adds {model['webhook_per_million']:.2f}")
    return out


def main() -> int:
    """``python -m bench.cost``: the AWS calls per flow measured afresh (bench/calls.py, a few
    seconds) with the rest of bench/latest.json, without the full ``make bench`` (minutes);
    ``--fold`` writes the new calls and cost into bench/latest.json."""
    import argparse
    import json

    from bench import run

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--fold", action="store_true", help="write them into bench/latest.json")
    args = parser.parse_args()
    data = json.loads(run.LATEST.read_text(encoding="utf-8"))
    before = data["cost"]
    data["aws_calls"] = run.measure_calls()
    data["cost"] = per_million(data, run.memory_sizes("prod"))
    if "push" in data:
        data["cost_push"] = push_per_million(data)
    for flow, measured in data["aws_calls"].items():
        if measured.get("available"):
            w, r = _units(measured["calls"], measured["touches"])
            print(f"  {flow:18} {' + '.join(measured['calls']) or '-':70} {w:4.0f} WRU {r:3.0f} RRU")
    wru = before["per_signup"]["wru"], data["cost"]["per_signup"]["wru"]
    print(f"write units per signup: {wru[0]:.0f} -> {wru[1]:.0f}")
    print("\n".join(report(data["cost"])))
    print(f"  (was {before['total']:.2f})")
    if "cost_push" in data:
        print("\n".join(push_report(data["cost_push"])))
    if args.fold:
        data["table"] = run.report(data)
        run.LATEST.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        print(f"written: {run.LATEST.relative_to(run.ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
