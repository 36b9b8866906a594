"""The deployment package, as `make deploy` ships it, runs where Lambda runs it.

scripts/package.py builds it (`chalice package --stage prod` merged with the resources,
then bytecode) once per test session. The zip is unpacked and served by a fresh, isolated
interpreter of a virtualenv that has nothing but boto3, as the Lambda runtime: the app,
Chalice's runtime, the templates, the catalogue and every library must come from the zip.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bench.events import api_event
from chalicelib.aws import OPERATIONS
from scripts import awsdata
from scripts import package as packaging

ROOT = Path(__file__).resolve().parent.parent

# Run by the bare interpreter: the standard library and the unzipped package only.
LAMBDA_SIDE = r"""
import json, sys
root, event_file = sys.argv[1], sys.argv[2]
sys.path.insert(0, root)
with open(event_file) as f:
    event = json.load(f)
out = {}
import app
answer = app.app(event, None)
out["status"], out["body"], out["headers"] = answer["statusCode"], answer["body"], answer["headers"]

from chalicelib import catalogue, mail, models, pages
from chalicelib.ledger import PendingMail

pending = PendingMail(
    email="ada@example.com", lang="en", form_id="newsletter", purposes=("newsletter",),
    expires_at=2000000000, already_sent=False,
)
rendered = mail.render_confirmation(pending, "https://consent.example/confirm/TOKEN", 30, 7)
out["mail"] = {"subject": rendered.subject, "text": rendered.text, "html": rendered.html}
out["files"] = {
    "mail template": pages.environment().get_template("mail/confirm.txt").filename,
    "page template": pages.environment().get_template("form.html").filename,
    "catalogue": str(catalogue.CATALOGUE_FILE),
}
out["newsletter_en"] = catalogue.load().purposes["newsletter"].texts["en"]
env = pages.environment()
out["precompiled"] = {}
for name in sys.argv[3].split(","):
    source, filename, _ = env.loader.get_source(env, name)
    bucket = env.bytecode_cache.get_bucket(env, name, filename, source)
    out["precompiled"][name] = bucket.code is not None and bucket.code.co_filename == filename
out["email"] = models.SignupRequest.model_validate({"email": "Ada@Example.COM", "purposes": ["offers"]}).email
out["modules"] = {n: getattr(m, "__file__", None) for n, m in list(sys.modules.items())}
print(json.dumps(out))
"""


@pytest.fixture(scope="session")
def package(tmp_path_factory) -> Path:
    return packaging.build("prod", tmp_path_factory.mktemp("package") / "prod")


@pytest.fixture(scope="session")
def unzipped(package, tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("unzipped")
    with zipfile.ZipFile(package) as z:
        z.extractall(where)
    return where


@pytest.fixture(scope="session")
def served(unzipped, tmp_path_factory) -> dict:
    python = packaging.lambda_python()
    event = api_event("GET", "/forms/{form_id}", "/forms/newsletter", {"form_id": "newsletter"})
    event_file = tmp_path_factory.mktemp("event") / "event.json"
    event_file.write_text(json.dumps(event))
    env = {**packaging.stage_env("prod"), "AWS_DEFAULT_REGION": "eu-west-1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [
            str(python),
            "-I",
            "-B",
            "-c",
            LAMBDA_SIDE,
            str(unzipped),
            str(event_file),
            ",".join(packaging.TEMPLATES),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))  # after the app's JSON log lines


def test_the_package_carries_templates_catalogue_and_bytecode_and_stays_small(package):
    assert packaging.problems(package) == []
    names = zipfile.ZipFile(package).namelist()
    assert {"templates/form.html", "templates/mail/confirm.txt", "templates/mail/confirm.html"} <= set(names)
    assert "chalicelib/catalogue.toml" in names
    assert package.stat().st_size <= 4_000_000


def test_the_check_fails_a_package_without_templates_or_catalogue(package, tmp_path):
    cases = {
        "templates/mail/": "missing templates/mail/confirm.txt",
        "templates/form.html": "missing templates/form.html",
        "chalicelib/catalogue.toml": "missing chalicelib/catalogue.toml",
        "__pycache__/app.": "no bytecode for app.py",
    }
    with zipfile.ZipFile(package) as src:
        entries = [(info.filename, src.read(info)) for info in src.infolist()]
    for left_out, problem in cases.items():
        broken = tmp_path / f"broken-{len(problem)}.zip"
        with zipfile.ZipFile(broken, "w") as dst:
            for name, data in entries:
                if not name.startswith(left_out):
                    dst.writestr(name, data)
        assert problem in packaging.problems(broken)
    plain = packaging.without_bytecode(package, tmp_path / "plain.zip")
    assert any("without bytecode" in p for p in packaging.problems(plain))
    no_model = tmp_path / "no-model.zip"
    with zipfile.ZipFile(no_model, "w") as dst:
        for name, data in entries:
            if not name.startswith("chalicelib/awsdata/sqs/"):
                dst.writestr(name, data)
    assert any("no chalicelib/awsdata/sqs/" in p for p in packaging.problems(no_model))


CLIENTS = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from chalicelib import aws
out = {}
for service in aws.SERVICES:
    model = aws.client(service, "eu-west-1").meta.service_model
    out[service] = sorted(model.operation_names)
print(json.dumps({"operations": out, "searched": aws.session().get_component("data_loader").search_paths}))
"""


