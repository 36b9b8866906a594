"""The sending system's API, behind a bearer key: who is on file, and what they agreed to.

Every route answers JSON; what a flow refuses is answered by views/answers.py.
"""

from __future__ import annotations

from urllib.parse import unquote

from chalice import Blueprint, Response

from chalicelib.views.answers import json_answer, requires_key

api = Blueprint(__name__)


def _subject(raw_email: str) -> str:
    """The subject of an address in the path; Invalid for one that is no address."""
    from chalicelib.keys import get_keys
    from chalicelib.models import normalise_email
    from chalicelib.refusals import Invalid

    try:
        email = normalise_email(unquote(raw_email))
    except ValueError as exc:
        raise Invalid({"email": str(exc)}) from None
    return get_keys().subject_id(email)


def _contact(subject: str) -> dict[str, object]:
    from chalicelib.ledger import get_ledger, utc_now
    from chalicelib.refusals import NotFound

    contact = get_ledger().contact(subject, utc_now())
    if contact is None:
        raise NotFound("contact")
    return contact


@api.route("/api/contacts/{email}", methods=["GET"])
@requires_key
def get_contact(email: str) -> Response:
    return json_answer(200, _contact(_subject(email)))


@api.route("/api/contacts/{email}/events", methods=["GET"])
@requires_key
def get_contact_events(email: str) -> Response:
    from chalicelib.ledger import get_ledger, utc_now

    subject = _subject(email)
    _contact(subject)
    return json_answer(200, {"events": get_ledger().events(subject, utc_now())})


@api.route("/api/contacts/{email}/evidence", methods=["GET"])
@requires_key
def get_contact_evidence(email: str) -> Response:
    """The dossier that proves a person's consent history and says whether it verifies
    (issue 14): JSON, or with ``Accept: text/html`` a printable page."""
    from chalicelib.evidence import dossier
    from chalicelib.ledger import utc_now
    from chalicelib.refusals import NotFound

    found = dossier(_subject(email), utc_now())
    if found is None:
        raise NotFound("contact")
    if "text/html" in (api.current_request.headers.get("accept") or ""):
        from chalicelib.pages import page
        from chalicelib.views.answers import scene

        return page("evidence.html", scene().language(), link_page=True, dossier=found, root="../../../")
    return json_answer(200, found)


@api.route("/api/links", methods=["POST"])
@requires_key
def make_links() -> Response:
    """The unsubscribe URL and List-Unsubscribe headers for one known address."""
    from chalicelib import audiences
    from chalicelib.models import LinkRequest, ValidationError, field_errors
    from chalicelib.refusals import Invalid
    from chalicelib.web import read_body

    try:
        request = LinkRequest.model_validate(read_body(api.current_request))
    except ValidationError as exc:
        raise Invalid(field_errors(exc)) from None
    return json_answer(200, audiences.links(request.email, request.purpose))


@api.route("/api/audiences/{purpose}", methods=["GET"])
@requires_key
def get_audience(purpose: str) -> Response:
    """Exactly the granted, unsuppressed contacts for a purpose, a page at a time."""
    from chalicelib import audiences
    from chalicelib.models import AudienceQuery, ValidationError, field_errors
    from chalicelib.refusals import Invalid

    try:
        query = AudienceQuery.model_validate(dict(api.current_request.query_params or {}))
    except ValidationError as exc:
        raise Invalid(field_errors(exc)) from None
    page = audiences.audience(unquote(purpose), query.limit, query.cursor)
    return json_answer(200, {"contacts": page.contacts, "next": page.next})


# -- proof and rights -------------------------------------------------------------------


@api.route("/api/soft-opt-ins", methods=["POST"])
@requires_key
def record_soft_opt_in() -> Response:
    """A customer's own similar products, mailed without fresh consent: proven or refused."""
    from chalicelib import soft_opt_in
    from chalicelib.web import evidence, read_body

    request = api.current_request
    return json_answer(201, soft_opt_in.record(read_body(request), evidence(request, "api:soft_opt_in")))


@api.route("/api/imports", methods=["POST"])
@requires_key
def import_contacts() -> Response:
    """Rows with their own proof are imported; rows without it are only ever asked."""
    from chalicelib import imports
    from chalicelib.web import evidence, read_body

    request = api.current_request
    data = read_body(request, max_bytes=imports.MAX_BODY_BYTES)
    return json_answer(200, {"results": imports.run(data, evidence(request, "import"))})


@api.route("/api/contacts/{email}", methods=["DELETE"])
@requires_key
def erase_contact(email: str) -> Response:
    """Operator-initiated erasure: everything goes but the suppression marker."""
    from chalicelib import rights
    from chalicelib.refusals import NotFound

    if not rights.erase(_subject(email), "api", known_only=True):
        raise NotFound("contact")
    return json_answer(200, {"erased": True})
