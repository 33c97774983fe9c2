from __future__ import annotations

from pathlib import Path

import openpyxl

from kpiflow.catalogue import load_catalogue
from kpiflow.demo import EXAMPLE_CATALOGUE
from kpiflow.settings import Settings


def test_the_shipped_catalogue_is_the_seeds_three_indicators(settings: Settings) -> None:
    catalogue, result = load_catalogue(settings.catalogue_path)
    assert result.problems == []
    assert catalogue == EXAMPLE_CATALOGUE
    cs01 = catalogue.get("CS01")
    assert cs01 is not None and (cs01.unit, cs01.rate_per, cs01.better, cs01.measure.name) == (
        "Number and rate", 10000, "Low", "Snapshot")
    assert catalogue.portfolios == ["Cabinet Secretary for Resilient Communities & Childrens"]
    assert catalogue.target("CS01", "2017/18") is None


def test_catalogue_problems_are_located(settings: Settings, tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(settings.catalogue_path)
    ws = wb["Indicators"]
    ws["E2"] = "Medium"          # Better to be
    ws["A4"] = "CS01"            # duplicate ID
    ws["G3"] = "lots"            # Rate per
    wb["Targets"].append(["CS09", "2017/18", 5])
    wb["Targets"].append(["CS02", "2017-18 Q9", 5])
    bad = tmp_path / "catalogue.xlsx"
    wb.save(bad)
    _, result = load_catalogue(bad)
    assert result.locations() == [
        ("Indicators", "E2", "bad-value"),
        ("Indicators", "G3", "not-a-number"),
        ("Indicators", "A4", "duplicate-indicator"),
        ("Targets", "A4", "unknown-indicator"),     # CS03's row was overwritten, so its target is orphaned
        ("Targets", "A5", "unknown-indicator"),
        ("Targets", "B6", "bad-period"),
    ]


def _catalogue(tmp_path: Path, settings: Settings, change: object) -> tuple[object, list[tuple[str, str, str]]]:
    """The shipped catalogue with ``change(workbook)`` applied, read back: (catalogue, problem locations)."""
    wb = openpyxl.load_workbook(settings.catalogue_path)
    change(wb)  # type: ignore[operator]
    path = tmp_path / "catalogue.xlsx"
    wb.save(path)
    catalogue, result = load_catalogue(path)
    return catalogue, result.locations()


def test_priority_is_optional_read_as_typed_and_checked(settings: Settings, tmp_path: Path) -> None:
    def change(wb: openpyxl.Workbook) -> None:
        ws = wb["Indicators"]
        col = ws.max_column + 1
        ws.cell(row=1, column=col, value="Priority")
        ws.cell(row=2, column=col, value="  Children  are safe ")
        ws.cell(row=3, column=col, value="children are SAFE")     # the same priority, spelt otherwise
        ws.cell(row=4, column=col, value=None)
    catalogue, problems = _catalogue(tmp_path, settings, change)
    col = openpyxl.utils.get_column_letter(openpyxl.load_workbook(settings.catalogue_path)["Indicators"].max_column + 1)
    assert problems == [("Indicators", f"{col}3", "bad-value")]          # a warning: it is counted as one
    assert [i.priority for i in catalogue.indicators] == ["Children are safe", "Children are safe", ""]  # type: ignore[attr-defined]
    assert catalogue.priorities == ["Children are safe"]  # type: ignore[attr-defined]

    def too_long(wb: openpyxl.Workbook) -> None:
        ws = wb["Indicators"]
        col = ws.max_column + 1
        ws.cell(row=1, column=col, value="Priority")
        ws.cell(row=2, column=col, value="x" * 121)
    catalogue, problems = _catalogue(tmp_path, settings, too_long)
    assert problems == [("Indicators", f"{col}2", "bad-value")]
    assert [i.id for i in catalogue.indicators] == ["CS02", "CS03"]  # type: ignore[attr-defined]


def test_headings_are_matched_ignoring_case_spacing_and_a_question_mark(settings: Settings, tmp_path: Path) -> None:
    def change(wb: openpyxl.Workbook) -> None:
        wb["Indicators"]["E1"] = "Better to be?"
        wb["Indicators"]["B1"] = " indicator "
        wb["Targets"]["A1"] = "Indicator id"
    catalogue, problems = _catalogue(tmp_path, settings, change)
    assert problems == []
    assert catalogue == EXAMPLE_CATALOGUE


def test_targets_rows_are_checked(settings: Settings, tmp_path: Path) -> None:
    def change(wb: openpyxl.Workbook) -> None:
        t = wb["Targets"]
        t.append(["CS01", "2017/18", 5])            # a second row for CS01 2017/18
        t.append(["cs02", "2018-19", 2400])          # any case; 2018-19 is a year here
        t.append(["CS03", "2018/19", -5])            # negative
        wb["Indicators"]["J3"] = -2                  # a negative tolerance
    catalogue, problems = _catalogue(tmp_path, settings, change)
    assert problems == [
        ("Indicators", "J3", "negative-value"),
        ("Targets", "A5", "duplicate-target"),
        ("Targets", "C7", "negative-value"),
    ]
    assert catalogue.target("CS02", "2018/19") == 2400  # type: ignore[attr-defined]


def test_a_missing_targets_sheet_is_an_error(settings: Settings, tmp_path: Path) -> None:
    def change(wb: openpyxl.Workbook) -> None:
        del wb["Targets"]
    _, problems = _catalogue(tmp_path, settings, change)
    assert problems == [("Targets", "", "missing-sheet")]


def test_indicator_ids_are_unique_ignoring_case(settings: Settings, tmp_path: Path) -> None:
    def change(wb: openpyxl.Workbook) -> None:
        wb["Indicators"]["A4"] = "cs01"
    _, problems = _catalogue(tmp_path, settings, change)
    assert ("Indicators", "A4", "duplicate-indicator") in problems


def test_a_count_of_percentages_is_refused(settings: Settings, tmp_path: Path) -> None:
    def change(wb: openpyxl.Workbook) -> None:
        wb["Indicators"]["F3"] = "Percentage"        # CS02 is a Count
    _, problems = _catalogue(tmp_path, settings, change)
    assert problems == [("Indicators", "I3", "bad-value")]


def test_profiles_are_read_from_the_quarter_columns(settings: Settings, tmp_path: Path) -> None:
    def change(wb: openpyxl.Workbook) -> None:
        t = wb["Targets"]
        for col, head in zip("DEFG", ("Q1", "Q2", "Q3", "Q4"), strict=True):
            t[f"{col}1"] = head
        t.append(["CS02", "2018/19", 2400, 500, 700, 700, 500])
        t.append(["CS03", "2018/19", None, None, "lots", None, None])
    catalogue, problems = _catalogue(tmp_path, settings, change)
    assert problems == [("Targets", "E6", "not-a-number")]
    assert catalogue.profiles_for("CS02") == {"2018/19": (500, 700, 700, 500)}  # type: ignore[attr-defined]


def test_one_error_is_one_error(settings: Settings, tmp_path: Path) -> None:
    from kpiflow.catalogue import CatalogueCheck

    wb = openpyxl.load_workbook(settings.catalogue_path)
    wb["Indicators"]["E2"] = "Medium"
    path = tmp_path / "catalogue.xlsx"
    wb.save(path)
    check = CatalogueCheck(*load_catalogue(path))
    assert check.lines()[-1].endswith("1 error, 0 warnings")
    assert check.result.summary().endswith("1 error, 0 warnings")
