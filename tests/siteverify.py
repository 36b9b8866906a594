"""A stand-in for a bot challenge's siteverify (Turnstile's, hCaptcha's) on loopback: the test
machine has no network, and the app verifies answers server-side against this URL
(CONSENTRY_CHALLENGE_VERIFY_URL)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs


class Siteverify(BaseHTTPRequestHandler):
    """Success only for the answer "pass" with the right secret; every call is kept."""

    secret: ClassVar[str] = ""
    seen: ClassVar[list[dict[str, list[str]]]] = []

    def do_POST(self) -> None:
        fields = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        type(self).seen.append(fields)
        ok = fields.get("secret") == [type(self).secret] and fields.get("response") == ["pass"]
        body = json.dumps({"success": ok}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def verifier_for(secret: str) -> type[Siteverify]:
    """A verifier that knows ``secret``, with its own list of calls."""
    return type("SiteverifyFor", (Siteverify,), {"secret": secret, "seen": []})


def serve(handler: type[Siteverify]) -> ThreadingHTTPServer:
    """The verifier, answering on a free loopback port (``server_port``) until shut down."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
