"""What visitors see: signup forms and confirmation links.

Views stay thin and import the flows lazily: a cold ``GET /forms/{id}`` pays for the
catalogue and Jinja2, not for boto3 or pydantic.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Response

from chalicelib import baseurl, catalogue, metrics
from chalicelib.i18n import LANGUAGE_NAMES, choose_language, field_messages, translator
from chalicelib.pages import invalid_link_page, not_sent_page, page
from chalicelib.web import (
    FORM,
    JSON,
    BadRequest,
    cors_headers,
    origin_allowed,
    read_body,
    wants_json,
)

if TYPE_CHECKING:
    from chalicelib.ledger import SaidNo, Standing
    from chalicelib.preferences import ManageLink

public = Blueprint(__name__)


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=json.dumps(body),
        status_code=status,
        headers={"Content-Type": "application/json", "X-Content-Type-Options": "nosniff", **(headers or {})},
    )


def _not_found(lang: str) -> Response:
    cat = catalogue.load()
    _ = translator(lang)
    return page(
        "message.html",
        lang,
        status=404,
        controller=cat.controller,
        title=_("Not found"),
        paragraphs=[_("This form does not exist.")],
    )


# -- pages in the visitor's language, framed or not (issue 7) ------------------------------


def _embedded() -> bool:
    """``?embed=1``: the form inside an iframe on a listed site; the page drops its own
    header and footer (the controller line and the privacy link stay)."""
    return (public.current_request.query_params or {}).get("embed") == "1"


def _switch(form: catalogue.Form, lang: str) -> dict[str, str] | None:
    """A link to the same page in the form's other language, written in that language."""
    other = next((lang_ for lang_ in form.languages if lang_ != lang), None)
    if other is None:
        return None
    query = f"?lang={other}" + ("&embed=1" if _embedded() else "")
    return {"href": query, "lang": other, "text": LANGUAGE_NAMES[other]}


def _status_page(
    lang: str, status: int, frame_ancestors: tuple[str, ...] = (), *, link_page: bool = False
) -> Response:
    """A refused post, framed or not as the form is."""
    return not_sent_page(
        lang, status, frame_ancestors=frame_ancestors, link_page=link_page, embed=_embedded()
    )


