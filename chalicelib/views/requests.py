"""A person's own requests: access to their data, or its erasure (GDPR art. 15, 17, 20).

``POST /requests`` answers 202 whatever the address; the mail worker sends a link only to
a known one. ``GET /requests/{token}`` shows a button and changes nothing (mail scanners
prefetch links); ``POST`` does it. Views stay thin and import the flows lazily.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chalice import Blueprint, Response

from chalicelib import catalogue
from chalicelib.i18n import LANGUAGE_NAMES, choose_language, field_messages, ntranslator, translator
from chalicelib.pages import invalid_link_page, not_sent_page, page, security_headers
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
    other = next(lang_ for lang_ in catalogue.LANGUAGES if lang_ != lang)
    return page(
        "requests.html",
        lang,
        status=status,
        controller=catalogue.load().controller,
        values=values or {},
        errors=field_messages(errors or {}, lang),
        switch={"href": f"?lang={other}", "lang": other, "text": LANGUAGE_NAMES[other]},
    )


@requests.route("/requests", methods=["GET"])
def show_request_form() -> Response:
    return _form(_lang())


def _sites() -> tuple[str, ...]:
    """Besides the service itself, the organisation's own sites (every form's listed
    origins) may post a request: a privacy page may carry the request form."""
    return tuple(sorted({o for form in catalogue.load().forms.values() for o in form.allowed_origins}))


@requests.route("/requests", methods=["POST"], content_types=[FORM, JSON])
def submit_request() -> Response:
    from chalicelib import rights
    from chalicelib.settings import get_settings
    from chalicelib.web import evidence, origin_allowed

    request = requests.current_request
    as_json = wants_json(request)
    lang = _lang()
    if not origin_allowed(request, _sites(), get_settings().base_url):
        return _json(403, {"error": "origin not allowed"}) if as_json else not_sent_page(lang, 403)
    try:
        data = read_body(request)
    except BadRequest as exc:
        if as_json:
            return _json(exc.status, {"errors": {exc.field: exc.message}})
        return not_sent_page(lang, exc.status)
    if isinstance(data.get("lang"), str) and data["lang"] in catalogue.LANGUAGES:
        lang = data["lang"]
    outcome = rights.submit(data, lang, evidence(request, "request").ip)
    if outcome.throttled:
        if as_json:
            return _json(429, {"error": "too many requests from this network"}, {"Retry-After": "3600"})
        _ = translator(lang)
        return page(
            "message.html",
            lang,
            status=429,
            controller=catalogue.load().controller,
            title=_("Please wait"),
            paragraphs=[_("Too many requests are coming from this network. Please try again in an hour.")],
        )
    if not outcome.accepted:
        if as_json:
            return _json(422, {"errors": outcome.errors})
        return _form(lang, status=422, values=outcome.values, errors=outcome.errors)
    # The same answer for a known and an unknown address: nothing tells them apart.
    if as_json:
        return _json(202, {"status": "accepted"})
    _, ngettext = translator(lang), ntranslator(lang)
    days = get_settings().request_token_days
    return page(
        "message.html",
        lang,
        status=202,
        controller=catalogue.load().controller,
        title=_("Request received"),
        paragraphs=[
            ngettext(
                "If we hold data about this address, you will shortly receive a mail with a link."
                " The link is valid for %(days)s day. Got such a link before? It keeps working.",
                "If we hold data about this address, you will shortly receive a mail with a link."
                " The link is valid for %(days)s days. Got such a link before? It keeps working.",
                days,
            )
            % {"days": days}
        ],
    )


def _no_more_mail(_: Callable[[str], str]) -> str:
    """What the erasure pages promise. LAW 22, 26: the marker keeps the address out of imports
    and soft opt-ins, but a new signup is fresh consent and gets its confirmation mail."""
    return _(
        "You will receive no more mail from us, unless someone signs this address up again:"
        " then we ask by mail to confirm that signup, and without confirmation nothing"
        " follows."
    )


def _link_error(exc: Exception) -> Response:
    """One uniform 400 for tampered or foreign links; 410 for a genuine expired one."""
    from chalicelib.tokens import TokenExpired

    cat = catalogue.load()
    if isinstance(exc, TokenExpired):
        lang = exc.payload.get("l") if exc.payload.get("l") in catalogue.LANGUAGES else DEFAULT_LANG
        _ = translator(lang)
        return page(
            "message.html",
            lang,
            status=410,
            link_page=True,
            controller=cat.controller,
            title=_("This link has expired"),
            paragraphs=[_("This link is no longer valid. Make a new request to get a new link.")],
            link={"href": f"../requests?lang={lang}", "text": _("New request")},
        )
    return invalid_link_page()


@requests.route("/requests/{token}", methods=["GET"])
def show_request(token: str) -> Response:
    """A page with a button; a GET never exports or erases."""
    from chalicelib.rights import read_request_token
    from chalicelib.tokens import TokenError

    try:
        link = read_request_token(token)
    except TokenError as exc:
        return _link_error(exc)
    _ = translator(link.lang)
    if link.type == "erasure":
        title, button = _("Erase your data"), _("Erase my data")
        paragraphs = [
            _(
                "The button erases all your data: your address, your name, your choices and their"
                " history. This cannot be undone."
            ),
            _no_more_mail(_),
            _(
                "We keep only an unreadable code (a keyed hash, no address) so that your address does"
                " not come back through an imported list. If you later sign up again yourself and"
                " confirm, that code is removed."
            ),
        ]
    else:
        title, button = _("Download your data"), _("Download my data")
        paragraphs = [
            _(
                "The button downloads all data we hold about you as a JSON file: your address, your"
                " choices per purpose, your objection to profiling, and the whole history with the"
                " exact texts you agreed to."
            )
        ]
    return page(
        "request.html",
        link.lang,
        link_page=True,
        controller=catalogue.load().controller,
        title=title,
        paragraphs=paragraphs,
        button=button,
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
    try:
        read_body(request)  # the button's form says nothing, but every body keeps the limits
    except BadRequest as exc:
        if wants_json(request):
            return _json(exc.status, {"errors": {exc.field: exc.message}})
        return not_sent_page(link.lang, exc.status, link_page=True)
    cat = catalogue.load()
    _ = translator(link.lang)
    if link.type == "erasure":
        rights.erase(link.subject, "request_link")
        return page(
            "message.html",
            link.lang,
            link_page=True,
            controller=cat.controller,
            title=_("Your data is erased"),
            paragraphs=[
                _("We have erased all your data."),
                _no_more_mail(_),
            ],
        )
    data = rights.export(link.subject, evidence(request, "request_link"))
    if data is None:
        return page(
            "message.html",
            link.lang,
            link_page=True,
            controller=cat.controller,
            title=_("No data"),
            paragraphs=[_("We hold no data about this address (any more).")],
        )
    headers = security_headers(link_page=True)
    headers.update(
        {
            "Content-Type": "application/json; charset=utf-8",
            "Content-Disposition": 'attachment; filename="consentry-export.json"',
        }
    )
    return Response(body=json.dumps(data, ensure_ascii=False, indent=2), status_code=200, headers=headers)
