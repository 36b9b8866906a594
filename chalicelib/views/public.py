"""What visitors see: signup forms and confirmation links.

Views stay thin and import the flows lazily: a cold ``GET /forms/{id}`` pays for the
catalogue and Jinja2, not for boto3 or pydantic.
"""

from __future__ import annotations

import json
from typing import Any

from chalice import Blueprint, Response

from chalicelib import catalogue
from chalicelib.i18n import MESSAGES, choose_language
from chalicelib.pages import page
from chalicelib.web import FORM, JSON, BadRequest, origin_allowed, read_body, wants_json

public = Blueprint(__name__)


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=json.dumps(body),
        status_code=status,
        headers={"Content-Type": "application/json", "X-Content-Type-Options": "nosniff", **(headers or {})},
    )


def _not_found(lang: str) -> Response:
    cat = catalogue.load()
    t = MESSAGES[lang]
    return page(
        "message.html",
        lang,
        status=404,
        controller=cat.controller,
        title=t["not_found_title"],
        paragraphs=[t["not_found"]],
    )


def _form_lang(form: catalogue.Form) -> str:
    request = public.current_request
    query = request.query_params or {}
    return choose_language(
        query.get("lang"), request.headers.get("accept-language"), form.languages, form.default_lang
    )


@public.route("/forms/{form_id}", methods=["GET"])
def show_form(form_id: str) -> Response:
    cat = catalogue.load()
    form = cat.form(form_id)
    if form is None:
        return _not_found("nl")
    lang = _form_lang(form)
    return page(
        "form.html",
        lang,
        controller=cat.controller,
        texts=cat.texts_for(form, lang),
        values={"purposes": []},
        errors={},
        frame_ancestors=form.frame_ancestors,
    )


@public.route("/forms/{form_id}", methods=["POST"], content_types=[FORM, JSON])
def submit_form(form_id: str) -> Response:
    from chalicelib import signups
    from chalicelib.settings import get_settings
    from chalicelib.web import evidence

    request = public.current_request
    cat = catalogue.load()
    form = cat.form(form_id)
    as_json = wants_json(request)
    if form is None:
        return _json(404, {"error": "unknown form"}) if as_json else _not_found("nl")
    lang = _form_lang(form)
    if not origin_allowed(request, form.allowed_origins, get_settings().base_url):
        return (
            _json(403, {"error": "origin not allowed for this form"})
            if as_json
            else page(
                "message.html",
                lang,
                status=403,
                controller=cat.controller,
                title="403",
                paragraphs=["Origin not allowed."],
            )
        )
    try:
        data = read_body(request, repeated=("purposes",))
    except BadRequest as exc:
        if as_json:
            return _json(exc.status, {"errors": {exc.field: exc.message}})
        return page(
            "message.html",
            lang,
            status=exc.status,
            controller=cat.controller,
            title=str(exc.status),
            paragraphs=[exc.message],
        )
    if isinstance(data.get("lang"), str) and data["lang"] in form.languages:
        lang = data["lang"]
    outcome = signups.submit(form, data, lang, evidence(request, f"form:{form.id}"))
    if outcome.throttled:
        t = MESSAGES[lang]
        if as_json:
            return _json(429, {"error": "too many signups from this network"}, {"Retry-After": "3600"})
        return page(
            "message.html",
            lang,
            status=429,
            controller=cat.controller,
            title=t["throttled_title"],
            paragraphs=[t["throttled"]],
        )
    if not outcome.accepted:
        if as_json:
            return _json(422, {"errors": outcome.errors})
        return page(
            "form.html",
            lang,
            status=422,
            controller=cat.controller,
            texts=cat.texts_for(form, lang),
            values=outcome.values,
            errors=outcome.errors,
            frame_ancestors=form.frame_ancestors,
        )
    if as_json:
        return _json(202, {"status": "pending"})
    if form.thank_you_url:
        return Response(body="", status_code=303, headers={"Location": form.thank_you_url})
    t = MESSAGES[lang]
    return page(
        "message.html",
        lang,
        controller=cat.controller,
        title=t["check_inbox_title"],
        paragraphs=[t["check_inbox"]],
        frame_ancestors=form.frame_ancestors,
    )


def _link_error(exc: Exception) -> Response:
    """One uniform 400 for tampered or foreign links; 410 for a genuine expired one."""
    from chalicelib.tokens import TokenExpired

    cat = catalogue.load()
    if isinstance(exc, TokenExpired):
        lang = exc.payload.get("l") if exc.payload.get("l") in catalogue.LANGUAGES else "nl"
        form_id = exc.payload.get("f")
        t = MESSAGES[lang]
        link = None
        if isinstance(form_id, str) and cat.form(form_id):
            link = {"href": f"../forms/{form_id}?lang={lang}", "text": t["new_link"]}
        return page(
            "message.html",
            lang,
            status=410,
            link_page=True,
            controller=cat.controller,
            title=t["expired_title"],
            paragraphs=[t["expired"]],
            link=link,
        )
    t = MESSAGES["nl"]
    te = MESSAGES["en"]
    return page(
        "message.html",
        "nl",
        status=400,
        link_page=True,
        controller=cat.controller,
        title=f"{t['invalid_title']} / {te['invalid_title']}",
        paragraphs=[t["invalid"], te["invalid"]],
    )


@public.route("/confirm/{token}", methods=["GET"])
def show_confirm(token: str) -> Response:
    """A page with a button; a GET never confirms (mail scanners prefetch links)."""
    from chalicelib.signups import read_confirm_token
    from chalicelib.tokens import TokenError

    try:
        link = read_confirm_token(token)
    except TokenError as exc:
        return _link_error(exc)
    cat = catalogue.load()
    texts = [cat.purposes[p].consent_text(link.lang) for p in link.purposes if p in cat.purposes]
    return page("confirm.html", link.lang, link_page=True, controller=cat.controller, texts=texts)


@public.route("/confirm/{token}", methods=["POST"], content_types=[FORM, JSON, "text/plain"])
def do_confirm(token: str) -> Response:
    from chalicelib import signups
    from chalicelib.tokens import TokenError
    from chalicelib.web import evidence

    request = public.current_request
    try:
        link = signups.read_confirm_token(token)
    except TokenError as exc:
        return _link_error(exc)
    try:
        granted = signups.confirm(link, evidence(request, "confirm_link"))
    except signups.SignupGone:
        from chalicelib.tokens import TokenExpired

        return _link_error(TokenExpired({"l": link.lang, "f": link.form_id}))
    cat = catalogue.load()
    t = MESSAGES[link.lang]
    return page(
        "message.html",
        link.lang,
        link_page=True,
        controller=cat.controller,
        title=t["confirmed_title"],
        paragraphs=[t["confirmed"] if granted else t["already_confirmed"], t["right_to_object"]],
    )
