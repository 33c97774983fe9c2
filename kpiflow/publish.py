"""``kpiflow publish``: check the edited draft, file the final report with its manifest, and
close the quarter.

The checks read the document's XML: unrendered template tags, tracked changes and comments that
are still open, and an exception whose service response was left empty. A failed check changes
nothing.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from kpiflow.analysis import assess
from kpiflow.catalogue import Catalogue
from kpiflow.errors import KpiflowError
from kpiflow.files import unique_path
from kpiflow.periods import Period
from kpiflow.report import report_filename
from kpiflow.settings import Settings
from kpiflow.store import Store

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}")


@dataclass
class PublishResult:
    ok: bool
    lines: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def _paragraph_texts(docx: Path) -> tuple[list[str], int, int, int]:
    """Body paragraph texts, and counts of insertions, deletions and comments."""
    from defusedxml.ElementTree import fromstring

    with zipfile.ZipFile(docx) as zf:
        root = fromstring(zf.read("word/document.xml"))
        comments = 0
        if "word/comments.xml" in zf.namelist():
            comments = len(fromstring(zf.read("word/comments.xml")).findall(f"{W}comment"))
    texts = ["".join(t.text or "" for t in p.iter(f"{W}t")) for p in root.iter(f"{W}p")]
    return texts, len(list(root.iter(f"{W}ins"))), len(list(root.iter(f"{W}del"))), comments


def responses_by_description(texts: list[str], descriptions: dict[str, str]) -> dict[str, str]:
    """For each exception (found by its description), the text after its "Service Response:"
    label, up to its breakdown or the next exception's tables."""
    out: dict[str, str] = {}
    current: str | None = None
    collecting = False
    for t in texts:
        s = t.strip()
        if s in descriptions:
            current, collecting = descriptions[s], False
            out.setdefault(current, "")
        elif s == "Service Response:" and current:
            collecting = True
        elif s == "Indicator Description" or s.startswith("Breakdown at "):
            collecting = False
        elif collecting and current and s:
            out[current] = (out[current] + "\n" + s).strip()
    return out


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
        texts, ins, dels, comments = _paragraph_texts(draft)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise KpiflowError(f"{draft.name} is not a Word document (.docx)") from exc
    result = PublishResult(ok=True, lines=[f"Checking {draft.name}"])
    for t in texts:
        for tag in _TAG.findall(t):
            result.ok = False
            result.lines.append(f"  unrendered template tag {tag!r} in the paragraph starting "
                                f"\"{t.strip()[:60]}\": remove it or regenerate the draft")
    if ins or dels:
        result.ok = False
        result.lines.append(f"  {ins + dels} tracked change(s) are not resolved: accept or reject them in Word "
                            "(Review > Accept/Reject)")
    if comments:
        result.ok = False
        result.lines.append(f"  {comments} comment(s) are still in the document: resolve and delete them in Word")
    assessments = [a for a in assess(settings, store, catalogue, quarter) if a.verdict.exception]
    descriptions = {a.indicator.name: a.indicator.id for a in assessments}
    found = responses_by_description(texts, descriptions)
    for a in assessments:
        iid = a.indicator.id
        if iid not in found:
            result.ok = False
            result.lines.append(f"  {iid} ({a.indicator.name}) is an exception but is not in the draft")
        elif not found[iid].strip():
            result.ok = False
            result.lines.append(f"  {iid} ({a.indicator.name}) has no service response: write one under "
                                "\"Service Response:\"")
    if not result.ok:
        result.lines.append("Nothing was published.")
        return result
    from kpiflow.pdf import PdfUnavailable, to_pdf

    folder = unique_path(settings.published_dir, quarter.file_label)
    folder.mkdir(parents=True)
    final = folder / report_filename(quarter)
    final.write_bytes(draft.read_bytes())
    result.files.append(final)
    try:
        result.files.append(to_pdf(final, folder))
    except PdfUnavailable as exc:
        result.lines.append(str(exc))
    by = by or _user()
    at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    subs = [s for svc in catalogue.services if (s := store.accepted_submission(svc, quarter))]
    manifest = {
        "quarter": quarter.label, "published_at": at, "published_by": by, "draft": draft.name,
        "files": [{"name": p.name, "sha256": _sha(p)} for p in result.files],
        "indicators": [{"id": a.indicator.id, "description": a.indicator.name, "rag": a.facts.rag,
                        "vs_previous": a.facts.vs_previous, "vs_last_year": a.facts.vs_last_year,
                        "reasons": list(a.verdict.reasons)} for a in assessments],
        "submissions": [{"id": s.id, "file": s.file_name, "sha256": s.sha256, "service": s.service,
                         "completed_by": s.completed_by, "received_at": s.received_at} for s in subs],
    }
    mpath = folder / "manifest.json"
    mpath.write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    result.files.append(mpath)
    store.record_quarter_event(quarter, "published", by, json.dumps({"files": [p.name for p in result.files]}))
    result.lines += [f"Published: {p}" for p in result.files]
    result.lines.append(f"{quarter.short} is now closed to returns (kpiflow reopen to reopen it).")
    return result


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
