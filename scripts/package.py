"""Build the deployment package as `chalice deploy` will upload it, and the template make test lints.

    python scripts/package.py --stage prod [--out build/package-prod]

1. ``chalice package --stage S --merge-template .chalice/resources.yaml OUT`` writes
   ``OUT/deployment.zip`` and ``OUT/sam.yaml`` (the functions merged with the stage's
   resources: what ``make test`` runs cfn-lint on).
2. Bytecode. Lambda unpacks the zip read-only, so Python cannot cache what it compiles and
   every cold start would compile the app, Chalice and Jinja2 again: that alone doubles
   a cold ``GET /forms/{id}`` (see docs/operations.md). This step adds
   bytecode compiled by this interpreter (the one Chalice picked the Lambda runtime from)
   for the modules a cold start imports (``TRACE``). Our own code (app.py, chalicelib/)
   keeps its source, with ``__pycache__/*.cpython-3XX.pyc`` in checked-hash mode beside it:
   Python verifies each against its source's hash, so a stale file is ignored, never run,
   and tracebacks show our lines. A library module gets ``module.pyc`` in place of its
   source (sourceless: Python runs it as it is; the pins in requirements.txt fix what it
   was compiled from), which keeps the zip 0.5 MB smaller. Never-imported parts of
   libraries are left out (``EXCLUDE``). The pages' and mails' templates go in compiled
   too (``templates/__compiled__/``, Jinja2 bytecode checked against each template's
   source, see chalicelib/compiled_templates.py): a cold page view or mail job neither parses nor
   compiles a template. So does the botocore data a client reads, for the services and
   operations the app calls (``chalicelib/awsdata/``, scripts/awsdata.py, chalicelib/aws.py):
   146 KB where botocore's files for them are 3.2 MB to parse and 400-odd folders to list.
   The zip stays well under its 4 MB budget.
3. The zip is written back into Chalice's own package cache (``.chalice/deployments/``,
   named by the hash of requirements.txt, app.py, chalicelib/ and vendor/), so
   ``chalice deploy`` run on the same tree reuses it: what is deployed is this file
   (scripts/deploy.py checks that before it deploys).

Prints the zip's path, size and SHA-256, and anything ``problems`` finds wrong with it.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts import awsdata  # noqa: E402

CONFIG = ROOT / ".chalice" / "config.json"
RESOURCES = ROOT / ".chalice" / "resources.yaml"
DEFAULT_REGION = "eu-west-1"
MARKER = "consentry-build.json"
AWS_DATA = f"{awsdata.FOLDER}/"
AWS_ENDPOINTS = f"{AWS_DATA}endpoints.json"
MAX_BYTES = 4_000_000  # the budget for deployment.zip

# Never imported at run time, left out of the zip to keep it under 4 MB once it carries
# bytecode: dnspython (email-validator needs it only for deliverability checks, which
# models.py switches off), pydantic's v1 compatibility layer (imported only by code
# written for pydantic 1, or for a type with v1-style validators: the import trace below
# builds every model's schema and fails the build if one reaches for it) and pydantic's
# mypy plugin. The package test runs the app without them. The packages' *.dist-info
# metadata goes too: nothing the app imports reads it (pydantic checks pydantic-core's
# version from the module, not from metadata), and it is ~100 KB of the 4 MB budget.
# Also never imported here (~45 KB): pydantic's deprecated v1-style helpers,
# experimental API and Color type, email-validator's DNS deliverability check and CLI,
# idna's CLI, Jinja2's sandbox, native-types and meta modules, annotated-types' test cases,
# type stubs and C sources, and the gettext sources (*.po; the app reads the .mo).
EXCLUDE = (
    "dns/",
    "dnspython-",
    "pydantic/v1/",
    "pydantic/mypy.py",
    "pydantic/deprecated/",
    "pydantic/experimental/",
    "pydantic/color.py",
    "email_validator/deliverability.py",
    "email_validator/__main__.py",
    "idna/cli.py",
    "jinja2/sandbox.py",
    "jinja2/nativetypes.py",
    "jinja2/meta.py",
    "annotated_types/test_cases.py",
)
EXCLUDE_SUFFIXES = (".pyi", ".c", ".h")


def _left_out(name: str) -> bool:
    return (
        name.startswith(EXCLUDE)
        or name.endswith(EXCLUDE_SUFFIXES)
        or name.split("/", 1)[0].endswith(".dist-info")
        or (name.startswith("chalicelib/locale/") and name.endswith(".po"))
    )


# Every page and mail template, compiled into the package by the trace below.
TEMPLATES = tuple(
    sorted(
        p.relative_to(ROOT / "templates").as_posix()
        for p in (ROOT / "templates").rglob("*")
        if p.suffix in (".html", ".txt")
    )
)


# What a cold start imports: every route's module and the libraries they load. The modules
# this imports (traced in a fresh interpreter on the unzipped package) get bytecode; the
# rest of the libraries (pydantic.v1, jinja2's sandbox, ...) stay source-only.
TRACE = """
import json, sys
root = sys.argv[1]
sys.path.insert(0, root)
import app
from chalicelib import catalogue, jobs, keys, ledger, mail, models, pages, signups, tokens, web
from chalicelib import signup_validator  # the signup's validation: pydantic_core, no pydantic
from chalicelib.views import api, public
signup_validator.validate_signup({"email": "trace@example.com", "name": "T", "purposes": ["newsletter"]})
models.SignupRequest.model_validate({"email": "trace@example.com", "name": "T", "purposes": ["newsletter"]})
models.normalise_email("trace@bücher.example")  # email-validator: the addresses that are not plain
for model in vars(models).values():  # schemas are built on first use (defer_build): build them all
    if isinstance(model, type) and issubclass(model, models.BaseModel) and model is not models.BaseModel:
        model.model_rebuild(force=True)
