"""SES bounces and complaints through SNS, the stack that wires them, and the alarms.

LAW 22 (a complaint leaves a marker) and LAW 31 (complaints withdraw at once, bounces
suppress, complaint-rate warning at 0.1% and alarm at 0.3%).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from scripts.local_stack import TEMPLATE, _CfnLoader

OURS = "consentry-local"  # the configuration set provision() creates for the local stage


@pytest.fixture(autouse=True)
def configuration_set(monkeypatch):
    """The stage names its configuration set, as dev and prod do (config.json)."""
    monkeypatch.setenv("CONSENTRY_SES_CONFIGURATION_SET", OURS)


def _tags(shape: str, configuration_set: str) -> dict:
    """Event publishing tags every event with its configuration set; identity
    notifications carry no tags."""
    return {"tags": {"ses:configuration-set": [configuration_set]}} if shape == "eventType" else {}


def _complaint(
    *emails: str, feedback_id: str = "fb-complaint-1", shape: str = "eventType", configuration_set: str = OURS
) -> dict:
    return {
        shape: "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": e} for e in emails],
            "timestamp": "2026-03-01T10:00:00.000Z",
            "feedbackId": feedback_id,
            "complaintFeedbackType": "abuse",
            "userAgent": "ExampleMail/1.0",
        },
        "mail": {
            "messageId": "0100-msg-1",
            "timestamp": "2026-03-01T09:59:00.000Z",
            "destination": list(emails),
            **_tags(shape, configuration_set),
        },
    }


def _bounce(*emails: str, kind: str = "Permanent", feedback_id: str = "fb-bounce-1", shape="eventType"):
    return {
        shape: "Bounce",
        "bounce": {
            "bounceType": kind,
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": e,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": f"550 {e} unknown",
                }
                for e in emails
            ],
            "timestamp": "2026-03-01T11:00:00.000Z",
            "feedbackId": feedback_id,
        },
        "mail": {"messageId": "0100-msg-2", "destination": list(emails), **_tags(shape, OURS)},
    }


def _statuses(visitor, email):
    return {p: s["status"] for p, s in visitor.contact(email)["purposes"].items()}


def _emails(visitor, purpose):
    return [c["email"] for c in visitor.audience(purpose)]


def _marker(visitor):
    (marker,) = [i for i in visitor.items() if i["pk"].startswith("SUPPRESS#")]
    return marker


def test_a_complaint_withdraws_every_purpose_and_suppresses(visitor):
    visitor.subscribed("ada@example.com")
    visitor.subscribed("bo@example.com")
    visitor.sns(_complaint("Ada@Example.com"))
    assert _statuses(visitor, "ada@example.com") == {"newsletter": "withdrawn", "offers": "withdrawn"}
    assert _emails(visitor, "newsletter") == _emails(visitor, "offers") == ["bo@example.com"]
    events = visitor.events("ada@example.com")
    (complained,) = [e for e in events if e["type"] == "complained"]
    assert complained["at"] == "2026-03-01T10:00:00.000000Z"
    assert complained["evidence"]["feedback_type"] == "abuse"
    assert complained["evidence"]["message_id"] == "0100-msg-1"
    withdrawn = [e for e in events if e["type"] == "withdrawn"]
    assert sorted(e["purpose"] for e in withdrawn) == ["newsletter", "offers"]
    assert {e["evidence"]["channel"] for e in withdrawn} == {"complaint"}
    contact = visitor.contact("ada@example.com")
    assert contact["suppressed"] is True
    marker = _marker(visitor)
    assert marker["reason"] == "complaint"
    assert "example.com" not in str(marker).lower()  # keyed by a hash, never the address


@pytest.mark.parametrize(
    "notification",
    [
        _complaint("jo@example.com", configuration_set="someone-elses"),
        _complaint("jo@example.com", shape="notificationType"),  # identity shape: no tags at all
        {
            **_complaint("jo@example.com"),
            "mail": {"messageId": "0100-msg-1", "tags": {"ses:configuration-set": OURS}},
        },
    ],
    ids=["another configuration set", "identity notification", "malformed tag"],
)
def test_feedback_that_does_not_name_our_configuration_set_changes_nothing(visitor, notification, caplog):
    """Anyone who may publish to the topic could complain in our name before: only SES's
    events about our own configuration set's mail now count."""
    visitor.subscribed("jo@example.com")
    before = visitor.items()
    visitor.sns(notification)
    assert visitor.items() == before
    assert _statuses(visitor, "jo@example.com") == {"newsletter": "granted", "offers": "granted"}
    (ignored,) = [r for r in caplog.records if r.getMessage() == "feedback ignored"]
    assert ignored.reason == "not about our configuration set's mail"


def test_a_stage_without_a_configuration_set_trusts_no_feedback(visitor, monkeypatch):
    monkeypatch.delenv("CONSENTRY_SES_CONFIGURATION_SET")
    visitor.subscribed("kim@example.com")
    visitor.sns(_complaint("kim@example.com"))
    assert visitor.contact("kim@example.com")["suppressed"] is False


def test_a_redelivered_notification_changes_nothing(visitor):
    visitor.subscribed("cor@example.com")
    visitor.sns(_complaint("cor@example.com"))
    events, items = visitor.events("cor@example.com"), visitor.items()
    visitor.sns(_complaint("cor@example.com"))
    assert visitor.events("cor@example.com") == events
    assert visitor.items() == items


