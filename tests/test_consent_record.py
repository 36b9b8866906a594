"""The record says exactly what each person agreed to (issue 10, part A).

Anyone can type an address into a form. Until its owner confirms, such a signup changes
nothing that the API, the audiences or our mails say about the person; confirming grants
only what the signup still holds; nothing a stranger types reaches our mail; erasure leaves
no personal data, not even inside an imported consent text.
"""

from __future__ import annotations

import json
import re

from chalicelib import catalogue

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
TEXTS = {p: purpose.texts for p, purpose in catalogue.load().purposes.items()}


def _plain(mail) -> str:
    return mail.get_body(("plain",)).get_content()


def _html(mail) -> str:
    return mail.get_body(("html",)).get_content()


def _purposes(visitor, email):
    return {p: (s["status"], s["pending_signup"]) for p, s in visitor.contact(email)["purposes"].items()}


def _in_audience(visitor, purpose, email):
    return [c for c in visitor.audience(purpose) if c["email"] == email]


def _access_mail_greeting(visitor, email) -> str:
    """The first line of the access-request mail this address gets now."""
    visitor.run_mail_jobs()  # the confirmation mails of earlier signups first
    before = len(visitor.mail_to(email))
    assert visitor.post_form("/requests", {"email": email, "type": "access"}).status_code == 202
    visitor.run_mail_jobs()
    mails = visitor.mail_to(email)
    assert len(mails) == before + 1
    return _plain(mails[-1]).splitlines()[0]


# -- 1. an unconfirmed signup never changes a person on file ------------------------------


def test_a_strangers_signup_never_names_a_subscriber_who_gave_no_name(visitor):
    """LAW 5: the profile is what the person confirmed. Before: the stranger's name filled
    the empty one (if_not_exists) and showed in the API, the audience and our mails."""
    visitor.subscribe("sanne@example.com", purposes=("newsletter",))
    visitor.signup("sanne@example.com", purposes=("newsletter",), name="Pwned Fool", lang="en")
    contact = visitor.contact("sanne@example.com")
    assert (contact["name"], contact["lang"]) == (None, "nl")
    (row,) = _in_audience(visitor, "newsletter", "sanne@example.com")
    assert (row["name"], row["lang"]) == (None, "nl")
    assert _access_mail_greeting(visitor, "sanne@example.com") == "Hallo,"


def test_the_name_and_language_are_those_of_the_signup_confirmed(visitor):
    """A stranger's first signup no longer decides the name a later, real signup confirms
    under ("Beste Pwned Fool," in her own mail)."""
    visitor.signup("fenna@example.com", purposes=("offers",), name="Pwned Fool", lang="en")
    visitor.run_mail_jobs()
    visitor.signup("fenna@example.com", purposes=("newsletter",), name="Fenna", lang="nl")
    assert visitor.confirm("fenna@example.com").status_code == 200  # the latest link: hers
    contact = visitor.contact("fenna@example.com")
    assert (contact["name"], contact["lang"]) == ("Fenna", "nl")
    assert _purposes(visitor, "fenna@example.com") == {
        "newsletter": ("granted", False),
        "offers": ("pending", True),  # the stranger's signup still waits, granting nothing
    }
    (row,) = _in_audience(visitor, "newsletter", "fenna@example.com")
    assert (row["name"], row["lang"]) == ("Fenna", "nl")
    assert _access_mail_greeting(visitor, "fenna@example.com") == "Beste Fenna,"


def test_a_person_with_only_a_pending_signup_shows_no_name_or_language(visitor):
    """What the API shows before anything is confirmed: the address and what was asked."""
    visitor.signup("pieter@example.com", purposes=("newsletter",), name="Pieter", lang="en")
    contact = visitor.contact("pieter@example.com")
    assert contact["email"] == "pieter@example.com"
    assert (contact["name"], contact["lang"]) == (None, None)
    assert _purposes(visitor, "pieter@example.com") == {"newsletter": ("pending", True)}
    # The signup keeps what its own confirmation needs, and the confirmation writes it.
    assert visitor.confirm("pieter@example.com").status_code == 200
    contact = visitor.contact("pieter@example.com")
    assert (contact["name"], contact["lang"]) == ("Pieter", "en")


# -- 2. a new pending signup never hides a withdrawal -------------------------------------


