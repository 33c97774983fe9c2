"""``kpiflow report``: the quarter read once (``gather``), the report as data (``context``, pure and
format-neutral), and the Word draft rendered from it (``word``).

Importing this package is cheap: the Word renderer and the store are loaded by the functions that
need them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kpiflow.periods import Period
from kpiflow.problems import ValidationResult
from kpiflow.report.context import (
    ChartSpec,
    ReportContext,
    build_context,
    chart_specs,
    paragraphs,
    report_filename,
    report_title,
)
from kpiflow.settings import Settings

__all__ = ["ChartSpec", "ReportContext", "ReportResult", "build_context", "chart_specs", "make_report", "paragraphs",
           "report_filename", "report_title"]


@dataclass
class ReportResult:
    """What ``kpiflow report`` did: the draft written, or the problems that stopped it."""

    ok: bool
    path: Path | None = None
    lines: list[str] = field(default_factory=list)
    checks: ValidationResult | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "path": str(self.path) if self.path else None, "lines": self.lines,
                "checks": self.checks.to_dict() if self.checks else None}


def make_report(settings: Settings, quarter: Period, keep_edits: Path | None = None) -> ReportResult:
    """``kpiflow report``: the draft for the quarter from the working folder's catalogue and store;
    with ``keep_edits``, carrying over the commentary and service responses an officer edited in
    that earlier draft. The quarter is read once, and assessed once, either way."""
    from kpiflow.catalogue import load_checked_catalogue
    from kpiflow.report.gather import gather
    from kpiflow.report.word import render_report
    from kpiflow.store import open_store

    catalogue = load_checked_catalogue(settings)
    with open_store(settings) as store:
        if keep_edits is None:
            path = render_report(settings, store, catalogue, quarter)
            return ReportResult(True, path, [f"Draft report: {path}"])
        from kpiflow.keep_edits import kept_edits

        kept = kept_edits(keep_edits, quarter)
        if not kept.checks.ok:
            return ReportResult(False, None, [f"Reading the edits in {keep_edits.name}",
                                              *(f"  {p.message} [{p.code}]" for p in kept.checks.problems),
                                              "No draft was written."], kept.checks)
        snap = gather(settings, store, catalogue, quarter)
        path = render_report(settings, store, catalogue, quarter, kept=kept.texts, snapshot=snap)
        said = kept.summary([a.indicator for a in snap.exceptions], keep_edits.name, catalogue.indicators)
        return ReportResult(True, path, [f"Draft report: {path}", *said])
