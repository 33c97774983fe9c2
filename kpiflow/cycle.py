"""The returns cycle (section 18): due dates in working days, the stage of chasing each service is
at, and where its sign-off stands.

The calendar is pure: :func:`due_date`, :func:`timetable` and :func:`stage_due` take values and
return values. UK bank holidays come from the ``holidays`` package, never from a typed-in list.
:func:`service_cycles` is where the store is read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpiflow.errors import KpiflowError
from kpiflow.fmt import long_date
from kpiflow.model import Catalogue, Contact
from kpiflow.periods import Period
from kpiflow.settings import Cycle, Settings
from kpiflow.store import Message, SignOff, Store, Submission

if TYPE_CHECKING:
    from email.message import EmailMessage

    from kpiflow.mail import Attachment

#: the chasing stages, in order, and the sign-off request; plus the two answers kpiflow sends
REMINDER, OVERDUE, ESCALATION, SIGNOFF_REQUEST = "reminder", "overdue", "escalation", "signoff-request"
ACKNOWLEDGEMENT, SEND_BACK = "acknowledgement", "send-back"
CHASE_STAGES = (REMINDER, OVERDUE, ESCALATION)
KINDS = (*CHASE_STAGES, SIGNOFF_REQUEST, ACKNOWLEDGEMENT, SEND_BACK)

#: where a service stands for the quarter
MISSING, REJECTED, AWAITING_SIGNOFF, DONE = "missing", "rejected", "awaiting-signoff", "done"

#: the mark on the values table of an indicator whose figures are not signed off, and on the first page

_SUBDIVISIONS = {"england": "ENG", "wales": "WLS", "scotland": "SCT", "northern-ireland": "NIR"}


@lru_cache(maxsize=64)
def bank_holidays(nation: str, year: int) -> frozenset[dt.date]:
    """The nation's bank holidays in a calendar year (the ``holidays`` package's UK calendar)."""
    import holidays

    calendar = holidays.country_holidays("GB", subdiv=_SUBDIVISIONS[nation], years=[year])
    return frozenset(calendar.keys())


def is_working_day(day: dt.date, nation: str) -> bool:
    """Monday to Friday, and not one of the nation's bank holidays."""
    return day.weekday() < 5 and day not in bank_holidays(nation, day.year)


def add_working_days(day: dt.date, n: int, nation: str) -> dt.date:
    """The working day ``n`` working days after ``day`` (before it, for a negative ``n``); ``day``
    itself is not counted. ``n = 0`` gives ``day``."""
    step = 1 if n >= 0 else -1
    left = abs(n)
    while left:
        day += dt.timedelta(days=step)
        if is_working_day(day, nation):
            left -= 1
    return day


def working_days_between(start: dt.date, end: dt.date, nation: str) -> int:
    """How many working days from ``start`` to ``end``: positive when ``end`` is later (the working
    days after ``start`` up to and including ``end``), negative when it is earlier."""
    if end == start:
        return 0
    sign = 1 if end > start else -1
    lo, hi = (start, end) if sign > 0 else (end, start)
    n = 0
    day = lo
    while day < hi:
        day += dt.timedelta(days=1)
        n += is_working_day(day, nation)
    return sign * n


def due_date(quarter: Period, cycle: Cycle) -> dt.date:
    """The day a quarter's return is due: ``due_working_days`` working days after the quarter ends."""
    return add_working_days(quarter.end_date, cycle.due_working_days, cycle.bank_holidays)


def latest_quarter(day: dt.date) -> Period:
    """The latest quarter that has ended by ``day``: the one whose returns are being collected."""
    from kpiflow.periods import month

    return month(day.year, day.month).quarter.step(-1)


def due_text(day: dt.date) -> str:
    """A due date as messages print it: Tuesday 21 October 2025."""
    return f"{day:%A} {long_date(day)}"


@dataclass(frozen=True)
class Timetable:
    """The quarter's dates: a reminder, the due date, the chase and the escalation."""

    due: dt.date
    remind: dt.date
    chase: dt.date
    escalate: dt.date

    def starts(self, stage: str) -> dt.date:
        return {REMINDER: self.remind, OVERDUE: self.chase, ESCALATION: self.escalate}[stage]


