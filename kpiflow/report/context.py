"""The report as data: a quarter's snapshot (and an officer's kept edits) in, a frozen, typed report
context out. It knows no format: the Word renderer (``kpiflow.report.word``) turns it into the
Appendix 6(b) draft, and any other renderer (a web page, open data) or a check of the published
paper against a fresh rendering reads the same context.

Every figure the report shows is here, both as the report prints it and as the number it is: the
values table's cells, the targets, the breakdowns, each chart's series and its alternative text,
the headings, the summary and the key. Nothing is computed inside a renderer. This module is pure:
it imports no store and no Word or Excel library (tests/test_structure.py checks).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from kpiflow.fmt import clean_text, fmt, fmt_figures, fmt_number, fmt_target, long_date
from kpiflow.measures import SNAPSHOT
from kpiflow.model import Catalogue, Figures, Submission
from kpiflow.narrative import NO_FIGURE, draft_commentary, no_return_text, reason_texts, sentence_case
from kpiflow.periods import MONTH_NAMES, Period
from kpiflow.rules import Assessment, rule_text
from kpiflow.settings import Rules

SYMBOLS = {"Improved": "\u25b2", "Worsened": "\u25bc", "No change": "\u25ba"}
RAG_FILLS = {"Green": "C6EFCE", "Amber": "FFEB9C", "Red": "FFC7CE"}
ROW_LABELS = {"Number and rate": "No. (Rate)", "Number": "No.", "Rate": "Rate", "Percentage": "%"}
# the key to the summary's symbols and colours: (symbol or colour name, fill, meaning)
KEY: tuple[tuple[str, str, str], ...] = (
    (SYMBOLS["Improved"], "", "Improved"), (SYMBOLS["Worsened"], "", "Worsened"),
    (SYMBOLS["No change"], "", "No change"),
    ("Green", RAG_FILLS["Green"], "met or beaten the target"),
    ("Amber", RAG_FILLS["Amber"], "worse than the target, within the tolerance"),
    ("Red", RAG_FILLS["Red"], "worse than the target beyond the tolerance"),
)


def report_title(quarter: Period) -> str:
    return f"Appendix 6(b) - Exception Reports ({quarter.short})"


def report_filename(quarter: Period) -> str:
    return f"{report_title(quarter).replace('/', '-')}.docx"


def paragraphs(text: str) -> list[str]:
    """User text as paragraphs: one per line, blank lines dropped, characters kept as typed."""
    return [line for line in clean_text(text).split("\n") if line.strip()]


# --- what goes in: one read of a quarter ---


@dataclass(frozen=True)
class ServiceStatus:
    service: str
    issued: str
    state: str            # accepted | rejected | missing
    received_at: str
    completed_by: str
    file_name: str
    detail: str
    due: str = ""                                   # the due date (section 18), ISO
    days_to_go: int | None = None                   # working days to the due date; negative: overdue
    last_message: dict[str, Any] | None = None      # stage, at, to
    signoff: dict[str, Any] | None = None           # event, by, at, how, note


@dataclass(frozen=True)
class Outstanding:
    """A service whose return for the quarter is not in (none received, or rejected and not sent
    again), and its indicators that therefore have no figure: none of them can be assessed."""

    service: str
    state: str                      # "missing" or "rejected"
    indicators: tuple[str, ...]
    received_at: str = ""           # when the rejected return arrived

    def text(self, by: dt.date, quarter: Period) -> str:
        """The sentence the report's first page and ``kpiflow status`` print."""
        ids = list(self.indicators)
        listed = ", ".join(ids[:-1]) + f" and {ids[-1]}" if len(ids) > 1 else ids[0]
        have = "has no figure" if len(ids) == 1 else "have no figures"
        if self.state == "rejected":
            when = f" on {long_date(dt.date.fromisoformat(self.received_at[:10]))}" if self.received_at else ""
            why = f"the return received{when} was rejected and has not been sent again"
        else:
            why = f"no return received by {long_date(by)}"
        return f"{self.service}: {why}, so {listed} {have} for {quarter.short}."


def outstanding_returns(services: Sequence[ServiceStatus], assessments: Sequence[Assessment]) -> list[Outstanding]:
    """Services with no accepted return for the quarter whose indicators lack figures, in catalogue order.

    A service whose figures all arrived some other way (loaded history) is not outstanding."""
    out: list[Outstanding] = []
    for s in services:
        if s.state not in ("missing", "rejected"):
            continue
        ids = tuple(a.indicator.id for a in assessments
                    if a.indicator.service == s.service and a.facts.current is None)
        if ids:
            out.append(Outstanding(s.service, s.state, ids, s.received_at if s.state == "rejected" else ""))
    return out


