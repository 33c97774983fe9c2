"""Trend facts for one indicator and quarter: pure functions, series in, facts out.

Outturns, the year to date, what a quarter is compared with and the target in force belong to
the indicator's measure kind (``kpiflow.measures``); this module asks the kind. A period's own
stored figure always wins over one rolled up from smaller periods.

Every comparison is like with like (PRODUCT.md section 9):

- against the previous quarter, a Snapshot compares values; a Count the quarters' own amounts; a
  Cumulative number or rate what each quarter added to the year to date (Q1 is its own); a
  Cumulative percentage its year-to-date values (not at Q1, when the year to date restarts), and an
  accumulating percentage is never compared with the previous quarter;
- against the same quarter last year, the quarter's figure with last year's (value, own amount, or
  year to date against the same point last year);
- against its target, the year to date (a Count's sum of quarters) with the target in force at
  the quarter (the profile, else the year's target pro rata, except for a percentage and a
  Snapshot, whose year's target stands);
- against comparators, which are published for whole years, the latest complete year's outturn.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from kpiflow.fmt import decimals
from kpiflow.measures import SNAPSHOT, MeasureKind, pick
from kpiflow.model import AMBER, GREEN, IMPROVED, NO_CHANGE, RED, WORSENED, Figures, Indicator, Series
from kpiflow.periods import Period

HORIZON_QUARTERS = 8   # a projection further out than two years says nothing useful
COMPARATORS = (("statistical neighbours", "statneigh"), ("England", "england"))
COMPARATOR_FIGURES = tuple(c[1] for c in COMPARATORS)
LOOK_BACK_YEARS = 10   # how far back the latest year with comparator figures is looked for

_pick = pick


def _percent(change: float, base: float) -> float:
    """The size of ``change`` as a percentage of ``base``, rounded so that a figure exactly on the edge
    of a band stays on it: in binary floating point 23.1 against 22 works out a hair over 5%."""
    return round(abs(change) / abs(base) * 100, 9)


def outturn(series: Series, period: Period, figure: str, measure: MeasureKind) -> float | None:
    """The value of ``figure`` for a year, quarter or month under the measure kind's rule."""
    return measure.outturn(series, period, figure)


# each comparator's published figures in period order: (the periods' order keys, the figures)
Published = Mapping[str, tuple[list[tuple[int, int]], list[float]]]


def published(series: Series, figures: Sequence[str] = COMPARATOR_FIGURES) -> Published:
    """The comparators' figures of a series (``figures``) in period order, read once for the many periods a
    quarter's facts look up (``comparator``)."""
    out: dict[str, tuple[list[tuple[int, int]], list[float]]] = {}
    for fig in figures:
        held = sorted((p._key(), float(v)) for p, f in series.items() if (v := getattr(f, fig, None)) is not None)
        out[fig] = ([k for k, _ in held], [v for _, v in held])
    return out


def comparator(series: Series, period: Period, figure: str, known: Published | None = None) -> float | None:
    """The comparator published for ``period``, else the latest one published before it (``known``: the
    series' ``published`` figures, where they have been read already)."""
    v = SNAPSHOT.outturn(series, period, figure)
    if v is not None:
        return v
    keys, values = (known if known is not None and figure in known else published(series, (figure,)))[figure]
    at = bisect.bisect_right(keys, period._key())
    return values[at - 1] if at else None


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


def target_in_force(target: float | None, profile: Sequence[float | None] | None, quarter: Period,
                    measure: MeasureKind) -> tuple[float | None, str]:
    """The target a quarter's figure is judged against, and how it was found (see
    ``MeasureKind.target_in_force``)."""
    return measure.target_in_force(target, profile, quarter)


def target_to_date(target: float | None, quarter: Period, measure: MeasureKind,
                   profile: Sequence[float | None] | None = None) -> float | None:
    """The target in force at the end of a quarter (see ``target_in_force``)."""
    return measure.target_in_force(target, profile, quarter)[0]


def value_to_date(series: Series, quarter: Period, figure: str, measure: MeasureKind) -> float | None:
    """The year to date at the end of a quarter: a Count's quarters so far added up, else the figure."""
    return measure.to_date(series, quarter, figure)


def quarter_amount(series: Series, quarter: Period, figure: str, measure: MeasureKind) -> tuple[float | None, str]:
    """What a quarter is compared with the quarter before on, and what that figure is."""
    return measure.quarter_amount(series, quarter, figure)


