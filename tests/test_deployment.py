"""What ops deploy: least-privilege policies, stage config and resource stack agree (LAW 29).

The allowlist of IAM actions is derived from the code: the AWS operations each module
calls on the clients it creates, the item actions inside DynamoDB transactions, and what
the Lambda platform needs (the SQS trigger polls with the function's role; every function
writes its logs). A policy may grant nothing else, and must grant all of it.
"""

from __future__ import annotations

import ast
import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import app as app_module
from scripts import deploy
from scripts.local_stack import _CfnLoader

ROOT = Path(__file__).resolve().parent.parent
CHALICE = ROOT / ".chalice"
CONFIG = json.loads((CHALICE / "config.json").read_text())
DEPLOYED = ("dev", "prod")
REGION = "eu-west-1"

# IAM names an operation after its service's signing name, and authorises some operations
# through others (AWS documents both).
IAM_PREFIX = {"sesv2": "ses"}
IAM_ACTIONS = {
    # TransactWriteItems is authorised per item: dynamodb:PutItem, UpdateItem, DeleteItem,
    # ConditionCheckItem (the item kinds are found in the code below).
    ("dynamodb", "TransactWriteItems"): set(),
    ("dynamodb", "TransactGetItems"): {"dynamodb:GetItem"},
    # SESv2 SendEmail with raw content is authorised as ses:SendEmail and ses:SendRawEmail.
    ("sesv2", "SendEmail"): {"ses:SendEmail", "ses:SendRawEmail"},
    # SendMessageBatch is authorised as sqs:SendMessage.
    ("sqs", "SendMessageBatch"): {"sqs:SendMessage"},
}
TRANSACTION_ITEMS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
SQS_TRIGGER = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
LOGS = {"logs:CreateLogStream", "logs:PutLogEvents"}


def _operations(service: str) -> dict[str, str]:
    """botocore's method name -> operation name, for one service."""
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(op): op for op in model.operation_names}


def _code_modules() -> list[Path]:
    return [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]


def code_actions() -> dict[str, set[str]]:
    """IAM action -> the modules whose code needs it."""
    needed: dict[str, set[str]] = {}

    def need(action: str, where: Path) -> None:
        needed.setdefault(action, set()).add(str(where.relative_to(ROOT)))

    for path in _code_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        services = {
            node.args[0].value
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "client"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        }
        called = {
            node.func.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        }
        dict_keys = {
            key.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Dict)
            for key in node.keys
            if isinstance(key, ast.Constant)
        }
        for service in services:
            for method, operation in _operations(service).items():
                if method not in called:
                    continue
                default = {f"{IAM_PREFIX.get(service, service)}:{operation}"}
                for action in IAM_ACTIONS.get((service, operation), default):
                    need(action, path)
                if (service, operation) == ("dynamodb", "TransactWriteItems"):
                    for kind in TRANSACTION_ITEMS.keys() & dict_keys:
                        need(TRANSACTION_ITEMS[kind], path)
    if app_module.app.event_sources:
        for source in app_module.app.event_sources:
            if type(source).__name__ == "SQSEventConfig":
                for action in SQS_TRIGGER:
                    need(action, ROOT / "app.py")
    for action in LOGS:
        need(action, ROOT / "app.py")
    return needed


def function_names(stage: str) -> list[str]:
    """The Lambda functions `chalice deploy` makes for the app, by the names it gives them."""
    base = f"{app_module.app.app_name}-{stage}"
    names = [base] if app_module.app.routes else []
    names += [f"{base}-{source.name}" for source in app_module.app.event_sources]
    names += [f"{base}-{fn.name}" for fn in app_module.app.pure_lambda_functions]
    return names


def stage_env(stage: str) -> dict[str, str]:
    return {**CONFIG.get("environment_variables", {}), **CONFIG["stages"][stage]["environment_variables"]}


