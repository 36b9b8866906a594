"""The one place errors become HTTP answers: status, JSON and page.

Flows return their results or raise domain errors; a view lets every error pass that it has
no page of its own for (the form shown again with its errors is the form's own). app.py
wraps every route in ``guard``: it hands the view a ``Scene`` (the request, and what the
view learns about how to answer it: the language, the form whose look and framing a page
takes, whether it is a link page) and turns an error that passes into its answer, found by
walking the error's class hierarchy in ``ANSWERS`` (as Powertools' exception handlers and
Chalice's ChaliceViewError do). An error answered here is never a 500; one that is not
here is a bug, and stays a 500.

One JSON answer (``json_answer``) with one header set, for the API and for JSON bodies;
one short page (``message``), one page for a refused post (``not_sent``), one for a link
that cannot be used (``invalid_link``). Answers that must leak nothing say the same thing
whatever the cause: a tampered, foreign or unknown token and a genuine one for somebody no
longer on file all get ``invalid_link``'s 400.

Importing this costs no boto3, pydantic or token signing: errors are matched by their
classes' qualified names, so answering one imports nothing (a request that never loaded a
module cannot have raised its errors), and a cold form page stays cheap.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from functools import wraps
from typing import TYPE_CHECKING, Any

from chalice import Response

from chalicelib import catalogue
from chalicelib.i18n import N_, choose_language, translator
from chalicelib.pages import page, security_headers
from chalicelib.web import query_of, wants_json

if TYPE_CHECKING:
    from chalice.app import Request

    from chalicelib.imports import TooManyRows
    from chalicelib.ledger import PurposeWithdrawn, Suppressed
    from chalicelib.refusals import Invalid, NotFound, Throttled
    from chalicelib.tokens import TokenExpired
    from chalicelib.web import BadRequest

RETRY_AFTER_SECONDS = 30
THROTTLE_SECONDS = 3600

JSON_HEADERS = {
    "Content-Type": "application/json",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}
"""Every JSON answer's headers (a route adds what is its own: CORS, Vary, its caching)."""


def json_answer(status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        body=json.dumps(body, ensure_ascii=False),
        status_code=status,
        headers={**JSON_HEADERS, **(headers or {})},
    )


def json_download(data: Mapping[str, Any], filename: str) -> Response:
    """JSON a person downloads as a file (their data export): readable, a link page's
    headers (no caching, no referrer), saved rather than shown."""
    headers = security_headers(link_page=True)
    headers.update(
        {
            "Content-Type": "application/json; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename}"',
        }
    )
    return Response(body=json.dumps(data, ensure_ascii=False, indent=2), status_code=200, headers=headers)


# -- the scene: how the request under way is answered -------------------------------------


@dataclass(frozen=True)
class Scene:
    """What a view has learnt about how to answer the request under way."""

    request: Request | None = None
    lang: str | None = None
    """The language the page speaks (a link's, a form's); None: the visitor's."""
    form: str | None = None
    """The form whose look the page takes (and whose sites may frame it)."""
    frame_ancestors: tuple[str, ...] = ()
    embed: bool = False
    link_page: bool = False
    root: str = "../"
    """From the page's path back to the service's root (see pages.render)."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Headers every answer to this request carries (a form's CORS for its listed sites)."""

    @property
    def json(self) -> bool:
        """The API always answers JSON; elsewhere a JSON body gets JSON back."""
        request = self.request
        return request is None or request.path.startswith("/api/") or wants_json(request)

    def placement(self) -> dict[str, Any]:
        """Where a page of this scene stands: the form's look, framed, embedded, a link page."""
        return {
            "form": self.form,
            "link_page": self.link_page,
            "frame_ancestors": self.frame_ancestors,
            "embed": self.embed,
            "root": self.root,
        }

    def language(self, preferred: object = None) -> str:
        """``preferred`` (a person's own, as the ledger read it), else the page's, else the
        visitor's (``?lang=``, then Accept-Language), else the default."""
        cat = catalogue.load()
        for lang in (preferred, self.lang):
            if isinstance(lang, str) and lang in cat.languages:
                return lang
        if self.request is None:
            return cat.default_lang
        query = query_of(self.request)
        return choose_language(
            query.get("lang"),
            self.request.headers.get("accept-language"),
            tuple(cat.languages),
            cat.default_lang,
        )


_scene: ContextVar[Scene] = ContextVar("scene")


def scene() -> Scene:
    return _scene.get(Scene())


def set_scene(**changes: Any) -> Scene:
    """Tell the boundary how to answer this request from now on (views call this as they
    learn the language, the form, the link)."""
    changed = replace(scene(), **changes)
    _scene.set(changed)
    return changed


