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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.session import Session


@lru_cache(maxsize=1)
def session() -> Session:
    """The container's botocore session (tools register their hooks on its events)."""
    import botocore.session

    return botocore.session.get_session()


def client(service: str, region: str) -> Any:
    """A new client of ``service`` in ``region``; its owner casts it to its typed client."""
    return session().create_client(service, region_name=region)
