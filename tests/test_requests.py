"""/requests: access and erasure by the person, after proving control of the address (LAW 25, 6, 26)."""

from __future__ import annotations

import html
import json
import logging
import re

from itsdangerous import URLSafeTimedSerializer

from chalicelib import catalogue, tokens
from chalicelib.caps import mailbox_key

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
EVIDENCE = {"order_id": "ORD-7", "purchased_at": "2025-02-01T12:00:00Z", "opt_out_offered": True}


def _ask(visitor, email, kind, **extra):
    return visitor.post_form("/requests", {"email": email, "type": kind, **extra})


def _labels(body: str) -> dict[str, str]:
    return {
        m.group(1): html.unescape(m.group(2))
        for m in re.finditer(r'<label for="purpose-(\w+)">(.*?)</label>', body, re.S)
    }


def test_the_request_page_asks_for_the_address_and_the_kind(visitor):
    response = visitor.get("/requests?lang=en")
    assert response.status_code == 200
    body = response.body.decode()
    assert '<form method="post"' in body and 'name="email"' in body
    assert 'value="access"' in body and 'value="erasure"' in body
    assert "checked" not in body
    assert catalogue.load().controller.name in body


def test_an_unknown_address_gets_the_same_answer_no_mail_and_nothing_stored(visitor):
    visitor.subscribe("bekend@example.com")
    mails_before = len(visitor.sent_mail())
    before = visitor.items()
    for kind in ("access", "erasure"):
        known, unknown = (
            _ask(visitor, "bekend@example.com", kind),
            _ask(visitor, "onbekend@example.com", kind),
        )
        assert known.status_code == unknown.status_code == 202
        assert known.body == unknown.body
        assert known.headers == unknown.headers
        as_json = [
            visitor.post_json("/requests", {"email": e, "type": kind})
            for e in ("bekend@example.com", "onbekend@example.com")
        ]
        assert {r.status_code for r in as_json} == {202}
        assert as_json[0].body == as_json[1].body == b'{"status": "accepted"}'
    visitor.run_mail_jobs()
    mails = visitor.sent_mail()[mails_before:]
    assert [str(m["To"]) for m in mails] == ["bekend@example.com", "bekend@example.com"]  # access, erasure
    assert visitor.mail_to("onbekend@example.com") == []
    added = [i for i in visitor.items() if i not in before and i["sk"] != "RATE"]
    assert {i["sk"] for i in added} == {"REQUEST#access", "REQUEST#erasure"}
    assert {i["pk"] for i in added} == {f"S#{visitor.subject('bekend@example.com')}"}
    unknown = (visitor.subject("onbekend@example.com"), mailbox_key("onbekend@example.com"))
    assert not any(i["pk"].endswith(unknown) for i in visitor.items())  # not even a mail counter


def test_bad_input_is_422_naming_the_field_and_nothing_is_queued(visitor):
    for fields, field in (
        ({"email": "geen-adres", "type": "access"}, "email"),
        ({"email": "a@example.com", "type": "delete"}, "type"),
        ({"email": "a@example.com"}, "type"),
        ({"email": "a@example.com", "type": "access", "reason": "x"}, "reason"),
    ):
        response = visitor.post_json("/requests", fields)
        assert response.status_code == 422
        assert field in json.loads(response.body)["errors"]
    page = visitor.post_form("/requests", {"email": "geen-adres", "type": "access"})
    assert page.status_code == 422
    body = page.body.decode()
    assert 'id="email-error"' in body and 'value="geen-adres"' in body
    assert 'value="access" checked' in body
    assert visitor.queued() == []


def test_the_request_mail_holds_the_request_the_controller_and_one_link(visitor):
    visitor.subscribe("inzage@example.com", lang="en")
    _ask(visitor, "inzage@example.com", "access", lang="en")
    visitor.run_mail_jobs()
    mail = visitor.mail_to("inzage@example.com")[-1]
    controller = catalogue.load().controller
    assert mail["Subject"] == f"Your request for access to your data at {controller.name}"
    text = mail.get_body(("plain",)).get_content()
    assert "asked for a copy of all data" in text and "valid for 2 days" in text
    assert text.count("http") == 1 and "https://consent.test/requests/" in text
    html_part = mail.get_body(("html",)).get_content().lower()
    assert "<img" not in html_part and "<script" not in html_part


def test_one_request_mail_per_link_lifetime_and_none_for_a_redelivered_job(visitor):
    visitor.subscribe("bom@example.com")
    sent = len(visitor.mail_to("bom@example.com"))
    for _ in range(3):
        _ask(visitor, "bom@example.com", "access")
    (first, *_rest) = messages = visitor.queued()
    assert len(messages) == 3
    for message in messages:
        visitor.deliver([message["Body"]])
    visitor.deliver([first["Body"]])  # SQS delivers at least once
    assert len(visitor.mail_to("bom@example.com")) == sent + 1