def _any_lang() -> str:
    """The visitor's language where no form says which are offered (an unknown form)."""
    request = public.current_request
    query = request.query_params or {}
    return choose_language(
        query.get("lang"), request.headers.get("accept-language"), catalogue.LANGUAGES, "nl"
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
        return _not_found(_any_lang())
    lang = _form_lang(form)
    metrics.form_viewed(form.id)
    return _form_page(form, lang, values={"purposes": []}, errors={})


def _form_page(
    form: catalogue.Form, lang: str, *, values: dict[str, Any], errors: dict[str, str], status: int = 200
) -> Response:
    """The form, fresh or again with the input kept; bot defences only where the form asks."""
    cat = catalogue.load()
    stamp = None
    if form.min_fill_seconds > 0:
        from chalicelib.bots import render_stamp

        stamp = render_stamp(form)
    challenge = catalogue.CHALLENGES[form.challenge] if form.challenge else None
    return page(
        "form.html",
        lang,
        status=status,
        controller=cat.controller,
        texts=cat.texts_for(form, lang),
        values=values,
        errors=field_messages(errors, lang),
        frame_ancestors=form.frame_ancestors,
        rendered=stamp,
        challenge={"kind": form.challenge, "script": challenge[1], "site_key": form.challenge_site_key}
        if challenge
        else None,
        challenge_host=challenge[0] if challenge else None,
        embed=_embedded(),
        switch=_switch(form, lang),
    )


@public.route("/forms/{form_id}", methods=["OPTIONS"])
def form_preflight(form_id: str) -> Response:
    """CORS preflight for the JSON signup: only the form's own listed origins, no credentials."""
    form = catalogue.load().form(form_id)
    headers = cors_headers(public.current_request, form.allowed_origins if form else ())
    if not headers:
        return Response(body="", status_code=403, headers={"Vary": "Origin"})
    return Response(
        body="",
        status_code=204,
        headers={
            **headers,
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "600",
        },
    )


@public.route("/forms/{form_id}", methods=["POST"], content_types=[FORM, JSON])
def submit_form(form_id: str) -> Response:
    form = catalogue.load().form(form_id)
    response = _submit(form)
    if form is not None:
        response.headers.update(cors_headers(public.current_request, form.allowed_origins))
    return response


def _submit(form: catalogue.Form | None) -> Response:
    from chalicelib import signups
    from chalicelib.web import evidence

    request = public.current_request
    cat = catalogue.load()
    as_json = wants_json(request)
    if form is None:
        return _json(404, {"error": "unknown form"}) if as_json else _not_found(_any_lang())
    lang = _form_lang(form)
    if not origin_allowed(request, form.allowed_origins, baseurl.current()):
        return (
            _json(403, {"error": "origin not allowed for this form"}) if as_json else _status_page(lang, 403)
        )
    try:
        data = read_body(request, repeated=("purposes",))
    except BadRequest as exc:
        if as_json:
            return _json(exc.status, {"errors": {exc.field: exc.message}})
        return _status_page(lang, exc.status, form.frame_ancestors)
    if isinstance(data.get("lang"), str) and data["lang"] in form.languages:
        lang = data["lang"]
    from chalicelib.bots import ChallengeUnavailable

    _ = translator(lang)
    try:
        outcome = signups.submit(form, data, lang, evidence(request, f"form:{form.id}"))
    except ChallengeUnavailable:
        if as_json:
            return _json(503, {"error": "the bot check is unavailable; try again"}, {"Retry-After": "30"})
        return page(
            "message.html",
            lang,
            status=503,
            controller=cat.controller,
            title="503",
            paragraphs=[_("The check against spam is not working right now. Please try again shortly.")],
        )
    if outcome.throttled:
        if as_json:
            return _json(429, {"error": "too many signups from this network"}, {"Retry-After": "3600"})
        return page(
            "message.html",
            lang,
            status=429,
            controller=cat.controller,
            title=_("Please wait"),
            paragraphs=[_("Too many signups are coming from this network. Please try again in an hour.")],
            frame_ancestors=form.frame_ancestors,
            embed=_embedded(),
        )
    if not outcome.accepted:
        if as_json:
            # "errors": the technical reason per field; "messages": what to show a person.
            return _json(422, {"errors": outcome.errors, "messages": field_messages(outcome.errors, lang)})
        return _form_page(form, lang, values=outcome.values, errors=outcome.errors, status=422)
    if as_json:
        return _json(202, {"status": "pending"})
    if form.thank_you_url:
        return Response(body="", status_code=303, headers={"Location": form.thank_you_url})
    return page(
        "message.html",
        lang,
        controller=cat.controller,
        title=_("Check your inbox"),
        paragraphs=[
            _(
                "If the address is right, you will shortly receive a mail with a confirmation link."
                " We send you nothing else until you confirm."
            )
        ],
        frame_ancestors=form.frame_ancestors,
        embed=_embedded(),
    )


def _link_error(exc: Exception) -> Response:
    """One uniform 400 for tampered or foreign links; 410 for a genuine expired one."""
    from chalicelib.tokens import TokenExpired

    cat = catalogue.load()
    if isinstance(exc, TokenExpired):
        lang = exc.payload.get("l") if exc.payload.get("l") in catalogue.LANGUAGES else "nl"
        form_id = exc.payload.get("f")
        _ = translator(lang)
        link = None
        if isinstance(form_id, str) and cat.form(form_id):
            link = {"href": f"../forms/{form_id}?lang={lang}", "text": _("Sign up again")}
        return page(
            "message.html",
            lang,
            status=410,
            link_page=True,
            controller=cat.controller,
            title=_("This link has expired"),
            paragraphs=[_("This confirmation link is no longer valid. Sign up again to get a new link.")],
            link=link,
        )
    return invalid_link_page()


@public.route("/confirm/{token}", methods=["GET"])
def show_confirm(token: str) -> Response:
    """A page with a button listing what confirming grants now; a GET never confirms (mail
    scanners prefetch links)."""
    from chalicelib.signups import confirmable, read_confirm_token
    from chalicelib.tokens import TokenError, TokenExpired

    try:
        link = read_confirm_token(token)
    except TokenError as exc:
        return _link_error(exc)
    now = confirmable(link)
    if now.confirmed:
        return _confirmed_page(link.lang, ())
    if not now.purposes:
        return _link_error(TokenExpired({"l": link.lang, "f": link.form_id}))
    return _confirm_page(link.lang, now.purposes, done=False)


def _confirm_page(lang: str, purposes: tuple[str, ...], *, done: bool) -> Response:
    """The purposes' texts: what the button grants now, or (done) what it granted."""
    cat = catalogue.load()
    _ = translator(lang)
    return page(
        "confirm.html",
        lang,
        link_page=True,
        controller=cat.controller,
        title=_("Confirmed") if done else _("Confirm your signup"),
        lead=_("Thank you. Your signup is confirmed for:")
        if done
        else _("Press the button to confirm your signup for:"),
        texts=[cat.purposes[p].consent_text(lang) for p in purposes if p in cat.purposes],
        button=not done,
    )


def _confirmed_page(lang: str, granted: tuple[str, ...]) -> Response:
    """What a confirmation granted, or that it was done before (a second click)."""
    if granted:
        return _confirm_page(lang, granted, done=True)
    cat = catalogue.load()
    _ = translator(lang)
    return page(
        "message.html",
        lang,
        link_page=True,
        controller=cat.controller,
        title=_("Confirmed"),
        paragraphs=[
            _("This signup was already confirmed. Nothing has changed."),
            _(
                "You have the right to object to profiling (for example inferring your clothing"
                " size from earlier orders). Use the unsubscribe link at the bottom of every mail;"
                " the newsletter itself keeps coming."
            ),
        ],
    )


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
        read_body(request)  # the button's form says nothing, but every body keeps the limits
    except BadRequest as exc:
        if wants_json(request):
            return _json(exc.status, {"errors": {exc.field: exc.message}}, _LINK_JSON)
        return _status_page(link.lang, exc.status, link_page=True)
    try:
        confirmed = signups.confirm(link, evidence(request, "confirm_link"))
    except signups.SignupGone:
        from chalicelib.tokens import TokenExpired

        return _link_error(TokenExpired({"l": link.lang, "f": link.form_id}))
    return _confirmed_page(link.lang, confirmed.purposes)


# -- saying no: the unsubscribe link ------------------------------------------------------

_LINK_JSON = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _gone() -> Response:
    """A genuine manage token for somebody no longer on file: the same answer as a bad one."""
    from chalicelib.tokens import TokenError

    return _link_error(TokenError("nobody on file"))


def _page_lang(lang: str) -> str:
    return lang if lang in catalogue.LANGUAGES else "nl"


def _preferences_page(
    standing: Standing,
    *,
    status: int = 200,
    notices: tuple[str, ...] = (),
    errors: dict[str, str] | None = None,
) -> Response:
    """Each purpose of the catalogue with its state, the objection, 'everything'."""
    cat = catalogue.load()
    lang = _page_lang(standing.lang)
    _ = translator(lang)
    state_texts = {
        "granted": _("you receive these mails"),
        "pending": _("awaiting your confirmation"),
        "withdrawn": _("unsubscribed"),
        "none": _("not signed up"),
    }
    rows = []
    offline = []
    for purpose in cat.purposes.values():
        state = standing.states.get(purpose.id, "none")
        # A signup waiting for confirmation stays ticked, as a pending purpose does: saving
        # other choices never cancels it; unticking it does.
        waiting = purpose.id in standing.waiting
        live = state in ("granted", "pending") or waiting
        if not live:
            offline.append(purpose.id)
        text = state_texts.get(state, state)
        if waiting and state == "withdrawn":
            text = _("unsubscribed; a new signup awaits your confirmation")
        rows.append(
            {
                "id": purpose.id,
                "label": purpose.labels.get(lang, purpose.id),
                "state": state,
                "state_text": text,
                "kept": live,
                "can_keep": live,
            }
        )
    signup_link = None
    form = next((f for f in cat.forms.values() if any(p in f.purposes for p in offline)), None)
    if form is not None:
        signup_link = {"href": f"../forms/{form.id}?lang={lang}", "text": _("Go to the signup form")}
    return page(
        "preferences.html",
        lang,
        status=status,
        link_page=True,
        controller=cat.controller,
        purposes=rows,
        profiling=standing.profiling,
        notices=list(notices),
        errors=field_messages(errors or {}, lang),
        signup_link=signup_link,
    )


@public.route("/unsubscribe/{token}", methods=["GET"])
def show_preferences(token: str) -> Response:
    """The preferences page; a GET never changes anything (mail scanners prefetch links)."""
    from chalicelib import preferences
    from chalicelib.tokens import TokenError

    try:
        link = preferences.read_manage_token(token)
    except TokenError as exc:
        return _link_error(exc)
    standing = preferences.standing(link)
    if standing is None:
        return _gone()
    return _preferences_page(standing)


@public.route(
    "/unsubscribe/{token}",
    methods=["POST"],
    content_types=[FORM, JSON, "text/plain", "multipart/form-data"],
)
def unsubscribe(token: str) -> Response:
    """RFC 8058 one-click (exactly ``List-Unsubscribe=One-Click``: 200, never a redirect,
    no cookie), or a post from the preferences page. Anything else changes nothing."""
    from chalicelib import preferences
    from chalicelib.tokens import TokenError
    from chalicelib.web import evidence

    request = public.current_request
    try:
        link = preferences.read_manage_token(token)
    except TokenError as exc:
        return _link_error(exc)
    as_json = wants_json(request)
    try:
        data = read_body(request, repeated=("purposes",))
        if preferences.is_one_click(data, request.headers.get("content-type") or ""):
            said = preferences.one_click(link, evidence(request, "one_click"))
            return _unsubscribed_page(said, link, token)
        outcome = preferences.save(link, data, evidence(request, "preferences"))
    except BadRequest as exc:
        return _json(exc.status, {"errors": {exc.field: exc.message}}, _LINK_JSON)
    except preferences.PersonGone:
        return _gone()
    if outcome.errors:
        if as_json or outcome.status == 400:
            return _json(outcome.status, {"errors": outcome.errors}, _LINK_JSON)
        standing = preferences.standing(link)
        if standing is None:
            return _gone()
        return _preferences_page(standing, status=outcome.status, errors=outcome.errors)
    said = outcome.said
    if said is None or said.standing is None:
        return _gone()
    if as_json:
        return _json(
            200,
            {
                "withdrawn": list(said.withdrawn),
                "profiling": said.standing.profiling,
                "purposes": said.standing.states,
                "suppressed": said.suppressed,
                "not_granted": list(outcome.not_granted),
            },
            _LINK_JSON,
        )
    _ = translator(_page_lang(said.standing.lang))
    notices = [
        _("Your choices are saved.") if said.changed or said.suppressed else _("Nothing needed changing.")
    ]
    if outcome.not_granted:
        notices.append(
            _(
                "A mail you unsubscribed from cannot be turned back on here: sign up again through"
                " the signup form and you will get a confirmation mail."
            )
        )
    return _preferences_page(said.standing, notices=tuple(notices))


def _unsubscribed_page(said: SaidNo, link: ManageLink, token: str) -> Response:
    """The one-click answer: a short page, 200, nothing to click, no cookie."""
    cat = catalogue.load()
    lang = _page_lang(said.standing.lang if said.standing else "nl")
    _ = translator(lang)
    if not said.withdrawn:
        text = _("You were already unsubscribed. Nothing has changed.")
    elif link.purpose is None:
        text = _("You will no longer receive marketing mail from us. This took effect at once.")
    else:
        purpose = cat.purposes.get(link.purpose)
        text = _("You will no longer receive mails for: %(purpose)s. This took effect at once.") % {
            "purpose": purpose.labels.get(lang, purpose.id) if purpose else link.purpose
        }
    return page(
        "message.html",
        lang,
        link_page=True,
        controller=cat.controller,
        title=_("You are unsubscribed"),
        paragraphs=[text],
        link={"href": f"./{token}", "text": _("See your preferences")},
    )
