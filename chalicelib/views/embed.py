"""Embedding a signup form in another site by script, and the files the pages use.

``GET /embed.js`` is a small dependency-free script; placed on a listed site, it fetches
``GET /forms/{form_id}/embed`` (the form's purposes with the catalogue's exact consent
texts and their version, the form's own words and colour, the wording in the visitor's
language, and the bot defences the form asks for) and renders the form in the host page;
it signs up by ``POST /forms/{form_id}`` with a JSON body (CORS for the form's listed
origins, see views/public.py) that names the version it showed, so the ledger records the
text the visitor read.

``GET /brand/{file}`` serves a logo the catalogue lists, from the package: pages show it
with ``img-src 'self'``, so no page asks a third party for anything.

Like the form page, these cost no AWS call and import neither boto3 nor pydantic (a form
with a render time pays for signing it, as its page does).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from chalice import Blueprint, Response

from chalicelib import brand, catalogue, versions
from chalicelib.i18n import choose_language, translator
from chalicelib.views.answers import json_answer
from chalicelib.web import cors_headers, query_of

embed = Blueprint(__name__)

SCRIPT = Path(__file__).resolve().parent.parent / "static" / "embed.js"


@lru_cache(maxsize=1)
def _script() -> str:
    return SCRIPT.read_text(encoding="utf-8")


@embed.route("/brand/{name}", methods=["GET"])
def logo(name: str) -> Response:
    """A logo the catalogue lists (checked when it loaded: an SVG that fetches nothing)."""
    cat = catalogue.load()
    listed = {look.logo for look in (cat.brand, *(f.brand for f in cat.forms.values())) if look and look.logo}
    if name not in listed:
        return Response(
            body="not found",
            status_code=404,
            headers={"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"},
        )
    return Response(
        body=brand.logo_svg(name),
        status_code=200,
        headers={
            "Content-Type": "image/svg+xml; charset=utf-8",
            "Cache-Control": "public, max-age=86400",
            "X-Content-Type-Options": "nosniff",
            # Opened on its own, the image may not run or load anything either.
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
        },
    )


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


@embed.route("/forms/{form_id}/embed", methods=["GET"])
def form_for_script(form_id: str) -> Response:
    """The form as data for embed.js: CORS for the form's listed origins only; a present,
    unlisted Origin gets 403, as a signup from it would."""
    request = embed.current_request
    cat = catalogue.load()
    form = cat.form(form_id)
    vary = {"Vary": "Origin, Accept-Language"}
    if form is None:
        return json_answer(404, {"error": "unknown form"}, vary)
    cors = cors_headers(request, form.allowed_origins)
    if request.headers.get("origin") is not None and not cors:
        return json_answer(403, {"error": "origin not allowed for this form"}, vary)
    query = query_of(request)
    lang = choose_language(
        query.get("lang"), request.headers.get("accept-language"), form.languages, form.default_lang
    )
    _ = translator(lang)
    controller = cat.controller
    shown = versions.current(cat, form, lang)
    wording = form.wording(lang)
    look = cat.brand_of(form)
    body: dict[str, Any] = {
        "form": form.id,
        "lang": lang,
        "version": shown.version,
        "brand": {"name": look.name, "accent": look.accent, "button_text": look.button_text},
        "controller": {
            "name": controller.name,
            "address": controller.address,
            "privacy_url": controller.privacy_url,
        },
        "purposes": [{"id": text.purpose, "text": text.text} for text in shown.texts],
        "texts": {
            "heading": wording.heading or _("Sign up"),
            "intro": wording.intro
            or _("Choose what you would like to receive from us. Nothing is ticked in advance."),
            "thank_you": wording.thank_you or "",
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
            "submit": wording.button or _("Sign up"),
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
    caching = "public, max-age=60"
    if form.min_fill_seconds > 0:
        # The signed render time, as the form page carries it: a post faster than a person
        # could fill in the form is dropped. Signed now, so this answer is not cached.
        from chalicelib.bots import RENDER_FIELD, render_stamp

        body["stamp"] = {"field": RENDER_FIELD, "value": render_stamp(form)}
        caching = "no-store"
    if form.challenge:
        _host, script_url, answer_field, _verify = catalogue.CHALLENGES[form.challenge]
        body["challenge"] = {
            "kind": form.challenge,
            "script": script_url,
            "site_key": form.challenge_site_key,
            "field": answer_field,
        }
    return json_answer(200, body, {**cors, **vary, "Cache-Control": caching})
