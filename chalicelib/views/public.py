"""What visitors see: signup forms and confirmation links.

Views stay thin and import the flows lazily: a cold ``GET /forms/{id}`` pays for the
catalogue and Jinja2, not for boto3 or pydantic. What a flow refuses passes to
views/answers.py, which answers it in the scene a view sets (language, form, link page).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Response

from chalicelib import baseurl, catalogue, metrics
from chalicelib.i18n import choose_language, field_messages, language_name, translator
from chalicelib.pages import page
from chalicelib.refusals import NotFound
from chalicelib.views.answers import json_answer, message, set_scene
from chalicelib.web import (
    FORM,
    JSON,
    OriginRefused,
    cors_headers,
    origin_allowed,
    query_of,
    read_body,
    wants_json,
)

if TYPE_CHECKING:
    from chalicelib.ledger import SaidNo, SignupNow, Standing
    from chalicelib.preferences import ManageLink
    from chalicelib.signups import ConfirmLink

public = Blueprint(__name__)


# -- pages in the visitor's language, framed or not (issue 7) ------------------------------


def _embedded() -> bool:
    """``?embed=1``: the form inside an iframe on a listed site; the page drops its own
    header and footer (the controller line and the privacy link stay)."""
    return query_of(public.current_request).get("embed") == "1"


def _switch(form: catalogue.Form, lang: str) -> list[dict[str, str]]:
    """Links to the same page in each of the form's other languages, each in its own words."""
    embed = "&embed=1" if _embedded() else ""
    return [
        {"href": f"?lang={other}{embed}", "lang": other, "text": language_name(other)}
        for other in form.languages
        if other != lang
    ]


def _form_lang(form: catalogue.Form) -> str:
    request = public.current_request
    query = query_of(request)
    return choose_language(
        query.get("lang"), request.headers.get("accept-language"), form.languages, form.default_lang
    )


@public.route("/forms/{form_id}", methods=["GET"])
def show_form(form_id: str) -> Response:
    cat = catalogue.load()
    form = cat.form(form_id)
    if form is None:
        raise NotFound("form")
    lang = _form_lang(form)
    metrics.form_viewed(form.id)
    return _form_page(form, lang, values={"purposes": []}, errors={})


def _form_page(
    form: catalogue.Form, lang: str, *, values: dict[str, Any], errors: dict[str, str], status: int = 200
) -> Response:
    """The form, fresh or again with the input kept, in the form's words and look, with the
    version of the texts it shows; bot defences only where the form asks."""
    from chalicelib import versions

    cat = catalogue.load()
    shown = versions.current(cat, form, lang)
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
        texts=shown.texts,
        version=shown.version,
        wording=form.wording(lang),
        brand=cat.brand_of(form),
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
    from chalicelib import signups
    from chalicelib.refusals import Invalid
    from chalicelib.web import evidence

    request = public.current_request
    form = catalogue.load().form(form_id)
    if form is None:
        raise NotFound("form")
    lang = _form_lang(form)
    # Every answer, refusals included, is framed and branded as the form is, and readable
    # by the form's listed sites (CORS).
    set_scene(
        lang=lang,
        form=form.id,
        frame_ancestors=form.frame_ancestors,
        embed=_embedded(),
        headers=cors_headers(request, form.allowed_origins),
    )
    if not origin_allowed(request, form.allowed_origins, baseurl.current()):
        raise OriginRefused("origin not allowed for this form")
    data = read_body(request, repeated=("purposes",))
    if isinstance(data.get("lang"), str) and data["lang"] in form.languages:
        lang = data["lang"]
        set_scene(lang=lang)
    try:
        accepted = signups.submit(form, data, lang, evidence(request, f"form:{form.id}"))
    except Invalid as exc:
        lang = exc.lang or lang  # a posted version says which texts were read
        if wants_json(request):
            # "errors": the technical reason per field; "messages": what to show a person.
            return json_answer(422, {"errors": exc.errors, "messages": field_messages(exc.errors, lang)})
        return _form_page(form, lang, values=exc.values, errors=exc.errors, status=422)
    if wants_json(request):
        return json_answer(202, {"status": "pending"})
    if form.thank_you_url:
        return Response(body="", status_code=303, headers={"Location": form.thank_you_url})
    lang = accepted.lang or lang
    _ = translator(lang)
    return message(
        lang,
        form=form.id,
        title=_("Check your inbox"),
        lead=form.wording(lang).thank_you,
        paragraphs=[
            _(
                "If the address is right, you will shortly receive a mail with a confirmation link."
                " We send you nothing else until you confirm."
            )
        ],
        frame_ancestors=form.frame_ancestors,
        embed=_embedded(),
    )


@public.route("/confirm/{token}", methods=["GET"])
def show_confirm(token: str) -> Response:
    """A page with a button listing what confirming grants now; a GET never confirms (mail
    scanners prefetch links)."""
    from chalicelib.signups import confirmable, read_confirm_token

    set_scene(link_page=True)
    link = read_confirm_token(token)
    set_scene(lang=link.lang, form=link.form_id)
    now = confirmable(link)
    if now.confirmed:
        return _confirmed_page(link, None)
    return _confirm_page(link, now, done=False)