@dataclass(frozen=True)
class Comparison:
    """Two figures compared like with like: ``now`` for the quarter, ``then`` for ``period``."""

    now: float | None
    then: float | None
    period: Period
    basis: str                    # VALUE, IN_QUARTER or YEAR_TO_DATE: what both figures are
    direction: str | None


@dataclass(frozen=True)
class Gap:
    """The council against one comparator in the latest complete year that has both figures."""

    comparator: str               # "statistical neighbours" or "England"
    year: Period
    ours: float
    theirs: float
    worse: bool
    before: Period | None = None  # the year before, when both figures are held for it
    ours_before: float | None = None
    theirs_before: float | None = None
    trend: str | None = None      # widening | narrowing | steady | crossed (moved to the other side)


@dataclass(frozen=True)
class Forecast:
    """Where a Count or a year-to-date number or rate is heading by the year end."""

    value: float
    target: float | None          # the year's target
    basis: str                    # "pro rata" (the pace so far) or "profile" (the pace against the profile)


@dataclass(frozen=True)
class Projection:
    points: tuple[tuple[Period, float], ...]   # the values the line is fitted to
    slope: float                              # per period
    intercept: float                          # fitted value at the last point
    comparator: str                           # "statistical neighbours" or "England"
    comparator_value: float
    reaches: Period | None                    # the period in which the line reaches the comparator
    note: str                                 # why there is no projection, when there is none
    outlook: str = ""                         # what may be said: "reaches", "widening", "too far", or ""

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


def latest_run(series: Series, quarter: Period, figure: str, measure: MeasureKind, n: int) -> list[tuple[Period, float]]:
    """The latest ``n`` consecutive monthly values up to the quarter's end if there are monthly
    figures, else quarterly values."""
    for kind_last in (quarter.months()[-1], quarter):
        run: list[tuple[Period, float]] = []
        p = kind_last
        while len(run) < n:
            v = _pick(series.get(p), figure) if p.kind == "month" else measure.outturn(series, p, figure)
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


def _worse(value: float, reference: float, higher_is_better: bool) -> bool:
    return value < reference if higher_is_better else value > reference


def gap_trend(ours: float, theirs: float, ours_before: float, theirs_before: float,
              no_change_percent: float) -> str:
    """How the gap to a comparator moved between two years; "crossed" when the council moved to
    the other side of it (a gap that changed sides neither widened nor narrowed)."""
    side, side_before = (ours > theirs) - (ours < theirs), (ours_before > theirs_before) - (ours_before < theirs_before)
    if side and side_before and side != side_before:
        return "crossed"
    g_now, g_before = abs(ours - theirs), abs(ours_before - theirs_before)
    if g_before and _percent(g_now - g_before, g_before) < no_change_percent:
        return "steady"
    return "widening" if g_now > g_before else "narrowing" if g_now < g_before else "steady"


def comparator_gaps(series: Series, quarter: Period, figure: str, measure: MeasureKind, higher_is_better: bool,
                    no_change_percent: float) -> tuple[Gap, ...]:
    """The council against each comparator in the latest complete year holding both figures, and
    the move since the year before. Comparators are published for whole years, so a quarter (or a
    year still under way) is never set against one."""
    for back in range(1, LOOK_BACK_YEARS + 1):
        y = quarter.year.step(-back)
        ours = measure.outturn(series, y, figure)
        if ours is None:
            continue
        found = [(name, SNAPSHOT.outturn(series, y, fig), fig) for name, fig in COMPARATORS]
        if all(v is None for _, v, _ in found):
            continue
        gaps = []
        prev = y.step(-1)
        ours_before = measure.outturn(series, prev, figure)
        for name, theirs, fig in found:
            if theirs is None:
                continue
            theirs_before = SNAPSHOT.outturn(series, prev, fig)
            trend = None
            if ours_before is not None and theirs_before is not None:
                trend = gap_trend(ours, theirs, ours_before, theirs_before, no_change_percent)
            gaps.append(Gap(name, y, ours, theirs, _worse(ours, theirs, higher_is_better),
                            prev if trend else None, ours_before if trend else None,
                            theirs_before if trend else None, trend))
        return tuple(gaps)
    return ()


def forecast(to_date: float | None, quarter: Period, target: float | None, target_now: float | None,
             target_basis: str) -> Forecast | None:
    """The year end if the rest of the year goes at the pace so far (against the profile, where
    the target is profiled). Only for Counts and year-to-date numbers and rates, before Q4."""
    if to_date is None or quarter.n == 4:
        return None
    if target_basis == "profile" and target is not None and target_now:
        return Forecast(to_date * target / target_now, target, "profile")
    return Forecast(to_date * 4 / quarter.n, target, "pro rata")


