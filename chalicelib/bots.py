"""Optional bot defences of a form, beyond the honeypot every form has.

A signed render time: the page carries when it was rendered, signed, so a post that comes
faster than a person could fill in the form is dropped silently (the same answer, nothing
stored). A post without the field (a customer's own HTML form) is not held against anyone.
A genuine stamp older than a day is a person who left the form open, not a bot: the form
is shown again, with a fresh stamp and a word why.

A bot challenge (Cloudflare Turnstile or hCaptcha), off unless a form asks for it, verified
server-side against the provider (or, in tests, a fake verifier on loopback).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
import urllib.request

from chalicelib import tokens
from chalicelib.catalogue import CHALLENGES, Form
from chalicelib.keys import get_keys
from chalicelib.settings import get_settings

log = logging.getLogger("consentry.bots")
RENDER_FIELD = "rendered"
MAX_RENDER_AGE = 86400


class ChallengeUnavailable(RuntimeError):
    """The provider did not answer: the visitor may try again; nothing is stored."""


def render_stamp(form: Form) -> str | None:
    """The signed render time for a form that wants one (costs the stage secret's read)."""
    if form.min_fill_seconds <= 0:
        return None
    return tokens.sign("render", {"f": form.id, "t": int(time.time())})


STALE = "the form was loaded more than a day ago: check it and send it again"


def stamp_verdict(form: Form, stamp: object) -> str:
    """``ok``; ``bot`` to drop a post silently (its render stamp is forged, foreign or too
    young); or ``stale``: a genuine stamp of this form, older than a day."""
    if form.min_fill_seconds <= 0 or stamp is None or stamp == "":
        return "ok"
    if not isinstance(stamp, str):
        return "bot"
    try:
        payload = tokens.load("render", stamp, max_age=MAX_RENDER_AGE)
    except tokens.TokenExpired as exc:
        return "stale" if exc.payload.get("f") == form.id else "bot"
    except tokens.TokenError:
        return "bot"
    if payload.get("f") != form.id or not isinstance(payload.get("t"), int):
        return "bot"
    return "bot" if time.time() - payload["t"] < form.min_fill_seconds else "ok"


def answer_field(form: Form) -> str | None:
    return CHALLENGES[form.challenge][2] if form.challenge else None


def verify_challenge(form: Form, answer: object, ip: str | None) -> bool:
    """Ask the provider whether the visitor passed; True for a form without a challenge."""
    if not form.challenge:
        return True
    if not isinstance(answer, str) or not answer or len(answer) > 4096:
        return False
    secret = get_keys().challenge_secret
    if not secret:
        raise ChallengeUnavailable("no challenge_secret in the stage secret")
    url = get_settings().challenge_verify_url or CHALLENGES[form.challenge][3]
    fields = {"secret": secret, "response": answer, **({"remoteip": ip} if ip else {})}
    request = urllib.request.Request(  # noqa: S310 - the URL is a setting or the provider's
        url, data=urllib.parse.urlencode(fields).encode(), method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            verdict = json.loads(response.read(65536))
    except (OSError, ValueError) as exc:
        log.warning("challenge verification failed", extra={"error": type(exc).__name__})
        raise ChallengeUnavailable("the challenge provider did not answer") from exc
    return bool(isinstance(verdict, dict) and verdict.get("success") is True)
