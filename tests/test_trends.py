from __future__ import annotations

import math

import pytest
from helpers import seed_facts, seed_series
from hypothesis import given, settings
from hypothesis import strategies as st

from kpiflow.measures import kind_for
from kpiflow.model import AMBER, GREEN, IMPROVED, NO_CHANGE, RED, WORSENED, Figures, Indicator
from kpiflow.periods import Period, month, quarter, year
from kpiflow.trends import (
    HORIZON_QUARTERS,
    Facts,
    comparator,
    direction,
    facts,
    latest_run,
    least_squares,
    outturn,
    project,
    rag,
    target_in_force,
    target_to_date,
    year_run,
)

Q2 = quarter(2017, 2)
FEW = settings(max_examples=60, deadline=None)


def table(f: Facts) -> dict[str, tuple[float | None, float | None] | None]:
    """The values table as (number, rate) per period label."""
    return {p.label: None if figs is None else (figs.number, figs.rate) for p, figs in (*f.years, *f.quarters)}


# --- the seed's three indicators at Q2 2017/18 ---

def test_cs01_values_table() -> None:
    assert table(seed_facts("CS01")) == {
        "2015/16": (469, 162.8), "2016/17": (525, 183.0),
        "2017/18 Q1": (548, 191.6), "2017/18 Q2": (531, 185.6), "2017/18 Q3": None, "2017/18 Q4": None,
    }


def test_cs02_year_is_the_sum_of_its_quarters_and_has_no_earlier_year() -> None:
    f = seed_facts("CS02")
    assert table(f)["2015/16"] is None
    assert table(f)["2016/17"] == (3139, None)
    assert 820 + 781 + 762 + 776 == 3139
    assert table(f)["2017/18 Q1"] == (629, None)


def test_cs03_q1_is_rolled_up_from_the_june_figure() -> None:
    f = seed_facts("CS03")
    assert table(f)["2017/18 Q1"] == (1971, 689.0)
    q1 = dict(f.quarters)[quarter(2017, 1)]
    assert q1 is not None and (q1.statneigh, q1.england) == (600.0, 330.1)


def test_seed_directions_and_comparators() -> None:
    cs01, cs02, cs03 = seed_facts("CS01"), seed_facts("CS02"), seed_facts("CS03")
    assert (cs01.current, cs01.previous, cs01.last_year) == (185.6, 191.6, 173.2)
    assert (cs01.vs_previous, cs01.vs_last_year) == (IMPROVED, WORSENED)    # lower is better
    assert (cs02.current, cs02.previous, cs02.last_year) == (514, 629, 781)
    assert (cs02.vs_previous, cs02.vs_last_year) == (WORSENED, WORSENED)
    assert (cs03.last_year, cs03.vs_last_year) == (660.0, WORSENED)          # Sep 2016, the end of Q2
    # comparators are annual: set against the latest complete year (2016/17), not the quarter
    assert (cs01.statneigh, cs01.england, cs01.gap_year) == (101.0, 62, year(2016))
    assert cs01.worse_than == ("statistical neighbours", "England")
    assert (cs02.statneigh, cs02.england, cs02.worse_than, cs02.gap_trend) == (None, None, (), {})
    assert cs01.rag is None and cs01.target is None


def test_seed_year_runs() -> None:
    run = seed_facts("CS01").run
    assert run is not None and run.rising and (run.since, run.until, run.years) == (year(2013), year(2016), 3)
    assert seed_facts("CS02").run is None      # one year of history is no run


def test_cs03_projection_reaches_the_statistical_neighbours_in_q3_2018_19() -> None:
    pr = seed_facts("CS03").projection
    assert pr is not None
    assert [p.label for p, _ in pr.points] == ["2017-04", "2017-05", "2017-06", "2017-07", "2017-08", "2017-09"]
    assert (pr.comparator, pr.comparator_value) == ("statistical neighbours", 600.0)
    assert pr.slope < 0
    assert pr.reaches is not None and pr.reaches.kind == "month" and pr.reaches.quarter == quarter(2018, 3)