def test_access_gives_everything_held_at_once_with_the_exact_texts(visitor):
    """LAW 25 and 6: after proving control of the address, all data as JSON, free, at once."""
    page = visitor.get("/forms/newsletter?lang=en").body.decode()
    shown = _labels(page)
    visitor.subscribe("alles@example.com", lang="en", name="Anouk Alles")
    visitor.api_post(
        "/api/soft-opt-ins", {"email": "alles@example.com", "purposes": ["offers"], "evidence": EVIDENCE}
    )
    imported_text = "I agree to the newsletter.\nSigned at the counter."
    proof = {"consented_at": "2024-01-02T03:04:05Z", "source": "shop counter", "text": imported_text}
    visitor.api_post(
        "/api/imports",
        {
            "contacts": [
                {"email": "alles@example.com", "lang": "en", "purposes": ["newsletter"], "evidence": proof}
            ]
        },
    )
    history = visitor.events("alles@example.com")
    _ask(visitor, "alles@example.com", "access", lang="en")
    visitor.run_mail_jobs()
    link = visitor.request_link("alles@example.com")

    before = visitor.items()
    button = visitor.get(link)
    assert button.status_code == 200
    assert '<form method="post">' in button.body.decode() and "Download my data" in button.body.decode()
    assert visitor.items() == before  # a GET exports nothing

    response = visitor.client.http.post(link, headers=FORM)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="consentry-export.json"'
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(response.body)
    assert data["format"] == "consentry-export/1"
    assert data["profile"]["email"] == "alles@example.com" and data["profile"]["name"] == "Anouk Alles"
    assert data["profile"]["lang"] == "en"
    assert data["purposes"] == visitor.contact("alles@example.com")["purposes"]
    assert data["purposes"]["newsletter"]["status"] == "granted"
    assert data["profiling"]["state"] == "allowed"
    assert data["suppression"] is None
    assert data["events"][: len(history)] == history  # the whole history, oldest first
    assert data["events"][-1]["type"] == "access_exported"
    assert data["events"][-1]["evidence"]["channel"] == "request_link"
    texts = {
        purpose: text
        for e in data["events"]
        if e["type"] == "signup_requested"
        for purpose, text in e["evidence"]["texts"].items()
    }
    assert texts == shown  # the exact words the person read
    (imported,) = [e for e in data["events"] if e["type"] == "imported"]
    assert imported["evidence"]["text"] == imported_text and imported["evidence"]["source"] == "shop counter"
    sale = [e for e in data["events"] if e["type"] == "soft_opt_in_recorded"]
    assert sale[0]["evidence"]["order_id"] == "ORD-7"
    assert any(r["record"] == "request" and r["type"] == "access" for r in data["records"])
    assert data["controller"]["name"] == catalogue.load().controller.name
    names = {r["name"] for r in data["processing"]["records"]}
    assert {"profile", "events", "suppression marker"} <= names
    assert all(r["retention"] for r in data["processing"]["records"])
    assert "access_exported" in [e["type"] for e in visitor.events("alles@example.com")]


def test_a_pending_person_may_see_their_data_too(visitor):
    visitor.signup("nogniet@example.com", purposes=("offers",))
    _ask(visitor, "nogniet@example.com", "access")
    visitor.run_mail_jobs()
    response = visitor.client.http.post(visitor.request_link("nogniet@example.com"), headers=FORM)
    data = json.loads(response.body)
    assert data["purposes"]["offers"]["status"] == "pending"
    assert any(r["record"] == "pending" for r in data["records"])
    (access,) = [i for i in visitor.person_items("nogniet@example.com") if i.get("type") == "access_exported"]
    assert isinstance(access["expires_at"], (int, float)) or str(access["expires_at"]).isdigit()


