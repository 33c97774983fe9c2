"""Render the Appendix 6(b) draft from doc_templates/appendix_6b.docx with docxtpl.

The template holds the layout (a council restyles it in Word); this module builds the context:
per exception the description table, the values table, commentary (the return's, or drafted from
the facts), charts, the service response and any breakdown. Autoescape is always on and the
Jinja environment is strict, so a typo in the template is an error, not a blank. The Word XML it
inserts (marked regions, charts) is made by ``kpiflow.docx.render``.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kpiflow.assess import Assessment, assess
from kpiflow.docx.a11y import set_properties
from kpiflow.docx.charts import ChartSpec
from kpiflow.docx.marks import mark_anchor
from kpiflow.docx.render import add_chart, marked_block, new_block, number_drawings, open_template
from kpiflow.errors import KpiflowError, NoFiguresError
from kpiflow.filing import part_path, unique_path, write_new
from kpiflow.fmt import fmt, fmt_figures, fmt_number, long_date
from kpiflow.measures import SNAPSHOT
from kpiflow.model import Catalogue
from kpiflow.narrative import (
    NO_FIGURE,
    RULE_TEXT,
    draft_commentary,
    no_return_text,
    reason_texts,
    sentence_case,
)
from kpiflow.periods import MONTH_NAMES, Period
from kpiflow.problems import ValidationResult
from kpiflow.settings import Settings
from kpiflow.store import Store
from kpiflow.validate import clean_text

SYMBOLS = {"Improved": "\u25b2", "Worsened": "\u25bc", "No change": "\u25ba"}
RAG_FILLS = {"Green": "C6EFCE", "Amber": "FFEB9C", "Red": "FFC7CE"}
ROW_LABELS = {"Number and rate": "No. (Rate)", "Number": "No.", "Rate": "Rate", "Percentage": "%"}


def report_title(quarter: Period) -> str:
    return f"Appendix 6(b) - Exception Reports ({quarter.short})"


def report_filename(quarter: Period) -> str:
    return f"{report_title(quarter).replace('/', '-')}.docx"


def paragraphs(text: str) -> list[str]:
    """User text as paragraphs: one per line, blank lines dropped, characters kept as typed."""
    return [line for line in clean_text(text).split("\n") if line.strip()]


def chart_specs(a: Assessment, council: str) -> list[ChartSpec]:
    """The charts an exception gets: against comparators over the years; month by month (or
    quarter by quarter) against last year; the projection where there is one.

    Like with like: comparators are published for whole years, so they are plotted against whole
    years only; a quarter with no figure (a return not received) is a gap, never a plotted value."""
    f, ind, series = a.facts, a.indicator, a.series
    figure, unit = f.figure, ind.unit
    what = f"Rate per {ind.rate_per:,.0f}" if figure == "rate" and ind.rate_per else (
        "Percentage" if unit == "Percentage" else "Number")
    what = ind.measure.chart_axis(what)
    specs: list[ChartSpec] = []
    years = [p for p, _ in f.annual][-4:]
    if f.annual_comparators and years:
        ours: list[float | None] = [dict(f.annual)[y] for y in years]
        cats = [y.label for y in years]
        if ind.measure.projects:
            # a snapshot at the quarter's end is the council's latest point; no comparator is published for it
            cats.append(f.quarter.short)
            ours.append(f.current)
        series_list: list[tuple[str, tuple[float | None, ...]]] = [(council, tuple(ours))]
        for name, fig in (("Statistical neighbours", "statneigh"), ("England", "england")):
            vals: list[float | None] = [SNAPSHOT.outturn(series, y, fig) for y in years]
            vals += [None] * (len(cats) - len(years))
            if any(v is not None for v in vals):
                series_list.append((name, tuple(vals)))
        if len(series_list) > 1:
            specs.append(ChartSpec(f"{what}: {council}, statistical neighbours and England", tuple(cats), tuple(series_list),
                          "line", what, "0.0" if figure == "rate" else "General"))
    this_year, last_year = f.quarter.year, f.quarter.year.step(-1)
    months_now = [m for m in this_year.months() if m <= f.quarter.months()[-1]]
    has_monthly = any(series.get(m) is not None and getattr(series[m], figure) is not None for m in months_now)
    if has_monthly:
        cats = [MONTH_NAMES[m.calendar_month - 1][:3].title() for m in this_year.months()]
        def mvals(y: Period, upto: Period | None) -> tuple[float | None, ...]:
            return tuple(getattr(series[m], figure) if m in series and (upto is None or m <= upto) else None
                         for m in y.months())
        specs.append(ChartSpec(f"{what}: month by month, {this_year.label} against {last_year.label}", tuple(cats),
                      ((last_year.label, mvals(last_year, None)), (this_year.label, mvals(this_year, f.quarter.months()[-1]))),
                      "line", what))
    elif not specs:
        cats = [f"Q{q.n}" for q in this_year.quarters()]
        def qvals(y: Period, upto: Period | None) -> tuple[float | None, ...]:
            return tuple(ind.measure.outturn(series, q, figure) if upto is None or q <= upto else None
                         for q in y.quarters())
        specs.append(ChartSpec(f"{what}: quarter by quarter, {this_year.label} against {last_year.label}", tuple(cats),
                      ((last_year.label, qvals(last_year, None)), (this_year.label, qvals(this_year, f.quarter))),
                      "column", what))
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
                      "line", what))
    if unit == "Percentage":
        # a percentage axis runs from 0 to 100, not to the 120 an office suite picks for figures near 100
        specs = [replace(sp, y_min=0.0, y_max=100.0) for sp in specs]
    # a chart with no figure at all (a return not received, and no history) says nothing
    return [sp for sp in specs if any(v is not None for _, values in sp.series for v in values)]


def _values_row(a: Assessment) -> dict[str, Any]:
    f, unit = a.facts, a.indicator.unit
    cells: list[str] = []
    for _y, figs in f.years:
        if figs is None:
            held = any(p <= _y and getattr(v, f.figure) is not None for p, v in a.series.items())
            cells.append("-" if held else "New PI")
        else:
            cells.append(fmt_figures(figs, unit, f.dp))
    for q, figs in f.quarters:
        cells.append("" if q > f.quarter else (fmt_figures(figs, unit, f.dp) if figs else "-"))
    label = a.indicator.measure.row_label(ROW_LABELS.get(unit, ""))
    target = "No Target Set" if f.target is None else fmt(f.target, unit, dp=f.dp)
    if f.target_now is not None and f.target_now != f.target:
        in_force = f"Q{f.quarter.n}: {fmt(f.target_now, unit, dp=f.dp)}"
        target = in_force if f.target is None else f"{target} ({in_force})"
    note = a.indicator.measure.values_note
    if f.target_now is not None and f.target_now != f.target:
        note += f" In brackets: the target in force at Q{f.quarter.n} ({f.target_basis})."
    return {
        "years": [y.label for y, _ in f.years],
        "this_year": f.quarter.year.label,
        "row_label": label,
        "cells": cells,
        "target": target,
        "values_note": note,
    }


def build_context(settings: Settings, store: Store, catalogue: Catalogue, quarter: Period,
                  assessments: list[Assessment], tpl: Any = None, today: dt.date | None = None) -> dict[str, Any]:
    """The template's variables. Without a template (``tpl`` None) only the text: no charts and
    no marked regions. ``today`` is the date a missing return is reported as not received by."""
    from kpiflow.status import outstanding_returns, quarter_status

    today = today or dt.date.today()
    services = quarter_status(store, catalogue, quarter)
    returned = {s.service for s in services if s.state == "accepted"}
    exceptions: list[dict[str, Any]] = []
    summary: list[dict[str, str]] = []
    by_portfolio = {p: [a for a in assessments if a.verdict.exception and a.indicator.portfolio == p]
                    for p in catalogue.portfolios}
    for portfolio, items in by_portfolio.items():
        for i, a in enumerate(items):
            ind, f = a.indicator, a.facts
            texts = store.texts(ind.id, quarter) or ("", "")
            commentary = paragraphs(texts[0])
            response = paragraphs(texts[1])
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
            charts: Any = ""
            specs = chart_specs(a, settings.council) if tpl is not None else []
            if specs:
                charts = new_block(tpl)
                for spec in specs:
                    add_chart(charts, spec, settings.charts)
            breakdown = store.breakdown(ind.id, quarter)
            rag_word = f.rag or ("No figure" if f.current is None else "No target")
            reasons = list(reason_texts(a.verdict, ind.unit, f.dp))
            exceptions.append({
                "id": ind.id,
                "anchor": mark_anchor(ind.id),
                "portfolio_heading": portfolio.upper() if i == 0 else "",
                "portfolio": portfolio,
                "description": ind.name,
                "better": ind.better,
                **_values_row(a),
                "commentary": commentary,
                "commentary_block": marked_block(tpl, ind.id, "commentary", commentary) if tpl else "",
                "commentary_drafted": drafted,
                "charts": charts,
                "response": response,
                "response_block": marked_block(tpl, ind.id, "response", response) if tpl else "",
                "breakdown": [{"category": c, "number": fmt_number(n)} for c, n in breakdown],
                "breakdown_title": f"Breakdown at {quarter.short}" if breakdown else "",
                "reasons": reasons,
                "rag": rag_word,
            })
            summary.append({
                "id": ind.id, "description": ind.name, "portfolio": portfolio,
                "vs_previous": f.vs_previous or "-", "vs_last_year": f.vs_last_year or "-",
                "previous_symbol": SYMBOLS.get(f.vs_previous or "", ""),
                "last_year_symbol": SYMBOLS.get(f.vs_last_year or "", ""),
                "rag": rag_word, "rag_fill": RAG_FILLS.get(f.rag or "", "FFFFFF"),
                # capitalised without lowering the rest: "Amber", "England" and "Q2" stay as they are
                "reason": sentence_case("; ".join(reasons)),
            })
    outstanding = outstanding_returns(services, assessments)
    r = settings.rules
    return {
        "council": settings.council,
        "title": report_title(quarter),
        "quarter": quarter.label,
        "quarter_short": quarter.short,
        "rule_text": RULE_TEXT[r.exception],
        "no_change_percent": fmt_number(r.no_change_percent),
        "tolerance_percent": fmt_number(r.tolerance_percent),
        "summary": summary,
        "exceptions": exceptions,
        "exception_count": len(exceptions),
        "report_date": long_date(today),
        "outstanding": [{"service": o.service, "state": o.state, "indicators": ", ".join(o.indicators),
                         "text": o.text(today, quarter)} for o in outstanding],
    }


def jinja_env() -> Any:
    import jinja2

    return jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=True)


def render_report(settings: Settings, store: Store, catalogue: Catalogue, quarter: Period,
                  template: Path | None = None, out: Path | None = None,
                  kept: Mapping[tuple[str, str], str] | None = None, today: dt.date | None = None) -> Path:
    """Write the draft report and return its path (a new name if a draft already exists).

    ``kept`` gives words to use instead of the store's, by (the indicator ID as a bookmark holds
    it, "commentary" or "response"): an officer's edits carried over from an earlier draft. The draft records where it
    came from in its document properties (see ``kpiflow.provenance``), and is written under a
    hidden name first, so that a full disk or a kill never leaves part of a draft under its name."""
    from jinja2 import TemplateError

    template = template or settings.template_path
    if not template.exists():
        raise KpiflowError(f"The report template {template} is missing. Run kpiflow init to get the shipped one.")
    assessments = assess(settings, store, catalogue, quarter)
    if not any(a.facts.current is not None for a in assessments):
        raise NoFiguresError(f"No figures have been received for {quarter.short}, so no report was written. Check "
                             f'the quarter: kpiflow status --quarter "{quarter.label}" shows which returns are in.')
    source: Store = _KeptTexts(store, kept) if kept else store   # type: ignore[assignment]
    try:
        tpl = open_template(template)
        context = build_context(settings, source, catalogue, quarter, assessments, tpl, today)
        tpl.render(context, jinja_env=jinja_env(), autoescape=True)
        number_drawings(tpl)
        set_properties(tpl.docx, report_title(quarter), settings.council)
    except TemplateError as exc:
        raise KpiflowError(f"The report template {template.name} has an error: {exc}. "
                           "Run kpiflow template check to find it.") from exc
    _record_provenance(tpl, store, catalogue, quarter, assessments, set(kept or ()))
    buf = io.BytesIO()
    tpl.save(buf)
    return _write_aside(buf.getvalue(), out or settings.drafts_dir / report_filename(quarter), replace=out is not None)


class _KeptTexts:
    """The store, except that ``texts`` answers with the kept words where there are any."""

    def __init__(self, store: Store, kept: Mapping[tuple[str, str], str]) -> None:
        self._store, self._kept = store, kept

    def texts(self, iid: str, quarter: Period) -> tuple[str, str] | None:
        stored = self._store.texts(iid, quarter) or ("", "")
        anchor = mark_anchor(iid)
        commentary, response = self._kept.get((anchor, "commentary")), self._kept.get((anchor, "response"))
        if commentary is None and response is None:
            return self._store.texts(iid, quarter)
        return (stored[0] if commentary is None else commentary, stored[1] if response is None else response)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _record_provenance(tpl: Any, store: Store, catalogue: Catalogue, quarter: Period,
                       assessments: list[Assessment], kept: set[tuple[str, str]]) -> None:
    """The draft's custom properties: its quarter, returns and figures, and hashes of the words
    kpiflow put in it (each marked region, and any text from the store that looks like a template
    tag). A region holding words ``kept`` from an earlier draft gets no hash: they are the
    officer's, and a later --keep-edits carries them again."""
    import datetime as dt

    from kpiflow.docx.checks import TEMPLATE_TAG
    from kpiflow.docx.harvest import paragraphs_of, regions
    from kpiflow.docx.props import set_properties
    from kpiflow.provenance import Provenance, accepted, fingerprint, short_hash

    document = tpl.docx
    body = paragraphs_of(document.element)
    marks = regions(body)
    texts = [p.text for p in body.paras]
    for rel in document.part.rels.values():
        if rel.reltype.endswith(("/header", "/footer")) and not rel.is_external:
            texts += [p.text for p in paragraphs_of(rel.target_part.element).paras]
    made = Provenance(
        quarter=quarter.label,
        made_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        figures=fingerprint(assessments, quarter),
        submissions={sid: s.sha256 for sid, s in accepted(store, catalogue, quarter).items()},
        regions={(mark_anchor(iid), kind): short_hash(text) for (iid, kind), text in marks.texts.items()
                 if (mark_anchor(iid), kind) not in kept},
        tag_like=frozenset(short_hash(tag) for text in texts for tag in TEMPLATE_TAG.findall(text)))
    set_properties(document.part.package, made.to_properties())


