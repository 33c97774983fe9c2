"""Ingest: one shared process_file for ingest and watch; real files, a real store (SQLite, and a
PostgreSQL server: ids sqlite, postgresql)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kpiflow.claims import claim_name
from kpiflow.filing import create_locked, safe_name, try_lock, waiting_files
from kpiflow.model import Catalogue
from kpiflow.periods import Period, parse_period
from kpiflow.pipeline import claim, ingest, pending, process_file
from kpiflow.settings import Settings
from kpiflow.store import Claim, Store, open_store

# the example's CS01 service response (the council's own words) gives two figures kpiflow does not hold:
# kpiflow proofread's warnings, at the response's cell
EXAMPLE_WORDS = [("Return", "K7", "figure-not-held")] * 2

pytestmark = pytest.mark.backends


def drop(src: Path, settings: Settings, name: str | None = None) -> Path:
    dest = settings.inbox / (name or src.name)
    shutil.copyfile(src, dest)
    return dest


def count(store: Store, table: str) -> int:
    return int(store.query(f"SELECT COUNT(*) FROM {table}")[0][0])


def test_an_accepted_return_is_stored_moved_and_fed_back(settings: Settings, store: Store, catalogue: Catalogue,
                                                         filled: Path, quarter: Period) -> None:
    dropped = drop(filled, settings)
    outcome = process_file(settings, store, catalogue, dropped)
    assert outcome.status == "accepted"
    assert not dropped.exists()
    assert outcome.kept_as == settings.processed / filled.name
    assert outcome.kept_as.read_bytes() == filled.read_bytes()
    series = store.series("CS01")
    assert (series[quarter].number, series[quarter].rate) == (531, 185.6)
    assert store.series("CS03")[parse_period("2017-09")].rate == 675.4
    assert store.breakdown("CS01", quarter)[0] == ("Under 1", 39)
    assert store.texts("CS02", quarter) is not None
    sub = store.accepted_submission("Children's Services", quarter)
    assert sub is not None and sub.completed_by == "Children's Services performance lead"
    assert len(sub.sha256) == 64
    text = outcome.feedback[0].read_text(encoding="utf-8")
    assert "ACCEPTED" in text and outcome.feedback[0].parent == settings.feedback_dir


def test_a_rejected_return_changes_nothing_in_the_store(settings: Settings, store: Store, catalogue: Catalogue,
                                                        filled: Path, edit: Callable[..., Path]) -> None:
    before = (count(store, "observations"), count(store, "texts"), count(store, "breakdowns"))
    dropped = drop(edit(filled, {"Return!F7": "n/a"}), settings)
    outcome = process_file(settings, store, catalogue, dropped)
    assert outcome.status == "rejected"
    assert (settings.rejected / filled.name).exists()
    assert (count(store, "observations"), count(store, "texts"), count(store, "breakdowns")) == before
    feedback = outcome.feedback[0].read_text(encoding="utf-8")
    assert "REJECTED" in feedback and "Return!F7" in feedback
    assert [s.outcome for s in store.submissions()] == ["rejected"]


def test_the_same_file_twice_is_stored_once(settings: Settings, store: Store, catalogue: Catalogue,
                                            filled: Path) -> None:
    first = process_file(settings, store, catalogue, drop(filled, settings))
    n = count(store, "observations")
    second = process_file(settings, store, catalogue, drop(filled, settings))
    assert (first.status, second.status) == ("accepted", "duplicate")
    assert count(store, "observations") == n
    # both originals kept, neither overwritten
    assert {p.name for p in settings.processed.iterdir()} == {filled.name, f"{filled.stem} (2).xlsx"}
    # for each: the .txt, and the copy marking the two warnings in the response
    assert len(list(settings.feedback_dir.iterdir())) == 4


def test_a_later_return_supersedes_and_revises(settings: Settings, store: Store, catalogue: Catalogue,
                                               filled: Path, quarter: Period, edit: Callable[..., Path]) -> None:
    process_file(settings, store, catalogue, drop(filled, settings))
    corrected = edit(filled, {"Return!F7": 530, "Return!G7": 185.3,
                              "Supporting data!C4": 1978, "Supporting data!D4": 691.5})
    out = process_file(settings, store, catalogue, drop(corrected, settings, "corrected.xlsx"))
    assert out.status == "accepted"
    subs = store.submissions("Children's Services", quarter)
    assert subs[0].superseded_by == subs[1].id and subs[1].superseded_by is None
    assert store.series("CS01")[quarter].number == 530
    revs = store.revisions(["CS01", "CS03"])
    assert {(r.indicator_id, r.period, r.figure, r.old, r.new) for r in revs} == {
        ("CS01", "2017/18 Q2", "number", 531, 530), ("CS01", "2017/18 Q2", "rate", 185.6, 185.3),
        ("CS03", "2017-07", "number", 1977, 1978), ("CS03", "2017-07", "rate", 691.2, 691.5),
        # the example return's comparators are 2016/17's (its Comparator year): 102.0 revises the 101.0 held
        ("CS01", "2016/17", "statneigh", 101.0, 102.0)}
    assert {r.source for r in revs} == {"return corrected.xlsx", f"return {filled.name}"}


def test_ingest_finishes_files_left_in_the_working_folder(settings: Settings, store: Store, catalogue: Catalogue,
                                                          filled: Path) -> None:
    # a process killed after claiming a file leaves it in inbox/.working; the next run finishes it
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    left = settings.work_dir / f"20171016-123--{filled.name}"
    shutil.copyfile(filled, left)
    outcomes = ingest(settings, store, catalogue, [])
    assert [(o.file, o.status) for o in outcomes] == [(filled.name, "accepted")]
    assert not any(settings.work_dir.iterdir())


def test_a_claimed_file_is_not_taken_twice(settings: Settings, store: Store, catalogue: Catalogue,
                                           filled: Path) -> None:
    dropped = drop(filled, settings)
    assert claim(settings, dropped, store) is not None
    assert claim(settings, dropped, store) is None
    assert process_file(settings, store, catalogue, dropped).status == "skipped"


def held_elsewhere(settings: Settings, path: Path) -> tuple[Claim, Store | None]:
    """``path`` locked as another process (on another host, with PostgreSQL) would lock it."""
    if settings.store_kind == "postgresql":
        other = open_store(settings)        # its own connection: another session, as another process has
        got = other.try_claim(claim_name(settings, path))
        assert got is not None
        return got, other
    lock = try_lock(path)                    # a separate open file: to flock, another process
    assert lock is not None
    return lock, None


def test_a_file_being_claimed_elsewhere_is_left_alone(settings: Settings, store: Store, catalogue: Catalogue,
                                                      filled: Path) -> None:
    dropped = drop(filled, settings)
    lock, other = held_elsewhere(settings, dropped)
    try:
        assert process_file(settings, store, catalogue, dropped).status == "skipped"
        assert dropped.exists() and pending(settings, store) == []
    finally:
        lock.release()
        if other:
            other.close()
    assert process_file(settings, store, catalogue, dropped).status == "accepted"


def test_a_published_quarter_refuses_returns(settings: Settings, store: Store, catalogue: Catalogue,
                                             filled: Path, quarter: Period) -> None:
    store.record_quarter_event(quarter, "published", "clerk", "")
    out = process_file(settings, store, catalogue, drop(filled, settings))
    assert out.status == "rejected"
    assert out.problems.locations() == [*EXAMPLE_WORDS, ("About", "", "quarter-published")]
    assert "kpiflow reopen" in out.problems.problems[-1].message


@pytest.mark.parametrize(("name", "safe"), [
    ("../../etc/passwd", "passwd"),
    ("/etc/cron.d/job", "job"),
    ("C:\\Windows\\evil.xlsx", "evil.xlsx"),
    ("..\\..\\boot.ini", "boot.ini"),
    ("CON.xlsx", "_CON.xlsx"),
    ("con", "_con"),
    ("NUL.txt", "_NUL.txt"),
    ("com1", "_com1"),
    ("LPT9.tar.gz", "_LPT9.tar.gz"),
    ("CON .xlsx", "_CON.xlsx"),
    ("CONOUT$.xlsx", "_CONOUT$.xlsx"),
    ("console.xlsx", "console.xlsx"),
    ("..", "file"),
    (".", "file"),
    ("", "file"),
    ("...xlsx", "xlsx"),
    ("a\tb\nc\x00d\x7f.xlsx", "a_b_c_d_.xlsx"),
    ('what?<>|"*:.xlsx', "what_______.xlsx"),
    ("evil\u202excod.xlsx", "evilxcod.xlsx"),
    ("bad\udcff.xlsx", "bad_.xlsx"),
    ("trailing. . .", "trailing"),
])
def test_file_names_cannot_escape_their_folders(name: str, safe: str) -> None:
    assert safe_name(name) == safe


def test_long_names_are_cut_to_a_byte_budget_keeping_the_extension() -> None:
    for name in ("x" * 500 + ".xlsx", "é" * 300 + ".xlsx", "🙂" * 200 + ".xlsx", "x" * 500):
        out = safe_name(name)
        assert len(out.encode("utf-8")) <= 120
        assert out.endswith(".xlsx") == name.endswith(".xlsx")
    assert safe_name("a." + "x" * 50) == "a." + "x" * 10


def test_awkward_file_names_are_received_and_kept_inside_their_folders(
        tmp_path: Path, settings: Settings, store: Store, catalogue: Catalogue, filled: Path) -> None:
    data = filled.read_bytes()
    names = [b"CON.xlsx", b"nul", b"com1.xlsx", b"tab\there\x01.xlsx", ("\u00e9" * 115 + ".xlsx").encode(),
             b"not-utf8-\xff.xlsx", "evil\u202excod.xlsx".encode(), b"trailing dot."]
    for n in names:
        with open(os.path.join(os.fsencode(settings.inbox), n), "wb") as fh:
            fh.write(data)
    before = snapshot(tmp_path)
    outcomes = ingest(settings, store, catalogue, waiting_files(settings))
    assert [o.status for o in outcomes] == ["accepted"] + ["duplicate"] * (len(names) - 1)
    kept = {o.kept_as for o in outcomes}
    assert len(kept) == len(names)
    for o in outcomes:
        assert o.kept_as is not None and o.kept_as.parent == settings.processed
        assert o.kept_as.name == safe_name(o.kept_as.name) and o.file == safe_name(o.file)
        assert o.feedback and all(f.parent == settings.feedback_dir for f in o.feedback)
        assert o.kept_as.read_bytes() == data
    assert all(s.file_name.encode("utf-8") for s in store.submissions())    # storable text, no surrogates
    changed = {p for p, v in snapshot(tmp_path).items() if before.get(p) != v}
    assert changed <= written_by_ingest(tmp_path, settings), changed
    assert list(settings.inbox.iterdir()) != [] and not any(p.is_file() for p in settings.inbox.iterdir())


def snapshot(root: Path) -> dict[Path, tuple[int, int]]:
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def written_by_ingest(root: Path, settings: Settings) -> set[Path]:
    """Where ingest may write: its folders and the store."""
    allowed = (settings.processed, settings.rejected, settings.feedback_dir)
    return {p for p in root.rglob("*") if p.is_file() and (p.parent in allowed
                                                          or p.name.startswith(settings.db_path.name))}


def test_a_service_name_from_a_workbook_cannot_lead_outside_the_folders(
        tmp_path: Path, settings: Settings, store: Store, catalogue: Catalogue, filled: Path,
        edit: Callable[..., Path]) -> None:
    hostile = edit(filled, {"About!B1": "../../etc"}, "etc.xlsx")
    before = snapshot(tmp_path)
    out = process_file(settings, store, catalogue, drop(hostile, settings))
    assert out.status == "rejected"
    assert ("About", "B1", "unknown-service") in out.problems.locations()
    changed = {p for p, v in snapshot(tmp_path).items() if before.get(p) != v}
    assert changed <= written_by_ingest(tmp_path, settings), changed
    assert {p.name for p in settings.rejected.iterdir()} == {"etc.xlsx"}
    assert not (tmp_path / "etc").exists() and not (settings.home / "etc").exists()
    [sub] = store.submissions()
    assert (sub.outcome, sub.kept_as) == ("rejected", "inbox/rejected/etc.xlsx")


def test_a_duplicate_is_recorded_and_kept_under_a_new_name_never_overwriting(
        settings: Settings, store: Store, catalogue: Catalogue, filled: Path) -> None:
    # someone has put a file of their own where the return would go
    settings.processed.mkdir(parents=True, exist_ok=True)
    theirs = settings.processed / filled.name
    theirs.write_bytes(b"not ours")
    first = process_file(settings, store, catalogue, drop(filled, settings))
    second = process_file(settings, store, catalogue, drop(filled, settings))
    assert (first.status, second.status) == ("accepted", "duplicate")
    assert theirs.read_bytes() == b"not ours"
    assert first.kept_as == settings.processed / f"{filled.stem} (2).xlsx"
    assert second.kept_as == settings.processed / f"{filled.stem} (3).xlsx"
    assert first.kept_as.read_bytes() == second.kept_as.read_bytes() == filled.read_bytes()
    subs = store.submissions()
    assert [(s.outcome, s.kept_as, s.errors) for s in subs] == [
        ("accepted", f"inbox/processed/{filled.stem} (2).xlsx", 0),
        ("duplicate", f"inbox/processed/{filled.stem} (3).xlsx", 0)]
    assert subs[0].sha256 == subs[1].sha256 and subs[1].superseded_by is None
    assert store.find_accepted(subs[1].sha256) == subs[0]
    assert "ALREADY RECEIVED" in second.feedback[0].read_text(encoding="utf-8")


def test_a_name_taken_after_it_was_recorded_is_not_overwritten(
        settings: Settings, store: Store, catalogue: Catalogue, filled: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import kpiflow.pipeline as pipeline

    real = pipeline._keep_original

    def someone_gets_there_first(settings: Settings, store: Store, sub: Any, work: Path) -> Path:
        (settings.home / sub.kept_as).write_bytes(b"not ours")
        return real(settings, store, sub, work)

    monkeypatch.setattr(pipeline, "_keep_original", someone_gets_there_first)
    out = process_file(settings, store, catalogue, drop(filled, settings))
    assert (settings.processed / filled.name).read_bytes() == b"not ours"
    assert out.kept_as == settings.processed / f"{filled.stem} (2).xlsx"
    assert out.kept_as.read_bytes() == filled.read_bytes()
    assert store.submissions()[0].kept_as == f"inbox/processed/{filled.stem} (2).xlsx"


def test_a_file_held_by_a_live_process_is_left_alone_and_an_abandoned_one_finished(
        settings: Settings, store: Store, catalogue: Catalogue, filled: Path) -> None:
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    work = settings.work_dir / f"20171016-123-abc--{filled.name}"
    shutil.copyfile(filled, work)
    lock, other = held_elsewhere(settings, work)
    assert [o.status for o in ingest(settings, store, catalogue, [])] == ["skipped"]
    assert work.exists() and store.submissions() == []
    lock.release()               # that process has died
    if other:
        other.close()
    assert [(o.file, o.status) for o in ingest(settings, store, catalogue, [])] == [(filled.name, "accepted")]
    assert pending(settings) == []


def test_half_a_copy_left_by_a_killed_process_is_cleared_but_one_being_written_is_not(
        settings: Settings, store: Store) -> None:
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    abandoned = settings.work_dir / ".x--a.xlsx.part"
    abandoned.write_bytes(b"PK half")
    live = settings.work_dir / ".y--b.xlsx.part"
    flock, _ = create_locked(live)
    other: Store | None = None
    lock: Claim = flock
    if settings.store_kind == "postgresql":
        flock.release()      # across hosts the file lock says nothing: the claim in the database does
        lock, other = held_elsewhere(settings, settings.work_dir / "y--b.xlsx")
    try:
        assert pending(settings, store) == []
        assert not abandoned.exists() and live.exists()
    finally:
        lock.release()
        if other:
            other.close()


def test_a_file_from_another_file_system_is_copied_in_and_its_original_removed(
        settings: Settings, store: Store, catalogue: Catalogue, filled: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(settings.home).st_dev:
        pytest.skip("needs a second file system")
    src = Path(tempfile.mkdtemp(dir=shm)) / "elsewhere.xlsx"
    try:
        shutil.copyfile(filled, src)
        out = process_file(settings, store, catalogue, src)
        assert out.status == "accepted" and not src.exists()
        assert out.kept_as == settings.processed / "elsewhere.xlsx"
        assert out.kept_as.read_bytes() == filled.read_bytes()
        assert list(settings.work_dir.iterdir()) == []
    finally:
        shutil.rmtree(src.parent)


def test_a_return_with_problems_gets_an_annotated_copy_beside_its_txt(settings: Settings, store: Store,
                                                                      catalogue: Catalogue, filled: Path,
                                                                      edit: Callable[..., Path]) -> None:
    import openpyxl

    bad = drop(edit(filled, {"Return!F7": "n/a"}), settings)
    out = process_file(settings, store, catalogue, bad)
    txt, xlsx = out.feedback
    assert (txt.suffix, xlsx.suffix, txt.stem) == (".txt", ".xlsx", xlsx.stem)
    wb = openpyxl.load_workbook(xlsx)
    assert wb.sheetnames[0] == "Problems" and "not-a-number" in wb["Return"]["F7"].comment.text
    words = "As part of the improvement plan we have clear actions to reduce the number of children looked after."
    clean = process_file(settings, store, catalogue, drop(edit(filled, {"Return!K7": words}), settings, "clean.xlsx"))
    assert [p.suffix for p in clean.feedback] == [".txt"]
    junk = settings.inbox / "junk.xlsx"
    junk.write_bytes(b"not a workbook")
    assert [p.suffix for p in process_file(settings, store, catalogue, junk).feedback] == [".txt"]


def test_ingest_checks_a_return_against_the_stored_figures(settings: Settings, store: Store, catalogue: Catalogue,
                                                           filled: Path, edit: Callable[..., Path]) -> None:
    # no service response for an indicator that will be an exception: refused at ingest
    out = process_file(settings, store, catalogue, drop(edit(filled, {"Return!K9": None}), settings))
    assert out.status == "rejected"
    assert out.problems.locations() == [*EXAMPLE_WORDS, ("Return", "K9", "missing-response")]


# -- what is not a plain file: links, pipes, devices, folders, files taken first ----------------------

def cli(*args: str, home: Path) -> Any:
    from test_cli import kpiflow

    return kpiflow(*args, "--home", str(home), home=home)


def test_ingest_refuses_a_link_named_on_the_command_line(home: Path, settings: Settings, store: Store,
                                                         filled: Path, tmp_path: Path) -> None:
    store.close()
    outside = tmp_path / "elsewhere" / "payroll.xlsx"
    outside.parent.mkdir()
    shutil.copyfile(filled, outside)
    link = settings.inbox / "return.xlsx"
    link.symlink_to(outside)
    r = cli("ingest", str(link), home=home)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "return.xlsx: refused: a symbolic link, which kpiflow never follows" in r.stdout
    assert outside.read_bytes() == filled.read_bytes() and link.is_symlink()
    assert list(settings.processed.iterdir()) == [] and list(settings.rejected.iterdir()) == []


def test_ingest_and_watch_say_why_they_leave_a_link_in_the_inbox(home: Path, settings: Settings, store: Store,
                                                                  catalogue: Catalogue, filled: Path,
                                                                  tmp_path: Path) -> None:
    from kpiflow.watch import Watcher

    store.close()
    outside = tmp_path / "elsewhere.xlsx"
    shutil.copyfile(filled, outside)
    (settings.inbox / "linked.xlsx").symlink_to(outside)
    r = cli("ingest", home=home)
    assert r.returncode == 0
    assert "linked.xlsx: skipped: a symbolic link, which kpiflow never follows" in r.stdout
    lines: list[str] = []
    Watcher(settings, catalogue, settle=0, log=lines.append).run(once=True)
    assert [x[20:] for x in lines] == ["linked.xlsx: skipped: a symbolic link, which kpiflow never follows: put the "
                                       "workbook itself here, not a link to it"]
    assert (settings.inbox / "linked.xlsx").is_symlink() and outside.exists()


def test_ingest_of_a_glob_goes_on_past_files_taken_first_and_folders(home: Path, settings: Settings, store: Store,
                                                                     filled: Path) -> None:
    store.close()
    a = drop(filled, settings, "a.xlsx")
    gone = settings.inbox / "b.xlsx"     # listed by the shell, then taken by the watcher
    r = cli("ingest", str(settings.processed), str(gone), str(a), home=home)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[:2] == [
        "processed: skipped: a folder, not a file",
        "b.xlsx: skipped: no longer there: another kpiflow process (e.g. the watcher) may have taken it first"]
    assert "a.xlsx: accepted" in r.stdout
    assert (settings.processed / "a.xlsx").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_or_a_device_given_to_ingest_says_what_it_is(home: Path, settings: Settings, store: Store) -> None:
    store.close()
    fifo = settings.inbox / "pipe.xlsx"
    os.mkfifo(fifo)
    r = cli("ingest", str(fifo), "/dev/null", home=home)
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout.splitlines() == ["pipe.xlsx: refused: a named pipe (FIFO), not a file: save the workbook as a file",
                                     "null: refused: a device, not a file"]
    assert fifo.exists()
    r = cli("validate", str(fifo), home=home)
    assert r.returncode == 2 and "pipe.xlsx is a named pipe (FIFO), not a file" in r.stderr
    r = cli("validate", str(settings.inbox), home=home)
    assert r.returncode == 2 and "is a folder, not a file" in r.stderr


def test_a_file_far_larger_than_a_return_is_refused_without_hashing_it(
        settings: Settings, store: Store, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    import kpiflow.filing

    huge = settings.inbox / "huge.xlsx"
    with huge.open("wb") as fh:
        fh.truncate(20 * 1024**3)      # 20 GB, sparse: nothing on disk
    real = hashlib.sha256

    def limited(data: bytes = b"") -> Any:
        h = real(data)
        fed = [len(data)]

        class Spy:
            def update(self, data: bytes) -> None:
                fed[0] += len(data)
                assert fed[0] < 200 * 1024**2, "hashed far more than any return holds"
                h.update(data)

            def hexdigest(self) -> str:
                return h.hexdigest()

            def digest(self) -> bytes:
                return h.digest()

        return Spy()

    monkeypatch.setattr(kpiflow.filing.hashlib, "sha256", limited)
    outcome = process_file(settings, store, catalogue, huge)
    assert outcome.status == "rejected"
    assert outcome.problems.locations() == [("", "", "file-too-large")]
    assert outcome.kept_as == settings.rejected / "huge.xlsx"


# -- comparators are filed against the year they were published for (issue 22, section 3) ------------------------

def test_comparators_typed_at_q2_are_filed_against_the_previous_year_not_the_quarter(
        settings: Settings, store: Store, catalogue: Catalogue, filled: Path, quarter: Period,
        edit: Callable[..., Path]) -> None:
    # the Return sheet asks for 2016/17's comparators at 2017/18 Q2 (Comparator year, column M)
    wb = __import__("openpyxl").load_workbook(filled)
    assert wb["Return"]["M6"].value == "Comparator year" and wb["Return"]["M7"].value == "2016/17"
    out = process_file(settings, store, catalogue, drop(edit(filled, {"Return!H7": 104.5, "Return!I7": 63}),
                                                        settings))
    assert out.status == "accepted", out.problems.render_text()
    series = store.series("CS01")
    assert (series[quarter].statneigh, series[quarter].england) == (None, None)
    year = parse_period("2016/17")
    assert (series[year].statneigh, series[year].england) == (104.5, 63)
    assert (series[year].number, series[year].rate) == (525, 183.0)      # the year's own figures untouched
    assert {(r.period, r.figure, r.old, r.new) for r in store.revisions(["CS01"])} >= {
        ("2016/17", "statneigh", 101.0, 104.5), ("2016/17", "england", 62.0, 63)}


def test_comparators_typed_at_q4_are_not_taken_for_the_year_that_has_just_ended(
        settings: Settings, store: Store, catalogue: Catalogue, tmp_path: Path) -> None:
    from kpiflow.issue import issue_returns
    from kpiflow.measures import SNAPSHOT
    from kpiflow.trends import outturn
    from kpiflow.workbook.build import fill_return

    q4 = parse_period("2017/18 Q4")
    issued = issue_returns(settings, store, catalogue, q4, "Children's Services")[0]
    figures: dict[str, dict[str, object]] = {
        "CS01": {"Number": 500, "Rate": 174.8, "Statistical neighbours": 103.0, "England": 64,
                 "Service response": "Plan in place."},
        "CS02": {"Number": 700, "Service response": "Plan in place."},
        "CS03": {"Number": 1900, "Rate": 664.2, "Service response": "Plan in place."}}
    filled = fill_return(issued, tmp_path / "q4" / issued.name, {"Completed by": "A Lead"}, figures)
    out = process_file(settings, store, catalogue, drop(filled, settings))
    assert out.status == "accepted", out.problems.render_text()
    series = store.series("CS01")
    # 2016/17's comparators, as the sheet asked: never 2017/18's (read as the year's through its Q4)
    assert outturn(series, parse_period("2017/18"), "statneigh", SNAPSHOT) is None
    assert outturn(series, parse_period("2017/18"), "england", SNAPSHOT) is None
    assert (series[parse_period("2016/17")].statneigh, series[parse_period("2016/17")].england) == (103.0, 64)


def test_a_comparator_year_the_service_changes_is_where_the_comparators_go(
        settings: Settings, store: Store, catalogue: Catalogue, filled: Path, edit: Callable[..., Path]) -> None:
    changed = edit(filled, {"Return!H7": 99.5, "Return!I7": 61, "Return!M7": "2015-16"})
    out = process_file(settings, store, catalogue, drop(changed, settings))
    assert out.status == "accepted", out.problems.render_text()
    assert store.series("CS01")[parse_period("2015/16")].statneigh == 99.5


@pytest.mark.parametrize(("typed", "why"), [
    ("2018/19", "after this return's year (2017/18)"),
    ("2017/18 Q1", "is not a financial year"),
    ("next year", "is not a financial year"),
    ("2005/06", "more than 10 years before"),
])
def test_a_comparator_year_that_makes_no_sense_is_refused_at_its_cell(
        settings: Settings, store: Store, catalogue: Catalogue, filled: Path, edit: Callable[..., Path],
        typed: str, why: str) -> None:
    before = count(store, "observations")
    out = process_file(settings, store, catalogue, drop(edit(filled, {"Return!M7": typed}), settings))
    assert out.status == "rejected"
    assert out.problems.locations() == [("Return", "M7", "bad-comparator-year"), *EXAMPLE_WORDS]
    assert why in out.problems.problems[0].message and "2016/17" in out.problems.problems[0].message
    assert count(store, "observations") == before


def test_a_comparator_year_is_not_checked_where_the_row_gives_no_comparator(
        settings: Settings, store: Store, catalogue: Catalogue, filled: Path, edit: Callable[..., Path]) -> None:
    # CS02 has no comparators in the example return: its Comparator year cell files nothing
    out = process_file(settings, store, catalogue, drop(edit(filled, {"Return!M8": "rubbish"}), settings))
    assert out.status == "accepted", out.problems.render_text()


def test_a_file_accepted_before_publication_dropped_again_after_it_is_a_duplicate(
        settings: Settings, store: Store, catalogue: Catalogue, filled: Path, quarter: Period) -> None:
    first = process_file(settings, store, catalogue, drop(filled, settings))
    assert first.status == "accepted"
    store.record_quarter_event(quarter, "published", "clerk", "")
    again = process_file(settings, store, catalogue, drop(filled, settings))
    assert again.status == "duplicate"
    assert again.problems.locations() == EXAMPLE_WORDS
    assert not settings.rejected.exists() or not any(settings.rejected.iterdir())
    assert [s.outcome for s in store.submissions()] == ["accepted", "duplicate"]
    assert "ALREADY RECEIVED" in again.feedback[0].read_text(encoding="utf-8")


def test_a_workbook_issued_without_a_comparator_year_files_comparators_against_the_previous_year(
        settings: Settings, store: Store, catalogue: Catalogue, filled: Path, quarter: Period,
        edit: Callable[..., Path]) -> None:
    # a workbook issued before the column existed (or its cell cleared): the year the sheet asks for by default
    older = edit(filled, {"Return!M6": None, "Return!M7": None, "Return!M8": None, "Return!M9": None,
                          "Return!H7": 104.5})
    out = process_file(settings, store, catalogue, drop(older, settings))
    assert out.status == "accepted", out.problems.render_text()
    assert store.series("CS01")[parse_period("2016/17")].statneigh == 104.5
    assert store.series("CS01")[quarter].statneigh is None


def test_a_file_claimed_by_the_caller_is_processed_under_that_claim(settings: Settings, store: Store,
                                                                    catalogue: Catalogue, filled: Path) -> None:
    dropped = drop(filled, settings)
    got = claim(settings, dropped, store)
    assert got is not None and got.claim.held() and got.path.parent == settings.work_dir
    assert process_file(settings, store, catalogue, got.path, claimed=True).status == "skipped"   # held: by us
    outcome = process_file(settings, store, catalogue, got)
    assert (outcome.file, outcome.status) == (filled.name, "accepted")
    assert not got.claim.held() and pending(settings, store) == []
