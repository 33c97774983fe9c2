"""Facts and verdicts for every indicator of a quarter, read from the store: the one place where
the store, the catalogue and the pure trend functions meet."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kpiflow.model import Catalogue, Indicator, Series
from kpiflow.periods import Period
from kpiflow.rules import Reason, Verdict, evaluate
from kpiflow.settings import Settings
from kpiflow.store import Store
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
        targets = {y: t for (iid, y), t in catalogue.targets.items() if iid == ind.id}
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