def expected_resources(stage: str, account: str) -> dict[str, str]:
    """Every ARN the stage's policy may name, and the service that may act on it."""
    env = stage_env(stage)
    a = f"{REGION}:{account}"
    table = f"arn:aws:dynamodb:{a}:table/{env['CONSENTRY_TABLE']}"
    domain = deploy.mail_domain(stage)
    resources = {
        table: "dynamodb",
        f"{table}/index/audience": "dynamodb",
        f"arn:aws:sqs:{a}:{env['CONSENTRY_MAIL_QUEUE']}": "sqs",
        f"arn:aws:sqs:{a}:{env['CONSENTRY_CONFIRM_QUEUE']}": "sqs",
        f"arn:aws:ses:{a}:identity/{domain}": "ses",
        f"arn:aws:ses:{a}:configuration-set/consentry-{stage}": "ses",
        # Secrets Manager appends six random characters to a secret's ARN.
        f"arn:aws:secretsmanager:{a}:secret:{env['CONSENTRY_SECRET_ID']}-??????": "secretsmanager",
    }
    for name in function_names(stage):
        # Lambda names its log streams: they can only be matched by a wildcard.
        resources[f"arn:aws:logs:{a}:log-group:/aws/lambda/{name}:log-stream:*"] = "logs"
    return resources


def policy_problems(document: dict[str, Any], stage: str) -> list[str]:
    """Everything that makes a policy more than least privilege for the stage."""
    found = []
    if document.get("Version") != "2012-10-17":
        found.append("Version is not 2012-10-17")
    statements = document.get("Statement", [])
    accounts = {
        arn.split(":")[4] for s in statements for arn in _list(s.get("Resource")) if arn.count(":") >= 5
    }
    account = accounts.pop() if len(accounts) == 1 else None
    if account is None:
        found.append(f"the resources name several accounts: {sorted(accounts)}")
    allowed = expected_resources(stage, account or "?")
    needed = code_actions()
    for s in statements:
        sid = s.get("Sid", "?")
        for key in ("NotAction", "NotResource", "NotPrincipal", "Principal"):
            if key in s:
                found.append(f"{sid}: uses {key}")
        if s.get("Effect") != "Allow":
            found.append(f"{sid}: Effect is {s.get('Effect')}")
        for action in _list(s.get("Action")):
            if "*" in action or "?" in action:
                found.append(f"{sid}: wildcard action {action}")
            elif action not in needed:
                found.append(f"{sid}: grants {action}, which no code uses")
        for arn in _list(s.get("Resource")):
            if arn not in allowed:
                found.append(f"{sid}: resource {arn} is not one of the stage's own")
                continue
            if "*" in arn.replace(":log-stream:*", "") or "?" in arn.replace("-??????", ""):
                found.append(f"{sid}: wildcard resource {arn}")
            for action in _list(s.get("Action")):
                if action.split(":")[0] != allowed[arn]:
                    found.append(f"{sid}: {action} on a {allowed[arn]} resource")
    return found


def _list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _policy(stage: str) -> dict[str, Any]:
    return json.loads((CHALICE / CONFIG["stages"][stage]["iam_policy_file"]).read_text())


# -- policies ------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", DEPLOYED)
def test_the_policy_grants_only_what_the_code_uses_on_the_stages_own_resources(stage):
    assert policy_problems(_policy(stage), stage) == []


@pytest.mark.parametrize("stage", DEPLOYED)
def test_the_policy_grants_everything_the_code_uses(stage):
    granted = {a for s in _policy(stage)["Statement"] for a in _list(s["Action"])}
    missing = {action: sorted(where) for action, where in code_actions().items() if action not in granted}
    assert missing == {}, f"add these to .chalice/policy-{stage}.json: {missing}"


@pytest.mark.parametrize("stage", DEPLOYED)
def test_the_policy_covers_every_resource_the_functions_need(stage):
    account, region = deploy.policy_scope(stage)
    assert region == REGION
    named = {arn for s in _policy(stage)["Statement"] for arn in _list(s["Resource"])}
    assert named == set(expected_resources(stage, account))


