"""Where a quarter stands (returns in, missing, rejected; the exceptions so far; the returns cycle) and the audit
trail."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from kpiflow.catalogue import load_checked_catalogue
from kpiflow.errors import KpiflowError
from kpiflow.fmt import exact
from kpiflow.narrative import reason_texts
from kpiflow.periods import Period
from kpiflow.report.context import Outstanding, ServiceStatus, Standing, outstanding_returns, standing
from kpiflow.report.gather import gather, quarter_status
from kpiflow.rules import Assessment
from kpiflow.settings import Settings
from kpiflow.store import HeldFigures, Message, Revision, SignOff, Store, Submission, open_store

# where a quarter's returns stand is read with the rest of the quarter (kpiflow.report.gather)
__all__ = ["AuditTrail", "Outstanding", "QuarterStatus", "ServiceStatus", "audit_trail", "cycle_columns",
           "outstanding_returns", "quarter_status", "status"]


def cycle_columns(store: Store, quarter: Period, settings: Settings, today: dt.date,
                  rows: list[ServiceStatus]) -> list[ServiceStatus]:
    """The returns cycle's columns for each service: due date, days to go, last message, sign-off."""
    from dataclasses import replace

    from kpiflow.cycle import days_to_go, due_date

    due = due_date(quarter, settings.cycle)
    left = days_to_go(today, due, settings.cycle.bank_holidays)
    out = []
    for r in rows:
        sent = [m for m in store.messages(r.service, quarter, state="sent")]
        last = sent[-1] if sent else None
        message = {"stage": last.kind, "at": last.sent_at, "to": [*last.to, *last.cc]} if last else None
        accepted = store.accepted_submission(r.service, quarter)
        decisions = [x for x in store.signoffs(r.service, quarter) if accepted and x.submission_id == accepted.id]
        so = decisions[-1] if decisions else None
        signoff = ({"event": so.event, "by": so.by, "at": so.at, "signed_on": so.signed_on, "how": so.how,
                    "note": so.note} if so else None)
        state, detail = r.state, r.detail
        if so is not None and so.event == "sent-back":
            state, detail = "rejected", f"sent back by {so.by}: {so.note}"
        elif r.state == "accepted" and settings.cycle.signoff and so is None:
            detail = "; ".join(x for x in (detail, "awaiting sign-off") if x)
        out.append(replace(r, state=state, detail=detail, due=due.isoformat(),
                           days_to_go=left if r.state != "accepted" else None,
                           last_message=message, signoff=signoff))
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
    """``kpiflow status``: per service, the exceptions so far, the returns not in, and the returns cycle."""
    catalogue = load_checked_catalogue(settings)
    today = today or dt.date.today()
    with open_store(settings) as store:
        snap = gather(settings, store, catalogue, quarter, words=False)
        rows = cycle_columns(store, quarter, settings, today, list(snap.services))
    return QuarterStatus(quarter, snap.state, tuple(rows), snap.exceptions, snap.outstanding, today,
                         tuple((a.indicator.id, standing(a, settings.rules.tolerance_percent)) for a in snap.assessments))


@dataclass(frozen=True)
class AuditTrail:
    """What ``kpiflow history`` shows: submissions and revisions of figures."""

    submissions: tuple[Submission, ...]
    revisions: tuple[Revision, ...]
    messages: tuple[Message, ...] = ()
    signoffs: tuple[SignOff, ...] = ()
    figures: tuple[HeldFigures, ...] = ()      # with --indicator: every period held, current figures
    imports: tuple[dict[str, Any], ...] = ()    # kpiflow history import runs (the whole trail only)

    def to_dict(self) -> dict[str, Any]:
        return {"submissions": [asdict(s) for s in self.submissions], "revisions": [asdict(r) for r in self.revisions],
                "messages": [asdict(m) for m in self.messages], "signoffs": [asdict(s) for s in self.signoffs],
                "figures": [asdict(f) for f in self.figures], "imports": list(self.imports)}

    def lines(self) -> list[str]:
        out = []
        if self.figures:
            n = len(self.figures)
            out.append(f"Figures held for {self.figures[0].indicator_id}: {n} period{'s' * (n != 1)} (the current "
                       "figures; earlier values are listed as revisions below)")
            for f in self.figures:
                parts = [f"{name} {exact(v)}" for name, v in (("number", f.number), ("rate", f.rate),
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
            old, new = (exact(v) if v is not None else "blank" for v in (r.old, r.new))
            out.append(f"revision {r.recorded_at} {r.indicator_id} {r.period} {r.figure}: {old} -> {new} "
                       f"({r.source}{who})")
        for m in self.messages:
            when = f"sent {m.sent_at}" if m.state == "sent" else f"{m.state} {m.queued_at}"
            cc = f", cc {', '.join(m.cc)}" if m.cc else ""
            out.append(f"message {when} {m.service} {m.quarter} {m.kind} to {', '.join(m.to)}{cc} {m.message_id}"
                       + (f" (last error: {m.last_error})" if m.last_error and m.state != "sent" else ""))
        for so in self.signoffs:
            note = f": {so.note}" if so.note else ""
            out.append(f"{so.event} {so.at} {so.service} {so.quarter} return #{so.submission_id} by {so.by} "
                       f"({so.how}{', recorded by ' + so.recorded_by if so.recorded_by else ''}){note}")
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
        messages = tuple(store.messages(service)) if not indicator else ()
        signoffs = tuple(store.signoffs(service)) if not indicator else ()
        held = store.held(indicator) if indicator else []
        imports = store.history_imports() if not (service or indicator) else []
        return AuditTrail(tuple(subs), tuple(store.revisions(ids)), messages, signoffs, tuple(held), tuple(imports))