PROVISIONAL_MARK = "Provisional: not signed off"      # figures whose return awaits sign-off (section 18)


@dataclass(frozen=True)
class QuarterSnapshot:
    """A quarter as the store held it at one moment (``kpiflow.report.gather`` reads it): every
    indicator's assessment, and for the exceptions their stored words and breakdowns; each
    service's return; the accepted returns by submission id; the returns not in."""

    quarter: Period
    catalogue: Catalogue
    state: str                                             # the quarter's state: open, published...
    assessments: tuple[Assessment, ...]
    services: tuple[ServiceStatus, ...]
    accepted: Mapping[int, Submission]
    outstanding: tuple[Outstanding, ...]
    texts: Mapping[str, tuple[str, str]] = field(default_factory=dict)         # ID -> (commentary, response)
    breakdowns: Mapping[str, tuple[tuple[str, float], ...]] = field(default_factory=dict)   # ID -> rows
    provisional: Mapping[str, str] = field(default_factory=dict)   # ID -> service: figures not signed off yet

    @property
    def exceptions(self) -> tuple[Assessment, ...]:
        return tuple(a for a in self.assessments if a.verdict.exception)

    @property
    def has_figures(self) -> bool:
        return any(a.facts.current is not None for a in self.assessments)

    @property
    def returned(self) -> frozenset[str]:
        """The services whose return for the quarter is accepted."""
        return frozenset(s.service for s in self.services if s.state == "accepted")


# --- what comes out: the report context ---


@dataclass(frozen=True)
class ChartSpec:
    """What to draw. Values of ``None`` (or NaN/inf) are left as gaps."""

    title: str
    categories: tuple[str, ...]
    series: tuple[tuple[str, tuple[float | None, ...]], ...]
    kind: str = "line"
    y_title: str = ""
    number_format: str = "General"
    y_min: float | None = None     # the value axis's range; None: the office suite chooses (a column chart
    y_max: float | None = None     # of figures >= 0 always starts at zero)
    roles: tuple[str, ...] = ()    # what each series is (SERIES_STYLES), so one series looks alike in every chart
    decimals: int | None = None    # values rounded as the report shows them (None: as given)


@dataclass(frozen=True)
class SeriesStyle:
    """How one kind of series is drawn, in every chart and every format: a colour, and a dash and a marker as
    well, so that the legend reads in black and white and for readers who do not see colour (WCAG 1.4.1)."""

    colour: str        # the line and marker, RGB hex
    dash: str          # DrawingML preset dash: solid, dash, sysDot, lgDash, dashDot
    marker: str        # DrawingML marker: circle, square, triangle, diamond, x
    fill: str          # a column's fill: told apart by lightness as well as hue


# the council (and this year) dark and solid; last year pale; each comparator always its own look
SERIES_STYLES: dict[str, SeriesStyle] = {
    "council": SeriesStyle("1F4E79", "solid", "circle", "1F4E79"),
    "last-year": SeriesStyle("767676", "dash", "square", "BFBFBF"),
    "neighbours": SeriesStyle("B4510F", "sysDot", "triangle", "F4B183"),
    "england": SeriesStyle("375623", "lgDash", "diamond", "A9D18E"),
    "trend": SeriesStyle("000000", "dashDot", "x", "404040"),
}
ROLE_ORDER = ("council", "neighbours", "england", "trend", "last-year")


def series_style(spec: ChartSpec, i: int) -> SeriesStyle:
    """The look of the spec's ``i``th series: by its role, or (a spec without roles) by its place."""
    role = spec.roles[i] if i < len(spec.roles) else ""
    return SERIES_STYLES.get(role) or SERIES_STYLES[ROLE_ORDER[i % len(ROLE_ORDER)]]


def value_axis_min(spec: ChartSpec) -> float | None:
    """Where the value axis starts: as the spec says; a column chart of figures that are all zero or more starts at
    zero (a column's height is its size: an axis from 130 makes a 10% difference look threefold)."""
    if spec.y_min is not None or spec.kind != "column":
        return spec.y_min
    values = [v for _, vs in spec.series for v in vs if v is not None]
    return 0.0 if values and min(values) >= 0 else None


