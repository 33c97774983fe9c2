"""One read of a quarter from the store, for the report, publish and status alike: every
indicator's assessment, each service's return, the accepted returns, the returns not in, and the
exceptions' stored words and breakdowns. Read in one snapshot of the store where it can be (a
return accepted meanwhile is either wholly in it or not at all), and each thing once."""

from __future__ import annotations

from contextlib import nullcontext

from kpiflow.assess import assess
from kpiflow.model import Catalogue, Submission
from kpiflow.periods import Period
from kpiflow.problems import Problem
from kpiflow.report.context import QuarterSnapshot, ServiceStatus, outstanding_returns
from kpiflow.settings import Settings
from kpiflow.store import Store


def quarter_status(store: Store, catalogue: Catalogue, quarter: Period,
                   accepted: dict[str, Submission | None] | None = None) -> list[ServiceStatus]:
    """Each service's return for the quarter: accepted, rejected (and not sent again) or missing.
    ``accepted`` gives each service's accepted return where it has been read already."""
    issued = store.issued(quarter)
    out: list[ServiceStatus] = []
    for svc in catalogue.services:
        subs = [s for s in store.submissions(svc, quarter) if s.outcome != "duplicate"]
        taken = accepted[svc] if accepted is not None and svc in accepted else store.accepted_submission(svc, quarter)
        if taken:
            out.append(ServiceStatus(svc, issued.get(svc, ""), "accepted", taken.received_at, taken.completed_by,
                                     taken.file_name, f"{taken.warnings} warning(s)" if taken.warnings else ""))
        elif subs:
            last = subs[-1]
            first = Problem.from_dict(last.problems[0]) if last.problems else None
            why = f"{last.errors} problem(s), first: {first.location} {first.message}" if first else \
                f"{last.errors} problem(s)"
            out.append(ServiceStatus(svc, issued.get(svc, ""), "rejected", last.received_at, last.completed_by,
                                     last.file_name, why))
        else:
            out.append(ServiceStatus(svc, issued.get(svc, ""), "missing", "", "", "", ""))
    return out


def gather(settings: Settings, store: Store, catalogue: Catalogue, quarter: Period, words: bool = True,
           snapshot: bool = True) -> QuarterSnapshot:
    """The quarter as the store holds it now. With ``words``, the exceptions' stored commentary,
    service responses and breakdowns too (the report needs them; status does not). ``snapshot``
    False reads inside a transaction already open (publish's last look under the write lock)."""
    with store.snapshot() if snapshot else nullcontext():
        assessments = tuple(assess(settings, store, catalogue, quarter))
        by_service = {svc: store.accepted_submission(svc, quarter) for svc in catalogue.services}
        services = tuple(quarter_status(store, catalogue, quarter, by_service))
        texts: dict[str, tuple[str, str]] = {}
        breakdowns: dict[str, tuple[tuple[str, float], ...]] = {}
        if words:
            for a in assessments:
                if a.verdict.exception:
                    iid = a.indicator.id
                    texts[iid] = store.texts(iid, quarter) or ("", "")
                    breakdowns[iid] = tuple(store.breakdown(iid, quarter))
        state = store.quarter_state(quarter)
        provisional: dict[str, str] = {}
        if settings.cycle.signoff:      # (figures are provisional only where sign-off is on)
            from kpiflow.cycle import provisional as not_signed_off

            provisional = not_signed_off(store, catalogue, quarter, settings.cycle)
    accepted = {s.id: s for s in by_service.values() if s is not None}
    return QuarterSnapshot(quarter, catalogue, state, assessments, services, accepted,
                           tuple(outstanding_returns(services, assessments)), texts, breakdowns, provisional)
