"""Structured JSON logs that never hold an address, a name, a token or a link.

Only fields on an allowlist reach the log line; free text comes from our own constant
messages. Personal data is referred to by subject hash or signup id at most. The standard
library does this at no cold-start cost (Powertools Logger would add ~40 ms of imports).
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from contextvars import ContextVar
from typing import Any

request_id: ContextVar[str] = ContextVar("request_id", default="-")

SAFE_FIELDS = frozenset(
    {
        "route",
        "method",
        "status",
        "duration_ms",
        "subject",
        "signup",
        "kind",
        "reason",
        "result",
        "count",
        "purpose",
        "attempt",
        "error",
    }
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request id and only allowlisted fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname,
            "logger": record.name,
            "message": record.msg if isinstance(record.msg, str) else "event",
            "request_id": request_id.get(),
        }
        for key in SAFE_FIELDS:
            if key in record.__dict__:
                line[key] = record.__dict__[key]
        emf = record.__dict__.get("emf")
        if isinstance(emf, dict):
            # A metric in CloudWatch's embedded metric format, built by chalicelib.metrics
            # from fixed vocabularies only: its fields sit at the top level of the line.
            line.update(emf)
        if record.exc_info and record.exc_info[0] is not None:
            # The type only: exception texts can quote input (an address, a token).
            line["exception"] = record.exc_info[0].__name__
        return json.dumps(line, default=str)


def configure(logger: logging.Logger) -> None:
    """Give the app's logger (and so every ``consentry.*`` logger) JSON lines, at the level
    ``CONSENTRY_LOG_LEVEL`` names (INFO unless set; the bench sets WARNING)."""
    level = os.environ.get("CONSENTRY_LOG_LEVEL", "INFO").upper()
    logger.setLevel(level if level in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO")
    if not logger.handlers:
        logger.addHandler(logging.StreamHandler())
    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter())
    # botocore logs whole request bodies (addresses included) at DEBUG: never let it.
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def new_request_id(candidate: str | None) -> str:
    value = candidate if candidate and len(candidate) <= 100 else uuid.uuid4().hex
    request_id.set(value)
    return value