def timetable(quarter: Period, cycle: Cycle) -> Timetable:
    due = due_date(quarter, cycle)
    nation = cycle.bank_holidays
    return Timetable(due, add_working_days(due, -cycle.remind_days_before, nation),
                     add_working_days(due, cycle.escalate_after[0], nation),
                     add_working_days(due, cycle.escalate_after[1], nation))


def stage_due(state: str, on: dt.date, dates: Timetable) -> str | None:
    """The chasing stage a service in ``state`` has reached on ``on``: the latest whose day has
    come (a service first chased late gets the stage it is at, not every stage before it); None
    before the reminder's day, or when nothing is owed."""
    if state not in (MISSING, REJECTED):
        return None
    reached = [s for s in CHASE_STAGES if on >= dates.starts(s)]
    return reached[-1] if reached else None


def days_to_go(on: dt.date, due: dt.date, nation: str) -> int:
    """Working days until the due date (0 on the day); negative: working days overdue."""
    return working_days_between(on, due, nation)


def subject(kind: str, quarter: Period, service: str, due: dt.date, outcome: str = "") -> str:
    """The subject line says what the message is, for which quarter and service, and when it was due."""
    what = {REMINDER: "Reminder", OVERDUE: "Overdue", ESCALATION: "Escalation", SIGNOFF_REQUEST: "Sign-off needed",
            SEND_BACK: "Sent back", ACKNOWLEDGEMENT: "Accepted" if outcome == "accepted" else "Rejected"}[kind]
    return f"{what}: performance return for {quarter.short} due {due_text(due)} ({service})"


@dataclass(frozen=True)
class ServiceCycle:
    """Where one service stands for a quarter: its state, the return that decides it, and the
    sign-off of that return (the latest decision on it), if any."""

    service: str
    state: str                              # missing | rejected | awaiting-signoff | done
    submission: Submission | None = None    # the accepted return, or the last rejected one
    signoff: SignOff | None = None          # the decision on the accepted return (signed off or sent back)

    @property
    def sent_back(self) -> bool:
        return self.signoff is not None and self.signoff.event == "sent-back"

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "submission_id": self.submission.id if self.submission else None,
                "sent_back": self.sent_back}


def decide(service: str, accepted: Submission | None, others: list[Submission], signoffs: list[SignOff],
           signoff_on: bool) -> ServiceCycle:
    """A service's state from its submissions and sign-off decisions (pure)."""
    if accepted is not None:
        mine = [s for s in signoffs if s.submission_id == accepted.id]
        last = mine[-1] if mine else None
        if last is not None and last.event == "sent-back":
            return ServiceCycle(service, REJECTED, accepted, last)
        if signoff_on and last is None:
            return ServiceCycle(service, AWAITING_SIGNOFF, accepted)
        return ServiceCycle(service, DONE, accepted, last)
    rejected = [s for s in others if s.outcome == "rejected"]
    if rejected:
        return ServiceCycle(service, REJECTED, rejected[-1])
    return ServiceCycle(service, MISSING)


def service_cycles(store: Store, catalogue: Catalogue, quarter: Period, cycle: Cycle) -> list[ServiceCycle]:
    """Each catalogue service's state for the quarter, as the store holds it now."""
    out = []
    for svc in catalogue.services:
        subs = [s for s in store.submissions(svc, quarter) if s.outcome != "duplicate"]
        out.append(decide(svc, store.accepted_submission(svc, quarter), subs, store.signoffs(svc, quarter),
                          cycle.signoff))
    return out


def attested(signed_by: str, date_signed: str, date_completed: str, approver: str) -> str:
    """Why an About-sheet sign-off does not count ("" when it does): it must name the service's
    Approver, with a date signed off on or after the date completed."""
    if not signed_by:
        return "no one is named in Signed off by"
    if not approver:
        return "the catalogue names no Approver for the service"
    if " ".join(signed_by.split()).casefold() != " ".join(approver.split()).casefold():
        return f'Signed off by names "{signed_by}", not the service\'s Approver ({approver})'
    try:
        signed = dt.date.fromisoformat(date_signed)
    except ValueError:
        return "Date signed off is not a date"
    try:
        completed = dt.date.fromisoformat(date_completed)
    except ValueError:
        return ""
    if signed < completed:
        return "Date signed off is before Date completed"
    return ""


