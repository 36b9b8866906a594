"""Consentry: registers the blueprints, the request middleware, the mail queue consumer,
the SES feedback handler and the stream handler that pushes consent changes; nothing else."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable

from chalice import Chalice, Rate, Response
from chalice.app import CloudWatchEvent, DynamoDBEvent, Request, SNSEvent, SQSEvent

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


def _guard_views() -> None:
    """One error boundary for every route (chalicelib/views/answers.py): what a flow refuses
    becomes its status, JSON or page there; a ledger that could not finish answers 503 with
    Retry-After, never Chalice's JSON 500."""
    from chalicelib.views.answers import guard

    for methods in app.routes.values():
        for entry in methods.values():
            entry.view_function = guard(entry.view_function, lambda: app.current_request)


_guard_views()

if "chalice.cli" in sys.modules:  # the chalice command line, never Lambda: see the module
    from scripts.deploy_guard import check as refuse_plain_chalice_deploy

    refuse_plain_chalice_deploy()

# The queues' names are fixed at deploy time: `make deploy STAGE=…` exports them from the
# stage. Confirmation mails of form signups have a queue of their own (chalicelib/jobs.py).
MAIL_QUEUE = os.environ.get("CONSENTRY_MAIL_QUEUE", "consentry-dev-mail")
CONFIRM_QUEUE = os.environ.get("CONSENTRY_CONFIRM_QUEUE", "consentry-dev-confirm")
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


@app.middleware("http")
def security_headers(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Every answer carries the security headers, Chalice's own 405, 415 and 500 included;
    HSTS where the stage is served over HTTPS (its base URL; API Gateway serves only HTTPS)."""
    from chalicelib.web import secure

    response = get_response(event)
    base_url = baseurl.current() or ""  # the stage's, else the one API Gateway reported
    secure(response.headers, https=base_url.startswith("https://"))
    return response


# At most this many mail jobs run at once per queue (2 is the least an SQS event source
# allows), so the sending rate stays under the SES quota; each worker's reserved_concurrency
# (config.json) is the same number.
MAIL_CONCURRENCY = 2


def _send_queued(event: SQSEvent) -> None:
    """Send queued mail. An exception leaves the job for SQS to retry, then dead-letter."""
    from chalicelib.mail import handle_job

    for record in event:
        logs.new_request_id(record.to_dict().get("messageId"))
        handle_job(record.body)


@app.on_sqs_message(queue=MAIL_QUEUE, batch_size=1, maximum_concurrency=MAIL_CONCURRENCY)
def mail_worker(event: SQSEvent) -> None:
    """Access and erasure links, an import's confirmation mails."""
    _send_queued(event)


@app.on_sqs_message(queue=CONFIRM_QUEUE, batch_size=1, maximum_concurrency=MAIL_CONCURRENCY)
def confirm_worker(event: SQSEvent) -> None:
    """Confirmation mails of form signups: never behind a flood of other mail."""
    _send_queued(event)


@app.on_sns_message(topic=FEEDBACK_TOPIC)
def ses_feedback(event: SNSEvent) -> None:
    """SES bounces and complaints. An exception makes Lambda retry the message."""
    from chalicelib.feedback import handle_notification

    handle_notification(event.message)


# -- issue 14: consent changes pushed to the stage's event bus --------------------------------
# A stream's ARN ends in a label DynamoDB chose when it made the stream: `make deploy` exports
# the stack's TableStreamArn (scripts/deploy.py); the default only lets the app be imported.
TABLE_STREAM = os.environ.get(
    "CONSENTRY_TABLE_STREAM_ARN",
    "arn:aws:dynamodb:eu-west-1:111122223333:table/consentry-dev/stream/1970-01-01T00:00:00.000",
)


@app.on_dynamodb_record(
    stream_arn=TABLE_STREAM,
    batch_size=100,
    starting_position="TRIM_HORIZON",
    maximum_batching_window_in_seconds=1,
)
def push_changes(event: DynamoDBEvent) -> None:
    """Every consent change, to the stage's bus (chalicelib/push.py). An exception makes
    Lambda deliver the whole batch again: at least once; the events' ids de-duplicate."""
    from chalicelib.push import push

    logs.new_request_id(getattr(event.context, "aws_request_id", None))
    push(event.to_dict()["Records"])


@app.schedule(Rate(1, unit=Rate.HOURS), name="sign_digest")
def sign_digest(event: CloudWatchEvent) -> None:
    """Sign the Merkle root of the chain heads changed this hour (issue 14). The only
    function whose role may use the signing key (.chalice/policy-<stage>-digest.json)."""
    from chalicelib.evidence import sign_digest as sign
    from chalicelib.ledger import utc_now

    sign(utc_now())