def describe(spec: ChartSpec) -> str:
    """The chart's alternative text: what it shows and its latest figures, for a screen reader
    and for the tagged PDF (a chart's picture says nothing to someone who cannot see it)."""
    kind = "Column chart" if spec.kind == "column" else "Line chart"
    latest = []
    for name, values in spec.series:
        points = [(c, v) for c, v in zip(spec.categories, values, strict=True) if v is not None]
        if points:
            category, value = points[-1]
            shown = f"{value:.1f}" if spec.number_format == "0.0" else fmt_number(round(value, 1))
            latest.append(f"{name} {shown} ({category})")
    tail = f" Latest figures: {'; '.join(latest)}." if latest else " No figures to show."
    return f"{kind}: {spec.title.rstrip('.')}.{tail}"


@dataclass(frozen=True)
class Chart:
    spec: ChartSpec
    alt_text: str


@dataclass(frozen=True)
class ValueCell:
    """One cell of the values table: the period, what is printed, and the figures behind it."""

    period: str
    text: str
    number: float | None = None
    rate: float | None = None


@dataclass(frozen=True)
class ValuesTable:
    years: tuple[str, ...]            # the two previous years' labels
    this_year: str
    row_label: str
    cells: tuple[ValueCell, ...]      # the two years, then Q1-Q4 of this year
    target: str                       # as printed: "No Target Set", "2,400 (Q2: 1,200)"
    target_value: float | None        # the year's target
    target_in_force: float | None     # the target in force at the quarter
    target_basis: str                 # "year", "pro rata" or "profile"
    note: str                         # the sentence under the table


@dataclass(frozen=True)
class BreakdownLine:
    category: str
    number: float
    text: str


@dataclass(frozen=True)
class ExceptionEntry:
    """One exception report: description, values, words, charts and breakdown."""

    id: str
    portfolio: str
    portfolio_heading: str            # the portfolio in capitals on its first exception, else ""
    description: str
    better: str
    unit: str
    values: ValuesTable
    commentary: tuple[str, ...]
    commentary_drafted: bool
    commentary_kept: bool             # the officer's words carried over from an earlier draft
    response: tuple[str, ...]
    response_kept: bool
    charts: tuple[Chart, ...]
    breakdown: tuple[BreakdownLine, ...]
    breakdown_title: str
    reasons: tuple[str, ...]
    rag: str                          # "Green", "Amber", "Red", "No figure" or "No target"
    provisional: bool = False         # its return awaits sign-off: marked in the values table


@dataclass(frozen=True)
class SummaryRow:
    id: str
    description: str
    portfolio: str
    vs_previous: str
    vs_last_year: str
    previous_symbol: str
    last_year_symbol: str
    rag: str
    rag_fill: str
    reason: str


@dataclass(frozen=True)
class OutstandingLine:
    service: str
    state: str
    indicators: tuple[str, ...]
    text: str


FORECAST_STATES = {"Green": "On track", "Amber": "At risk", "Red": "Off track"}
GROUP_LABELS = {"portfolio": "Portfolio", "priority": "Priority"}
NO_PRIORITY = "No priority given"
RAG_WORDS = ("Green", "Amber", "Red", "No target", "No figure")
DIRECTIONS = ("Improved", "Worsened", "No change")


@dataclass(frozen=True)
class Standing:
    """Where one indicator stands at the quarter, as the overview, the exception pages and
    ``kpiflow status --json`` all say it (one function makes it: ``standing``)."""

    rag: str                       # Green, Amber, Red, No target or No figure
    vs_last_year: str | None       # Improved, Worsened, No change; None where there is nothing to compare
    forecast: str                  # On track, At risk, Off track; "-" where section 9 makes no forecast
    forecast_value: float | None   # the forecast year-end outturn
    forecast_target: float | None  # the year's target it is set against

    def to_dict(self) -> dict[str, Any]:
        return {"rag": self.rag, "vs_last_year": self.vs_last_year, "forecast": self.forecast,
                "forecast_value": self.forecast_value, "forecast_target": self.forecast_target}


def standing(a: Assessment, tolerance_percent: float) -> Standing:
    """An indicator's RAG (in words: no figure, no target), direction against the same quarter last
    year, and year-end forecast state: On track (the forecast meets or beats the year's target), At
    risk (worse, within the tolerance) or Off track (worse beyond it); "-" where there is no
    forecast (a Snapshot or a percentage, Q4, no figure) or no year's target to set it against."""
    from kpiflow.trends import rag

    f, ind = a.facts, a.indicator
    word = f.rag or ("No figure" if f.current is None else "No target")
    fc = f.forecast if f.current is not None else None
    state = "-"
    if fc is not None and fc.target is not None:
        tol = ind.tolerance if ind.tolerance is not None else tolerance_percent
        state = FORECAST_STATES[rag(fc.value, fc.target, ind.higher_is_better, tol) or "Green"]
    return Standing(word, f.vs_last_year if f.current is not None else None, state,
                    fc.value if fc else None, fc.target if fc else None)


