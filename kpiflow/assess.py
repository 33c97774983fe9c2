"""Facts and verdicts for every indicator of a quarter, read from the store: the one place where
the store, the catalogue and the pure trend functions meet."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kpiflow.catalogue import load_checked_catalogue
from kpiflow.errors import KpiflowError
from kpiflow.fmt import fmt
from kpiflow.model import Catalogue
from kpiflow.narrative import reason_texts
from kpiflow.periods import Period
from kpiflow.rules import Assessment, Reason, Verdict, evaluate
from kpiflow.settings import Settings
from kpiflow.store import Store, open_store
from kpiflow.trends import Facts, facts

__all__ = ["Assessment", "Explanation", "assess", "explain", "frozen_statuses"]   # Assessment: kpiflow.rules


def assess(settings: Settings, store: Store, catalogue: Catalogue, quarter: Period,
           indicator_ids: list[str] | None = None) -> list[Assessment]:
    """Every catalogue indicator (or the ones asked for), in catalogue order."""
    out: list[Assessment] = []
    r = settings.rules
    frozen = frozen_statuses(store, quarter)
    wanted = [i for i in catalogue.indicators if not indicator_ids or i.id in indicator_ids]
    held = store.all_series([i.id for i in wanted]) if len(wanted) > 1 else {i.id: store.series(i.id) for i in wanted}
    for ind in wanted:
        series = held[ind.id]
        f = facts(ind, series, quarter, catalogue.targets_for(ind.id), r.tolerance_percent, r.no_change_percent,
                  r.projection_points, catalogue.profiles_for(ind.id))
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
            pc, lc = f.prev_cmp, f.ly_cmp
            out.append({"id": a.indicator.id, **a.verdict.to_dict(),
                        "why": list(reason_texts(a.verdict, a.indicator.unit, f.dp)),
                        "current": f.current, "previous": f.previous, "last_year": f.last_year,
                        "compared_with_previous": [pc.now, pc.then, pc.basis] if pc else None,
                        "compared_with_last_year": [lc.now, lc.then, lc.basis] if lc else None,
                        "to_date": f.to_date, "target": f.target, "target_in_force": f.target_now,
                        "target_basis": f.target_basis, "rag": f.rag, "previous_rag": f.previous_rag,
                        "vs_previous": f.vs_previous, "vs_last_year": f.vs_last_year,
                        "comparator_year": f.gap_year.label if f.gap_year else None,
                        "statistical_neighbours": f.statneigh, "england": f.england, "gap_trend": f.gap_trend,
                        "forecast": f.forecast.value if f.forecast else None,
                        "projection": pr.reaches.label if pr and pr.reaches and pr.outlook == "reaches" else None})
        return out

    def lines(self) -> list[str]:
        out = []
        for a in self.assessments:
            f, unit = a.facts, a.indicator.unit

            def n(v: float | None, f: Facts = f, unit: str = unit) -> str:
                return fmt(v, unit, dp=f.dp)

            verdict = "exception" if a.verdict.exception else "not an exception"
            out.append(f"{a.indicator.id} {a.indicator.name}")
            out.append(f"  {verdict}: {'; '.join(reason_texts(a.verdict, unit, f.dp))}")
            pc, lc = f.prev_cmp, f.ly_cmp
            if pc is not None and lc is not None:
                what = "" if pc.basis == "value" else f" ({pc.basis})"
                out.append(f"  {self.quarter.short}{what}: {n(pc.now)}; {f.previous_period.short}: {n(pc.then)} "
                           f"({f.vs_previous or '-'})")
                what = "" if lc.basis == "value" else f" ({lc.basis})"
                out.append(f"  {self.quarter.short}{what}: {n(lc.now)}; {f.last_year_period.short}: {n(lc.then)} "
                           f"({f.vs_last_year or '-'})")
            target = "No Target Set" if f.target is None else n(f.target)
            if f.target_now is not None and f.target_now != f.target:
                target += f" (in force at {self.quarter.short}, {f.target_basis}: {n(f.target_now)})"
            to_date = f"; year to date {n(f.to_date)}" if f.to_date != f.current and f.to_date is not None else ""
            out.append(f"  target: {target}{to_date}{f' ({f.rag})' if f.rag else ''}")
            if f.gap_year is not None:
                out.append(f"  {f.gap_year.label}: statistical neighbours {n(f.statneigh)}; England {n(f.england)}"
                           + "".join(f"; gap to {k} {v}" for k, v in f.gap_trend.items()))
            if f.forecast is not None:
                out.append(f"  forecast for the year end: {n(f.forecast.value)} ({f.forecast.basis})")
            if f.projection is not None:
                pr = f.projection
                out.append("  projection: " + (f"reaches {pr.comparator} by {pr.reaches.quarter.short}"
                                               if pr.reaches and pr.outlook == "reaches" else
                                               pr.outlook or f"none ({pr.note or 'already there'})"))
        return out


def explain(settings: Settings, quarter: Period, indicator: str | None = None) -> Explanation:
    """``kpiflow explain``: why each indicator (or the one named) is, or is not, an exception."""
    catalogue = load_checked_catalogue(settings)
    if indicator and catalogue.get(indicator) is None:
        raise KpiflowError(f'"{indicator}" is not an indicator in the catalogue')
    with open_store(settings) as store:
        return Explanation(quarter, tuple(assess(settings, store, catalogue, quarter,
                                                 [indicator] if indicator else None)))
