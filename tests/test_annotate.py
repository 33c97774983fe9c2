"""The annotated feedback copy, opened with openpyxl as a service manager would open it in Excel."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import openpyxl

from kpiflow.model import Catalogue
from kpiflow.pipeline import process_file
from kpiflow.problems import ValidationResult
from kpiflow.settings import Settings
from kpiflow.store import Store
from kpiflow.validate import validate_file
from kpiflow.workbook.annotate import ERROR_FILL, annotated


def annotate_into(src: Path, result: ValidationResult, folder: Path, name: str) -> Path:
    out = folder / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(annotated(src, result))
    return out


def test_problem_cells_are_red_with_comments_and_listed_first(filled: Path, catalogue: Catalogue, tmp_path: Path,
                                                              edit: Callable[..., Path]) -> None:
    bad = edit(filled, {"Return!F7": "n/a", "Return!J8": "Word " * 1000, "Return!A9": "ZZ9"})
    before = bad.read_bytes()
    _, result = validate_file(bad, catalogue)
    out = annotate_into(bad, result, tmp_path / "fb", "return - feedback.xlsx")
    assert bad.read_bytes() == before
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[0] == "Problems"
    ws = wb["Return"]
    assert ws["F7"].fill.fgColor.rgb.endswith(ERROR_FILL)
    assert "not-a-number" in ws["F7"].comment.text and '"n/a" is not a number' in ws["F7"].comment.text
    assert not ws["J8"].fill.fgColor.rgb.endswith(ERROR_FILL)   # a warning is amber, not red
    assert "long-text" in ws["J8"].comment.text
    problems = wb["Problems"]
    rows = [[c.value for c in r] for r in problems.iter_rows(min_row=4)]
    assert [r[0] for r in rows] == [p.location for p in result.problems]
    link = problems["A4"].hyperlink
    assert link is not None and link.location == "'Return'!F7"
    # the copy keeps the original's protection and data validation
    assert ws.protection.sheet and len(ws.data_validations.dataValidation) > 0
    assert ws["A7"].protection.locked and not ws["F7"].protection.locked


def test_a_clean_return_gets_a_copy_saying_so(filled: Path, catalogue: Catalogue, tmp_path: Path) -> None:
    _, result = validate_file(filled, catalogue)
    out = annotate_into(filled, result, tmp_path, "r - feedback.xlsx")
    assert openpyxl.load_workbook(out)["Problems"]["A4"].value == "No problems found."


def test_annotated_copies_of_returns_with_the_same_name_never_clash(settings: Settings, store: Store,
                                                                    catalogue: Catalogue, filled: Path,
                                                                    edit: Callable[..., Path]) -> None:
    copies = []
    for value in ("n/a", "none"):
        bad = edit(filled, {"Return!F7": value}, "r.xlsx")
        shutil.copyfile(bad, settings.inbox / bad.name)
        copies.append(process_file(settings, store, catalogue, settings.inbox / bad.name).feedback[-1])
    assert [p.suffix for p in copies] == [".xlsx", ".xlsx"]
    assert copies[0] != copies[1] and all(p.exists() for p in copies)
    assert [f'"{v}" is not a number' in openpyxl.load_workbook(p)["Return"]["F7"].comment.text
            for p, v in zip(copies, ("n/a", "none"), strict=True)] == [True, True]
