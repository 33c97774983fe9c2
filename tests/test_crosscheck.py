"""Checks of a return against the stored history: rates, big changes, responses for exceptions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kpiflow.crosscheck import History
from kpiflow.model import Catalogue
from kpiflow.pipeline import check_file

Edit = Callable[..., Path]


def with_history(path: Path, catalogue: Catalogue, store: object, settings: object) -> list[tuple[str, str, str]]:
    history = History(store.series, settings.rules)  # type: ignore[attr-defined]
    return check_file(path, catalogue, history=history)[1].locations()


# the example's CS01 service response, word for word the council's, gives two figures kpiflow does not
# hold ("15 per month" entering care, "21 young people"): kpiflow proofread's warnings, at its cell
EXAMPLE_WORDS = [("Return", "K7", "figure-not-held")] * 2


def test_checks_against_the_stored_figures(filled: Path, catalogue: Catalogue, edit: Edit, store: object,
                                           settings: object) -> None:
    assert with_history(filled, catalogue, store, settings) == EXAMPLE_WORDS
    # a rate typed as if per 1,000; early help up 120% on Q1; no response for an exception
    bad = edit(filled, {"Return!G7": 18.56, "Return!F8": 1400, "Return!K9": None})
    assert with_history(bad, catalogue, store, settings) == [
        ("Return", "G7", "rate-inconsistent"),
        ("Return", "G7", "big-change"),
        *EXAMPLE_WORDS,
        ("Return", "F8", "big-change"),
        ("Return", "K9", "missing-response"),
    ]
    result = check_file(bad, catalogue, history=History(store.series, settings.rules))[1]  # type: ignore[attr-defined]
    assert [p.severity for p in result.problems] == ["error", "warning", "warning", "warning", "warning", "error"]
    assert "implies a population of 286,099, but Q1 2017/18 implies 28,601" in result.problems[0].message
    assert "is 123% higher than at Q1 2017/18 (629)" in result.problems[4].message
    assert "exception: worse than the same quarter last year (675.4 against 660.0). It needs" in result.problems[5].message


def test_with_nothing_stored_the_rate_is_checked_against_the_returns_own_back_data(
        filled: Path, catalogue: Catalogue, edit: Edit, settings: object) -> None:
    """A first return with a rate ten times too small: the history it was issued with (548 and
    191.6 at Q1) and its own Supporting data (CS03's months) show the rate does not fit."""
    empty = History(lambda iid: {}, settings.rules)  # type: ignore[attr-defined]
    assert check_file(filled, catalogue, history=empty)[1].ok
    bad = edit(filled, {"Return!G7": 18.56, "Return!G9": 67.54})
    result = check_file(bad, catalogue, history=empty)[1]
    assert [loc for loc in result.locations() if loc[2] == "rate-inconsistent"] == [
        ("Return", "G7", "rate-inconsistent"), ("Return", "G9", "rate-inconsistent")]
    rate = [p for p in result.problems if p.code == "rate-inconsistent"]
    assert "but Q1 2017/18 implies 28,601" in rate[0].message
    assert "Sep 2017 implies" in rate[1].message          # from the return's own Supporting data


def _check_year_to_date(q2_value: float) -> list[tuple[str, str, str]]:
    """A year-to-date number with 300 at Q1 (and 1,200 in the year before, 300 a quarter)."""
    from kpiflow.crosscheck import check_against_history
    from kpiflow.model import Figures, Indicator, ReturnData, ReturnRow
    from kpiflow.periods import quarter
    from kpiflow.problems import ValidationResult
    from kpiflow.settings import Rules

    ind = Indicator("H02", "Homes", "P", "Housing", "High", "Number", None, "Quarterly", "Cumulative", None)
    catalogue = Catalogue((ind,), {("H02", "2017/18"): 1200.0})
    stored = {quarter(2016, n): Figures(300.0 * n) for n in range(1, 5)} | {quarter(2017, 1): Figures(300.0)}
    data = ReturnData(service="Housing", quarter=quarter(2017, 2),
                      rows=[ReturnRow("H02", 7, Figures(q2_value), "", "Response", {"Number": "F7"})])
    result = ValidationResult("x")
    check_against_history(data, catalogue, History(lambda iid: stored, Rules()), result)
    return result.locations()


def test_a_year_to_date_is_checked_for_big_changes_like_with_like() -> None:
    # 600 doubles the year to date, but the quarter added 300, as Q1 did: no warning
    assert _check_year_to_date(600.0) == []
    # the quarter added 700 against Q1's 300
    assert _check_year_to_date(1000.0) == [("Return", "F7", "big-change")]
