"""Consentry: registers the blueprints, the request middleware and the queue consumer."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from chalice import Chalice, Response
from chalice.app import Request, SQSEvent

from chalicelib import logs
from chalicelib.views.api import api
from chalicelib.views.public import public

app = Chalice(app_name="consentry")
logs.configure(app.log)
app.register_blueprint(public)
app.register_blueprint(api)
access_log = logging.getLogger("consentry.access")

# The queue's name is fixed at deploy time: `make deploy STAGE=…` exports it from the stage.
MAIL_QUEUE = os.environ.get("CONSENTRY_MAIL_QUEUE", "consentry-dev-mail")


@app.middleware("http")
def request_log(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """One log line per request: route pattern (never the path: it holds tokens), status, time."""
    context = event.context or {}
    logs.new_request_id(context.get("requestId"))
    started = time.perf_counter()
    response = get_response(event)
    access_log.info(
        "request",
        extra={
            "route": context.get("resourcePath"),
            "method": event.method,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return response


@app.on_sqs_message(queue=MAIL_QUEUE, batch_size=1)
def mail_worker(event: SQSEvent) -> None:
    """Send queued mail. An exception leaves the job for SQS to retry, then dead-letter."""
    from chalicelib.mail import handle_job

    for record in event:
        logs.new_request_id(record.to_dict().get("messageId"))
        handle_job(record.body)
