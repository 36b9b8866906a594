"""The botocore data the package carries (``chalicelib/awsdata/``, see chalicelib/aws.py).

A client's first creation in a container reads its service's model (DynamoDB's is 500 KB of
JSON, parsed into OrderedDicts), its endpoint rules, botocore's endpoints and partitions;
and botocore's loader lists every one of its 400-odd service folders, twice, to learn which
services exist. The package carries all a client reads, and the app's loader searches
nothing else, so it lists six folders. Each service model keeps only the operations the
app calls (``OPERATIONS``), the shapes they reach and every exception the service defines
(``client.exceptions`` and the error each failed call raises stay botocore's own), without
the documentation; the rest is botocore's file as it is, minified. Each file is plain
JSON: botocore reads ``.json`` before ``.json.gz``, and the zip compresses it anyway.

Made from the botocore of requirements-dev.txt's pin, deterministically: the same pin and
lists give the same bytes (the models keep botocore's order, the order members serialise in).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FOLDER = "chalicelib/awsdata"
"""Where the files go in the package (chalicelib/aws.py's DATA)."""
SHARED = ("endpoints", "partitions", "sdk-default-configuration", "_retry")
"""botocore's files that are not a service's: the endpoints (trimmed, below), the partitions'
regions, the defaults modes, and the legacy retry rules (read only in legacy retry mode)."""
UNDOCUMENTED = ("documentation", "documentationUrl")
"""What a model or rule set carries for people only: botocore never acts on it."""


def _operations() -> dict[str, tuple[str, ...]]:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from chalicelib.aws import OPERATIONS

    return OPERATIONS


def _loader() -> Any:
    """botocore's own loader (of its own data only: the pin's, not a user's ~/.aws/models)."""
    from botocore.loaders import Loader

    return Loader(extra_search_paths=[Loader.BUILTIN_DATA_PATH], include_default_search_paths=False)


def _dump(data: Any, sort: bool = False) -> bytes:
    return json.dumps(data, separators=(",", ":"), sort_keys=sort, ensure_ascii=False).encode()


def _strip(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in UNDOCUMENTED}


def _refs(shape: dict[str, Any]) -> Iterator[str]:
    """The shapes one shape names: a structure's members, a list's member, a map's key and value."""
    for member in shape.get("members", {}).values():
        yield member["shape"]
    for part in ("member", "key", "value"):
        if part in shape:
            yield shape[part]["shape"]


def _undocumented_shape(shape: dict[str, Any]) -> dict[str, Any]:
    """A shape without its documentation, and its member references without theirs (a member
    may itself be called "documentation": only the references lose the key, not the names)."""
    kept = _strip(shape)
    if "members" in kept:
        kept["members"] = {name: _strip(ref) for name, ref in kept["members"].items()}
    for part in ("member", "key", "value"):
        if part in kept:
            kept[part] = _strip(kept[part])
    return kept


def trimmed_model(model: dict[str, Any], operations: tuple[str, ...]) -> dict[str, Any]:
    """``model`` (a service-2 file) with only ``operations``, the operation endpoint discovery
    would call (DynamoDB's DescribeEndpoints: the client behaves as botocore's would if
    discovery is switched on), the shapes these reach and every exception; no documentation."""
    unknown = sorted(set(operations) - set(model["operations"]))
    if unknown:
        raise SystemExit(f"{model['metadata']['serviceId']} has no operation {', '.join(unknown)}")
    kept_ops = {
        name: op
        for name, op in model["operations"].items()
        if name in operations or op.get("endpointoperation")
    }
    shapes = model["shapes"]
    todo = [name for name, shape in shapes.items() if shape.get("exception")]
    for op in kept_ops.values():
        todo += [op[part]["shape"] for part in ("input", "output") if part in op]
        todo += [error["shape"] for error in op.get("errors", [])]
    reached: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo.extend(_refs(shapes[name]))
    trimmed = _strip(model)
    trimmed["operations"] = {
        name: {
            **_strip(op),
            **{part: _strip(op[part]) for part in ("input", "output") if part in op},
            **({"errors": [_strip(e) for e in op["errors"]]} if "errors" in op else {}),
        }
        for name, op in kept_ops.items()
    }
    trimmed["shapes"] = {name: _undocumented_shape(s) for name, s in shapes.items() if name in reached}
    return trimmed


def _without_docs(data: Any) -> Any:
    """An endpoint rule set without its parameters' documentation (no names to mistake there:
    parameters and rules are lists and fixed keys)."""
    if isinstance(data, dict):
        return {k: _without_docs(v) for k, v in data.items() if k not in UNDOCUMENTED}
    if isinstance(data, list):
        return [_without_docs(v) for v in data]
    return data


def trimmed_endpoints(endpoints: dict[str, Any], prefixes: set[str]) -> dict[str, Any]:
    """botocore's endpoints with every partition and region but only the services listed by
    these endpoint prefixes (sesv2's is "email")."""
    for partition in endpoints["partitions"]:
        partition["services"] = {k: v for k, v in partition["services"].items() if k in prefixes}
    return endpoints


def files() -> dict[str, bytes]:
    """Every file of the package's ``chalicelib/awsdata/``: its path there -> its bytes."""
    loader = _loader()
    out: dict[str, bytes] = {}
    prefixes: set[str] = set()
    for service, operations in sorted(_operations().items()):
        version = loader.determine_latest_version(service, "service-2")
        # The model as botocore hands it to a client: its sdk-extras merged in (Secrets Manager has one).
        model = loader.load_service_model(service, "service-2", version)
        prefixes |= {service, model["metadata"]["endpointPrefix"]}
        out[f"{service}/{version}/service-2.json"] = _dump(trimmed_model(model, operations))
        rules = loader.load_service_model(service, "endpoint-rule-set-1", version)
        out[f"{service}/{version}/endpoint-rule-set-1.json"] = _dump(_without_docs(rules))
    out["endpoints.json"] = _dump(trimmed_endpoints(loader.load_data("endpoints"), prefixes), sort=True)
    for name in SHARED[1:]:
        out[f"{name}.json"] = _dump(loader.load_data(name))
    return dict(sorted(out.items()))


def write(folder: Path) -> Path:
    """The files into ``folder`` (as the package unpacks them): for tests that make clients
    the way the package does."""
    for name, content in files().items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    return folder
