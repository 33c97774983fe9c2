"""Issue the quarter's returns workbooks: one per service, pre-filled from the catalogue and the store."""

from __future__ import annotations

import os
from pathlib import Path

from kpiflow.catalogue import load_checked_catalogue
from kpiflow.errors import KpiflowError
from kpiflow.filing import create_temp, safe_name_ending
from kpiflow.fmt import fmt_figures
from kpiflow.model import Catalogue
from kpiflow.periods import Period, parse_period
from kpiflow.settings import Settings
from kpiflow.store import Store, open_store
from kpiflow.trends import figures_at, published, target_in_force


def history_headers(quarter: Period) -> list[str]:
    """The read-only context columns of an issued return."""
    heads = [quarter.year.step(-2).label, quarter.year.step(-1).label]
    heads += [q.label for q in quarter.year.quarters() if q < quarter] or [quarter.step(-1).label]  # Q1: last Q4
    heads.append(quarter.same_last_year().label)
    return list(dict.fromkeys(heads))


def issue_returns(settings: Settings, store: Store, catalogue: Catalogue, quarter: Period,
                  service: str | None = None) -> list[Path]:
    """Write outbox/returns/<Service>_<year>_Q<n>.xlsx for each service (or the one named)."""
    from kpiflow.cycle import due_date
    from kpiflow.workbook.build import BreakdownSeed, ReturnContext, write_return

    if service is not None:
        name = catalogue.service_name(service)
        if name is None:
            raise KpiflowError(f'"{service}" is not a service in the catalogue. Services: ' + ", ".join(catalogue.services))
        services = [name]
    else:
        services = catalogue.services
    heads = history_headers(quarter)
    written: list[Path] = []
    for svc in services:
        rows: list[ReturnContext] = []
        seeds: list[BreakdownSeed] = []
        for ind in catalogue.for_service(svc):
            series = store.series(ind.id)
            known = published(series)
            history = {}
            for h in heads:
                figs = figures_at(series, parse_period(h), ind.measure, known)
                history[h] = fmt_figures(figs, ind.unit) if figs else ""
            year = quarter.year.label
            target = catalogue.target(ind.id, year)
            in_force, _ = target_in_force(target, catalogue.profiles_for(ind.id).get(year), quarter, ind.measure)
            rows.append(ReturnContext(ind, target, history, store.last_response(ind.id, quarter), in_force))
            seeds += [BreakdownSeed(ind.id, c) for c in store.latest_breakdown_categories(ind.id, quarter)]
        # the quarter is never the part cut from a long name: quarters must not overwrite each other
        dest = settings.returns_dir / safe_name_ending(svc, f"_{quarter.file_label}.xlsx")
        tmp = create_temp(settings.returns_dir)    # follows the umask, unlike mkstemp's 0600
        try:
            write_return(tmp, svc, quarter, rows, heads, seeds, due=due_date(quarter, settings.cycle))
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        store.record_issue(svc, quarter, dest.name)
        written.append(dest)
    return written


def issue(settings: Settings, quarter: Period, service: str | None = None) -> list[Path]:
    """``kpiflow issue``: the working folder's catalogue and store, one workbook per service."""
    catalogue = load_checked_catalogue(settings)
    with open_store(settings) as store:
        return issue_returns(settings, store, catalogue, quarter, service)