@dataclass(frozen=True)
class Counts:
    """How many indicators are of each RAG, and of each direction against the same quarter last year."""

    indicators: int
    rag: tuple[tuple[str, int], ...]          # (RAG word, count) in RAG_WORDS order
    direction: tuple[tuple[str, int], ...]    # (direction, count) in DIRECTIONS order

    def of(self, word: str) -> int:
        return dict(self.rag + self.direction)[word]

    def template_variables(self) -> dict[str, Any]:
        keys = {w: w.lower().replace(" ", "_") for w in RAG_WORDS + DIRECTIONS}
        return {"indicators": self.indicators, **{keys[w]: n for w, n in self.rag + self.direction}}


def count(standings: Sequence[Standing]) -> Counts:
    return Counts(len(standings), tuple((w, sum(s.rag == w for s in standings)) for w in RAG_WORDS),
                  tuple((d, sum(s.vs_last_year == d for s in standings)) for d in DIRECTIONS))


@dataclass(frozen=True)
class OverviewRow:
    """One indicator in the overview's table, as printed and as the numbers behind it."""

    id: str
    description: str
    group: str
    figure: str                    # as printed: "469 (162.8)", "No figure"
    figure_value: float | None     # what the RAG judges: the figure, or the year to date
    period: str                    # "Q2 2017/18", "Q2 2017/18, year to date"
    target: str                    # the target in force as printed, or "No Target Set"
    target_value: float | None
    rag: str
    rag_fill: str
    vs_last_year: str              # Improved, Worsened, No change or "-"
    last_year_symbol: str
    forecast: str                  # On track, At risk, Off track or "-"
    exception: bool                # it has a section of its own, which the row links to


@dataclass(frozen=True)
class OverviewGroup:
    name: str
    counts: Counts
    rows: tuple[OverviewRow, ...]


@dataclass(frozen=True)
class Overview:
    """"Performance at a glance" (PRODUCT.md section 19): every indicator, Never ones included."""

    group_by: str                  # "portfolio" or "priority"
    group_label: str               # "Portfolio" or "Priority"
    council: Counts
    groups: tuple[OverviewGroup, ...]

    @property
    def rows(self) -> tuple[OverviewRow, ...]:
        return tuple(r for g in self.groups for r in g.rows)

    def template_variables(self) -> dict[str, Any]:
        def row(r: OverviewRow) -> dict[str, Any]:
            return {"id": r.id, "description": r.description, "group": r.group, "figure": r.figure,
                    "period": r.period, "target": r.target, "rag": r.rag, "rag_fill": r.rag_fill,
                    "vs_last_year": r.vs_last_year, "last_year_symbol": r.last_year_symbol,
                    "forecast": r.forecast, "exception": r.exception}
        return {"group_by": self.group_by, "group_label": self.group_label,
                "council": self.council.template_variables(),
                "groups": [{"name": g.name, **g.counts.template_variables(), "rows": [row(r) for r in g.rows]}
                           for g in self.groups],
                "rows": [row(r) for r in self.rows]}


def overview(snapshot: QuarterSnapshot, rules: Rules, group_by: str = "portfolio") -> Overview:
    """Every indicator's standing, counted for the council and for each portfolio (or priority, in
    catalogue order; indicators with none given last, under "No priority given")."""
    from kpiflow.measures import YEAR_TO_DATE

    quarter = snapshot.quarter
    by_group: dict[str, list[tuple[OverviewRow, Standing]]] = {}
    names = snapshot.catalogue.portfolios if group_by == "portfolio" else snapshot.catalogue.priorities
    for name in names:
        by_group[name] = []
    for a in snapshot.assessments:
        ind, f = a.indicator, a.facts
        st = standing(a, rules.tolerance_percent)
        group = ind.portfolio if group_by == "portfolio" else (ind.priority or NO_PRIORITY)
        if f.current is None:
            figure, value = "No figure", None
        else:
            # the figure the RAG judges: a Count's quarters so far added up, else the quarter's figure
            figs = Figures(ind.measure.to_date(a.series, quarter, "number") if ind.has_number else None,
                           ind.measure.to_date(a.series, quarter, "rate") if ind.has_rate else None)
            figure, value = fmt_figures(figs, ind.unit, f.dp) or "-", f.to_date
        ytd = f.current is not None and ind.measure.target_basis(quarter) == YEAR_TO_DATE
        row = OverviewRow(
            id=ind.id, description=ind.name, group=group, figure=figure, figure_value=value,
            period=f"{quarter.short}, year to date" if ytd else quarter.short,
            target="No Target Set" if f.target_now is None else fmt_target(f.target_now, ind.unit, dp=f.dp),
            target_value=f.target_now, rag=st.rag, rag_fill=RAG_FILLS.get(st.rag, "FFFFFF"),
            vs_last_year=st.vs_last_year or "-", last_year_symbol=SYMBOLS.get(st.vs_last_year or "", ""),
            forecast=st.forecast, exception=a.verdict.exception)
        by_group.setdefault(group, []).append((row, st))
    every = [st for items in by_group.values() for _, st in items]
    groups = tuple(OverviewGroup(name, count([st for _, st in items]), tuple(r for r, _ in items))
                   for name, items in by_group.items() if items)
    return Overview(group_by, GROUP_LABELS[group_by], count(every), groups)