def test_erasure_by_link_shows_a_button_then_erases_leaving_only_the_marker(visitor):
    """LAW 26: profile, state and events gone from the table; the marker holds no address."""
    visitor.subscribe("vergeet@example.com", name="Vera Vergeet")
    _ask(visitor, "vergeet@example.com", "erasure")
    visitor.run_mail_jobs()
    link = visitor.request_link("vergeet@example.com")
    before = visitor.items()
    page = visitor.get(link)
    assert page.status_code == 200 and "Wis mijn gegevens" in page.body.decode()
    assert visitor.items() == before

    response = visitor.client.http.post(link, headers=FORM)
    assert response.status_code == 200 and "gewist" in response.body.decode()
    subject = visitor.subject("vergeet@example.com")
    assert [i for i in visitor.items() if i["pk"] == f"S#{subject}"] == []
    for item in visitor.items():
        flat = json.dumps(item, default=str).lower()
        assert "vergeet" not in flat and "vera" not in flat
    marker = visitor.ddb.get_item(
        TableName=visitor.resources["table"],
        Key={"pk": {"S": f"SUPPRESS#{subject}"}, "sk": {"S": "SUPPRESS"}},
    )["Item"]
    # No address: the reason, the date and (issue 14) the erased chain's last hash and seq.
    assert set(marker) == {"pk", "sk", "reason", "at", "last_hash", "last_seq"}
    assert marker["reason"]["S"] == "erasure"
    assert visitor.api("/api/contacts/vergeet@example.com").status_code == 404

    again = visitor.client.http.post(link, headers=FORM)  # a second click is harmless
    assert again.status_code == 200
    records = [i for i in visitor.items() if i["pk"] == f"SUPPRESS#{subject}"]
    assert len(records) == 2  # the marker and one record of the erasure


def test_access_after_erasure_finds_nothing(visitor):
    visitor.subscribe("leeg@example.com")
    _ask(visitor, "leeg@example.com", "access")
    visitor.run_mail_jobs()
    link = visitor.request_link("leeg@example.com")
    visitor.api_delete("/api/contacts/leeg@example.com")
    before = visitor.items()
    response = visitor.client.http.post(link, headers=FORM)
    assert response.status_code == 200 and "Geen gegevens" in response.body.decode()
    assert visitor.items() == before  # not even an access event for someone erased


def test_bad_foreign_or_other_kind_tokens_are_one_uniform_400(visitor):
    visitor.subscribe("token@example.com")
    confirm_token = visitor.confirm_link("token@example.com").rsplit("/", 1)[1]
    payload = {"s": visitor.subject("token@example.com"), "t": "erasure", "l": "nl"}
    foreign = URLSafeTimedSerializer("someone-elses-key", salt="consentry.request").dumps(payload)
    manage = tokens.sign("manage", payload)
    before = visitor.items()
    answers = [
        visitor.client.http.post(f"/requests/{t}", headers=FORM)
        for t in (confirm_token, foreign, manage, "x")
    ]
    assert {a.status_code for a in answers} == {400}
    assert len({a.body for a in answers}) == 1
    assert visitor.items() == before


def test_request_links_expire_after_the_stage_setting(visitor, monkeypatch):
    # English: the language oud@ chose at signup. The request is made from the Dutch page;
    # the mail, its link and the link's pages follow the person's own choice.
    visitor.subscribe("oud@example.com", lang="en")
    _ask(visitor, "oud@example.com", "erasure")
    three_days_ago = __import__("time").time() - 3 * 86400
    monkeypatch.setattr("itsdangerous.timed.TimestampSigner.get_timestamp", lambda self: int(three_days_ago))
    visitor.run_mail_jobs()
    monkeypatch.undo()
    link = visitor.request_link("oud@example.com")
    before = visitor.items()
    for method in ("GET", "POST"):
        response = visitor.client.http.request(method, link, headers=FORM if method == "POST" else {})
        assert response.status_code == 410
        body = response.body.decode()
        assert "no longer valid" in body and 'href="../requests?lang=en"' in body
    assert visitor.items() == before


def test_link_pages_leak_nothing_onward(visitor):
    visitor.subscribe("lek@example.com")
    _ask(visitor, "lek@example.com", "access")
    visitor.run_mail_jobs()
    link = visitor.request_link("lek@example.com")
    for response in (
        visitor.get(link),
        visitor.client.http.post(link, headers=FORM),
        visitor.get("/requests/x"),
    ):
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"


def test_logs_hold_no_address_name_token_or_link(visitor, caplog):
    """LAW 30 for these flows: our logs could be read by anyone with log access.

    (botocore's own DEBUG output holds request bodies; Lambda logs WARNING and above of it.)
    """
    caplog.set_level(logging.DEBUG, logger="consentry")
    visitor.subscribe("log.geheim@example.com", name="Geheime Naam")
    visitor.api_post(
        "/api/imports", {"contacts": [{"email": "log.import@example.com", "purposes": ["offers"]}]}
    )
    for kind in ("access", "erasure"):
        _ask(visitor, "log.geheim@example.com", kind)
        _ask(visitor, "log.onbekend@example.com", kind)
    visitor.run_mail_jobs()
    links = [visitor.request_link("log.geheim@example.com"), visitor.confirm_link("log.import@example.com")]
    visitor.client.http.post(links[0], headers=FORM)
    visitor.api_delete("/api/contacts/log.import@example.com")
    ours = [r for r in caplog.records if r.name.startswith("consentry")]
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in ours).lower()
    assert "request mail sent" in logged
    for secret in (
        "log.geheim",
        "log.import",
        "log.onbekend",
        "geheime naam",
        *(x.rsplit("/", 1)[1] for x in links),
    ):
        assert secret.lower() not in logged