# -- messages: who gets what, and what it says ------------------------------------------------------
def recipients(kind: str, contact: Contact | None, about_email: str = "") -> tuple[list[str], list[str]]:
    """To and Cc for a kind of message, from the service's Services row (and, for an answer to a
    return, the About sheet's Email where it is a valid address)."""
    from kpiflow.addresses import valid_address

    if contact is None:
        return ([about_email] if valid_address(about_email) else []), []
    to = list(contact.emails)
    cc: list[str] = []
    if kind == OVERDUE:
        cc = list(contact.approver_emails)
    elif kind == ESCALATION:
        cc = [*contact.approver_emails, *contact.escalation_emails]
    elif kind == SIGNOFF_REQUEST:
        to = list(contact.approver_emails)
    elif kind in (ACKNOWLEDGEMENT, SEND_BACK):
        to = ([about_email] if valid_address(about_email) else []) + to
        cc = list(contact.approver_emails) if kind == SEND_BACK else []
    seen: set[str] = set()
    to = [a for a in to if not (a.casefold() in seen or seen.add(a.casefold()))]   # type: ignore[func-returns-value]
    cc = [a for a in cc if not (a.casefold() in seen or seen.add(a.casefold()))]   # type: ignore[func-returns-value]
    return to, cc


def message_key(kind: str, quarter: str, service: str, submission_id: int | None = None) -> str:
    """One message per service, quarter and stage, ever; a sign-off request per return."""
    parts = [kind, quarter, service.casefold()]
    if kind in (SIGNOFF_REQUEST, ACKNOWLEDGEMENT) and submission_id is not None:
        parts.append(str(submission_id))
    return "|".join(parts)


def issued_workbook(settings: Settings, service: str, quarter: Period) -> Path:
    from kpiflow.filing import safe_name_ending

    return settings.returns_dir / safe_name_ending(service, f"_{quarter.file_label}.xlsx")


def message_context(settings: Settings, store: Store, catalogue: Catalogue,
                    m: Message) -> tuple[dict[str, Any], list[Attachment]]:
    """What a message's templates are given, and its attachments, read from the store now."""
    from kpiflow.mail import Attachment
    from kpiflow.periods import parse_quarter

    quarter = parse_quarter(m.quarter) if m.quarter else None
    due = due_date(quarter, settings.cycle) if quarter else None
    contact = catalogue.contacts.get(m.service)
    sub = store.submission(m.submission_id) if m.submission_id is not None else None
    problems = [p for p in (sub.problems if sub else []) if p.get("severity") == "error"]
    warnings = [p for p in (sub.problems if sub else []) if p.get("severity") == "warning"]
    inds = catalogue.for_service(m.service)
    named = {str(p.get("indicator_id", "")).casefold() for p in problems if p.get("indicator_id")}
    affected = [i for i in inds if i.id.casefold() in named] or inds
    attachments: list[Attachment] = []
    feedback = settings.home / sub.feedback if sub and sub.feedback else None
    annotated = feedback.with_suffix(".xlsx") if feedback else None
    rejected = sub is not None and (sub.outcome == "rejected" or m.kind == SEND_BACK)
    if m.kind == ACKNOWLEDGEMENT:
        attachments += [Attachment(p, p.name) for p in (annotated, feedback) if p is not None and p.is_file()]
    elif m.kind == SIGNOFF_REQUEST:
        kept = settings.home / sub.kept_as if sub and sub.kept_as else None
        if kept is not None and kept.is_file():
            attachments.append(Attachment(kept, sub.file_name if sub else kept.name))
    elif rejected and annotated is not None and annotated.is_file():
        attachments.append(Attachment(annotated, annotated.name))
    elif rejected and feedback is not None and feedback.is_file():
        attachments.append(Attachment(feedback, feedback.name))
    elif quarter is not None:
        issued = issued_workbook(settings, m.service, quarter)
        if issued.is_file():
            attachments.append(Attachment(issued, issued.name))
    on = dt.date.fromisoformat(str(m.detail["on"])) if m.detail.get("on") else dt.date.today()
    overdue = -days_to_go(on, due, settings.cycle.bank_holidays) if due else 0
    context: dict[str, Any] = {
        "council": settings.council, "service": m.service or "your service", "kind": m.kind,
        "quarter": quarter.short if quarter else "", "due_date": due_text(due) if due else "",
        "days_overdue": max(overdue, 0), "contact_name": contact.contact if contact else "",
        "approver_name": contact.approver if contact else "", "escalate_to": contact.escalate_to if contact else "",
        "state": str(m.detail.get("state", "")), "outcome": sub.outcome if sub else "",
        "file_name": sub.file_name if sub else "", "received": sub.received_at[:16].replace("T", " ") if sub else "",
        "completed_by": sub.completed_by if sub else "",
        "problems": [{"location": str(p.get("location", "")), "message": str(p.get("message", ""))}
                     for p in problems[:5]],
        "problem_count": len(problems), "warning_count": len(warnings),
        "indicators": [{"id": i.id, "name": i.name} for i in affected],
        "inbox": str(settings.inbox), "attachments": [a.name for a in attachments],
        "note": str(m.detail.get("note", "")), "by": str(m.detail.get("by", "")),
    }
    return context, attachments


