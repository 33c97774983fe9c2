"""The problem-code registry: every code documented, every code used is registered."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from kpiflow.problems import CODES, CellAt, DocumentAt, FileAt, Problem, ValidationResult, codes_markdown

ROOT = Path(__file__).resolve().parent.parent


def codes_in_source() -> dict[str, str]:
    """Codes passed as literals to ``.error``/``.warning``/``Problem`` anywhere in the package."""
    found: dict[str, str] = {}
    for path in (ROOT / "kpiflow").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
            pos = {"error": 0, "warning": 0, "Problem": 1}.get(name)
            if pos is not None and len(node.args) > pos:
                arg = node.args[pos]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value not in ("error", "warning"):
                    found[arg.value] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return found


def test_every_code_the_package_uses_is_registered() -> None:
    used = codes_in_source()
    assert len(used) > 20
    missing = {c: where for c, where in used.items() if c not in CODES}
    assert missing == {}


def test_every_registered_code_has_a_title_and_a_fix_in_plain_words() -> None:
    for code, c in CODES.items():
        assert code == code.lower() and " " not in code
        assert c.title and c.title[0].isupper() and not c.title.endswith(".")
        assert c.fix.endswith(".")


def test_the_docs_list_every_code_as_the_registry_says() -> None:
    assert (ROOT / "docs" / "problems.md").read_text(encoding="utf-8") == codes_markdown()
    assert "docs/problems.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_an_unregistered_code_fails_a_test() -> None:
    import pytest

    with pytest.raises(AssertionError, match=r"not in kpiflow\.problems\.CODES"):
        ValidationResult("x").error("made-up-code", "message")


def test_a_problem_is_printed_where_it_is_in_a_workbook_a_document_or_the_file() -> None:
    # the spec's example line, from the constructor every check uses
    cell = Problem("error", "not-a-number", '"n/a" is not a number. Enter the number of children.', "Return", "F7",
                   "CS01")
    assert cell.where == CellAt("Return", "F7")
    assert cell.render() == 'Return!F7  error  not-a-number  CS01: "n/a" is not a number. Enter the number of children.'
    assert Problem("error", "missing-sheet", "m", "Targets").location == "Targets"
    assert Problem("error", "not-xlsx", "m").where == FileAt()
    assert Problem("error", "not-xlsx", "m").location == "file"
    para = Problem("error", "tracked-change", "m", indicator_id="CS01", at=DocumentAt("CS01", "paragraph 12"))
    assert (para.location, para.sheet, para.cell) == ("CS01!paragraph 12", "CS01", "paragraph 12")
    # a part of the package with no section was printed as "file", hiding which part it was
    part = Problem("error", "open-comment", "m", at=DocumentAt(place="word/comments.xml"))
    assert part.location == "word/comments.xml"


def test_a_problem_goes_to_json_and_back_as_it_was() -> None:
    problems = [Problem("error", "not-a-number", "m", "Return", "F7", "CS01"),
                Problem("warning", "big-change", "m", "Return", indicator_id="CS03"),
                Problem("error", "corrupt-file", "m"),
                Problem("error", "duplicate-region", "m", indicator_id="CS01", at=DocumentAt("CS01", "paragraphs 3, 9")),
                Problem("error", "tracked-change", "m", at=DocumentAt("header", "word/header1.xml"))]
    for p in problems:
        d = json.loads(json.dumps(p.to_dict()))
        back = Problem.from_dict(d)
        assert (back, back.where, back.render()) == (p, p.where, p.render())
    assert problems[0].to_dict() == {"severity": "error", "code": "not-a-number", "message": "m", "sheet": "Return",
                                     "cell": "F7", "indicator_id": "CS01", "location": "Return!F7", "located": "cell"}
    # stored before the kind of place was recorded: read as a workbook's
    old = {"severity": "error", "code": "not-a-number", "message": "m", "sheet": "Return", "cell": "F7",
           "indicator_id": "CS01", "location": "Return!F7"}
    assert Problem.from_dict(old).where == CellAt("Return", "F7")
    result = ValidationResult("a.xlsx", problems)
    assert result.to_dict()["problems"] == [p.to_dict() for p in problems]
