"""Confirmation and request mail: rendered from templates, built by the email library, sent by SES.

Runs in the queue consumer, never on a visitor's request. A redelivered job sends no
second mail: the ledger marks the signup (or the request) as mailed, and a job for a
mailed or vanished one does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any, cast

from chalicelib import aws, baseurl, catalogue, metrics, tokens, versions
from chalicelib.i18n import ntranslator, translator
from chalicelib.ledger import Busy, PendingMail, RateLimited, RequestMail, get_ledger, iso, utc_now
from chalicelib.pages import environment
from chalicelib.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_sesv2 import SESV2Client

log = logging.getLogger("consentry.mail")


class MailError(RuntimeError):
    """The mail could not be sent now; the queue retries the job."""


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=4)
def _client(region: str) -> SESV2Client:
    return cast("SESV2Client", aws.client("sesv2", region))


def render_confirmation(pending: PendingMail, link: str, pending_days: int, token_days: int) -> RenderedMail:
    """The confirmation mail: the request, the controller, the link. No ads, no pixels.

    In the language of the signup it confirms (the one the person chose on the form) and in
    the look of the form it came from. It greets nobody by name: anyone can type an address
    and a name into a form, and this is the one mail anyone can make us send, so it carries
    nothing they typed (LAW 8)."""
    cat = catalogue.load()
    lang = pending.lang
    _, ngettext = translator(lang), ntranslator(lang)
    controller = cat.controller
    texts = versions.texts_recorded(cat, lang, pending.purposes, pending.texts)
    if pending.form_id == "import":
        request_line = _(
            "%(controller)s would like to mail you, but only if you want it. We received this address"
            " without proof of your consent, so we send you nothing unless you confirm that you"
            " would like to receive:"
        )
    else:
        request_line = _("Someone (hopefully you) signed this address up with %(controller)s for:")
    context: dict[str, Any] = {
        "lang": lang,
        "controller": controller,
        "brand": cat.brand_of(pending.form_id),
        "texts": texts,
        "link": link,
        "subject": _("Confirm your signup with %(controller)s") % {"controller": controller.name},
        "greeting": _greeting(lang, None),
        "request_line": request_line % {"controller": controller.name},
        "expiry_line": _expiry_line(lang, token_days),
        "ignore_line": ngettext(
            "Did not sign up? Then do nothing: without confirmation you receive nothing and the"
            " address is erased after %(days)s day.",
            "Did not sign up? Then do nothing: without confirmation you receive nothing and the"
            " address is erased after %(days)s days.",
            pending_days,
        )
        % {"days": pending_days},
    }
    env = environment(lang)
    text = env.get_template("mail/confirm.txt").render(**context)
    html = env.get_template("mail/confirm.html").render(**context)
    return RenderedMail(context["subject"], text, html)


def _greeting(lang: str, name: str | None) -> str:
    _ = translator(lang)
    return _("Dear %(name)s,") % {"name": name} if name else _("Hello,")


def _expiry_line(lang: str, days: int) -> str:
    ngettext = ntranslator(lang)
    return ngettext("The link is valid for %(days)s day.", "The link is valid for %(days)s days.", days) % {
        "days": days
    }


def build_message(sender: str, recipient: str, mail: RenderedMail) -> EmailMessage:
    """A MIME message built by the standard library: headers are encoded, never joined."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = formataddr(("", recipient))
    message["Subject"] = mail.subject
    domain = sender.rsplit("@", 1)[-1].strip(">")
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


def send(message: EmailMessage, kind: str) -> str:
    """Send through SES; with a configuration set, its bounces and complaints reach the
    feedback topic (see resources.yaml). ``kind`` (confirm, request) names the metric."""
    settings = get_settings()
    extra: dict[str, Any] = {}
    if settings.ses_configuration_set:
        extra["ConfigurationSetName"] = settings.ses_configuration_set
    try:
        answer = _client(settings.region).send_email(
            Content={"Raw": {"Data": message.as_bytes()}},
            **extra,
        )
    except Exception:
        metrics.mail_failed(kind)  # the job fails too: SQS retries it, then dead-letters it
        raise
    metrics.mail_sent(kind)
    return str(answer.get("MessageId", ""))


def _base_url() -> str:
    """Where the mail's links point: the stage's address, or the one the job carries."""
    base_url = baseurl.current()
    if not base_url:
        raise MailError("no CONSENTRY_BASE_URL and no base URL in the job: links cannot be made")
    return base_url


def _send_claimed(message: EmailMessage, kind: str, release: Callable[[], None]) -> str:
    """Send a claimed mail; a failed send gives the claim up, so the queue's retry may send."""
    try:
        return send(message, kind)
    except Exception:
        release()
        raise


