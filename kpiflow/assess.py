"""Facts and verdicts for every indicator of a quarter, read from the store: the one place where
the store, the catalogue and the pure trend functions meet."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kpiflow.catalogue import load_checked_catalogue
from kpiflow.errors import KpiflowError
from kpiflow.fmt import fmt
from kpiflow.model import Catalogue, Indicator, Series
from kpiflow.narrative import reason_texts
from kpiflow.periods import Period
from kpiflow.rules import Reason, Verdict, evaluate
from kpiflow.settings import Settings
from kpiflow.store import Store, open_store
from kpiflow.trends import Facts, facts


@dataclass(frozen=True)
class Assessment:
    indicator: Indicator
    facts: Facts
    verdict: Verdict
    series: Series


def assess(settings: Settings, store: Store, catalogue: Catalogue, quarter: Period,
           indicator_ids: list[str] | None = None) -> list[Assessment]:
    """Every catalogue indicator (or the ones asked for), in catalogue order."""
    out: list[Assessment] = []
    r = settings.rules
    frozen = frozen_statuses(store, quarter)
    for ind in catalogue.indicators:
        if indicator_ids and ind.id not in indicator_ids:
            continue
        series = store.series(ind.id)
        targets = catalogue.targets_for(ind.id)
        f = facts(ind, series, quarter, targets, r.tolerance_percent, r.no_change_percent, r.projection_points)
        verdict = evaluate(f, r.exception)
        if ind.id in frozen:
            was = frozen[ind.id]
            verdict = Verdict(bool(was.get("exception", True)),
                              tuple(Reason.from_dict(x) for x in was.get("reasons", ())))
        out.append(Assessment(ind, f, verdict, series))
    return out


def frozen_statuses(store: Store, quarter: Period) -> dict[str, dict[str, Any]]:
    """The verdicts recorded when the quarter was published; empty while it is open."""
    if store.quarter_state(quarter) != "published":
        return {}
    events = [e for e in store.quarter_events(quarter) if e["event"] == "published"]
    try:
        detail = json.loads(events[-1]["detail"]) if events else {}
    except ValueError:
        return {}
    return {i["id"]: i for i in detail.get("indicators", []) if isinstance(i, dict) and "id" in i}


@dataclass(frozen=True)
class Explanation:
    """What ``kpiflow explain`` shows: each indicator's facts and the rule's verdict."""

    quarter: Period
    assessments: tuple[Assessment, ...]

    def to_dict(self) -> list[dict[str, Any]]:
        out = []
        for a in self.assessments:
            f, pr = a.facts, a.facts.projection
            out.append({"id": a.indicator.id, **a.verdict.to_dict(),
                        "why": list(reason_texts(a.verdict, a.indicator.unit)),
                        "current": f.current, "previous": f.previous, "last_year": f.last_year,
                        "target": f.target, "rag": f.rag, "vs_previous": f.vs_previous,
                        "vs_last_year": f.vs_last_year, "statistical_neighbours": f.statneigh,
                        "england": f.england, "gap_trend": f.gap_trend,
                        "projection": pr.reaches.label if pr and pr.reaches else None})
        return out

    def lines(self) -> list[str]:
        out = []
        for a in self.assessments:
            f, unit = a.facts, a.indicator.unit
            verdict = "exception" if a.verdict.exception else "not an exception"
            out.append(f"{a.indicator.id} {a.indicator.name}")
            out.append(f"  {verdict}: {'; '.join(reason_texts(a.verdict, unit))}")
            out.append(f"  {self.quarter.short}: {fmt(f.current, unit)}; {f.previous_period.short}: "
                       f"{fmt(f.previous, unit)} ({f.vs_previous or '-'}); {f.last_year_period.short}: "
                       f"{fmt(f.last_year, unit)} ({f.vs_last_year or '-'})")
            out.append(f"  target: {fmt(f.target, unit) if f.target is not None else 'No Target Set'}"
                       f"{f' ({f.rag})' if f.rag else ''}; statistical neighbours: {fmt(f.statneigh, unit)}; "
                       f"England: {fmt(f.england, unit)}")
            if f.projection is not None:
                pr = f.projection
                out.append("  projection: " + (f"reaches {pr.comparator} by {pr.reaches.quarter.short}" if pr.reaches
                                               else f"none ({pr.note})"))
        return out


def explain(settings: Settings, quarter: Period, indicator: str | None = None) -> Explanation:
    """``kpiflow explain``: why each indicator (or the one named) is, or is not, an exception."""
    catalogue = load_checked_catalogue(settings)
    if indicator and catalogue.get(indicator) is None:
        raise KpiflowError(f'"{indicator}" is not an indicator in the catalogue')
    with open_store(settings) as store:
        return Explanation(quarter, tuple(assess(settings, store, catalogue, quarter,
                                                 [indicator] if indicator else None)))