def test_cs01_has_no_projection_because_it_moves_away() -> None:
    pr = seed_facts("CS01").projection
    assert pr is not None and pr.reaches is None
    assert pr.slope > 0 and pr.comparator_value < pr.intercept
    assert "moving away" in pr.note
    # quarterly values, with 2016/17 Q4 taken from the year's own figure
    assert pr.points[3] == (quarter(2016, 4), 183.0)


def test_cs02_has_no_projection_without_comparators() -> None:
    assert seed_facts("CS02").projection is None


# --- outturn, comparator, target ---

def test_a_periods_own_figure_wins_over_its_parts() -> None:
    s = {quarter(2017, 1): Figures(100), month(2017, 4): Figures(30), month(2017, 5): Figures(30),
         month(2017, 6): Figures(30)}
    assert outturn(s, quarter(2017, 1), "number", kind_for("Count")) == 100
    del s[quarter(2017, 1)]
    assert outturn(s, quarter(2017, 1), "number", kind_for("Count")) == 90
    assert outturn(s, quarter(2017, 1), "number", kind_for("Snapshot")) == 30


def test_snapshot_q4_falls_back_to_the_years_figure_but_a_count_does_not() -> None:
    s = {year(2016): Figures(400)}
    assert outturn(s, quarter(2016, 4), "number", kind_for("Snapshot")) == 400
    assert outturn(s, quarter(2016, 4), "number", kind_for("Cumulative")) == 400
    assert outturn(s, quarter(2016, 4), "number", kind_for("Count")) is None


def test_a_month_is_never_rolled_up_and_a_missing_part_leaves_a_count_unknown() -> None:
    s = {quarter(2017, 1): Figures(10), quarter(2017, 2): Figures(20), quarter(2017, 3): Figures(30)}
    assert outturn(s, month(2017, 4), "number", kind_for("Snapshot")) is None
    assert outturn(s, year(2017), "number", kind_for("Count")) is None


def test_comparator_is_the_latest_published_up_to_the_period() -> None:
    s = seed_series("CS01")
    assert comparator(s, Q2, "statneigh") == 102.0
    assert comparator(s, quarter(2016, 2), "statneigh") == 97.0     # 2016/17 Q2 had none: 2015/16's
    assert comparator(s, quarter(2016, 4), "england") == 62          # the year's own figure at 31 March
    assert comparator(s, year(2012), "england") is None


@pytest.mark.parametrize(("measure", "n", "expected"), [("Snapshot", 2, 100.0), ("Count", 2, 50.0),
                                                        ("Cumulative", 3, 75.0), ("Count", 4, 100.0)])
def test_target_to_date(measure: str, n: int, expected: float) -> None:
    assert target_to_date(100.0, quarter(2017, n), kind_for(measure)) == expected
    assert target_to_date(None, quarter(2017, n), kind_for(measure)) is None


# --- direction and RAG ---

@pytest.mark.parametrize(("current", "reference", "high", "expected"), [
    (185.6, 191.6, False, IMPROVED), (514, 781, True, WORSENED), (101, 100, True, IMPROVED),
    (100.5, 100, True, NO_CHANGE), (99.5, 100, False, NO_CHANGE), (0, 0, True, NO_CHANGE),
    (5, 0, True, IMPROVED), (5, 0, False, WORSENED), (None, 100, True, None), (100, None, True, None),
    (10.1, 10.0, True, IMPROVED), (20.2, 20.0, False, WORSENED),  # exactly 1%: outside a band of under 1%
])
def test_direction(current: float | None, reference: float | None, high: bool, expected: str | None) -> None:
    assert direction(current, reference, high, 1.0) == expected


@pytest.mark.parametrize(("current", "target", "high", "expected"), [
    (100, 100, True, GREEN), (120, 100, True, GREEN), (96, 100, True, AMBER), (95, 100, True, AMBER),
    (94.9, 100, True, RED), (100, 100, False, GREEN), (80, 100, False, GREEN), (105, 100, False, AMBER),
    (105.1, 100, False, RED), (0, 0, True, GREEN), (-1, 0, True, RED), (None, 100, True, None),
    (100, None, True, None),
    # exactly 5% worse, in figures as a return gives them: within tolerance
    (23.1, 22.0, False, AMBER), (2.1, 2.0, False, AMBER), (33.6, 32.0, False, AMBER), (41.8, 44.0, True, AMBER),
])
def test_rag(current: float | None, target: float | None, high: bool, expected: str | None) -> None:
    assert rag(current, target, high, 5.0) == expected