def test_the_allowlist_is_derived_from_the_code():
    actions = code_actions()
    assert "dynamodb:BatchGetItem" in actions and "sqs:SendMessage" in actions
    assert actions["dynamodb:DeleteItem"] == {"chalicelib/ledger.py"}  # a Delete in a transaction
    assert actions["ses:SendEmail"] == {"chalicelib/mail.py"}
    assert actions["secretsmanager:GetSecretValue"] == {"chalicelib/keys.py"}
    assert "dynamodb:Scan" not in actions and "dynamodb:TransactWriteItems" not in actions


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p["Statement"][0]["Action"].append("dynamodb:*"),
        lambda p: p["Statement"][0]["Action"].append("*"),
        lambda p: p["Statement"][0]["Resource"].append("*"),
        lambda p: p["Statement"][0]["Resource"].append("arn:aws:dynamodb:eu-west-1:111122223333:table/*"),
        lambda p: p["Statement"][0]["Action"].append("dynamodb:Scan"),
        lambda p: p["Statement"][0]["Resource"].append("arn:aws:dynamodb:eu-west-1:111122223333:table/other"),
        lambda p: p["Statement"].append({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}),
        lambda p: p["Statement"][0].update(NotAction=["iam:*"]),
    ],
    ids=[
        "service wildcard",
        "star action",
        "star resource",
        "table wildcard",
        "unused action",
        "foreign table",
        "foreign service",
        "NotAction",
    ],
)
def test_the_check_fails_a_policy_that_grants_more(change):
    policy = copy.deepcopy(_policy("prod"))
    change(policy)
    assert policy_problems(policy, "prod") != []


def test_dev_and_prod_policies_differ_only_in_the_stage():
    def neutral(stage: str) -> str:
        text = json.dumps(_policy(stage))
        return (
            text.replace(deploy.mail_domain(stage), "DOMAIN")
            .replace(f"consentry-{stage}", "consentry-S")
            .replace(f"consentry/{stage}/", "consentry/S/")
        )

    assert neutral("dev") == neutral("prod")


# -- stage config --------------------------------------------------------------------------


def test_stages_and_their_settings():
    assert set(CONFIG["stages"]) == {"local", "dev", "prod"}
    assert CONFIG["autogen_policy"] is False
    required = {
        "CONSENTRY_STAGE",
        "CONSENTRY_TABLE",
        "CONSENTRY_MAIL_QUEUE",
        "CONSENTRY_CONFIRM_QUEUE",
        "CONSENTRY_SECRET_ID",
        "CONSENTRY_SENDER",
        "CONSENTRY_BASE_URL",
    }
    for stage in DEPLOYED:
        st = CONFIG["stages"][stage]
        env = stage_env(stage)
        assert st["iam_policy_file"] == f"policy-{stage}.json"
        assert required <= set(env), stage
        assert env["CONSENTRY_STAGE"] == stage
        assert env["CONSENTRY_BASE_URL"].startswith("https://")
        # Lambda refuses reserved variables; it sets the region itself.
        assert not [k for k in env if k.startswith("AWS_")], stage


def test_the_mail_workers_cannot_outrun_their_queues_or_the_ses_quota():
    template = yaml.load((CHALICE / "resources.yaml").read_text(), Loader=_CfnLoader)  # noqa: S506
    consumers = {s.name: s for s in app_module.app.event_sources if type(s).__name__ == "SQSEventConfig"}
    assert set(consumers) == {"mail_worker", "confirm_worker"}
    for name, queue in (("mail_worker", "MailQueue"), ("confirm_worker", "ConfirmQueue")):
        properties = template["Resources"][queue]["Properties"]
        assert properties["QueueName"] == {"Fn::Sub": f"consentry-${{Stage}}-{queue[:-5].lower()}"}
        assert properties["RedrivePolicy"]["maxReceiveCount"] == 5
        for stage in DEPLOYED:
            worker = CONFIG["stages"][stage]["lambda_functions"][name]
            # AWS: a queue's visibility timeout at least six times its function's timeout.
            assert properties["VisibilityTimeout"] >= 6 * worker["lambda_timeout"]
            # The event source never runs more jobs at once than the function may run.
            assert worker["reserved_concurrency"] >= app_module.MAIL_CONCURRENCY
            assert consumers[name].queue.endswith(queue[:-5].lower())


# -- resources -----------------------------------------------------------------------------


def _resources() -> dict[str, Any]:
    return yaml.load((CHALICE / "resources.yaml").read_text(), Loader=_CfnLoader)["Resources"]  # noqa: S506


