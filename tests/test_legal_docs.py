"""The documents the law asks for say what the code does.

LAW 28 (GDPR art. 30): the README's record of processing lists every kind of data the
service keeps, why, on what basis, for how long and with which processors; it must agree
with `chalicelib/processing.py`, the same record as data (which the access export quotes and
tests/test_retention_record.py checks against every item the ledger writes).

LAW 29 (GDPR art. 32; Gmail's and Yahoo's bulk-sender rules): ops find the sending domain's
SPF, DKIM and DMARC records in docs/operations.md, as the stack and `make dns` make them.
"""

from __future__ import annotations

import json
import re

import yaml

from chalicelib import processing
from scripts import deploy
from scripts.local_stack import TEMPLATE, _CfnLoader
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
OPERATIONS = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
STACK = yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506 (a SafeLoader)
COLUMNS = ["data (where)", "what", "why", "legal basis", "kept for"]


def _section(text: str, heading: str) -> str:
    start = text.index(f"\n{heading}\n")
    end = text.find("\n## ", start + len(heading) + 2)
    return text[start : end if end != -1 else len(text)]


def _table(section: str) -> list[list[str]]:
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip().strip("|").split("|")] for row in rows]


def _placeholders(template: str) -> list[str]:
    return re.findall(r"\{(\w+)\}", template)


def test_the_readmes_record_of_processing_is_the_one_the_code_keeps():
    """LAW 28: one row for each kind of data in processing.RECORDS and OUTSIDE_THE_TABLE,
    named alike, with the item keys it covers, every column filled, and the retention the
    stage's settings give it; then the processors."""
    section = _section(README, "## Record of processing (GDPR art. 30)")
    header, separator, *rows = _table(section)
    assert header == COLUMNS and set("".join(separator)) <= {"-", ":"}
    assert all(len(row) == len(COLUMNS) and all(row) for row in rows), (
        "every row says what, why, basis and how long"
    )
    defaults = json.loads((ROOT / ".chalice" / "config.json").read_text())["environment_variables"]

    kinds = [*processing.RECORDS, *processing.OUTSIDE_THE_TABLE]
    by_name = {}
    for row in rows:
        named = [k for k in kinds if row[0].lower().startswith(_name(k))]
        assert len(named) == 1, f"README row {row[0]!r} names no kind of processing.py (or several)"
        by_name[_name(named[0])] = row
    assert sorted(by_name) == sorted(_name(k) for k in kinds), "a kind of data is missing from the README"

    for record in processing.RECORDS:
        where, kept = by_name[record.name][0], by_name[record.name][4]
        for pk, sk in record.keys:
            if pk != "S#":
                assert pk in where, (record.name, pk)
            if sk != pk.rstrip("#"):
                assert sk in where, (record.name, sk)
        limits = _placeholders(record.retention)
        for limit in limits:
            setting = f"CONSENTRY_{limit.upper()}"
            assert setting in kept or re.search(rf"\b{defaults[setting]}\b", kept), (record.name, setting)
        if not limits:
            assert not re.search(r"\d", kept), (record.name, kept)  # no period where the code keeps none
    for outside in processing.OUTSIDE_THE_TABLE:
        kept = by_name[outside["name"]][4]
        assert set(re.findall(r"\d+", outside["retention"])) <= set(re.findall(r"\d+", kept)), outside["name"]

    prose = " ".join(section.split())
    assert "Amazon Web Services EMEA SARL" in prose and "Data Processing Addendum" in prose
    for service in processing.PROCESSORS:
        short = re.sub(r"^(AWS|Amazon) ", "", service["service"])
        assert short in prose, f"{service['service']} is a processor the README does not name"


def test_the_periods_kept_outside_the_table_are_the_ones_the_stack_sets():
    """LAW 27, 28: what the record says of the mail queues, the logs and the consent changes
    is what resources.yaml makes (a queue that names no period keeps messages SQS's 4 days)."""
    queues = {n: r["Properties"] for n, r in STACK["Resources"].items() if r["Type"] == "AWS::SQS::Queue"}
    dead = {
        q["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in queues.values()
        if "RedrivePolicy" in q
    }
    days = {n: q.get("MessageRetentionPeriod", 4 * 86400) / 86400 for n, q in queues.items()}
    said = {o["name"]: o["retention"] for o in processing.OUTSIDE_THE_TABLE}
    working = {days[n] for n, q in queues.items() if "RedrivePolicy" in q}  # the mail queues
    assert dead and working and f"at most {max(working):g} days in the queue" in said["mail jobs"]
    assert all(f"{days[n]:g} in the dead-letter queue" in said["mail jobs"] for n in dead)
    log_days = STACK["Parameters"]["LogRetentionDays"]["Default"]
    assert said["logs"].startswith(f"{log_days} days")
    # Issue 14: the consent changes' archive and the webhook's dead letters.
    archive_days = STACK["Parameters"]["ChangesArchiveDays"]["Default"]
    assert f"the archive: {archive_days} days" in said["consent changes"]
    assert f"dead-letter queue: {days['WebhookDeadLetterQueue']:g} days" in said["consent changes"]


def _name(kind: processing.Record | dict[str, str]) -> str:
    return (kind.name if isinstance(kind, processing.Record) else kind["name"]).lower()


def _dns_rows() -> dict[tuple[str, str], str]:
    section = _section(OPERATIONS, "## The mail domain: SPF, DKIM, DMARC")
    return {
        (name, kind): value
        for name, kind, value in re.findall(r"^\| `([^`]+)`(?: \(×3\))? \| (\w+) \| `([^`]+)`", section, re.M)
    }


def test_the_mail_domains_spf_dkim_and_dmarc_are_documented_as_the_stack_makes_them():
    """LAW 29: the DKIM row is what `make dns` prints for each of the three Easy DKIM records
    the stack outputs; SPF covers the MAIL FROM domain the stack sets; DMARC has a policy
    and a report address; the README sends ops there."""
    identity = STACK["Resources"]["MailIdentity"]["Properties"]
    assert identity["DkimAttributes"] == {"SigningEnabled": True}
    assert identity["DkimSigningAttributes"] == {"NextSigningKeyLength": "RSA_2048_BIT"}
    dkim_outputs = sorted(k for k in STACK["Outputs"] if k.startswith("DkimRecord"))
    assert dkim_outputs == ["DkimRecord1", "DkimRecord2", "DkimRecord3"]

    domain = deploy.mail_domain("prod")
    rows = _dns_rows()
    output = f"<token1>._domainkey.{domain} CNAME <token1>.dkim.amazonses.com"  # as DkimRecord1 reads
    ((name, kind, value),) = [r for r in deploy.dns_records(domain, "eu-west-1", [output]) if r[1] == "CNAME"]
    assert rows[(name, kind)] == value
    assert f"| `{name}` (×3) | CNAME |" in OPERATIONS

    mail_from = identity["MailFromAttributes"]["MailFromDomain"]["Fn::Sub"].replace("${MailDomain}", domain)
    assert rows[(mail_from, "MX")].endswith("amazonses.com")
    assert re.fullmatch(r'"v=spf1 include:amazonses\.com -all"', rows[(mail_from, "TXT")])
    assert re.match(
        rf'"v=DMARC1; p=(none|quarantine|reject); rua=mailto:[^;@]+@{re.escape(domain)};',
        rows[(f"_dmarc.{domain}", "TXT")],
    )

    deploying = _section(README, "## Deploying, performance and cost")
    assert "[docs/operations.md](docs/operations.md)" in deploying
    assert all(word in deploying for word in ("SPF", "DKIM", "DMARC"))
