"""The shipped example (the seed's three indicators) and ``kpiflow demo``: the whole quarter,
end to end, in a fresh working folder."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from kpiflow.measures import COUNT, SNAPSHOT
from kpiflow.model import Catalogue, Figures, Indicator
from kpiflow.periods import Period, parse_period
from kpiflow.store import SQLiteStore, Store

PORTFOLIO = "Cabinet Secretary for Resilient Communities & Childrens"
SERVICE = "Children's Services"

EXAMPLE_CATALOGUE = Catalogue(
    indicators=(
        Indicator("CS01", "Number/Rate of children looked after per 10,000", PORTFOLIO, SERVICE, "Low",
                  "Number and rate", 10000, "Quarterly", SNAPSHOT, None, "Auto"),
        Indicator("CS02", "Number of early help assessments", PORTFOLIO, SERVICE, "High", "Number", None,
                  "Quarterly", COUNT, None, "Auto"),
        Indicator("CS03", "Number/ rate of current children in need per 10,000 population (including LAC & CP)",
                  PORTFOLIO, SERVICE, "Low", "Number and rate", 10000, "Monthly", SNAPSHOT, None, "Auto"),
    ),
    targets={("CS01", "2017/18"): None, ("CS02", "2017/18"): None, ("CS03", "2017/18"): None},
)


def example_file(name: str) -> Path:
    return Path(str(resources.files("kpiflow") / "example" / name))


def _num(text: str) -> float | None:
    return float(text) if text.strip() else None


def example_history() -> list[tuple[str, Period, Figures]]:
    with example_file("history.csv").open(encoding="utf-8", newline="") as fh:
        return [(r["Indicator ID"], parse_period(r["Period"]),
                 Figures(_num(r["Number"]), _num(r["Rate"]), _num(r["Statistical neighbours"]), _num(r["England"])))
                for r in csv.DictReader(fh)]


def example_breakdown() -> list[tuple[str, Period, str, float]]:
    with example_file("breakdown.csv").open(encoding="utf-8", newline="") as fh:
        return [(r["Indicator ID"], parse_period(r["Period"]), r["Category"], float(r["Number"]))
                for r in csv.DictReader(fh)]


def load_example_history(store: Store) -> int:
    return store.load_history(example_history(), "example history", example_breakdown())


def example_return() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(example_file("q2_2017-18_return.json").read_text(encoding="utf-8"))
    return data


@dataclass(frozen=True)
class DemoResult:
    home: Path
    issued: Path
    filled: Path
    report: Path
    lines: list[str]
    published: tuple[Path, ...] = ()


def fill_example_return(issued: Path, out: Path) -> Path:
    """Fill the issued workbook's input cells with the example's figures, as the service would."""
    import datetime as dt

    from kpiflow.workbook.build import fill_return

    d = example_return()
    about = dict(d["about"])
    about["Date completed"] = dt.datetime.fromisoformat(about["Date completed"])
    return fill_return(issued, out, about, d["figures"], d["support"], d["breakdown"])


def run_demo(home: Path, publish: bool = False) -> DemoResult:
    """Start ``home`` afresh, then: load history, issue, fill, drop, ingest, report, and (with
    ``publish``) publish the draft as it stands, the .docx alone where LibreOffice is absent."""
    from kpiflow.catalogue import load_checked_catalogue
    from kpiflow.init import init_home
    from kpiflow.issue import issue_returns
    from kpiflow.pipeline import ingest
    from kpiflow.report.word import render_report
    from kpiflow.settings import load_settings

    if home.exists():
        if not (home / "kpiflow.toml").exists() and any(home.iterdir()):
            from kpiflow.errors import KpiflowError

            raise KpiflowError(f"{home} is not empty and is not a kpiflow folder, so the demo will not clear it. "
                               "Choose another folder with --home.")
        shutil.rmtree(home)
    init_home(home, council="Blackpool Council")
    settings = load_settings(home)
    lines = [f"Working folder: {home}"]
    catalogue = load_checked_catalogue(settings)
    quarter = parse_period("2017/18 Q2")
    # always a SQLite file in the demo's own folder, whatever store URL is set: the example history
    # must never be loaded into a council's shared server
    with SQLiteStore(settings.db_path) as store:
        n = load_example_history(store)
        lines.append(f"Loaded the example history: {n} figures")
        issued = issue_returns(settings, store, catalogue, quarter, SERVICE)[0]
        lines.append(f"Issued: {issued.relative_to(home)}")
        filled = fill_example_return(issued, settings.inbox / issued.name)
        lines.append(f"Filled in as the service would and dropped into: {filled.relative_to(home)}")
        for outcome in ingest(settings, store, catalogue, [filled], quarter):
            lines.append("Ingested: " + outcome.line().replace(str(home) + "/", ""))
        report = render_report(settings, store, catalogue, quarter)
        lines.append(f"Report: {report}")
        if not publish:
            return DemoResult(home, issued, filled, report, lines)
        from kpiflow.publish import publish as publish_draft

        done = publish_draft(settings, store, catalogue, quarter, report, "kpiflow demo")
    if not done.ok:
        from kpiflow.errors import KpiflowError

        raise KpiflowError("the demo's draft did not pass publish's checks:\n" + "\n".join(done.lines))
    lines += [line for line in done.lines if not line.startswith(("Checking ", "Published: "))]
    lines.append(f"Published: {done.folder} ({', '.join(p.name for p in done.files)})")
    return DemoResult(home, issued, filled, report, lines, tuple(done.files))
