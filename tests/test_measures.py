"""Each measure kind's meaning, asked of the kind: what adds up, what a quarter is compared with,
the target in force and the words; and the accumulating year-to-date percentage (PRODUCT.md
sections 4 and 9)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from kpiflow.catalogue import load_catalogue
from kpiflow.crosscheck import History, check_against_history
from kpiflow.measures import (
    ACCUMULATING_PERCENTAGE,
    COUNT,
    CUMULATIVE,
    CUMULATIVE_PERCENTAGE,
    KINDS,
    SNAPSHOT,
    MeasureKind,
    kind_for,
)
from kpiflow.model import Catalogue, Figures, Indicator, ReturnData, ReturnRow
from kpiflow.periods import Period, quarter
from kpiflow.problems import ValidationResult
from kpiflow.rules import PRESETS, evaluate
from kpiflow.settings import Rules, Settings
from kpiflow.trends import Facts, facts

Q4_, Q1, Q2, Q3 = quarter(2016, 4), quarter(2017, 1), quarter(2017, 2), quarter(2017, 3)


@pytest.mark.parametrize(("name", "unit", "accumulates", "kind"), [
    ("Snapshot", "Number", False, SNAPSHOT), ("Count", "Rate", False, COUNT), ("Cumulative", "Number", False, CUMULATIVE),
    ("Cumulative", "Number and rate", False, CUMULATIVE), ("Cumulative", "Percentage", False, CUMULATIVE_PERCENTAGE),
    ("Cumulative", "Percentage", True, ACCUMULATING_PERCENTAGE),
])
def test_the_kind_follows_measure_unit_and_accumulates(name: str, unit: str, accumulates: bool,
                                                       kind: MeasureKind) -> None:
    assert kind_for(name, unit, accumulates) is kind
    ind = Indicator("T01", "T", "P", "S", "High", unit, 100 if unit != "Number" else None, "Quarterly", name, None,
                    accumulates=accumulates)
    assert ind.measure is kind and ind.accumulates == kind.accumulates
    # a kind passed in is fitted to the unit too: a Cumulative percentage is not a running total
    assert Indicator("T01", "T", "P", "S", "High", unit, None, "Quarterly", kind, None).measure is kind


def test_an_unknown_measure_is_refused() -> None:
    with pytest.raises(ValueError, match="Snapshot, Count, Cumulative"):
        kind_for("Average")


def test_only_a_count_adds_up() -> None:
    assert [k.adds_up("number") for k in KINDS] == [False, True, False, False, False]
    s = {Q1: Figures(10), Q2: Figures(30), quarter(2017, 3): Figures(45), quarter(2017, 4): Figures(50)}
    assert COUNT.outturn(s, Q2.year, "number") == 135
    assert CUMULATIVE.outturn(s, Q2.year, "number") == SNAPSHOT.outturn(s, Q2.year, "number") == 50
    assert COUNT.to_date(s, Q2, "number") == 40 and CUMULATIVE.to_date(s, Q2, "number") == 30


def test_what_each_kind_compares_with_the_previous_quarter() -> None:
    s = {Q4_: Figures(96.0), Q1: Figures(28.0), Q2: Figures(56.0)}
    assert SNAPSHOT.previous_pair(s, Q2, "number") == (56.0, 28.0, "value")
    assert CUMULATIVE.previous_pair(s, Q2, "number") == (28.0, 28.0, "in the quarter")
    assert CUMULATIVE_PERCENTAGE.previous_pair(s, Q2, "number") == (56.0, 28.0, "year to date")
    # at Q1 the year to date restarts: never set against the previous year's Q4
    assert CUMULATIVE_PERCENTAGE.previous_pair(s, Q1, "number") == (28.0, None, "year to date")
    # an accumulating percentage is never compared with the previous quarter
    assert ACCUMULATING_PERCENTAGE.previous_pair(s, Q2, "number") == (56.0, None, "year to date")


def _collected(accumulates: bool) -> Indicator:
    return Indicator("CT01", "Percentage of council tax collected", "P", "Revenues", "High", "Percentage", None,
                     "Quarterly", "Cumulative", 1, accumulates=accumulates)


COLLECTED = {quarter(2016, 1): 28.1, quarter(2016, 2): 55.9, quarter(2016, 3): 83.8, Q4_: 96.3,
             Q1: 28.2, Q2: 55.0, Q3: 83.9}


def _facts(accumulates: bool, at: Period, profile: tuple[float, float, float, float] | None = None) -> Facts:
    ind = _collected(accumulates)
    series = {p: Figures(v) for p, v in COLLECTED.items()}
    return facts(ind, series, at, {"2017/18": 96.5}, 5.0, 1.0, 6, {"2017/18": profile} if profile else None)


def test_a_year_to_date_percentage_at_q1_is_not_compared_with_last_years_q4() -> None:
    f = _facts(False, Q1)
    assert (f.vs_previous, f.previous) == (None, None)
    assert (f.ly_cmp.now, f.ly_cmp.then, f.vs_last_year) == (28.2, 28.1, "No change")
    # a running ratio is compared on its year to date from Q2
    assert _facts(False, Q2).vs_previous == "Improved"


def test_an_accumulating_percentage_is_judged_against_its_profile_and_last_year_only() -> None:
    f = _facts(True, Q2, (28.0, 56.0, 84.0, 96.5))
    assert (f.vs_previous, f.previous, f.prev_cmp.then if f.prev_cmp else 0) == (None, None, None)
    assert (f.target_now, f.target_basis, f.rag) == (56.0, "profile", "Red")
    assert (f.ly_cmp.then if f.ly_cmp else 0, f.vs_last_year) == (55.9, "Worsened")
    # at Q1, Amber against its profile: "worse than Q4" (28.2% against 96.3%) would be false, so
    # red-or-amber-worsening does not report it; the default rule does, for being below target
    q1 = _facts(True, Q1, (28.4, 56.0, 84.0, 96.5))
    assert (q1.rag, q1.vs_previous) == ("Amber", None)
    assert not evaluate(q1, "red-or-amber-worsening").exception
    assert evaluate(q1, "below-target-or-worse-than-last-year").exception


def test_an_accumulating_percentage_gets_no_big_change_warning_as_it_builds_up() -> None:
    ind = _collected(True)
    stored = {p: Figures(v) for p, v in COLLECTED.items() if p < Q2}

    def warnings(i: Indicator) -> list[tuple[str, str, str]]:
        data = ReturnData(service="Revenues", quarter=Q2,
                          rows=[ReturnRow("CT01", 7, Figures(55.0), "", "Response", {"Number": "F7"})])
        result = ValidationResult("x")
        check_against_history(data, Catalogue((i,), {("CT01", "2017/18"): 96.5}),
                              History(lambda iid: stored, Rules()), result)
        return [loc for loc in result.locations() if loc[2] == "big-change"]

    # 28.2% to 55.0% is how an accumulating percentage grows; a running ratio doubling is news
    assert warnings(ind) == []
    assert warnings(_collected(False)) == [("Return", "F7", "big-change")]


def test_the_target_in_force_by_kind() -> None:
    assert COUNT.target_in_force(100.0, None, Q2) == (50.0, "pro rata")
    assert CUMULATIVE.target_in_force(100.0, None, Q2) == (50.0, "pro rata")
    assert CUMULATIVE_PERCENTAGE.target_in_force(100.0, None, Q2) == (100.0, "year")
    assert ACCUMULATING_PERCENTAGE.target_in_force(96.5, (28.0, 56.0, 84.0, 96.5), Q2) == (56.0, "profile")
    assert SNAPSHOT.target_in_force(100.0, None, Q2) == (100.0, "year")
    assert COUNT.target_in_force(100.0, (20.0, None, None, None), Q2) == (45.0, "profile")


def test_each_kind_has_its_words() -> None:
    assert [k.at for k in (SNAPSHOT, COUNT, CUMULATIVE)] == ["At", "In", "At"]
    assert {k.name for k in KINDS} == {"Snapshot", "Count", "Cumulative"}
    assert all(k.values_note.endswith(".") for k in KINDS)
    assert CUMULATIVE.row_label("%") == "% year to date" and COUNT.row_label("No.") == "No."
    assert COUNT.what_to_enter("Number", Q2, "30 September 2017") == (
        "In the quarter: July to September 2017", "the amount in each month")
    assert CUMULATIVE.what_to_enter("Number", Q2, "30 September 2017")[0] == "Year to date: April to September 2017"
    assert SNAPSHOT.what_to_enter("Number, and rate per 10,000,", Q2, "30 September 2017")[0] == (
        "Number, and rate per 10,000 at 30 September 2017")


def test_every_preset_has_its_words_and_rule_in_one_place() -> None:
    assert list(PRESETS) == ["below-target-or-worse-than-last-year", "red", "red-or-amber-worsening",
                             "missed-two-quarters"]
    assert all(p.text.startswith("an indicator is reported when") for p in PRESETS.values())


def _catalogue(tmp_path: Path, settings: Settings, rows: dict[str, object]) -> tuple[Catalogue, list[tuple[str, str, str]]]:
    wb = openpyxl.load_workbook(settings.catalogue_path)
    for cell, value in rows.items():
        wb["Indicators"][cell] = value
    path = tmp_path / "catalogue.xlsx"
    wb.save(path)
    catalogue, result = load_catalogue(path)
    return catalogue, result.locations()


def test_the_catalogue_reads_accumulates(settings: Settings, tmp_path: Path) -> None:
    # CS03 becomes a year-to-date percentage that builds up; the column is optional
    catalogue, problems = _catalogue(tmp_path, settings, {"L1": "Accumulates", "F4": "Percentage", "G4": None,
                                                          "I4": "Cumulative", "L4": "yes"})
    assert problems == []
    cs03 = catalogue.get("CS03")
    assert cs03 is not None and cs03.measure is ACCUMULATING_PERCENTAGE and cs03.accumulates
    assert catalogue.get("CS01").measure is SNAPSHOT                          # type: ignore[union-attr]


def test_accumulates_is_only_for_a_cumulative_percentage(settings: Settings, tmp_path: Path) -> None:
    _, problems = _catalogue(tmp_path, settings, {"L1": "Accumulates", "L3": "Yes", "L2": "Perhaps"})
    assert problems == [("Indicators", "L2", "bad-value"), ("Indicators", "L3", "bad-value")]
