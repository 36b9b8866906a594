"""The plain ASCII address, normalised without email-validator: a cold start's saving.

Importing email-validator (and idna's Unicode tables behind it) costs a cold signup about a
quarter of the baseline (docs/operations.md, Performance). Nearly every address is plain:
ASCII, a dot-atom before the @ and a host name of letters, digits and hyphens after it.
For such an address email-validator's answer is known without it: the same address with
the domain in lower case (and an RFC 2142 role name such as ``Info`` in lower case too).
``plain_address`` gives that answer where it is sure of it and None everywhere else (an
internationalised or Punycode domain, a quoted local part, anything odd), and
fields.normalise_email then asks email-validator, which also words every refusal. It
never refuses and never accepts what email-validator would refuse:
tests/test_plain_address.py checks it against email-validator over thousands of addresses.
"""

from __future__ import annotations

import re

# RFC 5322 atext (email_validator.rfc_constants.ATEXT): a dot-atom local part
_ATEXT = r"[A-Za-z0-9_!#$%&'*+\-/=?^`{|}~]+"
_LOCAL = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*\Z")
# Host name labels (RFC 952/1123), at least two.
_LABEL = r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.{_LABEL}\Z")
# Two characters and two hyphens open a label only in Punycode (xn--), which IDNA must check.
_HYPHENS_34 = re.compile(r"(?:\A|\.)..--")
# email_validator.SPECIAL_USE_DOMAIN_NAMES, with test_environment off (as fields.py calls it)
SPECIAL_USE = ("arpa", "invalid", "local", "localhost", "onion", "test")
_SPECIAL_ENDINGS = tuple("." + name for name in SPECIAL_USE)
# email_validator.rfc_constants.CASE_INSENSITIVE_MAILBOX_NAMES (RFC 2142): lower-cased
ROLE_NAMES = frozenset(
    [
        "info",
        "marketing",
        "sales",
        "support",
        "abuse",
        "noc",
        "security",
        "postmaster",
        "hostmaster",
        "usenet",
        "news",
        "webmaster",
        "www",
        "uucp",
        "ftp",
    ]
)
MAX_DOMAIN = 253
MAX_ADDRESS = 254  # RFC 5321 with errata (email-validator's limit)


def plain_address(value: str) -> str | None:
    """email-validator's ASCII form of ``value`` if it is a plain ASCII address; None if
    email-validator must judge it."""
    if len(value) > MAX_ADDRESS or not value.isascii() or value.count("@") != 1:
        return None
    local, _, domain = value.partition("@")
    if not _LOCAL.match(local) or len(domain) > MAX_DOMAIN or not _DOMAIN.match(domain):
        return None
    if not domain[-1].isalpha():  # every top-level domain ends in a letter
        return None
    domain = domain.lower()
    if _HYPHENS_34.search(domain) or domain.endswith(_SPECIAL_ENDINGS):
        return None
    if local.lower() in ROLE_NAMES:
        local = local.lower()
    return f"{local}@{domain}"