@dataclass(frozen=True)
class ReportContext:
    """Everything the report says, in no format."""

    council: str
    title: str
    quarter: str
    quarter_short: str
    rule_text: str
    no_change_percent: str
    tolerance_percent: str
    summary: tuple[SummaryRow, ...]
    exceptions: tuple[ExceptionEntry, ...]
    report_date: str
    outstanding: tuple[OutstandingLine, ...]
    key: tuple[tuple[str, str, str], ...] = KEY
    rate_key: str = ""     # the key's line for "469 (162.8)", in the council's own rates; "" with no such figure
    provisional: tuple[str, ...] = ()     # indicators whose figures are not signed off yet (section 18)
    overview: Overview | None = None      # "Performance at a glance" (None: the exceptions-only appendix)

    def template_variables(self) -> dict[str, Any]:
        """The report template's variables (doc_templates/README.md), without the Word-only parts:
        a renderer adds each exception's ``anchor``, ``charts`` and ``*_block`` (see
        ``kpiflow.report.word``)."""
        return {
            "council": self.council, "title": self.title, "quarter": self.quarter,
            "quarter_short": self.quarter_short, "rule_text": self.rule_text,
            "no_change_percent": self.no_change_percent, "tolerance_percent": self.tolerance_percent,
            "summary": [{"id": s.id, "description": s.description, "portfolio": s.portfolio,
                         "vs_previous": s.vs_previous, "vs_last_year": s.vs_last_year,
                         "previous_symbol": s.previous_symbol, "last_year_symbol": s.last_year_symbol,
                         "rag": s.rag, "rag_fill": s.rag_fill, "reason": s.reason} for s in self.summary],
            "exceptions": [_exception_variables(e) for e in self.exceptions],
            "exception_count": len(self.exceptions),
            "report_date": self.report_date,
            "outstanding": [{"service": o.service, "state": o.state, "indicators": ", ".join(o.indicators),
                             "text": o.text} for o in self.outstanding],
            "provisional": list(self.provisional),
            "rate_key": self.rate_key,
            "overview": self.overview.template_variables() if self.overview else None,
        }


def _exception_variables(e: ExceptionEntry) -> dict[str, Any]:
    v = e.values
    return {
        "id": e.id, "portfolio_heading": e.portfolio_heading, "portfolio": e.portfolio,
        "description": e.description, "better": e.better,
        "years": list(v.years), "this_year": v.this_year, "row_label": v.row_label,
        "cells": [c.text for c in v.cells], "target": v.target, "values_note": v.note,
        "commentary": list(e.commentary), "commentary_drafted": e.commentary_drafted,
        "response": list(e.response),
        "breakdown": [{"category": b.category, "number": b.text} for b in e.breakdown],
        "breakdown_title": e.breakdown_title, "reasons": list(e.reasons), "rag": e.rag,
    }


# --- building it ---


