"""process_file(): claim -> read -> validate -> store -> feedback -> move.

Used by ``kpiflow ingest`` and ``kpiflow watch`` alike. Every step can be cut short by a killed
process and is finished by the next run:

1. claim: the file is locked and renamed into ``inbox/.working/`` under a unique name. A rename
   is atomic on one file system, so of two processes only one gets the file. The lock is held
   until the file is done and dropped when the process dies, so a file in ``.working`` whose lock
   can be taken was abandoned, and one whose lock cannot is being worked on by a live process and
   is left alone. With SQLite the lock is ``flock`` (one machine); with PostgreSQL it is taken in
   the database (keyed by the file's name), so it holds across hosts sharing the inbox, where file
   locks on SMB or NFS do not (``claims.py``). The store's unique ``claim`` column is the
   last guard: a file is never stored twice, even by a process whose claim lapsed unnoticed.
2. validate, then store in one transaction: the submission record, naming the claim and the names
   the original and its feedback will be kept under, and (if accepted) its figures.
3. write the feedback, whole or not at all, under its recorded name.
4. move the original to ``processed/`` or ``rejected/`` under its recorded name. Leaving
   ``.working`` is what marks a file done.

An abandoned file whose claim is not in the store starts again at 2; one whose claim is stored
resumes at 3, so nothing is stored twice.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kpiflow.catalogue import load_checked_catalogue
from kpiflow.claims import Claim, Claims, FileClaim, claims_for
from kpiflow.crosscheck import History, check_against_history
from kpiflow.errors import KpiflowError, StoreUnavailable
from kpiflow.filing import (
    NOT_A_FILE,
    FileLock,
    create_locked,
    discard_abandoned,
    kind_of,
    part_path,
    place,
    safe_name,
    sha256_file,
    try_lock,
    unique_path,
    waiting_files,
    write_new,
)
from kpiflow.model import Catalogue, ReturnData
from kpiflow.periods import Period
from kpiflow.problems import Problem, ValidationResult
from kpiflow.settings import Settings
from kpiflow.store import Store, Submission, open_store
from kpiflow.validate import validate_file
from kpiflow.workbook.read import MAX_FILE_BYTES


@dataclass
class Outcome:
    file: str
    status: str                 # accepted | rejected | duplicate | skipped | refused (not a file kpiflow takes)
    problems: ValidationResult
    service: str = ""
    quarter: str = ""
    kept_as: Path | None = None
    feedback: list[Path] = field(default_factory=list)
    submission_id: int | None = None
    note: str = ""              # why a file was skipped or refused

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "status": self.status, "note": self.note, "kept_as": str(self.kept_as or ""),
                "feedback": [str(p) for p in self.feedback], **self.problems.to_dict()}

    def line(self) -> str:
        if self.status == "rejected":
            n = len(self.problems.errors)
            detail = f"rejected with {n} problem{'s' * (n != 1)}"
        elif self.status == "accepted" and self.problems.warnings:
            n = len(self.problems.warnings)
            detail = f"accepted with {n} warning{'s' * (n != 1)}"
        else:
            detail = self.status
        if self.note:
            detail += f": {self.note}"
        where = f" -> {self.kept_as}" if self.kept_as else ""
        return f"{self.file}: {detail}{where}"


@dataclass(frozen=True)
class Claimed:
    """A file this process has claimed, in the working folder, and the claim that says so."""

    path: Path
    claim: Claim


def claim(settings: Settings, path: Path, store: Store | None = None) -> Claimed | None:
    """Take a file for processing by renaming it into the working folder; None if another
    process took it first. The file stays claimed by this process until the claim is released
    (in the database, where ``store`` takes claims there)."""
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d%H%M%S%f")
    target = settings.work_dir / f"{stamp}-{os.getpid()}-{os.urandom(3).hex()}--{safe_name(path.name)}"
    claims = claims_for(settings, store)
    if claims.across_hosts:
        return _claim_across_hosts(claims, path, target)
    lock = try_lock(path)
    if lock is None:
        return None
    try:
        os.rename(path, target)
    except FileNotFoundError:
        lock.release()
        return None
    except OSError:
        # on another file system (a file given on the command line from elsewhere): copy it in
        try:
            lock = _copy_in(path, target, lock)
        except FileNotFoundError:
            return None
    else:
        if not lock.holds(target):
            # another file came in under the same name between locking and renaming: lock that one
            lock.release()
            held = try_lock(target)
            if held is None:
                return None
            lock = held
    return Claimed(target, FileClaim(lock))


def _claim_across_hosts(claims: Claims, path: Path, target: Path) -> Claimed | None:
    """The claim on the new name is taken before the file has it, so no other process can find it
    in the working folder unclaimed; the claim on the inbox name only while renaming."""
    mine = claims.file(target)
    if mine is None:
        return None
    try:
        arriving = claims.file(path)
        if arriving is None:
            mine.release()
            return None
        try:
            try:
                os.rename(path, target)
            except FileNotFoundError:
                mine.release()
                return None
            except OSError:
                try:
                    _copy_in(path, target, None).release()
                except FileNotFoundError:
                    mine.release()
                    return None
        finally:
            arriving.release()
    except BaseException:
        mine.release()
        raise
    return Claimed(target, mine)


def _claim_left(settings: Settings, store: Store, path: Path) -> Claim | None:
    """Claim a file already in the working folder; None if a live process holds it or it is gone."""
    claims = claims_for(settings, store)
    got = claims.file(path)
    if got is not None and claims.across_hosts and not path.exists():
        got.release()    # finished by its owner between being listed and being claimed
        return None
    return got


def _copy_in(src: Path, target: Path, src_lock: FileLock | None) -> FileLock:
    """Copy ``src`` to ``target`` through a locked .part file, then remove ``src``."""
    part = part_path(target)
    try:
        lock, fd = create_locked(part)
        try:
            with src.open("rb") as fh, os.fdopen(os.dup(fd), "wb") as out:
                shutil.copyfileobj(fh, out)
                out.flush()
                os.fsync(out.fileno())
            os.rename(part, target)
        except BaseException:
            lock.release()
            part.unlink(missing_ok=True)
            raise
        try:
            src.unlink()
        except BaseException:
            # the original stays where it was, so the copy must not be processed as well
            lock.release()
            target.unlink(missing_ok=True)
            raise
        return lock
    finally:
        if src_lock is not None:
            src_lock.release()


def original_name(claimed: Path) -> str:
    return claimed.name.split("--", 1)[1] if "--" in claimed.name else claimed.name


def feedback_name(name: str) -> str:
    return f"{Path(safe_name(name, limit=100)).stem} - feedback.txt"


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


def process_file(settings: Settings, store: Store, catalogue: Catalogue, path: Path | Claimed,
                 expected_quarter: Period | None = None, claimed: bool = False) -> Outcome:
    """Process one received file end to end. Never raises for bad input.

    ``claimed``: ``path`` is in the working folder already, left by a stopped process (it is
    finished from where it stopped). A file another live process is working on, or has taken
    first, is "skipped". Given a :class:`Claimed` (from :func:`claim`), that claim is taken over."""
    lock: Claim | None
    work: Path | None
    if isinstance(path, Claimed):
        work, lock, path, claimed = path.path, path.claim, path.path, True
    elif claimed:
        work = path
        lock = _claim_left(settings, store, path)
    else:
        kind = kind_of(path)
        if kind != "file":
            # a link is never followed, and a pipe would hang the read: neither is claimed
            status = "skipped" if kind in ("missing", "folder") else "refused"
            return Outcome(path.name, status, ValidationResult(path.name), note=NOT_A_FILE[kind])
        got = claim(settings, path, store)
        work, lock = (got.path, got.claim) if got else (None, None)
    if work is None or lock is None:
        name = original_name(path) if claimed else path.name
        return Outcome(name, "skipped", ValidationResult(name),
                       note="another kpiflow process is working on it, or took it first")
    try:
        sub = store.submission_by_claim(work.name)
        if sub is None:
            data, result = check_file(work, catalogue, expected_quarter, History(
                store.series, settings.rules, lambda iid, q: _published_words(store, iid, q)))
            # checked before hashing: a file too large to be a return is refused unread
            sha = sha256_file(work, MAX_FILE_BYTES) or ""
            if not sha and result.ok:
                result.error("file-too-large", "The file grew beyond the size a return can be while it was read. "
                             "Send it again.")
            result.source = original_name(work)
            _still_held(lock, work)
            sub = _record(settings, store, catalogue, work, sha, data, result)
        _still_held(lock, work)
        return _finish(settings, store, sub, work)
    finally:
        lock.release()


def _still_held(lock: Claim, work: Path) -> None:
    """A claim in the database lapses with a lost connection: taken again if no other process has
    it, or the file is left to the one that does."""
    if not lock.held():
        raise KpiflowError(f"{original_name(work)}: the claim on it lapsed with a lost connection to the store and "
                           "another process has taken it over")


def _record(settings: Settings, store: Store, catalogue: Catalogue, work: Path, sha: str, data: ReturnData | None,
            result: ValidationResult) -> Submission:
    """Decide the outcome and store it, with the names the file and its feedback will be kept
    under, in one transaction (so two processes cannot both take a file as the first copy)."""
    name = original_name(work)
    quarter = data.quarter if data else None
    with store.transaction():
        done = store.submission_by_claim(work.name)
        if done is not None:
            return done   # stored meanwhile by a process that took over a lapsed claim
        # a file accepted before is a duplicate whenever it comes again, before or after publication
        again = bool(sha) and store.find_accepted(sha) is not None
        if data and quarter and not again and store.quarter_state(quarter) == "published":
            result.error("quarter-published", f"{quarter.short} has been published, so returns for it are closed. "
                         "Ask the performance team to run kpiflow reopen if the figures must change.", sheet="About")
        if not result.ok or data is None:
            status = "rejected"
        elif again:
            status = "duplicate"
        else:
            status = "accepted"
        kept = _reserve(settings, store, settings.rejected if status == "rejected" else settings.processed, name)
        feedback = _reserve(settings, store, settings.feedback_dir, feedback_name(name))
        attest = _attestation(settings, catalogue, data, result) if status == "accepted" else None
        problems = [p.to_dict() for p in result.problems]
        if status == "accepted":
            assert data is not None
            sid = store.store_return(data, name, sha, problems, kept, claim=work.name, feedback=feedback)
        else:
            sid = store.record_rejected(name, sha, data.service if data else "", quarter.label if quarter else "",
                                        data.completed_by if data else "", problems, len(result.errors),
                                        len(result.warnings), kept, status, claim=work.name, feedback=feedback)
        if attest is not None and data is not None and quarter is not None:
            store.record_signoff(data.service, quarter, sid, "signed-off", data.signed_off_by, "", "attested",
                                 data.date_signed_off)
        if status != "duplicate":
            _queue_acknowledgement(settings, store, catalogue, sid, status, data)
        sub = store.submission_by_claim(work.name)
    assert sub is not None
    return sub


def _attestation(settings: Settings, catalogue: Catalogue, data: ReturnData | None,
                 result: ValidationResult) -> str | None:
    """The About sheet's sign-off, where it counts (section 18): "attested"; None where it does not
    (with a warning when sign-off is on and the sheet names someone)."""
    from kpiflow.cycle import attested

    if data is None or not data.signed_off_by:
        return None
    contact = catalogue.contacts.get(data.service)
    why = attested(data.signed_off_by, data.date_signed_off, data.date_completed, contact.approver if contact else "")
    if not why:
        return "attested"
    if settings.cycle.signoff:
        result.warning("signoff-not-valid", f"The sign-off on this return does not count: {why}. It awaits the "
                       "approver's sign-off.", sheet="About")
    return None


def _queue_acknowledgement(settings: Settings, store: Store, catalogue: Catalogue, submission_id: int, status: str,
                           data: ReturnData | None) -> None:
    """With ``acknowledge = true``: queue the answer to a return in the transaction that records
    it, so that it is sent (by ingest, watch or chase --send) however the run ends."""
    if not settings.mail.acknowledge:
        return
    from kpiflow.cycle import ACKNOWLEDGEMENT, due_date, message_key, recipients, subject
    from kpiflow.mail import make_message_id

    service = data.service if data else ""
    quarter = data.quarter if data else None
    to, cc = recipients(ACKNOWLEDGEMENT, catalogue.contacts.get(service), data.email if data else "")
    if not to:
        return     # nobody to answer: no valid About email, and no Services row
    title = (subject(ACKNOWLEDGEMENT, quarter, service, due_date(quarter, settings.cycle), status) if quarter
             else f"{'Accepted' if status == 'accepted' else 'Rejected'}: performance return "
                  f"({service or 'service not known'})")
    store.queue_message(message_key(ACKNOWLEDGEMENT, quarter.label if quarter else "", service, submission_id),
                        make_message_id(settings), ACKNOWLEDGEMENT, service, quarter.label if quarter else "",
                        submission_id, to, cc, title)


def send_acknowledgements(settings: Settings, store: Store, catalogue: Catalogue) -> list[str]:
    """Send the answers waiting in the store (with ``acknowledge = true`` and a mail host): lines
    to print. A mail server that fails leaves them queued for the next run."""
    if not (settings.mail.acknowledge and settings.mail.host):
        return []
    from kpiflow.cycle import ACKNOWLEDGEMENT, SEND_BACK, send_queued

    try:
        sent = send_queued(settings, store, catalogue, kinds=(ACKNOWLEDGEMENT, SEND_BACK))
    except KpiflowError as exc:
        return [f"Acknowledgements not sent: {exc}"]
    lines = [line for line in sent.lines() if not line.startswith("Error: ")]
    if sent.error:
        lines.append(f"Acknowledgements not sent (they stay queued): {sent.error}")
    return lines


def _reserve(settings: Settings, store: Store, folder: Path, name: str) -> str:
    """A free name in ``folder`` (relative to the working folder) that no file has and no other
    submission has been promised. Call inside the transaction that records it."""
    def rel(p: Path) -> str:
        return p.relative_to(settings.home).as_posix()

    return rel(unique_path(folder, name, taken=lambda p: store.path_recorded(rel(p))))


def _finish(settings: Settings, store: Store, sub: Submission, work: Path) -> Outcome:
    """Write the feedback and keep the original, each under its recorded name; either may have
    been done already by a run that was stopped."""
    from kpiflow.workbook.annotate import can_annotate  # not imported by kpiflow validate

    outcome = _outcome(settings, sub)
    if sub.feedback:
        _write_feedback(settings.home / sub.feedback, outcome, sub)
        copy = _annotated_path(settings.home / sub.feedback)
        # a marked-up copy only where there is something to mark: a clean return needs just the .txt
        if outcome.problems.problems and can_annotate(outcome.problems) and work.exists():
            _write_annotated(work, copy, outcome)
        if copy.exists():
            outcome.feedback.append(copy)
    outcome.kept_as = _keep_original(settings, store, sub, work)
    return outcome


def _outcome(settings: Settings, sub: Submission) -> Outcome:
    result = ValidationResult(sub.file_name, [Problem.from_dict(p) for p in sub.problems])
    return Outcome(sub.file_name, sub.outcome, result, sub.service, sub.quarter, settings.home / sub.kept_as,
                   [settings.home / sub.feedback] if sub.feedback else [], sub.id)


def _annotated_path(txt: Path) -> Path:
    """The annotated workbook sits beside the .txt feedback, under the same (recorded, unique) stem."""
    return txt.with_suffix(".xlsx")


def _write_annotated(work: Path, dest: Path, outcome: Outcome) -> None:
    from kpiflow.workbook.annotate import annotated

    if os.path.lexists(dest):
        return   # written by a run that was stopped before it finished
    try:
        data = annotated(work, outcome.problems)
    except Exception as exc:
        # the workbook was readable for validation but cannot be copied marked up: the .txt stands alone
        outcome.problems.warning("no-annotated-copy", f"kpiflow could not make the marked-up copy of the "
                                 f"workbook ({type(exc).__name__}); the problems are listed in the .txt feedback.")
        return
    write_new(dest, data)


def _write_feedback(dest: Path, outcome: Outcome, sub: Submission) -> None:
    received = dt.datetime.fromisoformat(sub.received_at).astimezone().isoformat()
    write_new(dest, feedback_text(outcome, received).encode("utf-8"))


def _keep_original(settings: Settings, store: Store, sub: Submission, work: Path) -> Path:
    kept = settings.home / sub.kept_as
    while not place(work, kept):
        # a file kpiflow did not write has taken the name since: keep the original under the next free one
        with store.transaction():
            rel = _reserve(settings, store, kept.parent, sub.file_name)
            store.set_kept_as(sub.id, rel)
        kept = settings.home / rel
    return kept


def pending(settings: Settings, store: Store | None = None) -> list[Path]:
    """Files in the working folder: left by a process that was stopped part-way (process_file
    finishes them), or being worked on by a live one (process_file skips them)."""
    if not settings.work_dir.exists():
        return []
    out: list[Path] = []
    for p in sorted(settings.work_dir.iterdir()):
        if p.name.startswith("."):
            if p.name.endswith(".part") and p.is_file():
                # half a copy; the original it came from is still in place
                if claims_for(settings, store).across_hosts:
                    assert store is not None
                    _discard_unclaimed(settings, store, p)
                else:
                    discard_abandoned(p)
            continue
        if p.is_file():
            out.append(p)
    return out


def _discard_unclaimed(settings: Settings, store: Store, part: Path) -> None:
    """Remove a .part copy whose file's claim no process holds (its writer died)."""
    try:
        got = claims_for(settings, store).file(part.with_name(part.name[1:-len(".part")]))
    except StoreUnavailable:
        return   # left for a later look
    if got is None:
        return
    try:
        part.unlink(missing_ok=True)
    finally:
        got.release()


