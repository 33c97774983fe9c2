"""Where a quarter stands (returns in, missing, rejected; the exceptions so far) and the audit trail."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from kpiflow.catalogue import load_checked_catalogue
from kpiflow.narrative import reason_texts
from kpiflow.periods import Period
from kpiflow.report.context import Outstanding, ServiceStatus, Standing, outstanding_returns, standing
from kpiflow.report.gather import gather, quarter_status
from kpiflow.rules import Assessment
from kpiflow.settings import Settings
from kpiflow.store import Revision, Submission, open_store

# where a quarter's returns stand is read with the rest of the quarter (kpiflow.report.gather)
__all__ = ["AuditTrail", "Outstanding", "QuarterStatus", "ServiceStatus", "audit_trail", "outstanding_returns",
           "quarter_status", "status"]


@dataclass(frozen=True)
class QuarterStatus:
    """What ``kpiflow status`` shows."""

    quarter: Period
    state: str
    services: tuple[ServiceStatus, ...]
    exceptions: tuple[Assessment, ...]
    outstanding: tuple[Outstanding, ...] = ()
    today: dt.date = dt.date(2000, 1, 1)
    # every indicator's RAG, direction against last year and forecast state, as the report's overview has them
    standings: tuple[tuple[str, Standing], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"quarter": self.quarter.label, "state": self.state,
                "services": [asdict(s) for s in self.services],
                "exceptions": [{"id": a.indicator.id, "reasons": [r.to_dict() for r in a.verdict.reasons],
                                "why": list(reason_texts(a.verdict, a.indicator.unit, a.facts.dp))}
                               for a in self.exceptions],
                "outstanding": [{**asdict(o), "text": o.text(self.today, self.quarter)} for o in self.outstanding],
                "indicators": [{"id": iid, **st.to_dict()} for iid, st in self.standings]}

    def exception_lines(self) -> list[str]:
        lines = [f"Exceptions so far: {len(self.exceptions)}"] + [
            f"  {a.indicator.id} {a.indicator.name}: {'; '.join(reason_texts(a.verdict, a.indicator.unit, a.facts.dp))}"
            for a in self.exceptions]
        if self.outstanding:
            n = sum(len(o.indicators) for o in self.outstanding)
            lines.append(f"Not assessed, because their returns are not in: {n} indicator{'s' * (n != 1)}")
            lines += [f"  {o.text(self.today, self.quarter)}" for o in self.outstanding]
        return lines


def status(settings: Settings, quarter: Period, today: dt.date | None = None) -> QuarterStatus:
    """``kpiflow status``: per service, the exceptions so far, and the returns not in."""
    catalogue = load_checked_catalogue(settings)
    with open_store(settings) as store:
        snap = gather(settings, store, catalogue, quarter, words=False)
    return QuarterStatus(quarter, snap.state, snap.services, snap.exceptions, snap.outstanding,
                         today or dt.date.today(),
                         tuple((a.indicator.id, standing(a, settings.rules.tolerance_percent)) for a in snap.assessments))


def _exact(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


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
            # the audit trail shows figures exactly as stored, without thousands separators or rounding
            old, new = (_exact(v) if v is not None else "blank" for v in (r.old, r.new))
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
