"""Day-2 runbooks (docs/operations.md), each step tried against moto through scripts/ops.py:
key rotation without hand-editing JSON, the master key's backup, the dead-letter redrive,
a point-in-time restore that keeps erased people erased (LAW 26: an erasure stays done), support's
trace of one address, and what a half-finished `chalice deploy` left behind."""

from __future__ import annotations

import io
import json
import logging
import os
import stat
import time
import zipfile

import boto3
import pytest
from itsdangerous import URLSafeTimedSerializer

from chalicelib import keys
from chalicelib.logs import JsonFormatter
from scripts import ops
from tests.conftest import API_KEY

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
STAGE = "local"  # the stage the fixtures make in moto


def _api(visitor, key: str, path: str = "/api/contacts/nobody@example.com") -> int:
    keys.clear_cache()  # what the cache period running out does in every container
    return visitor.client.http.get(path, headers={"Authorization": f"Bearer {key}"}).status_code


def test_rotating_the_api_key_keeps_the_old_one_until_it_is_retired(visitor):
    assert _api(visitor, API_KEY) == 404  # a valid key: the address is simply unknown
    new = ops.rotate_api_key(STAGE)
    assert len(new) >= 40 and _api(visitor, new) == 404 and _api(visitor, API_KEY) == 404
    assert ops.retire_api_key(STAGE, API_KEY[:6]) == 1
    assert _api(visitor, API_KEY) == 401 and _api(visitor, new) == 404
    with pytest.raises(SystemExit):
        ops.retire_api_key(STAGE, "zz")  # too short to name one key


def test_a_short_api_key_is_refused_loudly_and_never_written(visitor, caplog):
    before = ops.read_secret(STAGE)
    with pytest.raises(keys.KeysError, match="8"):
        ops.write_secret(STAGE, {**before, "api_keys": [API_KEY, "short"]})
    assert ops.read_secret(STAGE) == before
    # written by hand all the same: the functions refuse the secret instead of dropping the key
    boto3.client("secretsmanager", region_name="eu-west-1").put_secret_value(
        SecretId=visitor.resources["secret_id"], SecretString=json.dumps({**before, "api_keys": ["short"]})
    )
    keys.clear_cache()
    caplog.set_level(logging.ERROR, logger="consentry")
    answer = visitor.client.http.get("/api/contacts/x@example.com", headers={"Authorization": "Bearer short"})
    assert answer.status_code == 500  # the API alarm's 5xx, and a log line naming the fault
    assert any(r.exc_info and r.exc_info[0] is keys.KeysError for r in caplog.records)


def test_rotating_the_token_key_keeps_links_already_mailed(visitor):
    visitor.signup("rotate.token@example.com", purposes=("newsletter",))
    visitor.run_mail_jobs()
    old_link = visitor.confirm_link("rotate.token@example.com")
    assert ops.rotate_token_key(STAGE) == 1
    newest = ops.read_secret(STAGE)["token_keys"][0]
    keys.clear_cache()
    visitor.signup("rotate.token2@example.com", purposes=("newsletter",))
    visitor.run_mail_jobs()
    token = visitor.confirm_link("rotate.token2@example.com").rsplit("/", 1)[1]
    assert URLSafeTimedSerializer(newest, salt="consentry.confirm").loads(token)["i"]  # the newest signs
    assert visitor.client.http.post(old_link, headers=FORM).status_code == 200  # still works


def test_retiring_old_token_keys_ends_their_links(visitor):
    visitor.signup("leaked.key@example.com", purposes=("newsletter",))
    visitor.run_mail_jobs()
    old_link = visitor.confirm_link("leaked.key@example.com")
    ops.rotate_token_key(STAGE, retire_old=True)
    keys.clear_cache()
    assert visitor.client.http.post(old_link, headers=FORM).status_code == 400
    assert visitor.contact("leaked.key@example.com")["purposes"]["newsletter"]["status"] == "pending"


