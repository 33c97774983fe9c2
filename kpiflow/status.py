"""Where a quarter stands (returns in, missing, rejected; the exceptions so far) and the audit trail."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from kpiflow.assess import Assessment, assess
from kpiflow.catalogue import load_checked_catalogue
from kpiflow.fmt import fmt_number
from kpiflow.model import Catalogue
from kpiflow.narrative import reason_texts
from kpiflow.periods import Period
from kpiflow.settings import Settings
from kpiflow.store import Revision, Store, Submission, open_store


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


@dataclass(frozen=True)
class QuarterStatus:
    """What ``kpiflow status`` shows."""

    quarter: Period
    state: str
    services: tuple[ServiceStatus, ...]
    exceptions: tuple[Assessment, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"quarter": self.quarter.label, "state": self.state,
                "services": [asdict(s) for s in self.services],
                "exceptions": [{"id": a.indicator.id, "reasons": [r.to_dict() for r in a.verdict.reasons],
                                "why": list(reason_texts(a.verdict, a.indicator.unit))} for a in self.exceptions]}

    def exception_lines(self) -> list[str]:
        return [f"Exceptions so far: {len(self.exceptions)}"] + [
            f"  {a.indicator.id} {a.indicator.name}: {'; '.join(reason_texts(a.verdict, a.indicator.unit))}"
            for a in self.exceptions]


def status(settings: Settings, quarter: Period) -> QuarterStatus:
    """``kpiflow status``: per service, and the exceptions so far."""
    catalogue = load_checked_catalogue(settings)
    with open_store(settings) as store:
        rows = quarter_status(store, catalogue, quarter)
        exceptions = [a for a in assess(settings, store, catalogue, quarter) if a.verdict.exception]
        state = store.quarter_state(quarter)
    return QuarterStatus(quarter, state, tuple(rows), tuple(exceptions))


@dataclass(frozen=True)
class AuditTrail:
    """What ``kpiflow history`` shows: submissions and revisions of figures."""

    submissions: tuple[Submission, ...]
    revisions: tuple[Revision, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"submissions": [asdict(s) for s in self.submissions], "revisions": [asdict(r) for r in self.revisions]}

    def lines(self) -> list[str]:
        out = []
        for s in self.submissions:
            extra = f", superseded by #{s.superseded_by}" if s.superseded_by else ""
            out.append(f"#{s.id} {s.received_at} {s.service or '?'} {s.quarter or '?'} {s.outcome}{extra}: "
                       f"{s.file_name} (completed by {s.completed_by or 'unknown'}, sha256 {s.sha256[:12]})")
        for r in self.revisions:
            who = f", completed by {r.by}" if r.by else ""
            old, new = (fmt_number(v) if v is not None else "blank" for v in (r.old, r.new))
            out.append(f"revision {r.recorded_at} {r.indicator_id} {r.period} {r.figure}: {old} -> {new} "
                       f"({r.source}{who})")
        return out or ["No history yet."]


def audit_trail(settings: Settings, service: str | None = None, indicator: str | None = None) -> AuditTrail:
    """``kpiflow history``: every submission (or one service's) and every revision of a figure."""
    catalogue = load_checked_catalogue(settings)
    with open_store(settings) as store:
        subs = store.submissions(service) if not indicator else []
        ids = [indicator] if indicator else [i.id for i in (catalogue.for_service(service) if service
                                                             else catalogue.indicators)]
        return AuditTrail(tuple(subs), tuple(store.revisions(ids)))
