"""Metrics as CloudWatch embedded-metric-format (EMF) log lines: one call per fact.

A JSON log line carrying an ``_aws`` block becomes a CloudWatch metric without any API call
or library (Powertools' metrics would cost its imports at every cold start). The line goes
through the app's JSON logger, so it also carries the request id.

Dimensions are the stage and fixed vocabularies only: purpose and form ids from the
catalogue, mail kinds, reasons, feedback kinds. Anything else is dropped (``_label``), so a
metric can never carry an address, a name, a token or an IP. ``signup_sent_no_mail`` adds the
subject hash (the ledger's key, a keyed HMAC) to its line: that line is also the one record
support finds with ``make trace`` when someone asks why no mail came.

Namespace ``Consentry``; every metric is a Count. resources.yaml's dashboard and alarms read
these names: keep them in step.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterable

NAMESPACE = "Consentry"
log = logging.getLogger("consentry.metrics")
log.setLevel(logging.INFO)  # metrics are not chatter: CONSENTRY_LOG_LEVEL never silences them

NO_MAIL_REASONS = ("address_cap", "ip_limit", "honeypot", "too_fast", "challenge")
"""Why an accepted-looking signup sent no mail (the dimension ``Reason``)."""

_LABEL = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_SUBJECT = re.compile(r"^[0-9a-f]{12,64}$")


def _label(value: str) -> str:
    """A dimension value from a fixed vocabulary; anything else becomes ``other``."""
    return value if isinstance(value, str) and _LABEL.match(value) else "other"


def _emit(
    metric: str,
    dimension_sets: list[list[str]],
    labels: dict[str, str],
    message: str = "metric",
    **extra: str,
) -> None:
    values = {"Stage": _label(os.environ.get("CONSENTRY_STAGE", "unknown"))}
    values.update({name: _label(value) for name, value in labels.items()})
    emf = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": dimension_sets,
                    "Metrics": [{"Name": metric, "Unit": "Count"}],
                }
            ],
        },
        **values,
        metric: 1,
    }
    log.info(message, extra={"emf": emf, **extra})


_STAGE = [["Stage"]]
_BY_PURPOSE = [["Stage", "Purpose"]]


# -- the funnel ---------------------------------------------------------------------------


def form_viewed(form_id: str) -> None:
    _emit("FormViews", [["Stage"], ["Stage", "Form"]], {"Form": form_id})


def signup_accepted(form_id: str, purposes: Iterable[str]) -> None:
    """A signup recorded with its mail queued: one ``Signups``, one ``SignupPurposes`` each."""
    _emit("Signups", [["Stage"], ["Stage", "Form"]], {"Form": form_id})
    for purpose in purposes:
        _emit("SignupPurposes", _BY_PURPOSE, {"Purpose": purpose})


def confirmed(purposes: Iterable[str]) -> None:
    """A signup confirmed now (not a repeated click)."""
    _emit("Confirmations", _STAGE, {})
    for purpose in purposes:
        _emit("ConfirmedPurposes", _BY_PURPOSE, {"Purpose": purpose})


# -- saying no ----------------------------------------------------------------------------


def said_no(withdrawn: Iterable[str], profiling: str | None, channel: str) -> None:
    """What one 'no' changed now: each purpose withdrawn (one-click, preferences, complaint,
    ...), and an objection to profiling, which is per person, not per purpose."""
    for purpose in withdrawn:
        _emit("Withdrawals", [["Stage"], ["Stage", "Purpose"]], {"Purpose": purpose, "Channel": channel})
    if profiling == "objected":
        _emit("ProfilingObjections", _STAGE, {"Channel": channel})


# -- mail ---------------------------------------------------------------------------------


def mail_sent(kind: str) -> None:
    """A mail SES accepted: ``confirm`` or ``request``."""
    _emit("MailsSent", [["Stage"], ["Stage", "Kind"]], {"Kind": kind})


def mail_failed(kind: str) -> None:
    """A mail SES refused or could not take now; the job goes back to the queue."""
    _emit("MailsFailed", [["Stage"], ["Stage", "Kind"]], {"Kind": kind})


def signup_sent_no_mail(reason: str, subject: str | None) -> None:
    """A signup answered as usual that sent no mail, and why; with the subject hash (never
    the address), so support can answer "why did my mail not come?" (`make trace`)."""
    extra = {"reason": reason}
    if subject and _SUBJECT.match(subject):
        extra["subject"] = subject
    _emit(
        "SignupsWithoutMail",
        [["Stage"], ["Stage", "Reason"]],
        {"Reason": reason},
        "signup sent no mail",
        **extra,
    )


def ses_feedback(kind: str, permanent: bool) -> None:
    """A bounce or complaint recorded for one recipient: Kind ``complaint``,
    ``bounce_permanent`` or ``bounce_transient``."""
    label = kind if kind != "bounce" else ("bounce_permanent" if permanent else "bounce_transient")
    _emit("SesFeedback", [["Stage", "Kind"]], {"Kind": label})
