"""AWS clients from one botocore session: no boto3 import, no resource layer.

boto3's ``client()`` is botocore's, reached through ``boto3.session``, which also imports the
resource layer and adds its own data path to the model loader's search; the app uses
clients only. Building them from botocore directly saves a cold start about a tenth of the
baseline (docs/operations.md, Performance). Every module still owns its client and makes it
on first use (``client`` here only builds); they share one session, so the service models,
endpoints and credentials are loaded once per container. Configuration is the SDK's own:
the region each caller passes, credentials and ``AWS_ENDPOINT_URL`` from the environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.loaders import Loader
    from botocore.session import Session

OPERATIONS: dict[str, tuple[str, ...]] = {
    "dynamodb": (
        "BatchGetItem",
        "BatchWriteItem",
        "GetItem",
        "PutItem",
        "Query",
        "TransactWriteItems",
        "UpdateItem",
    ),
    "events": ("PutEvents",),
    "kms": ("Sign",),
    "secretsmanager": ("GetSecretValue",),
    "sesv2": ("SendEmail",),
    "sqs": ("GetQueueUrl", "SendMessage", "SendMessageBatch"),
}
"""Every AWS operation the app calls, by service: the package's clients know these only
(DATA). A call not listed fails in the tests (tests/test_aws_data.py), never in Lambda."""
SERVICES = tuple(OPERATIONS)
"""The services the app calls."""
DATA = Path(__file__).resolve().parent / "awsdata"
"""In the package only (scripts/awsdata.py writes it): all the botocore data a client reads,
for SERVICES, and the app's loader searches nothing else. Without it, the first client of a
cold start lists botocore's 400-odd service folders twice, parses the whole service model
(DynamoDB's is 500 KB) and the endpoints of every service (1.25 MB). The package's models
hold OPERATIONS and what they reach, without documentation; the endpoints every partition
and region, with only SERVICES' entries. A service not in SERVICES has no client in the
package (botocore's UnknownServiceError), an operation not in OPERATIONS no method. Outside
the package the folder is absent and botocore's own data serves (the tests make theirs
from this data too: tests/conftest.py)."""


@lru_cache(maxsize=1)
def session() -> Session:
    """The container's botocore session (tools register their hooks on its events)."""
    import botocore.session

    made = botocore.session.get_session()
    if DATA.is_dir():
        made.register_component("data_loader", data_loader(DATA))
    return made


def data_loader(folder: Path) -> Loader:
    """botocore's loader of the data in ``folder`` alone: neither botocore's own data nor a
    user's ``~/.aws/models`` is searched (nor listed, which is what costs)."""
    from botocore.loaders import Loader

    return Loader(extra_search_paths=[str(folder)], include_default_search_paths=False)


def client(service: str, region: str) -> Any:
    """A new client of ``service`` in ``region``; its owner casts it to its typed client."""
    return session().create_client(service, region_name=region)