# --- projection and runs ---

def test_least_squares_on_a_straight_line() -> None:
    assert least_squares([1.0, 3.0, 5.0, 7.0]) == (2.0, 7.0)
    slope, at_last = least_squares([4.0, 2.0, 4.0, 2.0])
    assert slope == pytest.approx(-0.4) and at_last == pytest.approx(2.4)


def quarterly(values: list[float]) -> list[tuple[Period, float]]:
    return [(quarter(2016, 1).step(i), v) for i, v in enumerate(values)]


def test_projection_counts_steps_from_the_last_point() -> None:
    pr = project(quarterly([20, 18, 16, 14]), "England", 9)     # last point 2016/17 Q4; 12, 10, 8 after it
    assert pr is not None and (pr.slope, pr.intercept) == (-2.0, 14.0)
    assert pr.reaches == quarter(2017, 3) and pr.note == ""
    exact = project(quarterly([20, 18, 16, 14]), "England", 10)
    assert exact is not None and exact.reaches == quarter(2017, 2)
    there = project(quarterly([20, 18, 16, 14]), "England", 14)
    assert there is not None and there.reaches == quarter(2016, 4)


def test_projection_needs_enough_points_a_comparator_and_a_near_horizon() -> None:
    short = project(quarterly([20, 18, 16]), "England", 9)
    assert short is not None and short.reaches is None and "fewer than 4" in short.note
    assert project(quarterly([20, 18, 16]), "England", 9, min_points=3) is not None
    assert project(quarterly([20, 18, 16, 14]), "England", None) is None
    far = project(quarterly([20, 19.9, 19.8, 19.7]), "England", 9)
    assert far is not None and far.reaches is None and "more than two years" in far.note
    level = project(quarterly([20, 20, 20, 20]), "England", 9)
    assert level is not None and level.reaches is None and "moving away" in level.note


def test_a_short_projection_setting_still_projects() -> None:
    ind = Indicator("T01", "Test", "P", "S", "Low", "Number", None, "Quarterly", "Snapshot", None)
    s = {p: Figures(v, None, 10.0) for p, v in quarterly([30, 28, 20, 18, 16, 14])}
    f = facts(ind, s, Q2, {}, 5.0, 1.0, 3)
    assert f.projection is not None
    assert [v for _, v in f.projection.points] == [18, 16, 14]
    assert f.projection.reaches == quarter(2017, 4)


def test_latest_run_prefers_months_and_stops_at_a_gap() -> None:
    s = seed_series("CS03")
    run = latest_run(s, Q2, "rate", kind_for("Snapshot"), 20)
    assert run[0][0] == month(2016, 4) and run[-1] == (month(2017, 9), 675.4) and len(run) == 18
    s2 = {p: Figures(None, 1.0) for p in (month(2017, 9), month(2017, 8))} | {
        quarter(2017, 1): Figures(None, 3.0), Q2: Figures(None, 2.0)}
    assert latest_run(s2, Q2, "rate", kind_for("Snapshot"), 6) == [(quarter(2017, 1), 3.0), (Q2, 2.0)]


def years(values: list[float]) -> list[tuple[Period, float]]:
    return [(year(2013 + i), v) for i, v in enumerate(values)]


def test_year_run() -> None:
    run = year_run(years([100, 110, 120, 130]), 1.0)
    assert run is not None and run.rising and (run.since, run.years) == (year(2013), 3)
    run = year_run(years([100, 130, 120, 110]), 1.0)
    assert run is not None and not run.rising and (run.since, run.until, run.years) == (year(2014), year(2016), 2)
    assert year_run(years([100, 110, 110.5]), 1.0) is None      # the latest move is within the no-change band
    assert year_run(years([100]), 1.0) is None


