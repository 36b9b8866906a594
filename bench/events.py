"""Lambda events as API Gateway, SQS and DynamoDB Streams deliver them, built by hand.

Standard library only: the package test and the cold-start child import this on a Python
that has nothing but boto3, as the Lambda runtime does.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit


def match_route(templates: list[str], path: str) -> tuple[str, dict[str, str]] | None:
    """The route template a concrete path belongs to, and its path parameters."""
    parts = path.strip("/").split("/")
    for template in templates:
        names = template.strip("/").split("/")
        if len(names) != len(parts):
            continue
        params: dict[str, str] = {}
        for name, part in zip(names, parts, strict=True):
            if name.startswith("{") and name.endswith("}"):
                params[name[1:-1]] = part
            elif name != part:
                break
        else:
            return template, params
    return None


def api_event(
    method: str,
    template: str,
    path: str,
    params: dict[str, str],
    *,
    query: str = "",
    headers: dict[str, str] | None = None,
    body: str | None = None,
    source_ip: str = "198.51.100.7",
    user_agent: str = "bench/1.0",
) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event, as the Lambda behind `chalice deploy` receives it."""
    headers = {"Host": "consent.example", "User-Agent": user_agent, **(headers or {})}
    multi_query = parse_qs(query, keep_blank_values=True) if query else None
    return {
        "resource": template,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} if multi_query else None,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": template,
            "httpMethod": method,
            "path": f"/api{path}",
            "stage": "api",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": source_ip, "userAgent": user_agent},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def request_event(
    templates: list[str],
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: str | None = None,
) -> dict[str, Any]:
    """An event for a path (with its query string) that one of the app's routes serves."""
    parts = urlsplit(url)
    found = match_route(templates, parts.path)
    if found is None:
        raise LookupError(f"no route serves {parts.path}")
    template, params = found
    return api_event(method, template, parts.path, params, query=parts.query, headers=headers, body=body)


def sqs_event(body: str, queue_arn: str, region: str = "eu-west-1") -> dict[str, Any]:
    """The event a Lambda SQS trigger delivers for one message."""
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "bench",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        ]
    }


def stream_event(items: list[dict[str, Any]], table: str, region: str = "eu-west-1") -> dict[str, Any]:
    """The DynamoDB Streams event Lambda delivers for these items (DynamoDB's JSON), each as
    written (an INSERT with its new image): what push_changes gets for a fresh person's writes.
    moto's in-process mock has no stream API, so the bench builds the batch from the table."""
    arn = f"arn:aws:dynamodb:{region}:111122223333:table/{table}/stream/2026-01-01T00:00:00.000"
    return {
        "Records": [
            {
                "eventID": uuid.uuid4().hex,
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": region,
                "dynamodb": {
                    "ApproximateCreationDateTime": 1767225600,
                    "Keys": {"pk": item["pk"], "sk": item["sk"]},
                    "NewImage": item,
                    "SequenceNumber": f"{n:021d}",
                    "SizeBytes": len(str(item)),
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
                "eventSourceARN": arn,
            }
            for n, item in enumerate(items, 1)
        ]
    }


class LambdaContext:
    """The few attributes of the runtime's context object that handlers may read."""

    function_name = "consentry-bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:eu-west-1:111122223333:function:consentry-bench"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = "/aws/lambda/consentry-bench"
        self.log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
