"""`make run` for real: the local stack as a subprocess, used the way a visitor uses it.

Proves the CONTRACT's local-stack promises that in-process tests cannot: the stack starts
from resources.yaml on moto's server, mail appears in moto's data.json within 2 s, the
mail's link points at the app, and Ctrl-C stops everything and frees the ports.
"""

from __future__ import annotations

import email
import email.policy
import re
import time
import uuid
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode, urljoin

import pytest
import requests

from tests.stack import API_KEY, port_free, running_stack


class _Form(HTMLParser):
    """The first form on a page: its action, its hidden fields, whether it has a button."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: list[tuple[str, str]] = []
        self.button = False
        self._inside = False
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and not self._done:
            self._inside, self.action = True, a.get("action") or ""
        elif not self._inside:
            return
        elif tag == "button" or (tag == "input" and a.get("type") == "submit"):
            self.button = True
        elif tag == "input" and a.get("type") == "hidden" and a.get("name"):
            self.fields.append((a["name"] or "", a.get("value") or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._inside:
            self._inside, self._done = False, True


def _mail_to(moto: str, address: str) -> email.message.EmailMessage | None:
    """The newest SES message to `address` in moto's data.json, as a MIME message."""
    ses = requests.get(f"{moto}/moto-api/data.json", timeout=5).json().get("ses", {})
    for raw in reversed(ses.get("RawMessage", [])):
        if any(address in d for d in raw["destinations"]):
            return email.message_from_string(raw["raw_data"], policy=email.policy.default)  # type: ignore[return-value]
    for simple in reversed(ses.get("Message", [])):
        if any(address in d for ds in simple["destinations"].values() for d in ds):
            message = email.message.EmailMessage()
            message.set_content(simple["body"])
            return message
    return None


@pytest.mark.stack
def test_local_stack_signup_confirm_and_stop() -> None:
    with running_stack() as stack:
        app, moto, mail_port = stack.app, stack.moto, stack.mail_port
        address = f"e2e-{uuid.uuid4().hex[:12]}@example.org"
        signup = requests.post(
            f"{app}/forms/newsletter",
            data=[
                ("email", address),
                ("purposes", "newsletter"),
                ("purposes", "offers"),
            ],
            allow_redirects=False,
            timeout=10,
        )
        answered = time.monotonic()
        assert signup.status_code == 200, signup.text
        assert "inbox" in signup.text.lower()

        mail = None
        while mail is None and time.monotonic() - answered < 2.0:
            mail = _mail_to(moto, address)
            time.sleep(0.05)
        assert mail is not None, "no mail in moto's data.json within 2 s:\n" + stack.log
        body = mail.get_body(preferencelist=("plain", "html"))
        assert body is not None
        match = re.search(re.escape(app) + r"/confirm/[A-Za-z0-9_.\-]+", body.get_content())
        assert match, "no confirm link to the app in the mail"
        link = match.group(0)
        viewer = requests.get(f"http://127.0.0.1:{mail_port}/", timeout=10)
        assert viewer.status_code == 200 and f'href="{link}"' in viewer.text

        def purposes() -> dict[str, Any]:
            answer = requests.get(
                f"{app}/api/contacts/{address}",
                headers={"Authorization": f"Bearer {API_KEY}"},
                timeout=10,
            )
            assert answer.status_code == 200, answer.text
            return answer.json()["purposes"]

        page = requests.get(link, timeout=10)
        assert page.status_code == 200, page.text
        form = _Form()
        form.feed(page.text)
        assert form.action is not None and form.button, "confirm page has no form with a button"
        assert {p: s["status"] for p, s in purposes().items()} == {
            "newsletter": "pending",
            "offers": "pending",
        }, "GET on the link changed something"

        confirmed = requests.post(  # as a browser submits the form
            urljoin(link, form.action),
            data=urlencode(form.fields),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=10,
        )
        assert confirmed.status_code == 200, confirmed.text
        after = purposes()
        assert {p: (s["status"], s["basis"]) for p, s in after.items()} == {
            "newsletter": ("granted", "consent"),
            "offers": ("granted", "consent"),
        }
    assert stack.exit_code == 0, stack.log
    busy = [p for p in stack.ports if not port_free(p)]
    assert not busy, f"ports still in use after stop: {busy}"
