"""The stage's digest signing key in KMS: the only module with a KMS client.

The key is asymmetric (ECC_NIST_P256, ECDSA with SHA-256): the private half never leaves
KMS, and only the digest function's role may use it to sign (.chalice/policy-<stage>-digest.json);
anyone with the public half verifies digests offline (scripts/verify.py). Its alias is
``alias/consentry-<stage>-digest`` (resources.yaml), or ``CONSENTRY_DIGEST_KEY``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

ALGORITHM = "ECDSA_SHA_256"


def key_alias() -> str:
    stage = os.environ.get("CONSENTRY_STAGE", "dev")
    return os.environ.get("CONSENTRY_DIGEST_KEY") or f"alias/consentry-{stage}-digest"


@lru_cache(maxsize=4)
def _client(region: str) -> Any:
    from chalicelib import aws

    return aws.client("kms", region)


def _kms() -> Any:
    from chalicelib.settings import get_settings

    return _client(get_settings().region)


def sign(message: bytes) -> tuple[str, bytes]:
    """The key's ARN and its signature over ``message`` (KMS hashes it: MessageType RAW)."""
    answer = _kms().sign(KeyId=key_alias(), Message=message, MessageType="RAW", SigningAlgorithm=ALGORITHM)
    return str(answer["KeyId"]), bytes(answer["Signature"])
