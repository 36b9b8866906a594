"""The stage's secrets, read from Secrets Manager and kept for a few minutes per container.

The secret is a JSON object. ``master_key`` alone is enough (the resource stack generates
it): a token key and the subject key are derived from it. ``subject_key`` (derived or
given) must never change: it keys the subject ids the ledger and suppression markers are
stored by. ``api_keys`` lists the bearer keys the sending system may use.

Rotating the link-signing key: put a new key first in ``token_keys``. The newest key signs;
every listed key, and the one derived from ``master_key``, still verifies, so links already
mailed keep working. Retire a key by removing it from the list; retire the derived one with
``"master_token_key_retired": true``. Containers pick the change up within CACHE_SECONDS.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from functools import lru_cache

from chalicelib import aws
from chalicelib.settings import get_settings


class KeysError(RuntimeError):
    """The secret is missing or malformed: a deployment fault."""


@dataclass(frozen=True)
class Keys:
    token_keys: tuple[str, ...]
    subject_key: bytes
    api_keys: tuple[str, ...]
    challenge_secret: str | None = None

    def subject_id(self, normalised_email: str) -> str:
        """Keyed hash of an address: the ledger key, leaking nothing, surviving erasure."""
        mac = hmac.new(self.subject_key, normalised_email.lower().encode(), hashlib.sha256)
        return mac.hexdigest()[:40]

    def api_key_valid(self, candidate: str) -> bool:
        return any(hmac.compare_digest(candidate.encode(), k.encode()) for k in self.api_keys)


MIN_API_KEY_LENGTH = 8
"""Shorter keys are guessable; `make rotate-api-key` makes 43-character ones."""


def _derive(master: str, label: str) -> str:
    return hmac.new(master.encode(), label.encode(), hashlib.sha256).hexdigest()


def parse(secret_string: str) -> Keys:
    try:
        data = json.loads(secret_string)
    except ValueError as exc:
        raise KeysError("the key secret is not JSON") from exc
    master = data.get("master_key")
    token_keys = [k for k in data.get("token_keys") or [] if isinstance(k, str) and len(k) >= 32]
    if master and not data.get("master_token_key_retired"):
        token_keys.append(_derive(master, "token"))
    subject_key = data.get("subject_key") or (_derive(master, "subject") if master else None)
    if not token_keys or not subject_key:
        raise KeysError("the key secret needs master_key, or token_keys and subject_key")
    listed = data.get("api_keys", [])
    if not isinstance(listed, list):
        raise KeysError("api_keys must be a list of keys")
    short = [i for i, k in enumerate(listed) if not isinstance(k, str) or len(k) < MIN_API_KEY_LENGTH]
    if short:
        # Refused loudly, never dropped: ops who added a key must learn it does not work.
        raise KeysError(f"api_keys {short} (by position) are not strings of {MIN_API_KEY_LENGTH}+ characters")
    api_keys = tuple(listed)
    challenge = data.get("challenge_secret")
    challenge_secret = challenge if isinstance(challenge, str) and challenge else None
    return Keys(tuple(token_keys), subject_key.encode(), api_keys, challenge_secret)


CACHE_SECONDS = 300


def get_keys() -> Keys:
    settings = get_settings()
    return _fetch(settings.secret_id, settings.region, int(time.time() // CACHE_SECONDS))


@lru_cache(maxsize=4)
def _fetch(secret_id: str, region: str, period: int) -> Keys:
    """One Secrets Manager read per container and period (``period`` only keys the cache)."""
    client = aws.client("secretsmanager", region)
    value = client.get_secret_value(SecretId=secret_id)
    return parse(value["SecretString"])


def clear_cache() -> None:
    """Forget the cached secret (after a rotation, or between test cases)."""
    _fetch.cache_clear()
