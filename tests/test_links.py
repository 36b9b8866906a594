"""Links in mail reach the deployed API, on a stage with a custom domain (prod) and on one
without (dev), although neither stage writes its address in an environment variable: the
address is the one API Gateway says the request came in on (chalicelib/baseurl.py)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from bench.events import LambdaContext, api_event, match_route
from tests.conftest import ROOT

CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text())
EXECUTE_API = "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def gateway(method: str, url: str, body: str | None = None, headers: dict[str, str] | None = None) -> Any:
    """Call the app as API Gateway would for this URL: the host picks the API, a stage or
    the domain's base path mapping is stripped, the rest is matched against the routes."""
    import app

    parts = urlsplit(url)
    path = parts.path
    if parts.hostname == EXECUTE_API:  # the execute-api host: the first segment is the stage
        stage, _, rest = path.lstrip("/").partition("/")
        assert stage == CONFIG["stages"]["dev"]["api_gateway_stage"]
        path = "/" + rest
    found = match_route(list(app.app.routes), path)
    assert found, f"no route serves {path}"
    template, params = found
    event = api_event(
        method, template, path, params, headers={"Host": parts.hostname, **(headers or {})}, body=body
    )
    event["requestContext"].update(domainName=parts.hostname, path=parts.path)
    return template, app.app(event, LambdaContext())


def _mailed_link(visitor, email: str, kind: str) -> str:
    text = visitor.mail_to(email)[-1].get_body(("plain",)).get_content()
    match = re.search(r"https://\S+/" + kind + r"/[A-Za-z0-9_.\-]+", text)
    assert match, text
    return match.group(0)


@pytest.mark.parametrize(
    ("form_url", "base"),
    [
        (f"https://{EXECUTE_API}/api/forms/newsletter", f"https://{EXECUTE_API}/api"),  # dev
        ("https://consent.consentry.example/forms/newsletter", "https://consent.consentry.example"),  # prod
    ],
    ids=["dev-without-domain", "prod-custom-domain"],
)
def test_the_confirmation_link_resolves_to_the_deployed_apis_confirm_route(
    visitor, monkeypatch, form_url, base
):
    monkeypatch.delenv("CONSENTRY_BASE_URL")  # as on the deployed stages
    email = "linked@example.com"
    body = urlencode([("email", email), ("purposes", "newsletter")])
    _, answer = gateway("POST", form_url, body, FORM)
    assert answer["statusCode"] == 200, answer["body"]
    visitor.run_mail_jobs()
    link = _mailed_link(visitor, email, "confirm")
    assert link.startswith(f"{base}/confirm/")

    template, page = gateway("GET", link)
    assert template == "/confirm/{token}" and page["statusCode"] == 200
    # Served over HTTPS by API Gateway, though the stage names no base URL: HSTS (LAW 29).
    assert page["headers"]["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
    _, done = gateway("POST", link, "", FORM)
    assert done["statusCode"] == 200
    assert visitor.contact(email)["purposes"]["newsletter"]["status"] == "granted"


def test_the_sending_systems_unsubscribe_links_follow_the_domain_it_called(visitor, monkeypatch):
    from tests.conftest import API_KEY

    visitor.subscribe("unsub.link@example.com", purposes=("newsletter",))  # through the test client
    monkeypatch.delenv("CONSENTRY_BASE_URL")
    body = json.dumps({"email": "unsub.link@example.com", "purpose": "newsletter"})
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    _, answer = gateway("POST", "https://consent.consentry.example/api/links", body, headers)
    url = json.loads(answer["body"])["unsubscribe_url"]
    assert url.startswith("https://consent.consentry.example/unsubscribe/")
    template, page = gateway("POST", url, "List-Unsubscribe=One-Click", FORM)
    assert template == "/unsubscribe/{token}" and page["statusCode"] == 200
    assert visitor.contact("unsub.link@example.com")["purposes"]["newsletter"]["status"] == "withdrawn"


def test_a_mail_job_that_knows_no_address_sends_nothing_and_fails(visitor, monkeypatch):
    """A job queued without a base URL (by a test client here, which has no API Gateway
    host) on a stage that sets none: no mail with a link to nowhere; SQS retries it."""
    from chalicelib.mail import MailError

    monkeypatch.delenv("CONSENTRY_BASE_URL")
    visitor.signup("nowhere@example.com")
    with pytest.raises(MailError):
        visitor.run_mail_jobs()
    assert visitor.mail_to("nowhere@example.com") == []


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (
            {"domainName": EXECUTE_API, "path": "/api/confirm/x", "resourcePath": "/confirm/{token}"},
            f"https://{EXECUTE_API}/api",
        ),
        (
            {"domainName": "Consent.Example", "path": "/v1/forms/a%40b", "resourcePath": "/forms/{form_id}"},
            "https://consent.example/v1",
        ),
        (
            {"domainName": "consent.example", "path": "/forms/a", "resourcePath": "/forms/{form_id}"},
            "https://consent.example",
        ),
        ({"path": "/forms/a", "resourcePath": "/forms/{form_id}"}, None),  # chalice local, the test client
        ({"domainName": "evil.example/x", "path": "/forms/a", "resourcePath": "/forms/{form_id}"}, None),
        ({"domainName": "consent.example", "path": "/a b/forms/a", "resourcePath": "/forms/{form_id}"}, None),
    ],
)
def test_the_base_url_is_what_api_gateway_reports_and_nothing_else(context, expected):
    from chalicelib import baseurl

    assert baseurl.from_request(context) == expected


def test_a_job_cannot_point_links_elsewhere(aws, monkeypatch):
    from chalicelib import baseurl

    monkeypatch.delenv("CONSENTRY_BASE_URL")
    for bad in ("http://consent.example", "https://evil.example/@x?", "javascript:alert(1)", 42):
        baseurl.use(bad)
        assert baseurl.current() is None
    baseurl.use("https://consent.example")
    assert baseurl.current() == "https://consent.example"
    baseurl.use(None)