def send_confirmation(subject: str, signup_id: str) -> bool:
    """Send one signup's confirmation mail, once. True when a mail left now.

    The signup is claimed first (ledger/claims.py): a second delivery of the same job at
    the same moment raises Busy and sends nothing (the queue delivers it again later)."""
    settings = get_settings()
    base_url = _base_url()
    ledger = get_ledger()
    now = utc_now()
    pending = ledger.claim_confirmation(subject, signup_id, now)
    if pending is None:
        log.info("confirmation skipped", extra={"signup": signup_id, "reason": "done or gone"})
        return False
    sent_at = iso(now)
    # No purposes in the link: confirming grants what the signup holds at that moment.
    token = tokens.sign(
        "confirm",
        {"s": subject, "i": signup_id, "m": sent_at, "f": pending.form_id, "l": pending.lang},
    )
    link = f"{base_url}/confirm/{token}"
    rendered = render_confirmation(pending, link, settings.pending_days, settings.confirm_token_days)
    message = build_message(settings.sender, pending.email, rendered)
    release = partial(ledger.release_confirmation, subject, signup_id, pending.claim)
    message_id = _send_claimed(message, "confirm", release)
    ledger.record_confirmation_sent(
        subject=subject,
        signup_id=signup_id,
        sent_at=sent_at,
        message_id=message_id,
    )
    log.info("confirmation sent", extra={"signup": signup_id})
    return True


def handle_job(body: str) -> None:
    """Run one queue job. A malformed job raises, so the queue moves it to the DLQ."""
    import json

    job = json.loads(body)
    kind = job.get("kind") if isinstance(job, dict) else None
    baseurl.use(job.get("base") if isinstance(job, dict) else None)  # where the signup came in
    if kind == "confirm":
        try:
            send_confirmation(str(job["subject"]), str(job["signup"]))
        except Busy:
            # Another delivery of this job is sending it; the queue delivers this one again.
            log.info("confirmation busy", extra={"signup": job.get("signup")})
            raise
    elif kind == "request" and job.get("type") in ("access", "erasure"):
        mailbox = job.get("mailbox") if isinstance(job.get("mailbox"), str) else None
        send_request_mail(str(job["subject"]), str(job["type"]), str(job["id"]), job.get("lang"), mailbox)
    else:
        raise MailError("unknown job kind")


# -- proof and rights -------------------------------------------------------------------


def render_request(kind: str, person: RequestMail, lang: str, link: str, token_days: int) -> RenderedMail:
    """The request mail: what was asked, the link, what happens if it was not you. No ads."""
    cat = catalogue.load()
    _ = translator(lang)
    controller = cat.controller
    if kind == "erasure":
        subject = _("Your request for erasure at %(controller)s")
        request_line = _(
            "Someone (hopefully you) asked %(controller)s to erase all data it holds about this address."
        )
    else:
        subject = _("Your request for access to your data at %(controller)s")
        request_line = _(
            "Someone (hopefully you) asked for a copy of all data %(controller)s holds about this address."
        )
    context: dict[str, Any] = {
        "lang": lang,
        "controller": controller,
        "brand": cat.brand_of(None),
        "link": link,
        "subject": subject % {"controller": controller.name},
        "greeting": _greeting(lang, person.name),
        "request_line": request_line % {"controller": controller.name},
        "expiry_line": _expiry_line(lang, token_days),
    }
    env = environment(lang)
    text = env.get_template("mail/request.txt").render(**context)
    html = env.get_template("mail/request.html").render(**context)
    return RenderedMail(context["subject"], text, html)


def send_request_mail(
    subject: str, kind: str, request_id: str, lang: str | None, mailbox: str | None = None
) -> bool:
    """Mail an access or erasure link if the subject is known; True when a mail left now.

    An unknown subject gets nothing and nothing is stored: the ledger decides. The mail
    counts towards the address's mail cap (caps.py), charged as the request is opened.
    """
    from chalicelib.caps import mail_caps

    settings = get_settings()
    base_url = _base_url()
    ledger = get_ledger()
    now = utc_now()
    try:
        person = ledger.open_request(
            subject=subject,
            request_id=request_id,
            kind=kind,
            now=now,
            lifetime_seconds=settings.request_token_seconds,
            caps=mail_caps(subject, mailbox),
        )
    except RateLimited:
        log.info("request mail skipped", extra={"kind": kind, "reason": "mail cap"})
        return False
    if person is None:
        log.info("request mail skipped", extra={"kind": kind, "reason": "unknown, open or done"})
        return False
    # The mail goes to the address's owner, in the language they chose when they signed up;
    # whoever filled in the request form may read another. The job's language is the
    # fallback only for a profile that has none.
    cat = catalogue.load()
    fallback = cat.lang_or_default(lang)
    lang = person.lang if person.lang in cat.languages else fallback
    token = tokens.sign("request", {"s": subject, "t": kind, "l": lang})
    link = f"{base_url}/requests/{token}"
    rendered = render_request(kind, person, lang, link, settings.request_token_days)
    message = build_message(settings.sender, person.email, rendered)
    release = partial(ledger.release_request, subject, kind, person.claim)
    message_id = _send_claimed(message, "request", release)
    ledger.record_request_mail_sent(
        subject=subject, kind=kind, request_id=request_id, sent_at=iso(now), message_id=message_id
    )
    log.info("request mail sent", extra={"kind": kind})
    return True