def test_the_exports_record_of_processing_speaks_the_persons_language(visitor):
    """GDPR art. 12(1), 15(1): the purposes, bases, retention and recipients in words the
    person reads; the same record in each language, the stage's own periods filled in."""
    exports = {}
    for lang in ("de", "nl", "en"):
        email = f"archiv-{lang}@example.com"
        visitor.subscribe(email, lang=lang)
        _ask(visitor, email, "access")
        visitor.run_mail_jobs()
        response = visitor.client.http.post(visitor.request_link(email), headers=FORM)
        exports[lang] = json.loads(response.body)["processing"]
    names = {lang: [r["name"] for r in e["records"]] for lang, e in exports.items()}
    assert names["de"][:3] == [
        "Profil",
        "unbestätigte Anmeldung",
        "Status je Zweck und Profiling-Kennzeichen",
    ]
    assert names["nl"][:2] == ["profiel", "onbevestigde aanmelding"] and names["en"][0] == "profile"
    assert len({len(n) for n in names.values()}) == 1
    pending = {lang: e["records"][1]["retention"] for lang, e in exports.items()}
    assert pending == {
        "de": "30 Tage oder bis zur Bestätigung",
        "nl": "30 dagen, of tot de bevestiging",
        "en": "30 days, or until confirmed",
    }
    assert exports["de"]["processors"]["who"].endswith("(Auftragsverarbeitungsvertrag)")
    assert [s["service"] for s in exports["de"]["processors"]["services"]] == [
        s["service"] for s in exports["en"]["processors"]["services"]
    ]  # the names of services stay as they are


# -- requests are posted like forms, and never hold up a confirmation mail (issue 10) ------


def test_a_present_foreign_origin_cannot_post_a_request(visitor):
    """LAW 13: the Origin rule of the forms. The service itself and the organisation's own
    sites (the forms' listed origins) may post; another site gets 403 and nothing is queued."""
    visitor.subscribe("origin@example.com")
    for origin in ("https://evil.example", "null"):
        page = visitor.post_form(
            "/requests", {"email": "origin@example.com", "type": "erasure"}, headers={"Origin": origin}
        )
        assert page.status_code == 403 and "text/html" in page.headers["Content-Type"]
        as_json = visitor.post_json(
            "/requests", {"email": "origin@example.com", "type": "erasure"}, headers={"Origin": origin}
        )
        assert as_json.status_code == 403
    assert visitor.queued() == []
    for origin in ("https://consent.test", "https://www.consentry.example", None):
        headers = {"Origin": origin} if origin else {}
        answer = visitor.post_form(
            "/requests", {"email": "origin@example.com", "type": "access"}, headers=headers
        )
        assert answer.status_code == 202
    assert len(visitor.queued("mail")) == 3


def test_a_confirmation_mail_never_waits_behind_a_flood_of_request_mail(visitor):
    """300 request posts delayed a signup's confirmation mail from 2 s to 32 s: they shared
    one queue and its two workers. Confirmation mails now have their own queue and consumer."""
    import app as app_module

    visitor.subscribe("flooded@example.com")
    for n in range(30):
        _ask(visitor, f"flood{n}@example.com" if n % 2 else "flooded@example.com", "access")
    visitor.signup("waiting@example.com")
    (job,) = visitor.queued("confirm")  # the signup's mail, alone in its queue
    assert json.loads(job["Body"])["kind"] == "confirm"
    consumers = {
        s.name: s.queue for s in app_module.app.event_sources if type(s).__name__ == "SQSEventConfig"
    }
    assert consumers == {"mail_worker": app_module.MAIL_QUEUE, "confirm_worker": app_module.CONFIRM_QUEUE}
    assert app_module.MAIL_QUEUE != app_module.CONFIRM_QUEUE
    visitor.deliver([job["Body"]], "confirm_worker")  # its own consumer takes it at once
    assert len(visitor.mail_to("waiting@example.com")) == 1
    assert (
        visitor.sqs.get_queue_attributes(
            QueueUrl=visitor.resources["queue_url"], AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        != "0"
    )  # the flood still waits in its own queue