try:
    models.SignupRequest.model_validate({"email": "not an address", "purposes": []})
except models.ValidationError as exc:
    models.field_errors(exc)
for name in ("form.html", "message.html", "confirm.html"):
    pages.environment().get_template(name)
pages.environment().get_template("mail/confirm.txt")
pages.environment().get_template("mail/confirm.html")
tokens.URLSafeTimedSerializer(["k"], salt="s").dumps({"a": 1})
# The templates compiled, into the package (compiled_templates.CompiledTemplates reads them there).
from chalicelib.compiled_templates import CompiledTemplates
compiling = CompiledTemplates(pages.COMPILED, write=True)
build = pages.new_environment(catalogue.load().default_lang, compiling)
for name in sys.argv[2].split(","):
    build.get_template(name)
files = {getattr(m, "__file__", None) or "" for m in list(sys.modules.values())}
mine = [f[len(root) + 1 :] for f in files if f.startswith(root + "/") and f.endswith(".py")]
print(json.dumps(sorted(mine)))
"""


# Changes whenever the way finish() rewrites the zip changes, so a cached zip made the old
# way is rebuilt rather than reused.
RECIPE = hashlib.sha256(
    json.dumps(
        [
            EXCLUDE,
            EXCLUDE_SUFFIXES,
            TEMPLATES,
            TRACE,
            sys.implementation.cache_tag,
            hashlib.sha256(Path(awsdata.__file__).read_bytes()).hexdigest(),
            8,
        ]
    ).encode()
).hexdigest()[:12]


def stage_env(stage: str) -> dict[str, str]:
    """The stage's environment as config.json gives it (global, then the stage's own)."""
    config = json.loads(CONFIG.read_text(encoding="utf-8"))
    if stage not in config["stages"]:
        raise SystemExit(f"no stage {stage!r} in {CONFIG}")
    env = dict(config.get("environment_variables", {}))
    env.update(config["stages"][stage].get("environment_variables", {}))
    return env


def chalice_env(stage: str, table_stream: str | None = None) -> dict[str, str]:
    """What `chalice package` and `chalice deploy` need from the shell: a region, and the
    names of the mail queues and the SES feedback topic, which app.py reads when it
    registers their consumers; and the ARN of the table's stream for push_changes (the
    stack's TableStreamArn: `make deploy` passes it; a package for the tests names an
    example stream of the stage's table)."""
    env = os.environ.copy()
    env.setdefault("AWS_DEFAULT_REGION", DEFAULT_REGION)
    # chalice imports app.py; bytecode it wrote into chalicelib/ would change the package's
    # hash between `package` and `deploy`.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    stage_settings = stage_env(stage)
    env["CONSENTRY_MAIL_QUEUE"] = stage_settings["CONSENTRY_MAIL_QUEUE"]
    env["CONSENTRY_CONFIRM_QUEUE"] = stage_settings["CONSENTRY_CONFIRM_QUEUE"]
    env["CONSENTRY_FEEDBACK_TOPIC"] = stage_settings["CONSENTRY_FEEDBACK_TOPIC"]
    env["CONSENTRY_TABLE_STREAM_ARN"] = table_stream or (
        f"arn:aws:dynamodb:{env['AWS_DEFAULT_REGION']}:111122223333:table/"
        f"{stage_settings['CONSENTRY_TABLE']}/stream/1970-01-01T00:00:00.000"
    )
    return env


