"""Trend facts for one indicator and quarter: pure functions, series in, facts out.

Outturns follow the catalogue's Measure: Snapshot (value at the period's end), Count (sum of the
parts), Cumulative (value at the end of the year to date). A period's own stored figure always
wins over one rolled up from smaller periods.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from kpiflow.model import AMBER, GREEN, IMPROVED, NO_CHANGE, RED, WORSENED, Figures, Indicator, Series
from kpiflow.periods import Period

HORIZON_QUARTERS = 8   # a projection further out than two years says nothing useful



def _pick(f: Figures | None, figure: str) -> float | None:
    return None if f is None else getattr(f, figure)


def _percent(change: float, base: float) -> float:
    """The size of ``change`` as a percentage of ``base``, rounded so that a figure exactly on the edge
    of a band stays on it: in binary floating point 23.1 against 22 works out a hair over 5%."""
    return round(abs(change) / abs(base) * 100, 9)


def outturn(series: Series, period: Period, figure: str, measure: str) -> float | None:
    """The value of ``figure`` for a year, quarter or month under the Measure rule."""
    own = _pick(series.get(period), figure)
    if own is not None or period.kind == "month":
        return own
    if period.kind == "quarter" and period.n == 4 and not (measure == "Count" and figure == "number"):
        # the year's own figure is the value at 31 March
        year_value = _pick(series.get(period.year), figure)
        if year_value is not None:
            return year_value
    parts: list[Period] = period.quarters() if period.kind == "year" else period.months()
    if measure == "Count" and figure in ("number",):
        values = [outturn(series, p, figure, measure) for p in parts]
        if all(v is not None for v in values):
            return sum(v for v in values if v is not None)
        return None
    # Snapshot and Cumulative (and rates of counts): the value at the end of the period
    return outturn(series, parts[-1], figure, measure)


def comparator(series: Series, period: Period, figure: str) -> float | None:
    """The comparator published for ``period``, else the latest one published before it."""
    v = outturn(series, period, figure, "Snapshot")
    if v is not None:
        return v
    # comparators are published for few periods: test the figure before the (slower) period order
    earlier = [p for p, f in series.items() if _pick(f, figure) is not None and p <= period]
    return _pick(series[max(earlier)], figure) if earlier else None


def direction(current: float | None, reference: float | None, higher_is_better: bool,
              no_change_percent: float) -> str | None:
    if current is None or reference is None:
        return None
    if current == reference:
        return NO_CHANGE
    change = math.inf if reference == 0 else _percent(current - reference, reference)
    if change < no_change_percent:
        return NO_CHANGE
    return IMPROVED if (current > reference) == higher_is_better else WORSENED


def rag(current: float | None, target: float | None, higher_is_better: bool, tolerance_percent: float) -> str | None:
    """Green = met or beaten; Amber = worse, within tolerance; Red = worse beyond it."""
    if current is None or target is None:
        return None
    if (current >= target) if higher_is_better else (current <= target):
        return GREEN
    gap = _percent(current - target, target) if target else math.inf
    return AMBER if gap <= tolerance_percent else RED


def target_to_date(target: float | None, quarter: Period, measure: str) -> float | None:
    """An annual target as it applies at the end of a quarter: pro rata for counts and
    year-to-date figures, as it stands for snapshots."""
    if target is None or measure == "Snapshot":
        return target
    return target * quarter.n / 4


def value_to_date(series: Series, quarter: Period, figure: str, measure: str) -> float | None:
    if measure != "Count":
        return outturn(series, quarter, figure, measure)
    values = [outturn(series, q, figure, measure) for q in quarter.year.quarters()[: quarter.n]]
    return sum(v for v in values if v is not None) if all(v is not None for v in values) else None


@dataclass(frozen=True)
class Projection:
    points: tuple[tuple[Period, float], ...]   # the values the line is fitted to
    slope: float                              # per period
    intercept: float                          # fitted value at the last point
    comparator: str                           # "statistical neighbours" or "England"
    comparator_value: float
    reaches: Period | None                    # the period in which the line reaches the comparator
    note: str                                 # why there is no projection, when there is none

    def fitted(self, steps: int) -> float:
        return self.intercept + self.slope * steps


def least_squares(ys: list[float]) -> tuple[float, float]:
    """Slope and fitted value at the last x for points at x = 0..n-1."""
    n = len(ys)
    mx = (n - 1) / 2
    my = sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in range(n))
    slope = sum((x - mx) * (y - my) for x, y in enumerate(ys)) / sxx
    return slope, my + slope * (n - 1 - mx)


def project(points: list[tuple[Period, float]], target_name: str, target_value: float | None,
            min_points: int = 4) -> Projection | None:
    """Fit a line through ``points`` (consecutive periods) and find where it meets the comparator."""
    if target_value is None or not points:
        return None
    if len(points) < min_points:
        return Projection(tuple(points), 0.0, points[-1][1], target_name, target_value, None,
                          f"only {len(points)} consecutive values, fewer than {min_points}")
    slope, at_last = least_squares([v for _, v in points])
    gap = target_value - at_last
    last = points[-1][0]
    if gap == 0:
        return Projection(tuple(points), slope, at_last, target_name, target_value, last, "")
    if slope == 0 or (gap > 0) != (slope > 0):
        return Projection(tuple(points), slope, at_last, target_name, target_value, None,
                          f"the trend is moving away from the {target_name} figure")
    steps = math.ceil(gap / slope - 1e-9)
    horizon = HORIZON_QUARTERS * (3 if last.kind == "month" else 1)
    if steps > horizon:
        return Projection(tuple(points), slope, at_last, target_name, target_value, None,
                          f"at this rate it would take more than two years to reach the {target_name} figure")
    return Projection(tuple(points), slope, at_last, target_name, target_value, last.step(max(steps, 0)), "")


def latest_run(series: Series, quarter: Period, figure: str, measure: str, n: int) -> list[tuple[Period, float]]:
    """The latest ``n`` consecutive monthly values up to the quarter's end if there are monthly
    figures, else quarterly values."""
    for kind_last in (quarter.months()[-1], quarter):
        run: list[tuple[Period, float]] = []
        p = kind_last
        while len(run) < n:
            v = _pick(series.get(p), figure) if p.kind == "month" else outturn(series, p, figure, measure)
            if v is None:
                break
            run.append((p, v))
            p = p.step(-1)
        if len(run) >= 3 or kind_last.kind == "quarter":
            return list(reversed(run))
    return []


@dataclass(frozen=True)
class YearRun:
    rising: bool
    since: Period          # the first year of the run
    until: Period
    years: int             # number of year-on-year moves in the same direction


def year_run(values: list[tuple[Period, float]], no_change_percent: float) -> YearRun | None:
    """The unbroken run of rises or falls ending at the latest year."""
    if len(values) < 2:
        return None
    moves: list[bool | None] = []
    for (_, a), (_, b) in itertools.pairwise(values):
        if a == 0 or b == a or _percent(b - a, a) < no_change_percent:
            moves.append(None)
        else:
            moves.append(b > a)
    last = moves[-1]
    if last is None:
        return None
    count = 0
    for m in reversed(moves):
        if m is not last:
            break
        count += 1
    return YearRun(last, values[-1 - count][0], values[-1][0], count)


@dataclass(frozen=True)
class Facts:
    indicator: Indicator
    quarter: Period
    figure: str                                  # "rate" or "number": what is compared
    years: tuple[tuple[Period, Figures | None], ...]       # the two previous years' outturns
    quarters: tuple[tuple[Period, Figures | None], ...]    # Q1-Q4 of the report year
    has_history: bool
    current: float | None
    target: float | None                         # this year's target as set
    target_now: float | None                     # the target as it applies at this quarter
    rag: str | None
    previous: float | None
    previous_period: Period
    vs_previous: str | None
    last_year: float | None
    last_year_period: Period
    vs_last_year: str | None
    statneigh: float | None
    england: float | None
    statneigh_before: float | None               # comparator gaps at the previous quarter
    england_before: float | None
    gap_trend: dict[str, str] = field(default_factory=dict)   # comparator -> widening | narrowing | steady
    worse_than: tuple[str, ...] = ()             # comparators the council does worse than
    annual: tuple[tuple[Period, float], ...] = ()            # yearly outturns, oldest first
    annual_comparators: dict[str, tuple[tuple[Period, float], ...]] = field(default_factory=dict)
    run: YearRun | None = None
    projection: Projection | None = None
    previous_rag: str | None = None
    to_date: float | None = None                 # what RAG compares with target_now: the year to date for counts


def figures_at(series: Series, period: Period, measure: str) -> Figures | None:
    """A period's figures as the values table shows them: outturns and the comparators in force."""
    f = Figures(outturn(series, period, "number", measure), outturn(series, period, "rate", measure),
                comparator(series, period, "statneigh"), comparator(series, period, "england"))
    return None if f.number is None and f.rate is None else f


