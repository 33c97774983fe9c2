"""Checks of a return against the history already stored: rates against their numbers, big
changes, and a service response for every indicator that will be an exception.

These sit above the trend core (they ask the rules what the report will say); ``validate`` stays
about the workbook itself, and ``pipeline`` composes the two.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from kpiflow.fmt import fmt
from kpiflow.measures import IN_QUARTER
from kpiflow.model import Catalogue, Figures, Indicator, ReturnData, ReturnRow
from kpiflow.periods import Period
from kpiflow.problems import ValidationResult
from kpiflow.rules import evaluate
from kpiflow.settings import Rules
from kpiflow.trends import Facts, facts

JUMP_PERCENT = 50         # a bigger move from the previous quarter is worth a second look
BASE_TOLERANCE = 10       # percent: how far the population implied by a rate may move in a quarter


@dataclass(frozen=True)
class History:
    """What the store already holds, for checks that compare a return with earlier periods."""

    series: Callable[[str], Mapping[Period, Figures]]
    rules: Rules
    # the words published for an indicator and quarter (paragraphs): what copied words are checked against
    published: Callable[[str, Period], Sequence[str]] | None = None


def _overlay(under: Mapping[Period, Figures], over: Mapping[Period, Figures]) -> dict[Period, Figures]:
    """Figures of ``over`` on top of ``under``, figure by figure (a blank figure does not hide one below)."""
    out = dict(under)
    for period, f in over.items():
        old = out.get(period, Figures())
        out[period] = Figures(*(n if n is not None else o for n, o in zip(
            (f.number, f.rate, f.statneigh, f.england), (old.number, old.rate, old.statneigh, old.england),
            strict=True)))
    return out


def _implied_base(figs: Figures, rate_per: float) -> float | None:
    if not figs.number or not figs.rate:
        return None
    return figs.number / figs.rate * rate_per


def check_against_history(data: ReturnData, catalogue: Catalogue, history: History,
                          result: ValidationResult) -> None:
    """Checks that need the stored figures: rates against numbers, big jumps, and a service
    response for every indicator that will be an exception."""
    quarter = data.quarter
    if quarter is None:
        return
    for row in data.rows:
        ind = catalogue.get(row.indicator_id)
        if ind is None:
            continue
        stored = dict(history.series(ind.id))
        figs = row.figures
        # the history the workbook was issued with, under what the store holds now (it may have been revised
        # since), under this return's Supporting data and figures
        issued = {s.period: s.figures for s in data.issued_history if s.indicator_id == ind.id}
        sent = {s.period: s.figures for s in data.support if s.indicator_id == ind.id}
        back = _overlay(issued, sent)
        merged = _overlay(_overlay(issued, stored), sent)
        for period, filed in row.observations(quarter):
            if period == quarter and not filed.is_empty():
                merged[quarter] = filed
            elif period != quarter:
                merged = _overlay(merged, {period: filed})   # comparators join the year's own figures
        _check_rate(ind, figs, stored, back, quarter, row.cells.get("Rate", ""), result)
        _check_jump(ind, figs, merged, quarter, row.cells, result)
        r = history.rules
        found = facts(ind, merged, quarter, catalogue.targets_for(ind.id), r.tolerance_percent, r.no_change_percent,
                      r.projection_points, catalogue.profiles_for(ind.id))
        _check_words(data, row, found, merged, history, result)
        if row.response:
            continue
        verdict = evaluate(found, r.exception)
        if verdict.exception:
            from kpiflow.narrative import reason_text  # only for an exception without its response

            why = reason_text(verdict.reasons[0], ind.unit)
            result.error("missing-response", f"This indicator will be reported as an exception: {why}. It needs a "
                         "service response: say what the service is doing about it.", "Return",
                         row.cells.get("Service response", ""), ind.id)


def _check_words(data: ReturnData, row: ReturnRow, found: Facts, merged: Mapping[Period, Figures], history: History,
                 result: ValidationResult) -> None:
    """The return's own commentary and service response against its figures (kpiflow proofread's
    checks), as warnings at their cells."""
    if not (row.commentary.strip() or row.response.strip()) or data.quarter is None:
        return
    from kpiflow.proofread import check_return_words

    quarter, iid = data.quarter, found.indicator.id
    breakdown = [(b.category, b.number) for b in data.breakdown if b.indicator_id == iid and b.period == quarter]
    previous = history.published(iid, quarter.step(-1)) if history.published else ()
    for finding in check_return_words(found, merged, row.commentary, row.response, breakdown, previous,
                                      history.rules.tolerance_percent, history.rules.no_change_percent):
        cell = row.cells.get("Commentary" if finding.region == "commentary" else "Service response", "")
        result.add(finding.problem("Return", cell))


def _check_rate(ind: Indicator, figs: Figures, stored: Mapping[Period, Figures], back: Mapping[Period, Figures],
                quarter: Period, cell: str, result: ValidationResult) -> None:
    """A rate must fit its number: the population it implies may move only a little from the latest
    earlier period's, taken from the store or, where the store has none, from the return's own back
    data (its Supporting data and the history it was issued with)."""
    if not (ind.has_number and ind.has_rate and ind.rate_per):
        return
    base = _implied_base(figs, ind.rate_per)
    if base is None:
        return
    for source in (stored, back):
        earlier = sorted((p for p, f in source.items() if p < quarter and _implied_base(f, 1.0)), reverse=True)
        if earlier:
            base0 = _implied_base(source[earlier[0]], ind.rate_per)
            if base0 and abs(base - base0) / base0 * 100 > BASE_TOLERANCE:
                result.error("rate-inconsistent", f"A rate of {fmt(figs.rate, ind.unit, 'rate')} for "
                             f"{fmt(figs.number, ind.unit, 'number')} implies a population of {base:,.0f}, but "
                             f"{earlier[0].short} implies {base0:,.0f}. Check the number and the rate (per "
                             f"{ind.rate_per:,.0f}).", "Return", cell, ind.id)
            return


def _check_jump(ind: Indicator, figs: Figures, merged: Mapping[Period, Figures], quarter: Period,
                cells: Mapping[str, str], result: ValidationResult) -> None:
    """A big move from the previous quarter, compared like with like: what a year-to-date number or
    rate added in each quarter, a Count's own amounts, values and year-to-date percentages as they are."""
    figure = ind.primary
    if (figs.rate if figure == "rate" else figs.number) is None:
        return
    cell = cells.get("Rate" if figure == "rate" else "Number", "")
    if any(p.code == "percentage-as-fraction" and p.cell == cell for p in result.problems):
        return      # "did you mean 85?" already says why it moved so far
    now, before, basis = ind.measure.previous_pair(merged, quarter, figure)
    if now is None or not before:
        return
    change = (now - before) / abs(before) * 100
    if abs(change) <= JUMP_PERCENT:
        return
    prev = quarter.step(-1).short
    if basis == IN_QUARTER:
        word = "more" if change > 0 else "less"
        what = (f"This quarter adds {fmt(now, ind.unit)} to the year to date, {abs(change):.0f}% {word} than "
                f"{prev} added ({fmt(before, ind.unit)})")
    else:
        word = "higher" if change > 0 else "lower"
        what = f"{fmt(now, ind.unit)} is {abs(change):.0f}% {word} than at {prev} ({fmt(before, ind.unit)})"
    result.warning("big-change", f"{what}. Check it, and explain the change in Commentary.", "Return",
                   cells.get("Rate" if figure == "rate" else "Number", ""), ind.id)