@dataclass(frozen=True)
class Planned:
    """A message the chase would send: why, and to whom."""

    service: str
    kind: str
    key: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    why: str
    submission_id: int | None
    state: str
    existing: Message | None = None      # queued by an earlier run that could not send it

    def to_dict(self) -> dict[str, Any]:
        return {"service": self.service, "stage": self.kind, "to": list(self.to), "cc": list(self.cc),
                "subject": self.subject, "why": self.why, "queued_before": self.existing is not None}

    def lines(self) -> list[str]:
        out = [f"{self.service}: {self.kind}", f"  To: {', '.join(self.to) or '(nobody)'}"]
        if self.cc:
            out.append(f"  Cc: {', '.join(self.cc)}")
        return [*out, f"  Subject: {self.subject}", f"  Why: {self.why}"]


def _why(sc: ServiceCycle, kind: str, dates: Timetable, on: dt.date, nation: str) -> str:
    if kind == SIGNOFF_REQUEST:
        assert sc.submission is not None
        return (f"the return received {sc.submission.received_at[:10]} was accepted and awaits the approver's "
                "sign-off")
    what = {MISSING: "no return received",
            REJECTED: "the return was sent back" if sc.sent_back else "the return received was rejected and has "
                      "not been sent again"}[sc.state]
    left = days_to_go(on, dates.due, nation)
    when = (f"due in {left} working day{'s' * (left != 1)}" if left > 0 else "due today" if left == 0
            else f"{-left} working day{'s' * (left != -1)} overdue")
    return f"{what}; {when} ({due_text(dates.due)})"


@dataclass
class ChasePlan:
    planned: list[Planned]
    notes: list[str]
    stale: list[Message]          # queued chases no longer due (the return came in, or a later stage is due)


def plan_chase(settings: Settings, store: Store, catalogue: Catalogue, quarter: Period, on: dt.date) -> ChasePlan:
    """The message due to each service on ``on``, from what the store holds now."""
    dates = timetable(quarter, settings.cycle)
    nation = settings.cycle.bank_holidays
    planned: list[Planned] = []
    notes: list[str] = []
    stale: list[Message] = []
    if store.quarter_state(quarter) == "published":
        return ChasePlan([], [f"{quarter.short} is published: there is nothing to chase."], [])
    for sc in service_cycles(store, catalogue, quarter, settings.cycle):
        kind = stage_due(sc.state, on, dates)
        if kind is None and sc.state == AWAITING_SIGNOFF:
            kind = SIGNOFF_REQUEST
        sid = sc.submission.id if sc.submission else None
        key = message_key(kind, quarter.label, sc.service, sid) if kind else ""
        for q in store.messages(sc.service, quarter, state="queued"):
            if q.kind in (*CHASE_STAGES, SIGNOFF_REQUEST) and q.key != key:
                stale.append(q)
        if kind is None:
            continue
        existing = store.message_by_key(key)
        if existing is not None and existing.state != "queued":
            when = (existing.sent_at or existing.queued_at)[:16].replace("T", " ")
            notes.append(f"{sc.service}: the {kind} was {existing.state} {when}; it is not sent again.")
            continue
        to, cc = recipients(kind, catalogue.contacts.get(sc.service))
        if not to:
            who = "approver's email" if kind == SIGNOFF_REQUEST else "Email"
            notes.append(f"{sc.service}: a {kind} is due, but the catalogue's Services sheet gives no {who} for it. "
                         "Add it and run kpiflow chase again.")
            continue
        planned.append(Planned(sc.service, kind, key, tuple(to), tuple(cc),
                               subject(kind, quarter, sc.service, dates.due), _why(sc, kind, dates, on, nation),
                               sid, sc.state, existing))
    return ChasePlan(planned, notes, stale)