@dataclass(frozen=True)
class Facts:
    indicator: Indicator
    quarter: Period
    figure: str                                  # "rate" or "number": what is compared
    years: tuple[tuple[Period, Figures | None], ...]       # the two previous years' outturns
    quarters: tuple[tuple[Period, Figures | None], ...]    # Q1-Q4 of the report year
    has_history: bool
    current: float | None                        # the quarter's figure (a Cumulative's year to date)
    target: float | None                         # this year's target as set
    target_now: float | None                     # the target in force at this quarter
    rag: str | None
    previous: float | None                       # what vs_previous compared with (see prev_cmp)
    previous_period: Period
    vs_previous: str | None
    last_year: float | None                      # what vs_last_year compared with (see ly_cmp)
    last_year_period: Period
    vs_last_year: str | None
    statneigh: float | None                      # comparators in the gap year (see gaps)
    england: float | None
    gap_trend: dict[str, str] = field(default_factory=dict)   # comparator -> widening | narrowing | steady | crossed
    worse_than: tuple[str, ...] = ()             # comparators the council does worse than in the gap year
    annual: tuple[tuple[Period, float], ...] = ()            # yearly outturns, oldest first
    annual_comparators: dict[str, tuple[tuple[Period, float], ...]] = field(default_factory=dict)
    run: YearRun | None = None
    projection: Projection | None = None
    previous_rag: str | None = None
    to_date: float | None = None                 # what RAG compares with target_now: the year to date
    target_basis: str = ""                       # "year", "pro rata" or "profile"
    prev_cmp: Comparison | None = None           # the like-with-like comparison with the previous quarter
    ly_cmp: Comparison | None = None             # ... and with the same quarter last year
    gaps: tuple[Gap, ...] = ()
    forecast: Forecast | None = None
    dp: int = 0                                  # decimal places for this indicator's numbers and percentages

    @property
    def gap_year(self) -> Period | None:
        return self.gaps[0].year if self.gaps else None


def figures_at(series: Series, period: Period, measure: MeasureKind, known: Published | None = None) \
        -> Figures | None:
    """A period's figures as the values table shows them: outturns and the comparators in force."""
    f = Figures(measure.outturn(series, period, "number"), measure.outturn(series, period, "rate"),
                comparator(series, period, "statneigh", known), comparator(series, period, "england", known))
    return None if f.number is None and f.rate is None else f


def _projection(series: Series, indicator: Indicator, quarter: Period, current: float, points_wanted: int,
                known: Published | None = None) -> Projection | None:
    """A straight line through the latest values towards a comparator the council is worse than.

    Only for a Snapshot: a Count's quarters and a year to date's saw-tooth are not a line to extend
    (their outlook is the year-end forecast). Nothing is said when the council already beats every
    comparator, nor when the line itself is already on the better side."""
    figure, high = indicator.primary, indicator.higher_is_better
    worse_than = [(name, v) for name, fig in COMPARATORS
                  if (v := comparator(series, quarter, fig, known)) is not None and _worse(current, v, high)]
    if not worse_than:
        return None
    # the nearest comparator the council is worse than: the one a line could reach first
    name, value = min(worse_than, key=lambda c: abs(current - c[1]))
    points = latest_run(series, quarter, figure, indicator.measure, points_wanted)
    # a projection_points setting below the usual minimum of four is the council's choice to allow
    pr = project(points, name, value, min(points_wanted, 4))
    if pr is None or len(pr.points) < min(points_wanted, 4):
        return pr
    # the line must be getting better to close the gap: a falling line that "reaches" a comparator
    # from above while the figure itself is below it says the opposite of what is happening
    improving = pr.slope > 0 if high else pr.slope < 0
    if pr.slope == 0:
        outlook = ""
    elif not improving:
        outlook = "widening"
    elif not _worse(pr.intercept, value, high):
        outlook = ""          # the line is already level with it or better: nothing true to project
    elif pr.reaches is not None:
        outlook = "reaches" if pr.reaches != pr.points[-1][0] else ""
    else:
        outlook = "too far"
    return replace(pr, outlook=outlook, reaches=pr.reaches if outlook == "reaches" else None)