def facts(indicator: Indicator, series: Series, quarter: Period, targets: Mapping[str, float | None],
          tolerance_percent: float, no_change_percent: float, projection_points: int) -> Facts:
    """Everything the rules and the narrative need, for one indicator at one quarter."""
    figure = indicator.primary
    measure = indicator.measure
    better_high = indicator.higher_is_better
    tol = indicator.tolerance if indicator.tolerance is not None else tolerance_percent
    years = tuple((quarter.year.step(k), figures_at(series, quarter.year.step(k), measure)) for k in (-2, -1))
    quarters = tuple((q, figures_at(series, q, measure) if q <= quarter else None) for q in quarter.year.quarters())
    current = outturn(series, quarter, figure, measure)
    prev_q = quarter.step(-1)
    previous = outturn(series, prev_q, figure, measure)
    ly_q = quarter.same_last_year()
    last_year = outturn(series, ly_q, figure, measure)
    target = targets.get(quarter.year.label)
    target_now = target_to_date(target, quarter, measure)
    now_value = value_to_date(series, quarter, figure, measure)
    prev_target = target_to_date(targets.get(prev_q.year.label), prev_q, measure)
    sn, en = comparator(series, quarter, "statneigh"), comparator(series, quarter, "england")
    sn_b, en_b = comparator(series, prev_q, "statneigh"), comparator(series, prev_q, "england")
    gap_trend: dict[str, str] = {}
    worse: list[str] = []
    for name, now_c, before_c in (("statistical neighbours", sn, sn_b), ("England", en, en_b)):
        if current is None or now_c is None:
            continue
        if (current < now_c) if better_high else (current > now_c):
            worse.append(name)
        if previous is not None and before_c is not None:
            g_now, g_before = abs(current - now_c), abs(previous - before_c)
            if g_before and _percent(g_now - g_before, g_before) < no_change_percent:
                gap_trend[name] = "steady"
            else:
                gap_trend[name] = "widening" if g_now > g_before else "narrowing" if g_now < g_before else "steady"
    first_year = min((p.fy for p, f in series.items() if _pick(f, figure) is not None), default=quarter.fy)
    annual: list[tuple[Period, float]] = []
    annual_cmp: dict[str, list[tuple[Period, float]]] = {"statistical neighbours": [], "England": []}
    for fy in range(first_year, quarter.fy):
        y = quarter.year.step(fy - quarter.fy)
        v = outturn(series, y, figure, measure)
        if v is not None:
            annual.append((y, v))
        for name, fig in (("statistical neighbours", "statneigh"), ("England", "england")):
            c = outturn(series, y, fig, "Snapshot")
            if c is not None:
                annual_cmp[name].append((y, c))
    run = year_run(annual, no_change_percent)
    projection = None
    target_cmp = [(n, v) for n, v in (("statistical neighbours", sn), ("England", en)) if v is not None]
    if current is not None and target_cmp:
        points = latest_run(series, quarter, figure, measure, projection_points)
        name, value = target_cmp[0]
        # a projection_points setting below the usual minimum of four is the council's choice to allow
        projection = project(points, name, value, min(projection_points, 4))
    has_history = any(_pick(f, figure) is not None for p, f in series.items() if p < quarter.year)
    return Facts(
        indicator=indicator, quarter=quarter, figure=figure, years=years, quarters=quarters,
        has_history=has_history, current=current, target=target, target_now=target_now,
        rag=rag(now_value, target_now, better_high, tol),
        previous=previous, previous_period=prev_q,
        vs_previous=direction(current, previous, better_high, no_change_percent),
        last_year=last_year, last_year_period=ly_q,
        vs_last_year=direction(current, last_year, better_high, no_change_percent),
        statneigh=sn, england=en, statneigh_before=sn_b, england_before=en_b, gap_trend=gap_trend,
        worse_than=tuple(worse), annual=tuple(annual),
        annual_comparators={k: tuple(v) for k, v in annual_cmp.items() if v},
        run=run, projection=projection,
        previous_rag=rag(value_to_date(series, prev_q, figure, measure), prev_target, better_high, tol),
        to_date=now_value,
    )
