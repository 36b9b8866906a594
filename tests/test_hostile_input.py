"""A corpus of hostile input through the real routes (LAW 12, 14): every answer a 4xx or the
normal answer, never a 5xx; invalid input writes nothing and sends nothing; nothing echoed raw."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import pytest

MARKUP = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg/onload=alert(1)>",
    "javascript:alert(1)",
    "{{7*7}}",
    "{% raw %}x",
    "${jndi:ldap://x}",
    "' OR '1'='1",
]
CRLF = ["\r\nBcc: victim@example.org", "\nSubject: spam", "%0d%0aBcc:x@y.z", "\x00", "\u2028", "\x1b[31m"]

BAD_EMAILS = (
    [m + "@example.com" for m in MARKUP if not m.startswith("{")]  # {{7*7}}@x is a valid address
    + ["anna@example.com" + c for c in CRLF if c.strip()]  # trailing whitespace is trimmed
    + ["anna" + c + "@example.com" for c in CRLF]
    + [
        "",
        " ",
        "@",
        "anna",
        "anna@",
        "@example.com",
        "anna@@example.com",
        "anna@example.com, bob@example.com",
        "anna@example.com;bob@example.com",
        "Anna <anna@example.com>",
        '"a b"@example.com',
        "a" * 65 + "@example.com",
        "a@" + "b" * 300 + ".com",
        "x" * 10_000,
        "anna@exa mple.com",
        "anna@example..com",
        "anna@-example.com",
        "anna@localhost",
        "\u202eanna@example.com",
        "anna@example.com\u0000.evil",
        "../../etc/passwd",
        "jösé@example.com",  # a local part SES cannot deliver (no SMTPUTF8): 202 and 5 failed jobs before
        "анна@пример.рф",
        "a@xn--zz.de",
    ]
)
BAD_NAMES = [m for m in MARKUP[:3]] + ["Anna" + c + "x" for c in CRLF if c != "%0d%0aBcc:x@y.z"]
BAD_NAMES += ["n" * 101, "x" * 20_000]
# Issue 10: a name that mail clients would turn into a link (LAW 12).
BAD_NAMES += ["Account locked: unlock at https://evil.example/x", "evil.example", "Ｅｖｉｌ．ｃｏｍ", "a@b.c"]
BAD_PURPOSES = [
    [],
    [""],
    ["lottery"],
    ["<script>alert(1)</script>"],
    ["news\r\nletter"],
    ["../newsletter"],
    ["n" * 500],
    ["newsletter"] * 5 + ["x" + str(i) for i in range(30)],
]
WRONG_TYPES = [
    {"email": ["anna@example.com"], "purposes": ["newsletter"]},
    {"email": {"$ne": ""}, "purposes": ["newsletter"]},
    {"email": 12345, "purposes": ["newsletter"]},
    {"email": True, "purposes": ["newsletter"]},
    {"email": None, "purposes": ["newsletter"]},
    {"email": "anna@example.com", "purposes": "newsletter"},
    {"email": "anna@example.com", "purposes": {"newsletter": True}},
    {"email": "anna@example.com", "purposes": None},
    {"email": "anna@example.com", "purposes": [1, 2]},
    {"email": "anna@example.com", "purposes": [["newsletter"]]},
    {"email": "anna@example.com", "purposes": ["newsletter"], "lang": "../../etc"},
    {"email": "anna@example.com", "purposes": ["newsletter"], "lang": ["nl"]},
    {"email": "anna@example.com", "purposes": ["newsletter"], "name": {"first": "x"}},
]
RAW_BODIES = [
    (b"\xff\xfe\xfd", "application/x-www-form-urlencoded"),
    (b"email=anna%40example.com&purposes=newsletter&name=\xc3\x28", "application/x-www-form-urlencoded"),
    (b"\xff\xfe\xfd", "application/json"),
    (b"{", "application/json"),
    (b"[]", "application/json"),
    (b'"anna@example.com"', "application/json"),
    (b"42", "application/json"),
    (b"null", "application/json"),
    (b"[" * 5000 + b"]" * 5000, "application/json"),
    (b'{"a":' * 3000 + b"1" + b"}" * 3000, "application/json"),
    (b"&".join(b"f%d=x" % i for i in range(500)), "application/x-www-form-urlencoded"),
    (b"email=%ZZ&purposes=newsletter", "application/x-www-form-urlencoded"),
    (b"=&=&&&", "application/x-www-form-urlencoded"),
    (
        b"email=a@example.com&purposes=newsletter" + b"&x=" + b"y" * 20_000,
        "application/x-www-form-urlencoded",
    ),
]
PATH_TRICKS = [
    "..",
    "%2e%2e",
    "..%2f..%2fetc%2fpasswd",
    "%00",
    "newsletter%00",
    "newsletter%0d%0aSet-Cookie:x=y",
    quote("<script>alert(1)</script>", safe=""),
    "a" * 2000,
    "%ff%fe",
    "NEWSLETTER",
    "newsletter.json",
    "~root",
    quote("' OR 1=1 --", safe=""),
    "%252e%252e",
]
TOKEN_TRICKS = [*PATH_TRICKS, "x.y.z", "eyJzIjoiYSJ9.AAAA.BBBB", "." * 100, "A" * 5000, "null", "undefined"]


def _signup_cases() -> list[tuple[str, bytes, str]]:
    cases: list[tuple[str, bytes, str]] = []

    def both(fields: dict) -> None:
        cases.append(("json", json.dumps(fields).encode(), "application/json"))
        form = [(k, v) for k, v in fields.items() if not isinstance(v, (list, dict))]
        form += [(k, item) for k, v in fields.items() if isinstance(v, list) for item in v]
        cases.append(("form", urlencode(form).encode(), "application/x-www-form-urlencoded"))

    for email in BAD_EMAILS:
        both({"email": email, "purposes": ["newsletter"]})
    for name in BAD_NAMES:
        both({"email": "anna@example.com", "name": name, "purposes": ["newsletter"]})
    for purposes in BAD_PURPOSES:
        both({"email": "anna@example.com", "purposes": purposes})
    for fields in WRONG_TYPES:
        cases.append(("json", json.dumps(fields).encode(), "application/json"))
    for body, content_type in RAW_BODIES:
        cases.append(("raw", body, content_type))
    return cases


SIGNUP_CASES = _signup_cases()


def _personal_items(visitor) -> list[dict]:
    return [i for i in visitor.items() if not i["pk"].startswith("TEXT#")]


def _assert_not_echoed(body: bytes, hostile: str) -> None:
    text = body.decode("utf-8", "replace")
    for needle in MARKUP[:3]:
        if needle in hostile:
            assert needle not in text, f"{needle!r} echoed unescaped"


def test_the_corpus_is_big_enough():
    total = len(SIGNUP_CASES) + len(PATH_TRICKS) * 4 + len(TOKEN_TRICKS) * 4
    assert total >= 200, total


@pytest.mark.parametrize("chunk", range(4))
def test_hostile_signups_are_refused_cleanly_and_leave_nothing(visitor, chunk):
    for kind, body, content_type in SIGNUP_CASES[chunk::4]:
        response = visitor.client.http.post(
            "/forms/newsletter", headers={"Content-Type": content_type}, body=body
        )
        label = (kind, body[:80])
        assert 400 <= response.status_code < 500, (label, response.status_code, response.body[:300])
        _assert_not_echoed(response.body, body.decode("utf-8", "replace"))
        assert response.headers.get("Content-Type", "").split(";")[0] in (
            "text/html",
            "application/json",
        ), label
    assert _personal_items(visitor) == []
    assert visitor.queued() == []
    assert visitor.sent_mail() == []


def test_path_tricks_in_form_ids_tokens_and_addresses_never_crash(visitor):
    visitor.signup("kept@example.com")
    before = visitor.items()
    requests = []
    for trick in PATH_TRICKS:
        requests += [("GET", f"/forms/{trick}"), ("POST", f"/forms/{trick}")]
        requests += [("GET", f"/api/contacts/{trick}"), ("GET", f"/api/contacts/{trick}/events")]
    for trick in TOKEN_TRICKS:
        for route in ("confirm", "unsubscribe"):
            requests += [("GET", f"/{route}/{trick}"), ("POST", f"/{route}/{trick}")]
    for method, path in requests:
        headers = {"Authorization": "Bearer test-api-key-123"}
        body = b""
        if method == "POST":
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = b"email=kept%40example.com&purposes=newsletter&List-Unsubscribe=One-Click"
        response = visitor.client.http.request(method, path, headers=headers, body=body)
        assert 400 <= response.status_code < 500, (
            method,
            path[:80],
            response.status_code,
            response.body[:200],
        )
        _assert_not_echoed(response.body, path)
        assert "Set-Cookie" not in response.headers
    assert visitor.items() == before
    assert len(visitor.queued()) == 1  # only the one real signup


# -- every body on every route goes through the one reader and its limits (issue 10) -------

BEARER = {"Authorization": "Bearer test-api-key-123"}
DEEP_JSON = b'{"a":' * 3000 + b"1" + b"}" * 3000
HUGE = b"x" * (4 * 1024 * 1024 + 1)  # over every route's limit, an import's 4 MiB included
ANY_ROUTE_BODIES = [
    (DEEP_JSON, "application/json"),
    (b"[" * 5000 + b"]" * 5000, "application/json"),
    (b"\xff\xfe\xfd", "application/json"),
    (b"[]", "application/json"),
    (HUGE, "application/json"),
    (b"\xff\xfe\xfd", "application/x-www-form-urlencoded"),
    (b"&".join(b"f%d=x" % i for i in range(500)), "application/x-www-form-urlencoded"),
]
LONG_AGO = "0001-01-01T00:30:00+01:00"  # before year 1 once in UTC: an OverflowError before


def _part(headers: bytes, content: bytes) -> bytes:
    return b"--XyZ\r\n" + headers + b"\r\n\r\n" + content + b"\r\n--XyZ--\r\n"


_FIELD = b'Content-Disposition: form-data; name="List-Unsubscribe"'
MULTIPART_BODIES = [
    _part(_FIELD + b"\r\nContent-Type: text/plain; charset=x-nope", b"One-Click"),  # LookupError before
    _part(  # a nested multipart/mixed part: KeyError before
        _FIELD + b"\r\nContent-Type: multipart/mixed; boundary=inner",
        b"--inner\r\nContent-Type: text/plain\r\n\r\nOne-Click\r\n--inner--",
    ),
    _part(_FIELD + b"\r\nContent-Type: message/rfc822", b"Subject: x\r\n\r\nOne-Click"),
    _part(_FIELD + b"\r\nContent-Type: text/plain; charset=utf-8", b"\xff\xfe"),
    _part(_FIELD + b"\r\nContent-Transfer-Encoding: base64", b"!!!not base64"),
    _part(b"Content-Disposition: form-data", b"One-Click"),  # no field name
    b"--XyZ\r\n" * 300,
    b"".join(_part(b'Content-Disposition: form-data; name="f%d"' % i, b"x")[:-8] for i in range(150))
    + b"--XyZ--",
    b"no parts at all",
]


def _post_routes(visitor) -> dict[str, tuple[str, dict[str, str]]]:
    """A real path (with a genuine token where one is due) for every route that takes a POST."""
    import app as app_module

    visitor.subscribe("body@example.com")
    visitor.post_form("/requests", {"email": "body@example.com", "type": "access"})
    visitor.run_mail_jobs()
    visitor.signup("body@example.com", purposes=("offers",))
    visitor.run_mail_jobs()
    paths = {
        "/forms/{form_id}": ("/forms/newsletter", {}),
        "/requests": ("/requests", {}),
        "/confirm/{token}": (visitor.confirm_link("body@example.com"), {}),
        "/unsubscribe/{token}": (visitor.unsubscribe_path("body@example.com"), {}),
        "/requests/{token}": (visitor.request_link("body@example.com"), {}),
        "/api/links": ("/api/links", BEARER),
        "/api/soft-opt-ins": ("/api/soft-opt-ins", BEARER),
        "/api/imports": ("/api/imports", BEARER),
    }
    with_bodies = {route for route, methods in app_module.app.routes.items() if "POST" in methods}
    assert with_bodies == set(paths), "a new route takes a body: add it here"
    return paths


def test_every_route_reads_its_body_through_the_one_reader(visitor):
    """RecursionError on /api/links (Chalice's json_body) and 500s on other routes before."""
    paths = _post_routes(visitor)
    before = visitor.items()
    for route, (path, headers) in paths.items():
        for body, content_type in ANY_ROUTE_BODIES:
            response = visitor.client.http.post(
                path, headers={"Content-Type": content_type, **headers}, body=body
            )
            label = (route, content_type, body[:40], response.body[:200])
            assert 400 <= response.status_code < 500, label
            if body is HUGE:
                assert response.status_code == 413, label
    assert visitor.items() == before


def test_hostile_multipart_one_clicks_are_refused_and_withdraw_nothing(visitor):
    visitor.subscribed("multi@example.com")
    path = visitor.unsubscribe_path("multi@example.com")
    before = visitor.items()
    for body in MULTIPART_BODIES:
        response = visitor.client.http.post(
            path, headers={"Content-Type": "multipart/form-data; boundary=XyZ"}, body=body
        )
        assert response.status_code == 400, (body[:80], response.status_code, response.body[:200])
    no_boundary = visitor.client.http.post(
        path, headers={"Content-Type": "multipart/form-data"}, body=_part(_FIELD, b"One-Click")
    )
    assert no_boundary.status_code == 400
    assert visitor.items() == before


def test_a_time_before_year_one_in_utc_is_a_422_not_a_failed_import(visitor):
    sale = {"order_id": "ORD-1", "purchased_at": LONG_AGO, "opt_out_offered": True}
    soft = visitor.api_post(
        "/api/soft-opt-ins", {"email": "old@example.com", "purposes": ["offers"], "evidence": sale}
    )
    assert soft.status_code == 422
    assert "evidence.purchased_at" in json.loads(soft.body)["errors"]
    proof = {"source": "shop", "text": "I agree.", "consented_at": LONG_AGO}
    good = {**proof, "consented_at": "2024-01-02T03:04:05Z"}
    answer = visitor.api_post(
        "/api/imports",
        {
            "contacts": [
                {"email": "old@example.com", "purposes": ["newsletter"], "evidence": proof},
                {"email": "fine@example.com", "purposes": ["newsletter"], "evidence": good},
            ]
        },
    )
    assert answer.status_code == 200  # a 500 failed the whole batch before
    old, fine = json.loads(answer.body)["results"]
    assert old["result"] == "invalid" and "evidence.consented_at" in old["reason"]
    assert fine["result"] == "imported"
    assert visitor.api("/api/contacts/old@example.com").status_code == 404
