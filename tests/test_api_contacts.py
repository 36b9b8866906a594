"""GET /api/contacts/{email}[/events]: the sending system's view, behind the bearer key."""

from __future__ import annotations

import json

from tests.conftest import API_KEY


def test_without_a_valid_key_the_api_answers_401(visitor):
    visitor.signup("dora@example.com")
    for headers in ({}, {"Authorization": "Bearer wrong-key-123"}, {"Authorization": f"Basic {API_KEY}"}):
        for path in ("/api/contacts/dora@example.com", "/api/contacts/dora@example.com/events"):
            response = visitor.get(path, headers=headers)
            assert response.status_code == 401
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert b"dora" not in response.body


def test_unknown_address_is_404_and_a_malformed_one_is_422(visitor):
    assert visitor.api("/api/contacts/nobody@example.com").status_code == 404
    assert visitor.api("/api/contacts/nobody@example.com/events").status_code == 404
    bad = visitor.api("/api/contacts/not-an-address")
    assert bad.status_code == 422 and "email" in json.loads(bad.body)["errors"]


def test_contact_shape_matches_the_contract(visitor):
    visitor.post_form(
        "/forms/newsletter", [("email", "edo@example.com"), ("name", "Edo"), ("purposes", "newsletter")]
    )
    contact = visitor.contact("EDO@example.com".lower())
    assert set(contact) == {"email", "name", "lang", "purposes", "profiling", "suppressed"}
    assert (contact["profiling"], contact["suppressed"]) == ("allowed", False)
    (state,) = contact["purposes"].values()
    assert set(state) == {"status", "basis", "since", "pending_signup"}
    assert state["since"].endswith("Z")
    assert (state["status"], state["pending_signup"]) == ("pending", True)
    # Nothing is confirmed yet: no name or language from a signup anyone could have made.
    assert (contact["name"], contact["lang"]) == (None, None)


def test_address_lookup_is_case_insensitive_and_url_encoded_addresses_work(visitor):
    visitor.signup("Fien.Jansen+news@Example.com")
    assert visitor.api("/api/contacts/fien.jansen%2Bnews%40example.com").status_code == 200
    assert visitor.api("/api/contacts/FIEN.JANSEN+NEWS@EXAMPLE.COM").status_code == 200


def test_events_are_oldest_first(visitor):
    visitor.signup("gijs@example.com", purposes=("newsletter",))
    visitor.run_mail_jobs()
    visitor.client.http.post(
        visitor.confirm_link("gijs@example.com"),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    events = visitor.events("gijs@example.com")
    assert [e["type"] for e in events] == ["signup_requested", "confirmation_sent", "confirmed"]
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
