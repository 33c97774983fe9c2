"""Validation of returns workbooks: every problem located at its cell."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from kpiflow.model import Catalogue
from kpiflow.periods import parse_period
from kpiflow.validate import validate_file

# the issued Return sheet: header on row 6, CS01 CS02 CS03 on rows 7-9; Number is F, Rate G
Edit = Callable[..., Path]


def locations(path: Path, catalogue: Catalogue, **kw: object) -> list[tuple[str, str, str]]:
    return validate_file(path, catalogue, **kw)[1].locations()  # type: ignore[arg-type]


def test_the_filled_example_is_clean(filled: Path, catalogue: Catalogue) -> None:
    data, result = validate_file(filled, catalogue)
    assert result.problems == []
    assert data is not None
    assert data.service == "Children's Services"
    assert data.quarter == parse_period("2017/18 Q2")
    figs = {r.indicator_id: r.figures for r in data.rows}
    assert (figs["CS01"].number, figs["CS01"].rate, figs["CS01"].england) == (531, 185.6, 62)
    assert (data.breakdown[0].category, data.breakdown[0].number) == ("Under 1", 39)
    assert [s.period.label for s in data.support] == ["2017-07", "2017-08", "2017-09"]


def test_text_in_a_number_cell(filled: Path, catalogue: Catalogue, edit: Edit) -> None:
    bad = edit(filled, {"Return!F7": "n/a"})
    _, result = validate_file(bad, catalogue)
    assert result.locations() == [("Return", "F7", "not-a-number")]
    p = result.problems[0]
    assert p.indicator_id == "CS01"
    assert p.render().startswith('Return!F7  error  not-a-number  CS01: "n/a" is not a number.')
    assert "leave it blank and explain why in Commentary" in p.message


@pytest.mark.parametrize("typed", ["1e400", "-1e400", "nan"])
def test_a_figure_that_is_not_finite_is_refused_at_its_cell(filled: Path, catalogue: Catalogue, edit: Edit,
                                                            typed: str) -> None:
    # a number a workbook can hold as text, never a count of children: refused as history imports refuse it
    _, result = validate_file(edit(filled, {"Return!F7": typed}), catalogue)
    assert result.locations() == [("Return", "F7", "not-a-number")], result.render_text()


def test_every_bad_cell_is_reported_in_one_pass(filled: Path, catalogue: Catalogue, edit: Edit) -> None:
    bad = edit(filled, {"Return!F7": "lots", "Return!G7": -3, "Return!F8": "#DIV/0!", "Return!A9": "XX99",
                        "Supporting data!B4": "Smarch 2017", "Breakdown!D4": "many"})
    assert locations(bad, catalogue) == [
        ("Return", "F7", "not-a-number"),
        ("Return", "G7", "negative-value"),
        ("Return", "F8", "formula-error"),
        ("Return", "A9", "unknown-indicator"),
        ("Return", "", "missing-indicator"),
        ("Supporting data", "B4", "bad-period"),
        ("Breakdown", "D4", "not-a-number"),
    ]


def test_numbers_typed_as_text_with_commas_and_spaces_are_accepted(filled: Path, catalogue: Catalogue,
                                                                    edit: Edit) -> None:
    ok = edit(filled, {"Return!F9": "1,932", "Return!G9": "\u00a0675.4 "})
    data, result = validate_file(ok, catalogue)
    assert result.ok, result.render_text()
    assert data is not None
    assert {r.indicator_id: r.figures.number for r in data.rows}["CS03"] == 1932


def test_duplicate_indicator(filled: Path, catalogue: Catalogue, edit: Edit) -> None:
    bad = edit(filled, {"Return!A9": "CS01"})
    assert ("Return", "A9", "duplicate-indicator") in locations(bad, catalogue)
    assert ("Return", "", "missing-indicator") in locations(bad, catalogue)


def test_wrong_and_unknown_quarter(filled: Path, catalogue: Catalogue, edit: Edit) -> None:
    assert locations(filled, catalogue, expected_quarter=parse_period("2017/18 Q3")) == [
        ("About", "B2", "wrong-quarter")]
    assert locations(edit(filled, {"About!B2": "Quarter two"}), catalogue) == [("About", "B2", "unknown-quarter")]


def test_unknown_service(filled: Path, catalogue: Catalogue, edit: Edit) -> None:
    bad = edit(filled, {"About!B1": "Parks & Leisure"})
    assert locations(bad, catalogue) == [("About", "B1", "unknown-service")]


def test_missing_sheet_and_header(filled: Path, catalogue: Catalogue, edit: Edit) -> None:
    assert locations(edit(filled, {}, delete_sheet="Return"), catalogue) == [("Return", "", "missing-sheet")]
    assert locations(edit(filled, {"Return!I6": "Eng."}), catalogue) == [("Return", "6:6", "missing-header")]


def test_headers_match_ignoring_case_and_spacing(filled: Path, catalogue: Catalogue, edit: Edit) -> None:
    ok = edit(filled, {"Return!H6": "statistical   NEIGHBOURS", "Return!A6": "indicator id"})
    assert validate_file(ok, catalogue)[1].ok


def test_percentage_out_of_range(tmp_path: Path, catalogue: Catalogue) -> None:
    from kpiflow.problems import ValidationResult
    from kpiflow.validate import check_number

    result = ValidationResult("x")
    assert check_number(result, 87.5, "Return", "F7", "X", "percentage", percent=True) == 87.5
    assert check_number(result, 875, "Return", "F7", "X", "percentage", percent=True) is None
    assert result.locations() == [("Return", "F7", "out-of-range")]


def test_a_blank_figure_needs_commentary(filled: Path, catalogue: Catalogue, edit: Edit) -> None:
    assert locations(edit(filled, {"Return!F8": None}), catalogue) == [("Return", "F8", "missing-value")]
    explained = edit(filled, {"Return!F8": None, "Return!J8": "The system was down in September."})
    assert validate_file(explained, catalogue)[1].ok


@pytest.mark.parametrize(("content", "code"), [
    (b"not a workbook", "not-xlsx"),
    (b"Indicator ID,Number\nCS01,531\n", "not-xlsx"),
    (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "not-xlsx"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, "not-xlsx"),
])
def test_files_that_are_not_workbooks(tmp_path: Path, catalogue: Catalogue, content: bytes, code: str) -> None:
    f = tmp_path / "return.xlsx"
    f.write_bytes(content)
    data, result = validate_file(f, catalogue)
    assert data is None
    assert result.locations() == [("", "", code)]
    assert result.problems[0].location == "file"


def test_truncated_zip_and_zip_bomb(filled: Path, tmp_path: Path, catalogue: Catalogue) -> None:
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(filled.read_bytes()[: filled.stat().st_size // 2])
    assert validate_file(cut, catalogue)[1].locations()[0][2] in ("not-xlsx", "corrupt-file")
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"<" + b"a" * (150 * 1024 * 1024) + b"/>")
    assert validate_file(bomb, catalogue)[1].locations() == [("", "", "file-too-large")]


def test_macro_workbook_is_refused(filled: Path, tmp_path: Path, catalogue: Catalogue) -> None:
    xlsm = tmp_path / "return.xlsm"
    xlsm.write_bytes(filled.read_bytes())
    assert validate_file(xlsm, catalogue)[1].locations() == [("", "", "macros-not-accepted")]


def test_defusedxml_is_in_use() -> None:
    from kpiflow.workbook.read import check_defusedxml

    assert check_defusedxml()


def test_clean_text_keeps_what_was_typed_and_drops_control_characters() -> None:
    from kpiflow.validate import clean_text

    assert clean_text('A & <b> "c" 😀\r\nline\x07 two\x0b') == 'A & <b> "c" 😀\nline two'


def test_changed_locked_cells_are_caught(filled: Path, catalogue: Catalogue, edit: Edit) -> None:
    # a target typed over, history edited, a description reworded, the quarter changed on About
    bad = edit(filled, {"Return!E7": 100, "Return!L7": "400 (140.0)", "Return!B8": "Early help",
                        "About!B2": "Q2 2017/18"})
    assert locations(bad, catalogue) == [
        ("About", "B2", "locked-cell-changed"),
        ("Return", "E7", "locked-cell-changed"),
        ("Return", "L7", "locked-cell-changed"),
        ("Return", "B8", "locked-cell-changed"),
    ]
    p = validate_file(bad, catalogue)[1].problems[1]
    assert p.indicator_id == "CS01" and 'it was "No Target Set", now "100"' in p.message
    # the quarter written another way is still the quarter, but the locked cell was still changed
    assert validate_file(bad, catalogue)[0].quarter.label == "2017/18 Q2"  # type: ignore[union-attr]


def test_a_formula_without_a_saved_result(filled: Path, catalogue: Catalogue, edit: Edit) -> None:
    # openpyxl writes formulas without results, as some tools do
    bad = edit(filled, {"Return!F8": "=600-86"})
    assert locations(bad, catalogue) == [("Return", "F8", "formula-no-value")]
    assert "save it and send it again" in validate_file(bad, catalogue)[1].problems[0].message


def test_long_text_is_a_warning(filled: Path, catalogue: Catalogue, edit: Edit) -> None:
    data, result = validate_file(edit(filled, {"Return!J8": "Word " * 1000}), catalogue)
    assert result.ok and data is not None
    assert result.locations() == [("Return", "J8", "long-text")]


def test_problems_are_capped_with_a_count_of_the_rest(filled: Path, catalogue: Catalogue, edit: Edit) -> None:
    changes = {f"Supporting data!B{r}": "soon" for r in range(4, 204)}
    changes |= {f"Supporting data!A{r}": "CS01" for r in range(4, 204)}
    changes |= {f"Supporting data!C{r}": "x" for r in range(4, 204)}
    _, result = validate_file(edit(filled, changes), catalogue)
    assert len(result.problems) == 200 and result.omitted == 200
    assert not result.ok
    assert "... and 200 more problems" in result.render_text()
    assert result.to_dict()["errors"] == 400


BOMB = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        b'<row r="1"><c r="A1" t="inlineStr"><is><t>&lol3;</t></is></c></row></sheetData></worksheet>')


@pytest.mark.parametrize("part", ["xl/worksheets/sheet3.xml", "xl/styles.xml", "xl/workbook.xml"])
def test_an_xml_bomb_is_refused_unparsed(filled: Path, tmp_path: Path, catalogue: Catalogue, part: str) -> None:
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(filled) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, BOMB if info.filename == part else src.read(info.filename))
    data, result = validate_file(bomb, catalogue)
    assert data is None
    assert result.locations() == [("", "", "unsafe-file")]


def test_a_million_row_sheet_is_refused_without_reading_it_all(filled: Path, tmp_path: Path,
                                                               catalogue: Catalogue) -> None:
    rows = b"".join(b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (i, i) for i in range(1, 1_000_001))
    sheet = (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>' + rows
             + b"</sheetData></worksheet>")
    big = tmp_path / "big.xlsx"
    with zipfile.ZipFile(filled) as src, zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, sheet if info.filename == "xl/worksheets/sheet4.xml" else src.read(info.filename))
    data, result = validate_file(big, catalogue)
    assert data is None
    assert result.locations()[0][2] in ("too-many-rows", "file-too-large")


def test_months_in_supporting_data_must_agree_with_the_quarter(filled: Path, catalogue: Catalogue,
                                                               edit: Edit) -> None:
    # CS03 is a snapshot: its quarter is its last month (Supporting data rows 4-6 are Jul-Sep)
    bad = edit(filled, {"Supporting data!C6": 1940, "Supporting data!D6": 678.2})
    _, result = validate_file(bad, catalogue)
    assert result.locations() == [("Return", "F9", "months-disagree"), ("Return", "G9", "months-disagree")]
    assert ("1,932 here, but 1,940 for Sep 2017 (Supporting data row 6)" in result.problems[0].message)
    # CS02 is a count: its quarter is the sum of its months
    months = {"Supporting data!A7": "CS02", "Supporting data!B7": "2017-07", "Supporting data!C7": 170,
              "Supporting data!A8": "CS02", "Supporting data!B8": "2017-08", "Supporting data!C8": 170,
              "Supporting data!A9": "CS02", "Supporting data!B9": "2017-09", "Supporting data!C9": 180}
    _, result = validate_file(edit(filled, months), catalogue)
    assert result.locations() == [("Return", "F8", "months-disagree")]
    assert "the months add up to 520" in result.problems[0].message
    assert validate_file(edit(filled, months | {"Supporting data!C9": 174}), catalogue)[1].ok


def _shift_rows(filled: Path, tmp_path: Path, insert: bool) -> Path:
    import openpyxl

    wb = openpyxl.load_workbook(filled)
    if insert:
        wb["Return"].insert_rows(8)
    else:
        wb["Return"].delete_rows(8)
    out = tmp_path / ("inserted.xlsx" if insert else "deleted.xlsx")
    wb.save(out)
    return out


def test_a_row_inserted_or_deleted_is_one_problem_per_moved_row(filled: Path, catalogue: Catalogue,
                                                                tmp_path: Path) -> None:
    inserted = _shift_rows(filled, tmp_path, insert=True)
    _, result = validate_file(inserted, catalogue)
    assert result.locations() == [("Return", "A8", "row-moved"), ("Return", "A9", "row-moved")]
    assert result.problems[0].indicator_id == "CS02"
    assert "Row 8 no longer holds the row issued for CS02" in result.problems[0].message
    deleted = _shift_rows(filled, tmp_path, insert=False)
    assert locations(deleted, catalogue) == [("Return", "", "missing-indicator"), ("Return", "A8", "row-moved"),
                                             ("Return", "A9", "row-moved")]


# -- percentages typed as text or as fractions (issue 22, section 3) -------------------------------------------------

def test_a_percentage_typed_as_text_says_what_to_type(filled: Path, catalogue: Catalogue, edit: Edit) -> None:
    _, result = validate_file(edit(filled, {"Return!F8": "85%"}), catalogue)
    assert result.locations() == [("Return", "F8", "not-a-number")]
    assert "Type 85, without the % sign" in result.problems[0].message


def _percentage_return(tmp_path: Path, history: dict[str, str], number: object, england: object = None) -> tuple[
        Catalogue, Path]:
    from kpiflow.model import Indicator
    from kpiflow.workbook.build import ReturnContext, fill_return, write_return

    ind = Indicator("HS01", "Percentage of homeless households rehoused within 28 days", "Housing", "Housing", "High",
                    "Percentage", None, "Quarterly", "Snapshot", None)
    cat = Catalogue((ind,))
    q = parse_period("2025/26 Q2")
    issued = write_return(tmp_path / "issued.xlsx", "Housing", q, [ReturnContext(ind, None, history)], list(history))
    figures: dict[str, object] = {"Number": number, "Service response": "Plan in place."}
    if england is not None:
        figures["England"] = england
    return cat, fill_return(issued, tmp_path / "filled.xlsx", {"Completed by": "A Lead"}, {"HS01": figures})


def test_a_fraction_where_the_history_says_a_percentage_is_an_error_asking_did_you_mean(tmp_path: Path) -> None:
    cat, path = _percentage_return(tmp_path, {"2024/25": "82.5%", "2025/26 Q1": "84.0%"}, 0.85)
    _, result = validate_file(path, cat)
    assert result.locations() == [("Return", "F7", "percentage-as-fraction")]
    p = result.problems[0]
    assert p.severity == "error" and "Did you mean 85?" in p.message and "84%" in p.message


def test_a_small_percentage_the_history_bears_out_is_not_questioned(tmp_path: Path) -> None:
    cat, path = _percentage_return(tmp_path, {"2025/26 Q1": "0.7%"}, 0.85)
    assert validate_file(path, cat)[1].problems == []


def test_a_fraction_with_no_history_to_tell_is_a_warning(tmp_path: Path) -> None:
    cat, path = _percentage_return(tmp_path, {}, 0.85, england=0.8)
    _, result = validate_file(path, cat)
    assert [(p.cell, p.code, p.severity) for p in result.problems] == [
        ("F7", "percentage-as-fraction", "warning"), ("I7", "percentage-as-fraction", "warning")]
    assert "Did you mean 85?" in result.problems[0].message
    assert result.ok


def test_a_comparator_fraction_beside_a_percentage_is_an_error(tmp_path: Path) -> None:
    cat, path = _percentage_return(tmp_path, {}, 85, england=0.8)
    _, result = validate_file(path, cat)
    assert [(p.cell, p.code, p.severity) for p in result.problems] == [("I7", "percentage-as-fraction", "error")]
    assert "Did you mean 80?" in result.problems[0].message


def test_a_fraction_is_questioned_once_not_also_as_a_big_change(tmp_path: Path) -> None:
    from kpiflow.crosscheck import History, check_against_history
    from kpiflow.model import Figures
    from kpiflow.settings import Rules

    cat, path = _percentage_return(tmp_path, {"2025/26 Q1": "84.0%"}, 0.85)
    data, result = validate_file(path, cat)
    assert data is not None
    stored = {parse_period("2025/26 Q1"): Figures(84.0)}
    check_against_history(data, cat, History(lambda iid: stored, Rules()), result)
    assert [p.code for p in result.problems] == ["percentage-as-fraction"]


VALIDATE_PROBE = """
import sys
from kpiflow.cli import app
try:
    app(args=["validate", *sys.argv[1:]], standalone_mode=False)
except BaseException:
    pass
print(sorted({"openpyxl", "kpiflow.proofread", "kpiflow.workbook.annotate", "email.headerregistry"} & set(sys.modules)))
"""


def test_validate_imports_only_what_the_return_needs(filled: Path, edit: Edit, home: Path) -> None:
    """``kpiflow validate`` starts fast (PRODUCT.md section 14): it never imports openpyxl, and
    imports the proofreading of section 21 only for a return with words to check."""
    import subprocess
    import sys

    def imported(path: Path) -> str:
        r = subprocess.run([sys.executable, "-c", VALIDATE_PROBE, str(path), "--home", str(home)],
                           capture_output=True, text=True, check=True, cwd=home, timeout=120)
        return r.stdout.strip().splitlines()[-1]

    blank = edit(filled, {f"Return!{col}{row}": None for col in "JK" for row in (7, 8, 9)})
    assert imported(blank) == "[]"
    assert imported(filled) == "['kpiflow.proofread']"
