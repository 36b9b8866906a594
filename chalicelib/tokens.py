"""Signed link tokens: what a link may do, for whom, and until when.

Each kind is signed with its own salt, so a token of one kind never passes as another:
a confirm token cannot unsubscribe and a manage token cannot confirm. ``cursor`` signs the
audience API's page cursors, so a cursor the service did not issue is refused. Keys rotate:
the newest signs, every listed key verifies.
"""

from __future__ import annotations

from typing import Any, Literal

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from chalicelib.keys import get_keys

Kind = Literal["confirm", "manage", "request", "cursor", "render"]


class TokenError(Exception):
    """A token that is tampered, foreign or of the wrong kind: one uniform answer."""


class TokenExpired(TokenError):
    """A genuine token past its lifetime: the page offers a new link of its ``kind``."""

    def __init__(self, payload: Any, kind: Kind | None = None) -> None:
        super().__init__("expired")
        self.payload: dict[str, Any] = payload if isinstance(payload, dict) else {}
        self.kind = kind


def _serializer(kind: Kind) -> URLSafeTimedSerializer:
    # itsdangerous signs with the last key in the list and verifies with all of them.
    keys = list(reversed(get_keys().token_keys))
    return URLSafeTimedSerializer(keys, salt=f"consentry.{kind}")


def sign(kind: Kind, payload: dict[str, Any]) -> str:
    return str(_serializer(kind).dumps(payload))


def load(kind: Kind, token: str, max_age: int | None = None) -> dict[str, Any]:
    """The payload of a valid token of this kind, or TokenError / TokenExpired."""
    if not token or len(token) > 2048:
        raise TokenError("malformed")
    serializer = _serializer(kind)
    try:
        payload = serializer.loads(token, max_age=max_age)
    except SignatureExpired as exc:
        # The signature was good, only old: its payload may still choose the page's language.
        try:
            old = serializer.load_payload(exc.payload) if exc.payload is not None else {}
        except BadSignature:
            old = {}
        raise TokenExpired(old, kind) from exc
    except BadSignature as exc:
        raise TokenError("invalid") from exc
    if not isinstance(payload, dict):
        raise TokenError("invalid")
    return payload