def chart_specs(a: Assessment, council: str) -> list[ChartSpec]:
    """The charts an exception gets: against comparators over the years; month by month (or
    quarter by quarter) against last year; the projection where there is one.

    Like with like: comparators are published for whole years, so they are plotted against whole
    years only; a quarter with no figure (a return not received) is a gap, never a plotted value.
    Each series has a role (one look in every chart) and its values are rounded as the table shows them."""
    f, ind, series = a.facts, a.indicator, a.series
    figure, unit = f.figure, ind.unit
    what = f"Rate per {ind.rate_per:,.0f}" if figure == "rate" and ind.rate_per else (
        "Percentage" if unit == "Percentage" else "Number")
    what = ind.measure.chart_axis(what)
    specs: list[ChartSpec] = []
    decimals = 1 if figure == "rate" or unit == "Percentage" else f.dp
    annual = dict(f.annual)
    this_year, last_year = f.quarter.year, f.quarter.year.step(-1)
    if f.quarter.n == 4 and any(SNAPSHOT.outturn(series, this_year, fig) is not None for fig in ("statneigh", "england")):
        # the year has just ended and its comparators are in: it belongs on the chart
        whole = ind.measure.outturn(series, this_year, figure)
        if whole is not None:
            annual[this_year] = whole
    years = sorted(annual)[-4:]
    if f.annual_comparators and years:
        ours: list[float | None] = [annual[y] for y in years]
        cats = [y.label for y in years]
        if ind.measure.projects and this_year not in annual:
            # a snapshot at the quarter's end is the council's latest point; no comparator is published for it
            cats.append(f.quarter.short)
            ours.append(f.current)
        series_list: list[tuple[str, tuple[float | None, ...]]] = [(council, tuple(ours))]
        roles = ["council"]
        for name, fig, role in (("Statistical neighbours", "statneigh", "neighbours"), ("England", "england", "england")):
            vals: list[float | None] = [SNAPSHOT.outturn(series, y, fig) for y in years]
            vals += [None] * (len(cats) - len(years))
            if any(v is not None for v in vals):
                series_list.append((name, tuple(vals)))
                roles.append(role)
        if len(series_list) > 1:
            specs.append(ChartSpec(f"{what}: {council}, statistical neighbours and England", tuple(cats),
                                   tuple(series_list), "line", what, "0.0" if figure == "rate" else "General",
                                   roles=tuple(roles), decimals=decimals))
    months_now = [m for m in this_year.months() if m <= f.quarter.months()[-1]]

    def held(months: list[Period]) -> bool:
        return any(series.get(m) is not None and getattr(series[m], figure) is not None for m in months)

    # month by month against last year only when there is a last year to set it against
    if held(months_now) and held(last_year.months()):
        cats = [MONTH_NAMES[m.calendar_month - 1][:3].title() for m in this_year.months()]

        def mvals(y: Period, upto: Period | None) -> tuple[float | None, ...]:
            return tuple(getattr(series[m], figure) if m in series and (upto is None or m <= upto) else None
                         for m in y.months())
        specs.append(ChartSpec(f"{what}: month by month, {this_year.label} against {last_year.label}", tuple(cats),
                               ((last_year.label, mvals(last_year, None)),
                                (this_year.label, mvals(this_year, f.quarter.months()[-1]))), "line", what,
                               roles=("last-year", "council"), decimals=decimals))
    elif not specs:
        cats = [f"Q{q.n}" for q in this_year.quarters()]

        def qvals(y: Period, upto: Period | None) -> tuple[float | None, ...]:
            return tuple(ind.measure.outturn(series, q, figure) if upto is None or q <= upto else None
                         for q in y.quarters())
        before = qvals(last_year, None)
        against = f" against {last_year.label}" if any(v is not None for v in before) else ""
        specs.append(ChartSpec(f"{what}: quarter by quarter, {this_year.label}{against}", tuple(cats),
                               ((last_year.label, before), (this_year.label, qvals(this_year, f.quarter))),
                               "column", what, roles=("last-year", "council"), decimals=decimals))
    pr = f.projection
    if pr is not None and pr.outlook == "reaches" and pr.reaches is not None and len(pr.points) >= 2:
        first = pr.points[0][0]
        periods = [first]
        while periods[-1] < pr.reaches:
            periods.append(periods[-1].step(1))
        n_pts = len(pr.points)
        actual = tuple(pr.points[i][1] if i < n_pts else None for i in range(len(periods)))
        line = tuple(round(pr.fitted(i - (n_pts - 1)), 2) for i in range(len(periods)))
        label = f"Statistical neighbours ({fmt(pr.comparator_value, unit, dp=f.dp)})" \
            if pr.comparator == "statistical neighbours" else f"England ({fmt(pr.comparator_value, unit, dp=f.dp)})"
        specs.append(ChartSpec(f"{what}: if the trend continues", tuple(p.short for p in periods),
                               ((council, actual), ("Trend", line), (label, tuple(pr.comparator_value for _ in periods))),
                               "line", what, roles=("council", "trend", "neighbours" if pr.comparator ==
                                                    "statistical neighbours" else "england"), decimals=decimals))
    if unit == "Percentage":
        # a percentage axis runs from 0 to 100, not to the 120 an office suite picks for figures near 100
        specs = [replace(sp, y_min=0.0, y_max=100.0) for sp in specs]
    # a chart with no figure at all (a return not received, and no history) says nothing
    return [sp for sp in specs if any(v is not None for _, values in sp.series for v in values)]