def facts(indicator: Indicator, series: Series, quarter: Period, targets: Mapping[str, float | None],
          tolerance_percent: float, no_change_percent: float, projection_points: int,
          profiles: Mapping[str, Sequence[float | None]] | None = None) -> Facts:
    """Everything the rules and the narrative need, for one indicator at one quarter."""
    figure = indicator.primary
    measure, unit = indicator.measure, indicator.unit
    better_high = indicator.higher_is_better
    tol = indicator.tolerance if indicator.tolerance is not None else tolerance_percent
    profiles = profiles or {}
    known = published(series)
    years = tuple((quarter.year.step(k), figures_at(series, quarter.year.step(k), measure, known)) for k in (-2, -1))
    quarters = tuple((q, figures_at(series, q, measure, known) if q <= quarter else None)
                     for q in quarter.year.quarters())
    current = measure.outturn(series, quarter, figure)

    prev_q, ly_q = quarter.step(-1), quarter.same_last_year()
    now_amount, prev_amount, basis = measure.previous_pair(series, quarter, figure)
    prev_cmp = Comparison(now_amount, prev_amount, prev_q, basis,
                          direction(now_amount, prev_amount, better_high, no_change_percent))
    last_year = measure.outturn(series, ly_q, figure)
    ly_basis = measure.last_year_basis
    ly_cmp = Comparison(current, last_year, ly_q, ly_basis, direction(current, last_year, better_high,
                                                                      no_change_percent))

    target = targets.get(quarter.year.label)
    target_now, target_basis = measure.target_in_force(target, profiles.get(quarter.year.label), quarter)
    to_date = measure.to_date(series, quarter, figure)
    prev_target, _ = measure.target_in_force(targets.get(prev_q.year.label), profiles.get(prev_q.year.label), prev_q)

    gaps = comparator_gaps(series, quarter, figure, measure, better_high, no_change_percent) \
        if current is not None else ()
    by_name = {g.comparator: g for g in gaps}
    first_year = min((p.fy for p, f in series.items() if getattr(f, figure, None) is not None), default=quarter.fy)
    annual: list[tuple[Period, float]] = []
    annual_cmp: dict[str, list[tuple[Period, float]]] = {name: [] for name, _ in COMPARATORS}
    for fy in range(first_year, quarter.fy):
        y = quarter.year.step(fy - quarter.fy)
        v = measure.outturn(series, y, figure)
        if v is not None:
            annual.append((y, v))
        for name, fig in COMPARATORS:
            c = SNAPSHOT.outturn(series, y, fig)
            if c is not None:
                annual_cmp[name].append((y, c))
    run = year_run(annual, no_change_percent)

    projection = None
    if current is not None and measure.projects:
        projection = _projection(series, indicator, quarter, current, projection_points, known)
    outlook = None
    if measure.forecasts and current is not None:
        outlook = forecast(to_date, quarter, target, target_now, target_basis)

    has_history = any(_pick(f, figure) is not None for p, f in series.items() if p < quarter.year)
    # the decimal places of the number figure, from every number the table and the words can show;
    # a number-and-rate indicator's targets and comparators are rates, which always have one
    shown = [figs.number for _, figs in (*years, *quarters) if figs is not None]
    if unit != "Number and rate":
        shown += [v for _, figs in (*years, *quarters) if figs is not None for v in (figs.statneigh, figs.england)]
        # the target in force is not among them: a pro rata 102.5 is printed with its half (fmt_target), and
        # must not give the indicator's whole numbers a decimal place this quarter only
        shown += [target, *(v for g in gaps for v in (g.theirs, g.theirs_before))]
    sn, en = by_name.get("statistical neighbours"), by_name.get("England")
    return Facts(
        indicator=indicator, quarter=quarter, figure=figure, years=years, quarters=quarters,
        has_history=has_history, current=current, target=target, target_now=target_now,
        rag=rag(to_date, target_now, better_high, tol) if current is not None else None,
        previous=prev_amount, previous_period=prev_q, vs_previous=prev_cmp.direction,
        last_year=last_year, last_year_period=ly_q, vs_last_year=ly_cmp.direction,
        statneigh=sn.theirs if sn else None, england=en.theirs if en else None,
        gap_trend={g.comparator: g.trend for g in gaps if g.trend},
        worse_than=tuple(g.comparator for g in gaps if g.worse), annual=tuple(annual),
        annual_comparators={k: tuple(v) for k, v in annual_cmp.items() if v},
        run=run, projection=projection,
        previous_rag=rag(measure.to_date(series, prev_q, figure), prev_target, better_high, tol),
        to_date=to_date, target_basis=target_basis, prev_cmp=prev_cmp, ly_cmp=ly_cmp, gaps=gaps,
        # rates and percentages always have one decimal place, so they read alike from quarter to quarter
        forecast=outlook, dp=1 if unit in ("Rate", "Percentage") else decimals(shown),
    )