def chalice_bin() -> str:
    return str(Path(sys.executable).with_name("chalice"))


def pyc_name(source: str) -> str:
    folder, _, file = source.rpartition("/")
    tag = sys.implementation.cache_tag
    return f"{folder + '/' if folder else ''}__pycache__/{file[:-3]}.{tag}.pyc"


def checked_hash_pyc(source: bytes, name: str) -> bytes:
    """Bytecode that Python uses only while it matches the source's hash (PEP 552)."""
    from importlib._bootstrap_external import _code_to_hash_pyc  # type: ignore[attr-defined]

    code = compile(source, name, "exec", dont_inherit=True)
    return bytes(_code_to_hash_pyc(code, importlib.util.source_hash(source), True))


def sourceless_pyc(source: bytes, name: str) -> bytes:
    """Bytecode that stands in for its source (``module.pyc`` where ``module.py`` was):
    Python's sourceless loader runs it without looking for a source to check it against."""
    from importlib._bootstrap_external import _code_to_hash_pyc  # type: ignore[attr-defined]

    code = compile(source, name, "exec", dont_inherit=True)
    return bytes(_code_to_hash_pyc(code, importlib.util.source_hash(source), False))


def _own(name: str) -> bool:
    """The project's own code keeps its source beside its bytecode (readable tracebacks)."""
    return name == "app.py" or name.startswith("chalicelib/")


