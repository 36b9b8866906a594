"""Reading a Chalice request: its body, where it came from, what answer it wants.

Kept apart from the views so every route parses the same way and the rules (size cap,
evidence from API Gateway's context only) live in one place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:
    from chalice.app import Request

    from chalicelib.ledger import Evidence

Headers = dict[str, str | list[str]]
"""An answer's headers, as Chalice's Response takes them."""

MAX_BODY = 16 * 1024
MAX_FIELDS = 100
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
MULTIPART = "multipart/form-data"


class BadRequest(Exception):
    """A body that cannot be read at all: answered with the status it carries."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.message = message


class OriginRefused(Exception):
    """A post from a site that may not send it (403); the message says to whom."""


def content_type(request: Request) -> str:
    return (request.headers.get("content-type") or "").split(";")[0].strip().lower()


def query_of(request: Request) -> Mapping[str, str]:
    """The query string's parameters (a repeated one: its last value)."""
    return request.query_params or {}


def wants_json(request: Request) -> bool:
    return content_type(request) == JSON


def read_body(request: Request, repeated: tuple[str, ...] = (), max_bytes: int = MAX_BODY) -> dict[str, Any]:
    """A form, multipart form or JSON body as a dict; fields named in ``repeated`` stay lists.

    Every route reads its body here, so one set of limits holds everywhere: ``max_bytes``
    (the visitor's 16 KiB unless a route needs more: an import batch), valid UTF-8, at
    most 100 form fields, JSON nested no deeper than Python can parse. Anything else is
    a BadRequest (400, 413 or 422), never an exception the caller did not expect.
    """
    body = request.raw_body or b""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if len(raw) > max_bytes:
        raise BadRequest(413, "body", f"the body may be at most {max_bytes} bytes")
    if content_type(request) == MULTIPART:
        pairs = _multipart_fields(raw, request.headers.get("content-type") or "")
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest(400, "body", "the body is not valid UTF-8") from None
        if wants_json(request):
            return _json_object(text)
        try:
            pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
        except ValueError:
            raise BadRequest(400, "body", "the body has too many fields") from None
    fields: dict[str, Any] = {}
    for name, value in pairs:
        if name in repeated:
            fields.setdefault(name, []).append(value)
        else:
            fields[name] = value
    return fields


def _json_object(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text) if text.strip() else {}
    except (ValueError, RecursionError):
        raise BadRequest(400, "body", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest(422, "body", "the body must be a JSON object")
    return data


def _multipart_fields(raw: bytes, header: str) -> list[tuple[str, str]]:
    """The text fields of a small multipart/form-data body (RFC 8058 one-click prefers it).

    Parts in another multipart, without a field name, or in a charset nobody knows make
    the body unreadable (400): the parser's own errors never reach the caller."""
    from email import message_from_bytes, policy
    from email.errors import MessageError

    if "\r" in header or "\n" in header:
        raise BadRequest(400, "body", "the Content-Type header is malformed")
    unreadable = BadRequest(400, "body", "the multipart body cannot be read")
    try:
        message = message_from_bytes(
            b"Content-Type: " + header.encode("utf-8", "replace") + b"\r\n\r\n" + raw, policy=policy.HTTP
        )
        if not message.is_multipart():
            raise unreadable
        fields = []
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.is_multipart() or not isinstance(name, str):
                raise unreadable
            payload = part.get_payload(decode=True)
            if not isinstance(payload, bytes):
                raise unreadable
            fields.append((name, payload.decode(part.get_content_charset() or "utf-8")))
            if len(fields) > MAX_FIELDS:
                raise BadRequest(400, "body", "the body has too many fields")
    except (LookupError, ValueError, TypeError, AttributeError, MessageError):
        # LookupError: an unknown charset (or a key the parser missed); ValueError: bytes
        # that are not in their charset.
        raise unreadable from None
    return fields


def evidence(request: Request, channel: str) -> Evidence:
    """Source IP and user agent as API Gateway reports them; never X-Forwarded-For."""
    from chalicelib.ledger import Evidence

    identity = (request.context or {}).get("identity") or {}
    agent = identity.get("userAgent") or request.headers.get("user-agent")
    return Evidence(ip=identity.get("sourceIp"), user_agent=agent, channel=channel)


def own_origins(request: Request, base_url: str | None) -> set[str]:
    origins = set()
    if base_url:
        parts = urlsplit(base_url)
        origins.add(f"{parts.scheme}://{parts.netloc}")
    host = request.headers.get("host")
    if host:
        origins.update({f"https://{host}", f"http://{host}"})
    return origins


def origin_allowed(request: Request, allowed: tuple[str, ...], base_url: str | None) -> bool:
    """No Origin (a server or an old browser) is fine; a present one must be listed or ours."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin in allowed or origin in own_origins(request, base_url)


# What an answer that is no page gets (JSON, Chalice's own 405/415/500): nothing may run,
# load or frame it. Pages set their own, stricter-tailored policy (pages.security_headers).
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
HSTS = "max-age=63072000; includeSubDomains"


def secure(headers: Headers, *, https: bool) -> None:
    """Give an answer the headers every answer carries, where its view set none: a CSP,
    ``nosniff``, and over HTTPS ``Strict-Transport-Security`` (never over plain HTTP, where
    browsers ignore it anyway: ``chalice local``)."""
    present = {name.lower() for name in headers}
    if "content-security-policy" not in present:
        headers["Content-Security-Policy"] = DEFAULT_CSP
    if "x-content-type-options" not in present:
        headers["X-Content-Type-Options"] = "nosniff"
    if https and "strict-transport-security" not in present:
        headers["Strict-Transport-Security"] = HSTS


def cors_headers(request: Request, allowed: tuple[str, ...]) -> dict[str, str]:
    """CORS for one listed origin at a time: never a wildcard, never with credentials."""
    origin = request.headers.get("origin")
    if origin is None or origin not in allowed:
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
