"""What each measure kind means: the one place that knows a Snapshot from a Count.

A kind owns whether its figures add up, its outturn for a year, quarter or month, its year to
date, what a quarter is compared with (the previous quarter and the same point last year), the
target in force at a quarter (pro rata or profile), and its words (the values-table note, "In" or
"At", what to enter in a return, and the rule the months in Supporting data follow). Everything
else asks the kind, so a new kind, or a variant, is one class here and its tests.

The catalogue's Measure column names three kinds; a ``Cumulative`` percentage is one of two
variants, by the optional ``Accumulates`` column (PRODUCT.md sections 4 and 9):

- a running ratio (planning applications decided in time, year to date: blank), compared with the
  previous quarter on its year-to-date values, except at Q1, when the year to date restarts in
  April and the previous year's Q4 is no comparison;
- an accumulating percentage (council tax collected, 28% at Q1 and 96% at Q4: ``Yes``), never
  compared with the previous quarter: it is judged against its target or profile and the same
  point last year.

This module imports nothing of kpiflow's but periods (``kpiflow.model`` builds on it): a series
is any mapping of periods to records with ``number``, ``rate``, ``statneigh`` and ``england``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from kpiflow.periods import Period

# a period's figures, as kpiflow.model.Figures holds them (read by name: see the module docstring)
SeriesLike = Mapping[Period, object]

# what a compared figure is, for the words that label it
VALUE = "value"
IN_QUARTER = "in the quarter"
YEAR_TO_DATE = "year to date"

MEASURE_NAMES: tuple[str, ...] = ("Snapshot", "Count", "Cumulative")


def pick(f: object | None, figure: str) -> float | None:
    """One figure of a period's record (None when the record or the figure is missing)."""
    if f is None:
        return None
    v = getattr(f, figure)
    return None if v is None else float(v)


def months_words(first: Period, last: Period) -> str:
    """``April to September 2024``, ``April 2024 to March 2025``, ``July to September 2024``."""
    from kpiflow.periods import MONTH_NAMES

    def name(m: Period) -> str:
        return MONTH_NAMES[m.calendar_month - 1].title()

    if first.calendar_year == last.calendar_year:
        return f"{name(first)} to {name(last)} {last.calendar_year}"
    return f"{name(first)} {first.calendar_year} to {name(last)} {last.calendar_year}"