def _write_aside(data: bytes, dest: Path, replace: bool = False) -> Path:
    """Write ``data`` under a hidden name beside ``dest``, then give it ``dest`` (or, unless
    ``replace``, the next free name): never a part-written file under a real name."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    while True:
        if not replace:
            dest = unique_path(dest.parent, dest.name)
        part = part_path(dest)
        try:
            if replace:
                with part.open("wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(part, dest)
                return dest
            if write_new(dest, data):
                return dest
        except OSError as exc:
            part.unlink(missing_ok=True)
            raise KpiflowError(f"The draft could not be written ({exc.strerror or exc}: {dest}). Nothing was written "
                               "under its name. Make room (or fix the folder's permissions) and run kpiflow report "
                               "again.") from exc


@dataclass
class ReportResult:
    """What ``kpiflow report`` did: the draft written, or the problems that stopped it."""

    ok: bool
    path: Path | None = None
    lines: list[str] = field(default_factory=list)
    checks: ValidationResult | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "path": str(self.path) if self.path else None, "lines": self.lines,
                "checks": self.checks.to_dict() if self.checks else None}


def make_report(settings: Settings, quarter: Period, keep_edits: Path | None = None) -> ReportResult:
    """``kpiflow report``: the draft for the quarter from the working folder's catalogue and store;
    with ``keep_edits``, carrying over the commentary and service responses an officer edited in
    that earlier draft."""
    from kpiflow.catalogue import load_checked_catalogue
    from kpiflow.store import open_store

    catalogue = load_checked_catalogue(settings)
    with open_store(settings) as store:
        if keep_edits is None:
            path = render_report(settings, store, catalogue, quarter)
            return ReportResult(True, path, [f"Draft report: {path}"])
        from kpiflow.keep_edits import kept_edits

        kept = kept_edits(keep_edits, quarter)
        if not kept.checks.ok:
            return ReportResult(False, None, [f"Reading the edits in {keep_edits.name}",
                                              *(f"  {p.message} [{p.code}]" for p in kept.checks.problems),
                                              "No draft was written."], kept.checks)
        path = render_report(settings, store, catalogue, quarter, kept=kept.texts)
        exceptions = [a.indicator for a in assess(settings, store, catalogue, quarter) if a.verdict.exception]
        said = kept.summary(exceptions, keep_edits.name, catalogue.indicators)
        return ReportResult(True, path, [f"Draft report: {path}", *said])
