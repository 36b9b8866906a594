"""Imports: contacts the sending system brings in, each row proven or only asked.

A row with its own evidence of consent (when, where, the exact text agreed to) is recorded
as proven consent, its text kept in the row's own events: the sending system typed it, so it
may hold personal data, and erasure must take it along (a form's text is ours and shared).
A row without evidence is never granted: the address gets the normal double opt-in mail,
once (a guard keeps later imports of it from mailing again), and stays ungranted until it
confirms. Bought lists have no evidence and so never reach an audience. Suppressed
addresses and withdrawn purposes are refused inside each row's own transaction; a bad row
spoils nothing else.

Cost: no read per row. One transaction per row, the catalogue's texts stored once per batch,
mail jobs sent to SQS ten at a time. Rows run on a few threads (``CONSENTRY_IMPORT_WORKERS``):
a row's transaction is I/O, and 1,000 of them one after another would take about as long
as API Gateway allows. Rows of one address stay in order on one thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from chalicelib import caps, catalogue, jobs
from chalicelib.keys import get_keys
from chalicelib.ledger import (
    AlreadyAsked,
    Evidence,
    Person,
    PurposeWithdrawn,
    RateLimited,
    Suppressed,
    get_ledger,
    iso,
    new_id,
    utc_now,
)
from chalicelib.models import ImportRequest, ImportRow, ValidationError, api_errors
from chalicelib.refusals import Invalid
from chalicelib.settings import get_settings

MAX_ROWS = 1000
"""Rows per request: 1,000 finish in a few seconds, well inside API Gateway's 29 s."""

MAX_BODY_BYTES = 4 * 1024 * 1024
"""1,000 rows with their consent texts fit; Lambda's 6 MB request limit binds before
API Gateway's 10 MB, so the body stays well under it."""

DEFAULT_LANG = "nl"


class TooManyRows(Exception):
    """More rows than MAX_ROWS: 413, nothing is imported."""

    def __init__(self, rows: int) -> None:
        super().__init__(f"{rows} rows")
        self.rows = rows
        self.limit = MAX_ROWS


@dataclass(frozen=True)
class _Row:
    index: int
    shown: str | None
    subject: str
    row: ImportRow
    texts: tuple[catalogue.ConsentText, ...]


def _result(shown: str | None, result: str, reason: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"email": shown, "result": result}
    if reason:
        answer["reason"] = reason
    return answer


def _reason(errors: dict[str, str]) -> str:
    return "; ".join(f"{'row' if field == 'body' else field}: {message}" for field, message in errors.items())


def run(data: dict[str, Any], evidence: Evidence) -> list[dict[str, Any]]:
    """Import a batch; one result per row, in order. Raises Invalid (the batch itself is
    malformed, not its rows) or TooManyRows."""
    try:
        batch = ImportRequest.model_validate(data)
    except ValidationError as exc:
        raise Invalid(api_errors(exc)) from None
    if len(batch.contacts) > MAX_ROWS:
        raise TooManyRows(len(batch.contacts))
    cat = catalogue.load()
    keys = get_keys()
    results: list[dict[str, Any] | None] = [None] * len(batch.contacts)
    rows: list[_Row] = []
    for index, raw in enumerate(batch.contacts):
        shown = raw.get("email") if isinstance(raw, dict) and isinstance(raw.get("email"), str) else None
        try:
            row = ImportRow.model_validate(raw)
        except ValidationError as exc:
            results[index] = _result(shown, "invalid", _reason(api_errors(exc)))
            continue
        unknown = [p for p in row.purposes if p not in cat.purposes]
        if unknown:
            results[index] = _result(shown, "invalid", f"purposes: unknown purpose: {', '.join(unknown)}")
            continue
        lang = row.lang or DEFAULT_LANG
        if row.evidence is not None:
            texts = tuple(catalogue.ConsentText(p, lang, row.evidence.text) for p in row.purposes)
        else:
            texts = tuple(cat.purposes[p].consent_text(lang) for p in row.purposes)
        rows.append(_Row(index, shown, keys.subject_id(row.email), row, texts))

    settings = get_settings()
    ledger = get_ledger()
    now = utc_now()
    # The catalogue's texts of rows only asked to confirm; a proven row's own text may hold
    # personal data and stays in its events (ledger.record_import), erased with the person.
    ledger.store_texts((t for r in rows if r.row.evidence is None for t in r.texts), "import", now)
    batch_id = new_id()
    mail_jobs: list[dict[str, str]] = []

    def import_rows(group: list[_Row]) -> None:
        for item in group:
            results[item.index] = _one(item, batch_id, evidence, mail_jobs)

    groups = list(_by_subject(rows))
    try:
        if settings.import_workers > 1 and len(groups) > 1:
            with ThreadPoolExecutor(max_workers=settings.import_workers) as pool:
                for done in [pool.submit(import_rows, group) for group in groups]:
                    done.result()
        else:
            for group in groups:
                import_rows(group)
    finally:
        # Even when a row failed unexpectedly, the rows recorded before it get their mail.
        jobs.enqueue_many(mail_jobs)
    return [r or _result(None, "invalid", "row: not processed") for r in results]


def _by_subject(rows: list[_Row]) -> Iterator[list[_Row]]:
    """Rows grouped by address, in order: the first row of an address decides, as in a loop."""
    groups: dict[str, list[_Row]] = {}
    for row in rows:
        groups.setdefault(row.subject, []).append(row)
    yield from groups.values()


def _one(item: _Row, batch_id: str, evidence: Evidence, mail_jobs: list[dict[str, str]]) -> dict[str, Any]:
    """Record one valid row; its result."""
    settings = get_settings()
    ledger = get_ledger()
    row = item.row
    person = Person(item.subject, row.email, row.name, row.lang or DEFAULT_LANG)
    now = utc_now()
    try:
        if row.evidence is not None:
            ledger.record_import(
                person,
                texts=item.texts,
                proof={
                    "source": row.evidence.source,
                    "consented_at": iso(row.evidence.consented_at),
                    "batch": batch_id,
                },
                evidence=evidence,
                now=now,
            )
            return _result(item.shown, "imported")
        signup = ledger.record_import_signup(
            person,
            texts=item.texts,
            evidence=evidence,
            now=now,
            retention_seconds=settings.pending_seconds,
            guard_seconds=settings.import_guard_seconds,
            caps=caps.mail_caps(item.subject, caps.mailbox_key(row.email)),  # shared with forms
        )
    except Suppressed as exc:
        return _result(item.shown, "suppressed", f"suppression marker: {exc.reason or 'present'}")
    except PurposeWithdrawn as exc:
        return _result(item.shown, "suppressed", f"the person withdrew {exc.purpose}")
    except RateLimited:
        return _result(
            item.shown,
            "invalid",
            "this address got its maximum of mails in the last 24 hours: import it again tomorrow",
        )
    except AlreadyAsked:
        return _result(
            item.shown,
            "reconfirmation_sent",
            "an earlier import already sent this address its confirmation mail: no second one",
        )
    mail_jobs.append(jobs.confirmation_job(item.subject, signup.id))  # list.append is thread-safe
    return _result(item.shown, "reconfirmation_sent")
