"""`make run` for real: the local stack as a subprocess, used the way a visitor uses it.

Proves the CONTRACT's local-stack promises that in-process tests cannot: the stack starts
from resources.yaml on DynamoDB Local and moto's server, mail appears in moto's data.json
within 2 s, the mail's link points at the app, Ctrl-C stops everything and frees the
ports, and a restart on the same data dir keeps the ledger and the keys.
"""

from __future__ import annotations

import email
import email.policy
import re
import time
import uuid
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin

import boto3
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


def _subscribe(stack: Any, address: str) -> None:
    """Sign up for both purposes through the form and press the mailed confirm button."""
    requests.post(
        f"{stack.app}/forms/newsletter",
        data=[("email", address), ("purposes", "newsletter"), ("purposes", "offers")],
        timeout=10,
    ).raise_for_status()
    deadline = time.monotonic() + 10
    while (mail := _mail_to(stack.moto, address)) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert mail is not None, "no confirmation mail:\n" + stack.log
    text = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(re.escape(stack.app) + r"/confirm/[A-Za-z0-9_.\-]+", text)
    assert link, text
    confirmed = requests.post(
        link.group(0), headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10
    )
    assert confirmed.status_code == 200, confirmed.text


def _api(stack: Any, path: str, **json_body: Any) -> Any:
    method = "POST" if json_body else "GET"
    answer = requests.request(
        method,
        f"{stack.app}{path}",
        headers={"Authorization": f"Bearer {API_KEY}"},
        json=json_body or None,
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.stack
def test_a_restart_keeps_every_person_event_text_and_link(tmp_path: Path) -> None:
    """`make run`, sign up and confirm, Ctrl-C, `make run` again on the same data dir with a
    changed catalogue: the subscriber, the events with the exact texts they agreed to, and
    the unsubscribe link mailed before the restart all still work (LAW 5: the exact text
    stays provable; LAW 15: unsubscribe links keep working); a new signup records the new
    text; expired items are swept as TTL would."""
    from chalicelib import catalogue

    data = tmp_path / "data"
    address = f"kept-{uuid.uuid4().hex[:8]}@example.org"
    with running_stack(data_dir=data) as first:
        _subscribe(first, address)
        contact = _api(first, f"/api/contacts/{address}")
        events = _api(first, f"/api/contacts/{address}/events")["events"]
        unsubscribe_url = _api(first, "/api/links", email=address)["unsubscribe_url"]
        ddb = boto3.client("dynamodb", region_name="eu-west-1", endpoint_url=first.dynamodb)
        for key, expires in (("past", 1), ("future", int(time.time()) + 3600)):
            ddb.put_item(
                TableName="consentry-local",
                Item={"pk": {"S": f"SWEEP#{key}"}, "sk": {"S": "X"}, "expires_at": {"N": str(expires)}},
            )
    assert first.exit_code == 0, first.log
    old_text = catalogue.load().purposes["newsletter"].texts["nl"]
    assert next(e["evidence"]["texts"]["newsletter"] for e in events if "texts" in e["evidence"]) == old_text

    changed = tmp_path / "catalogue.toml"
    new_text = old_text.replace("maandelijkse", "wekelijkse")
    changed.write_text(catalogue.CATALOGUE_FILE.read_text(encoding="utf-8").replace(old_text, new_text))
    assert new_text != old_text and new_text in changed.read_text()

    # New free ports (another test may hold the old ones by now): `make run` itself comes
    # back on the same ones, so only the link's path, with its signed token, is carried over.
    with running_stack({"CONSENTRY_CATALOGUE": str(changed)}, data_dir=data) as second:
        assert _api(second, f"/api/contacts/{address}") == contact
        assert _api(second, f"/api/contacts/{address}/events")["events"] == events  # the exact texts

        newcomer = f"new-{uuid.uuid4().hex[:8]}@example.org"
        _subscribe(second, newcomer)
        (shown,) = [
            e["evidence"]["texts"]["newsletter"]
            for e in _api(second, f"/api/contacts/{newcomer}/events")["events"]
            if e["type"] == "signup_requested"
        ]
        assert shown == new_text

        link = second.app + unsubscribe_url.removeprefix(first.app)
        one_click = requests.post(link, data="List-Unsubscribe=One-Click", timeout=10)
        assert one_click.status_code == 200, one_click.text
        purposes = _api(second, f"/api/contacts/{address}")["purposes"]
        assert {p: s["status"] for p, s in purposes.items()} == {
            "newsletter": "withdrawn",
            "offers": "withdrawn",
        }

        ddb = boto3.client("dynamodb", region_name="eu-west-1", endpoint_url=second.dynamodb)
        left = {
            k: "Item"
            in ddb.get_item(TableName="consentry-local", Key={"pk": {"S": f"SWEEP#{k}"}, "sk": {"S": "X"}})
            for k in ("past", "future")
        }
        assert left == {"past": False, "future": True}
    assert second.exit_code == 0, second.log


def test_the_data_dir_keeps_one_stage_key_is_held_by_one_run_and_forgets_on_request(tmp_path: Path) -> None:
    """What `make run` keeps between starts (the key the subject ids and links derive from,
    private to its owner), that a second run on the same data dir is refused, and that
    `make run FRESH=1` forgets the ledger and the key but nothing else in the dir."""
    from scripts import local_data

    key = local_data.stage_master_key(tmp_path)
    assert local_data.stage_master_key(tmp_path) == key and len(key) == 64
    assert (tmp_path / local_data.SECRET_FILE).stat().st_mode & 0o777 == 0o600

    lock = local_data.claim(tmp_path)
    assert lock is not None and local_data.claim(tmp_path) is None
    lock.close()
    again = local_data.claim(tmp_path)
    assert again is not None
    again.close()

    ledger = local_data.ledger_dir(tmp_path) / local_data.LEDGER_FILE
    ledger.parent.mkdir()
    ledger.write_bytes(b"sqlite")
    (tmp_path / "notes.txt").write_text("mine")
    local_data.forget(tmp_path)
    assert not ledger.exists() and (tmp_path / "notes.txt").read_text() == "mine"
    assert local_data.stage_master_key(tmp_path) != key
