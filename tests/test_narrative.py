from __future__ import annotations

import re

import pytest
from helpers import seed_facts
from hypothesis import given, settings
from hypothesis import strategies as st

from kpiflow.fmt import fmt, fmt_figures
from kpiflow.model import Figures, Indicator
from kpiflow.narrative import draft_commentary
from kpiflow.periods import Period, quarter
from kpiflow.trends import Facts, facts

Q1, Q2 = quarter(2017, 1), quarter(2017, 2)


def text(f: Facts) -> str:
    return "\n".join(draft_commentary(f))


# --- formatting ---

@pytest.mark.parametrize(("value", "unit", "figure", "expected"), [
    (185.6, "Number and rate", "primary", "185.6"), (62, "Number and rate", "primary", "62.0"),
    (162.84, "Rate", "primary", "162.8"), (600, "Rate", "rate", "600.0"),
    (514.0, "Number", "primary", "514"), (3139, "Number", "number", "3,139"), (469, "Number and rate", "number", "469"),
    (45.0, "Percentage", "primary", "45%"), (45.26, "Percentage", "primary", "45.3%"), (7, "Percentage", "number", "7%"),
    (None, "Rate", "primary", "n/a"), (None, "Number", "primary", "n/a"),
])
def test_fmt(value: float | None, unit: str, figure: str, expected: str) -> None:
    assert fmt(value, unit, figure) == expected


@pytest.mark.parametrize(("figs", "unit", "expected"), [
    # thousands separated with commas, as in "2,400 (Q2: 1,200)"
    (Figures(469, 162.8), "Number and rate", "469 (162.8)"), (Figures(531.0, 185.6), "Number and rate", "531 (185.6)"),
    (Figures(None, 185.6), "Number and rate", "185.6"), (Figures(1932, None), "Number and rate", "1,932"),
    (Figures(3139), "Number", "3,139"), (Figures(82.0), "Percentage", "82%"), (Figures(None, 675.4), "Rate", "675.4"), (Figures(45.5), "Percentage", "45.5%"),
    (None, "Number", ""),
])
def test_fmt_figures(figs: Figures | None, unit: str, expected: str) -> None:
    assert fmt_figures(figs, unit) == expected


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=0, max_value=1e6, allow_nan=False), st.integers(min_value=0, max_value=10**6))
def test_rates_print_one_decimal_counts_whole_percentages_with_a_sign(v: float, n: int) -> None:
    assert re.fullmatch(r"\d{1,3}(,\d{3})*\.\d", fmt(v, "Rate"))
    assert re.fullmatch(r"\d{1,3}(,\d{3})*\.\d", fmt(v, "Number and rate"))
    assert fmt(float(n), "Number") == f"{n:,}"
    assert re.fullmatch(r"\d{1,3}(,\d{3})*(\.\d)?%", fmt(v, "Percentage"))
    # with the indicator's decimal places, every figure has them
    assert re.fullmatch(r"\d{1,3}(,\d{3})*\.\d%", fmt(v, "Percentage", dp=1))
    assert fmt(float(n), "Number", dp=1) == f"{n:,}.0"


# --- the seed's drafts ---

def test_cs01_draft() -> None:
    paras = draft_commentary(seed_facts("CS01"))
    assert paras[0].startswith("There is no target set for this indicator, so it is compared instead with the general "
                               "trend of performance and with our statistical neighbours and England.")
    assert "The rate has increased in each year since 2013/14" in paras[0]
    assert "At Q2 2017/18 it fell slightly compared with Q1 2017/18 (185.6 against 191.6), an improvement." in paras[1]
    # not "an improvement than a year ago"
    assert "It is higher than at Q2 2016/17 (185.6 against 173.2), worse than a year ago." in paras[1]
    # comparators are annual: the latest complete year's outturn against them, never the quarter
    assert paras[2].startswith("In 2016/17, the latest complete year, the rate was 183.0: above the statistical "
                               "neighbours' average (101.0) and England (62.0).")


def test_cs01_is_worse_than_its_comparators_and_moving_away_so_the_gap_would_widen() -> None:
    assert seed_facts("CS01").projection is not None
    assert text(seed_facts("CS01")).endswith("If the trend of the last 6 quarters were to continue, the gap to the "
                                             "statistical neighbours' average would keep widening.")
    assert "would reach" not in text(seed_facts("CS01"))


def test_cs02_draft_has_no_comparators_and_no_projection() -> None:
    t = text(seed_facts("CS02"))
    assert "compared instead with the general trend of performance." in t
    assert "514 against 629" in t and "514 against 781" in t
    for word in ("neighbours", "England", "average", "would reach", "If the trend"):
        assert word not in t


def test_cs03_draft_projects_to_the_statistical_neighbours() -> None:
    paras = draft_commentary(seed_facts("CS03"))
    assert paras[-1] == ("If the trend of the last 6 months were to continue, it would reach the statistical "
                         "neighbours' average (600.0) by Q3 2018/19.")


# --- drafts for constructed facts ---

def make(values: dict[Period, float], *, unit: str = "Number", measure: str = "Snapshot", better: str = "High",
         target: float | None = 100.0) -> Facts:
    ind = Indicator("T01", "Test indicator", "Portfolio", "Service", better, unit, None, "Quarterly", measure, None)
    figs = {p: Figures(v) if unit != "Rate" else Figures(None, v) for p, v in values.items()}
    return facts(ind, figs, Q2, {"2017/18": target}, 5.0, 1.0, 6)


def test_a_target_sentence_gives_the_figure_the_target_and_the_rag() -> None:
    assert text(make({Q2: 96})).startswith("At Q2 2017/18 the figure was 96 against a target of 100 (Amber).")
    assert text(make({Q2: 96.0}, unit="Rate")).startswith(
        "At Q2 2017/18 the figure was 96.0 against a target of 100.0 (Amber).")
    # one indicator's percentages are all shown alike: 40.0% beside 45.5%, never 40%
    assert text(make({Q2: 45.5}, unit="Percentage", target=40.0)).startswith(
        "At Q2 2017/18 the figure was 45.5% against a target of 40.0% (Green).")


def test_a_count_is_set_against_its_target_to_date() -> None:
    t = text(make({Q1: 200, Q2: 150}, measure="Count", target=1000.0))
    # the year to date (350) is in no cell of the values table, so it is named for what it is
    assert t.startswith("At Q2 2017/18 the total for the year to date was 350 against a pro rata target of 500 (Red).")
    assert "(150 against 200)" in t      # the quarter itself, against the quarter before
    assert t.endswith("At this pace it is on course for 700 by the year end, against a target of 1,000.")


def test_no_comparator_and_no_projection_sentences_without_comparators() -> None:
    t = text(make({quarter(2016, n): 50.0 + n for n in range(1, 5)} | {Q1: 60, Q2: 70}))
    assert "neighbours" not in t and "England" not in t and "would reach" not in t


def test_unchanged_figures_are_about_the_same() -> None:
    t = text(make({quarter(2016, 2): 100, Q1: 100.4, Q2: 100}))
    assert "At Q2 2017/18 it was about the same as at Q1 2017/18 (100.0 against 100.4)." in t
    assert "That is the same as at Q2 2016/17 (100.0)." in t


def test_a_missing_figure_leaves_its_sentences_out() -> None:
    assert draft_commentary(make({}, target=None)) == [
        "There is no target set for this indicator, so it is compared instead with the general trend of performance."]
