"""The mail job: one confirmation mail per signup, with only the request, controller and link."""

from __future__ import annotations

import json

from chalicelib import catalogue


def test_the_queued_job_holds_no_address(visitor):
    visitor.signup("queue.private@example.com")
    (message,) = visitor.queued()
    assert "queue.private" not in message["Body"]
    assert set(json.loads(message["Body"])) == {"kind", "subject", "signup"}


def test_one_confirmation_mail_in_the_signup_language(visitor):
    visitor.post_form(
        "/forms/newsletter",
        [("email", "quinn@example.com"), ("name", "Quinn"), ("lang", "en"), ("purposes", "newsletter")],
    )
    assert visitor.sent_mail() == []  # the form never waits for SES
    visitor.run_mail_jobs()
    (mail,) = visitor.mail_to("quinn@example.com")
    controller = catalogue.load().controller
    assert mail["Subject"] == f"Confirm your signup with {controller.name}"
    assert mail["From"] == "Consentry Demo <aanmelden@consentry.example>"
    text = mail.get_body(("plain",)).get_content()
    assert text.startswith("Hello,\n") and "Quinn" not in text  # LAW 8: nothing the form typed
    assert catalogue.load().purposes["newsletter"].texts["en"] in text
    assert "offers" not in text.lower()
    assert "https://consent.test/confirm/" in text
    assert controller.name in text and controller.address in text
    events = [e["type"] for e in visitor.events("quinn@example.com")]
    assert events == ["signup_requested"]
    # The mail job marks the signup (one plain write); the confirmation writes its event.
    (pending,) = visitor.pending("quinn@example.com")
    assert pending["mail_sent_at"] and pending["message_id"]


def test_the_confirmation_mail_has_no_advertising_images_or_tracking(visitor):
    """LAW 8: the request, the controller and the link; nothing else."""
    visitor.signup("rosa@example.com")
    visitor.run_mail_jobs()
    (mail,) = visitor.mail_to("rosa@example.com")
    html = mail.get_body(("html",)).get_content().lower()
    assert "<img" not in html and "<script" not in html and "url(" not in html
    links = [part.split('"')[0] for part in html.split('href="')[1:]]
    assert len(links) == 1 and links[0].startswith("https://consent.test/confirm/")
    assert mail.get_body(("plain",)).get_content().count("http") == 1
    for header in ("List-Unsubscribe", "X-Campaign", "X-Mailgun-Track"):
        assert header not in mail


def test_a_redelivered_job_sends_no_second_mail(visitor):
    visitor.signup("sam@example.com")
    (message,) = visitor.queued()
    visitor.deliver([message["Body"]])
    visitor.deliver([message["Body"]])
    assert len(visitor.mail_to("sam@example.com")) == 1
    assert visitor.confirm("sam@example.com").status_code == 200
    types = [e["type"] for e in visitor.events("sam@example.com")]
    assert types == ["signup_requested", "confirmation_sent", "confirmed"]


def test_two_signups_get_two_mails(visitor):
    visitor.signup("tim@example.com", purposes=("newsletter",))
    visitor.signup("tim@example.com", purposes=("offers",))
    visitor.run_mail_jobs()
    assert len(visitor.mail_to("tim@example.com")) == 2


def test_a_poisoned_job_fails_so_the_queue_can_dead_letter_it(visitor):
    import pytest

    with pytest.raises(json.JSONDecodeError):
        visitor.deliver(["not json"])
    assert visitor.sent_mail() == []


def test_the_first_mail_already_tells_of_the_right_to_object(visitor):
    """LAW 20: the right to object is shown no later than the first mail, in its language."""
    visitor.post_form("/forms/newsletter", [("email", "obj.nl@example.com"), ("purposes", "newsletter")])
    visitor.post_form(
        "/forms/newsletter", [("email", "obj.en@example.com"), ("lang", "en"), ("purposes", "newsletter")]
    )
    visitor.run_mail_jobs()
    for address, words in (("obj.nl", "bezwaar te maken tegen profilering"), ("obj.en", "right to object")):
        (mail,) = visitor.mail_to(f"{address}@example.com")
        assert words in mail.get_body(("plain",)).get_content()
        assert words in mail.get_body(("html",)).get_content()