@dataclass
class ChaseResult:
    """What ``kpiflow chase`` did, or would do."""

    quarter: Period
    on: dt.date
    due: dt.date
    mode: str                       # dry-run | send | eml
    plan: ChasePlan
    sent: Sent | None = None
    eml: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.sent is None or self.sent.ok

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"quarter": self.quarter.label, "on": self.on.isoformat(), "due": self.due.isoformat(),
                               "mode": self.mode, "messages": [p.to_dict() for p in self.plan.planned],
                               "notes": list(self.plan.notes), "eml": [str(p) for p in self.eml]}
        if self.sent is not None:
            out["sent"] = [{"id": m.id, "stage": m.kind, "service": m.service, "message_id": m.message_id,
                            "to": list(m.to), "cc": list(m.cc)} for m in self.sent.sent]
            out["refused"] = [{"stage": m.kind, "service": m.service, "why": why} for m, why in self.sent.refused]
            out["error"] = self.sent.error
        return out

    def lines(self) -> list[str]:
        head = f"{self.quarter.short}: returns due {due_text(self.due)}; as of {due_text(self.on)}"
        out = [head]
        if self.mode == "dry-run":
            out += [line for p in self.plan.planned for line in p.lines()]
            if not self.plan.planned:
                out.append("No message is due.")
            else:
                out.append("Nothing was sent: add --send to send these, or --eml to write them as files.")
        elif self.mode == "eml":
            out += [f"Wrote {p}" for p in self.eml] or ["No message is due."]
            if self.eml:
                out.append("These files are not recorded as sent: send them from Outlook, or use --send.")
        out += self.plan.notes
        if self.sent is not None:
            out += self.sent.lines() or ["No message was waiting to be sent."]
        return out


def chase(settings: Settings, quarter: Period, on: dt.date | None = None, mode: str = "dry-run",
          before_record: Callable[[Message], None] | None = None) -> ChaseResult:
    """``kpiflow chase``: the message due to each service as of ``on`` (default today); printed,
    sent (``mode="send"``, with every other queued message: acknowledgements, send-backs) or
    written as .eml files (``mode="eml"``, which records nothing)."""
    from kpiflow.catalogue import load_checked_catalogue
    from kpiflow.mail import make_message_id, write_eml
    from kpiflow.store import open_store

    catalogue = load_checked_catalogue(settings)
    if not catalogue.has_services_sheet:
        raise KpiflowError('The catalogue has no "Services" sheet, so kpiflow does not know whom to write to. Add it '
                           "(Service, Contact, Email, Approver, Approver email, Escalate to, Escalation email) and "
                           "run kpiflow catalogue check.")
    if mode == "send" and not settings.mail.host:
        raise KpiflowError("[mail] host is blank in kpiflow.toml, so kpiflow cannot send. Set host and from, or use "
                           "--eml to write the messages as files for Outlook.")
    day = on or dt.date.today()
    with open_store(settings) as store:
        plan = plan_chase(settings, store, catalogue, quarter, day)
        result = ChaseResult(quarter, day, due_date(quarter, settings.cycle), mode, plan)
        if mode == "eml":
            folder = settings.chase_dir / quarter.file_label
            for p in plan.planned:
                m = p.existing or _unsaved(p, quarter, make_message_id(settings), day)
                result.eml.append(write_eml(folder, f"{p.service} - {p.kind}.eml", compose(settings, store, catalogue, m)))
        elif mode == "send":
            for m in plan.stale:
                store.drop_message(m.id, "no longer due when kpiflow chase ran")
            for p in plan.planned:
                if p.existing is None:
                    store.queue_message(p.key, make_message_id(settings), p.kind, p.service, quarter.label,
                                        p.submission_id, p.to, p.cc, p.subject, {"state": p.state, "on": day.isoformat()})
            result.sent = send_queued(settings, store, catalogue, before_record=before_record)
    return result


