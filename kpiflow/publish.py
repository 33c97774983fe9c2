"""``kpiflow publish``: check the edited draft, file the final report with its manifest, and
close the quarter: all or nothing.

The draft must be one kpiflow made (its document properties say so), for this quarter, from the
returns accepted for it now; it must hold nothing active or fetched from outside, and no template
tag left behind, unresolved tracked change or comment, and each exception's marked commentary and
written service response exactly once; and every figure on it must be the store's, each region
under its own exception (``kpiflow.paper_check``: the quarter rendered afresh and compared, the
published charts the store's). ``check_draft`` gathers every check in one place and a failed check
changes nothing.

Then the final .docx (the draft less any remote template link), the PDF and ``manifest.json`` are
built in a hidden working folder beside the published ones; the edited words and the published
status are stored in one transaction, which also records the folder's name; and only then is the
working folder renamed into place. A failure or a kill before the commit leaves the quarter open,
the store as it was and no visible folder (the working folder is cleared by the next run); a kill
after it leaves the store saying published and the working folder complete, and the next
``kpiflow publish`` puts it in place.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kpiflow.claims import PUBLISH, claims_for
from kpiflow.errors import KpiflowError
from kpiflow.filing import unique_path
from kpiflow.model import Catalogue, Submission
from kpiflow.paper_check import PaperCheck, check_paper, kpiflows_words
from kpiflow.periods import Period
from kpiflow.problems import Problem, ValidationResult
from kpiflow.provenance import (
    Provenance,
    fingerprint,
    has_marks,
    made_on,
    newest_draft,
    other_council,
    properties_removed,
    read_provenance,
    short_hash,
    stale_problems,
)
from kpiflow.report.context import QuarterSnapshot, report_filename, report_title
from kpiflow.report.gather import gather
from kpiflow.rules import Assessment
from kpiflow.settings import Settings, current_user
from kpiflow.store import Store


@dataclass
class PublishResult:
    ok: bool
    quarter: str = ""
    draft: Path | None = None
    checks: ValidationResult | None = None
    lines: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    stored: list[str] = field(default_factory=list)     # indicators whose words changed in the store
    folder: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "quarter": self.quarter, "draft": str(self.draft) if self.draft else None,
                "checks": self.checks.to_dict() if self.checks else None, "stored": self.stored,
                "folder": str(self.folder) if self.folder else None, "files": [str(p) for p in self.files],
                "lines": self.lines}


def problem_line(p: Problem) -> str:
    """A draft problem as one line: the message first, then the code and where."""
    where = ", ".join(x for x in (p.sheet, p.cell) if x and x not in p.message)
    label = "" if p.severity == "error" else f"{p.severity}: "
    return f"  {label}{p.message} [{p.code}{f'; {where}' if where else ''}]"


# -- which draft: kpiflow.provenance (newest_draft, draft_provenance) ----------------------------

# -- the checks ---------------------------------------------------------------------------------

@dataclass
class DraftCheck:
    result: ValidationResult
    texts: dict[str, tuple[str, str]] = field(default_factory=dict)   # indicator -> (commentary, response) to store
    made: Provenance | None = None
    on_paper: dict[str, tuple[str, str]] = field(default_factory=dict)   # the words as the draft shows them
    paper: PaperCheck | None = None        # the draft against the store, and the store's parts to publish


def check_draft(settings: Settings, store: Store, catalogue: Catalogue, quarter: Period, draft: Path,
                assessments: Sequence[Assessment], accepted: Mapping[int, Submission] | None = None,
                snapshot: QuarterSnapshot | None = None) -> DraftCheck:
    """Every check publish makes of a draft, gathered here, as Problems. ``accepted``: the returns
    accepted for the quarter, by submission id, where they have been read already; ``snapshot``: the
    quarter as read already, words included."""
    import io

    from kpiflow.docx.a11y import check_document, restore_chart_alt_text
    from kpiflow.docx.checks import draft_problems
    from kpiflow.docx.package import Refused, open_package
    from kpiflow.docx.paper import write_with

    check = DraftCheck(ValidationResult(draft.name))
    exceptions = [(a.indicator.id, a.indicator.name) for a in assessments if a.verdict.exception]
    try:
        with open_package(draft) as pkg:       # sizes checked before anything is inflated
            # 1. a kpiflow draft, for this quarter, made from the returns accepted for it now
            check.made = made = read_provenance(pkg)
            for p in provenance_problems(made, draft, store, catalogue, quarter, assessments, settings.home, accepted,
                                         settings.council):
                check.result.add(p)
            if not check.result.ok:
                return check

            def tag_ok(tag: str) -> bool:     # tag-like text the draft records kpiflow put there
                return made is not None and short_hash(tag) in made.tag_like

            # 2. the document: nothing active or fetched from outside, no template tag left behind,
            # nothing unresolved, each exception's words marked once and a response written
            problems, check.texts = draft_problems(pkg, exceptions, tag_ok)
            check.on_paper = dict(check.texts)
            for p in problems:
                check.result.add(p)
            # 3. every figure on the paper is the store's, and every region under its own exception
            if check.result.ok and made is not None:
                snap = snapshot or gather(settings, store, catalogue, quarter)
                check.paper = check_paper(settings, snap, pkg, made, shown_path(draft, settings.home))
                for p in check.paper.problems:
                    check.result.add(p)
                check.texts = officers_words(check.texts, check.paper.drafted, snap)
        # 4. accessible: title, language, headings, table headers, alternative text, checked on the
        # document as it will be published (charts whose alternative text LibreOffice dropped get it back)
        if check.result.ok:
            final = io.BytesIO()
            if check.paper is not None and check.paper.parts:
                write_with(draft, final, check.paper.parts)
            else:
                restore_chart_alt_text(draft, final)
            final.seek(0)
            check_document(final, check.result, descriptions={name: iid for iid, name in exceptions}, name=draft.name)
    except Refused as exc:
        check.result.error(exc.code, exc.message, cell=exc.part)
    return check


def officers_words(texts: Mapping[str, tuple[str, str]], drafted: set[str],
                   snap: QuarterSnapshot) -> dict[str, tuple[str, str]]:
    """The words to store as the quarter's: a region still holding what kpiflow wrote there (drafted from the
    figures, or the store's own words) keeps what the store has, so that a later draft drafts it again from the
    figures of its day."""
    out: dict[str, tuple[str, str]] = {}
    for iid, words in texts.items():
        stored = snap.texts.get(iid) or ("", "")
        out[iid] = (stored[0] if kpiflows_words(drafted, iid, "commentary", words[0]) else words[0],
                    stored[1] if kpiflows_words(drafted, iid, "response", words[1]) else words[1])
    return out


def shown_path(path: Path, home: Path) -> str:
    """``path`` as a command run in the working folder can name it."""
    try:
        return str(path.resolve().relative_to(home.resolve()))
    except (ValueError, OSError):
        return str(path)


def provenance_problems(made: Provenance | None, draft: Path, store: Store, catalogue: Catalogue, quarter: Period,
                        assessments: Sequence[Assessment], home: Path,
                        accepted: Mapping[int, Submission] | None = None, council: str = "") -> list[Problem]:
    """Not a kpiflow draft (or one whose properties were removed); made for another quarter or council; made
    before a return accepted since."""
    if made is None and has_marks(draft):
        return [properties_removed(draft, quarter, shown_path(draft, home))]
    if made is None:
        return [Problem("error", "not-a-draft",
                        f"{draft.name} is not a draft kpiflow made: it does not record the quarter and the returns it "
                        "was made from. Publish the draft kpiflow report wrote into outbox/drafts/, edited in Word or "
                        "LibreOffice. If it is a draft made by an earlier kpiflow, make a fresh one that keeps its "
                        f"edits: kpiflow report --quarter \"{quarter.label}\" "
                        f"--keep-edits \"{shown_path(draft, home)}\"")]
    if made.quarter != quarter.label:
        return [Problem("error", "wrong-quarter",
                        f"{draft.name} was made for {made.quarter}, not {quarter.label}: publish the draft made for "
                        f"{quarter.label} (kpiflow report --quarter \"{quarter.label}\" makes one), or publish this "
                        f"one with --quarter \"{made.quarter}\"", cell=draft.name)]
    if council and made.other_council(council):
        return [other_council(draft.name, made.council, council)]
    return stale_problems(made, draft.name, store, catalogue, quarter, assessments, shown_path(draft, home), accepted)


# -- building, storing and filing ---------------------------------------------------------------

def working_folder(settings: Settings, quarter: Period) -> Path:
    return settings.published_dir / f".{quarter.file_label}.publishing"


@contextlib.contextmanager
def publishing_lock(settings: Settings, store: Store | None = None) -> Iterator[None]:
    """One publish at a time in a working folder, or across hosts sharing a PostgreSQL store (the
    lock is dropped however the process ends)."""
    lock = claims_for(settings, store).named(PUBLISH)
    if lock is None:
        raise KpiflowError("Another kpiflow publish is running in this working folder. Wait for it to finish, then "
                           "run kpiflow publish again if it is still needed.")
    try:
        yield
    finally:
        lock.release()


def write_final_docx(draft: Path, dest: Path, parts: Mapping[str, bytes] | None = None) -> bool:
    """The published .docx: the draft as it is, less any link to a remote template, with the store's
    ``parts`` in place of the draft's (its charts, their data and alternative text: ``kpiflow.paper_check``),
    and with alternative text on every chart (LibreOffice drops it on save: it is said again from what each
    chart shows). Returns True if a link was left out."""
    from kpiflow.docx.a11y import restore_chart_alt_text
    from kpiflow.docx.package import clean_copy, open_package
    from kpiflow.docx.paper import write_with

    cleaned = dest.with_name(f".{dest.name}.clean")
    charted = dest.with_name(f".{dest.name}.charts")
    try:
        with open_package(draft) as pkg:
            dropped = clean_copy(pkg, cleaned)
        if parts:
            write_with(cleaned, charted, dict(parts))
            cleaned.unlink()
            charted.rename(cleaned)
        restore_chart_alt_text(cleaned, dest)
    finally:
        cleaned.unlink(missing_ok=True)
        charted.unlink(missing_ok=True)
    return dropped


def write_manifest(folder: Path, manifest: dict[str, Any]) -> Path:
    path = folder / "manifest.json"
    with path.open("x", encoding="utf-8") as fh:
        fh.write(json.dumps(manifest, indent=2, ensure_ascii=False))
        fh.flush()
        os.fsync(fh.fileno())
    return path


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def put_in_place(work: Path, target: Path) -> None:
    """Rename the finished working folder to its published name (never over another folder)."""
    if os.path.lexists(target):
        raise KpiflowError(f"{target} appeared while publishing, so the published files were left in {work}. The "
                           "quarter is recorded as published: move that folder into place by hand.")
    os.rename(work, target)
    _fsync_dir(target.parent)


def _sha(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _nothing(quarter: Period) -> str:
    return f"Nothing was published or stored: {quarter.label} is still open."


def _finish_interrupted(settings: Settings, store: Store, quarter: Period) -> PublishResult | None:
    """A publish that committed but was stopped before its folder was put in place: put it there."""
    if store.quarter_state(quarter) != "published":
        return None
    events = [e for e in store.quarter_events(quarter) if e["event"] == "published"]
    try:
        recorded = json.loads(events[-1]["detail"]) if events else {}
    except ValueError:
        return None
    name = recorded.get("folder") if isinstance(recorded, dict) else None
    work = working_folder(settings, quarter)
    if not name or os.path.lexists(settings.published_dir / name) or not (work / "manifest.json").is_file():
        return None
    try:
        on_disk = json.loads((work / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if on_disk != recorded:
        return None
    target = settings.published_dir / name
    put_in_place(work, target)
    files = [target / f["name"] for f in recorded.get("files", [])] + [target / "manifest.json"]
    return PublishResult(True, quarter.label, None, None,
                         [f"Finished publishing {quarter.label}: an earlier kpiflow publish stored it but was stopped "
                          "before putting its folder in place.", *(f"Published: {p}" for p in files)],
                         files, [], target)


def publish(settings: Settings, store: Store, catalogue: Catalogue, quarter: Period, draft: Path | None = None,
            by: str = "", provisional: bool = False, strict: bool = False) -> PublishResult:
    """Check the draft and, if it passes, file it and close the quarter (see the module's notes).
    With sign-off on, figures not signed off are refused unless ``provisional`` (the paper then
    keeps their "Provisional: not signed off" marks). The officers' words are proofread against the
    figures first: findings are warnings, and ``strict`` refuses a draft with any."""
    from kpiflow.cycle import provisional as not_signed_off
    from kpiflow.report.context import PROVISIONAL_MARK

    waiting = not_signed_off(store, catalogue, quarter, settings.cycle)
    if waiting and not provisional and store.quarter_state(quarter) != "published":
        checks = ValidationResult(draft.name if draft else "")
        for svc in dict.fromkeys(waiting.values()):
            ids = ", ".join(i for i, s in waiting.items() if s == svc)
            checks.error("not-signed-off", f"{svc}'s figures ({ids}) are not signed off ({PROVISIONAL_MARK}). Record "
                         f'the sign-off (kpiflow signoff --quarter "{quarter.label}" --service "{svc}" --by NAME), or '
                         "publish with --provisional to keep the marks on the paper.")
        return PublishResult(False, quarter.label, draft, checks,
                             [problem_line(p) for p in checks.problems] + ["Nothing was published."])
    with publishing_lock(settings, store):
        return _publish(settings, store, catalogue, quarter, draft, by, strict)


def _publish(settings: Settings, store: Store, catalogue: Catalogue, quarter: Period, draft: Path | None,
             by: str, strict: bool = False) -> PublishResult:
    finished = _finish_interrupted(settings, store, quarter)
    if finished is not None:
        return finished
    work = working_folder(settings, quarter)
    if store.quarter_state(quarter) == "published":
        checks = ValidationResult(draft.name if draft else "")
        when = [e for e in store.quarter_events(quarter) if e["event"] == "published"]
        at = f" on {when[-1]['at'].replace('T', ' ')[:16]} UTC" if when else ""
        checks.error("quarter-published", f"{quarter.label} was published{at} and is closed. To publish it again, "
                     f"reopen it first: kpiflow reopen --quarter \"{quarter.label}\" --reason \"why\"")
        return PublishResult(False, quarter.label, draft, checks,
                             [problem_line(p) for p in checks.problems] + ["Nothing was published."])
    if os.path.lexists(work):
        shutil.rmtree(work)         # left by a publish that failed or was stopped before its commit
    draft = draft or newest_draft(settings, quarter)
    if not draft.is_file():
        raise KpiflowError(f"no such file: {draft}")
    # the quarter read once: its assessments and the returns accepted for it (and, for the web page, the
    # exceptions' breakdowns)
    snap = gather(settings, store, catalogue, quarter)
    everything = list(snap.assessments)
    check = check_draft(settings, store, catalogue, quarter, draft, everything, snap.accepted, snap)
    result = PublishResult(check.result.ok, quarter.label, draft, check.result,
                           [f"Checking {draft.name}", *(problem_line(p) for p in check.result.problems)])
    if not result.ok:
        result.lines.append(_nothing(quarter))
        return result
    if not _proofread(settings, store, catalogue, quarter, draft, everything, result, strict):
        return result

    from kpiflow.pdf import PdfUnavailable, check_pdf, to_pdf

    by = by or current_user()
    target = unique_path(settings.published_dir, quarter.file_label)
    try:
        work.mkdir(parents=True)
        final = work / report_filename(quarter)
        write_final_docx(draft, final, check.paper.parts if check.paper else None)
        files = [final]
        # the page and the open data for the public, from the same context and the words read back;
        # its charts are drawn while LibreOffice makes the PDF
        from kpiflow.report.web import PublicFiles

        # the page has the words the published paper has, kpiflow's and the officers' alike
        public = PublicFiles(settings, snap, check.on_paper, made_on(check.made))
        public.start()
        try:
            pdf = to_pdf(final, work, title=report_title(quarter))
        except PdfUnavailable as exc:
            result.lines.append(f"{exc} Publishing the .docx alone.")
        else:
            untagged = check_pdf(pdf).problems()
            if untagged:    # an older LibreOffice: a PDF the regulations would not accept is not filed
                raise KpiflowError("The PDF LibreOffice made is not accessible: " + "; ".join(untagged))
            files.append(pdf)
        files += public.write(work, [p.name for p in files])
        manifest = _manifest(snap.accepted, quarter, everything, draft, by, target.name, files, check.made)
        write_manifest(work, manifest)
    except BaseException as exc:
        shutil.rmtree(work, ignore_errors=True)
        if isinstance(exc, OSError):
            raise KpiflowError(f"The published files could not be written in {settings.published_dir} "
                               f"({exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}). "
                               f"{_nothing(quarter)} Make room (or fix the folder's permissions) and run kpiflow "
                               "publish again.") from exc
        if isinstance(exc, KpiflowError):
            raise KpiflowError(f"{str(exc).rstrip('.')}. {_nothing(quarter)} Run kpiflow publish again once that is "
                               "put right.") from exc
        raise
    try:
        with store.transaction():
            # a return accepted while the files were being built would make them untrue: looked for
            # again under the store's write lock, which no other change can pass until the commit
            if check.made is not None:
                now = gather(settings, store, catalogue, quarter, words=False, snapshot=False)
                late = stale_problems(check.made, draft.name, store, catalogue, quarter, now.assessments,
                                      shown_path(draft, settings.home), now.accepted)
                if late:
                    raise _Overtaken(late)
            result.stored = [iid for iid, (c, r) in check.texts.items()
                             if store.set_text(iid, quarter, c, r, f"published report {draft.name}")]
            # the statuses as published: later revisions of figures never change what the report said
            store.record_quarter_event(quarter, "published", by, json.dumps(manifest, ensure_ascii=False))
    except _Overtaken as late:
        shutil.rmtree(work, ignore_errors=True)
        for p in late.problems:
            check.result.add(p)
        result.ok = False
        result.lines = [result.lines[0], *(problem_line(p) for p in late.problems), _nothing(quarter)]
        return result
    except BaseException as exc:
        shutil.rmtree(work, ignore_errors=True)
        if isinstance(exc, Exception) and not isinstance(exc, KpiflowError):
            raise KpiflowError(f"The store could not record the publication ({exc}). {_nothing(quarter)}") from exc
        raise
    put_in_place(work, target)
    result.folder = target
    result.files = [target / p.name for p in files] + [target / "manifest.json"]
    result.lines.append(f"Stored the report's words (commentary and service response) for {', '.join(result.stored)}"
                        if result.stored else "No words to store: the commentary and service responses are the "
                        "store's already, or kpiflow's own (drafted again from the figures in a later draft)")
    result.lines += [f"Published: {p}" for p in result.files]
    result.lines.append(f"{quarter.short} is now closed to returns (kpiflow reopen to reopen it).")
    return result


def _proofread(settings: Settings, store: Store, catalogue: Catalogue, quarter: Period, draft: Path,
               everything: list[Assessment], result: PublishResult, strict: bool) -> bool:
    """The officers' words against the figures (kpiflow proofread): warnings, or with ``strict`` a
    refusal. Returns whether publishing goes on."""
    from kpiflow.proofread import proofread_draft

    found = proofread_draft(settings, store, catalogue, quarter, draft, everything).findings
    for f in found:
        p = f.problem()
        assert result.checks is not None
        result.checks.add(dataclasses.replace(p, severity="error") if strict else p)
        result.lines.append(problem_line(result.checks.problems[-1]))
    if strict and found:
        result.ok = False
        result.lines.append(f"--strict: {len(found)} finding{'s' * (len(found) != 1)} in the officers' words. Correct "
                            f"them (kpiflow proofread --quarter \"{quarter.label}\" lists them), or publish without "
                            f"--strict. {_nothing(quarter)}")
        return False
    return True


class _Overtaken(Exception):
    """A return was accepted for the quarter while the files were being built."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("overtaken")
        self.problems = problems


def _manifest(accepted: Mapping[int, Submission], quarter: Period, everything: list[Assessment], draft: Path,
              by: str, folder: str, files: list[Path], made: Provenance | None) -> dict[str, Any]:
    at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    subs = accepted.values()
    return {
        "quarter": quarter.label, "published_at": at, "published_by": by, "draft": draft.name, "folder": folder,
        "files": [{"name": p.name, "sha256": _sha(p)} for p in files],
        "indicators": [{"id": a.indicator.id, "description": a.indicator.name, "exception": a.verdict.exception,
                        "rag": a.facts.rag, "vs_previous": a.facts.vs_previous, "vs_last_year": a.facts.vs_last_year,
                        "reasons": [r.to_dict() for r in a.verdict.reasons]} for a in everything],
        "submissions": [{"id": s.id, "file": s.file_name, "sha256": s.sha256, "service": s.service,
                         "completed_by": s.completed_by, "received_at": s.received_at} for s in subs],
        "draft_made_at": made.made_at if made else "",
        "figures_sha256": fingerprint(everything, quarter),
    }


def reopen(settings: Settings, quarter: Period, reason: str, by: str = "") -> None:
    """``kpiflow reopen``: accept returns for a published quarter again, recording who and why."""
    from kpiflow.store import open_store

    with open_store(settings) as store:
        if store.quarter_state(quarter) != "published":
            raise NotPublished(f"{quarter.short} is not published, so there is nothing to reopen")
        store.record_quarter_event(quarter, "reopened", by or current_user(), reason)


class NotPublished(KpiflowError):
    """Asked to reopen a quarter that is open."""


def publish_quarter(settings: Settings, quarter: Period, draft: Path | None = None, by: str = "",
                    provisional: bool = False, strict: bool = False) -> PublishResult:
    """``kpiflow publish``: the working folder's catalogue and store."""
    from kpiflow.catalogue import load_checked_catalogue
    from kpiflow.store import open_store

    catalogue = load_checked_catalogue(settings)
    with open_store(settings) as store:
        return publish(settings, store, catalogue, quarter, draft, by, provisional, strict)
