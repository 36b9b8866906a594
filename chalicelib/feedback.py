"""SES feedback through SNS: complaints withdraw consent at once, bounces suppress.

Only feedback about our own mail counts: a notification must name the stage's
configuration set (``mail.tags["ses:configuration-set"]``, which SES's event publishing
adds to every event). Identity notifications (``notificationType``) carry no tags, so they
cannot say whose mail they are about, and are ignored: the stack never sends them here (it
wires only the configuration set's event destination to the topic, and the topic's policy
lets SES publish for that configuration set alone), and every marketing mail must use the
configuration set (README, "SES bounces and complaints"). A complaint withdraws every purpose
and leaves a suppression marker; a permanent bounce takes the address out of every
audience and leaves a marker; a transient bounce is only recorded. SNS may deliver a
message twice: events are keyed by SES's feedback id, so a redelivery changes nothing.
Logs name the notification kind and a subject-hash prefix at most, never an address.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any

from chalicelib import metrics
from chalicelib.keys import get_keys
from chalicelib.ledger import get_ledger, utc_now

log = logging.getLogger("consentry.feedback")


@dataclass(frozen=True)
class Feedback:
    """One notification, reduced to what the ledger records (no diagnostic text)."""

    kind: str  # "bounce" | "complaint"
    permanent: bool
    recipients: tuple[str, ...]
    at: datetime
    feedback_id: str | None
    details: dict[str, str]
    configuration_sets: tuple[str, ...] = ()
    """The configuration sets the event names (event publishing only)."""


def parse(message: str) -> Feedback | None:
    """A Bounce or Complaint notification; None for anything else (deliveries, the
    subscription notice SES sends when a topic is set up, or a malformed message)."""
    try:
        data = json.loads(message)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    kind = str(data.get("notificationType") or data.get("eventType") or "").lower()
    if kind not in ("bounce", "complaint"):
        return None
    body = data.get(kind)
    if not isinstance(body, dict):
        return None
    listed = body.get("bouncedRecipients" if kind == "bounce" else "complainedRecipients") or []
    recipients = tuple(
        r["emailAddress"] for r in listed if isinstance(r, dict) and isinstance(r.get("emailAddress"), str)
    )
    mail: dict[str, Any] = data["mail"] if isinstance(data.get("mail"), dict) else {}
    details = {"source": "ses"}
    if isinstance(mail.get("messageId"), str):
        details["message_id"] = mail["messageId"][:200]
    if kind == "bounce":
        details["bounce_type"] = str(body.get("bounceType", ""))[:40]
        details["bounce_sub_type"] = str(body.get("bounceSubType", ""))[:40]
    elif body.get("complaintFeedbackType"):
        details["feedback_type"] = str(body["complaintFeedbackType"])[:40]
    feedback_id = body.get("feedbackId") if isinstance(body.get("feedbackId"), str) else None
    tags: dict[str, Any] = mail["tags"] if isinstance(mail.get("tags"), dict) else {}
    named = tags.get("ses:configuration-set")
    return Feedback(
        kind=kind,
        permanent=kind == "bounce" and body.get("bounceType") == "Permanent",
        recipients=recipients,
        at=_timestamp(body.get("timestamp") or mail.get("timestamp")),
        feedback_id=feedback_id,
        details=details,
        configuration_sets=tuple(n for n in named if isinstance(n, str)) if isinstance(named, list) else (),
    )


def _timestamp(value: Any) -> datetime:
    """SES's own time of the bounce or complaint; now when absent or unreadable."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return utc_now()
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return utc_now()


def _subject(address: str) -> str | None:
    from chalicelib.models import normalise_email

    try:
        return get_keys().subject_id(normalise_email(parseaddr(address)[1] or address))
    except ValueError:
        return None


def handle_notification(message: str) -> int:
    """Record one SNS message from SES; returns how many recipients it recorded.

    Storage errors propagate, so Lambda retries the message.
    """
    from chalicelib.settings import get_settings

    feedback = parse(message)
    if feedback is None:
        log.info("feedback ignored", extra={"reason": "not a bounce or complaint"})
        return 0
    ours = get_settings().ses_configuration_set
    if ours is None or ours not in feedback.configuration_sets:
        log.warning("feedback ignored", extra={"reason": "not about our configuration set's mail"})
        return 0
    ledger = get_ledger()
    recorded = 0
    for address in feedback.recipients:
        subject = _subject(address)
        if subject is None:
            log.warning("feedback recipient unreadable", extra={"kind": feedback.kind})
            continue
        said = ledger.record_feedback(
            subject,
            kind=feedback.kind,
            permanent=feedback.permanent,
            at=feedback.at,
            feedback_id=feedback.feedback_id,
            details=feedback.details,
            now=utc_now(),
        )
        if said.repeated:
            log.info("feedback seen before", extra={"kind": feedback.kind, "subject": subject[:12]})
            continue
        recorded += 1
        metrics.ses_feedback(feedback.kind, feedback.permanent)
        metrics.said_no(said.withdrawn, said.profiling, feedback.kind)
        log.info(
            "feedback recorded",
            extra={
                "kind": feedback.kind,
                "permanent": feedback.permanent,
                "subject": subject[:12],
                "withdrawn": len(said.withdrawn),
                "suppressed": said.suppressed,
            },
        )
    return recorded
