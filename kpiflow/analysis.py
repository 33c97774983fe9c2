"""Facts and verdicts for every indicator of a quarter, read from the store: the one place where
the store, the catalogue and the pure trend functions meet."""

from __future__ import annotations

from dataclasses import dataclass

from kpiflow.catalogue import Catalogue, Indicator
from kpiflow.periods import Period
from kpiflow.rules import Verdict, evaluate
from kpiflow.settings import Settings
from kpiflow.store import Store
from kpiflow.trends import Facts, Series, facts


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
    for ind in catalogue.indicators:
        if indicator_ids and ind.id not in indicator_ids:
            continue
        series = store.series(ind.id)
        targets = {y: t for (iid, y), t in catalogue.targets.items() if iid == ind.id}
        f = facts(ind, series, quarter, targets, r.tolerance_percent, r.no_change_percent, r.projection_points)
        out.append(Assessment(ind, f, evaluate(f, r.exception), series))
    return out
