"""What the ledger is told and what it answers: plain frozen records, no storage in them.

``Snapshot`` is the one read model behind a person's standing: the raw items the
conditional writes are conditioned on (signups.py and choices.py plan from it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib.ledger import layout


@dataclass(frozen=True)
class Evidence:
    """How a request reached us, as API Gateway reports it (never a client header)."""

    ip: str | None
    user_agent: str | None
    channel: str
    version: str | None = None
    """The version of a form's texts the post named (versions.py); None: none was posted."""

    def as_dict(self) -> dict[str, str]:
        data = {"channel": self.channel}
        if self.ip:
            data["ip"] = self.ip
        if self.user_agent:
            data["user_agent"] = self.user_agent[:512]
        if self.version:
            data["form_version"] = self.version
        return data


@dataclass(frozen=True)
class RateCap:
    """A counter written in the same transaction as what it counts: at most ``limit`` per
    window. Keys are keyed hashes (per address, per mailbox, per IP), never a global hot key.

    ``sliding``: at most ``limit`` in any ``window_seconds`` (the mail cap: any 24 hours,
    not a calendar day), kept as the times of the last ``limit`` uses on the counter item;
    otherwise a count per fixed window (the per-IP limits, whose limits are too large for
    one slot per use)."""

    name: str
    key: str
    limit: int
    window_seconds: int
    keep_seconds: int
    sliding: bool = False


@dataclass(frozen=True)
class Person:
    """Whom a signup, a soft opt-in or an import names: the subject, and what was given
    for it (an address, a name, a language)."""

    subject: str
    email: str
    name: str | None
    lang: str


@dataclass(frozen=True)
class Signup:
    """A pending signup as recorded: what its mail job and confirm link name."""

    id: str
    subject: str
    requested_at: str
    purposes: tuple[str, ...]


@dataclass(frozen=True)
class PendingMail:
    """What the mail job needs to send one confirmation mail. No name: the mail holds only
    the request, the controller and the link (LAW 8), nothing the signup typed."""

    email: str
    lang: str
    form_id: str
    purposes: tuple[str, ...]
    expires_at: int
    already_sent: bool
    claim: str = ""
    """This delivery's claim on the mail (signups.claim_confirmation)."""
    texts: dict[str, str] = field(default_factory=dict)
    """purpose -> the version of the text the signup recorded (empty for signups stored
    before they kept it): the mail repeats what the visitor read, not today's wording."""


@dataclass(frozen=True)
class RequestMail:
    """What the mail job needs to send one access or erasure link."""

    email: str
    name: str | None
    lang: str
    claim: str = ""
    """This delivery's claim on the mail (rights.open_request)."""


@dataclass(frozen=True)
class Standing:
    """A person's current standing as the preferences page shows it (one read)."""

    subject: str
    email: str
    name: str | None
    lang: str
    states: dict[str, str]
    """purpose -> granted | withdrawn as last confirmed or withdrawn, else pending (only a
    signup waits); purposes never asked for are absent."""
    profiling: str
    """allowed (the default) or objected."""
    waiting: frozenset[str] = frozenset()
    """Purposes an unconfirmed signup asks for: shown beside the state, never instead of it."""


@dataclass(frozen=True)
class SignupNow:
    """What a confirm link would do at this moment: the confirm page's one read."""

    purposes: tuple[str, ...]
    """What the pending signup still holds; empty once it is gone."""
    confirmed: bool
    """It is gone because it was confirmed (its grants carry its id)."""
    texts: dict[str, str] = field(default_factory=dict)
    """purpose -> the version of the text the signup recorded (PendingMail.texts)."""


@dataclass(frozen=True)
class SaidNo:
    """What one 'no' changed: nothing at all when it was said before."""

    withdrawn: tuple[str, ...] = ()
    profiling: str | None = None
    """The new profiling state when it changed, else None."""
    suppressed: bool = False
    """Whether a suppression marker was written (or kept)."""
    standing: Standing | None = None
    """The standing after the change; None for a subject nobody is on file for."""
    repeated: bool = False
    """The same notice was recorded before (a redelivered SES notification): nothing new."""

    @property
    def changed(self) -> bool:
        return bool(self.withdrawn) or self.profiling is not None


@dataclass(frozen=True)
class AudienceMember:
    subject: str
    email: str
    name: str | None
    lang: str
    profiling_allowed: bool


@dataclass
class Snapshot:
    """The raw items behind a Standing: what conditional writes are conditioned on."""

    subject: str
    profile: dict[str, Any]
    profiling: dict[str, Any] | None
    states: dict[str, dict[str, Any]]
    pending: list[dict[str, Any]]

    @property
    def expires_at(self) -> int | None:
        """A pending-only person's expiry, which new items share; None once retained."""
        value = self.profile.get("expires_at")
        return None if value is None or isinstance(value, str) else int(value)

    @property
    def purposes(self) -> set[str]:
        """Every purpose this person has a state or a pending signup for."""
        return set(self.states) | {p for item in self.pending for p in item["purposes"]}

    @property
    def profiling_state(self) -> str:
        return str((self.profiling or {}).get("state", "allowed"))

    @property
    def waiting(self) -> frozenset[str]:
        """Purposes some unconfirmed signup asks for."""
        return frozenset(p for item in self.pending for p in item["purposes"])

    @property
    def lang(self) -> str | None:
        return self.profile.get("lang")

    def pending_signup(self, signup_id: str) -> dict[str, Any] | None:
        """The signup's pending item while it waits (not expired, not confirmed, not emptied)."""
        sk = layout.pending(self.subject, signup_id)["sk"]
        return next((p for p in self.pending if p["sk"] == sk), None)

    def confirmed_by(self, signup_id: str) -> bool:
        """Whether this signup granted something once: a grant keeps its signup's id, also
        after a later withdrawal, so an old link never grants again."""
        return any(i.get("signup") == signup_id for i in self.states.values())

    def standing(self) -> Standing:
        """A waiting signup never hides a state: a purpose is pending only while nothing
        was confirmed or withdrawn for it."""
        states = {p: str(i["state"]) for p, i in self.states.items()}
        for purpose in self.waiting:
            states.setdefault(purpose, "pending")
        return Standing(
            subject=self.subject,
            email=self.profile["email"],
            name=self.profile.get("name"),
            lang=self.profile.get("lang") or "nl",
            states=dict(sorted(states.items())),
            profiling=self.profiling_state,
            waiting=self.waiting,
        )
