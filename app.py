"""Consentry: registers the blueprints and the mail queue consumer, nothing else."""

from __future__ import annotations

import os

from chalice import Chalice
from chalice.app import SQSEvent

from chalicelib.views.api import api
from chalicelib.views.public import public

app = Chalice(app_name="consentry")
app.register_blueprint(public)
app.register_blueprint(api)

# The queue's name is fixed at deploy time: `make deploy STAGE=…` exports it from the stage.
MAIL_QUEUE = os.environ.get("CONSENTRY_MAIL_QUEUE", "consentry-dev-mail")
# At most this many mail jobs run at once, so the sending rate stays under the SES quota;
# the stage's reserved_concurrency for mail_worker (config.json) is the same number.
MAIL_CONCURRENCY = 2


@app.on_sqs_message(queue=MAIL_QUEUE, batch_size=1, maximum_concurrency=MAIL_CONCURRENCY)
def mail_worker(event: SQSEvent) -> None:
    """Send queued mail. An exception leaves the job for SQS to retry, then dead-letter."""
    from chalicelib.mail import handle_job

    for record in event:
        handle_job(record.body)
