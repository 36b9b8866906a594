"""The caps that stop anyone from turning the service against an inbox or the mail quota.

One cap per address for every mail that anyone can trigger without proving the address
(confirmations of signups and of imports without proof, access and erasure links), shared
by all of them: at most ``CONSENTRY_MAILS_PER_ADDRESS_PER_DAY`` in any 24 hours. It is
counted per mailbox, a keyed hash of the address lower-cased with its ``+tag`` removed,
so ``dave+1@`` and ``dave+2@`` share one inbox's cap while each stays its own person in the
ledger (and the address's own mails are among its mailbox's). Per network, a limit per hour
on signups and on requests.

Each counter is charged in the same write as what it counts: a signup's transaction, an
import row's, and for access and erasure the mail worker's write that opens the request,
because only the worker knows whether the address is on file (the answer to
``POST /requests`` is the same whatever the address, and so is what it stores: nothing).
"""

from __future__ import annotations

from chalicelib.keys import get_keys
from chalicelib.ledger import RateCap
from chalicelib.settings import get_settings

DAY = 86400
HOUR = 3600
MAIL_COUNTERS = frozenset({"mail", "mailbox"})
"""Counter names of the per-address mail cap: over it, the answer stays the usual one."""


def mailbox_key(email: str) -> str:
    """The keyed hash of a normalised address's mailbox: the mailbox counter's key."""
    from chalicelib.fields import mailbox  # its regexes: not for the mail worker's cold start

    return get_keys().subject_id(f"mailbox:{mailbox(email)}")


def mail_caps(subject: str, mailbox_hash: str | None) -> list[RateCap]:
    """The shared per-address mail cap: per mailbox where it is known, else per subject.

    One counter is enough: an address has one mailbox (both are made from the lower-cased
    address), so every mail counted against an address is also counted against its mailbox,
    with the same limit, and the mailbox's counter refuses whatever the address's would
    (issue 16: the second counter cost 2 write units a signup). Only a job queued without
    its mailbox (before issue 10) is counted per subject."""
    settings = get_settings()
    keep = settings.rate_counter_seconds
    limit = settings.mails_per_address_per_day
    if mailbox_hash:
        return [RateCap("mailbox", mailbox_hash, limit, DAY, keep, sliding=True)]
    return [RateCap("mail", subject, limit, DAY, keep, sliding=True)]


def network_cap(kind: str, ip: str | None) -> list[RateCap]:
    """Posts of one kind (``signups``, ``requests``) per IP address an hour; none without an IP."""
    if not ip:
        return []
    settings = get_settings()
    name = "ip" if kind == "signups" else f"ip-{kind}"
    key = get_keys().subject_id(f"ip:{ip}")
    return [RateCap(name, key, settings.signups_per_ip_per_hour, HOUR, settings.rate_counter_seconds)]