def guard[**P](
    view: Callable[P, Response], current_request: Callable[[], Request | None]
) -> Callable[P, Response]:
    """The view, with its scene, answering every error ``ANSWERS`` knows."""

    @wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> Response:
        token = _scene.set(Scene(current_request()))
        try:
            try:
                response = view(*args, **kwargs)
            except Exception as exc:
                handler = answer_for(exc)
                if handler is None:
                    raise
                response = handler(exc, scene())
            response.headers.update(scene().headers)
            return response
        finally:
            _scene.reset(token)

    return guarded


def requires_key[**P](view: Callable[P, Response]) -> Callable[P, Response]:
    """An API route: 401 unless the request carries a valid bearer key."""

    @wraps(view)
    def checked(*args: P.args, **kwargs: P.kwargs) -> Response:
        from chalicelib.keys import get_keys

        request = scene().request
        header = (request.headers.get("authorization") if request is not None else None) or ""
        scheme, _, key = header.partition(" ")
        if scheme.lower() == "bearer" and key and get_keys().api_key_valid(key.strip()):
            return view(*args, **kwargs)
        return json_answer(401, {"error": "a valid bearer key is required"}, {"WWW-Authenticate": "Bearer"})

    return checked


# -- pages -----------------------------------------------------------------------------


def message(
    lang: str,
    *,
    title: str,
    paragraphs: list[Any],
    status: int = 200,
    form: str | None = None,
    **context: Any,
) -> Response:
    """A short page: a title, paragraphs, maybe a link; in ``form``'s look."""
    look = catalogue.load().brand_of(form)
    return page(
        "message.html", lang, status=status, brand=look, title=title, paragraphs=paragraphs, **context
    )


def _scene_page(scene: Scene, lang: str, **context: Any) -> Response:
    """A message page placed as the scene says: framed, embedded, a link page or not."""
    return message(lang, **scene.placement(), **context)


def not_sent(status: int, scene: Scene, *, framed: bool = True) -> Response:
    """A refused post (foreign origin, unreadable or oversized body) as a page a person reads."""
    lang = scene.language()
    _ = translator(lang)
    texts = {
        403: _("This form may not be sent from the site you are on."),
        413: _("What you sent is too large."),
    }
    return _scene_page(
        scene if framed else replace(scene, frame_ancestors=()),
        lang,
        status=status,
        title=_("Not sent"),
        paragraphs=[texts.get(status, _("What you sent could not be read. Please try again."))],
    )


def invalid_link() -> Response:
    """A tampered, foreign or unknown link: one page in every language (a token we cannot
    read names none), the default first, each other part marked with its language for
    screen readers."""
    cat = catalogue.load()
    title = N_("Invalid link")
    text = N_("This link is not valid. Check that you used the whole link from the mail.")
    first, *others = cat.languages
    return message(
        first,
        status=400,
        link_page=True,
        title=translator(first)(title),
        titles=[{"text": translator(lang)(title), "lang": lang} for lang in others],
        paragraphs=[
            translator(first)(text),
            *({"text": translator(lang)(text), "lang": lang} for lang in others),
        ],
    )


def confirm_link_expired(lang: str, form_id: str | None) -> Response:
    """410: the confirmation link's signup is gone; a new signup gets a new link."""
    cat = catalogue.load()
    _ = translator(lang)
    link = None
    if form_id and cat.form(form_id):
        link = {"href": f"../forms/{form_id}?lang={lang}", "text": _("Sign up again")}
    return message(
        lang,
        status=410,
        link_page=True,
        form=form_id,
        title=_("This link has expired"),
        paragraphs=[_("This confirmation link is no longer valid. Sign up again to get a new link.")],
        link=link,
    )


def _request_link_expired(lang: str) -> Response:
    _ = translator(lang)
    return message(
        lang,
        status=410,
        link_page=True,
        title=_("This link has expired"),
        paragraphs=[_("This link is no longer valid. Make a new request to get a new link.")],
        link={"href": f"../requests?lang={lang}", "text": _("New request")},
    )


# -- each error's answer ------------------------------------------------------------------

Handler = Callable[[Any, Scene], Response]


def _bad_request(exc: BadRequest, scene: Scene) -> Response:
    if scene.json:
        return json_answer(exc.status, {"errors": {exc.field: exc.message}})
    return not_sent(exc.status, scene)


def _origin_refused(exc: Exception, scene: Scene) -> Response:
    if scene.json:
        return json_answer(403, {"error": str(exc)})
    return not_sent(403, scene, framed=False)


def _invalid_link(exc: Exception, scene: Scene) -> Response:
    return invalid_link()


def _link_expired(exc: TokenExpired, scene: Scene) -> Response:
    """410 for a genuine link past its lifetime, in the language it was mailed in."""
    lang = catalogue.load().lang_or_default(exc.payload.get("l"))
    if exc.kind == "request":
        return _request_link_expired(lang)
    form_id = exc.payload.get("f")
    return confirm_link_expired(lang, form_id if isinstance(form_id, str) else None)


def _signup_gone(exc: Exception, scene: Scene) -> Response:
    """The signup behind a confirm link expired, was erased, or has nothing left to grant."""
    return confirm_link_expired(scene.language(), scene.form)


