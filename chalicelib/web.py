"""Reading a Chalice request: its body, where it came from, what answer it wants.

Kept apart from the views so every route parses the same way and the rules (size cap,
evidence from API Gateway's context only) live in one place.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from chalice.app import Request

    from chalicelib.ledger import Evidence

MAX_BODY = 16 * 1024
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


class BadRequest(Exception):
    """A body that cannot be read at all: answered with the status it carries."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.message = message


def content_type(request: Request) -> str:
    return (request.headers.get("content-type") or "").split(";")[0].strip().lower()


def wants_json(request: Request) -> bool:
    return content_type(request) == JSON


def read_body(request: Request, repeated: tuple[str, ...] = (), max_bytes: int = MAX_BODY) -> dict[str, Any]:
    """A form or JSON body as a dict; fields named in ``repeated`` stay lists.

    ``max_bytes`` is the visitor's 16 KiB unless a route needs more (an import batch).
    """
    raw = request.raw_body or b""
    if len(raw) > max_bytes:
        raise BadRequest(413, "body", f"the body may be at most {max_bytes} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(400, "body", "the body is not valid UTF-8") from None
    if wants_json(request):
        try:
            data = json.loads(text) if text.strip() else {}
        except (ValueError, RecursionError):
            raise BadRequest(400, "body", "the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise BadRequest(422, "body", "the body must be a JSON object")
        return data
    try:
        parsed = parse_qs(text, keep_blank_values=True, max_num_fields=100)
    except ValueError:
        raise BadRequest(400, "body", "the body has too many fields") from None
    return {k: (v if k in repeated else v[-1]) for k, v in parsed.items()}


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


def cors_headers(request: Request, allowed: tuple[str, ...]) -> dict[str, str]:
    """CORS for one listed origin at a time: never a wildcard, never with credentials."""
    origin = request.headers.get("origin")
    if origin is None or origin not in allowed:
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
