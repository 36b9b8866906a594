"""A real browser for the tests: Debian's chromium driven by Playwright, axe-core for checks.

Never a downloaded browser: `make test` installs chromium from Debian's packages
(/usr/bin/chromium) and axe-core from package-lock.json (node_modules/); Playwright's own
browser download is never used. Chromium's background services are switched off: the
machine's network is loopback only, and a page must not load anything from elsewhere.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "tests" / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DEVICES: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 1,  # screenshots a 390-pixel-wide image, small enough to keep
    },
}
LOCALES = {"nl": "nl-NL", "en": "en-GB", "de": "de-DE"}
SERIOUS = ("serious", "critical")


def missing_tools() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)"
    if not AXE.exists():
        return f"{AXE} is missing: `make test` installs it (npm ci)"
    return None


def unique_address(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.org"


@dataclass
class Visit:
    """One browser context: a language, a device, JavaScript on or off; what it loaded."""

    context: Any
    page: Any
    name: str
    js: bool
    device: str
    lang: str
    requests: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def shot(self, what: str) -> Path:
        """A full-page screenshot, named for the page, language, device and JavaScript."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{what}-{self.lang}-{self.device}{'' if self.js else '-nojs'}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def axe(self, what: str) -> None:
        """axe-core's verdict on the page as it is now: no serious or critical violation.

        Needs JavaScript (axe is a script); the pages a JavaScript-off visit sees are the
        same server-rendered HTML that the JavaScript-on visits check."""
        assert self.js, "axe runs only where JavaScript runs"
        if not self.page.evaluate("() => typeof window.axe === 'object'"):
            self.page.add_script_tag(path=str(AXE))
        violations = self.page.evaluate(
            """async () => {
                const result = await axe.run(document, {resultTypes: ["violations"]});
                return result.violations.map(v => ({
                    id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " :: " + n.failureSummary),
                }));
            }"""
        )
        bad = [v for v in violations if v["impact"] in SERIOUS]
        assert bad == [], f"axe on {what} ({self.name}):\n" + json.dumps(bad, indent=2)

    def readable_on_a_phone(self, what: str) -> None:
        """Nothing wider than the screen (no sideways scrolling); inputs at 16 px or more,
        so a phone does not zoom in on focus."""
        wide = self.page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert wide <= 0, f"{what} ({self.name}) scrolls sideways by {wide}px"
        small = self.page.evaluate(
            """() => [...document.querySelectorAll('input[type=email], input[type=text]')]
                .filter(i => i.tabIndex !== -1)
                .filter(i => parseFloat(getComputedStyle(i).fontSize) < 16).map(i => i.id || i.name)"""
        )
        assert small == [], f"{what}: inputs under 16px: {small}"


@contextmanager
def visit(
    browser: Any, *, js: bool, device: str, lang: str, bypass_csp: bool = True, challenge: bool = False
) -> Iterator[Visit]:
    """A fresh context: no cookies, no storage; ``challenge``: the challenge provider's
    stand-in script (routing costs every request of the context a little, so only on ask).

    ``bypass_csp``: the pages' Content-Security-Policy (default-src 'none', one hashed
    inline style) would refuse the axe-core script the harness injects, so the harness
    switches CSP off in the contexts that run axe. Tests about CSP itself (framing, the
    hashed stylesheet) open a context with it on."""
    context = browser.new_context(
        java_script_enabled=js, bypass_csp=bypass_csp, locale=LOCALES[lang], **DEVICES[device]
    )
    context.set_default_timeout(15_000)
    if challenge:
        fake_challenge(context)
    page = context.new_page()
    name = f"{lang}, {device}, JavaScript {'on' if js else 'off'}"
    found = Visit(context, page, name, js, device, lang)
    page.on("request", lambda r: found.requests.append(r.url))
    page.on("console", lambda m: found.console.append(f"{m.type}: {m.text}"))
    try:
        yield found
    finally:
        context.close()


# Cloudflare Turnstile, as far as a page can tell: its script (api.js) renders a widget into
# each .cf-turnstile element, which puts the answer in a hidden cf-turnstile-response field.
# The test machine has no network, so the browser gets this stand-in for the real script
# (answer "pass"), and the stack's verifier is a fake siteverify that accepts only "pass".
TURNSTILE_SCRIPT = "https://challenges.cloudflare.com/turnstile/v0/api.js"
FAKE_TURNSTILE = """
(function () {
  function render(box) {
    if (typeof box === "string") box = document.querySelector(box);
    if (!box || box.querySelector("input[name=cf-turnstile-response]")) return;
    box.style.cssText = "width:300px;max-width:100%;height:65px;border:1px solid #999;" +
      "border-radius:4px;background:#f7f7f7;color:#333;font:14px/63px system-ui,sans-serif;" +
      "padding:0 16px;box-sizing:border-box";
    var label = document.createElement("span");
    label.setAttribute("aria-hidden", "true");
    label.textContent = "\u2713 Turnstile (test stand-in)";
    box.appendChild(label);
    var answer = document.createElement("input");
    answer.type = "hidden"; answer.name = "cf-turnstile-response"; answer.value = "pass";
    box.appendChild(answer);
  }
  window.turnstile = { render: render, reset: function () {} };
  document.querySelectorAll(".cf-turnstile").forEach(render);
})();
"""


def fake_challenge(context: Any) -> None:
    """Serve the stand-in Turnstile script to every page of a browser context."""
    context.route(
        TURNSTILE_SCRIPT + "*",
        lambda route: route.fulfill(status=200, content_type="text/javascript", body=FAKE_TURNSTILE),
    )


def mail_to(moto: str, address: str, timeout: float = 5.0) -> dict[str, Any]:
    """The newest SES message to ``address`` in moto's data.json, waiting for the queue."""
    deadline = time.monotonic() + timeout
    while True:
        ses = requests.get(f"{moto}/moto-api/data.json", timeout=5).json().get("ses", {})
        for raw in reversed(ses.get("RawMessage", [])):
            if any(address in d for d in raw["destinations"]):
                return raw
        if time.monotonic() > deadline:
            raise AssertionError(f"no mail to {address} within {timeout} s")
        time.sleep(0.1)


def subject_of(raw: dict[str, Any]) -> str:
    import email
    import email.policy

    return str(email.message_from_string(raw["raw_data"], policy=email.policy.default)["Subject"])


def link_in(raw: dict[str, Any], kind: str) -> str:
    import email
    import email.policy

    message = email.message_from_string(raw["raw_data"], policy=email.policy.default)
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    match = re.search(r"https?://\S+/" + kind + r"/[A-Za-z0-9_.\-]+", text)
    assert match, text
    return match.group(0)
