"""Where links in mail and pages point: the service's public address, written nowhere twice.

A stage that sets ``CONSENTRY_BASE_URL`` gets exactly that (the local stack sets the app's
loopback address; tests set their own). The deployed stages do not set it: links go to the
address the request came in on, as API Gateway reports it. For a stage with a custom
domain (prod: ``api_gateway_custom_domain`` in .chalice/config.json, the one place the
domain is written) that is ``https://<domain>``; for a stage without one (dev) it is the
API's own ``https://<id>.execute-api.<region>.amazonaws.com/<stage>``, the URL
``chalice deploy`` prints. API Gateway sets ``requestContext.domainName`` itself: a client
cannot put another host there (a request for a host API Gateway does not serve never
reaches the function).

The mail worker has no request: a mail job carries the base URL of the request that queued
it (``jobs.enqueue``), and the worker links to that (``use``). Nothing known: no link, and no mail (the job
fails and is retried, then dead-lettered).
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from typing import Any

_current: ContextVar[str | None] = ContextVar("base_url", default=None)
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")
_SEGMENT = re.compile(r"^[A-Za-z0-9._~-]+$")
_BASE = re.compile(r"^https://[a-z0-9.-]+(/[A-Za-z0-9._~-]+)*$")


def from_request(context: dict[str, Any] | None) -> str | None:
    """The base URL API Gateway's request context describes, or None (chalice local, tests).

    ``requestContext.path`` is the path as the browser sent it (with the stage on the
    execute-api host, with the mapping's base path on a custom domain); ``resourcePath`` is
    the route. What the first has in front of the second is the prefix; segments are
    counted, so percent-encoding in a path parameter cannot shift it.
    """
    context = context or {}
    domain, path, route = context.get("domainName"), context.get("path"), context.get("resourcePath")
    if not (isinstance(domain, str) and isinstance(path, str) and isinstance(route, str)):
        return None
    domain = domain.lower()
    if not _HOST.match(domain):
        return None
    segments = [s for s in path.split("/") if s]
    extra = len(segments) - len([s for s in route.split("/") if s])
    if extra < 0 or not all(_SEGMENT.match(s) for s in segments[:extra]):
        return None
    return "/".join([f"https://{domain}", *segments[:extra]])


def use(url: str | None) -> None:
    """Links made from now on in this request or job point at ``url`` (when it is one)."""
    _current.set(url if isinstance(url, str) and _BASE.match(url) else None)


def of_request() -> str | None:
    """The base URL the request or job at hand came with, whatever the stage sets."""
    return _current.get()


def current() -> str | None:
    """The stage's CONSENTRY_BASE_URL if set, else that of the request or job at hand."""
    from chalicelib.settings import get_settings

    return get_settings().base_url or _current.get()
