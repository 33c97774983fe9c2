"""``kpiflow publish``: check the edited draft, file the final report with its manifest, and
close the quarter.

The checks (``kpiflow.docx.checks``) read the document's XML: unrendered template tags, tracked
changes and comments that are still open, and an exception whose service response was left empty.
A failed check changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from kpiflow.assess import assess
from kpiflow.docx.checks import owners, paragraph_problems, read_paragraphs, region_problems
from kpiflow.docx.harvest import harvest
from kpiflow.errors import KpiflowError
from kpiflow.filing import unique_path
from kpiflow.model import Catalogue
from kpiflow.periods import Period
from kpiflow.report import report_filename, report_title
from kpiflow.settings import Settings, current_user
from kpiflow.store import Store


@dataclass
class PublishResult:
    ok: bool
    lines: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def newest_draft(settings: Settings, quarter: Period) -> Path:
    drafts = sorted(settings.drafts_dir.glob("*.docx"), key=lambda p: p.stat().st_mtime)
    wanted = [p for p in drafts if quarter.short.replace("/", "-") in p.name]
    if not wanted:
        raise KpiflowError(f"There is no draft for {quarter.short} in {settings.drafts_dir}. Run kpiflow report first.")
    return wanted[-1]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def publish(settings: Settings, store: Store, catalogue: Catalogue, quarter: Period, draft: Path | None = None,
            by: str = "") -> PublishResult:
    draft = draft or newest_draft(settings, quarter)
    if not draft.is_file():
        raise KpiflowError(f"no such file: {draft}")
    try:
        paras, comment_count = read_paragraphs(draft)
        marks = harvest(draft)
    except (zipfile.BadZipFile, KeyError, SyntaxError, ValueError) as exc:
        raise KpiflowError(f"{draft.name} is not a Word document (.docx) kpiflow can read") from exc
    everything = assess(settings, store, catalogue, quarter)
    assessments = [a for a in everything if a.verdict.exception]
    owner = owners(paras, {a.indicator.name: a.indicator.id for a in assessments})
    problems = paragraph_problems(paras, owner, comment_count)
    more, texts = region_problems(marks, [(a.indicator.id, a.indicator.name) for a in assessments], owner)
    problems += more
    access, final_bytes = accessible_copy(draft, {a.indicator.name: a.indicator.id for a in assessments})
    problems += access
    result = PublishResult(ok=not problems, lines=[f"Checking {draft.name}", *(f"  {p}" for p in problems)])
    if not result.ok:
        result.lines.append("Nothing was published.")
        return result
    from kpiflow.pdf import PdfUnavailable, to_pdf

    changed = [iid for iid, (c, r) in texts.items()
               if store.set_text(iid, quarter, c, r, f"published report {draft.name}")]
    result.lines.append("Stored the report's words (commentary and service response) for "
                        + (", ".join(changed) if changed else "no indicator: they match the store already"))
    folder = unique_path(settings.published_dir, quarter.file_label)
    folder.mkdir(parents=True)
    final = folder / report_filename(quarter)
    final.write_bytes(final_bytes)
    result.files.append(final)
    try:
        result.files.append(to_pdf(final, folder, title=report_title(quarter)))
    except PdfUnavailable as exc:
        result.lines.append(str(exc))
    by = by or current_user()
    at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    subs = [s for svc in catalogue.services if (s := store.accepted_submission(svc, quarter))]
    manifest = {
        "quarter": quarter.label, "published_at": at, "published_by": by, "draft": draft.name,
        "files": [{"name": p.name, "sha256": _sha(p)} for p in result.files],
        "indicators": [{"id": a.indicator.id, "description": a.indicator.name, "exception": a.verdict.exception,
                        "rag": a.facts.rag, "vs_previous": a.facts.vs_previous, "vs_last_year": a.facts.vs_last_year,
                        "reasons": [r.to_dict() for r in a.verdict.reasons]} for a in everything],
        "submissions": [{"id": s.id, "file": s.file_name, "sha256": s.sha256, "service": s.service,
                         "completed_by": s.completed_by, "received_at": s.received_at} for s in subs],
    }
    mpath = folder / "manifest.json"
    mpath.write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    result.files.append(mpath)
    # the statuses as published: later revisions of figures never change what the report said
    store.record_quarter_event(quarter, "published", by, json.dumps(manifest, ensure_ascii=False))
    result.lines += [f"Published: {p}" for p in result.files]
    result.lines.append(f"{quarter.short} is now closed to returns (kpiflow reopen to reopen it).")
    return result


def reopen(settings: Settings, quarter: Period, reason: str, by: str = "") -> None:
    """``kpiflow reopen``: accept returns for a published quarter again, recording who and why."""
    from kpiflow.store import open_store

    with open_store(settings) as store:
        if store.quarter_state(quarter) != "published":
            raise NotPublished(f"{quarter.short} is not published, so there is nothing to reopen")
        store.record_quarter_event(quarter, "reopened", by or current_user(), reason)


class NotPublished(KpiflowError):
    """Asked to reopen a quarter that is open."""


def publish_quarter(settings: Settings, quarter: Period, draft: Path | None = None, by: str = "") -> PublishResult:
    """``kpiflow publish``: the working folder's catalogue and store."""
    from kpiflow.catalogue import load_checked_catalogue
    from kpiflow.store import open_store

    catalogue = load_checked_catalogue(settings)
    with open_store(settings) as store:
        return publish(settings, store, catalogue, quarter, draft, by)


def accessible_copy(draft: Path, descriptions: dict[str, str]) -> tuple[list[str], bytes]:
    """The draft as it will be published (charts that lost their alternative text in LibreOffice
    given it again, from what each chart shows), and what still stops it meeting the accessibility
    regulations, each located."""
    import tempfile

    from kpiflow.docx.a11y import check_document, restore_chart_alt_text
    from kpiflow.problems import ValidationResult

    with tempfile.TemporaryDirectory(prefix="kpiflow-publish-") as tmp:
        copy = Path(tmp) / draft.name
        restore_chart_alt_text(draft, copy)
        found = ValidationResult(draft.name)
        check_document(copy, found, descriptions=descriptions)
        return [p.render() for p in found.problems], copy.read_bytes()