def test_indicator_tolerance_overrides_the_default() -> None:
    def rag_at(tolerance: float | None, value: float) -> str | None:
        ind = Indicator("T01", "Test", "P", "S", "High", "Number", None, "Quarterly", "Snapshot", tolerance)
        return facts(ind, {Q2: Figures(value)}, Q2, {"2017/18": 100.0}, 5.0, 1.0, 6).rag
    assert (rag_at(None, 92), rag_at(10, 92)) == (RED, AMBER)
    assert (rag_at(None, 97), rag_at(2, 97)) == (AMBER, RED)


def test_count_rag_is_judged_on_the_year_to_date() -> None:
    ind = Indicator("T01", "Test", "P", "S", "High", "Number", None, "Quarterly", "Count", None)
    f = facts(ind, {quarter(2017, 1): Figures(300), Q2: Figures(250)}, Q2, {"2017/18": 1000.0}, 5.0, 1.0, 6)
    assert (f.current, f.target_now, f.to_date, f.rag, f.previous_rag) == (250, 500, 550, GREEN, GREEN)
    f = facts(ind, {quarter(2017, 1): Figures(200), Q2: Figures(150)}, Q2, {"2017/18": 1000.0}, 5.0, 1.0, 6)
    assert (f.current, f.to_date, f.rag, f.previous_rag) == (150, 350, RED, RED)


# --- properties ---

values = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False).map(lambda v: round(v, 2))
positive = st.floats(min_value=0.01, max_value=1e4, allow_nan=False).map(lambda v: round(v, 2))
percents = st.floats(min_value=0.0, max_value=50.0, allow_nan=False)


@FEW
@given(values, values, st.booleans(), percents)
def test_rag_mirrors(current: float, target: float, high: bool, tolerance: float) -> None:
    status = rag(current, target, high, tolerance)
    # the same performance seen through a mirror: every status is kept
    assert rag(-current, -target, not high, tolerance) == status
    if current != target:
        # flipping Better to be, or mirroring the values, turns Green into not Green and back
        assert (rag(current, target, not high, tolerance) == GREEN) != (status == GREEN)
        assert (rag(-current, -target, high, tolerance) == GREEN) != (status == GREEN)


@FEW
@given(values, st.booleans(), percents)
def test_on_target_is_green(target: float, high: bool, tolerance: float) -> None:
    assert rag(target, target, high, tolerance) == GREEN


FLIP = {IMPROVED: WORSENED, WORSENED: IMPROVED, NO_CHANGE: NO_CHANGE}


@FEW
@given(values, values, st.booleans(), percents)
def test_direction_mirrors(current: float, reference: float, high: bool, band: float) -> None:
    d = direction(current, reference, high, band)
    assert d is not None
    assert direction(-current, -reference, not high, band) == d
    assert direction(current, reference, not high, band) == FLIP[d]
    assert direction(-current, -reference, high, band) == FLIP[d]
    swapped = direction(reference, current, high, band)
    if NO_CHANGE not in (d, swapped):
        assert swapped == FLIP[d]


@FEW
@given(values.filter(lambda v: v != 0), st.floats(min_value=-0.99, max_value=0.99), st.booleans(),
       st.floats(min_value=0.1, max_value=20.0))
def test_within_the_no_change_band_is_no_change(reference: float, share: float, high: bool, band: float) -> None:
    current = reference + abs(reference) * share * band / 100
    assert direction(current, reference, high, band) == NO_CHANGE


def _index(p: Period) -> int:
    return p.fy * (12 if p.kind == "month" else 4) + p.n


@settings(max_examples=150, deadline=None)
@given(st.lists(values, min_size=4, max_size=10), values, st.sampled_from([quarter(2016, 1), month(2016, 4)]))
def test_projection_reaches_only_what_it_heads_towards(ys: list[float], target: float, start: Period) -> None:
    points = [(start.step(i), y) for i, y in enumerate(ys)]
    pr = project(points, "England", target)
    assert pr is not None
    gap = target - pr.intercept
    if pr.reaches is None:
        return
    steps = _index(pr.reaches) - _index(points[-1][0])
    assert 0 <= steps <= HORIZON_QUARTERS * (3 if start.kind == "month" else 1)
    slack = 1e-6 * max(1.0, abs(target), abs(pr.intercept))
    if steps == 0:      # already there, give or take rounding
        assert abs(gap) <= slack
        return
    assert pr.slope != 0 and (gap > 0) == (pr.slope > 0)      # never towards a comparator it moves away from
    sign = 1 if pr.slope > 0 else -1
    assert (pr.fitted(steps) - target) * sign >= -slack        # at or past the comparator at that step
    assert (pr.fitted(steps - 1) - target) * sign < slack      # and not yet the step before