def test_the_master_key_backup_brings_the_ledger_back_after_the_key_is_lost(visitor, tmp_path):
    visitor.subscribe("backed.up@example.com", purposes=("newsletter",))
    backup = tmp_path / "master-key.json"
    printed = ops.backup_master_key(STAGE, backup)
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600
    assert json.loads(backup.read_text())["fingerprint"] == printed
    with pytest.raises(FileExistsError):
        ops.backup_master_key(STAGE, backup)  # never overwrites a backup

    lost = {**ops.read_secret(STAGE), "master_key": "an-accidental-new-key-" + "x" * 40}
    ops.write_secret(STAGE, lost)
    keys.clear_cache()
    assert visitor.api("/api/contacts/backed.up@example.com").status_code == 404  # nobody found
    with pytest.raises(SystemExit, match="--force"):
        ops.restore_master_key(STAGE, backup)
    assert ops.restore_master_key(STAGE, backup, force=True) == printed
    keys.clear_cache()
    assert visitor.contact("backed.up@example.com")["purposes"]["newsletter"]["status"] == "granted"


def test_redrive_sends_the_dead_lettered_mail_once_the_fault_is_fixed(visitor):
    ses, sesv2 = boto3.client("ses", region_name="eu-west-1"), boto3.client("sesv2", region_name="eu-west-1")
    ses.delete_identity(Identity="consentry.example")  # SES refuses: every delivery fails
    sesv2.delete_email_identity(EmailIdentity="consentry.example")
    visitor.signup("dead.letter@example.com", purposes=("newsletter",))
    queue, dead = visitor.resources["confirm_queue_url"], visitor.resources["dlq_url"]  # a signup's mail
    for _ in range(10):  # bounded; the redrive policy moves it after 5 receives
        messages = visitor.sqs.receive_message(QueueUrl=queue, VisibilityTimeout=0).get("Messages", [])
        if not messages:
            break
        with pytest.raises(Exception, match="MessageRejected"):
            visitor.deliver([messages[0]["Body"]])
    assert (
        visitor.sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"
        ]["ApproximateNumberOfMessages"]
        == "1"
    )

    ses.verify_domain_identity(Domain="consentry.example")  # the fault fixed
    sesv2.create_email_identity(EmailIdentity="consentry.example")
    assert ops.redrive(STAGE) == 1
    visitor.run_mail_jobs()
    assert len(visitor.mail_to("dead.letter@example.com")) == 1
    assert ops.redrive(STAGE) == 0


@pytest.fixture
def ledger_on_moto(visitor, monkeypatch):
    """The ledger and the journal on moto's DynamoDB for this test: DynamoDB Local has no
    point-in-time recovery (RestoreTableToPointInTime is an unknown operation there)."""
    from chalicelib import ledger
    from scripts.local_stack import ensure_table

    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB")
    ledger.use(None)  # the next request builds its client afresh, on moto
    ensure_table(boto3.client("dynamodb", region_name="eu-west-1"), STAGE)
    yield visitor
    ledger.use(None)


