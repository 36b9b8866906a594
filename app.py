"""Consentry: registers the blueprints, the mail queue consumer and the SES feedback handler."""

from __future__ import annotations

import os

from chalice import Chalice
from chalice.app import SNSEvent, SQSEvent

from chalicelib.views.api import api
from chalicelib.views.public import public

app = Chalice(app_name="consentry")
app.register_blueprint(public)
app.register_blueprint(api)

# The queue's name is fixed at deploy time: `make deploy STAGE=…` exports it from the stage.
MAIL_QUEUE = os.environ.get("CONSENTRY_MAIL_QUEUE", "consentry-dev-mail")
# The SES feedback topic (resources.yaml creates it), named the same way.
FEEDBACK_TOPIC = os.environ.get("CONSENTRY_FEEDBACK_TOPIC", "consentry-dev-ses-feedback")


@app.on_sqs_message(queue=MAIL_QUEUE, batch_size=1)
def mail_worker(event: SQSEvent) -> None:
    """Send queued mail. An exception leaves the job for SQS to retry, then dead-letter."""
    from chalicelib.mail import handle_job

    for record in event:
        handle_job(record.body)


@app.on_sns_message(topic=FEEDBACK_TOPIC)
def ses_feedback(event: SNSEvent) -> None:
    """SES bounces and complaints. An exception makes Lambda retry the message."""
    from chalicelib.feedback import handle_notification

    handle_notification(event.message)
