"""Stage settings, read from the environment and validated in one place.

Chalice's local server and test client swap the stage's environment variables in around
each request, so settings are read at call time (cheaply, cached on the environment's
values) rather than once at import.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache


class SettingsError(RuntimeError):
    """A stage setting is missing or malformed: a deployment fault, not a user error."""


@dataclass(frozen=True)
class Settings:
    stage: str
    table_name: str
    mail_queue: str
    confirm_queue: str
    secret_id: str
    sender: str
    base_url: str | None
    region: str
    pending_days: int
    confirm_token_days: int
    mails_per_address_per_day: int
    signups_per_ip_per_hour: int
    rate_counter_hours: int
    request_token_days: int
    import_guard_days: int
    erasure_record_days: int
    import_workers: int
    unsubscribe_mailto: str | None = None
    ses_configuration_set: str | None = None
    challenge_verify_url: str | None = None
    erasure_journal: str | None = None
    """The table that remembers erasures (subject hash, time) outside the ledger, replayed
    after a restore from backup; unset: no journal (docs/operations.md)."""
    event_bus: str | None = None
    """The EventBridge bus consent changes are pushed to (issue 14; app.py push_changes)."""

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
    "CONSENTRY_CONFIRM_QUEUE",
    "CONSENTRY_SECRET_ID",
    "CONSENTRY_SENDER",
    "CONSENTRY_BASE_URL",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "CONSENTRY_PENDING_DAYS",
    "CONSENTRY_CONFIRM_TOKEN_DAYS",
    "CONSENTRY_MAILS_PER_ADDRESS_PER_DAY",
    "CONSENTRY_SIGNUPS_PER_IP_PER_HOUR",
    "CONSENTRY_RATE_COUNTER_HOURS",
    "CONSENTRY_UNSUBSCRIBE_MAILTO",
    "CONSENTRY_SES_CONFIGURATION_SET",
    "CONSENTRY_CHALLENGE_VERIFY_URL",
    "CONSENTRY_REQUEST_TOKEN_DAYS",
    "CONSENTRY_IMPORT_GUARD_DAYS",
    "CONSENTRY_ERASURE_RECORD_DAYS",
    "CONSENTRY_IMPORT_WORKERS",
    "CONSENTRY_ERASURE_JOURNAL",
    "CONSENTRY_EVENT_BUS",
)
# A bare address for the mailto: of List-Unsubscribe; it ends up inside a mail header.
_MAILTO = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
_CONFIG_SET = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


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
    mailto = env.get("CONSENTRY_UNSUBSCRIBE_MAILTO") or None
    if mailto and not _MAILTO.match(mailto):
        raise SettingsError("CONSENTRY_UNSUBSCRIBE_MAILTO must be a bare address (name@domain)")
    config_set = env.get("CONSENTRY_SES_CONFIGURATION_SET") or None
    if config_set and not _CONFIG_SET.match(config_set):
        raise SettingsError("CONSENTRY_SES_CONFIGURATION_SET must be an SES configuration set name")
    return Settings(
        stage=required("CONSENTRY_STAGE"),
        table_name=required("CONSENTRY_TABLE"),
        mail_queue=required("CONSENTRY_MAIL_QUEUE"),
        confirm_queue=required("CONSENTRY_CONFIRM_QUEUE"),
        secret_id=required("CONSENTRY_SECRET_ID"),
        sender=required("CONSENTRY_SENDER"),
        base_url=base_url,
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "eu-west-1",
        pending_days=pending_days,
        confirm_token_days=confirm_days,
        mails_per_address_per_day=number("CONSENTRY_MAILS_PER_ADDRESS_PER_DAY", 3, "mails", 10),
        signups_per_ip_per_hour=number("CONSENTRY_SIGNUPS_PER_IP_PER_HOUR", 30, "signups", 1_000_000),
        rate_counter_hours=number("CONSENTRY_RATE_COUNTER_HOURS", 48, "hours", 8760),
        unsubscribe_mailto=mailto,
        ses_configuration_set=config_set,
        # Only to point a stage (or a test) at another verifier; unset: the provider's own.
        challenge_verify_url=env.get("CONSENTRY_CHALLENGE_VERIFY_URL") or None,
        request_token_days=request_days,
        import_guard_days=days("CONSENTRY_IMPORT_GUARD_DAYS", 365),
        erasure_record_days=days("CONSENTRY_ERASURE_RECORD_DAYS", 365),
        # Rows of one import are written by this many threads (boto3 clients are thread-safe).
        import_workers=number("CONSENTRY_IMPORT_WORKERS", 8, "threads", 10),
        erasure_journal=env.get("CONSENTRY_ERASURE_JOURNAL") or None,
        event_bus=env.get("CONSENTRY_EVENT_BUS") or None,
    )