def test_the_packaged_clients_come_from_the_packages_data_alone(package, unzipped):
    """Issue 16: on the runtime's botocore, each client knows the operations the app calls
    (and DynamoDB's endpoint operation), read from the zip's chalicelib/awsdata/ only."""
    with zipfile.ZipFile(package) as z:
        carried = {
            n[len("chalicelib/awsdata/") :]: z.read(n)
            for n in z.namelist()
            if n.startswith("chalicelib/awsdata/")
        }
    assert carried == awsdata.files()
    done = subprocess.run(
        [str(packaging.lambda_python()), "-I", "-B", "-c", CLIENTS, str(unzipped)],
        env={"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = json.loads(done.stdout)
    assert found["searched"] == [str(unzipped / "chalicelib" / "awsdata")]
    expected = {service: sorted(ops) for service, ops in OPERATIONS.items()}
    expected["dynamodb"] = sorted([*expected["dynamodb"], "DescribeEndpoints"])
    assert found["operations"] == expected


def test_the_packaged_app_serves_the_form_on_a_python_with_only_boto3(served, unzipped):
    assert served["status"] == 200
    assert served["headers"]["Content-Type"].startswith("text/html")
    body = served["body"]
    assert '<html lang="nl">' in body and "Voorbeeld Webwinkel B.V." in body
    assert 'name="purposes" value="newsletter"' in body and "op elk moment intrekken" in body


def test_the_packaged_app_renders_the_confirmation_mail_from_files_in_the_zip(served, unzipped):
    for what, path in served["files"].items():
        assert Path(path).resolve().is_relative_to(unzipped.resolve()), (what, path)
    mail = served["mail"]
    assert mail["subject"] == "Confirm your signup with Voorbeeld Webwinkel B.V."
    assert "https://consent.example/confirm/TOKEN" in mail["text"]
    assert served["newsletter_en"] in mail["text"]
    assert 'href="https://consent.example/confirm/TOKEN"' in mail["html"]
    assert served["email"] == "Ada@example.com"  # pydantic-core's Linux wheel loads and validates


def test_everything_but_boto3_and_the_standard_library_comes_from_the_zip(served, unzipped):
    runtime = Path(packaging.lambda_python()).parent.parent
    stdlib = Path(sys.base_prefix).resolve()
    outside = {}
    for name, file in served["modules"].items():
        if not file:
            continue
        path = Path(file).resolve()
        if path.is_relative_to(unzipped.resolve()):
            continue
        top = name.split(".")[0]
        from_runtime = path.is_relative_to(runtime.resolve())
        if from_runtime and top in {
            "boto3",
            "botocore",
            "s3transfer",
            "jmespath",
            "dateutil",
            "urllib3",
            "six",
        }:
            continue
        if path.is_relative_to(stdlib) and "site-packages" not in path.parts:
            continue
        outside[name] = file
    assert outside == {}
    assert "dns" not in served["modules"] and "pydantic.v1" not in served["modules"]


def test_each_module_the_form_and_the_mail_import_has_fresh_bytecode_in_the_zip(served, unzipped, package):
    names = set(zipfile.ZipFile(package).namelist())
    missing = []
    for file in served["modules"].values():
        if not file or not file.endswith(".py"):
            continue
        path = Path(file).resolve()
        if path.is_relative_to(unzipped.resolve()):
            source = path.relative_to(unzipped.resolve()).as_posix()
            if packaging.pyc_name(source) not in names:
                missing.append(source)
    assert missing == []


def test_the_merged_template_passes_cfn_lint(package):
    template = package.parent / "sam.yaml"
    assert "MailIdentity" in template.read_text() and "APIHandler" in template.read_text()
    cfn_lint = shutil.which("cfn-lint", path=str(Path(sys.executable).parent)) or "cfn-lint"
    done = subprocess.run([cfn_lint, str(template)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_consumers_subscribe_to_the_stages_own_queue_and_topic(package):
    """app.py names the queue and topic at deploy time; the package must carry prod's."""
    template = (package.parent / "sam.yaml").read_text()
    assert "consentry-prod-mail" in template and "consentry-prod-ses-feedback" in template
    assert "consentry-prod-confirm" in template
    assert "table/consentry-prod/stream/" in template  # push_changes reads prod's table (issue 14)
    assert "consentry-dev-" not in template and "consentry-dev/" not in template


def test_prod_runs_python_3_13_on_x86_64_behind_its_custom_domain(package):
    """What `chalice package --stage prod` makes (issue 12): every function on python3.13 or
    newer (Amazon Linux 2023) with bytecode of that Python, and the API on the stage's custom
    domain with its regional certificate, mapped at the root (links carry no prefix)."""
    import yaml

    template = yaml.safe_load((package.parent / "sam.yaml").read_text())
    functions = [
        r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Function"
    ]
    assert len(functions) == 6  # the API, two mail workers, SES feedback, the stream handler, the digest
    for function in functions:
        major, minor = map(int, function["Runtime"].removeprefix("python").split("."))
        assert (major, minor) >= (3, 13)
        assert function["Runtime"] == f"python{sys.version_info.major}.{sys.version_info.minor}"
        assert function["Architectures"] == ["x86_64"]
    marker = json.loads(zipfile.ZipFile(package).read(packaging.MARKER))
    assert marker["python"] == sys.implementation.cache_tag == f"cpython-{major}{minor}"
    # config.json is the one place the domain is written
    domain = json.loads(packaging.CONFIG.read_text())["stages"]["prod"]["api_gateway_custom_domain"]
    assert template["Resources"]["ApiGatewayCustomDomain"]["Properties"] == {
        "DomainName": domain["domain_name"],
        "EndpointConfiguration": {"Types": ["REGIONAL"]},
        "RegionalCertificateArn": domain["certificate_arn"],
        "SecurityPolicy": "TLS_1_2",
    }
    mapping = template["Resources"]["ApiGatewayCustomDomainMapping"]["Properties"]
    assert mapping["BasePath"] == "(none)" and mapping["Stage"] == "api"
    # without the domain, the API's own URL; tests/test_links.py makes links of this form
    endpoint = template["Outputs"]["EndpointURL"]["Value"]["Fn::Sub"]
    assert endpoint == "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api/"
    assert "CONSENTRY_BASE_URL" not in (package.parent / "sam.yaml").read_text()


def test_a_cold_form_view_runs_templates_compiled_with_the_package(served):
    """A cold page view or mail job neither parses nor compiles its templates
    (scripts/package.py compiles them into the zip); the code knows its template's real
    path, for tracebacks."""
    assert served["precompiled"] == dict.fromkeys(packaging.TEMPLATES, True)