def ingest(settings: Settings, store: Store, catalogue: Catalogue, paths: list[Path],
           expected_quarter: Period | None = None) -> list[Outcome]:
    """Finish what a stopped process left in the working folder, then process ``paths``."""
    outcomes = [process_file(settings, store, catalogue, p, expected_quarter, claimed=True)
                for p in pending(settings, store)]
    outcomes += [process_file(settings, store, catalogue, p, expected_quarter) for p in paths]
    return outcomes


def _published_words(store: Store, iid: str, quarter: Period) -> tuple[str, ...]:
    # proofread is imported only for a return with words to check (kpiflow validate starts fast)
    from kpiflow.proofread import published_words

    return published_words(store, iid, quarter)


def check_file(path: Path, catalogue: Catalogue, expected_quarter: Period | None = None,
               history: History | None = None) -> tuple[ReturnData | None, ValidationResult]:
    """Validate a workbook and, given the stored history, check it against that too."""
    data, result = validate_file(path, catalogue, expected_quarter)
    if data is not None and history is not None:
        check_against_history(data, catalogue, history, result)
    return data, result


@dataclass(frozen=True)
class Checked:
    """What ``kpiflow validate`` says about each file."""

    results: tuple[ValidationResult, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def to_dict(self) -> dict[str, Any] | list[dict[str, Any]]:
        if len(self.results) == 1:
            return self.results[0].to_dict()
        return [r.to_dict() for r in self.results]


def _given_files(paths: list[Path]) -> None:
    for f in paths:
        kind = kind_of(f)
        if kind == "missing":
            raise KpiflowError(f"no such file: {f}")
        if kind == "link" and f.is_file():
            continue    # validate only reads: a link to a workbook is checked like the workbook
        if kind != "file":
            raise KpiflowError(f"{f} is {NOT_A_FILE[kind]}")


def validate_returns(settings: Settings, paths: list[Path], quarter: Period | None = None) -> Checked:
    """``kpiflow validate``: check workbooks without storing anything, against the stored history
    where the working folder has one."""
    _given_files(paths)
    catalogue = load_checked_catalogue(settings)
    if settings.store_kind == "sqlite" and not settings.db_path.exists():
        return Checked(tuple(check_file(p, catalogue, quarter)[1] for p in paths))
    with open_store(settings) as store:
        history = History(store.series, settings.rules, lambda iid, q: _published_words(store, iid, q))
        return Checked(tuple(check_file(p, catalogue, quarter, history)[1] for p in paths))


@dataclass(frozen=True)
class Ingested:
    """What ``kpiflow ingest`` did with each file."""

    outcomes: tuple[Outcome, ...]
    mail: tuple[str, ...] = ()      # what sending the acknowledgements did

    @property
    def ok(self) -> bool:
        return not any(o.status in ("rejected", "refused") for o in self.outcomes)

    def to_dict(self) -> list[dict[str, Any]]:
        return [o.to_dict() for o in self.outcomes]

    def lines(self) -> list[str]:
        if not self.outcomes:
            return ["Nothing to ingest.", *self.mail]
        out = []
        for o in self.outcomes:
            out.append(o.line())
            out += [f"  {p.render()}" for p in o.problems.problems]
        return out + list(self.mail)


def ingest_returns(settings: Settings, paths: list[Path] | None = None,
                   quarter: Period | None = None) -> Ingested:
    """``kpiflow ingest``: the files named, or everything waiting in the inbox.

    A file named that is not there any more (another process took it first) or is a folder is
    skipped, and a link, pipe or device is refused, each with its line: the others go ahead."""
    catalogue = load_checked_catalogue(settings)
    with open_store(settings) as store:
        others: list[tuple[Path, str]] = []
        # absolute, not resolved: resolving would follow a link to the file it points at
        todo = [Path(os.path.abspath(p)) for p in paths] if paths else waiting_files(settings, others)
        outcomes = ingest(settings, store, catalogue, todo, quarter)
        outcomes += [Outcome(p.name, "skipped", ValidationResult(p.name), note=NOT_A_FILE[kind]) for p, kind in others]
        return Ingested(tuple(outcomes), tuple(send_acknowledgements(settings, store, catalogue)))
