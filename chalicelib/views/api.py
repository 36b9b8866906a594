"""The sending system's API, behind a bearer key: who is on file, and what they agreed to."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from chalice import Blueprint, Response

api = Blueprint(__name__)


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=json.dumps(body, ensure_ascii=False),
        status_code=status,
        headers={
            "Content-Type": "application/json",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            **(headers or {}),
        },
    )


def _unauthorised() -> Response | None:
    """None when the request carries a valid bearer key, else the 401 to send."""
    from chalicelib.keys import get_keys

    header = api.current_request.headers.get("authorization") or ""
    scheme, _, key = header.partition(" ")
    if scheme.lower() == "bearer" and key and get_keys().api_key_valid(key.strip()):
        return None
    return _json(401, {"error": "a valid bearer key is required"}, {"WWW-Authenticate": "Bearer"})


def _subject(raw_email: str) -> tuple[str | None, Response | None]:
    from chalicelib.keys import get_keys
    from chalicelib.models import normalise_email

    try:
        email = normalise_email(unquote(raw_email))
    except ValueError as exc:
        return None, _json(422, {"errors": {"email": str(exc)}})
    return get_keys().subject_id(email), None


@api.route("/api/contacts/{email}", methods=["GET"])
def get_contact(email: str) -> Response:
    from chalicelib.ledger import get_ledger, utc_now

    if (denied := _unauthorised()) is not None:
        return denied
    subject, error = _subject(email)
    if error is not None or subject is None:
        return error or _json(422, {"errors": {"email": "is invalid"}})
    contact = get_ledger().contact(subject, utc_now())
    if contact is None:
        return _json(404, {"error": "no such contact"})
    return _json(200, contact)


@api.route("/api/contacts/{email}/events", methods=["GET"])
def get_contact_events(email: str) -> Response:
    from chalicelib.ledger import get_ledger, utc_now

    if (denied := _unauthorised()) is not None:
        return denied
    subject, error = _subject(email)
    if error is not None or subject is None:
        return error or _json(422, {"errors": {"email": "is invalid"}})
    ledger = get_ledger()
    now = utc_now()
    if ledger.contact(subject, now) is None:
        return _json(404, {"error": "no such contact"})
    return _json(200, {"events": ledger.events(subject, now)})


@api.route("/api/links", methods=["POST"])
def make_links() -> Response:
    """The unsubscribe URL and List-Unsubscribe headers for one known address."""
    from chalicelib import audiences
    from chalicelib.models import LinkRequest, ValidationError, field_errors
    from chalicelib.web import BadRequest, read_body

    if (denied := _unauthorised()) is not None:
        return denied
    try:
        body = read_body(api.current_request)
    except BadRequest as exc:
        return _json(exc.status, {"errors": {exc.field: exc.message}})
    try:
        request = LinkRequest.model_validate(body)
    except ValidationError as exc:
        return _json(422, {"errors": field_errors(exc)})
    try:
        answer = audiences.links(request.email, request.purpose)
    except audiences.UnknownPurpose:
        return _json(422, {"errors": {"purpose": f"unknown purpose: {request.purpose}"}})
    if answer is None:
        return _json(404, {"error": "no such contact"})
    return _json(200, answer)


@api.route("/api/audiences/{purpose}", methods=["GET"])
def get_audience(purpose: str) -> Response:
    """Exactly the granted, unsuppressed contacts for a purpose, a page at a time."""
    from chalicelib import audiences
    from chalicelib.models import AudienceQuery, ValidationError, field_errors

    if (denied := _unauthorised()) is not None:
        return denied
    try:
        query = AudienceQuery.model_validate(dict(api.current_request.query_params or {}))
    except ValidationError as exc:
        return _json(422, {"errors": field_errors(exc)})
    try:
        page = audiences.audience(unquote(purpose), query.limit, query.cursor)
    except audiences.UnknownPurpose:
        return _json(404, {"error": "no such purpose"})
    except audiences.BadCursor as exc:
        return _json(400, {"errors": {"cursor": str(exc)}})
    return _json(200, {"contacts": page.contacts, "next": page.next})


# -- proof and rights -------------------------------------------------------------------


@api.route("/api/soft-opt-ins", methods=["POST"])
def record_soft_opt_in() -> Response:
    """A customer's own similar products, mailed without fresh consent: proven or refused."""
    from chalicelib import soft_opt_in
    from chalicelib.web import BadRequest, evidence, read_body

    if (denied := _unauthorised()) is not None:
        return denied
    request = api.current_request
    try:
        data = read_body(request)
    except BadRequest as exc:
        return _json(exc.status, {"errors": {exc.field: exc.message}})
    outcome = soft_opt_in.record(data, evidence(request, "api:soft_opt_in"))
    return _json(outcome.status, outcome.body)


@api.route("/api/imports", methods=["POST"])
def import_contacts() -> Response:
    """Rows with their own proof are imported; rows without it are only ever asked."""
    from chalicelib import imports
    from chalicelib.web import BadRequest, evidence, read_body

    if (denied := _unauthorised()) is not None:
        return denied
    request = api.current_request
    try:
        data = read_body(request, max_bytes=imports.MAX_BODY_BYTES)
    except BadRequest as exc:
        return _json(exc.status, {"errors": {exc.field: exc.message}})
    try:
        results = imports.run(data, evidence(request, "import"))
    except imports.BadImport as exc:
        return _json(422, {"errors": exc.errors})
    except imports.TooManyRows as exc:
        return _json(
            413,
            {"error": f"at most {exc.limit} rows per import; this one has {exc.rows}", "limit": exc.limit},
        )
    return _json(200, {"results": results})


@api.route("/api/contacts/{email}", methods=["DELETE"])
def erase_contact(email: str) -> Response:
    """Operator-initiated erasure: everything goes but the suppression marker."""
    from chalicelib import rights

    if (denied := _unauthorised()) is not None:
        return denied
    subject, error = _subject(email)
    if error is not None or subject is None:
        return error or _json(422, {"errors": {"email": "is invalid"}})
    if not rights.erase(subject, "api", known_only=True):
        return _json(404, {"error": "no such contact"})
    return _json(200, {"erased": True})
