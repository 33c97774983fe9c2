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
    assert headers[:13] == ["Indicator ID", "Indicator", "Better to be", "Unit", "Target", "Number", "Rate",
                            "Statistical neighbours", "England", "Commentary", "Service response", "What to enter",
                            "Comparator year"]
    assert headers[13:] == ["2015/16", "2016/17", "2017/18 Q1", "2016/17 Q2", "Last service response"]
    # comparators are asked for the previous financial year, typed as text (never taken for a date)
    assert [ws.cell(r, 13).value for r in (7, 8, 9)] == ["2016/17"] * 3 and ws["M7"].number_format == "@"
    assert [ws.cell(r, 1).value for r in (7, 8, 9)] == ["CS01", "CS02", "CS03"]
    assert ws["E7"].value == "No Target Set"
    assert [ws.cell(7, c).value for c in range(14, 18)] == ["469 (162.8)", "525 (183.0)", "548 (191.6)",
                                                             "497 (173.2)"]
    assert ws["N8"].value is None and ws["O8"].value == "3,139"
    breakdown = wb["Breakdown"]
    assert [breakdown.cell(r, 3).value for r in range(4, 9)] == ["Under 1", "1-4 yrs", "5-9 yrs", "10-15 yrs",
                                                                  "16 and over"]


def test_only_input_cells_take_typing(issued: Path) -> None:
    wb = openpyxl.load_workbook(issued)
    for name in ("Guidance", "About", "Return", "Supporting data", "Breakdown"):
        assert wb[name].protection.sheet, name
    ws = wb["Return"]
    locked = {c: ws[c].protection.locked for c in ("A7", "B7", "E7", "L7", "N7", "F7", "G7", "H7", "J7", "K7", "G8",
                                                   "M7")}
    assert locked == {"A7": True, "B7": True, "E7": True, "L7": True, "N7": True, "F7": False, "G7": False,
                      "H7": False, "J7": False, "K7": False, "G8": True,    # CS02 is a Number: its Rate cell is locked
                      "M7": False}                                          # Comparator year: the service may change it
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


def test_what_to_enter_says_what_each_figure_is(issued: Path) -> None:
    ws = openpyxl.load_workbook(issued)["Return"]
    assert [ws.cell(r, 12).value for r in (7, 8, 9)] == [
        "Number, and rate per 10,000 at 30 September 2017.",
        "In the quarter: July to September 2017.",
        "Number, and rate per 10,000 at 30 September 2017. Also add each month in Supporting data (Period 2017-07, "
        "2017-08 and 2017-09): the figure at the end of each month.",
    ]


@pytest.mark.parametrize(("measure", "unit", "frequency", "n", "expected"), [
    ("Snapshot", "Number", "Quarterly", 2, "Number at 30 September 2024."),
    ("Cumulative", "Number", "Quarterly", 2, "Year to date: April to September 2024."),
    ("Count", "Number", "Quarterly", 2, "In the quarter: July to September 2024."),
    ("Cumulative", "Percentage", "Quarterly", 4, "Year to date: April 2024 to March 2025."),
    ("Count", "Rate", "Monthly", 4, "In the quarter: January to March 2025. Also add each month in Supporting "
                                    "data (Period 2025-01, 2025-02 and 2025-03): the amount in each month."),
    ("Snapshot", "Percentage", "Quarterly", 1, "Percentage (0 to 100) at 30 June 2024."),
])
def test_what_to_enter(measure: str, unit: str, frequency: str, n: int, expected: str) -> None:
    from kpiflow.model import Indicator
    from kpiflow.periods import quarter
    from kpiflow.workbook.build import what_to_enter

    ind = Indicator("X1", "X", "P", "S", "High", unit, 1000 if unit == "Rate" else None, frequency, measure, None)
    assert what_to_enter(ind, quarter(2024, n)) == expected


def test_guidance_examples_use_the_quarter_issued(settings: object, store: object, catalogue: object) -> None:
    from kpiflow.issue import issue_returns
    from kpiflow.periods import parse_period

    path = issue_returns(settings, store, catalogue, parse_period("2024/25 Q3"))[0]  # type: ignore[arg-type]
    wb = openpyxl.load_workbook(path)
    guidance = "\n".join(str(c.value or "") for c in wb["Guidance"]["A"])
    assert "2017" not in guidance and "2016" not in guidance
    assert "a month like 2024-12, a quarter like 2024/25 Q3 or a year like 2023/24" in guidance
    assert '"Year to date: April to December 2024"' in guidance and "14/01/2025" in guidance
    about = wb["About"].data_validations.dataValidation
    assert any("14/01/2025" in (dv.prompt or "") for dv in about)


def test_rows_cannot_be_inserted_or_deleted_and_the_return_prints_on_a4(issued: Path) -> None:
    wb = openpyxl.load_workbook(issued)
    for name in ("Guidance", "About", "Return", "Supporting data", "Breakdown"):
        p = wb[name].protection
        assert p.sheet and p.insertRows and p.deleteRows and p.insertColumns and p.deleteColumns, name
        setup = wb[name].page_setup
        assert (setup.paperSize, setup.fitToWidth, setup.fitToHeight) == (9, 1, 0), name
        assert wb[name].sheet_properties.pageSetUpPr.fitToPage, name
    ws = wb["Return"]
    assert ws.page_setup.orientation == "landscape"
    assert ws.print_title_rows == "$6:$6"
    assert ws["B7"].alignment.wrap_text and ws["L7"].alignment.wrap_text


def test_each_figure_cell_prompts_what_to_enter(issued: Path) -> None:
    wb = openpyxl.load_workbook(issued)
    prompts = {str(r): dv.prompt for dv in wb["Return"].data_validations.dataValidation for r in dv.sqref.ranges}
    assert prompts["F8"].startswith("Enter: In the quarter: July to September 2017.")
    assert prompts["G7"].startswith("Enter: Number, and rate per 10,000 at 30 September 2017.")


def test_the_workbook_issued_has_the_layout_validate_reads(issued: Path) -> None:
    from kpiflow.workbook import layout

    wb = openpyxl.load_workbook(issued)
    assert {layout.GUIDANCE, layout.ABOUT, layout.RETURN, layout.SUPPORT, layout.BREAKDOWN,
            layout.ISSUED_SHEET} <= set(wb.sheetnames)
    ret = [c.value for c in wb[layout.RETURN][layout.RETURN_HEADER_ROW]]
    assert ret[:len(layout.RETURN_HEADERS)] == layout.RETURN_HEADERS
    assert set(layout.RETURN_REQUIRED) <= set(ret)
    for name, headers in ((layout.SUPPORT, layout.SUPPORT_HEADERS), (layout.BREAKDOWN, layout.BREAKDOWN_HEADERS)):
        row = [c.value for c in wb[name][layout.SUPPORT_HEADER_ROW]]
        assert row[:len(headers)] == headers
    labels = [wb[layout.ABOUT].cell(row=i, column=1).value for i in range(1, len(layout.ABOUT_LABELS) + 1)]
    assert labels == layout.ABOUT_LABELS and set(layout.ABOUT_REQUIRED) <= set(labels)
