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
    from botocore.session import Session

SERVICES = ("dynamodb", "events", "kms", "secretsmanager", "sesv2", "sqs")
"""The services the app calls: the package's endpoint data lists these (DATA)."""
DATA = Path(__file__).resolve().parent / "awsdata"
"""In the package only (scripts/package.py): botocore's endpoints.json of the pinned
version with every partition's regions but only SERVICES' entries, 37 KB for 1.25 MB.
Parsing the whole file is a seventh of the baseline, on every cold start with a client. A
service not listed still resolves: botocore falls back to its partition's defaults, and
the service's own endpoint rules decide the URL (tests/test_aws_data.py compares both)."""


@lru_cache(maxsize=1)
def session() -> Session:
    """The container's botocore session (tools register their hooks on its events)."""
    import botocore.session

    made = botocore.session.get_session()
    if DATA.is_dir():  # searched before botocore's own data
        made.set_config_variable("data_path", str(DATA))
    return made


def client(service: str, region: str) -> Any:
    """A new client of ``service`` in ``region``; its owner casts it to its typed client."""
    return session().create_client(service, region_name=region)
