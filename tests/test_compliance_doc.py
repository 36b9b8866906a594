"""docs/compliance.md stays true while the tests change.

The document has one section per legal check (headed "### LAW <n> ...", n from 1 to 31): a
statement of one to three lines naming the module or setting that meets the check, then the
tests that prove it (`tests/test_x.py::test_name`). A test cites a check by its number in its
docstring or a comment; a module docstring, a helper or a comment outside any test cites it
for the module as a whole. This file fails when a check is missing, a listed test does not
exist, a path or setting the document names is gone (a module may be named without ".py", so
`chalicelib/ledger` stands for the module or the package), or a citation has no listing to
match.

Pure file parsing (ast and tokenize), no AWS and no app: it takes well under a second.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = "docs/compliance.md"
CHECKS = frozenset(range(1, 32))

_SECTION = re.compile(r"^#{2,4} LAW (\d+)\b", re.M)
_HEADING = re.compile(r"^#", re.M)
_LISTED = re.compile(r"`(tests/[\w/]+\.py)::([\w:]+)(?:\[[^\]`]*\])?`")
# "LAW 17", "LAW 8, 21", "LAW 11 and 24", and glosses between the numbers:
# "LAW 15 (links keep working), 17 (RFC 8058 one-click)".
_GLOSS = r"(?:\s*\([^()]*\))?"
_CITATION = re.compile(rf"\bLAW\s+(\d+{_GLOSS}(?:\s*(?:,|\band\b|&)\s*\d+{_GLOSS})*)")
_PATH = re.compile(
    r"`((?:app\.py|README\.md|(?:chalicelib|templates|scripts|docs|bench|demo|\.chalice)/[^`\s]*))`"
)
_SETTING = re.compile(r"\bCONSENTRY_[A-Z0-9_]+\b")
_PROVED_BY = "Proved by"


def citations(text: str) -> set[int]:
    """The check numbers a docstring or comment cites."""
    found: set[int] = set()
    for match in _CITATION.finditer(text):
        found |= {int(n) for n in re.findall(r"\d+", re.sub(r"\([^()]*\)", "", match.group(1)))}
    return found


@dataclass
class ModuleCitations:
    """One test module: its tests, what each cites, and what the module cites outside them."""

    path: str
    tests: dict[str, set[int]] = field(default_factory=dict)
    module: set[int] = field(default_factory=set)


def read_test_file(path: Path, root: Path) -> ModuleCitations:
    """Collect the tests pytest would (``test*`` functions, ``Test*`` classes' ``test*``
    methods) with their citations; parametrised tests under their function's name."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    found = ModuleCitations(str(path.relative_to(root)))
    spans: list[tuple[int, int, str]] = []

    def collect(body: list[ast.stmt], prefix: str = "") -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                spans.append((start, node.end_lineno or node.lineno, prefix + node.name))
                found.tests[prefix + node.name] = set()
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                collect(node.body, f"{prefix}{node.name}::")

    collect(tree.body)

    def cite(line: int, text: str) -> None:
        owner = next((name for start, end, name in spans if start <= line <= end), None)
        (found.tests[owner] if owner else found.module).update(citations(text))

    cite(0, ast.get_docstring(tree) or "")
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            cite(node.lineno, ast.get_docstring(node) or "")
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            cite(token.start[0], token.string)
    return found


def read_test_files(root: Path) -> list[ModuleCitations]:
    here = Path(__file__).resolve()
    return [
        read_test_file(p, root) for p in sorted((root / "tests").glob("test_*.py")) if p.resolve() != here
    ]


@dataclass
class Section:
    """One check in the document."""

    statement: list[str]
    listed: set[tuple[str, str]]


def sections(doc: str) -> tuple[dict[int, Section], list[str]]:
    """The document's checks by number, and what is wrong with their shape."""
    found: dict[int, Section] = {}
    problems = []
    for match in _SECTION.finditer(doc):
        number = int(match.group(1))
        body_start = doc.index("\n", match.end()) + 1 if "\n" in doc[match.end() :] else len(doc)
        following = _HEADING.search(doc, body_start)
        body = doc[body_start : following.start() if following else len(doc)]
        statement = [line for line in body.split(_PROVED_BY, 1)[0].splitlines() if line.strip()]
        listed = {(path, name) for path, name in _LISTED.findall(body)}
        if number in found:
            problems.append(f"{DOC}: LAW {number} has two sections")
        if number not in CHECKS:
            problems.append(f"{DOC}: LAW {number} is no check (they are numbered 1 to 31)")
        if not 1 <= len(statement) <= 3:
            problems.append(f"{DOC}: LAW {number}: the statement has {len(statement)} lines, not 1 to 3")
        elif not (_PATH.search(" ".join(statement)) or _SETTING.search(" ".join(statement))):
            problems.append(f"{DOC}: LAW {number}: the statement names no module, file or setting")
        if not listed:
            problems.append(f"{DOC}: LAW {number} lists no test that proves it")
        found[number] = Section(statement, listed)
    problems += [f"{DOC}: LAW {n} is missing" for n in sorted(CHECKS - set(found))]
    return found, problems


