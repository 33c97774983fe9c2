"""process_file(): claim -> read -> validate -> store -> move -> feedback.

Used by ``kpiflow ingest`` and ``kpiflow watch`` alike. A file is claimed by renaming it into
``inbox/.working/`` (atomic on one file system), so two processes never take the same file; a
file left there by a killed process is finished by the next run, and its SHA-256 keeps it from
being stored twice.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

from kpiflow.catalogue import Catalogue
from kpiflow.files import move_unique, safe_name, sha256_file, unique_path, write_unique
from kpiflow.periods import Period
from kpiflow.problems import ValidationResult
from kpiflow.settings import Settings
from kpiflow.store import Store
from kpiflow.validate import validate_file


@dataclass
class Outcome:
    file: str
    status: str                 # accepted | rejected | duplicate | skipped
    problems: ValidationResult
    service: str = ""
    quarter: str = ""
    kept_as: Path | None = None
    feedback: list[Path] = field(default_factory=list)
    submission_id: int | None = None

    def line(self) -> str:
        if self.status == "rejected":
            n = len(self.problems.errors)
            detail = f"rejected with {n} problem{'s' * (n != 1)}"
        elif self.status == "accepted" and self.problems.warnings:
            n = len(self.problems.warnings)
            detail = f"accepted with {n} warning{'s' * (n != 1)}"
        else:
            detail = self.status
        where = f" -> {self.kept_as}" if self.kept_as else ""
        return f"{self.file}: {detail}{where}"


def claim(settings: Settings, path: Path) -> Path | None:
    """Take a file for processing by renaming it into the working folder; None if another
    process took it first."""
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d%H%M%S%f")
    target = settings.work_dir / f"{stamp}-{os.getpid()}--{safe_name(path.name)}"
    try:
        os.rename(path, target)
    except FileNotFoundError:
        return None
    except OSError:
        # another file system (a file given on the command line from elsewhere): copy, then remove
        move_unique(path, settings.work_dir, target.name)
    return target


def original_name(claimed: Path) -> str:
    return claimed.name.split("--", 1)[1] if "--" in claimed.name else claimed.name


def feedback_text(outcome: Outcome, received: str) -> str:
    lines = [f"kpiflow feedback for {outcome.file}", f"Received: {received}"]
    if outcome.service or outcome.quarter:
        lines.append(f"Return: {outcome.service or 'unknown service'}, {outcome.quarter or 'unknown quarter'}")
    verdict = {
        "accepted": "ACCEPTED: the figures have been stored.",
        "duplicate": "ALREADY RECEIVED: this exact file was accepted before, so nothing was stored again.",
        "rejected": "REJECTED: nothing from this file was stored. Correct the problems below and send the whole "
                    "workbook again.",
    }[outcome.status]
    lines += [f"Outcome: {verdict}", ""]
    if outcome.problems.problems:
        lines.append("Problems (location, severity, code, what to do):")
        lines += [f"  {p.render()}" for p in outcome.problems.problems]
    else:
        lines.append("No problems found.")
    return "\n".join(lines) + "\n"


def process_file(settings: Settings, store: Store, catalogue: Catalogue, path: Path,
                 expected_quarter: Period | None = None, claimed: bool = False) -> Outcome:
    """Process one received file end to end. Never raises for bad input."""
    work = path if claimed else claim(settings, path)
    name = original_name(work) if work else path.name
    if work is None:
        return Outcome(name, "skipped", ValidationResult(name))
    received = dt.datetime.now().astimezone().replace(microsecond=0).isoformat()
    sha = sha256_file(work)
    data, result = validate_file(work, catalogue, expected_quarter)
    result.source = name
    quarter = data.quarter if data else None
    if data and quarter and store.quarter_state(quarter) == "published":
        result.error("quarter-published", f"{quarter.short} has been published, so returns for it are closed. Ask the "
                     "performance team to run kpiflow reopen if the figures must change.", sheet="About")
    outcome = Outcome(name, "accepted", result, data.service if data else "", quarter.label if quarter else "")
    problems = [{**p.__dict__, "location": p.location} for p in result.problems]
    if not result.ok or data is None:
        outcome.status = "rejected"
        kept = move_unique(work, settings.rejected, name)
        outcome.submission_id = store.record_rejected(name, sha, outcome.service, outcome.quarter,
                                                      data.completed_by if data else "", problems, len(result.errors),
                                                      len(result.warnings), str(kept.relative_to(settings.home)))
    elif store.find_accepted(sha) is not None:
        outcome.status = "duplicate"
        kept = move_unique(work, settings.processed, name)
        outcome.submission_id = store.record_rejected(name, sha, outcome.service, outcome.quarter, data.completed_by,
                                                      problems, 0, len(result.warnings),
                                                      str(kept.relative_to(settings.home)), outcome="duplicate")
    else:
        # the name it will be kept under is decided before storing so that the record names it
        final = unique_path(settings.processed, name)
        outcome.submission_id = store.store_return(data, name, sha, problems, str(final.relative_to(settings.home)))
        kept = move_unique(work, settings.processed, final.name)
    outcome.kept_as = kept
    outcome.feedback.append(write_unique(settings.feedback_dir, f"{Path(name).stem} - feedback.txt",
                                         feedback_text(outcome, received).encode("utf-8")))
    return outcome


def pending(settings: Settings) -> list[Path]:
    """Files left in the working folder by a process that was stopped part-way."""
    if not settings.work_dir.exists():
        return []
    return sorted(p for p in settings.work_dir.iterdir() if p.is_file())


def ingest(settings: Settings, store: Store, catalogue: Catalogue, paths: list[Path],
           expected_quarter: Period | None = None) -> list[Outcome]:
    outcomes = [process_file(settings, store, catalogue, p, expected_quarter, claimed=True)
                for p in pending(settings)]
    outcomes += [process_file(settings, store, catalogue, p, expected_quarter) for p in paths]
    return outcomes