class MeasureKind:
    """A measure kind: how its figures behave and how they are put into words."""

    name: ClassVar[str]                  # the catalogue's word for it
    values_note: ClassVar[str]           # the sentence under the values table
    at: ClassVar[str] = "At"             # "At Q2 it was ...", or "In Q2" for an amount in the period
    year_to_date: ClassVar[bool] = False  # its figures are for the year to date
    projects: ClassVar[bool] = False     # a line through its latest values says something (a Snapshot)
    forecasts: ClassVar[bool] = False    # it has a year-end forecast (a Count, a year-to-date total)
    months_add_up: ClassVar[bool] = False   # a quarter's figure is the sum of its months in Supporting data
    month_rule_words: ClassVar[str] = "the figure at"   # what the quarter's figure is, against its last month
    accumulates: ClassVar[bool] = False  # a year-to-date percentage that builds up (catalogue: Accumulates)

    def __repr__(self) -> str:
        return f"<measure {self.describe()}>"

    def __str__(self) -> str:
        return self.name

    def describe(self) -> str:
        """The kind in a word or three, for messages and tests."""
        return self.name

    # --- figures ---

    def adds_up(self, figure: str) -> bool:
        """Whether a year's or a quarter's figure is the sum of its parts."""
        return False

    def outturn(self, series: SeriesLike, period: Period, figure: str) -> float | None:
        """The value of ``figure`` for a year, quarter or month. A period's own stored figure always
        wins over one rolled up from smaller periods."""
        own = pick(series.get(period), figure)
        if own is not None or period.kind == "month":
            return own
        adds = self.adds_up(figure)
        if period.kind == "quarter" and period.n == 4 and not adds:
            # the year's own figure is the value at 31 March
            year_value = pick(series.get(period.year), figure)
            if year_value is not None:
                return year_value
        parts: list[Period] = period.quarters() if period.kind == "year" else period.months()
        if adds:
            values = [self.outturn(series, p, figure) for p in parts]
            if all(v is not None for v in values):
                return sum(v for v in values if v is not None)
            return None
        # the value at the end of the period
        return self.outturn(series, parts[-1], figure)

    def to_date(self, series: SeriesLike, quarter: Period, figure: str) -> float | None:
        """The year to date at the end of a quarter: what is judged against the target in force."""
        return self.outturn(series, quarter, figure)

    def quarter_amount(self, series: SeriesLike, quarter: Period, figure: str) -> tuple[float | None, str]:
        """What a quarter is compared with the quarter before on, and what that figure is."""
        return self.outturn(series, quarter, figure), VALUE

    def compares_with_previous(self, quarter: Period) -> bool:
        """Whether the quarter's figure is compared with the previous quarter's at all."""
        return True

    def previous_pair(self, series: SeriesLike, quarter: Period, figure: str) -> tuple[float | None, float | None, str]:
        """The quarter and the previous quarter, like with like: (now, then, what both are). ``then``
        is None when the kind does not compare this quarter with the one before."""
        now, basis = self.quarter_amount(series, quarter, figure)
        if not self.compares_with_previous(quarter):
            return now, None, basis
        then, _ = self.quarter_amount(series, quarter.step(-1), figure)
        return now, then, basis

    @property
    def last_year_basis(self) -> str:
        """What the quarter and the same quarter last year both are."""
        return YEAR_TO_DATE if self.year_to_date else VALUE

    def target_basis(self, quarter: Period) -> str:
        """What the figure judged against the target is: the year to date, unless it is the value itself."""
        return YEAR_TO_DATE if self.year_to_date else VALUE

    # --- targets ---

    def target_in_force(self, target: float | None, profile: Sequence[float | None] | None,
                        quarter: Period) -> tuple[float | None, str]:
        """The target a quarter's figure is judged against, and how it was found: ``"year"`` (the
        year's target as it stands), ``"pro rata"`` (the year's x quarters so far / 4) or ``"profile"``
        (the profile gives the target for the figure reported at that quarter). A quarter without a
        profile falls back to the year's target."""
        prof = list(profile or (None,) * 4)
        if prof[quarter.n - 1] is not None:
            return prof[quarter.n - 1], "profile"
        if target is None:
            return None, ""
        return target, "year"

    # --- words ---

    def target_subject(self, whole_year: bool) -> str:
        """What the target sentence sets against the target."""
        return "the figure"

    def row_label(self, unit_label: str) -> str:
        """The values table's row label for a unit's label ("No.", "%")."""
        return f"{unit_label} year to date" if self.year_to_date else unit_label

    def chart_axis(self, what: str) -> str:
        """A chart's axis title for the figure plotted ("Number", "Rate per 10,000")."""
        return f"{what}, year to date" if self.year_to_date else what

    def what_to_enter(self, what: str, quarter: Period, end: str) -> tuple[str, str]:
        """In words, what the figure for a quarter is (``what``: "Number", "Percentage (0 to 100)";
        ``end``: the quarter's last day in words), and what each month in Supporting data is."""
        return f"{what} at {end}".replace(", at", " at"), "the figure at the end of each month"


class Snapshot(MeasureKind):
    name = "Snapshot"
    values_note = "Each figure is the position at the end of the period (a year's is at 31 March)."
    projects = True


class Count(MeasureKind):
    name = "Count"
    values_note = "Each quarter's figure is the amount in that quarter; a year's is the total of its quarters."
    at = "In"
    forecasts = True
    months_add_up = True

    def adds_up(self, figure: str) -> bool:
        return figure in ("number", "rate")

    def to_date(self, series: SeriesLike, quarter: Period, figure: str) -> float | None:
        values = [self.outturn(series, q, figure) for q in quarter.year.quarters()[: quarter.n]]
        return sum(v for v in values if v is not None) if all(v is not None for v in values) else None

    def target_basis(self, quarter: Period) -> str:
        return YEAR_TO_DATE if quarter.n > 1 else VALUE

    def target_in_force(self, target: float | None, profile: Sequence[float | None] | None,
                        quarter: Period) -> tuple[float | None, str]:
        # a profile gives each quarter's own amount, so the year to date is judged against the
        # profile so far, added up (a quarter left blank takes a quarter of the year's target)
        n = quarter.n
        prof = list(profile or (None,) * 4)
        if any(p is not None for p in prof[:n]):
            parts = [p if p is not None else (None if target is None else target / 4) for p in prof[:n]]
            if any(p is None for p in parts):
                return None, ""
            return sum(p for p in parts if p is not None), "profile"
        if target is None:
            return None, ""
        return (target, "year") if n == 4 else (target * n / 4, "pro rata")

    def target_subject(self, whole_year: bool) -> str:
        return "the total for the year" if whole_year else "the total for the year to date"

    def what_to_enter(self, what: str, quarter: Period, end: str) -> tuple[str, str]:
        months = quarter.months()
        return f"In the quarter: {months_words(months[0], months[-1])}", "the amount in each month"