@FEW
@given(st.lists(values, min_size=4, max_size=10), values, st.sampled_from([quarter(2016, 1), month(2016, 4)]))
def test_projection_moving_away_reaches_nothing(ys: list[float], target: float, start: Period) -> None:
    pr = project([(start.step(i), y) for i, y in enumerate(ys)], "England", target)
    assert pr is not None
    gap = target - pr.intercept
    if gap != 0 and (pr.slope == 0 or (gap > 0) != (pr.slope > 0)):
        assert pr.reaches is None and "moving away" in pr.note


counts = st.integers(min_value=0, max_value=100_000).map(float)


@FEW
@given(st.lists(counts, min_size=4, max_size=4))
def test_year_outturn_from_quarters(qs: list[float]) -> None:
    s = {quarter(2016, i + 1): Figures(v, v / 10) for i, v in enumerate(qs)}
    assert outturn(s, year(2016), "number", kind_for("Count")) == sum(qs)
    assert outturn(s, year(2016), "number", kind_for("Snapshot")) == qs[3]
    assert outturn(s, year(2016), "number", kind_for("Cumulative")) == qs[3]
    assert outturn(s, year(2016), "rate", kind_for("Snapshot")) == qs[3] / 10


@FEW
@given(st.lists(counts, min_size=12, max_size=12))
def test_year_outturn_from_months(ms: list[float]) -> None:
    s = {Period("month", 2016, 1).step(i): Figures(v) for i, v in enumerate(ms)}
    assert outturn(s, year(2016), "number", kind_for("Count")) == sum(ms)
    assert outturn(s, year(2016), "number", kind_for("Snapshot")) == ms[11]
    assert outturn(s, year(2016), "number", kind_for("Cumulative")) == ms[11]
    for n in range(1, 5):
        assert outturn(s, quarter(2016, n), "number", kind_for("Count")) == math.fsum(ms[3 * n - 3: 3 * n])
        assert outturn(s, quarter(2016, n), "number", kind_for("Snapshot")) == ms[3 * n - 1]


# --- like with like (PRODUCT.md section 9) ---

def indicator(unit: str = "Number", measure: str = "Snapshot", better: str = "High", exception: str = "Auto") -> Indicator:
    return Indicator("T01", "Test", "P", "S", better, unit, 1000 if unit != "Number" and unit != "Percentage" else None,
                     "Quarterly", measure, None, exception)


def run_facts(ind: Indicator, values: dict[Period, float], at: Period = Q2, targets: dict[str, float | None] | None = None,
              profiles: dict[str, tuple[float | None, ...]] | None = None, comparators: dict[Period, tuple[float, float]]
              | None = None) -> Facts:
    series: dict[Period, Figures] = {}
    for p, v in values.items():
        series[p] = Figures(None, v) if ind.primary == "rate" else Figures(v)
    for p, (sn, en) in (comparators or {}).items():
        f = series.get(p, Figures())
        series[p] = Figures(f.number, f.rate, sn, en)
    return facts(ind, series, at, targets or {}, 5.0, 1.0, 6, profiles)


Q1_ = quarter(2017, 1)


def test_a_year_to_date_percentage_target_is_never_pro_rated() -> None:
    # the recycling rate of the issue: 46.5% at Q1 against 46 was reported as against 11.5
    recycling = indicator("Percentage", "Cumulative")
    f = run_facts(recycling, {Q1_: 46.5}, Q1_, {"2017/18": 46.0})
    assert (f.target_now, f.rag) == (46.0, GREEN)
    f = run_facts(recycling, {Q1_: 46.5, Q2: 45.8}, Q2, {"2017/18": 46.0})
    assert (f.target_now, f.rag) == (46.0, AMBER)


