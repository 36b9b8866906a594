"""A person's own requests: access to their data, or its erasure (GDPR art. 15, 17, 20).

``POST /requests`` answers 202 whatever the address; the mail worker sends a link only to
a known one. ``GET /requests/{token}`` shows a button and changes nothing (mail scanners
prefetch links); ``POST`` does it. Views stay thin and import the flows lazily.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice import Blueprint, Response

from chalicelib import catalogue
from chalicelib.i18n import field_messages, language_name, ntranslator, translator
from chalicelib.pages import page
from chalicelib.views.answers import json_answer, json_download, message, scene, set_scene
from chalicelib.web import FORM, JSON, read_body, wants_json

requests = Blueprint(__name__)


def _form(
    lang: str, *, status: int = 200, values: dict[str, Any] | None = None, errors: Any = None
) -> Response:
    cat = catalogue.load()
    return page(
        "requests.html",
        lang,
        status=status,
        values=values or {},
        errors=field_messages(errors or {}, lang),
        switch=[
            {"href": f"?lang={other}", "lang": other, "text": language_name(other)}
            for other in cat.languages
            if other != lang
        ],
        root="",  # this page is /requests: one level up from the others
    )


@requests.route("/requests", methods=["GET"])
def show_request_form() -> Response:
    return _form(scene().language())


def _sites() -> tuple[str, ...]:
    """Besides the service itself, the organisation's own sites (every form's listed
    origins) may post a request: a privacy page may carry the request form."""
    return tuple(sorted({o for form in catalogue.load().forms.values() for o in form.allowed_origins}))


@requests.route("/requests", methods=["POST"], content_types=[FORM, JSON])
def submit_request() -> Response:
    from chalicelib import rights
    from chalicelib.refusals import Invalid
    from chalicelib.settings import get_settings
    from chalicelib.web import OriginRefused, evidence, origin_allowed

    request = requests.current_request
    lang = scene().language()
    set_scene(lang=lang, root="")  # this page is /requests: one level up from the others
    if not origin_allowed(request, _sites(), get_settings().base_url):
        raise OriginRefused("origin not allowed")
    data = read_body(request)
    if isinstance(data.get("lang"), str) and data["lang"] in catalogue.load().languages:
        lang = data["lang"]
        set_scene(lang=lang)
    try:
        rights.submit(data, lang, evidence(request, "request").ip)
    except Invalid as exc:
        if wants_json(request):
            raise
        return _form(lang, status=422, values=exc.values, errors=exc.errors)
    # The same answer for a known and an unknown address: nothing tells them apart.
    if wants_json(request):
        return json_answer(202, {"status": "accepted"})
    _, ngettext = translator(lang), ntranslator(lang)
    days = get_settings().request_token_days
    return message(
        lang,
        status=202,
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
        root="",
    )


def _no_more_mail(_: Callable[[str], str]) -> str:
    """What the erasure pages promise. LAW 22, 26: the marker keeps the address out of imports
    and soft opt-ins, but a new signup is fresh consent and gets its confirmation mail."""
    return _(
        "You will receive no more mail from us, unless someone signs this address up again:"
        " then we ask by mail to confirm that signup, and without confirmation nothing"
        " follows."
    )


@requests.route("/requests/{token}", methods=["GET"])
def show_request(token: str) -> Response:
    """A page with a button; a GET never exports or erases."""
    from chalicelib.rights import read_request_token

    set_scene(link_page=True)
    link = read_request_token(token)
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
    from chalicelib.web import evidence

    request = requests.current_request
    set_scene(link_page=True)
    link = rights.read_request_token(token)
    set_scene(lang=link.lang)
    read_body(request)  # the button's form says nothing, but every body keeps the limits
    _ = translator(link.lang)
    if link.type == "erasure":
        rights.erase(link.subject, "request_link")
        return message(
            link.lang,
            link_page=True,
            title=_("Your data is erased"),
            paragraphs=[
                _("We have erased all your data."),
                _no_more_mail(_),
            ],
        )
    data = rights.export(link.subject, evidence(request, "request_link"), link.lang)
    if data is None:
        return message(
            link.lang,
            link_page=True,
            title=_("No data"),
            paragraphs=[_("We hold no data about this address (any more).")],
        )
    return json_download(data, "consentry-export.json")