def _cell(period: Period, figs: Figures | None, text: str) -> ValueCell:
    return ValueCell(period.label, text, figs.number if figs else None, figs.rate if figs else None)


def values_table(a: Assessment, provisional: bool = False) -> ValuesTable:
    f, unit = a.facts, a.indicator.unit
    cells: list[ValueCell] = []
    for y, figs in f.years:
        if figs is None:
            held = any(p <= y and getattr(v, f.figure) is not None for p, v in a.series.items())
            cells.append(_cell(y, None, "-" if held else "New PI"))
        else:
            cells.append(_cell(y, figs, fmt_figures(figs, unit, f.dp)))
    for q, figs in f.quarters:
        cells.append(_cell(q, figs, "" if q > f.quarter else (fmt_figures(figs, unit, f.dp) if figs else "-")))
    label = a.indicator.measure.row_label(ROW_LABELS.get(unit, ""))
    if provisional:
        label += f" ({PROVISIONAL_MARK})"
    target = "No Target Set" if f.target is None else fmt(f.target, unit, dp=f.dp)
    note = a.indicator.measure.values_note
    if f.target_now is not None and f.target_now != f.target:
        in_force = f"Q{f.quarter.n}: {fmt_target(f.target_now, unit, dp=f.dp)}"
        target = in_force if f.target is None else f"{target} ({in_force})"
        note += f" In brackets: the target in force at Q{f.quarter.n} ({f.target_basis})."
    return ValuesTable(tuple(y.label for y, _ in f.years), f.quarter.year.label, label, tuple(cells), target,
                       f.target, f.target_now, f.target_basis, note)


def build_context(snapshot: QuarterSnapshot, council: str, rules: Rules, today: dt.date,
                  kept: Mapping[tuple[str, str], str] | None = None, charts: bool = True,
                  group_by: str | None = "portfolio") -> ReportContext:
    """The report for a quarter. ``kept`` gives words to use instead of the stored ones, by
    (indicator ID, "commentary" or "response"): an officer's edits carried over from an earlier
    draft. ``today`` is the date a missing return is reported as not received by. Without
    ``charts``, no chart specs are drawn up (for a text-only context). ``group_by`` groups the
    overview ("portfolio" or "priority"); None leaves it out (the exceptions-only appendix)."""
    kept = kept or {}
    quarter, returned = snapshot.quarter, snapshot.returned
    exceptions: list[ExceptionEntry] = []
    summary: list[SummaryRow] = []
    for portfolio in snapshot.catalogue.portfolios:
        items = [a for a in snapshot.exceptions if a.indicator.portfolio == portfolio]
        for i, a in enumerate(items):
            ind, f = a.indicator, a.facts
            stored = snapshot.texts.get(ind.id) or ("", "")
            kept_c, kept_r = kept.get((ind.id, "commentary")), kept.get((ind.id, "response"))
            commentary = paragraphs(stored[0] if kept_c is None else kept_c)
            response = paragraphs(stored[1] if kept_r is None else kept_r)
            drafted = not commentary
            if f.current is None and ind.service not in returned:
                # no return: the officer may replace these words before publishing
                commentary = [no_return_text(ind.service, today)]
                response = response or list(commentary)
                drafted = True
            elif f.current is None:
                commentary = [NO_FIGURE, *commentary]
                drafted = True
            elif drafted:
                commentary = draft_commentary(f)
            specs = chart_specs(a, council) if charts else []
            breakdown = snapshot.breakdowns.get(ind.id, ())
            rag_word = standing(a, rules.tolerance_percent).rag
            reasons = tuple(reason_texts(a.verdict, ind.unit, f.dp))
            exceptions.append(ExceptionEntry(
                id=ind.id, portfolio=portfolio, portfolio_heading=portfolio.upper() if i == 0 else "",
                description=ind.name, better=ind.better, unit=ind.unit,
                values=values_table(a, ind.id in snapshot.provisional), provisional=ind.id in snapshot.provisional,
                commentary=tuple(commentary), commentary_drafted=drafted, commentary_kept=kept_c is not None,
                response=tuple(response), response_kept=kept_r is not None,
                charts=tuple(Chart(s, describe(s)) for s in specs),
                breakdown=tuple(BreakdownLine(c, n, fmt_number(n)) for c, n in breakdown),
                breakdown_title=f"Breakdown at {quarter.short}" if breakdown else "",
                reasons=reasons, rag=rag_word))
            summary.append(SummaryRow(
                id=ind.id, description=ind.name, portfolio=portfolio,
                vs_previous=f.vs_previous or "-", vs_last_year=f.vs_last_year or "-",
                previous_symbol=SYMBOLS.get(f.vs_previous or "", ""),
                last_year_symbol=SYMBOLS.get(f.vs_last_year or "", ""),
                rag=rag_word, rag_fill=RAG_FILLS.get(f.rag or "", "FFFFFF"),
                # capitalised without lowering the rest: "Amber", "England" and "Q2" stay as they are
                reason=sentence_case("; ".join(reasons))))
    return ReportContext(
        council=council, title=report_title(quarter), quarter=quarter.label, quarter_short=quarter.short,
        rule_text=rule_text(rules.exception), no_change_percent=fmt_number(rules.no_change_percent),
        tolerance_percent=fmt_number(rules.tolerance_percent), summary=tuple(summary), exceptions=tuple(exceptions),
        report_date=long_date(today),
        outstanding=tuple(OutstandingLine(o.service, o.state, o.indicators, o.text(today, quarter))
                          for o in snapshot.outstanding) + provisional_lines(snapshot.provisional),
        provisional=tuple(sorted(snapshot.provisional)),
        rate_key=rate_key(exceptions, {i.id: i.rate_per for i in snapshot.catalogue.indicators}),
        overview=overview(snapshot, rules, group_by) if group_by else None)