def problems(doc: str, files: list[ModuleCitations], root: Path) -> list[str]:
    """Everything that makes the document untrue to the tests and the code."""
    by_check, found = sections(doc)
    tests = {(f.path, name) for f in files for name in f.tests}
    for number, section in sorted(by_check.items()):
        for path, name in sorted(section.listed - tests):
            found.append(f"{DOC}: LAW {number} lists {path}::{name}, which does not exist")
    for f in files:
        for name, cited in f.tests.items():
            for number in sorted(cited):
                if number not in CHECKS:
                    found.append(f"{f.path}::{name} cites LAW {number}, which is no check")
                elif (f.path, name) not in by_check.get(number, Section([], set())).listed:
                    found.append(f"{f.path}::{name} cites LAW {number}: list it there in {DOC}")
        for number in sorted(f.module):
            listed = by_check.get(number, Section([], set())).listed
            if number not in CHECKS:
                found.append(f"{f.path} cites LAW {number}, which is no check")
            elif not any(path == f.path for path, _ in listed):
                found.append(
                    f"{f.path} cites LAW {number} outside its tests (module docstring, a helper or"
                    f" a comment): list the tests of it that prove the check there in {DOC}"
                )
    for path in sorted(set(_PATH.findall(doc))):
        where = root / path.rstrip("/")
        if not (where.exists() or where.with_name(where.name + ".py").exists()):  # a module or package
            found.append(f"{DOC} names {path}, which does not exist")
    code = "\n".join(
        p.read_text(encoding="utf-8")
        for p in [
            root / "app.py",
            root / ".chalice" / "config.json",
            *sorted(root.glob("chalicelib/**/*.py")),
        ]
        if p.exists()
    )
    for setting in sorted(set(_SETTING.findall(doc)) - set(_SETTING.findall(code))):
        found.append(f"{DOC} names the setting {setting}, which the code does not read")
    return found


def test_the_document_names_every_check_and_every_test_that_cites_one():
    doc = (ROOT / DOC).read_text(encoding="utf-8")
    files = read_test_files(ROOT)
    assert sum(len(f.tests) for f in files) > 300  # it really read the suite
    found = problems(doc, files, ROOT)
    assert found == [], "\n".join(found)


@pytest.mark.parametrize(
    ("text", "cited"),
    [
        ("LAW 17: a GET withdraws nothing", {17}),
        ("(LAW 8, 21: no image)", {8, 21}),
        ("LAW 11 and 24: the import's mail", {11, 24}),
        ("headers (LAW 29, LAW 14).", {29, 14}),
        (
            "LAW 15 (links keep working), 17 (RFC 8058 one-click), 18 (as easy as\nagreeing), 22.",
            {15, 17, 18, 22},
        ),
        ("LAW 26: restored; LAW 27: the journal expires", {26, 27}),
        ("the law says little; LAWS are not LAW numbers", set()),
    ],
)
def test_citations_are_read_as_written(text, cited):
    assert citations(text) == cited


def test_the_check_finds_each_kind_of_untruth(tmp_path):
    """The check itself: a tree with one of every fault, each reported."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "chalicelib").mkdir()
    (tmp_path / "chalicelib" / "mail.py").write_text('NAME = "CONSENTRY_SENDER"\n')
    (tmp_path / "tests" / "test_a.py").write_text(
        '"""Module docstring (LAW 4)."""\n\n'
        "import pytest\n\n\n"
        "def test_listed():\n"
        '    """LAW 1: listed where it belongs."""\n\n\n'
        '@pytest.mark.parametrize("x", [1])  # LAW 3\n'
        "def test_unlisted(x):\n"
        "    assert x  # LAW 2: cited in a comment only\n\n\n"
        "def helper():\n"
        "    return 1  # LAW 5 for the module\n\n\n"
        "def test_typo():\n"
        '    """LAW 32."""\n'
    )
    statement = "Done in `chalicelib/mail.py` with `CONSENTRY_SENDER`."
    doc = "# Compliance\n\n" + "".join(
        f"### LAW {n} Check {n}\n{statement}\n\n{_PROVED_BY}:\n- `tests/test_a.py::test_listed[1]`\n\n"
        for n in (1, 2, 3, 5)
    )
    doc += f"### LAW 6 Six\n{statement}\n\n{_PROVED_BY}:\n- `tests/test_a.py::test_gone`\n\n"
    doc += "### LAW 7 Seven\nSee `chalicelib/missing.py` and `CONSENTRY_NOWHERE`.\nA\nB\nC\n\n"
    doc += f"### LAW 5 Again\n{statement}\n\n{_PROVED_BY}:\n- `tests/test_a.py::test_listed`\n"
    files = read_test_files(tmp_path)
    assert files[0].tests == {"test_listed": {1}, "test_unlisted": {2, 3}, "test_typo": {32}}
    assert files[0].module == {4, 5}
    found = problems(doc, files, tmp_path)
    for expected in (
        f"{DOC}: LAW 5 has two sections",
        f"{DOC}: LAW 4 is missing",
        f"{DOC}: LAW 31 is missing",
        f"{DOC}: LAW 7: the statement has 4 lines, not 1 to 3",
        f"{DOC}: LAW 7 lists no test that proves it",
        f"{DOC}: LAW 6 lists tests/test_a.py::test_gone, which does not exist",
        f"tests/test_a.py::test_unlisted cites LAW 2: list it there in {DOC}",
        f"tests/test_a.py::test_unlisted cites LAW 3: list it there in {DOC}",
        "tests/test_a.py::test_typo cites LAW 32, which is no check",
        f"{DOC} names chalicelib/missing.py, which does not exist",
        f"{DOC} names the setting CONSENTRY_NOWHERE, which the code does not read",
    ):
        assert expected in found, "\n".join(found)
    assert any(p.startswith("tests/test_a.py cites LAW 4 outside its tests") for p in found)
    assert not any("test_listed cites" in p for p in found)  # listed, with or without brackets
    assert not any("cites LAW 5 outside" in p for p in found)  # test_listed is listed under 5