def test_a_year_to_date_number_compares_what_each_quarter_added() -> None:
    # 300 added in each quarter: no change, though the year to date doubled
    homes = indicator("Number", "Cumulative")
    f = run_facts(homes, {quarter(2016, 4): 1200, Q1_: 300, Q2: 600}, Q2, {"2017/18": 1200.0})
    assert f.vs_previous == NO_CHANGE
    assert f.prev_cmp is not None and (f.prev_cmp.now, f.prev_cmp.then, f.prev_cmp.basis) == (300, 300, "in the quarter")
    assert (f.target_now, f.target_basis, f.rag) == (600.0, "pro rata", GREEN)


def test_q1_of_a_year_to_date_number_is_its_own_quarter() -> None:
    # Q1 added 100; Q4 of the year before added 1000 - 900 = 100
    homes = indicator("Number", "Cumulative")
    f = run_facts(homes, {quarter(2016, 3): 900, quarter(2016, 4): 1000, Q1_: 100}, Q1_)
    assert f.prev_cmp is not None and (f.prev_cmp.now, f.prev_cmp.then) == (100, 100)
    assert f.vs_previous == NO_CHANGE


def test_a_year_to_date_percentage_compares_its_year_to_date_values() -> None:
    rent = indicator("Percentage", "Cumulative")
    f = run_facts(rent, {quarter(2016, 2): 96.2, Q1_: 95.8, Q2: 96.3}, Q2)
    assert f.prev_cmp is not None and (f.prev_cmp.now, f.prev_cmp.then, f.prev_cmp.basis) == (96.3, 95.8, "year to date")
    assert (f.vs_previous, f.vs_last_year) == (NO_CHANGE, NO_CHANGE)


def test_a_year_to_date_is_compared_with_the_same_point_last_year() -> None:
    homes = indicator("Number", "Cumulative")
    f = run_facts(homes, {quarter(2016, 2): 1190, Q1_: 610, Q2: 1240}, Q2)
    assert (f.last_year, f.vs_last_year) == (1190, IMPROVED)
    assert f.ly_cmp is not None and f.ly_cmp.basis == "year to date"


def test_a_count_rate_adds_up_over_the_year() -> None:
    s = {quarter(2016, n): Figures(None, r) for n, r in zip(range(1, 5), (4.1, 3.9, 3.7, 4.2), strict=True)}
    assert outturn(s, year(2016), "rate", kind_for("Count")) == pytest.approx(15.9)
    assert outturn(s, quarter(2016, 4), "rate", kind_for("Count")) == 4.2
    s[year(2016)] = Figures(None, 15.9)
    assert outturn(s, quarter(2016, 4), "rate", kind_for("Count")) == 4.2     # the year's total is not Q4's own


def test_comparators_are_set_against_whole_years_only() -> None:
    # a count of 250 in a quarter is not "worse" than England's 900 for a whole year
    helped = indicator("Number", "Count")
    values = {quarter(2016, n): 250.0 for n in range(1, 5)} | {Q1_: 250.0, Q2: 250.0}
    f = run_facts(helped, values, Q2, comparators={year(2016): (1050.0, 900.0), Q2: (1050.0, 900.0)})
    assert f.gap_year == year(2016)
    assert (f.statneigh, f.england) == (1050.0, 900.0)
    assert f.worse_than == ("statistical neighbours",)      # 1,000 for 2016/17 against 1,050 and 900
    assert f.projection is None


def test_no_line_is_fitted_through_a_year_to_date_saw_tooth() -> None:
    homes = indicator("Number", "Cumulative", "High")
    values = {quarter(2016, n): 300.0 * n for n in range(1, 5)} | {Q1_: 300.0, Q2: 600.0}
    f = run_facts(homes, values, Q2, {"2017/18": 1200.0}, comparators={year(2016): (1300.0, 1250.0)})
    assert f.projection is None
    assert f.forecast is not None and (f.forecast.value, f.forecast.target, f.forecast.basis) == (1200.0, 1200.0,
                                                                                                  "pro rata")


