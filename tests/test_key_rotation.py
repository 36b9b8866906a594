"""Rotating the link-signing key never breaks links already mailed, until the old key is retired."""

from __future__ import annotations

import json
import secrets

import boto3
from itsdangerous import URLSafeTimedSerializer

from chalicelib import keys

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _secret(visitor) -> dict:
    sm = boto3.client("secretsmanager", region_name="eu-west-1")
    return json.loads(sm.get_secret_value(SecretId=visitor.resources["secret_id"])["SecretString"])


def _put_secret(visitor, value: dict) -> None:
    sm = boto3.client("secretsmanager", region_name="eu-west-1")
    sm.put_secret_value(SecretId=visitor.resources["secret_id"], SecretString=json.dumps(value))
    keys.clear_cache()  # what a new container, or the cache period running out, does


def test_a_new_key_signs_while_links_signed_by_the_old_one_keep_working(visitor):
    visitor.signup("rot@example.com", purposes=("newsletter",))
    visitor.run_mail_jobs()
    old_link = visitor.confirm_link("rot@example.com")

    new_key = secrets.token_hex(32)
    _put_secret(visitor, {**_secret(visitor), "token_keys": [new_key]})
    visitor.signup("rot2@example.com", purposes=("newsletter",))
    visitor.run_mail_jobs()
    new_token = visitor.confirm_link("rot2@example.com").rsplit("/", 1)[1]
    # the new link is signed by the new key alone
    assert URLSafeTimedSerializer(new_key, salt="consentry.confirm").loads(new_token)["i"]
    assert visitor.client.http.post(old_link, headers=FORM).status_code == 200
    assert visitor.contact("rot@example.com")["purposes"]["newsletter"]["status"] == "granted"


def test_retiring_the_old_key_ends_its_links_and_keeps_subjects(visitor):
    visitor.signup("ret@example.com", purposes=("newsletter",))
    visitor.run_mail_jobs()
    old_link = visitor.confirm_link("ret@example.com")
    _put_secret(
        visitor,
        {**_secret(visitor), "token_keys": [secrets.token_hex(32)], "master_token_key_retired": True},
    )
    assert visitor.client.http.post(old_link, headers=FORM).status_code == 400
    # the subject key did not change: the same person is still found
    assert visitor.contact("ret@example.com")["purposes"]["newsletter"]["status"] == "pending"