def _confirm_page(link: ConfirmLink, signup: SignupNow, *, done: bool) -> Response:
    """The purposes' texts, as the visitor read them on the form: what the button grants
    now, or (done) what it granted; in the look of the form the signup came from."""
    from chalicelib import versions

    cat = catalogue.load()
    lang = link.lang
    _ = translator(lang)
    return page(
        "confirm.html",
        lang,
        link_page=True,
        controller=cat.controller,
        brand=cat.brand_of(link.form_id),
        title=_("Confirmed") if done else _("Confirm your signup"),
        lead=_("Thank you. Your signup is confirmed for:")
        if done
        else _("Press the button to confirm your signup for:"),
        texts=versions.texts_recorded(cat, lang, signup.purposes, signup.texts),
        button=not done,
    )


def _confirmed_page(link: ConfirmLink, granted: SignupNow | None) -> Response:
    """What a confirmation granted, or that it was done before (a second click)."""
    if granted is not None and granted.purposes:
        return _confirm_page(link, granted, done=True)
    _ = translator(link.lang)
    return message(
        link.lang,
        link_page=True,
        form=link.form_id,
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
    from chalicelib.web import evidence

    request = public.current_request
    set_scene(link_page=True)
    link = signups.read_confirm_token(token)
    set_scene(lang=link.lang, form=link.form_id)
    read_body(request)  # the button's form says nothing, but every body keeps the limits
    confirmed = signups.confirm(link, evidence(request, "confirm_link"))
    return _confirmed_page(link, confirmed.granted)


# -- saying no: the unsubscribe link ------------------------------------------------------


def _page_lang(lang: str) -> str:
    return catalogue.load().lang_or_default(lang)


def _preferences_page(
    standing: Standing,
    *,
    status: int = 200,
    notices: tuple[str, ...] = (),
    errors: dict[str, str] | None = None,
) -> Response:
    """Whose preferences (the address, partly masked), each purpose of the catalogue with its
    state and a button to leave just that one, the objection, 'everything', the way to the
    person's data."""
    from chalicelib.preferences import masked

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
        # A signup waiting for confirmation can be left, as a pending purpose can: its
        # button takes the purpose out of the waiting signup.
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
                "can_leave": live,
                "leave_label": _("Unsubscribe from %(purpose)s")
                % {"purpose": purpose.labels.get(lang, purpose.id)},
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
        masked_email=masked(standing.email),
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

    set_scene(link_page=True)
    link = preferences.read_manage_token(token)
    return _preferences_page(preferences.standing(link))


@public.route(
    "/unsubscribe/{token}",
    methods=["POST"],
    content_types=[FORM, JSON, "text/plain", "multipart/form-data"],
)
def unsubscribe(token: str) -> Response:
    """RFC 8058 one-click (exactly ``List-Unsubscribe=One-Click``: 200, never a redirect,
    no cookie), or a post from the preferences page. Anything else changes nothing."""
    from chalicelib import preferences
    from chalicelib.refusals import Invalid
    from chalicelib.web import evidence

    request = public.current_request
    set_scene(link_page=True)
    link = preferences.read_manage_token(token)
    data = read_body(request, repeated=("purposes",))
    if preferences.is_one_click(data, request.headers.get("content-type") or ""):
        clicked = preferences.one_click(link, evidence(request, "one_click"))
        return _unsubscribed_page(clicked, link, token)
    try:
        saved = preferences.save(link, data, evidence(request, "preferences"))
    except Invalid as exc:
        if wants_json(request):
            raise
        return _preferences_page(preferences.standing(link), status=422, errors=exc.errors)
    said = saved.said
    if wants_json(request):
        return json_answer(
            200,
            {
                "withdrawn": list(said.withdrawn),
                "profiling": saved.standing.profiling,
                "purposes": saved.standing.states,
                "suppressed": said.suppressed,
                "not_granted": list(saved.not_granted),
            },
        )
    lang = _page_lang(saved.standing.lang)
    _ = translator(lang)
    notices = [
        _("Your choices are saved.") if said.changed or said.suppressed else _("Nothing needed changing.")
    ]
    left = catalogue.load().purposes.get(str(data.get("leave")))
    if left is not None and left.id in said.withdrawn:  # the button beside one purpose
        notices = [
            _("You will no longer receive mails for: %(purpose)s. This took effect at once.")
            % {"purpose": left.labels.get(lang, left.id)}
        ]
    if saved.not_granted:
        notices.append(
            _(
                "A mail you unsubscribed from cannot be turned back on here: sign up again through"
                " the signup form and you will get a confirmation mail."
            )
        )
    return _preferences_page(saved.standing, notices=tuple(notices))


def _unsubscribed_page(said: SaidNo, link: ManageLink, token: str) -> Response:
    """The one-click answer: a short page, 200, nothing to click, no cookie."""
    cat = catalogue.load()
    lang = _page_lang(said.standing.lang if said.standing else "")
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
    return message(
        lang,
        link_page=True,
        title=_("You are unsubscribed"),
        paragraphs=[text],
        link={"href": f"./{token}", "text": _("See your preferences")},
    )
