"""DELETE /api/contacts/{email} and the suppression marker erasure leaves (LAW 26, 22, 5)."""

from __future__ import annotations

import json
import re
import time

PROOF = {
    "consented_at": "2024-06-01T10:00:00Z",
    "source": "webshop checkout 2024",
    "text": "Ja, aanbiedingen.",
}
SALE = {"order_id": "ORD-9", "purchased_at": "2025-01-10T09:00:00Z", "opt_out_offered": True}


def _everything_about(visitor, email):
    """Every item in the table that mentions the person: by key, by address, by name."""
    subject = visitor.subject(email)
    local = email.split("@")[0]
    found = []
    for item in visitor.items():
        flat = json.dumps(item, default=str).lower()
        if item["pk"] == f"S#{subject}" or local in flat:
            found.append(item)
    return found


def test_erasure_deletes_profile_states_and_events_and_leaves_a_marker_without_address(visitor):
    visitor.subscribe("erik.erase@example.com", name="Erik Erasmus")
    visitor.api_post(
        "/api/soft-opt-ins", {"email": "erik.erase@example.com", "purposes": ["offers"], "evidence": SALE}
    )
    visitor.api_post(
        "/api/imports",
        {"contacts": [{"email": "erik.erase@example.com", "purposes": ["newsletter"], "evidence": PROOF}]},
    )
    visitor.post_form("/requests", {"email": "erik.erase@example.com", "type": "access"})
    visitor.run_mail_jobs()
    assert len(_everything_about(visitor, "erik.erase@example.com")) > 8

    response = visitor.api_delete("/api/contacts/erik.erase@example.com")
    assert response.status_code == 200
    assert json.loads(response.body) == {"erased": True}

    # Checked in the table, not only through the API: nothing by key, address or name.
    assert _everything_about(visitor, "erik.erase@example.com") == []
    assert not any("erasmus" in json.dumps(i, default=str).lower() for i in visitor.items())
    assert visitor.audience_index("newsletter") == [] and visitor.audience_index("offers") == []
    subject = visitor.subject("erik.erase@example.com")
    (marker,) = [i for i in visitor.items() if i["pk"] == f"SUPPRESS#{subject}" and i["sk"] == "SUPPRESS"]
    # No address: the reason, the date and (issue 14) the erased chain's last hash and seq.
    assert set(marker) == {"pk", "sk", "reason", "at", "last_hash", "last_seq"}
    assert re.fullmatch(r"[0-9a-f]{64}", marker["last_hash"])
    assert marker["reason"] == "erasure" and "expires_at" not in marker
    (record,) = [i for i in visitor.items() if i["pk"] == f"SUPPRESS#{subject}" and i["sk"].startswith("E#")]
    assert record["type"] == "erased" and record["evidence"]["channel"] == "api"
    assert abs(int(record["expires_at"]) - (time.time() + 365 * 86400)) < 60
    assert "@" not in json.dumps(record, default=str)

    # 404 everywhere.
    for path in ("/api/contacts/erik.erase@example.com", "/api/contacts/erik.erase@example.com/events"):
        assert visitor.api(path).status_code == 404
    assert visitor.api_delete("/api/contacts/erik.erase@example.com").status_code == 404


def test_an_erased_address_cannot_come_back_through_an_import_or_a_soft_opt_in(visitor):
    visitor.subscribe("terug@example.com")
    visitor.api_delete("/api/contacts/terug@example.com")
    results = json.loads(
        visitor.api_post(
            "/api/imports",
            {
                "contacts": [
                    {"email": "terug@example.com", "purposes": ["newsletter"], "evidence": PROOF},
                    {"email": "terug@example.com", "purposes": ["offers"]},
                ]
            },
        ).body
    )["results"]
    assert [r["result"] for r in results] == ["suppressed", "suppressed"]
    soft = visitor.api_post(
        "/api/soft-opt-ins", {"email": "terug@example.com", "purposes": ["offers"], "evidence": SALE}
    )
    assert soft.status_code == 409
    assert _everything_about(visitor, "terug@example.com") == []
    assert visitor.api("/api/contacts/terug@example.com").status_code == 404


def test_an_unknown_address_is_404_and_nothing_is_written(visitor):
    response = visitor.api_delete("/api/contacts/niemand@example.com")
    assert response.status_code == 404
    assert visitor.items() == []
    assert visitor.api_delete("/api/contacts/geen-adres").status_code == 422
    assert visitor.client.http.delete("/api/contacts/niemand@example.com").status_code == 401


def test_a_pending_only_person_can_be_erased(visitor):
    visitor.signup("half@example.com")
    assert visitor.api_delete("/api/contacts/half@example.com").status_code == 200
    assert _everything_about(visitor, "half@example.com") == []
    visitor.run_mail_jobs()
    assert visitor.mail_to("half@example.com") == []  # the queued job finds nothing to mail


def test_a_new_signup_confirmed_by_the_person_lifts_the_marker(visitor):
    """Fresh consent through double opt-in is the only way back in."""
    visitor.subscribe("opnieuw@example.com")
    visitor.api_delete("/api/contacts/opnieuw@example.com")
    visitor.signup("opnieuw@example.com", purposes=("offers",))
    assert visitor.contact("opnieuw@example.com")["suppressed"] is True  # not until confirmed
    assert visitor.confirm("opnieuw@example.com").status_code == 200
    contact = visitor.contact("opnieuw@example.com")
    assert contact["suppressed"] is False
    assert contact["purposes"] == {
        "offers": {
            "status": "granted",
            "basis": "consent",
            "since": contact["purposes"]["offers"]["since"],
            "pending_signup": False,
        }
    }
    subject = visitor.subject("opnieuw@example.com")
    assert not [i for i in visitor.items() if i["pk"] == f"SUPPRESS#{subject}" and i["sk"] == "SUPPRESS"]
    (result,) = json.loads(
        visitor.api_post(
            "/api/imports",
            {"contacts": [{"email": "opnieuw@example.com", "purposes": ["newsletter"], "evidence": PROOF}]},
        ).body
    )["results"]
    assert result["result"] == "imported"


def test_no_code_path_but_erasure_changes_or_deletes_an_event(visitor):
    """LAW 5: soft opt-ins, imports, requests and exports only ever add events."""
    email = "boek@example.com"
    visitor.subscribe(email, purposes=("newsletter",))
    pk = f"S#{visitor.subject(email)}"

    def events():
        return [i for i in visitor.items() if i["pk"] == pk and i["sk"].startswith("E#")]

    steps = [
        lambda: visitor.api_post(
            "/api/soft-opt-ins", {"email": email, "purposes": ["offers"], "evidence": SALE}
        ),
        lambda: visitor.api_post(
            "/api/imports", {"contacts": [{"email": email, "purposes": ["newsletter"], "evidence": PROOF}]}
        ),
        lambda: visitor.api_post("/api/imports", {"contacts": [{"email": email, "purposes": ["offers"]}]}),
        lambda: visitor.post_form("/requests", {"email": email, "type": "access"}),
        visitor.run_mail_jobs,
        lambda: visitor.client.http.post(
            visitor.request_link(email), headers={"Content-Type": "application/x-www-form-urlencoded"}
        ),
    ]
    seen = events()
    for step in steps:
        step()
        now = events()
        assert [e for e in now if e["sk"] in {s["sk"] for s in seen}] == seen
        assert len(now) >= len(seen)
        seen = now
    assert {e["type"] for e in seen} >= {
        "signup_requested",
        "confirmation_sent",
        "confirmed",
        "soft_opt_in_recorded",
        "imported",
        "access_exported",
    }
