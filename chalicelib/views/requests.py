"""A person's own requests: access to their data, or its erasure (GDPR art. 15, 17, 20).

``POST /requests`` answers 202 whatever the address; the mail worker sends a link only to
a known one. ``GET /requests/{token}`` shows a button and changes nothing (mail scanners
prefetch links); ``POST`` does it. Views stay thin and import the flows lazily.
"""

from __future__ import annotations

import json
from typing import Any

from chalice import Blueprint, Response

from chalicelib import catalogue
from chalicelib.i18n import MESSAGES, choose_language
from chalicelib.pages import page, security_headers
from chalicelib.web import FORM, JSON, BadRequest, read_body, wants_json

requests = Blueprint(__name__)

DEFAULT_LANG = "nl"


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=json.dumps(body),
        status_code=status,
        headers={"Content-Type": "application/json", "X-Content-Type-Options": "nosniff", **(headers or {})},
    )


def _lang() -> str:
    request = requests.current_request
    query = request.query_params or {}
    return choose_language(
        query.get("lang"), request.headers.get("accept-language"), catalogue.LANGUAGES, DEFAULT_LANG
    )


def _form(
    lang: str, *, status: int = 200, values: dict[str, Any] | None = None, errors: Any = None
) -> Response:
    return page(
        "requests.html",
        lang,
        status=status,
        controller=catalogue.load().controller,
        values=values or {},
        errors=errors or {},
    )


@requests.route("/requests", methods=["GET"])
def show_request_form() -> Response:
    return _form(_lang())


@requests.route("/requests", methods=["POST"], content_types=[FORM, JSON])
def submit_request() -> Response:
    from chalicelib import rights
    from chalicelib.settings import get_settings

    request = requests.current_request
    as_json = wants_json(request)
    lang = _lang()
    try:
        data = read_body(request)
    except BadRequest as exc:
        if as_json:
            return _json(exc.status, {"errors": {exc.field: exc.message}})
        return page(
            "message.html",
            lang,
            status=exc.status,
            controller=catalogue.load().controller,
            title=str(exc.status),
            paragraphs=[exc.message],
        )
    if isinstance(data.get("lang"), str) and data["lang"] in catalogue.LANGUAGES:
        lang = data["lang"]
    outcome = rights.submit(data, lang)
    if not outcome.accepted:
        if as_json:
            return _json(422, {"errors": outcome.errors})
        return _form(lang, status=422, values=outcome.values, errors=outcome.errors)
    # The same answer for a known and an unknown address: nothing tells them apart.
    if as_json:
        return _json(202, {"status": "accepted"})
    t = MESSAGES[lang]
    return page(
        "message.html",
        lang,
        status=202,
        controller=catalogue.load().controller,
        title=t["request_received_title"],
        paragraphs=[t["request_received"].format(days=get_settings().request_token_days)],
    )


def _link_error(exc: Exception) -> Response:
    """One uniform 400 for tampered or foreign links; 410 for a genuine expired one."""
    from chalicelib.tokens import TokenExpired

    cat = catalogue.load()
    if isinstance(exc, TokenExpired):
        lang = exc.payload.get("l") if exc.payload.get("l") in catalogue.LANGUAGES else DEFAULT_LANG
        t = MESSAGES[lang]
        return page(
            "message.html",
            lang,
            status=410,
            link_page=True,
            controller=cat.controller,
            title=t["expired_title"],
            paragraphs=[t["request_expired"]],
            link={"href": f"../requests?lang={lang}", "text": t["request_new_link"]},
        )
    t, te = MESSAGES["nl"], MESSAGES["en"]
    return page(
        "message.html",
        "nl",
        status=400,
        link_page=True,
        controller=cat.controller,
        title=f"{t['invalid_title']} / {te['invalid_title']}",
        paragraphs=[t["invalid"], te["invalid"]],
    )


@requests.route("/requests/{token}", methods=["GET"])
def show_request(token: str) -> Response:
    """A page with a button; a GET never exports or erases."""
    from chalicelib.rights import read_request_token
    from chalicelib.tokens import TokenError

    try:
        link = read_request_token(token)
    except TokenError as exc:
        return _link_error(exc)
    t = MESSAGES[link.lang]
    paragraphs = [t[f"request_{link.type}_intro"]]
    if link.type == "erasure":
        paragraphs.append(t["request_erasure_marker"])
    return page(
        "request.html",
        link.lang,
        link_page=True,
        controller=catalogue.load().controller,
        title=t[f"request_{link.type}_title"],
        paragraphs=paragraphs,
        button=t[f"request_{link.type}_button"],
    )


@requests.route("/requests/{token}", methods=["POST"], content_types=[FORM, JSON, "text/plain"])
def do_request(token: str) -> Response:
    from chalicelib import rights
    from chalicelib.tokens import TokenError
    from chalicelib.web import evidence

    request = requests.current_request
    try:
        link = rights.read_request_token(token)
    except TokenError as exc:
        return _link_error(exc)
    cat = catalogue.load()
    t = MESSAGES[link.lang]
    if link.type == "erasure":
        rights.erase(link.subject, "request_link")
        return page(
            "message.html",
            link.lang,
            link_page=True,
            controller=cat.controller,
            title=t["erased_title"],
            paragraphs=[t["erased"]],
        )
    data = rights.export(link.subject, evidence(request, "request_link"))
    if data is None:
        return page(
            "message.html",
            link.lang,
            link_page=True,
            controller=cat.controller,
            title=t["nothing_held_title"],
            paragraphs=[t["nothing_held"]],
        )
    headers = security_headers(link_page=True)
    headers.update(
        {
            "Content-Type": "application/json; charset=utf-8",
            "Content-Disposition": 'attachment; filename="consentry-export.json"',
        }
    )
    return Response(body=json.dumps(data, ensure_ascii=False, indent=2), status_code=200, headers=headers)