def traced_modules(zip_path: Path) -> tuple[set[str], dict[str, bytes]]:
    """The package's modules a cold start imports, found by importing them; and its
    templates, compiled there by this interpreter (path in the zip -> file)."""
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(zip_path) as z:
            z.extractall(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        done = subprocess.run(
            [sys.executable, "-I", "-B", "-c", TRACE, tmp, ",".join(TEMPLATES)],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise SystemExit(f"tracing the package's imports failed:\n{done.stderr[-3000:]}")
        compiled = Path(tmp) / "templates" / "__compiled__"
        templates = {
            f"templates/__compiled__/{f.name}": f.read_bytes() for f in sorted(compiled.glob("*.cache"))
        }
        return set(json.loads(done.stdout)), templates


def finish(zip_path: Path) -> dict[str, Any]:
    """Rewrite chalice's zip: leave out EXCLUDE and any bytecode it picked up from the
    working tree, add checked-hash bytecode for what a cold start imports. Idempotent."""
    with zipfile.ZipFile(zip_path) as src:
        if MARKER in src.namelist():
            return dict(json.loads(src.read(MARKER)))
        keep = [i for i in src.infolist() if "__pycache__/" not in i.filename and not _left_out(i.filename)]
        left_out = sorted(p for p in EXCLUDE if any(i.filename.startswith(p) for i in src.infolist()))
        left_out += sorted(
            {top for i in src.infolist() if (top := i.filename.split("/", 1)[0]).endswith(".dist-info")}
        )
        left_out += [
            f"*{suffix}"
            for suffix in EXCLUDE_SUFFIXES
            if any(i.filename.endswith(suffix) for i in src.infolist())
        ]
        tmp = zip_path.with_suffix(".tmp")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
            for info in keep:
                out.writestr(_copy_info(info), src.read(info), compresslevel=9)
    traced, templates = traced_modules(tmp)
    with (
        zipfile.ZipFile(tmp) as src,
        zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out,
    ):
        for info in src.infolist():
            data = src.read(info)
            if info.filename in traced and not _own(info.filename):
                # A library module a cold start imports: its bytecode in place of its source.
                pyc = sourceless_pyc(data, info.filename)
                out.writestr(_new_info(info.filename[:-3] + ".pyc", info), pyc, compresslevel=9)
                continue
            out.writestr(_copy_info(info), data, compresslevel=9)
            if info.filename in traced:
                pyc = checked_hash_pyc(data, info.filename)
                out.writestr(_new_info(pyc_name(info.filename), info), pyc, compresslevel=9)
        for name, data in templates.items():
            out.writestr(_new_info(name, None), data, compresslevel=9)
        aws_files = awsdata.files()
        for name, data in aws_files.items():
            out.writestr(_new_info(f"{awsdata.FOLDER}/{name}", None), data, compresslevel=9)
        marker = {
            "recipe": RECIPE,
            "python": sys.implementation.cache_tag,
            "bytecode": "checked-hash beside the source for our code, sourceless for libraries",
            "compiled": sorted(t for t in traced if _own(t)),
            "sourceless": sorted(t for t in traced if not _own(t)),
            "templates": len(templates),
            "aws_data": sorted(f"{awsdata.FOLDER}/{name}" for name in aws_files),
            "left_out": left_out,
        }
        out.writestr(_new_info(MARKER, None), json.dumps(marker, indent=1) + "\n", compresslevel=9)
    tmp.unlink()
    return marker


def _copy_info(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    copy = zipfile.ZipInfo(info.filename, info.date_time)
    copy.external_attr = info.external_attr
    copy.compress_type = zipfile.ZIP_DEFLATED
    return copy


def _new_info(name: str, like: zipfile.ZipInfo | None) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, like.date_time if like else (1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def cached_package() -> Path:
    """Where Chalice keeps (and `chalice deploy` looks for) this tree's deployment zip."""
    from chalice.config import Config
    from chalice.deploy.packager import LambdaDeploymentPackager
    from chalice.utils import UI, OSUtils

    packager = LambdaDeploymentPackager(
        osutils=OSUtils(),
        dependency_builder=None,  # type: ignore[arg-type]  # naming the file needs none
        ui=UI(),
    )
    version = Config.create().lambda_python_version
    return Path(packager.deployment_package_filename(str(ROOT), version))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _marker(zip_path: Path) -> dict[str, Any] | None:
    with zipfile.ZipFile(zip_path) as z:
        return dict(json.loads(z.read(MARKER))) if MARKER in z.namelist() else None


def _chalice_package(stage: str, out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [chalice_bin(), "package", "--stage", stage, "--merge-template", str(RESOURCES), str(out)]
    done = subprocess.run(cmd, cwd=ROOT, env=chalice_env(stage), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"chalice package failed:\n{done.stdout}\n{done.stderr}")


def build(stage: str, out: Path) -> Path:
    """Package the stage into ``out`` (deployment.zip, sam.yaml); return the zip's path.

    One build at a time per tree: chalice's package cache is shared, and two test workers
    finishing the same cached zip at once would corrupt it."""
    import fcntl

    lock_file = ROOT / "build" / "package.lock"
    lock_file.parent.mkdir(exist_ok=True)
    with lock_file.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build(stage, out)


def _build(stage: str, out: Path) -> Path:
    for cache_dir in (ROOT / "chalicelib").rglob("__pycache__"):
        # the working tree's bytecode would only change the hash (another process may be
        # writing there right now: what it leaves is not packaged, see finish())
        shutil.rmtree(cache_dir, ignore_errors=True)
    _chalice_package(stage, out)
    cache = cached_package()
    marker = _marker(cache) if cache.exists() else None
    if marker is not None and marker.get("recipe") != RECIPE:
        cache.unlink()  # finished by an older recipe: have chalice build it afresh
        _chalice_package(stage, out)
    package = out / "deployment.zip"
    if not cache.exists() or sha256(cache) != sha256(package):
        raise SystemExit(f"chalice's package cache {cache} is not the zip it just built")
    finish(cache)
    shutil.copyfile(cache, package)
    return package


def problems(zip_path: Path, max_bytes: int = MAX_BYTES) -> list[str]:
    """What is wrong with a deployment package: missing templates or catalogue, boto3
    inside, bytecode missing or stale for a module a cold start imports, too big."""
    found: list[str] = []
    with zipfile.ZipFile(zip_path) as z:
        names = set(z.namelist())
        templates = sorted(
            "templates/" + p.relative_to(ROOT / "templates").as_posix()
            for p in (ROOT / "templates").rglob("*")
            if p.is_file()
        )
        for name in ["app.py", "chalicelib/catalogue.toml", *templates]:
            if name not in names:
                found.append(f"missing {name}")
        if not {"chalice/app.py", "chalice/app.pyc"} & names:
            found.append("missing chalice/app.py (Chalice's runtime)")
        for lib in ("boto3/", "botocore/", "s3transfer/"):
            if any(n.startswith(lib) for n in names):
                found.append(f"carries {lib} (the Lambda runtime has it)")
        marker = json.loads(z.read(MARKER)) if MARKER in names else None
        if marker is None:
            found.append(f"no {MARKER}: built without scripts/package.py, so without bytecode")
        elif missing := [f for f in marker.get("aws_data") or [AWS_ENDPOINTS] if f not in names]:
            found.append(f"no {', '.join(missing)} (botocore's data for the clients: see chalicelib/aws.py)")
        else:
            for source in marker["compiled"]:
                pyc = pyc_name(source)
                if source not in names or pyc not in names:
                    found.append(f"no bytecode for {source}")
                    continue
                data = z.read(pyc)
                flags = int.from_bytes(data[4:8], "little")
                if flags != 0b11 or data[8:16] != importlib.util.source_hash(z.read(source)):
                    found.append(f"stale bytecode for {source}")
            for source in marker.get("sourceless", []):
                pyc = source[:-3] + ".pyc"
                if pyc not in names:
                    found.append(f"no bytecode for {source}")
                elif z.read(pyc)[:4] != importlib.util.MAGIC_NUMBER:
                    found.append(
                        f"bytecode for {source} is not of this Python ({sys.implementation.cache_tag})"
                    )
    size = zip_path.stat().st_size
    if size > max_bytes:
        found.append(f"{size} bytes, over the {max_bytes} byte budget by {size - max_bytes}")
    return found


def without_bytecode(package: Path, out: Path) -> Path:
    """A copy of the package as plain `chalice package` makes it: sources only. The sources
    of the sourceless library modules come from this Python's site-packages (the same pinned
    versions), each checked against the source hash its bytecode records."""
    import sysconfig

    site = Path(sysconfig.get_paths()["purelib"])
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        marker = json.loads(src.read(MARKER)) if MARKER in src.namelist() else {}
        sourceless = {name[:-3] + ".pyc": name for name in marker.get("sourceless", [])}
        for info in src.infolist():
            name = info.filename
            if name == MARKER or name.startswith(AWS_DATA) or "__pycache__/" in name:
                continue
            if info.filename in sourceless:
                name = sourceless[info.filename]
                data = (site / name).read_bytes()
                if importlib.util.source_hash(data) != src.read(info)[8:16]:
                    raise SystemExit(f"{site / name} is not the source the package's bytecode was made from")
                dst.writestr(_new_info(name, info), data)
                continue
            dst.writestr(_copy_info(info), src.read(info))
    return out


def boto3_pin() -> str:
    for line in (ROOT / "requirements-dev.txt").read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("boto3=="):
            return line.strip()
    raise SystemExit("requirements-dev.txt pins no boto3")


def lambda_python(where: Path = ROOT / "build" / "lambda-python") -> Path:
    """A Python with nothing installed but boto3 (requirements-dev.txt's pin), as the Lambda
    runtime has: the package must bring everything else. Made once, kept under build/
    (under a lock: two test workers may ask for it at the same moment)."""
    import fcntl

    where.parent.mkdir(parents=True, exist_ok=True)
    with (where.parent / "lambda-python.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _lambda_python(where)


def _lambda_python(where: Path) -> Path:
    pin = boto3_pin()
    python = where / "bin" / "python"
    stamp = where / "consentry-pin.txt"
    # The Python it is made of is part of the recipe: bytecode of 3.13 cannot run on 3.11.
    recipe = f"{pin} without setuptools on Python {sys.version_info.major}.{sys.version_info.minor}"
    if python.exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == recipe:
        return python
    shutil.rmtree(where, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    pip = [str(python), "-m", "pip", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "install", pin], check=True)
    # Not in the Lambda runtime either; its .pth hook would load into every interpreter.
    subprocess.run([*pip, "uninstall", "--yes", "setuptools"], check=True)
    stamp.write_text(recipe, encoding="utf-8")
    return python


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    out = args.out or ROOT / "build" / f"package-{args.stage}"
    package = build(args.stage, out)
    size = package.stat().st_size
    print(f"{package}  {size} bytes ({size / 1_000_000:.2f} MB)  sha256 {sha256(package)}")
    wrong = problems(package)
    for problem in wrong:
        print(f"  problem: {problem}", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