def test_the_forecast_of_a_count_follows_the_profile_where_there_is_one() -> None:
    acceptances = indicator("Number", "Count", "Low")
    f = run_facts(acceptances, {Q1_: 52, Q2: 63}, Q2, {"2017/18": 240.0}, {"2017/18": (50, 60, 70, 60)})
    assert (f.to_date, f.target_now, f.target_basis, f.rag) == (115, 110, "profile", AMBER)
    assert f.forecast is not None and f.forecast.basis == "profile"
    assert f.forecast.value == pytest.approx(115 * 240 / 110)
    assert run_facts(acceptances, {Q1_: 52, Q2: 63}, Q2, {"2017/18": 240.0}).forecast.value == 230  # type: ignore[union-attr]


def test_no_projection_towards_a_comparator_it_already_beats() -> None:
    # lower is better, 40 -> 46 rising towards England's 60: it beats England, so nothing "would reach" it
    waiting = indicator("Number", "Snapshot", "Low")
    values = {quarter(2016, 1).step(i): 40.0 + 2 * i for i in range(6)}
    f = run_facts(waiting, values, Q2, comparators={year(2016): (70.0, 60.0)})
    assert f.projection is None
    # worse than England and heading away: the gap would keep widening
    values = {quarter(2016, 1).step(i): 60.0 + 2 * i for i in range(6)}
    f = run_facts(waiting, values, Q2, comparators={year(2016): (50.0, 55.0)})
    assert f.projection is not None and f.projection.outlook == "widening" and f.projection.reaches is None
    # worse and heading towards it
    values = {quarter(2016, 1).step(i): 80.0 - 2 * i for i in range(6)}
    f = run_facts(waiting, values, Q2, comparators={year(2016): (50.0, 66.0)})
    pr = f.projection
    assert pr is not None and pr.outlook == "reaches" and pr.comparator == "England"
    assert pr.reaches == quarter(2017, 4)      # 70, 68, 66


def test_a_gap_that_changes_sides_is_crossed_not_narrowed() -> None:
    helped = indicator("Number and rate", "Snapshot", "High")
    values = {quarter(2015, 4): 36.4, quarter(2016, 4): 38.6, Q1_: 10.4, Q2: 9.0}
    f = run_facts(helped, values, Q2, comparators={year(2015): (37.0, 37.5), year(2016): (38.0, 38.0)})
    assert f.gap_trend == {"statistical neighbours": "crossed", "England": "crossed"}
    assert f.worse_than == ()


def test_a_profile_sets_the_target_in_force() -> None:
    payments = indicator("Rate", "Snapshot", "High")
    f = run_facts(payments, {Q1_: 238.0, Q2: 229.0}, Q2, {"2017/18": 250.0}, {"2017/18": (235, 240, 245, 250)})
    assert (f.target, f.target_now, f.target_basis, f.rag, f.previous_rag) == (250.0, 240, "profile", AMBER, GREEN)
    complaints = indicator("Number", "Cumulative", "Low")
    f = run_facts(complaints, {Q1_: 262, Q2: 560}, Q2, {"2017/18": 1200.0}, {"2017/18": (250, 550, 850, 1200)})
    assert (f.target_now, f.rag) == (550, AMBER)


@pytest.mark.parametrize(("measure", "unit", "n", "expected"), [
    ("Snapshot", "Number", 2, (100.0, "year")), ("Count", "Number", 2, (50.0, "pro rata")),
    ("Count", "Number", 4, (100.0, "year")), ("Cumulative", "Rate", 3, (75.0, "pro rata")),
    ("Cumulative", "Percentage", 1, (100.0, "year")), ("Snapshot", "Percentage", 3, (100.0, "year")),
])
def test_target_in_force_without_a_profile(measure: str, unit: str, n: int, expected: tuple[float, str]) -> None:
    assert target_in_force(100.0, None, quarter(2017, n), kind_for(measure, unit)) == expected
    assert target_in_force(None, None, quarter(2017, n), kind_for(measure, unit)) == (None, "")


def test_a_missing_figure_has_no_rag_and_no_direction() -> None:
    assessments = indicator("Number", "Count")
    f = run_facts(assessments, {quarter(2016, 2): 500, Q2: 520}, Q2, {"2017/18": 2000.0})   # Q1 missing
    assert (f.rag, f.vs_previous, f.vs_last_year) == (None, None, IMPROVED)
    f = run_facts(assessments, {Q1_: 500}, Q2, {"2017/18": 2000.0})
    assert (f.current, f.rag, f.vs_previous, f.vs_last_year) == (None, None, None, None)