def test_the_table_keeps_its_evidence_and_forgets_on_time():
    table = _resources()["Table"]
    assert table["DeletionPolicy"] == "Retain" and table["UpdateReplacePolicy"] == "Retain"
    props = table["Properties"]
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["BillingMode"] == "PAY_PER_REQUEST" and props["SSESpecification"]["SSEEnabled"] is True
    assert [i["IndexName"] for i in props["GlobalSecondaryIndexes"]] == ["audience"]


def test_queue_topic_configuration_set_identity_and_key_are_in_the_stack():
    resources = _resources()
    types = {name: r["Type"] for name, r in resources.items()}
    assert types["MailQueue"] == types["MailDeadLetterQueue"] == "AWS::SQS::Queue"
    assert "deadLetterTargetArn" in resources["MailQueue"]["Properties"]["RedrivePolicy"]
    assert types["FeedbackTopic"] == "AWS::SNS::Topic"
    assert types["ConfigurationSet"] == "AWS::SES::ConfigurationSet"
    destination = resources["FeedbackDestination"]["Properties"]["EventDestination"]
    assert {"bounce", "complaint"} <= set(destination["MatchingEventTypes"])
    identity = resources["MailIdentity"]["Properties"]
    assert identity["ConfigurationSetAttributes"] == {"ConfigurationSetName": {"Ref": "ConfigurationSet"}}
    assert identity["DkimAttributes"] == {"SigningEnabled": True}
    secret = resources["KeysSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["DeletionPolicy"] == secret["UpdateReplacePolicy"] == "Retain"


@pytest.mark.parametrize("stage", DEPLOYED)
def test_every_function_has_a_log_group_with_a_retention(stage):
    groups = {
        r["Properties"]["LogGroupName"]["Fn::Sub"].replace("${Stage}", stage)
        for r in _resources().values()
        if r["Type"] == "AWS::Logs::LogGroup"
    }
    assert groups == {f"/aws/lambda/{name}" for name in function_names(stage)}
    retention = [
        r["Properties"]["RetentionInDays"]
        for r in _resources().values()
        if r["Type"] == "AWS::Logs::LogGroup"
    ]
    assert all(retention)


# -- the deploy script's pure parts ----------------------------------------------------------


def test_the_mail_domain_comes_from_the_stages_sender():
    assert deploy.mail_domain("prod") == "consentry.example"
    assert deploy.mail_domain("dev") == "dev.consentry.example"


def test_dns_records_for_dkim_spf_and_dmarc():
    records = deploy.dns_records(
        "consentry.example", "eu-west-1", ["abc._domainkey.consentry.example CNAME abc.dkim.amazonses.com"]
    )
    by_type = {(name, kind): value for name, kind, value in records}
    assert by_type[("abc._domainkey.consentry.example", "CNAME")] == "abc.dkim.amazonses.com"
    assert by_type[("bounce.consentry.example", "MX")] == "10 feedback-smtp.eu-west-1.amazonses.com"
    assert "include:amazonses.com" in by_type[("bounce.consentry.example", "TXT")]
    assert re.match(r'^"v=DMARC1; p=(none|quarantine|reject);', by_type[("_dmarc.consentry.example", "TXT")])


def test_resources_then_preflight_against_moto(tmp_path, monkeypatch, capsys):
    """The deploy script's AWS side: the stack is made (from what moto's CloudFormation
    can create), then the checks before `chalice deploy` find only the example account."""
    import boto3
    from moto import mock_aws

    from scripts.local_stack import moto_template

    template = tmp_path / "resources.json"
    template.write_text(moto_template())
    monkeypatch.setattr(deploy, "RESOURCES", template)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        assert deploy.deploy_resources("prod") == 0
        out = capsys.readouterr().out
        assert "TableName: consentry-prod" in out
        assert "bounce.consentry.example" in out and "_dmarc.consentry.example" in out
        assert deploy.deploy_resources("prod") == 0  # again: an update with no changes
        boto3.client("sesv2", region_name="eu-west-1").create_email_identity(
            EmailIdentity="consentry.example"
        )
        account = boto3.client("sts", region_name="eu-west-1").get_caller_identity()["Account"]
        assert deploy.preflight("prod") == [
            f".chalice/policy-prod.json still names the example account 111122223333: put {account}"
        ]