class Cumulative(MeasureKind):
    """A year-to-date number or rate: a running total since 1 April."""

    name = "Cumulative"
    values_note = ("Figures are for the year to date: each quarter's runs from 1 April to the quarter's end, and a "
                   "year's is the whole year.")
    year_to_date = True
    forecasts = True
    month_rule_words = "the year to date at"

    def quarter_amount(self, series: SeriesLike, quarter: Period, figure: str) -> tuple[float | None, str]:
        # what the quarter added to the year to date (Q1 is its own)
        now = self.outturn(series, quarter, figure)
        if quarter.n == 1 or now is None:
            return now, IN_QUARTER
        before = self.outturn(series, quarter.step(-1), figure)
        return (None if before is None else now - before), IN_QUARTER

    def target_in_force(self, target: float | None, profile: Sequence[float | None] | None,
                        quarter: Period) -> tuple[float | None, str]:
        found, basis = super().target_in_force(target, profile, quarter)
        if basis == "year" and target is not None and quarter.n != 4:
            return target * quarter.n / 4, "pro rata"
        return found, basis

    def target_subject(self, whole_year: bool) -> str:
        return "the figure for the year" if whole_year else "the figure for the year to date"

    def what_to_enter(self, what: str, quarter: Period, end: str) -> tuple[str, str]:
        return (f"Year to date: {months_words(quarter.year.months()[0], quarter.months()[-1])}",
                "the year to date at the end of each month")


class CumulativePercentage(Cumulative):
    """A year-to-date percentage that is a running ratio: compared on its year-to-date values, never
    pro-rated, and at Q1 not compared with the previous year's Q4 (the year to date restarts)."""

    forecasts = False

    def describe(self) -> str:
        return "Cumulative percentage"

    def quarter_amount(self, series: SeriesLike, quarter: Period, figure: str) -> tuple[float | None, str]:
        return self.outturn(series, quarter, figure), YEAR_TO_DATE

    def compares_with_previous(self, quarter: Period) -> bool:
        return quarter.n > 1

    def target_in_force(self, target: float | None, profile: Sequence[float | None] | None,
                        quarter: Period) -> tuple[float | None, str]:
        return MeasureKind.target_in_force(self, target, profile, quarter)


class AccumulatingPercentage(CumulativePercentage):
    """A year-to-date percentage that builds up through the year (``Accumulates`` = Yes): never
    compared with the previous quarter; judged against its target or profile and the same point
    last year."""

    accumulates = True

    def describe(self) -> str:
        return "Cumulative percentage that accumulates"

    def compares_with_previous(self, quarter: Period) -> bool:
        return False


SNAPSHOT = Snapshot()
COUNT = Count()
CUMULATIVE = Cumulative()
CUMULATIVE_PERCENTAGE = CumulativePercentage()
ACCUMULATING_PERCENTAGE = AccumulatingPercentage()
KINDS: tuple[MeasureKind, ...] = (SNAPSHOT, COUNT, CUMULATIVE, CUMULATIVE_PERCENTAGE, ACCUMULATING_PERCENTAGE)

PERCENTAGE_UNIT = "Percentage"


def allowed(name: str, unit: str) -> str | None:
    """Why a Measure cannot go with a Unit (a catalogue error), or None when it can."""
    if unit == PERCENTAGE_UNIT and name == COUNT.name:
        return ("A percentage cannot be added up, so its Measure cannot be Count. Use Snapshot for a percentage of "
                "each period, or Cumulative for a year-to-date percentage.")
    return None


def accumulates_allowed(name: str, unit: str) -> bool:
    """Whether ``Accumulates`` = Yes makes sense: only for a Cumulative percentage."""
    return name == CUMULATIVE.name and unit == PERCENTAGE_UNIT


def kind_for(measure: str | MeasureKind, unit: str = "Number", accumulates: bool = False) -> MeasureKind:
    """The kind for a catalogue's Measure (a name, or a kind to be fitted to the unit), its Unit and
    its Accumulates. An unknown name is a ValueError: the catalogue check names the cell first."""
    name = measure.name if isinstance(measure, MeasureKind) else measure
    accumulates = accumulates or (isinstance(measure, MeasureKind) and measure.accumulates)
    if name == SNAPSHOT.name:
        return SNAPSHOT
    if name == COUNT.name:
        return COUNT
    if name == CUMULATIVE.name:
        if unit != PERCENTAGE_UNIT:
            return CUMULATIVE
        return ACCUMULATING_PERCENTAGE if accumulates else CUMULATIVE_PERCENTAGE
    raise ValueError(f"unknown measure {name!r}: use one of {', '.join(MEASURE_NAMES)}")