@FEW
@given(st.integers(min_value=0, max_value=100_000), st.integers(min_value=0, max_value=5_000), st.booleans(),
       st.sampled_from(["Number", "Rate", "Number and rate"]), st.integers(min_value=1, max_value=4))
def test_constant_quarterly_additions_are_no_change_whatever_the_level(start: int, step: int, high: bool, unit: str,
                                                                       n: int) -> None:
    ind = indicator(unit, "Cumulative", "High" if high else "Low")
    at = quarter(2017, n)
    values = {quarter(2016, k): float(start + step * k) for k in range(1, 5)}
    values |= {quarter(2017, k): float(step * k) for k in range(1, n + 1)}
    values[quarter(2016, 4)] = float(start + step * 4)
    if n == 1:   # Q1 is its own quarter; the year before must then have added the same in its Q4
        values[quarter(2016, 3)] = values[quarter(2016, 4)] - step
    assert run_facts(ind, values, at).vs_previous == NO_CHANGE


@FEW
@given(st.floats(min_value=0, max_value=100).map(lambda v: round(v, 1)),
       st.floats(min_value=1, max_value=100).map(lambda v: round(v, 1)), st.booleans())
def test_a_year_to_date_percentage_is_judged_the_same_at_every_quarter(value: float, target: float, high: bool) -> None:
    ind = indicator("Percentage", "Cumulative", "High" if high else "Low")
    rags = {run_facts(ind, {quarter(2017, n): value}, quarter(2017, n), {"2017/18": target}).rag for n in range(1, 5)}
    assert rags == {rag(value, target, high, 5.0)}


@FEW
@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=8, max_size=8), st.booleans())
def test_a_count_compares_the_quarters_own_amounts(amounts: list[int], high: bool) -> None:
    ind = indicator("Number", "Count", "High" if high else "Low")
    values = {quarter(2016, 1).step(i): float(a) for i, a in enumerate(amounts[:6])}
    f = run_facts(ind, values, Q2)
    assert (f.current, f.previous, f.last_year) == (amounts[5], amounts[4], amounts[1])
    assert f.vs_previous == direction(amounts[5], amounts[4], high, 1.0)


def test_a_falling_line_never_reaches_a_comparator_the_figure_is_already_below() -> None:
    # higher is better; the figure (46.0) is below the neighbours' 47.0, but the line fitted through the
    # last six quarters starts above 47 and falls slowly: it meets 47 on the way down. Saying it "would
    # reach the statistical neighbours' average" would tell Cabinet the opposite of what is happening.
    recycling = indicator("Percentage", "Snapshot", "High")
    ys = [48.0, 47.9, 47.8, 47.7, 47.6, 46.9]          # fitted: 47.19 at the last point, -0.19 a quarter
    values = {quarter(2016, 1).step(i): y for i, y in enumerate(ys)}
    f = run_facts(recycling, values, Q2, comparators={year(2016): (47.0, 40.0)})
    pr = f.projection
    assert pr is not None and pr.slope < 0 and pr.intercept > 47.0      # the fitted line is above the comparator
    assert pr.outlook == "widening" and pr.reaches is None               # worse, and getting worse
    from kpiflow.narrative import draft_commentary

    text = " ".join(draft_commentary(f))
    assert "would reach" not in text and "would keep widening" in text


def test_a_rising_line_already_past_the_comparator_says_nothing() -> None:
    # higher is better; the figure dipped below the comparator, but the line through the run is above it
    # and rising: no projection sentence can be true here
    rate = indicator("Rate", "Snapshot", "High")
    ys = [44.0, 45.0, 47.0, 49.0, 51.0, 46.5]           # fitted: 49.4 at the last point, rising
    values = {quarter(2016, 1).step(i): y for i, y in enumerate(ys)}
    f = run_facts(rate, values, Q2, comparators={year(2016): (47.0, 30.0)})
    assert f.projection is not None and f.projection.outlook == "" and f.projection.reaches is None
