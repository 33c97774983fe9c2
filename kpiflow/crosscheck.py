"""Checks of a return against the history already stored: rates against their numbers, big
changes, and a service response for every indicator that will be an exception.

These sit above the trend core (they ask the rules what the report will say); ``validate`` stays
about the workbook itself, and ``pipeline`` composes the two.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kpiflow.fmt import fmt
from kpiflow.model import Catalogue, Figures, ReturnData
from kpiflow.narrative import reason_text
from kpiflow.periods import Period
from kpiflow.problems import ValidationResult
from kpiflow.rules import evaluate
from kpiflow.settings import Rules
from kpiflow.trends import facts, outturn

JUMP_PERCENT = 50         # a bigger move from the previous quarter is worth a second look
BASE_TOLERANCE = 10       # percent: how far the population implied by a rate may move in a quarter


@dataclass(frozen=True)
class History:
    """What the store already holds, for checks that compare a return with earlier periods."""

    series: Callable[[str], Mapping[Period, Figures]]
    rules: Rules


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
        if ind.has_number and ind.has_rate and figs.number and figs.rate and ind.rate_per:
            base = figs.number / figs.rate * ind.rate_per
            earlier = sorted((p for p, f in stored.items() if p < quarter and f.number and f.rate), reverse=True)
            if earlier:
                f0 = stored[earlier[0]]
                base0 = (f0.number or 0) / (f0.rate or 1) * ind.rate_per
                if base0 and abs(base - base0) / base0 * 100 > BASE_TOLERANCE:
                    result.error("rate-inconsistent", f"A rate of {fmt(figs.rate, ind.unit, 'rate')} for "
                                 f"{fmt(figs.number, ind.unit, 'number')} implies a population of {base:,.0f}, but "
                                 f"{earlier[0].short} implies {base0:,.0f}. Check the number and the rate (per "
                                 f"{ind.rate_per:,.0f}).", "Return", row.cells.get("Rate", ""), ind.id)
        figure = ind.primary
        now = figs.rate if figure == "rate" else figs.number
        before = outturn(stored, quarter.step(-1), figure, ind.measure)
        if now is not None and before:
            change = (now - before) / before * 100
            if abs(change) > JUMP_PERCENT:
                word = "higher" if change > 0 else "lower"
                result.warning("big-change", f"{fmt(now, ind.unit)} is {abs(change):.0f}% {word} than at "
                               f"{quarter.step(-1).short} ({fmt(before, ind.unit)}). Check it, and explain the change "
                               "in Commentary.", "Return", row.cells.get("Rate" if figure == "rate" else "Number", ""),
                               ind.id)
        if row.response:
            continue
        merged = dict(stored)
        if not figs.is_empty():
            merged[quarter] = figs
        for s_row in data.support:
            if s_row.indicator_id == ind.id:
                merged[s_row.period] = s_row.figures
        targets = catalogue.targets_for(ind.id)
        r = history.rules
        verdict = evaluate(facts(ind, merged, quarter, targets, r.tolerance_percent, r.no_change_percent,
                                 r.projection_points), r.exception)
        if verdict.exception:
            result.error("missing-response", f"This indicator will be reported as an exception ({reason_text(verdict.reasons[0], ind.unit)}), "
                         "so it needs a service response: say what the service is doing about it.", "Return",
                         row.cells.get("Service response", ""), ind.id)
