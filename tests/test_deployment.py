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
# A DynamoDB Streams trigger reads the stream with the function's role (AWS's DynamoDB
# developer guide, "IAM policy to allow an AWS Lambda function to access DynamoDB stream
# records", grants these four on the table's streams).
STREAM_TRIGGER = {
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
}
LOGS = {"logs:CreateLogStream", "logs:PutLogEvents"}


def _operations(service: str) -> dict[str, str]:
    """botocore's method name -> operation name, for one service."""
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(op): op for op in model.operation_names}


# Issue 14: the digest function has a role of its own (policy-<stage>-digest.json), the only
# one that may sign; these modules are its alone, and the other functions' policy grants
# none of their calls.
DIGEST_FUNCTION = "sign_digest"
DIGEST_MODULES = {"chalicelib/signing.py"}
DIGEST_TABLE_ACTIONS = {"dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"}
"""What digests.py and evidence.sign_digest do with the table: read heads, store digests."""


def _code_modules() -> list[Path]:
    return [
        path
        for path in [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]
        if str(path.relative_to(ROOT)) not in DIGEST_MODULES
    ]


def code_actions(modules: list[Path] | None = None) -> dict[str, set[str]]:
    """IAM action -> the modules whose code needs it."""
    needed: dict[str, set[str]] = {}

    def need(action: str, where: Path) -> None:
        needed.setdefault(action, set()).add(str(where.relative_to(ROOT)))

    for path in _code_modules() if modules is None else modules:
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
    if modules is not None:
        return needed
    if app_module.app.event_sources:
        for source in app_module.app.event_sources:
            if type(source).__name__ == "SQSEventConfig":
                for action in SQS_TRIGGER:
                    need(action, ROOT / "app.py")
            if type(source).__name__ == "DynamoDBEventConfig":
                for action in STREAM_TRIGGER:
                    need(action, ROOT / "app.py")
    for action in LOGS:
        need(action, ROOT / "app.py")
    return needed


def function_names(stage: str) -> list[str]:
    """The Lambda functions `chalice deploy` makes for the app, by the names it gives them."""
    base = f"{app_module.app.app_name}-{stage}"
    names = [base] if app_module.app.routes else []
    names += [f"{base}-{s.name}" for s in app_module.app.event_sources if s.name != DIGEST_FUNCTION]
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
        f"arn:aws:dynamodb:{a}:table/{env['CONSENTRY_ERASURE_JOURNAL']}": "dynamodb",
        # A stream's ARN ends in the label DynamoDB gave it when it was made (issue 14).
        f"{table}/stream/*": "dynamodb",
        f"arn:aws:events:{a}:event-bus/{env['CONSENTRY_EVENT_BUS']}": "events",
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
            if "*" in arn.replace(":log-stream:*", "").replace("/stream/*", "") or "?" in arn.replace(
                "-??????", ""
            ):
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
    assert actions["dynamodb:DeleteItem"] == {"chalicelib/ledger/table.py"}  # a Delete in a transaction
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


@pytest.mark.parametrize("stage", DEPLOYED)
def test_only_the_digest_function_may_sign_and_it_may_do_little_else(stage):
    """LAW 29, issue 14: kms:Sign is granted to the digest function's own role alone, on the
    stage's digest key (by its alias), with the table reads and digest writes it needs."""
    assert not any(a.startswith("kms:") for s in _policy(stage)["Statement"] for a in _list(s["Action"]))
    functions = CONFIG["stages"][stage]["lambda_functions"]
    own = {name for name, cfg in functions.items() if "iam_policy_file" in cfg}
    assert own == {DIGEST_FUNCTION}
    assert DIGEST_FUNCTION in {s.name for s in app_module.app.event_sources}
    document = json.loads((CHALICE / functions[DIGEST_FUNCTION]["iam_policy_file"]).read_text())
    granted = {a for s in document["Statement"] for a in _list(s["Action"])}
    signing = set(code_actions([ROOT / m for m in sorted(DIGEST_MODULES)]))
    assert signing == {"kms:Sign"}
    assert granted == signing | DIGEST_TABLE_ACTIONS | LOGS
    env = stage_env(stage)
    table = f"arn:aws:dynamodb:{REGION}:111122223333:table/{env['CONSENTRY_TABLE']}"
    by_action: dict[str, set[str]] = {}
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow" and "NotAction" not in statement
        for action in _list(statement["Action"]):
            by_action.setdefault(action, set()).update(_list(statement["Resource"]))
        if "kms:Sign" in _list(statement["Action"]):
            assert statement["Condition"] == {
                "ForAnyValue:StringEquals": {"kms:ResourceAliases": f"alias/consentry-{stage}-digest"}
            }
    assert by_action["dynamodb:PutItem"] == {table}
    assert by_action["dynamodb:Query"] == {table, f"{table}/index/chain"}
    assert by_action["logs:PutLogEvents"] == {
        f"arn:aws:logs:{REGION}:111122223333:log-group:/aws/lambda/consentry-{stage}-{DIGEST_FUNCTION}:log-stream:*"
    }


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
    }
    for stage in DEPLOYED:
        st = CONFIG["stages"][stage]
        env = stage_env(stage)
        assert st["iam_policy_file"] == f"policy-{stage}.json"
        assert required <= set(env), stage
        assert env["CONSENTRY_STAGE"] == stage
        # Links follow the address requests come in on (baseurl.py): the API's custom domain,
        # written once in api_gateway_custom_domain, or its execute-api URL (issue 12).
        assert "CONSENTRY_BASE_URL" not in env, stage
        assert st["lambda_architecture"] == "x86_64"
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
    assert [i["IndexName"] for i in props["GlobalSecondaryIndexes"]] == ["audience", "chain"]


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
            f".chalice/policy-prod.json still names the example account 111122223333: put {account}",
            "config.json still names the example certificate for consent.consentry.example: run"
            " `make certificate STAGE=…` and put the ARN it prints",
        ]


