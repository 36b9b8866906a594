"""LAW 10: pending signups that are never confirmed vanish; confirming keeps the proof."""

from __future__ import annotations

import time
from decimal import Decimal

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
DAY = 86400


def _by_kind(items):
    kinds = {}
    for item in items:
        if item["pk"].startswith(("TEXT#", "RATE#")):
            continue
        sk = item["sk"]
        kind = "event" if sk.startswith("E#") else sk.split("#")[0]
        kinds.setdefault(kind, []).append(item)
    return kinds


def test_the_table_expires_items_by_ttl(visitor):
    ttl = visitor.ddb.describe_time_to_live(TableName=visitor.resources["table"])
    assert ttl["TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_everything_of_a_pending_signup_expires_after_the_retention_period(visitor):
    visitor.signup("zoe@example.com")
    visitor.run_mail_jobs()
    now = time.time()
    kinds = _by_kind(visitor.items())
    assert set(kinds) == {"PROFILE", "PENDING", "event"}
    for items in kinds.values():
        for item in items:
            assert abs(int(item["expires_at"]) - (now + 30 * DAY)) < 60, item["sk"]


def test_confirming_keeps_profile_and_proof_and_removes_the_pending_signup(visitor):
    visitor.signup("abe@example.com")
    visitor.run_mail_jobs()
    visitor.client.http.post(visitor.confirm_link("abe@example.com"), headers=FORM)
    kinds = _by_kind(visitor.items())
    assert "PENDING" not in kinds
    kept = kinds["PROFILE"] + kinds["event"] + kinds["P"]
    assert {i["type"] for i in kinds["event"]} == {"signup_requested", "confirmation_sent", "confirmed"}
    assert all("expires_at" not in item for item in kept)


def test_a_later_unconfirmed_signup_never_schedules_a_subscriber_for_deletion(visitor):
    visitor.signup("bea@example.com", purposes=("newsletter",))
    visitor.run_mail_jobs()
    visitor.client.http.post(visitor.confirm_link("bea@example.com"), headers=FORM)
    visitor.signup("bea@example.com", purposes=("offers",))
    (profile,) = _by_kind(visitor.items())["PROFILE"]
    # TTL only acts on numbers: a retained profile's expiry is its (text) retention date.
    assert (
        not isinstance(profile.get("expires_at"), (int, float))
        and not str(profile.get("expires_at", "")).isdigit()
    )
    (pending,) = _by_kind(visitor.items())["PENDING"]
    assert int(pending["expires_at"]) > time.time()


def test_an_expired_pending_person_is_gone_even_before_ttl_deletes_it(visitor):
    visitor.signup("cas@example.com")
    for item in visitor.items():
        if "expires_at" in item:
            visitor.ddb.update_item(
                TableName=visitor.resources["table"],
                Key={"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}},
                UpdateExpression="SET expires_at = :past",
                ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
            )
    assert visitor.api("/api/contacts/cas@example.com").status_code == 404
    visitor.run_mail_jobs()
    assert visitor.sent_mail() == []  # nor does a late job mail an expired signup


def test_rate_counters_expire_within_their_window_plus_the_keep_period(visitor):
    visitor.signup("dan@example.com")
    counters = [i for i in visitor.items() if i["pk"].startswith("RATE#")]
    # the mail cap per mailbox (the address's own mails are among its mailbox's), and per network
    assert {c["pk"].split("#")[1] for c in counters} == {"mailbox", "ip"}
    for counter in counters:
        assert time.time() < int(counter["expires_at"]) <= time.time() + DAY + 48 * 3600
        assert "dan" not in counter["pk"] and "127.0.0.1" not in counter["pk"]


def test_the_local_ttl_sweep_deletes_what_dynamodb_ttl_would_and_keeps_the_proof(visitor):
    """LAW 10 on the local stack: DynamoDB Local never deletes by TTL, so `make run` sweeps.
    Thirty-one days on, every item whose numeric expiry passed is gone, the unconfirmed
    person with all of it; the subscriber's profile (a string expiry is no time to TTL),
    states, proof and the texts stay."""
    from scripts.dynamodb_local import sweep_expired

    visitor.signup("gone@example.com")
    visitor.subscribe("kept@example.com", purposes=("newsletter",))
    visitor.signup("kept@example.com", purposes=("offers",))
    visitor.run_mail_jobs()
    items = visitor.items()
    later = time.time() + 31 * DAY
    expiring = {
        (i["pk"], i["sk"])
        for i in items
        if isinstance(i.get("expires_at"), Decimal) and i["expires_at"] < later
    }
    assert {(i["pk"], i["sk"]) for i in visitor.person_items("gone@example.com")} <= expiring

    table = visitor.resources["table"]
    assert sweep_expired(visitor.ddb, table, now=time.time()) == 0
    assert sweep_expired(visitor.ddb, table, now=later) == len(expiring)

    assert {(i["pk"], i["sk"]) for i in visitor.items()} == {(i["pk"], i["sk"]) for i in items} - expiring
    assert visitor.api("/api/contacts/gone@example.com").status_code == 404
    assert visitor.contact("kept@example.com")["purposes"]["newsletter"]["status"] == "granted"
    kept = [e["type"] for e in visitor.events("kept@example.com")]
    assert kept == [
        "signup_requested",
        "confirmation_sent",
        "confirmed",
    ]  # the later, unconfirmed one expired
    assert len([i for i in visitor.items() if i["pk"].startswith("TEXT#")]) == 2