def test_a_permanent_bounce_suppresses_without_withdrawing_consent(visitor):
    visitor.subscribed("dex@example.com")
    visitor.subscribed("eli@example.com")
    visitor.sns(_bounce("dex@example.com", "eli@example.com"))
    for email in ("dex@example.com", "eli@example.com"):
        contact = visitor.contact(email)
        assert {p: s["status"] for p, s in contact["purposes"].items()} == {
            "newsletter": "granted",
            "offers": "granted",
        }
        assert contact["suppressed"] is True
        types = [e["type"] for e in visitor.events(email)]
        assert types.count("bounced") == 1 and "withdrawn" not in types
    assert _emails(visitor, "newsletter") == [] and _emails(visitor, "offers") == []
    (bounced,) = [e for e in visitor.events("dex@example.com") if e["type"] == "bounced"]
    assert bounced["evidence"]["bounce_type"] == "Permanent"
    assert "550" not in json.dumps(bounced)  # no diagnostic text (it quotes the address)
    markers = [i for i in visitor.items() if i["pk"].startswith("SUPPRESS#")]
    assert {m["reason"] for m in markers} == {"bounce"} and len(markers) == 2


def test_a_transient_bounce_is_only_recorded(visitor):
    visitor.subscribed("fay@example.com")
    before = {p: s for p, s in visitor.contact("fay@example.com")["purposes"].items()}
    visitor.sns(_bounce("fay@example.com", kind="Transient"))
    contact = visitor.contact("fay@example.com")
    assert contact["purposes"] == before and contact["suppressed"] is False
    (bounced,) = [e for e in visitor.events("fay@example.com") if e["type"] == "bounced"]
    assert bounced["at"] == "2026-03-01T11:00:00.000000Z"  # when SES saw it
    assert bounced["evidence"]["bounce_type"] == "Transient"
    assert _emails(visitor, "newsletter") == ["fay@example.com"]


def test_feedback_for_an_unknown_address_leaves_only_a_marker(visitor):
    visitor.sns(_complaint("stranger@example.com"))
    assert visitor.api("/api/contacts/stranger@example.com").status_code == 404
    items = [i for i in visitor.items() if not i["pk"].startswith("TEXT#")]
    assert [i["pk"][:9] for i in items] == ["SUPPRESS#"]
    assert "stranger" not in str(items)


@pytest.mark.parametrize(
    "message",
    [
        {"notificationType": "Delivery", "delivery": {"recipients": ["gus@example.com"]}},
        {"notificationType": "AmazonSnsSubscriptionSucceeded", "message": "You have subscribed"},
        {"eventType": "Open", "open": {}},
        {"notificationType": "Bounce"},
        ["not", "an", "object"],
    ],
)
def test_other_notifications_change_nothing(visitor, message):
    visitor.subscribed("gus@example.com")
    before = visitor.items()
    visitor.sns(message)
    assert visitor.items() == before


def test_mail_goes_out_with_the_configuration_set_when_one_is_set(visitor, monkeypatch):
    from chalicelib.mail import _client

    monkeypatch.delenv("CONSENTRY_SES_CONFIGURATION_SET")
    sent: list[dict] = []

    def record(params, **_):
        sent.append(params)

    client = _client("eu-west-1")
    client.meta.events.register("before-parameter-build.sesv2.SendEmail", record)
    try:
        visitor.signup("hal@example.com")
        visitor.run_mail_jobs()
        monkeypatch.setenv("CONSENTRY_SES_CONFIGURATION_SET", "consentry-local")
        visitor.signup("ida@example.com")
        visitor.run_mail_jobs()
    finally:
        client.meta.events.unregister("before-parameter-build.sesv2.SendEmail", record)
    assert ["ConfigurationSetName" in p for p in sent] == [False, True]
    assert sent[1]["ConfigurationSetName"] == "consentry-local"


# -- the stack --------------------------------------------------------------------------


def _template() -> dict:
    return yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506 (a SafeLoader)


def test_the_stack_wires_ses_feedback_to_the_topic(visitor):
    resources = _template()["Resources"]
    topic = resources["FeedbackTopic"]["Properties"]
    assert topic["TopicName"] == {"Fn::Sub": "consentry-${Stage}-ses-feedback"}
    (statement,) = resources["FeedbackTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "ses.amazonaws.com"} and statement["Action"] == "sns:Publish"
    destination = resources["FeedbackDestination"]["Properties"]["EventDestination"]
    assert sorted(destination["MatchingEventTypes"]) == ["bounce", "complaint"]
    assert destination["SnsDestination"]["TopicARN"] == {"Ref": "FeedbackTopic"}
    assert "FeedbackTopicArn" in _template()["Outputs"]
    # the local stack made the topic the app's handler is subscribed to
    assert visitor.resources["feedback_topic_arn"].endswith(":consentry-local-ses-feedback")


def test_complaint_rate_warning_at_0_1_and_alarm_at_0_3_percent():
    """LAW 31: Gmail's levels, on SES's reputation metric."""
    alarms = [
        r["Properties"]
        for r in _template()["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and r["Properties"].get("MetricName") == "Reputation.ComplaintRate"
    ]
    assert sorted(a["Threshold"] for a in alarms) == [0.001, 0.003]
    for alarm in alarms:
        assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SES", "Reputation.ComplaintRate")
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_the_resource_template_passes_cfn_lint():
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    if not cfn_lint.exists():
        pytest.skip("cfn-lint is not installed")
    result = subprocess.run([str(cfn_lint), str(TEMPLATE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