def _unsaved(p: Planned, quarter: Period, message_id: str, on: dt.date) -> Message:
    """A planned message as a record, for writing as a file without storing it."""
    from kpiflow.store import now

    return Message(0, p.key, message_id, p.kind, p.service, quarter.label, p.submission_id, p.to, p.cc, p.subject,
                   {"state": p.state, "on": on.isoformat()}, "queued", now(), None, None, None, 0, "")


# -- sign-off ----------------------------------------------------------------------------------------
class SignOffRefused(KpiflowError):
    """A sign-off that cannot be recorded (the quarter is published, nothing is accepted): exit 1."""

    exit_code = 1


@dataclass(frozen=True)
class SignOffResult:
    """What ``kpiflow signoff`` recorded, and what sending the send-back did."""

    signoff: SignOff
    submission: Submission
    queued: Message | None = None
    mail: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {"signoff": asdict(self.signoff), "submission_id": self.submission.id,
                "message": self.queued.message_id if self.queued else None, "mail": list(self.mail)}

    def lines(self) -> list[str]:
        s = self.signoff
        what = "Signed off" if s.event == "signed-off" else "Sent back"
        out = [f"{what}: {s.service}, {s.quarter} (return #{self.submission.id}, {self.submission.file_name}) by "
               f"{s.by}" + (f": {s.note}" if s.note else "")]
        if self.queued is not None and not self.mail:
            out.append(f"The service is told by email ({', '.join(self.queued.to)}) when kpiflow chase --send runs.")
        return out + list(self.mail)


def sign_off(settings: Settings, quarter: Period, service: str, by: str, note: str = "",
             send_back: bool = False) -> SignOffResult:
    """``kpiflow signoff``: record the approver's decision on the service's accepted return for the
    quarter. A send-back makes it count as rejected, and the service is told why by email."""
    from kpiflow.addresses import header_text
    from kpiflow.catalogue import load_checked_catalogue
    from kpiflow.mail import make_message_id
    from kpiflow.settings import current_user
    from kpiflow.store import open_store

    by = header_text(by)
    if not by:
        raise KpiflowError("--by: give the name of whoever made the decision, e.g. --by \"A Patel\".")
    if send_back and not note.strip():
        raise KpiflowError("--send-back needs --note saying what the service must change, e.g. --note \"CS01 looks "
                           "like last quarter's figure\".")
    catalogue = load_checked_catalogue(settings)
    name = catalogue.service_name(service)
    if name is None:
        raise KpiflowError(f'"{service}" is not a service in the catalogue. Services: ' + ", ".join(catalogue.services))
    with open_store(settings) as store, store.transaction():
        if store.quarter_state(quarter) == "published":
            raise SignOffRefused(f"{quarter.short} has been published, so its sign-offs are closed. Run kpiflow "
                                 "reopen first if the decision must change.")
        accepted = store.accepted_submission(name, quarter)
        if accepted is None:
            raise SignOffRefused(f"{name} has no accepted return for {quarter.short}, so there is nothing to sign "
                                 "off. kpiflow status shows where it stands.")
        record = store.record_signoff(name, quarter, accepted.id, "sent-back" if send_back else "signed-off", by,
                                      note.strip(), "recorded", dt.date.today().isoformat(), current_user())
        queued = None
        if send_back:
            to, cc = recipients(SEND_BACK, catalogue.contacts.get(name), accepted.email)
            if to:
                queued = store.queue_message(f"{SEND_BACK}|{quarter.label}|{name.casefold()}|{record.id}",
                                             make_message_id(settings), SEND_BACK, name, quarter.label, accepted.id,
                                             to, cc, subject(SEND_BACK, quarter, name, due_date(quarter, settings.cycle)),
                                             {"note": note.strip(), "by": by})
    mail: tuple[str, ...] = ()
    if queued is not None and settings.mail.host:
        with open_store(settings) as store:
            try:
                mail = tuple(send_queued(settings, store, catalogue, kinds=(SEND_BACK,)).lines())
            except KpiflowError as exc:
                mail = (f"The send-back message stays queued: {exc}",)
    return SignOffResult(record, accepted, queued, mail)