def rate_key(exceptions: Sequence[ExceptionEntry], rates_per: Mapping[str, float | None]) -> str:
    """The key's line for a number with its rate in brackets, in the report's own terms: the rates it uses ("per
    1,000 or per 10,000"); "" when no exception shows such a figure. The example is a made-up one, never a figure
    of the report's (a key holds no figure that could disagree with the store)."""
    shown = [e for e in exceptions if e.unit == "Number and rate"]
    if not shown:
        return ""
    bases = sorted({base for e in shown if (base := rates_per.get(e.id))})
    per = " or ".join(f"per {b:,.0f}" for b in bases)
    return f"469 (162.8): the number, with the rate{' ' + per if per else ''} in brackets."


def provisional_lines(provisional: Mapping[str, str]) -> tuple[OutstandingLine, ...]:
    """The first page's lines for figures not signed off, one a service, in the order given."""
    by_service: dict[str, list[str]] = {}
    for iid, service in provisional.items():
        by_service.setdefault(service, []).append(iid)
    out = []
    for service, ids in by_service.items():
        listed = ", ".join(ids[:-1]) + f" and {ids[-1]}" if len(ids) > 1 else ids[0]
        out.append(OutstandingLine(service, "provisional", tuple(ids),
                                   f"{service}: {PROVISIONAL_MARK}, so {listed} {'is' if len(ids) == 1 else 'are'} "
                                   "provisional."))
    return tuple(out)


def sample_snapshot() -> QuarterSnapshot:
    """A small quarter that fills every part of the report (an exception with history,
    comparators, words and a breakdown; a return not in), built from the same types as a real one:
    the template check renders a template with it."""
    from kpiflow.model import Indicator
    from kpiflow.periods import parse_period
    from kpiflow.rules import evaluate
    from kpiflow.trends import facts

    quarter = parse_period("2017/18 Q2")
    ind = Indicator("CS01", "Number and rate of children looked after per 10,000", "Portfolio", "Service", "Low",
                    "Number and rate", 10000, "Quarterly", SNAPSHOT, None, "Always")
    late = Indicator("CS02", "Number of early help assessments", "Portfolio", "Late service", "High", "Number", None,
                     "Quarterly", SNAPSHOT, None, "Auto")
    series = {parse_period(p): Figures(n, r, sn, en) for p, n, r, sn, en in (
        ("2015/16", 420, 146.0, 100.0, 60.0), ("2016/17", 469, 162.8, 102.0, 62.0),
        ("2017/18 Q1", 480, 166.6, None, None), ("2017/18 Q2", 490, 170.1, None, None))}
    found = []
    for i, s in ((ind, series), (late, {})):
        f = facts(i, s, quarter, {}, 5.0, 1.0, 6)
        found.append(Assessment(i, f, evaluate(f, "below-target-or-worse-than-last-year"), s))
    catalogue = Catalogue((ind, late))
    services = (ServiceStatus("Service", "", "accepted", "", "", "", ""),
                ServiceStatus("Late service", "", "missing", "", "", "", ""))
    return QuarterSnapshot(quarter, catalogue, "open", tuple(found), services, {},
                           tuple(outstanding_returns(services, found)),
                           texts={"CS01": ("Commentary.", "Response.")}, breakdowns={"CS01": (("Under 1", 1.0),)})
