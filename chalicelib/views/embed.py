"""Embedding a signup form in another site by script: the script itself, and what it shows.

``GET /embed.js`` is a small dependency-free script; placed on a listed site, it fetches
``GET /forms/{form_id}/embed`` (the form's purposes with the catalogue's exact consent
texts, the wording in the visitor's language) and renders the form in the host page; it
signs up by ``POST /forms/{form_id}`` with a JSON body (CORS for the form's listed origins,
see views/public.py). The consent text a visitor reads there is the catalogue's, word for
word, because the ledger records the catalogue's text as the one shown.

Like the form page, these cost no AWS call and import neither boto3 nor pydantic.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from chalice import Blueprint, Response

from chalicelib import catalogue
from chalicelib.i18n import choose_language, translator
from chalicelib.web import cors_headers, query_of

embed = Blueprint(__name__)

SCRIPT = Path(__file__).resolve().parent.parent / "static" / "embed.js"


@lru_cache(maxsize=1)
def _script() -> str:
    return SCRIPT.read_text(encoding="utf-8")


@embed.route("/embed.js", methods=["GET"])
def script() -> Response:
    return Response(
        body=_script(),
        status_code=200,
        headers={
            "Content-Type": "text/javascript; charset=utf-8",
            "Cache-Control": "public, max-age=300",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=json.dumps(body, ensure_ascii=False),
        status_code=status,
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "X-Content-Type-Options": "nosniff",
            **(headers or {}),
        },
    )


@embed.route("/forms/{form_id}/embed", methods=["GET"])
def form_for_script(form_id: str) -> Response:
    """The form as data for embed.js: CORS for the form's listed origins only; a present,
    unlisted Origin gets 403, as a signup from it would."""
    request = embed.current_request
    cat = catalogue.load()
    form = cat.form(form_id)
    vary = {"Vary": "Origin, Accept-Language"}
    if form is None:
        return _json(404, {"error": "unknown form"}, vary)
    cors = cors_headers(request, form.allowed_origins)
    if request.headers.get("origin") is not None and not cors:
        return _json(403, {"error": "origin not allowed for this form"}, vary)
    query = query_of(request)
    lang = choose_language(
        query.get("lang"), request.headers.get("accept-language"), form.languages, form.default_lang
    )
    _ = translator(lang)
    controller = cat.controller
    body = {
        "form": form.id,
        "lang": lang,
        "controller": {
            "name": controller.name,
            "address": controller.address,
            "privacy_url": controller.privacy_url,
        },
        "purposes": [{"id": text.purpose, "text": text.text} for text in cat.texts_for(form, lang)],
        "texts": {
            "controller": _("Controller"),
            "email": _("Email address"),
            "email_hint": _("Required. Only your email address is needed."),
            "name": _("Name (optional)"),
            "purposes": _("What do you consent to?"),
            "withdraw": _(
                "You can withdraw your consent at any time, with one click at the bottom of every mail"
                " or through the link in the confirmation mail."
            ),
            "privacy_before": _("How we handle your data:"),
            "privacy_link": _("Read our privacy notice"),
            "submit": _("Sign up"),
            "sending": _("Sending…"),
            "errors": _("Please check the marked fields."),
            "invalid": _("This field is not valid."),
            "done_title": _("Check your inbox"),
            "done": _(
                "If the address is right, you will shortly receive a mail with a confirmation link."
                " We send you nothing else until you confirm."
            ),
            "throttled": _("Too many signups are coming from this network. Please try again in an hour."),
            "failed": _("Your signup could not be sent. Please check your connection and try again."),
        },
    }
    return _json(200, body, {**cors, **vary, "Cache-Control": "public, max-age=60"})