def provisional(store: Store, catalogue: Catalogue, quarter: Period, cycle: Cycle) -> dict[str, str]:
    """With sign-off on: indicator ID -> service, for each indicator whose figures for the quarter
    come from an accepted return not yet signed off (or sent back). Empty with sign-off off."""
    if not cycle.signoff:
        return {}
    out: dict[str, str] = {}
    for sc in service_cycles(store, catalogue, quarter, cycle):
        if sc.submission is not None and sc.submission.outcome == "accepted" and sc.state != DONE:
            out.update({i.id: sc.service for i in catalogue.for_service(sc.service)})
    return out


# -- the outbox: queued messages composed from what the store holds, claimed, sent and recorded ---------------------
def template_name(kind: str) -> str:
    """The template a kind of message is written from (the chasing stages share one)."""
    return "chase" if kind in CHASE_STAGES else kind


def compose(settings: Settings, store: Store, catalogue: Catalogue, m: Message) -> EmailMessage:
    """A stored message as it goes out: its text rendered now from what the store holds."""
    from kpiflow.mail import build, render

    context, attachments = message_context(settings, store, catalogue, m)
    text, html = render(settings, template_name(m.kind), context)
    return build(settings, m, text, html, attachments)


@dataclass
class Sent:
    """What a batch did: the messages sent, those refused, and the failure that stopped it."""

    sent: list[Message] = field(default_factory=list)
    refused: list[tuple[Message, str]] = field(default_factory=list)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.refused and not self.error

    def lines(self) -> list[str]:
        out = [f"Sent {_what(m)} to {', '.join(m.to + m.cc)} ({m.message_id})" for m in self.sent]
        out += [f"Not sent: {_what(m)}: the server refused it ({why}); it stays queued for the next run"
                for m, why in self.refused]
        if self.error:
            out.append(f"Error: {self.error}")
        return out


def _what(m: Message) -> str:
    return f"{m.kind} for {m.service or 'an unknown service'} {m.quarter}".strip()


def send_queued(settings: Settings, store: Store, catalogue: Catalogue, kinds: Sequence[str] | None = None,
                before_record: Callable[[Message], None] | None = None) -> Sent:
    """Send every queued message (or those of ``kinds``), each claimed first and recorded as sent
    once the server has taken it. Stops at a failure of the server itself (``Sent.error``); a
    refusal of one message is kept and the others go on. ``before_record`` is for tests: it runs
    between sending a message and recording it."""
    done = Sent()
    queued = [m for m in store.messages(state="queued") if kinds is None or m.kind in kinds]
    if not queued:
        return done
    from kpiflow.claims import claims_for, message_claim
    from kpiflow.mail import Delivery, holder_name

    holder = holder_name()
    claims = claims_for(settings, store)
    with Delivery(settings) as delivery:
        for m in queued:
            # the claim (a file lock, or a lock in the PostgreSQL database) lapses with its holder,
            # however it ends; the store's own record of the holder is checked under it
            held = claims.named(message_claim(m.id))
            if held is None:
                continue      # another live sender has it
            try:
                mine = store.claim_message(m.id, holder, lambda _holder, _at: True)
                if mine is None:
                    continue      # sent meanwhile by the sender that held it
                if not _send_one(settings, store, catalogue, delivery, mine, holder, done, before_record):
                    return done
            finally:
                held.release()
    return done


def _send_one(settings: Settings, store: Store, catalogue: Catalogue, delivery: Any, m: Message, holder: str,
              done: Sent, before_record: Callable[[Message], None] | None) -> bool:
    """Send one claimed message and record it; False when the server itself failed (stop)."""
    from kpiflow.mail import MessageRefused, PartlyRefused
    try:
        delivery.send(compose(settings, store, catalogue, m))
    except PartlyRefused as exc:
        store.mark_sent(m.id, holder)
        done.sent.append(m)
        done.refused.append((m, f"some recipients refused: {exc}"))
        return True
    except MessageRefused as exc:
        store.release_message(m.id, holder, str(exc))
        done.refused.append((m, str(exc)))
        return True
    except KpiflowError as exc:
        store.release_message(m.id, holder, str(exc))
        done.error = str(exc)
        return False
    except BaseException:
        store.release_message(m.id, holder, "stopped while sending")
        raise
    if before_record is not None:
        before_record(m)
    store.mark_sent(m.id, holder)
    done.sent.append(m)
    return True
