"""Day-2 operations on a deployed stage, each one command (docs/operations.md has the runbooks).

    python scripts/ops.py trace --stage prod --email a@b.example    # make trace EMAIL=… STAGE=…
    python scripts/ops.py rotate-api-key --stage prod                # make rotate-api-key STAGE=…
    python scripts/ops.py retire-api-key --stage prod --prefix AbC1  # the old key, when unused
    python scripts/ops.py rotate-token-key --stage prod              # make rotate-token-key STAGE=…
    python scripts/ops.py backup-master-key --stage prod --out FILE  # make backup-master-key …
    python scripts/ops.py restore-master-key --stage prod --file FILE
    python scripts/ops.py redrive --stage prod                       # make redrive STAGE=…
    python scripts/ops.py restore --stage prod --time 2026-11-29T10:00:00Z --target NAME
    python scripts/ops.py replay-erasures --stage prod --table NAME --since 2026-11-29T10:00:00Z
    python scripts/ops.py deploy-state --stage prod                  # make deploy-state STAGE=…

Every change to the key secret is checked by the app's own parser (chalicelib/keys.py)
before it is written, so a command never leaves a secret the functions would refuse; the
previous version stays in Secrets Manager as AWSPREVIOUS. Uses the AWS credentials and region
of the environment, like scripts/deploy.py.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts import package as packaging  # noqa: E402

RESOURCES = ROOT / ".chalice" / "resources.yaml"


def _client(service: str) -> Any:
    import boto3

    return boto3.client(service, region_name=os.environ.get("AWS_REGION") or packaging.DEFAULT_REGION)


def _env(stage: str) -> dict[str, str]:
    return packaging.stage_env(stage)


# -- the key secret ---------------------------------------------------------------------------


def read_secret(stage: str) -> dict[str, Any]:
    answer = _client("secretsmanager").get_secret_value(SecretId=_env(stage)["CONSENTRY_SECRET_ID"])
    return dict(json.loads(answer["SecretString"]))


def write_secret(stage: str, value: dict[str, Any]) -> None:
    """Write the secret only if the functions would accept it (KeysError otherwise)."""
    from chalicelib.keys import parse

    text = json.dumps(value)
    parse(text)
    _client("secretsmanager").put_secret_value(SecretId=_env(stage)["CONSENTRY_SECRET_ID"], SecretString=text)


def rotate_api_key(stage: str) -> str:
    """A new key first in api_keys; the old ones keep working until retired."""
    value = read_secret(stage)
    key = secrets.token_urlsafe(32)
    value["api_keys"] = [key, *value.get("api_keys", [])]
    write_secret(stage, value)
    return key


def retire_api_key(stage: str, prefix: str) -> int:
    """Remove the one API key that starts with ``prefix`` (at least 4 characters)."""
    value = read_secret(stage)
    keys = value.get("api_keys", [])
    matching = [k for k in keys if len(prefix) >= 4 and k.startswith(prefix)]
    if len(matching) != 1:
        raise SystemExit(f"{len(matching)} API keys start with that prefix: name exactly one")
    value["api_keys"] = [k for k in keys if k != matching[0]]
    write_secret(stage, value)
    return len(value["api_keys"])


def rotate_token_key(stage: str, retire_old: bool = False) -> int:
    """A new link-signing key first in token_keys: it signs from the next cache period (5
    minutes) on; links signed by older keys keep working. ``retire_old`` drops every older
    key and the one derived from master_key: only for a leaked key, because unsubscribe links
    already mailed were signed by them and stop working."""
    value = read_secret(stage)
    value["token_keys"] = [secrets.token_hex(32), *([] if retire_old else value.get("token_keys", []))]
    if retire_old:
        value["master_token_key_retired"] = True
    write_secret(stage, value)
    return len(value["token_keys"])


def fingerprint(master_key: str) -> str:
    """Names a master key without revealing it: compare a backup with the live secret."""
    return hmac.new(master_key.encode(), b"consentry-backup-fingerprint", hashlib.sha256).hexdigest()[:16]


def backup_master_key(stage: str, out: Path) -> str:
    """Write master_key (and subject_key, if set) to ``out``, readable by its owner only.
    Every subject id in the ledger and every suppression marker is derived from it: without
    it the ledger cannot find anyone again. Keep the file offline (a safe, a password vault)."""
    value = read_secret(stage)
    backup = {k: value[k] for k in ("master_key", "subject_key") if value.get(k)}
    if "master_key" not in backup:
        raise SystemExit("the secret has no master_key")
    backup.update(
        stage=stage,
        secret_id=_env(stage)["CONSENTRY_SECRET_ID"],
        fingerprint=fingerprint(backup["master_key"]),
    )
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump(backup, file, indent=1)
    return str(backup["fingerprint"])


def restore_master_key(stage: str, file: Path, force: bool = False) -> str:
    """Put a backed-up master_key (and subject_key) back, keeping the rest of the secret."""
    backup = json.loads(file.read_text(encoding="utf-8"))
    if backup.get("stage") != stage or fingerprint(backup["master_key"]) != backup.get("fingerprint"):
        raise SystemExit("this backup is not of this stage, or it is damaged")
    value = read_secret(stage)
    if value.get("master_key") not in (None, backup["master_key"]) and not force:
        raise SystemExit(
            f"the secret holds another master_key (fingerprint {fingerprint(value['master_key'])}):"
            " --force replaces it"
        )
    value.update({k: backup[k] for k in ("master_key", "subject_key") if k in backup})
    write_secret(stage, value)
    return str(backup["fingerprint"])


# -- the mail queue -----------------------------------------------------------------------------


def redrive(stage: str, limit: int = 10_000) -> int:
    """Move every job from the mail queues' shared dead-letter queue to the mail queue. Jobs
    are idempotent (a mailed signup is marked), so a job that did send before it failed sends
    nothing twice. Both workers send every kind of job, so the general queue serves the
    confirmation jobs too: a redrive is ops catching up, nobody's page waits on it. The
    dead-letter queue is found from the queue's own redrive policy."""
    sqs = _client("sqs")
    queue = sqs.get_queue_url(QueueName=_env(stage)["CONSENTRY_MAIL_QUEUE"])["QueueUrl"]
    policy = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["RedrivePolicy"])["Attributes"]
    dead_arn = json.loads(policy["RedrivePolicy"])["deadLetterTargetArn"]
    dead = sqs.get_queue_url(QueueName=dead_arn.rsplit(":", 1)[1])["QueueUrl"]
    moved = 0
    while moved < limit:
        messages = sqs.receive_message(QueueUrl=dead, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        if not messages:
            break
        for message in messages:
            sqs.send_message(QueueUrl=queue, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=dead, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved


# -- point-in-time recovery and the erasure journal -------------------------------------------------


def _when(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def restore(stage: str, at: datetime, target: str) -> int:
    """Restore the stage's table as it was at ``at`` into a new table ``target``, then
    replay the erasure journal on it; the count of people erased again."""
    ddb = _client("dynamodb")
    ddb.restore_table_to_point_in_time(
        SourceTableName=_env(stage)["CONSENTRY_TABLE"], TargetTableName=target, RestoreDateTime=at
    )
    ddb.get_waiter("table_exists").wait(TableName=target, WaiterConfig={"Delay": 20, "MaxAttempts": 360})
    # A restored table keeps items and indexes, not these settings: without TTL, pending
    # signups and counters would never expire; without PITR it would have no backup.
    ddb.update_time_to_live(
        TableName=target, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )
    ddb.update_continuous_backups(
        TableName=target, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    return replay_erasures(stage, target, at)


def replay_erasures(stage: str, table: str, since: datetime) -> int:
    """Erase in ``table`` everyone the journal says was erased after ``since``: what the
    table holds of them predates their erasure. Erasing is idempotent, so replaying twice
    changes nothing more."""
    from chalicelib.ledger import Ledger, iso, utc_now

    ddb = _client("dynamodb")
    env = _env(stage)
    journal = env["CONSENTRY_ERASURE_JOURNAL"]
    ledger = Ledger(ddb, table)  # no journal: these erasures are the journal's own
    keep = int(env.get("CONSENTRY_ERASURE_RECORD_DAYS", "365")) * 86400
    erased = 0
    kwargs: dict[str, Any] = {
        "TableName": journal,
        "FilterExpression": "erased_at > :since",
        "ExpressionAttributeValues": {":since": {"S": iso(since)}},
    }
    while True:
        page = ddb.scan(**kwargs)
        for item in page.get("Items", []):
            ledger.erase(
                subject=item["subject"]["S"], now=utc_now(), channel="restore_replay", record_seconds=keep
            )
            erased += 1
        if "LastEvaluatedKey" not in page:
            return erased
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# -- support: what is known about an address ------------------------------------------------------


def log_groups(stage: str) -> list[str]:
    """The functions' log groups, as resources.yaml names them."""
    names = re.findall(r"LogGroupName: !Sub (/aws/lambda/\S+)", RESOURCES.read_text(encoding="utf-8"))
    return [name.replace("${Stage}", stage) for name in names]


def insights_query(subject: str, signups: list[str]) -> str:
    """Logs Insights: the lines naming the subject (in full, or the 12-character prefix the
    feedback handler logs) or one of its signups."""
    ids = ", ".join(json.dumps(s) for s in signups)
    condition = f'subject = "{subject}" or subject = "{subject[:12]}"' + (
        f" or signup in [{ids}]" if signups else ""
    )
    return f"fields @timestamp, @message | filter {condition} | sort @timestamp asc | limit 500"


def _mentions(message: str, subject: str, signups: set[str]) -> dict[str, Any] | None:
    try:
        line = json.loads(message)
    except ValueError:
        return None
    if not isinstance(line, dict):
        return None
    if line.get("subject") in (subject, subject[:12]) or line.get("signup") in signups:
        return line
    return None


def trace(stage: str, email: str, hours: int = 72) -> dict[str, Any]:
    """What the ledger and the logs know about one address, for support."""
    from chalicelib.keys import parse
    from chalicelib.ledger import Ledger, utc_now
    from chalicelib.models import mailbox, normalise_email

    env = _env(stage)
    keys = parse(json.dumps(read_secret(stage)))
    address = normalise_email(email)
    subject = keys.subject_id(address)
    cap_key = keys.subject_id(f"mailbox:{mailbox(address)}")  # caps.mailbox_key, with this stage's keys
    ddb = _client("dynamodb")
    ledger = Ledger(ddb, env["CONSENTRY_TABLE"])
    now = utc_now()
    events = ledger.events(subject, now)
    counter = (
        ddb.get_item(  # the sliding mail cap's slots (chalicelib/caps.py): times of the last mails
            TableName=env["CONSENTRY_TABLE"],
            Key={"pk": {"S": f"RATE#mailbox#{cap_key}"}, "sk": {"S": "RATE"}},
        ).get("Item")
        or {}
    )
    day_ago = now.timestamp() - 86400
    mails = sum(1 for k, v in counter.items() if k[:1] == "t" and k[1:].isdigit() and float(v["N"]) > day_ago)
    signups = sorted({e["evidence"]["signup_id"] for e in events if e["evidence"].get("signup_id")})
    logs = _client("logs")
    existing = [
        g for g in log_groups(stage) if logs.describe_log_groups(logGroupNamePrefix=g).get("logGroups")
    ]
    lines: list[dict[str, Any]] = []
    if existing:
        end = int(time.time()) + 60
        query = logs.start_query(
            logGroupNames=existing,
            startTime=end - hours * 3600 - 60,
            endTime=end,
            queryString=insights_query(subject, signups),
        )["queryId"]
        for _ in range(120):
            answer = logs.get_query_results(queryId=query)
            if answer["status"] in ("Complete", "Failed", "Cancelled", "Timeout"):
                break
            time.sleep(1)
        wanted = set(signups)
        for row in answer.get("results", []):
            fields = {f["field"]: f["value"] for f in row}
            # Insights filters on AWS; moto ignores `filter`, so the lines are checked here too.
            line = _mentions(fields.get("@message", ""), subject, wanted)
            if line is not None:
                lines.append(line)
    return {
        "subject": subject,
        "contact": ledger.contact(subject, now),
        "suppression": ledger.suppression(subject),
        "events": [
            {k: e[k] for k in ("type", "at", "purpose") if k in e} | {"channel": e["evidence"].get("channel")}
            for e in events
        ],
        "mails_last_24h": mails,
        "log_lines": lines,
    }


def print_trace(found: dict[str, Any], stage: str) -> None:
    contact, cap = found["contact"], int(_env(stage).get("CONSENTRY_MAILS_PER_ADDRESS_PER_DAY", "3"))
    print(f"subject {found['subject']}")
    if contact is None:
        print("ledger: nobody on file (never signed up, unconfirmed and expired, or erased)")
    else:
        states = ", ".join(f"{p} {s['status']} since {s['since']}" for p, s in contact["purposes"].items())
        print(f"ledger: {states or 'no purposes'}; profiling {contact['profiling']}")
    if found["suppression"]:
        print(f"suppressed: {found['suppression'].get('reason')} at {found['suppression'].get('at')}")
    print(f"mails in the last 24 hours: {found['mails_last_24h']} of {cap}")
    for event in found["events"]:
        purpose, channel = event.get("purpose") or "", event.get("channel") or ""
        print(f"  {event['at']}  {event['type']:22} {purpose:12} {channel}")
    print(f"logs ({len(found['log_lines'])} lines):")
    for line in found["log_lines"]:
        detail = " ".join(
            f"{k}={line[k]}" for k in ("reason", "kind", "route", "status", "signup") if k in line
        )
        print(f"  {line.get('time')}  {line.get('logger')}: {line.get('message')} {detail}")


# -- a half-finished `chalice deploy` ----------------------------------------------------------------


def deploy_state(stage: str) -> list[str]:
    """What a half-finished `chalice deploy` leaves: functions or an API that exist in AWS
    but not in .chalice/deployed/<stage>.json (orphans), and records of ones that are gone."""
    recorded_file = ROOT / ".chalice" / "deployed" / f"{stage}.json"
    recorded = json.loads(recorded_file.read_text()) if recorded_file.exists() else {"resources": []}
    functions = {
        r["lambda_arn"].rsplit(":", 1)[1]
        for r in recorded["resources"]
        if r.get("resource_type") == "lambda_function"
    }
    apis = {r["rest_api_id"] for r in recorded["resources"] if r.get("resource_type") == "rest_api"}
    found = []
    lam = _client("lambda")
    prefix = f"consentry-{stage}"
    live = {
        f["FunctionName"]
        for page in lam.get_paginator("list_functions").paginate()
        for f in page["Functions"]
        if f["FunctionName"] == prefix or f["FunctionName"].startswith(prefix + "-")
    }
    found += [
        f"function {name} exists but is not in {recorded_file.name}" for name in sorted(live - functions)
    ]
    found += [
        f"{recorded_file.name} records function {name}, which does not exist"
        for name in sorted(functions - live)
    ]
    rest = {a["id"] for a in _client("apigateway").get_rest_apis()["items"] if a["name"] == "consentry"}
    found += [f"REST API {api} exists but is not in {recorded_file.name}" for api in sorted(rest - apis)]
    found += [
        f"{recorded_file.name} records REST API {api}, which does not exist" for api in sorted(apis - rest)
    ]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what")
    parser.add_argument("--stage", required=True, choices=("local", "dev", "prod"))
    parser.add_argument("--email")
    parser.add_argument("--hours", type=int, default=72)
    parser.add_argument("--prefix")
    parser.add_argument("--retire-old", action="store_true")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--file", type=Path)
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--time")
    parser.add_argument("--since")
    parser.add_argument("--target")
    parser.add_argument("--table")
    args = parser.parse_args()
    stage = args.stage
    if args.what == "trace" and args.email:
        print_trace(trace(stage, args.email, args.hours), stage)
    elif args.what == "rotate-api-key":
        print(f"new API key (shown once; give it to the sending system): {rotate_api_key(stage)}")
    elif args.what == "retire-api-key" and args.prefix:
        print(f"retired; {retire_api_key(stage, args.prefix)} key(s) left")
    elif args.what == "rotate-token-key":
        print(f"{rotate_token_key(stage, args.retire_old)} token key(s); the newest signs within 5 minutes")
    elif args.what == "backup-master-key" and args.out:
        print(
            f"wrote {args.out} (mode 600), fingerprint {backup_master_key(stage, args.out)}: store it offline"
        )
    elif args.what == "restore-master-key" and args.file:
        print(f"master_key {restore_master_key(stage, args.file, args.force)} is back in the secret")
    elif args.what == "redrive":
        print(f"moved {redrive(stage)} job(s) back to the mail queue")
    elif args.what == "restore" and args.time and args.target:
        print(f"{args.target} restored; {restore(stage, _when(args.time), args.target)} erasure(s) replayed")
    elif args.what == "replay-erasures" and args.table and args.since:
        print(f"{replay_erasures(stage, args.table, _when(args.since))} erasure(s) replayed on {args.table}")
    elif args.what == "deploy-state":
        problems = deploy_state(stage)
        print("\n".join(problems) or "the deployed state and AWS agree")
        return 1 if problems else 0
    else:
        parser.error("unknown command or a missing option: see the module's docstring")
    return 0


if __name__ == "__main__":
    sys.exit(main())