# -- issue 12: alarms, their subscriber, the dashboard ---------------------------------------


def _alarm_targets(resource: dict[str, Any]) -> list[Any]:
    actions = resource["Properties"]["AlarmActions"]
    return actions["Fn::If"][2] if isinstance(actions, dict) else actions


def test_the_alarms_watch_dead_letters_5xx_errors_throttles_waiting_mail_and_ses_rates():
    resources = _resources()
    alarms = {name: r for name, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    watched = set()
    for alarm in alarms.values():
        props = alarm["Properties"]
        metrics = [props] + [m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m]
        watched |= {(m["Namespace"], m["MetricName"]) for m in metrics if "MetricName" in m}
        assert _alarm_targets(alarm) == [{"Ref": "AlarmTopic"}]  # every alarm mails the subscriber
    assert {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage"),
        ("AWS/ApiGateway", "5XXError"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/SES", "Reputation.BounceRate"),
        ("AWS/SES", "Reputation.ComplaintRate"),
    } <= watched
    bounce = {
        a["Properties"]["Threshold"]
        for a in alarms.values()
        if a["Properties"].get("MetricName") == "Reputation.BounceRate"
    }
    assert bounce == {0.02, 0.05}
    dead = alarms["DeadLetterAlarm"]["Properties"]["Dimensions"][0]["Value"]
    assert dead == {"Fn::GetAtt": ["MailDeadLetterQueue", "QueueName"]}
    waiting = {
        a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for a in alarms.values()
        if a["Properties"].get("MetricName") == "ApproximateAgeOfOldestMessage"
    }
    assert waiting == {"MailQueue", "ConfirmQueue"}  # each mail queue has its own waiting alarm


@pytest.mark.parametrize("stage", DEPLOYED)
def test_the_function_alarms_name_every_function_the_stage_deploys(stage):
    resources = _resources()
    for name in ("FunctionErrorsAlarm", "FunctionThrottlesAlarm"):
        named = {
            m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Fn::Sub"].replace("${Stage}", stage)
            for m in resources[name]["Properties"]["Metrics"]
            if "MetricStat" in m
        }
        assert named == set(function_names(stage))


def test_the_dashboard_draws_the_funnel_saying_no_and_every_alarm():
    from chalicelib import metrics

    resources = _resources()
    body = resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    rendered = body.replace("${Stage}", "prod").replace("${AWS::Region}", "eu-west-1")
    rendered = re.sub(r"\$\{[A-Za-z]+\.(Arn|QueueName)\}", "x", rendered)
    widgets = json.loads(rendered)["widgets"]
    titles = " | ".join(w["properties"]["title"] for w in widgets)
    assert "Funnel" in titles and "withdrawals per purpose" in titles and "no mail" in titles
    funnel = [m[1] for m in widgets[0]["properties"]["metrics"]]
    assert funnel == ["FormViews", "Signups", "MailsSent", "Confirmations"]
    # every metric the dashboard reads is one chalicelib/metrics.py writes
    written = set(re.findall(r'_emit\(\s*"(\w+)"', Path(metrics.__file__).read_text()))
    read = set(re.findall(r'\["Consentry", "(\w+)"', body)) | set(re.findall(r'MetricName=\\"(\w+)\\"', body))
    assert read and read <= written
    alarms = {n for n, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert set(re.findall(r"\$\{(\w+)\.Arn\}", body)) == alarms


def test_the_alarm_topic_mails_the_address_make_resources_was_given():
    resources = _resources()
    subscription = resources["AlarmSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "AlarmTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlarmEmail"},
    }
    assert "'$(ALARM_EMAIL)'" in (ROOT / "Makefile").read_text()


def test_make_resources_sets_the_alarm_email_and_keeps_it_when_run_again(tmp_path, monkeypatch):
    """moto's CloudFormation makes no SNS subscription (it warns and skips it): what is
    tried here is the parameter the subscription reads, kept across runs."""
    import boto3
    from moto import mock_aws

    from scripts.local_stack import moto_template

    template = tmp_path / "resources.json"
    template.write_text(moto_template())
    monkeypatch.setattr(deploy, "RESOURCES", template)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        cfn = boto3.client("cloudformation", region_name="eu-west-1")

        def parameters() -> dict[str, str]:
            stack = cfn.describe_stacks(StackName="consentry-prod-resources")["Stacks"][0]
            return {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}

        assert deploy.deploy_resources("prod", alarm_email="ops@consentry.example") == 0
        assert parameters()["AlarmEmail"] == "ops@consentry.example"
        assert deploy.deploy_resources("prod") == 0  # again, without ALARM_EMAIL
        assert parameters()["AlarmEmail"] == "ops@consentry.example"
        assert deploy.deploy_resources("prod", alarm_email="oncall@consentry.example") == 0
        assert parameters()["AlarmEmail"] == "oncall@consentry.example"


def test_only_given_parameters_change_on_an_update():
    assert deploy.stack_parameters({"Stage": "prod"}, None) == [
        {"ParameterKey": "Stage", "ParameterValue": "prod"},
        {"ParameterKey": "WebhookSecret", "ParameterValue": ""},  # NoEcho, no default: no webhook
    ]
    previous = {
        "Stage": "prod",
        "AlarmEmail": "ops@x.example",
        "LogRetentionDays": "90",
        "Gone": "x",
        "WebhookUrl": "https://crm.example/hook",
        "WebhookSecret": "****",  # as DescribeStacks shows a NoEcho parameter
    }
    parameters = deploy.stack_parameters({"Stage": "prod"}, previous)
    kept = {p["ParameterKey"]: p.get("ParameterValue") for p in parameters}
    assert kept == {
        "Stage": "prod",
        "AlarmEmail": "ops@x.example",
        "LogRetentionDays": "90",
        "WebhookUrl": "https://crm.example/hook",
        "WebhookSecret": None,
    }
    assert {"ParameterKey": "WebhookSecret", "UsePreviousValue": True} in parameters


# -- issue 12: the API's custom domain and its certificate -----------------------------------

DOMAIN = "consent.consentry.example"


def _self_signed(*names: str) -> tuple[bytes, bytes]:
    """A certificate and key for import into ACM (an imported certificate is ISSUED)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return cert.public_bytes(pem), key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def test_prod_is_served_on_its_custom_domain_and_dev_on_the_apis_own_url():
    prod, dev = deploy.api_domain("prod"), deploy.api_domain("dev")
    assert dev is None
    assert prod["domain_name"] == DOMAIN and prod["tls_version"] == "TLS_1_2"
    assert prod["certificate_arn"].startswith(f"arn:aws:acm:{REGION}:")
    assert CONFIG["stages"]["prod"]["api_gateway_endpoint_type"] == "REGIONAL"  # a regional certificate
    assert "url_prefix" not in prod  # links are made for the whole domain (baseurl.py)


def test_deploy_refuses_a_certificate_that_is_missing_pending_foreign_or_for_another_name(monkeypatch):
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        acm = boto3.client("acm", region_name=REGION)
        account = boto3.client("sts", region_name=REGION).get_caller_identity()["Account"]

        def problems(arn: str) -> list[str]:
            return deploy.certificate_problems(
                acm, {"domain_name": DOMAIN, "certificate_arn": arn}, account, REGION
            )

        missing = f"arn:aws:acm:{REGION}:{account}:certificate/11111111-2222-3333-4444-555555555555"
        assert problems(missing) == [
            f"ACM has no certificate {missing} for {DOMAIN}: run `make certificate STAGE=…`"
        ]
        pending = acm.request_certificate(DomainName=DOMAIN, ValidationMethod="DNS")["CertificateArn"]
        (problem,) = problems(pending)
        assert "is PENDING_VALIDATION, not ISSUED" in problem and "make dns" in problem
        cert, key = _self_signed("other.consentry.example")
        other = acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
        assert problems(other) == [f"the certificate names ['other.consentry.example'], not {DOMAIN}"]
        cert, key = _self_signed("*.consentry.example")
        wildcard = acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
        assert problems(wildcard) == []
        elsewhere = boto3.client("acm", region_name="us-east-1").import_certificate(
            Certificate=cert, PrivateKey=key
        )
        (problem,) = problems(elsewhere["CertificateArn"])
        assert f"needs it in its own region and account, {REGION}/{account}" in problem


@pytest.fixture
def prod_stack(tmp_path, monkeypatch):
    """moto, with prod's resource stack as `make resources` makes it (what moto can)."""
    from moto import mock_aws

    from scripts.local_stack import moto_template

    template = tmp_path / "resources.json"
    template.write_text(moto_template())
    monkeypatch.setattr(deploy, "RESOURCES", template)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        assert deploy.deploy_resources("prod") == 0
        yield


def _use_certificate(arn: str, tmp_path, monkeypatch) -> None:
    """config.json as ops leave it after `make certificate`: prod names this certificate."""
    from scripts import package as packaging

    config = copy.deepcopy(CONFIG)
    config["stages"]["prod"]["api_gateway_custom_domain"]["certificate_arn"] = arn
    (tmp_path / "config.json").write_text(json.dumps(config))
    monkeypatch.setattr(packaging, "CONFIG", tmp_path / "config.json")


def test_make_deploy_stops_with_the_certificates_reason(prod_stack, tmp_path, monkeypatch, capsys):
    """`make deploy` against moto: an issued certificate for another name stops it before
    anything is built or deployed, and says why."""
    import boto3

    from scripts import package as packaging

    boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity="consentry.example")
    cert, key = _self_signed("www.consentry.example")
    arn = boto3.client("acm", region_name=REGION).import_certificate(Certificate=cert, PrivateKey=key)
    _use_certificate(arn["CertificateArn"], tmp_path, monkeypatch)
    monkeypatch.setattr(packaging, "build", lambda *a: pytest.fail("built despite the certificate"))
    capsys.readouterr()
    assert deploy.deploy_app("prod") == 1
    err = capsys.readouterr().err
    assert f"cannot deploy: the certificate names ['www.consentry.example'], not {DOMAIN}" in err


def test_make_dns_prints_the_api_domains_record_beside_the_mail_records(
    prod_stack, tmp_path, monkeypatch, capsys
):
    import boto3

    assert deploy.request_certificate("prod") == 0
    arn = capsys.readouterr().out.split(f"certificate for {DOMAIN}: ", 1)[1].split()[0]
    _use_certificate(arn, tmp_path, monkeypatch)
    session = boto3.session.Session(region_name=REGION)
    outputs = {"DkimRecord1": "t1._domainkey.consentry.example CNAME t1.dkim.amazonses.com"}

    deploy.print_dns("prod", REGION, outputs, session)
    before = capsys.readouterr().out
    assert "run `make dns` again after `make deploy`" in before
    validation = boto3.client("acm", region_name=REGION).describe_certificate(CertificateArn=arn)
    record = validation["Certificate"]["DomainValidationOptions"][0]["ResourceRecord"]
    assert record["Name"].rstrip(".") in before and record["Value"].rstrip(".") in before

    # what `chalice deploy` does with api_gateway_custom_domain
    apigw = boto3.client("apigateway", region_name=REGION)
    made = apigw.create_domain_name(
        domainName=DOMAIN, regionalCertificateArn=arn, endpointConfiguration={"types": ["REGIONAL"]}
    )
    deploy.print_dns("prod", REGION, outputs, session)
    lines = capsys.readouterr().out.splitlines()
    api_line = next(line.split() for line in lines if line.strip().startswith(DOMAIN))
    assert api_line == [DOMAIN, "CNAME", made["regionalDomainName"]]
    assert any("_dmarc.consentry.example" in line for line in lines)
    assert any("t1._domainkey.consentry.example" in line for line in lines)


def test_the_dns_records_in_the_docs_are_the_ones_make_dns_prints():
    """docs/operations.md's table and scripts/deploy.py must name the same records (the
    DMARC report address once differed between them)."""
    docs = (ROOT / "docs" / "operations.md").read_text()
    rows = {
        (name, kind): value
        for name, kind, value in re.findall(r"^\| `([^`]+)` \| (MX|TXT) \| `([^`]+)`", docs, re.MULTILINE)
    }
    printed = deploy.dns_records("consentry.example", REGION, [])
    assert rows == {(name, kind): value for name, kind, value in printed}
