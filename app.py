"""Consentry: registers the blueprints, the request middleware, the mail queue consumer and
the SES feedback handler; nothing else."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from chalice import Chalice, Response
from chalice.app import Request, SNSEvent, SQSEvent

from chalicelib import baseurl, logs
from chalicelib.views.api import api
from chalicelib.views.embed import embed
from chalicelib.views.public import public
from chalicelib.views.requests import requests

app = Chalice(app_name="consentry")
logs.configure(app.log)
app.register_blueprint(public)
app.register_blueprint(api)
app.register_blueprint(requests)
app.register_blueprint(embed)
access_log = logging.getLogger("consentry.access")

# The queue's name is fixed at deploy time: `make deploy STAGE=…` exports it from the stage.
MAIL_QUEUE = os.environ.get("CONSENTRY_MAIL_QUEUE", "consentry-dev-mail")
# The SES feedback topic (resources.yaml creates it), named the same way.
FEEDBACK_TOPIC = os.environ.get("CONSENTRY_FEEDBACK_TOPIC", "consentry-dev-ses-feedback")


@app.middleware("http")
def request_log(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """One log line per request: route pattern (never the path: it holds tokens), status, time."""
    context = event.context or {}
    logs.new_request_id(context.get("requestId"))
    baseurl.use(baseurl.from_request(context))
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


# At most this many mail jobs run at once, so the sending rate stays under the SES quota;
# the stage's reserved_concurrency for mail_worker (config.json) is the same number.
MAIL_CONCURRENCY = 2


@app.on_sqs_message(queue=MAIL_QUEUE, batch_size=1, maximum_concurrency=MAIL_CONCURRENCY)
def mail_worker(event: SQSEvent) -> None:
    """Send queued mail. An exception leaves the job for SQS to retry, then dead-letter."""
    from chalicelib.mail import handle_job

    for record in event:
        logs.new_request_id(record.to_dict().get("messageId"))
        handle_job(record.body)


@app.on_sns_message(topic=FEEDBACK_TOPIC)
def ses_feedback(event: SNSEvent) -> None:
    """SES bounces and complaints. An exception makes Lambda retry the message."""
    from chalicelib.feedback import handle_notification

    handle_notification(event.message)