def test_a_new_signup_never_hides_a_withdrawal(visitor):
    """LAW 19: after a one-click unsubscribe, a stranger's signup left the API saying
    `pending`. The state stays what was last withdrawn; the waiting signup shows beside it."""
    visitor.subscribe("wouter@example.com")
    assert visitor.one_click(visitor.unsubscribe_path("wouter@example.com", "offers")).status_code == 200
    visitor.signup("wouter@example.com", purposes=("offers",), name="Stranger")
    assert _purposes(visitor, "wouter@example.com") == {
        "newsletter": ("granted", False),
        "offers": ("withdrawn", True),
    }
    assert _in_audience(visitor, "offers", "wouter@example.com") == []
    page = visitor.get(visitor.unsubscribe_path("wouter@example.com")).body.decode()
    (row,) = [li for li in page.split('<li class="choice">')[1:] if 'name="leave" value="offers"' in li]
    offers = re.search(r'data-state="(\w+)">\(([^)]*)\)', row)
    assert offers is not None and offers.group(1) == "withdrawn" and "afgemeld" in offers.group(2)
    assert "nieuwe aanmelding" in offers.group(2)  # the waiting signup, beside the withdrawal


def test_a_granted_purpose_with_a_waiting_signup_stays_granted(visitor):
    visitor.subscribe("greet@example.com", purposes=("newsletter",))
    visitor.signup("greet@example.com", purposes=("newsletter", "offers"))
    assert _purposes(visitor, "greet@example.com") == {
        "newsletter": ("granted", True),
        "offers": ("pending", True),
    }


# -- 3. a confirm link grants only what the signup still holds ---------------------------


def test_a_confirm_link_never_grants_what_was_withdrawn_after_it_was_mailed(visitor):
    """LAW 2, 19: sign up for two, withdraw one through its unsubscribe link, confirm: only
    the other is granted, and the page (before and after the button) lists only that one."""
    visitor.signup("tessa@example.com", purposes=("newsletter", "offers"))
    visitor.run_mail_jobs()
    link = visitor.confirm_link("tessa@example.com")
    assert visitor.one_click(visitor.unsubscribe_path("tessa@example.com", "offers")).status_code == 200

    shown = visitor.get(link).body.decode()
    assert TEXTS["newsletter"]["nl"] in shown and TEXTS["offers"]["nl"] not in shown
    answer = visitor.client.http.post(link, headers=FORM)
    assert answer.status_code == 200
    body = answer.body.decode()
    assert TEXTS["newsletter"]["nl"] in body and TEXTS["offers"]["nl"] not in body
    assert _purposes(visitor, "tessa@example.com") == {
        "newsletter": ("granted", False),
        "offers": ("withdrawn", False),
    }
    assert _in_audience(visitor, "offers", "tessa@example.com") == []
    confirmed = [e["purposes"] for e in visitor.events("tessa@example.com") if e["type"] == "confirmed"]
    assert confirmed == [["newsletter"]]


def test_a_confirm_link_whose_every_purpose_was_withdrawn_grants_nothing(visitor):
    visitor.signup("olaf@example.com", purposes=("offers",))
    visitor.run_mail_jobs()
    link = visitor.confirm_link("olaf@example.com")
    assert visitor.one_click(visitor.unsubscribe_path("olaf@example.com")).status_code == 200
    assert visitor.get(link).status_code == 410
    assert visitor.client.http.post(link, headers=FORM).status_code == 410
    assert _purposes(visitor, "olaf@example.com") == {"offers": ("withdrawn", False)}
    assert not any(e["type"] == "confirmed" for e in visitor.events("olaf@example.com"))


# -- 4. nothing a stranger types reaches our mail ------------------------------------------


def test_a_name_with_a_link_or_a_domain_is_refused_naming_the_field(visitor):
    """LAW 12: a name is shown in mail after confirmation; a link or a domain in it never
    reaches our DKIM-signed mail. Refused whole: nothing stored, nothing sent."""
    for name in (
        "Account locked: unlock at https://evil.example/x",
        "Unlock at evil.example",
        "www.evil.example",
        "mail root@evil.example",
        "Ｅｖｉｌ．ｅｘａｍｐｌｅ",
    ):
        answer = visitor.post_json(
            "/forms/newsletter", {"email": "mallory@example.com", "name": name, "purposes": ["newsletter"]}
        )
        assert answer.status_code == 422, name
        assert set(json.loads(answer.body)["errors"]) == {"name"}
        page = visitor.post_form(
            "/forms/newsletter",
            [("email", "mallory@example.com"), ("name", name), ("purposes", "newsletter")],
        )
        assert page.status_code == 422 and 'aria-invalid="true"' in page.body.decode()
    assert visitor.items() == [i for i in visitor.items() if i["pk"].startswith("TEXT#")]
    assert visitor.queued() == []
    for name in ("J.R. de Vries", "Anne-Marie O'Brien", "Dr. Jansen", "Zoë van den Berg"):
        ok = visitor.post_json(
            "/forms/newsletter", {"email": "ok@example.com", "name": name, "purposes": ["offers"]}
        )
        assert ok.status_code == 202, name


