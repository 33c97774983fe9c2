"""Eastbridge District Council: the second council fixture (tests/fixtures/district), run as a council runs it,
through the command line over five quarters, 2024/25 Q1 to 2025/26 Q1 (see tests/fixtures/district/README.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from council import Council, Row
from council import expected as council_expected
from council import figures as council_figures
from typer.testing import CliRunner

from kpiflow.cli import app
from kpiflow.model import Catalogue, Indicator
from kpiflow.periods import Period, parse_period
from kpiflow.workbook.build import fill_return, write_catalogue

FIXTURE = Path(__file__).parent / "fixtures" / "district"
COUNCIL = "Eastbridge District Council"
QUARTERS = [parse_period(q) for q in ("2024/25 Q1", "2024/25 Q2", "2024/25 Q3", "2024/25 Q4", "2025/26 Q1")]
FIRST, Q2_2024, Q3_2024, Q4_2024, Q1_2025 = QUARTERS

RB, CU, PH, WS, LC = ("Revenues and Benefits", "Customer Services", "Planning and Housing", "Waste and Street Scene",
                      "Leisure and Communities")
SERVICES = [RB, CU, PH, WS, LC]
PORTFOLIO = {RB: "Finance and Resources", CU: "Finance and Resources", PH: "Growth and Place",
             WS: "Growth and Place", LC: "Communities and Wellbeing"}
# the council-plan priorities cut across the portfolios
PRIORITY = {"RB01": "A thriving local economy", "PH01": "A thriving local economy", "PH02": "A thriving local economy",
            "PH03": "A thriving local economy", "CU01": "A council that works well",
            "CU02": "A council that works well", "RB02": "A council that works well",
            "WS01": "A clean and green district", "WS02": "A clean and green district",
            "WS03": "A clean and green district", "RB03": "Healthy, safe communities",
            "LC01": "Healthy, safe communities", "LC02": "Healthy, safe communities",
            "LC03": "Healthy, safe communities"}
ACCUMULATES = {"RB01"}

# ID, description, service, better, unit, per, frequency, measure, tolerance, exception
_ROWS: tuple[tuple[str, str, str, str, str, float | None, str, str, float | None, str], ...] = (
    ("RB01", "Percentage of council tax collected (year to date)", RB, "High", "Percentage", None, "Quarterly",
     "Cumulative", 1.0, "Auto"),
    ("RB02", "Average number of days to process new benefit claims", RB, "Low", "Number", None, "Quarterly",
     "Snapshot", None, "Auto"),
    ("RB03", "Number and rate of households receiving council tax support per 1,000 households", RB, "Low",
     "Number and rate", 1000, "Monthly", "Snapshot", None, "Always"),
    ("CU01", "Number of complaints escalated to stage 2", CU, "Low", "Number", None, "Quarterly", "Count", None,
     "Always"),
    ("CU02", "Percentage of calls answered within 60 seconds", CU, "High", "Percentage", None, "Quarterly",
     "Snapshot", None, "Never"),
    ("PH01", "Percentage of major planning applications decided in time (year to date)", PH, "High", "Percentage",
     None, "Quarterly", "Cumulative", None, "Auto"),
    ("PH02", "Number of planning applications received", PH, "High", "Number", None, "Quarterly", "Count", None,
     "Auto"),
    ("PH03", "Number of new homes completed (year to date)", PH, "High", "Number", None, "Quarterly", "Cumulative",
     None, "Auto"),
    ("WS01", "Percentage of household waste sent for reuse, recycling and composting", WS, "High", "Percentage",
     None, "Quarterly", "Snapshot", None, "Auto"),
    ("WS02", "Number and rate of fly-tipping incidents per 1,000 residents", WS, "Low", "Number and rate", 1000,
     "Monthly", "Count", None, "Auto"),
    ("WS03", "Rate of missed bin collections per 1,000 households (year to date)", WS, "Low", "Rate", 1000,
     "Quarterly", "Cumulative", None, "Auto"),
    ("LC01", "Rate of leisure centre visits per 1,000 residents", LC, "High", "Rate", 1000, "Quarterly", "Count",
     None, "Auto"),
    ("LC02", "Rate of households in temporary accommodation per 1,000 households", LC, "Low", "Rate", 1000,
     "Quarterly", "Snapshot", None, "Auto"),
    ("LC03", "Number and rate of people supported by the wellbeing service per 10,000 residents (year to date)", LC,
     "High", "Number and rate", 10000, "Quarterly", "Cumulative", None, "Auto"),
)


def indicator(row: tuple[str, str, str, str, str, float | None, str, str, float | None, str]) -> Indicator:
    iid, name, service, better, unit, per, frequency, measure, tolerance, exception = row
    return Indicator(iid, name, PORTFOLIO[service], service, better, unit, per, frequency, measure, tolerance,
                     exception, accumulates=iid in ACCUMULATES, priority=PRIORITY[iid])


INDICATORS = tuple(indicator(r) for r in _ROWS)
_YEAR_TARGETS = {"RB01": 97.0, "RB02": 20.0, "CU01": 12.0, "CU02": 80.0, "PH01": 90.0, "PH03": 410.0, "WS01": 50.0,
                 "WS02": 16.0, "WS03": 11.0, "LC01": 2000.0, "LC03": 600.0}
TARGETS: dict[tuple[str, str], float | None] = {}
for _i in INDICATORS:
    for _y in ("2024/25", "2025/26"):
        TARGETS[(_i.id, _y)] = _YEAR_TARGETS.get(_i.id)
PROFILES = {("RB01", y): (28.5, 56.5, 84.5, 97.0) for y in ("2024/25", "2025/26")}
CATALOGUE = Catalogue(INDICATORS, TARGETS, PROFILES)


def figures() -> list[Row]:
    return council_figures(FIXTURE)


def expected() -> list[dict[str, str]]:
    return council_expected(FIXTURE)


COMPARATORS_2024 = parse_period("2024/25")


def return_for(service: str, quarter: Period, rows: list[Row]) -> tuple[dict[str, dict[str, object]], list[list[object]]]:
    """What the service types: the Return sheet's figures and responses, and the Supporting data rows (the back
    data with the first return, the months of a monthly indicator, and 2024/25's comparators once published)."""
    returned: dict[str, dict[str, object]] = {}
    support: list[list[object]] = []
    for ind in (i for i in INDICATORS if i.service == service):
        mine = [r for r in rows if r.iid == ind.id]
        q = next((r for r in mine if r.period == quarter), None)
        typed: dict[str, object] = {"Service response": f"{ind.id}: what the service is doing in {quarter.short}."}
        if q is not None:
            number, rate = q.values[0], q.values[1]
            if ind.has_number and number is not None:
                typed["Number"] = number
            if ind.has_rate and rate is not None:
                typed["Rate"] = rate
        returned[ind.id] = typed
        for r in mine:
            back = quarter == FIRST and r.period < FIRST and r.period != COMPARATORS_2024
            month = r.period.kind == "month" and r.period.quarter == quarter
            published = quarter == Q1_2025 and r.period == COMPARATORS_2024
            if back or month or published:
                support.append([ind.id, r.period.label, *r.values])
    return returned, support


