"""The package's trimmed endpoint data (chalicelib/aws.py, scripts/package.py) resolves every
client exactly as botocore's own data does: the same URL, region, partition and signing
name, for the services the app calls and for others, in regions of several partitions."""

from __future__ import annotations

import json

import botocore.session
import pytest

from chalicelib.aws import SERVICES
from scripts import package as packaging

REGIONS = ("eu-west-1", "eu-central-1", "us-east-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1")
OTHERS = ("sts", "dynamodbstreams", "cloudwatch")


@pytest.fixture(scope="module")
def sessions(tmp_path_factory) -> tuple[botocore.session.Session, botocore.session.Session]:
    data = tmp_path_factory.mktemp("awsdata")
    (data / "endpoints.json").write_bytes(packaging.trimmed_endpoints())
    trimmed = botocore.session.get_session()
    trimmed.set_config_variable("data_path", str(data))
    return botocore.session.get_session(), trimmed


def _resolved(session: botocore.session.Session, service: str, region: str) -> dict[str, object]:
    client = session.create_client(
        service, region_name=region, aws_access_key_id="x", aws_secret_access_key="y"
    )
    return {
        "url": client.meta.endpoint_url,
        "region": client.meta.region_name,
        "partition": client.meta.partition,
        "signing": client._request_signer.signing_name,  # what the signature is for
        "signing_region": client._request_signer.region_name,
    }


@pytest.mark.parametrize("service", SERVICES + OTHERS)
def test_trimmed_endpoint_data_resolves_every_client_as_botocores_own(sessions, service):
    full, trimmed = sessions
    for region in REGIONS:
        assert _resolved(trimmed, service, region) == _resolved(full, service, region), region


def test_it_keeps_every_partition_and_region_but_only_the_apps_services():
    data = json.loads(packaging.trimmed_endpoints())
    full = botocore.session.get_session().get_component("data_loader").load_data("endpoints")
    assert [p["regions"] for p in data["partitions"]] == [p["regions"] for p in full["partitions"]]
    # sesv2 is listed under its endpoint prefix, "email"
    assert set(data["partitions"][0]["services"]) == set(SERVICES) - {"sesv2"} | {"email"}
    assert len(packaging.trimmed_endpoints()) < 50_000