def test_the_confirmation_mail_carries_nothing_the_signup_typed(visitor):
    """LAW 8: the confirmation mail, the one mail anyone can make us send, holds only the
    request, the controller and the link: no greeting by a name nobody has confirmed."""
    visitor.signup("karin@example.com", purposes=("newsletter",), name="Your account is locked call 0800")
    visitor.run_mail_jobs()
    (mail,) = visitor.mail_to("karin@example.com")
    assert _plain(mail).startswith("Hallo,\n")
    assert "locked" not in _plain(mail) and "locked" not in _html(mail)


# -- 11. what the erasure page promises -----------------------------------------------------


def test_the_erasure_pages_promise_only_what_is_true(visitor):
    """LAW 26, 22, 11: after erasure nothing mails the address, except a new signup's one
    confirmation mail (fresh consent asked for; capped like any). The pages say so."""
    visitor.subscribe("erna@example.com", purposes=("offers",))
    visitor.post_form("/requests", {"email": "erna@example.com", "type": "erasure"})
    visitor.run_mail_jobs()
    link = visitor.request_link("erna@example.com")
    shown = visitor.get(link).body.decode()
    done = visitor.client.http.post(link, headers=FORM).body.decode()
    for page in (shown, done):
        assert "geen mail meer van ons" in page and "opnieuw aanmeldt" in page, page
    before = len(visitor.mail_to("erna@example.com"))

    # An import without proof and a soft opt-in are refused by the marker: no mail.
    visitor.api_post("/api/imports", {"contacts": [{"email": "erna@example.com", "purposes": ["offers"]}]})
    sale = {"order_id": "A1", "purchased_at": "2025-01-10T09:00:00Z", "opt_out_offered": True}
    assert (
        visitor.api_post(
            "/api/soft-opt-ins", {"email": "erna@example.com", "purposes": ["offers"], "evidence": sale}
        ).status_code
        == 409
    )
    visitor.post_form("/requests", {"email": "erna@example.com", "type": "access"})
    visitor.run_mail_jobs()
    assert len(visitor.mail_to("erna@example.com")) == before
    # A new signup asks again, once, as the pages now say.
    visitor.signup("erna@example.com", purposes=("offers",))
    visitor.run_mail_jobs()
    assert len(visitor.mail_to("erna@example.com")) == before + 1
    assert "/confirm/" in _plain(visitor.mail_to("erna@example.com")[-1])


def test_the_erasure_pages_in_english(visitor):
    visitor.subscribe("ed@example.com", purposes=("offers",), lang="en")
    visitor.post_form("/requests", {"email": "ed@example.com", "type": "erasure"})
    visitor.run_mail_jobs()
    link = visitor.request_link("ed@example.com")
    for page in (visitor.get(link), visitor.client.http.post(link, headers=FORM)):
        body = page.body.decode()
        assert "no more mail" in body and "signs this address up again" in body, body


# -- 12. an imported text holds no personal data beyond erasure -----------------------------


def test_an_imported_text_is_erased_with_the_person(visitor):
    """LAW 26: a text typed into an import can hold anything (a name, a phone number); it is
    kept with the person's own events, so erasure takes it along. Before: a shared TEXT#
    item outside the person survived the erasure."""
    text = "Ik, Ingrid Import (06-12345678, ingrid@example.com), wil aanbiedingen ontvangen."
    evidence = {"consented_at": "2024-06-01T10:00:00Z", "source": "beurs", "text": text}
    answer = visitor.api_post(
        "/api/imports",
        {"contacts": [{"email": "ingrid@example.com", "purposes": ["offers"], "evidence": evidence}]},
    )
    assert json.loads(answer.body)["results"] == [{"email": "ingrid@example.com", "result": "imported"}]
    (event,) = visitor.events("ingrid@example.com")
    assert event["evidence"]["text"] == text  # still the exact text, as proof (LAW 5)
    assert visitor.api_delete("/api/contacts/ingrid@example.com").status_code == 200
    leftovers = [i for i in visitor.items() if "12345678" in json.dumps(i, default=str)]
    assert leftovers == []
