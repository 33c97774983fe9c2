"""Where a quarter stands (returns in, missing, rejected; the exceptions so far) and the audit trail."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from kpiflow.assess import Assessment, assess
from kpiflow.catalogue import load_checked_catalogue
from kpiflow.errors import KpiflowError
from kpiflow.fmt import long_date
from kpiflow.model import Catalogue
from kpiflow.narrative import reason_texts
from kpiflow.periods import Period
from kpiflow.settings import Settings
from kpiflow.store import HeldFigures, Revision, Store, Submission, open_store


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
class Outstanding:
    """A service whose return for the quarter is not in (none received, or rejected and not sent
    again), and its indicators that therefore have no figure: none of them can be assessed."""

    service: str
    state: str                      # "missing" or "rejected"
    indicators: tuple[str, ...]
    received_at: str = ""           # when the rejected return arrived

    def text(self, by: dt.date, quarter: Period) -> str:
        """The sentence the report's first page and ``kpiflow status`` print."""
        ids = list(self.indicators)
        listed = ", ".join(ids[:-1]) + f" and {ids[-1]}" if len(ids) > 1 else ids[0]
        have = "has no figure" if len(ids) == 1 else "have no figures"
        if self.state == "rejected":
            when = f" on {long_date(dt.date.fromisoformat(self.received_at[:10]))}" if self.received_at else ""
            why = f"the return received{when} was rejected and has not been sent again"
        else:
            why = f"no return received by {long_date(by)}"
        return f"{self.service}: {why}, so {listed} {have} for {quarter.short}."


def outstanding_returns(services: list[ServiceStatus], assessments: list[Assessment]) -> list[Outstanding]:
    """Services with no accepted return for the quarter whose indicators lack figures, in catalogue order.

    A service whose figures all arrived some other way (loaded history) is not outstanding."""
    out: list[Outstanding] = []
    for s in services:
        if s.state not in ("missing", "rejected"):
            continue
        ids = tuple(a.indicator.id for a in assessments
                    if a.indicator.service == s.service and a.facts.current is None)
        if ids:
            out.append(Outstanding(s.service, s.state, ids, s.received_at if s.state == "rejected" else ""))
    return out


@dataclass(frozen=True)
class QuarterStatus:
    """What ``kpiflow status`` shows."""

    quarter: Period
    state: str
    services: tuple[ServiceStatus, ...]
    exceptions: tuple[Assessment, ...]
    outstanding: tuple[Outstanding, ...] = ()
    today: dt.date = dt.date(2000, 1, 1)

    def to_dict(self) -> dict[str, Any]:
        return {"quarter": self.quarter.label, "state": self.state,
                "services": [asdict(s) for s in self.services],
                "exceptions": [{"id": a.indicator.id, "reasons": [r.to_dict() for r in a.verdict.reasons],
                                "why": list(reason_texts(a.verdict, a.indicator.unit, a.facts.dp))}
                               for a in self.exceptions],
                "outstanding": [{**asdict(o), "text": o.text(self.today, self.quarter)} for o in self.outstanding]}

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
        rows = quarter_status(store, catalogue, quarter)
        assessments = assess(settings, store, catalogue, quarter)
        state = store.quarter_state(quarter)
    exceptions = [a for a in assessments if a.verdict.exception]
    return QuarterStatus(quarter, state, tuple(rows), tuple(exceptions), tuple(outstanding_returns(rows, assessments)),
                         today or dt.date.today())


def _exact(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


@dataclass(frozen=True)
class AuditTrail:
    """What ``kpiflow history`` shows: submissions and revisions of figures."""

    submissions: tuple[Submission, ...]
    revisions: tuple[Revision, ...]
    figures: tuple[HeldFigures, ...] = ()      # with --indicator: every period held, current figures
    imports: tuple[dict[str, Any], ...] = ()    # kpiflow history import runs (the whole trail only)

    def to_dict(self) -> dict[str, Any]:
        return {"submissions": [asdict(s) for s in self.submissions], "revisions": [asdict(r) for r in self.revisions],
                "figures": [asdict(f) for f in self.figures], "imports": list(self.imports)}

    def lines(self) -> list[str]:
        out = []
        if self.figures:
            n = len(self.figures)
            out.append(f"Figures held for {self.figures[0].indicator_id}: {n} period{'s' * (n != 1)} (the current "
                       "figures; earlier values are listed as revisions below)")
            for f in self.figures:
                parts = [f"{name} {_exact(v)}" for name, v in (("number", f.number), ("rate", f.rate),
                                                              ("statistical neighbours", f.statneigh),
                                                              ("England", f.england)) if v is not None]
                out.append(f"  {f.period}: {', '.join(parts)} ({f.source}, {f.recorded_at})")
        for s in self.submissions:
            extra = f", superseded by #{s.superseded_by}" if s.superseded_by else ""
            out.append(f"#{s.id} {s.received_at} {s.service or '?'} {s.quarter or '?'} {s.outcome}{extra}: "
                       f"{s.file_name} (completed by {s.completed_by or 'unknown'}, sha256 {s.sha256[:12]})")
        for i in self.imports:
            out.append(f"import #{i['id']} {i['imported_at']} {i['file_name']}: {i['rows_read']} rows, "
                       f"{i['rows_written']} stored (sha256 {i['sha256'][:12]})")
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
    if indicator:
        found = catalogue.get(indicator)
        if found is None:
            raise KpiflowError(f'--indicator: "{indicator}" is not an indicator in the catalogue. Use one of: '
                               + ", ".join(i.id for i in catalogue.indicators) + ".")
        indicator = found.id     # as the catalogue spells it: IDs are matched ignoring case
    with open_store(settings) as store:
        subs = store.submissions(service) if not indicator else []
        ids = [indicator] if indicator else [i.id for i in (catalogue.for_service(service) if service
                                                             else catalogue.indicators)]
        held = store.held(indicator) if indicator else []
        imports = store.history_imports() if not (service or indicator) else []
        return AuditTrail(tuple(subs), tuple(store.revisions(ids)), tuple(held), tuple(imports))
