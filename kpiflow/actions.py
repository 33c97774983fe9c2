"""One function per command: what the CLI calls, and what a Python caller can call directly."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kpiflow.catalogue import load_catalogue
from kpiflow.errors import KpiflowError
from kpiflow.files import safe_name
from kpiflow.fmt import fmt_figures
from kpiflow.model import Catalogue, Figures
from kpiflow.periods import Period, parse_period
from kpiflow.problems import ValidationResult
from kpiflow.settings import Settings
from kpiflow.store import Store
from kpiflow.trends import comparator, outturn


class CatalogueInvalid(KpiflowError):
    def __init__(self, result: ValidationResult) -> None:
        super().__init__(f"The catalogue has errors; run kpiflow catalogue check.\n{result.render_text()}")
        self.result = result


def check_catalogue(settings: Settings) -> tuple[Catalogue, ValidationResult]:
    if not settings.catalogue_path.exists():
        raise KpiflowError(f"There is no catalogue at {settings.catalogue_path}. Run kpiflow init, or use --home to "
                           "point at your working folder.")
    return load_catalogue(settings.catalogue_path)


def load_checked_catalogue(settings: Settings) -> Catalogue:
    catalogue, result = check_catalogue(settings)
    if not result.ok:
        raise CatalogueInvalid(result)
    return catalogue


def open_store(settings: Settings) -> Store:
    if not (settings.home / "inbox").is_dir() and not settings.db_path.exists():
        raise KpiflowError(f"{settings.home} is not a kpiflow working folder (no inbox/). Run kpiflow init DIR, or "
                           "use --home.")
    return Store(settings.db_path)


def history_headers(quarter: Period) -> list[str]:
    """The read-only context columns of an issued return."""
    heads = [quarter.year.step(-2).label, quarter.year.step(-1).label]
    heads += [q.label for q in quarter.year.quarters() if q < quarter]
    heads.append(quarter.same_last_year().label)
    return list(dict.fromkeys(heads))


def _figures_at(series: dict[Period, Figures], period: Period, measure: str) -> Figures | None:
    f = Figures(outturn(series, period, "number", measure), outturn(series, period, "rate", measure),
                comparator(series, period, "statneigh"), comparator(series, period, "england"))
    return None if f.number is None and f.rate is None else f


def issue_returns(settings: Settings, store: Store, catalogue: Catalogue, quarter: Period,
                  service: str | None = None) -> list[Path]:
    """Write outbox/returns/<Service>_<year>_Q<n>.xlsx for each service (or the one named)."""
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
            history = {}
            for h in heads:
                figs = _figures_at(series, parse_period(h), ind.measure)
                history[h] = fmt_figures(figs, ind.unit) if figs else ""
            rows.append(ReturnContext(ind, catalogue.target(ind.id, quarter.year.label), history,
                                      store.last_response(ind.id, quarter)))
            seeds += [BreakdownSeed(ind.id, c) for c in store.latest_breakdown_categories(ind.id, quarter)]
        dest = settings.returns_dir / safe_name(f"{svc}_{quarter.file_label}.xlsx")
        settings.returns_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=settings.returns_dir, suffix=".tmp")
        os.close(fd)
        write_return(Path(tmp), svc, quarter, rows, heads, seeds)
        os.replace(tmp, dest)
        store.record_issue(svc, quarter, dest.name)
        written.append(dest)
    return written


@dataclass(frozen=True)
class ServiceStatus:
    service: str
    issued: str
    state: str            # accepted | rejected | missing
    received_at: str
    completed_by: str
    file_name: str
    detail: str


def quarter_status(store: Store, catalogue: Catalogue, quarter: Period) -> list[ServiceStatus]:
    issued = store.issued(quarter)
    out: list[ServiceStatus] = []
    for svc in catalogue.services:
        subs = [s for s in store.submissions(svc, quarter) if s.outcome != "duplicate"]
        accepted = store.accepted_submission(svc, quarter)
        if accepted:
            out.append(ServiceStatus(svc, issued.get(svc, ""), "accepted", accepted.received_at, accepted.completed_by,
                                     accepted.file_name, f"{accepted.warnings} warning(s)" if accepted.warnings else ""))
        elif subs:
            last = subs[-1]
            first = last.problems[0] if last.problems else {}
            why = f"{last.errors} problem(s), first: {first.get('location', '')} {first.get('message', '')}".strip()
            out.append(ServiceStatus(svc, issued.get(svc, ""), "rejected", last.received_at, last.completed_by,
                                     last.file_name, why))
        else:
            out.append(ServiceStatus(svc, issued.get(svc, ""), "missing", "", "", "", ""))
    return out


def submission_history(store: Store, service: str | None = None) -> list[dict[str, Any]]:
    return [s.__dict__ for s in store.submissions(service)]
