"""The package's botocore data (scripts/awsdata.py, chalicelib/aws.py): clients made from it
alone call every operation the app calls exactly as clients of botocore's own data do (the
same shapes, errors, endpoints and signing), and nothing else; a call the code makes that
the package does not carry fails here, not in Lambda."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name
from botocore.exceptions import UnknownServiceError

from chalicelib import aws
from chalicelib.aws import OPERATIONS, SERVICES
from scripts import awsdata

ROOT = Path(__file__).resolve().parent.parent
REGIONS = ("eu-west-1", "eu-central-1", "us-east-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1")
KEYS = {"aws_access_key_id": "x", "aws_secret_access_key": "y"}


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return awsdata.files()


@pytest.fixture(scope="module")
def sessions(tmp_path_factory, files) -> tuple[botocore.session.Session, botocore.session.Session]:
    """botocore's own session, and one as the package's app makes it (chalicelib/aws.py)."""
    data = awsdata.write(tmp_path_factory.mktemp("awsdata"))
    packaged = botocore.session.get_session()
    packaged.register_component("data_loader", aws.data_loader(data))
    return botocore.session.get_session(), packaged


def code_calls(paths: list[Path] | None = None) -> dict[str, set[str]]:
    """Every operation of SERVICES whose client method the package's code calls anywhere
    (app.py and chalicelib/, the digest signer too): botocore's method name is the
    operation's name in snake case."""
    called: set[str] = set()
    for path in paths or [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        called |= {
            node.func.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        }
    full = botocore.session.get_session()
    return {
        service: {op for op in full.get_service_model(service).operation_names if xform_name(op) in called}
        for service in SERVICES
    }


def test_the_package_carries_every_operation_the_code_calls_and_no_other():
    assert code_calls() == {service: set(ops) for service, ops in OPERATIONS.items()}


def test_the_check_finds_a_new_call(tmp_path):
    """A module that starts calling Scan and DeleteQueue: the check above fails for them."""
    module = tmp_path / "new.py"
    module.write_text("def f(c, q):\n    c.scan(TableName='t')\n    q.delete_queue(QueueUrl='u')\n")
    found = {service: ops for service, ops in code_calls([module]).items() if ops}
    assert found == {"dynamodb": {"Scan"}, "sqs": {"DeleteQueue"}}


def _shape(shape: Any, seen: frozenset[str] = frozenset()) -> Any:
    """A shape as botocore's model hands it to the serializer, parser and validator."""
    if shape is None:
        return None
    if shape.name in seen:  # recursive shapes (DynamoDB's AttributeValue)
        return shape.name
    seen |= {shape.name}
    described: dict[str, Any] = {
        "name": shape.name,
        "type": shape.type_name,
        "serialization": shape.serialization,
        "metadata": shape.metadata,
    }
    if shape.type_name == "structure":
        described["required"] = shape.required_members
        described["members"] = {k: _shape(v, seen) for k, v in shape.members.items()}
        described["order"] = list(shape.members)  # the order members serialise in
        described["error_code"] = shape.error_code
    elif shape.type_name == "list":
        described["member"] = _shape(shape.member, seen)
    elif shape.type_name == "map":
        described["key"], described["value"] = _shape(shape.key, seen), _shape(shape.value, seen)
    elif shape.type_name == "string":
        described["enum"] = shape.enum
    return described


def _params(params: list[Any]) -> list[str]:
    return [repr(p) for p in params]  # botocore's named tuples and objects print every field


def _operation(model: Any) -> dict[str, Any]:
    return {
        "http": model.http,
        "wire_name": model.wire_name,
        "input": _shape(model.input_shape),
        "output": _shape(model.output_shape),
        "errors": [_shape(e) for e in model.error_shapes],
        "endpoint_discovery": model.endpoint_discovery,
        "is_endpoint_discovery_operation": model.is_endpoint_discovery_operation,
        "static_context": _params(model.static_context_parameters),
        "context": _params(model.context_parameters),
        "operation_context": model.operation_context_parameters,
        "compression": model.request_compression,
        "auth": (model.auth, model.auth_type, model.resolved_auth_type),
        "checksum": (model.http_checksum, model.http_checksum_required),
        "idempotent": model.idempotent_members,
        "endpoint": model.endpoint,
        "streaming": (model.has_streaming_input, model.has_streaming_output),
    }


@pytest.mark.parametrize("service", SERVICES)
def test_each_operation_the_app_calls_has_botocores_own_shapes_errors_and_metadata(sessions, service):
    full, packaged = sessions
    mine, theirs = packaged.get_service_model(service), full.get_service_model(service)
    assert mine.metadata == theirs.metadata
    assert mine.signature_version == theirs.signature_version
    assert _params(mine.client_context_parameters) == _params(theirs.client_context_parameters)
    for op in OPERATIONS[service]:
        assert _operation(mine.operation_model(op)) == _operation(theirs.operation_model(op)), op
    # every exception the service defines: client.exceptions and the errors calls raise
    assert [e.name for e in mine.error_shapes] == [e.name for e in theirs.error_shapes]
    for error in mine.error_shapes:
        assert _shape(error) == _shape(theirs.shape_for(error.name))


@pytest.mark.parametrize("service", SERVICES)
def test_a_packaged_client_has_the_apps_operations_and_botocores_exceptions(sessions, service):
    full, packaged = sessions
    client = packaged.create_client(service, region_name="eu-west-1", **KEYS)
    theirs = full.create_client(service, region_name="eu-west-1", **KEYS)
    for op in OPERATIONS[service]:
        assert callable(getattr(client, xform_name(op)))
    assert sorted(client.exceptions._code_to_exception) == sorted(theirs.exceptions._code_to_exception)
    # the endpoint operation stays (DynamoDB's), so endpoint discovery behaves as botocore's
    endpoint_op = theirs.meta.service_model.endpoint_discovery_operation
    assert getattr(client.meta.service_model.endpoint_discovery_operation, "name", None) == getattr(
        endpoint_op, "name", None
    )


def test_an_operation_or_service_the_package_lacks_fails_clearly(sessions):
    _, packaged = sessions
    client = packaged.create_client("dynamodb", region_name="eu-west-1", **KEYS)
    with pytest.raises(AttributeError, match="'scan'"):
        client.scan(TableName="t")
    with pytest.raises(UnknownServiceError, match="'sts'"):
        packaged.create_client("sts", region_name="eu-west-1", **KEYS)


def _resolved(session: botocore.session.Session, service: str, region: str) -> dict[str, object]:
    client = session.create_client(service, region_name=region, **KEYS)
    return {
        "url": client.meta.endpoint_url,
        "region": client.meta.region_name,
        "partition": client.meta.partition,
        "signing": client._request_signer.signing_name,  # what the signature is for
        "signing_region": client._request_signer.region_name,
    }


@pytest.mark.parametrize("service", SERVICES)
def test_packaged_clients_resolve_endpoints_as_botocores_own(sessions, service):
    full, packaged = sessions
    for region in REGIONS:
        assert _resolved(packaged, service, region) == _resolved(full, service, region), region


def test_the_endpoints_keep_every_partition_and_region_but_only_the_apps_services(files):
    data = json.loads(files["endpoints.json"])
    full = botocore.session.get_session().get_component("data_loader").load_data("endpoints")
    assert [p["regions"] for p in data["partitions"]] == [p["regions"] for p in full["partitions"]]
    # sesv2 is listed under its endpoint prefix, "email"
    assert set(data["partitions"][0]["services"]) == set(SERVICES) - {"sesv2"} | {"email"}


def test_the_data_is_small_plain_json_without_documentation_and_the_same_each_time(files):
    assert files == awsdata.files()  # the package build stays deterministic
    assert all(name.endswith(".json") for name in files)  # botocore reads .json first
    assert sum(len(b) for b in files.values()) < 200_000  # botocore's for these: 3.2 MB
    for name, content in files.items():
        if name.endswith("service-2.json"):
            model = json.loads(content)
            assert "documentation" not in model
            assert not any("documentation" in op for op in model["operations"].values())
            assert not any("documentation" in s for s in model["shapes"].values())
            refs = [m for s in model["shapes"].values() for m in s.get("members", {}).values()]
            assert refs and not any("documentation" in m for m in refs), name