def _unavailable(exc: Exception, scene: Scene) -> Response:
    """The ledger could not finish (it kept conflicting, or refused for no domain reason):
    nothing changed; the same request may simply be sent again."""
    retry = {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
    if scene.json:
        body = {"error": "the change could not be saved just now; nothing changed, try again"}
        return json_answer(503, body, retry)
    # The person's own language where the ledger knew it (the standing it read).
    lang = scene.language(getattr(exc, "lang", None))
    _ = translator(lang)
    response = message(
        lang,
        status=503,
        link_page=True,
        title=_("Please try again shortly"),
        paragraphs=[
            _("This could not be saved just now, and nothing has changed. Please try again in a minute.")
        ],
    )
    response.headers.update(retry)
    return response


def _challenge_unavailable(exc: Exception, scene: Scene) -> Response:
    """The bot check's provider did not answer: nothing stored, the visitor may try again."""
    retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if scene.json:
        return json_answer(503, {"error": "the bot check is unavailable; try again"}, retry)
    lang = scene.language()
    _ = translator(lang)
    response = message(
        lang,
        status=503,
        form=scene.form,
        title="503",
        paragraphs=[_("The check against spam is not working right now. Please try again shortly.")],
    )
    response.headers.update(retry)
    return response


def _throttled(exc: Throttled, scene: Scene) -> Response:
    """Over a per-network limit: a 429 that tells nothing about any address."""
    retry = {"Retry-After": str(THROTTLE_SECONDS)}
    if scene.json:
        return json_answer(429, {"error": f"too many {exc.what} from this network"}, retry)
    lang = scene.language(exc.lang)
    _ = translator(lang)
    text = (
        _("Too many requests are coming from this network. Please try again in an hour.")
        if exc.what == "requests"
        else _("Too many signups are coming from this network. Please try again in an hour.")
    )
    response = _scene_page(scene, lang, status=429, title=_("Please wait"), paragraphs=[text])
    response.headers.update(retry)
    return response


def _invalid(exc: Invalid, scene: Scene) -> Response:
    if scene.json:
        return json_answer(422, {"errors": exc.errors})
    return not_sent(422, scene)


def _not_found(exc: NotFound, scene: Scene) -> Response:
    if exc.what != "form" or scene.json:
        return json_answer(404, {"error": "unknown form" if exc.what == "form" else f"no such {exc.what}"})
    lang = scene.language()
    _ = translator(lang)
    return message(lang, status=404, title=_("Not found"), paragraphs=[_("This form does not exist.")])


def _suppressed(exc: Suppressed, scene: Scene) -> Response:
    reason = f" ({exc.reason})" if exc.reason else ""
    return json_answer(409, {"error": f"the address is suppressed{reason}: no soft opt-in"})


def _withdrawn(exc: PurposeWithdrawn, scene: Scene) -> Response:
    return json_answer(
        409, {"error": f"the person withdrew {exc.purpose}: only their own new consent restores it"}
    )


def _bad_cursor(exc: Exception, scene: Scene) -> Response:
    return json_answer(400, {"errors": {"cursor": str(exc)}})


def _too_many_rows(exc: TooManyRows, scene: Scene) -> Response:
    body = {"error": f"at most {exc.limit} rows per import; this one has {exc.rows}", "limit": exc.limit}
    return json_answer(413, body)


ANSWERS: dict[str, Handler] = {
    "chalicelib.web.BadRequest": _bad_request,
    "chalicelib.web.OriginRefused": _origin_refused,
    "chalicelib.tokens.TokenExpired": _link_expired,
    "chalicelib.tokens.TokenError": _invalid_link,
    "chalicelib.ledger.errors.PersonGone": _invalid_link,
    "chalicelib.ledger.errors.SignupGone": _signup_gone,
    "chalicelib.ledger.errors.Suppressed": _suppressed,
    "chalicelib.ledger.errors.PurposeWithdrawn": _withdrawn,
    "chalicelib.ledger.errors.LedgerUnavailable": _unavailable,
    "chalicelib.bots.ChallengeUnavailable": _challenge_unavailable,
    "chalicelib.refusals.Invalid": _invalid,
    "chalicelib.refusals.Throttled": _throttled,
    "chalicelib.refusals.NotFound": _not_found,
    "chalicelib.audiences.BadCursor": _bad_cursor,
    "chalicelib.imports.TooManyRows": _too_many_rows,
}
"""Each error class (module.qualname) and its answer; subclasses take their nearest
ancestor's. A ledger error not listed (AlreadyConfirmed, RateLimited, AlreadyAsked) is one
the flows answer themselves."""


def answer_for(exc: BaseException) -> Handler | None:
    """The answer of the nearest class in ``exc``'s hierarchy that has one."""
    for cls in type(exc).__mro__:
        handler = ANSWERS.get(f"{cls.__module__}.{cls.__qualname__}")
        if handler is not None:
            return handler
    return None