def test_a_restored_table_forgets_again_everyone_erased_after_its_restore_point(ledger_on_moto):
    """LAW 26: a restore from backup must not bring an erased person back; LAW 27: the journal
    itself holds no address and expires."""
    visitor = ledger_on_moto
    from chalicelib.ledger import Ledger, utc_now

    visitor.subscribe("came.back@example.com", purposes=("newsletter",))  # erased, then back
    assert visitor.api_delete("/api/contacts/came.back@example.com").status_code == 200
    visitor.subscribe("came.back@example.com", purposes=("newsletter",))
    visitor.subscribe("erased.later@example.com", purposes=("newsletter",))
    visitor.subscribe("stays@example.com", purposes=("newsletter",))
    time.sleep(0.01)
    restore_point = utc_now()
    # moto restores the table as it is now (it ignores the time), which is the restore point
    assert ops.restore(STAGE, restore_point, "consentry-local-restored") == 0
    assert visitor.api_delete("/api/contacts/erased.later@example.com").status_code == 200

    ddb = boto3.client("dynamodb", region_name="eu-west-1")
    ttl = ddb.describe_time_to_live(TableName="consentry-local-restored")["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] == "ENABLED" and ttl["AttributeName"] == "expires_at"
    backups = ddb.describe_continuous_backups(TableName="consentry-local-restored")[
        "ContinuousBackupsDescription"
    ]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    restored = Ledger(ddb, "consentry-local-restored")
    later = visitor.subject("erased.later@example.com")
    assert restored.contact(later, utc_now()) is not None  # the backup still has them
    assert ops.replay_erasures(STAGE, "consentry-local-restored", restore_point) == 1
    assert restored.contact(later, utc_now()) is None
    assert restored.suppression(later)["reason"] == "erasure"
    for kept in ("stays@example.com", "came.back@example.com"):
        assert (
            restored.contact(visitor.subject(kept), utc_now())["purposes"]["newsletter"]["status"]
            == "granted"
        )
    assert ops.replay_erasures(STAGE, "consentry-local-restored", restore_point) == 1  # harmless again

    journal = ddb.scan(TableName="consentry-local-erasures")["Items"]
    assert {item["subject"]["S"] for item in journal} == {later, visitor.subject("came.back@example.com")}
    for item in journal:
        assert set(item) == {"subject", "erased_at", "expires_at"}  # no address, no name
        assert "example.com" not in json.dumps(item)


def test_trace_shows_what_the_ledger_and_the_logs_know_about_one_address(visitor, caplog, capsys):
    caplog.set_level(logging.INFO, logger="consentry")
    email = "why.no.mail@example.com"
    for _ in range(4):  # the fourth sends nothing: over the cap
        visitor.signup(email, purposes=("newsletter",))
    visitor.signup("someone.else@example.com", purposes=("newsletter",))
    visitor.run_mail_jobs()
    # The function's log lines, as Lambda writes them to CloudWatch Logs.
    logs = boto3.client("logs", region_name="eu-west-1")
    group = "/aws/lambda/consentry-local"
    assert group in ops.log_groups(STAGE)
    logs.create_log_stream(logGroupName=group, logStreamName="2026/11/30/[$LATEST]abc")
    formatter = JsonFormatter()
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="2026/11/30/[$LATEST]abc",
        logEvents=[{"timestamp": now, "message": formatter.format(r)} for r in caplog.records],
    )

    found = ops.trace(STAGE, "Why.No.Mail@Example.com")
    assert found["subject"] == visitor.subject(email)
    assert found["contact"]["purposes"]["newsletter"]["status"] == "pending"
    assert found["mails_last_24h"] == 3
    assert [e["type"] for e in found["events"]].count("signup_requested") == 3
    reasons = [line.get("reason") for line in found["log_lines"] if "SignupsWithoutMail" in line]
    assert reasons == ["address_cap"]
    assert sum(line.get("message") == "confirmation sent" for line in found["log_lines"]) == 3
    assert visitor.subject("someone.else@example.com") not in json.dumps(found)
    ops.print_trace(found, STAGE)
    printed = capsys.readouterr().out
    assert "mails in the last 24 hours: 3 of 3" in printed and "reason=address_cap" in printed
    query = ops.insights_query(found["subject"], ["s1"])
    assert f'subject = "{found["subject"]}"' in query and 'signup in ["s1"]' in query


def test_deploy_state_names_what_a_half_finished_deploy_left(aws, tmp_path, monkeypatch):
    iam = boto3.client("iam", region_name="eu-west-1")
    role = iam.create_role(RoleName="consentry-local", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("app.py", "def handler(event, context):\n    return None\n")
    lam = boto3.client("lambda", region_name="eu-west-1")
    arns = {}
    for name in ("consentry-local", "consentry-local-mail_worker"):
        made = lam.create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": code.getvalue()},
        )
        arns[name] = made["FunctionArn"]
    api = boto3.client("apigateway", region_name="eu-west-1").create_rest_api(name="consentry")["id"]
    deployed = tmp_path / ".chalice" / "deployed"
    deployed.mkdir(parents=True)
    monkeypatch.setattr(ops, "ROOT", tmp_path)
    # chalice died after the API function: the worker exists, the record does not know it
    record = {
        "resources": [
            {
                "name": "api_handler",
                "resource_type": "lambda_function",
                "lambda_arn": arns["consentry-local"],
            },
            {
                "name": "ses_feedback",
                "resource_type": "lambda_function",
                "lambda_arn": arns["consentry-local"] + "-ses_feedback",
            },
        ],
        "schema_version": "2.0",
    }
    (deployed / "local.json").write_text(json.dumps(record))
    assert ops.deploy_state(STAGE) == [
        "function consentry-local-mail_worker exists but is not in local.json",
        "local.json records function consentry-local-ses_feedback, which does not exist",
        f"REST API {api} exists but is not in local.json",
    ]
    record["resources"] = [
        {"name": "api_handler", "resource_type": "lambda_function", "lambda_arn": arns["consentry-local"]},
        {
            "name": "mail_worker",
            "resource_type": "lambda_function",
            "lambda_arn": arns["consentry-local-mail_worker"],
        },
        {"name": "rest_api", "resource_type": "rest_api", "rest_api_id": api},
    ]
    (deployed / "local.json").write_text(json.dumps(record))
    assert ops.deploy_state(STAGE) == []
