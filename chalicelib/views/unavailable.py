"""The answer when the ledger could not finish: 503 with ``Retry-After``, never a 500.

``LedgerConflict`` (the person's state kept changing under a write until the retries ran
out) and a bare ``LedgerError`` (DynamoDB cancelled a write for a reason with no domain
answer) are faults that pass: nothing was written, and the same request may simply be
sent again. app.py wraps every view with ``guard``, so this is the one place they become
an answer: JSON for the API and for JSON bodies, otherwise a page in the person's language.
Other domain errors are each view's own answer; one that escapes is a bug and stays a 500.

Importing this costs no boto3: the ledger is looked up only once an exception is raised,
and a request that never loaded the ledger cannot have raised its errors.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from chalice import Response

if TYPE_CHECKING:
    from chalice.app import Request

RETRY_AFTER_SECONDS = 30


def _passing_fault(exc: Exception) -> bool:
    ledger = sys.modules.get("chalicelib.ledger")
    if ledger is None:
        return False
    return isinstance(exc, ledger.LedgerUnavailable)


def guard(
    view: Callable[..., Response], current_request: Callable[[], Request | None]
) -> Callable[..., Response]:
    """The view, answering a ledger fault that passes with 503 instead of Chalice's 500."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Response:
        try:
            return view(*args, **kwargs)
        except Exception as exc:
            if not _passing_fault(exc):
                raise
            return answer(exc, current_request())

    return guarded


def answer(exc: Exception, request: Request | None) -> Response:
    """503 with Retry-After: JSON for the API and JSON bodies, else a page a person reads."""
    from chalicelib import catalogue
    from chalicelib.i18n import choose_language, translator
    from chalicelib.pages import page
    from chalicelib.web import query_of, wants_json

    retry = {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
    if request is None or request.path.startswith("/api/") or wants_json(request):
        return Response(
            body=json.dumps({"error": "the change could not be saved just now; nothing changed, try again"}),
            status_code=503,
            headers={"Content-Type": "application/json", **retry},
        )
    # The person's own language where the ledger knew it (the standing it read), else the
    # one the visitor asked for.
    lang = getattr(exc, "lang", None)
    cat = catalogue.load()
    if lang not in cat.languages:
        query = query_of(request)
        lang = choose_language(
            query.get("lang"), request.headers.get("accept-language"), tuple(cat.languages), cat.default_lang
        )
    _ = translator(lang)
    response = page(
        "message.html",
        lang,
        status=503,
        link_page=True,
        controller=cat.controller,
        title=_("Please try again shortly"),
        root="" if request.path == "/requests" else "../",  # links are relative to the page's path
        paragraphs=[
            _("This could not be saved just now, and nothing has changed. Please try again in a minute.")
        ],
    )
    response.headers.update(retry)
    return response
