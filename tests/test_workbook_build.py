"""The issued returns workbook, read back with openpyxl as Excel would see it."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from kpiflow.workbook.build import fill_return


def test_sheets_headers_and_prefill(issued: Path) -> None:
    wb = openpyxl.load_workbook(issued)
    assert wb.sheetnames == ["Guidance", "About", "Return", "Supporting data", "Breakdown", "kpiflow"]
    assert wb["kpiflow"].sheet_state == "veryHidden"
    about = {wb["About"].cell(r, 1).value: wb["About"].cell(r, 2).value for r in range(1, 7)}
    assert about["Service"] == "Children's Services" and about["Quarter"] == "2017/18 Q2"
    ws = wb["Return"]
    headers = [c.value for c in ws[6]]
    assert headers[:11] == ["Indicator ID", "Indicator", "Better to be", "Unit", "Target", "Number", "Rate",
                            "Statistical neighbours", "England", "Commentary", "Service response"]
    assert headers[11:] == ["2015/16", "2016/17", "2017/18 Q1", "2016/17 Q2", "Last published service response"]
    assert [ws.cell(r, 1).value for r in (7, 8, 9)] == ["CS01", "CS02", "CS03"]
    assert ws["E7"].value == "No Target Set"
    assert [ws.cell(7, c).value for c in range(12, 16)] == ["469 (162.8)", "525 (183.0)", "548 (191.6)",
                                                             "497 (173.2)"]
    assert ws["L8"].value is None and ws["M8"].value == "3139"
    breakdown = wb["Breakdown"]
    assert [breakdown.cell(r, 3).value for r in range(4, 9)] == ["Under 1", "1-4 yrs", "5-9 yrs", "10-15 yrs",
                                                                  "16 and over"]


def test_only_input_cells_take_typing(issued: Path) -> None:
    wb = openpyxl.load_workbook(issued)
    for name in ("Guidance", "About", "Return", "Supporting data", "Breakdown"):
        assert wb[name].protection.sheet, name
    ws = wb["Return"]
    locked = {c: ws[c].protection.locked for c in ("A7", "B7", "E7", "L7", "F7", "G7", "H7", "J7", "K7", "G8")}
    assert locked == {"A7": True, "B7": True, "E7": True, "L7": True, "F7": False, "G7": False, "H7": False,
                      "J7": False, "K7": False, "G8": True}   # CS02 is a Number: its Rate cell is locked
    with pytest.raises(ValueError, match="Return!A7 is locked"):
        fill_return(issued, issued.with_name("x.xlsx"), {}, {"CS01": {"Indicator ID": "CS99"}})


def test_input_cells_carry_validation_with_messages(issued: Path) -> None:
    wb = openpyxl.load_workbook(issued)
    dvs = wb["Return"].data_validations.dataValidation
    by_cell = {}
    for dv in dvs:
        for rng in dv.sqref.ranges:
            for row in rng.cells:
                by_cell[openpyxl.utils.get_column_letter(row[1]) + str(row[0])] = dv
    f7 = by_cell["F7"]
    assert (f7.type, f7.operator, f7.formula1) == ("decimal", "greaterThanOrEqual", "0")
    assert f7.showInputMessage and "Enter" in f7.prompt
    assert by_cell["K7"].type == "textLength"
    assert "G8" not in by_cell
    about = {str(r): dv.type for dv in wb["About"].data_validations.dataValidation for r in dv.sqref.ranges}
    assert about["B6"] == "date"


def test_text_that_looks_like_a_formula_is_written_as_text(issued: Path, tmp_path: Path) -> None:
    out = fill_return(issued, tmp_path / "f.xlsx", {"Completed by": "=HYPERLINK(\"x\")"},
                      {"CS01": {"Commentary": "+44 rises", "Service response": "@risk -1"}})
    wb = openpyxl.load_workbook(out)
    for ref in ("About!B4", "Return!J7", "Return!K7"):
        sheet, cell = ref.split("!")
        assert wb[sheet][cell].data_type == "s", ref
    assert wb["About"]["B4"].value == '=HYPERLINK("x")'