@dataclass
class District(Council):
    """A working folder run through the commands (the first council's runner), with this council's figures."""

    rows: list[Row] = field(default_factory=figures)

    def send(self, service: str, quarter: Period, support_change: dict[tuple[str, str], list[object]] | None = None,
             name: str = "") -> Path:
        """Fill the issued workbook as the service would and drop it in the inbox."""
        typed, support = return_for(service, quarter, self.rows)
        for i, row in enumerate(support):
            if (row[0], row[1]) in (support_change or {}):
                support[i] = [row[0], row[1], *(support_change or {})[(str(row[0]), str(row[1]))]]
        about = {"Completed by": f"{service} lead officer", "Email": "performance@eastbridge.example",
                 "Date completed": dt.datetime.combine(quarter.end_date + dt.timedelta(days=12), dt.time())}
        out = self.home / "inbox" / (name or self.issued(service, quarter).name)
        return fill_return(self.issued(service, quarter), out, about, typed, support)


def start(home: Path) -> District:
    d = District(home)
    CliRunner().invoke(app, ["init", str(home), "--council", COUNCIL], catch_exceptions=False)
    write_catalogue(home / "workbook_templates" / "catalogue.xlsx", CATALOGUE)
    d.run("catalogue", "check")
    return d


def steps(d: District, late_at_q1: str = "") -> Iterator[Period]:
    """Run the five quarters, yielding each quarter once its draft is made.

    2024/25 Q2: Waste and Street Scene's first return is rejected (WS02's September is typed as 200, so its months
    add up to 470 where the quarter says 390) and corrected after the draft. 2024/25 Q3: Customer Services has not
    returned when the draft is made; its return follows. ``late_at_q1``: a service that has not returned at 2025/26 Q1
    when the draft is made (its return does not follow)."""
    for q in QUARTERS:
        d.run("issue", "--quarter", q.label)
        for service in SERVICES:
            if (q == Q3_2024 and service == CU) or (q == Q1_2025 and service == late_at_q1):
                continue
            if q == Q2_2024 and service == WS:
                d.send(service, q, support_change={("WS02", "2024-09"): [200, 2.0, None, None]})
                continue
            d.send(service, q)
        d.run("ingest", "--quarter", q.label, code=1 if q == Q2_2024 else 0)
        d.run("report", "--quarter", q.label)
        yield q
        if q == Q2_2024:
            d.send(WS, q, name=f"{WS}_{q.file_label} corrected.xlsx")
            d.run("ingest", "--quarter", q.label)
        if q == Q3_2024:
            d.send(CU, q)
            d.run("ingest", "--quarter", q.label)
