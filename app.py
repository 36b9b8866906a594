"""Consentry: registers the blueprints and the mail queue consumer, nothing else."""

from __future__ import annotations

import os

from chalice import Chalice
from chalice.app import SQSEvent

from chalicelib.views.api import api
from chalicelib.views.public import public
from chalicelib.views.requests import requests

app = Chalice(app_name="consentry")
app.register_blueprint(public)
app.register_blueprint(api)
app.register_blueprint(requests)

# The queue's name is fixed at deploy time: `make deploy STAGE=…` exports it from the stage.
MAIL_QUEUE = os.environ.get("CONSENTRY_MAIL_QUEUE", "consentry-dev-mail")


@app.on_sqs_message(queue=MAIL_QUEUE, batch_size=1)
def mail_worker(event: SQSEvent) -> None:
    """Send queued mail. An exception leaves the job for SQS to retry, then dead-letter."""
    from chalicelib.mail import handle_job

    for record in event:
        handle_job(record.body)
