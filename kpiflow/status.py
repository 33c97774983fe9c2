"""Where a quarter stands (returns in, missing, rejected; the exceptions so far) and the audit trail."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from kpiflow.assess import Assessment, assess
from kpiflow.catalogue import load_checked_catalogue
from kpiflow.fmt import long_date
from kpiflow.model import Catalogue
from kpiflow.narrative import reason_texts
from kpiflow.periods import Period
from kpiflow.problems import Problem
from kpiflow.settings import Settings
from kpiflow.store import Message, Revision, SignOff, Store, Submission, open_store


@dataclass(frozen=True)
class ServiceStatus:
    service: str
    issued: str
    state: str            # accepted | rejected | missing
    received_at: str
    completed_by: str
    file_name: str
    detail: str
    due: str = ""                                   # the due date (section 18), ISO
    days_to_go: int | None = None                   # working days to the due date; negative: overdue
    last_message: dict[str, Any] | None = None      # stage, at, to
    signoff: dict[str, Any] | None = None           # event, by, at, how, note


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
            first = Problem.from_dict(last.problems[0]) if last.problems else None
            why = f"{last.errors} problem(s), first: {first.location} {first.message}" if first else \
                f"{last.errors} problem(s), first:"
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
    today = today or dt.date.today()
    with open_store(settings) as store:
        rows = quarter_status(store, catalogue, quarter)
        assessments = assess(settings, store, catalogue, quarter)
        state = store.quarter_state(quarter)
        rows = cycle_columns(store, quarter, settings, today, rows)
    exceptions = [a for a in assessments if a.verdict.exception]
    return QuarterStatus(quarter, state, tuple(rows), tuple(exceptions), tuple(outstanding_returns(rows, assessments)),
                         today)


def _exact(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


@dataclass(frozen=True)
class AuditTrail:
    """What ``kpiflow history`` shows: submissions and revisions of figures."""

    submissions: tuple[Submission, ...]
    revisions: tuple[Revision, ...]
    messages: tuple[Message, ...] = ()
    signoffs: tuple[SignOff, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"submissions": [asdict(s) for s in self.submissions], "revisions": [asdict(r) for r in self.revisions],
                "messages": [asdict(m) for m in self.messages], "signoffs": [asdict(s) for s in self.signoffs]}

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
    with open_store(settings) as store:
        subs = store.submissions(service) if not indicator else []
        ids = [indicator] if indicator else [i.id for i in (catalogue.for_service(service) if service
                                                             else catalogue.indicators)]
        messages = tuple(store.messages(service)) if not indicator else ()
        signoffs = tuple(store.signoffs(service)) if not indicator else ()
        return AuditTrail(tuple(subs), tuple(store.revisions(ids)), messages, signoffs)
