"""The ledger's engine in the tests and the local stack: DynamoDB Local, with the table
made from resources.yaml (the production template) and from nowhere else."""

from __future__ import annotations

import boto3
import yaml

from scripts.local_stack import TEMPLATE, _CfnLoader, ensure_table

RESOURCES = yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=_CfnLoader)["Resources"]  # noqa: S506
TEMPLATE_TABLE = RESOURCES["Table"]["Properties"]  # the ledger; the erasure journal is the other table


def _keys(schema: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(k["AttributeName"], k["KeyType"]) for k in schema]


def test_the_ledger_runs_on_dynamodb_local_and_moto_holds_no_table(visitor, dynamodb_local):
    """mock_aws answers only AWS hostnames: the loopback endpoint passes through to the
    real engine, so every write of the app's flows lands there."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib import ledger

    visitor.subscribe("where@example.com")
    assert ledger.client().meta.endpoint_url == dynamodb_local
    on_local = boto3.client("dynamodb", region_name="eu-west-1", endpoint_url=dynamodb_local)
    assert on_local.scan(TableName="consentry-local", Select="COUNT")["Count"] == len(visitor.items()) > 0
    assert dynamodb_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].tables == {}


def test_the_table_is_the_one_resources_yaml_describes(ledger_table, dynamodb_local):
    ddb = boto3.client("dynamodb", region_name="eu-west-1", endpoint_url=dynamodb_local)
    table = ddb.describe_table(TableName=ledger_table)["Table"]
    assert ledger_table == "consentry-local"
    assert _keys(table["KeySchema"]) == _keys(TEMPLATE_TABLE["KeySchema"])
    assert {
        (i["IndexName"], tuple(_keys(i["KeySchema"])), i["Projection"]["ProjectionType"])
        for i in table["GlobalSecondaryIndexes"]
    } == {
        (i["IndexName"], tuple(_keys(i["KeySchema"])), i["Projection"]["ProjectionType"])
        for i in TEMPLATE_TABLE["GlobalSecondaryIndexes"]
    }
    assert table["BillingModeSummary"]["BillingMode"] == TEMPLATE_TABLE["BillingMode"]
    ttl = ddb.describe_time_to_live(TableName=ledger_table)["TimeToLiveDescription"]
    assert ttl == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": TEMPLATE_TABLE["TimeToLiveSpecification"]["AttributeName"],
    }


def test_a_restart_keeps_the_table_and_adds_an_index_the_template_gained(dynamodb_local, ledger_table):
    """A data dir made before resources.yaml gained an index: the table and its items are
    kept (never made again), and the index is added, as a stack update would on AWS."""
    ddb = boto3.client("dynamodb", region_name="eu-west-1", endpoint_url=dynamodb_local)
    ddb.delete_table(TableName=ledger_table)
    old = {k: TEMPLATE_TABLE[k] for k in ("KeySchema", "BillingMode")}
    ddb.create_table(
        TableName=ledger_table,
        AttributeDefinitions=[
            a for a in TEMPLATE_TABLE["AttributeDefinitions"] if a["AttributeName"] in ("pk", "sk")
        ],
        **old,
    )
    item = {
        "pk": {"S": "S#old"},
        "sk": {"S": "PROFILE"},
        "aud_pk": {"S": "A#newsletter"},
        "aud_sk": {"S": "old"},
    }
    ddb.put_item(TableName=ledger_table, Item=item)

    assert ensure_table(ddb, "local") == ledger_table

    assert ddb.get_item(TableName=ledger_table, Key={"pk": item["pk"], "sk": item["sk"]})["Item"] == item
    indexes = ddb.describe_table(TableName=ledger_table)["Table"]["GlobalSecondaryIndexes"]
    assert [i["IndexName"] for i in indexes] == ["audience", "chain"]
    found = ddb.query(
        TableName=ledger_table,
        IndexName="audience",
        KeyConditionExpression="aud_pk = :p",
        ExpressionAttributeValues={":p": {"S": "A#newsletter"}},
    )["Items"]
    assert found == [item]
