"""Stage settings, read from the environment and validated in one place.

Chalice's local server and test client swap the stage's environment variables in around
each request, so settings are read at call time (cheaply, cached on the environment's
values) rather than once at import.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


class SettingsError(RuntimeError):
    """A stage setting is missing or malformed: a deployment fault, not a user error."""


@dataclass(frozen=True)
class Settings:
    stage: str
    table_name: str
    mail_queue: str
    secret_id: str
    sender: str
    base_url: str | None
    region: str
    pending_days: int
    confirm_token_days: int
    request_token_days: int
    rate_counter_hours: int
    import_guard_days: int
    erasure_record_days: int
    import_workers: int

    @property
    def pending_seconds(self) -> int:
        return self.pending_days * 86400

    @property
    def confirm_token_seconds(self) -> int:
        return self.confirm_token_days * 86400

    @property
    def request_token_seconds(self) -> int:
        """How long a request link works, and how long the request record is kept."""
        return self.request_token_days * 86400

    @property
    def rate_counter_seconds(self) -> int:
        return self.rate_counter_hours * 3600

    @property
    def import_guard_seconds(self) -> int:
        """How long an imported address that was asked to confirm is not asked again."""
        return self.import_guard_days * 86400

    @property
    def erasure_record_seconds(self) -> int:
        """How long the record that an erasure was done (no address) is kept."""
        return self.erasure_record_days * 86400


_KEYS = (
    "CONSENTRY_STAGE",
    "CONSENTRY_TABLE",
    "CONSENTRY_MAIL_QUEUE",
    "CONSENTRY_SECRET_ID",
    "CONSENTRY_SENDER",
    "CONSENTRY_BASE_URL",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "CONSENTRY_PENDING_DAYS",
    "CONSENTRY_CONFIRM_TOKEN_DAYS",
    "CONSENTRY_REQUEST_TOKEN_DAYS",
    "CONSENTRY_RATE_COUNTER_HOURS",
    "CONSENTRY_IMPORT_GUARD_DAYS",
    "CONSENTRY_ERASURE_RECORD_DAYS",
    "CONSENTRY_IMPORT_WORKERS",
)


def get_settings() -> Settings:
    """The settings for the environment as it is now."""
    return _build(tuple(os.environ.get(key) for key in _KEYS))


@lru_cache(maxsize=8)
def _build(values: tuple[str | None, ...]) -> Settings:
    env = dict(zip(_KEYS, values, strict=True))

    def required(key: str) -> str:
        value = env.get(key)
        if not value:
            raise SettingsError(f"{key} is not set")
        return value

    def number(key: str, default: int, unit: str, most: int) -> int:
        raw = env.get(key) or str(default)
        try:
            value = int(raw)
        except ValueError as exc:
            raise SettingsError(f"{key} must be a whole number of {unit}") from exc
        if not 1 <= value <= most:
            raise SettingsError(f"{key} must be between 1 and {most}")
        return value

    def days(key: str, default: int) -> int:
        return number(key, default, "days", 3650)

    pending_days = days("CONSENTRY_PENDING_DAYS", 30)
    confirm_days = days("CONSENTRY_CONFIRM_TOKEN_DAYS", 7)
    if confirm_days > pending_days:
        raise SettingsError("CONSENTRY_CONFIRM_TOKEN_DAYS may not exceed CONSENTRY_PENDING_DAYS")
    request_days = days("CONSENTRY_REQUEST_TOKEN_DAYS", 2)
    if request_days > 30:
        # GDPR art. 12(3): a request is answered within a month; a link may not outlive that.
        raise SettingsError("CONSENTRY_REQUEST_TOKEN_DAYS may be at most 30")
    base_url = (env.get("CONSENTRY_BASE_URL") or "").rstrip("/") or None
    return Settings(
        stage=required("CONSENTRY_STAGE"),
        table_name=required("CONSENTRY_TABLE"),
        mail_queue=required("CONSENTRY_MAIL_QUEUE"),
        secret_id=required("CONSENTRY_SECRET_ID"),
        sender=required("CONSENTRY_SENDER"),
        base_url=base_url,
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "eu-west-1",
        pending_days=pending_days,
        confirm_token_days=confirm_days,
        request_token_days=request_days,
        rate_counter_hours=number("CONSENTRY_RATE_COUNTER_HOURS", 48, "hours", 8760),
        import_guard_days=days("CONSENTRY_IMPORT_GUARD_DAYS", 365),
        erasure_record_days=days("CONSENTRY_ERASURE_RECORD_DAYS", 365),
        # Rows of one import are written by this many threads (boto3 clients are thread-safe).
        import_workers=number("CONSENTRY_IMPORT_WORKERS", 8, "threads", 10),
    )
