"""kpiflow watch with real files, a real observer and real subprocesses.

In-process tests run ``Watcher.run`` in a thread and stop it with ``stop()``; the subprocess tests
run ``python -m kpiflow watch`` and stop it the way a user or a service manager would (Ctrl-C,
SIGTERM, SIGKILL).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from kpiflow.filing import ignored, waiting_files
from kpiflow.model import Catalogue
from kpiflow.settings import Settings
from kpiflow.store import Store, open_store
from kpiflow.watch import Watcher

STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ")
POSIX_ONLY = pytest.mark.skipif(os.name != "posix", reason="signals and /proc as on Linux")


def wait_for(predicate: Callable[[], object], timeout: float = 20) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def distinct_returns(filled: Path, folder: Path, n: int, prefix: str = "return") -> list[Path]:
    """``n`` valid returns, each with different commentary, so their SHA-256 differ."""
    folder.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.load_workbook(filled)
    out = []
    for i in range(n):
        wb["Return"]["J7"].value = f"Commentary version {i}"
        path = folder / f"{prefix} {i:02d}.xlsx"
        wb.save(path)
        out.append(path)
    return out


def drop(files: list[Path], inbox: Path) -> None:
    """All at once: each file appears whole, by a rename on the same file system."""
    for f in files:
        os.rename(f, inbox / f.name)


def kept(settings: Settings) -> list[str]:
    """Names of the originals in processed/ and rejected/, with repeats."""
    return sorted(p.name for d in (settings.processed, settings.rejected) if d.is_dir()
                  for p in d.iterdir() if p.is_file() and not p.name.startswith("."))


def in_inbox(settings: Settings) -> list[str]:
    return sorted(p.name for p in settings.inbox.iterdir() if p.is_file())


def working(settings: Settings) -> list[str]:
    d = settings.work_dir
    return sorted(p.name for p in d.iterdir() if p.is_file()) if d.is_dir() else []


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def log_lines(settings: Settings) -> list[str]:
    path = settings.outbox / "kpiflow.log"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


@contextmanager
def watching(settings: Settings, catalogue: Catalogue, **options: Any) -> Iterator[tuple[Watcher, list[str]]]:
    """A Watcher running in a thread, stopped (and checked to have stopped) on exit."""
    lines: list[str] = []
    w = Watcher(settings, catalogue, log=lines.append, **options)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            w.run()
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert wait_for(lambda: any(" watching " in x for x in lines) or not t.is_alive(), 10), lines
    try:
        yield w, lines
    finally:
        w.stop()
        t.join(15)
        assert not t.is_alive(), "the watcher did not stop"
        assert not errors, errors
        assert lines[-1].endswith(" stopped")


def test_lock_temp_hidden_and_system_files_are_ignored_but_any_other_file_is_taken(settings: Settings) -> None:
    for name in ("~$return.xlsx", "~$turn.xlsx", ".~lock.return.xlsx#", "return.tmp", "RETURN.TMP", ".hidden.xlsx",
                 ".DS_Store", "Thumbs.db", "desktop.ini", "3F2A9C0B"):
        assert ignored(Path(name)), name
    for name in ("Children's Services_2017-18_Q2.xlsx", "return.xlsm", "notes.pdf", "figures.csv", "return"):
        assert not ignored(Path(name)), name
    (settings.inbox / "old returns").mkdir()
    for name in ("a.xlsx", "notes.pdf", "~$a.xlsx", "x.tmp"):
        (settings.inbox / name).write_bytes(b"x")
    assert [p.name for p in waiting_files(settings)] == ["a.xlsx", "notes.pdf"]


def test_once_takes_what_is_waiting_rejects_non_workbooks_with_feedback_and_leaves_open_workbooks(
        settings: Settings, store: Store, catalogue: Catalogue, filled: Path) -> None:
    store.close()
    inbox = settings.inbox
    files = {"a.xlsx": filled.read_bytes(), "notes.pdf": b"%PDF-1.4 minutes of the meeting",
             "figures.csv": b"Indicator ID,Number\nCS02,514\n", "b.xlsx": filled.read_bytes(),
             "c.xlsx": filled.read_bytes()}
    for i, (name, data) in enumerate(files.items()):
        (inbox / name).write_bytes(data)
        os.utime(inbox / name, (1_500_000_000 + i, 1_500_000_000 + i))   # oldest first: the order they arrived
    (inbox / "~$b.xlsx").write_bytes(b"Excel has b.xlsx open")
    (inbox / ".~lock.c.xlsx#").write_bytes(b"LibreOffice has c.xlsx open")
    clutter = ["~$old.xlsx", "draft.tmp", ".DS_Store", "Thumbs.db", "3F2A9C0B"]
    for name in clutter:
        (inbox / name).write_bytes(b"not a return")
    (inbox / "archive").mkdir()
    (inbox / "archive" / "last year.xlsx").write_bytes(filled.read_bytes())
    lines: list[str] = []

    outcomes = Watcher(settings, catalogue, settle=0.3, log=lines.append).run(once=True)

    assert [(o.file, o.status) for o in outcomes] == [("a.xlsx", "accepted"), ("notes.pdf", "rejected"),
                                                       ("figures.csv", "rejected")]
    assert sorted(p.name for p in settings.rejected.iterdir()) == ["figures.csv", "notes.pdf"]
    for name in ("notes.pdf", "figures.csv"):   # rejected with feedback that says why, not silently left
        o = next(o for o in outcomes if o.file == name)
        assert [p.code for p in o.problems.errors] == ["not-xlsx"]
        assert o.feedback and "REJECTED" in o.feedback[0].read_text(encoding="utf-8")
    assert in_inbox(settings) == sorted(["b.xlsx", "c.xlsx", "~$b.xlsx", ".~lock.c.xlsx#", *clutter])
    assert (inbox / "archive" / "last year.xlsx").exists()
    assert working(settings) == []
    # one line per file, to the terminal and the log file alike
    assert [x[20:].split(" -> ")[0] for x in lines] == [
        # the two warnings: figures in the example's service response that kpiflow does not hold
        "a.xlsx: accepted with 2 warnings", "notes.pdf: rejected with 1 problem", "figures.csv: rejected with 1 problem",
        "b.xlsx: open in an office program; left for the next run",
        "c.xlsx: open in an office program; left for the next run"]
    assert all(STAMP.match(x) for x in lines)
    assert log_lines(settings) == lines
    with open_store(settings) as s:
        assert [(x.file_name, x.outcome) for x in s.submissions()] == [
            ("a.xlsx", "accepted"), ("notes.pdf", "rejected"), ("figures.csv", "rejected")]


@POSIX_ONLY
def test_a_slowly_written_workbook_is_taken_only_once_complete(home: Path, settings: Settings, store: Store,
                                                                filled: Path, tmp_path: Path) -> None:
    store.close()
    out, err = (tmp_path / "out.txt").open("w"), (tmp_path / "err.txt").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "kpiflow", "watch", "--home", str(home), "--settle", "1.5",
                             "--rescan", "0.5"], stdout=out, stderr=err, text=True)
    try:
        assert wait_for(lambda: any(" watching " in x for x in log_lines(settings)))
        data = filled.read_bytes()
        target = settings.inbox / "slow.xlsx"
        step = len(data) // 6 + 1
        with target.open("wb") as fh:   # six pieces, 0.5 s apart: longer in all than the settle time
            for i in range(0, len(data), step):
                fh.write(data[i:i + step])
                fh.flush()
                time.sleep(0.5)
                assert target.exists(), "taken while still being written"
        assert wait_for(lambda: (settings.processed / "slow.xlsx").exists())
        assert sha(settings.processed / "slow.xlsx") == sha(filled)
        (settings.inbox / "junk.xlsx").write_bytes(b"not a workbook")
        assert wait_for(lambda: (settings.rejected / "junk.xlsx").exists())
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        out.close()
        err.close()
    stdout, stderr = (tmp_path / "out.txt").read_text(), (tmp_path / "err.txt").read_text()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "slow.xlsx: accepted" in stdout and "junk.xlsx: rejected with 1 problem" in stdout
    assert stdout.splitlines()[-1].endswith(" stopped")
    with open_store(settings) as s:
        assert [(x.file_name, x.outcome) for x in s.submissions()] == [("slow.xlsx", "accepted"),
                                                                       ("junk.xlsx", "rejected")]


def test_excel_save_pattern_and_lock_file(settings: Settings, store: Store, catalogue: Catalogue, issued: Path,
                                          filled: Path) -> None:
    """Excel saves by writing a temporary file (eight hex digits, no extension), renaming the old
    workbook to a .tmp, renaming the temporary file into place and deleting the .tmp; it keeps
    ``~$name`` beside the workbook until it is closed."""
    store.close()
    inbox = settings.inbox
    name = "Return.xlsx"

    def excel_save(content: bytes, temp: str, backup: str) -> None:
        with (inbox / temp).open("wb") as fh:
            half = len(content) // 2
            fh.write(content[:half])
            fh.flush()
            time.sleep(0.1)
            fh.write(content[half:])
        if (inbox / name).exists():
            os.rename(inbox / name, inbox / backup)
        os.rename(inbox / temp, inbox / name)
        (inbox / backup).unlink(missing_ok=True)

    with watching(settings, catalogue, settle=0.3, rescan=600) as (_, lines):
        (inbox / f"~${name}").write_bytes(b"owner")            # the user opens the issued workbook in Excel...
        (inbox / name).write_bytes(issued.read_bytes())
        excel_save(issued.read_bytes(), "9C1D2E3F", "A1B2C3D4.tmp")   # ...saves part-way through...
        time.sleep(1.2)
        assert in_inbox(settings) == [name, f"~${name}"], "taken while open in Excel"
        excel_save(filled.read_bytes(), "0B7E4F21", "5D6C7B8A.tmp")   # ...saves the finished return...
        time.sleep(0.5)
        (inbox / f"~${name}").unlink()                         # ...and closes Excel
        assert wait_for(lambda: (settings.processed / name).exists())
    assert sha(settings.processed / name) == sha(filled)
    assert in_inbox(settings) == []
    assert not settings.rejected.exists() or list(settings.rejected.iterdir()) == []
    assert any(f"{name}: open in an office program" in x for x in lines)
    with open_store(settings) as s:
        assert [(x.file_name, x.outcome) for x in s.submissions()] == [(name, "accepted")]


@pytest.mark.parametrize("options", [
    pytest.param({"rescan": 600}, id="native-events"),
    pytest.param({"polling": True, "poll_interval": 0.2, "rescan": 600}, id="polling-events"),
    pytest.param({"polling": True, "poll_interval": 600, "rescan": 1}, id="no-events-rescan"),
])
def test_events_are_hints_and_a_rescan_finds_what_they_miss(settings: Settings, store: Store, catalogue: Catalogue,
                                                            filled: Path, options: dict[str, Any]) -> None:
    """With rescans 10 minutes apart only the observer's events can find the file in time; with an
    observer that never reports (polling every 10 minutes, like a share that sends no events)
    only the rescan can."""
    from watchdog.observers.polling import PollingObserver

    store.close()
    with watching(settings, catalogue, settle=0.2, **options) as (w, _):
        assert isinstance(w.observer, PollingObserver) == bool(options.get("polling"))
        shutil.copy(filled, settings.inbox / "new.xlsx")
        assert wait_for(lambda: (settings.processed / "new.xlsx").exists(), 10)


def test_files_waiting_at_start_are_taken_and_a_dead_observer_is_restarted(
        settings: Settings, store: Store, catalogue: Catalogue, filled: Path, tmp_path: Path) -> None:
    store.close()
    early, one, two = distinct_returns(filled, tmp_path / "staging", 3)
    drop([early], settings.inbox)
    with watching(settings, catalogue, settle=0.2, rescan=600) as (w, lines):
        assert wait_for(lambda: (settings.processed / early.name).exists(), 5)
        first = w.observer
        first.stop()                      # the observer thread ends
        first.join(5)
        assert wait_for(lambda: sum("restarted" in x for x in lines) == 1, 5)
        drop([one], settings.inbox)       # found by the new observer's events (rescans are 10 minutes apart)
        assert wait_for(lambda: (settings.processed / one.name).exists(), 5)
        # the inbox is moved away and a new one made (a share remounted): the old watch follows the old folder
        os.rename(settings.inbox, tmp_path / "old inbox")
        settings.inbox.mkdir()
        assert wait_for(lambda: sum("restarted" in x for x in lines) == 2, 5)
        drop([two], settings.inbox)
        assert wait_for(lambda: (settings.processed / two.name).exists(), 5)
    assert [(o.file, o.status) for o in w.outcomes] == [(early.name, "accepted"), (one.name, "accepted"),
                                                        (two.name, "accepted")]


def test_a_file_that_fails_is_logged_the_watcher_goes_on_and_it_is_tried_again(
        settings: Settings, store: Store, catalogue: Catalogue, filled: Path) -> None:
    store.close()
    # the store refuses to record junk.xlsx (as a full disk or a damaged database would) until the trigger goes
    with sqlite3.connect(settings.db_path) as db:
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON submissions WHEN NEW.file_name = 'junk.xlsx' "
                   "BEGIN SELECT RAISE(ABORT, 'the store is refusing writes'); END")
    with watching(settings, catalogue, settle=0.2, rescan=1) as (_, lines):
        (settings.inbox / "junk.xlsx").write_bytes(b"not a workbook")
        os.utime(settings.inbox / "junk.xlsx", (1_500_000_000, 1_500_000_000))   # first in the queue
        shutil.copy(filled, settings.inbox / "good.xlsx")
        assert wait_for(lambda: any("good.xlsx: accepted" in x for x in lines), 10), lines
        failed = [x for x in lines if "junk.xlsx: could not be processed" in x]
        assert len(failed) == 1 and "the store is refusing writes" in failed[0], lines
        assert lines.index(failed[0]) < next(i for i, x in enumerate(lines) if "good.xlsx: accepted" in x)
        time.sleep(2.2)                       # tried again at each rescan, logged once
        assert sum("junk.xlsx" in x for x in lines) == 1
        assert len(working(settings)) == 1
        with sqlite3.connect(settings.db_path) as db:
            db.execute("DROP TRIGGER refuse")
        assert wait_for(lambda: any("junk.xlsx: rejected with 1 problem" in x for x in lines), 5), lines
    assert kept(settings) == ["good.xlsx", "junk.xlsx"]
    assert working(settings) == [] and in_inbox(settings) == []
    with open_store(settings) as s:
        assert sorted((x.file_name, x.outcome) for x in s.submissions()) == [("good.xlsx", "accepted"),
                                                                             ("junk.xlsx", "rejected")]


def _start(home: Path, tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], Path]:
    out = tmp_path / f"watch-{time.monotonic_ns()}.txt"
    with out.open("w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "kpiflow", "watch", "--home", str(home), *args],
                                stdout=fh, stderr=subprocess.STDOUT, text=True)
    return proc, out


@POSIX_ONLY
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_and_sigterm_stop_after_the_file_in_hand(home: Path, settings: Settings, store: Store, filled: Path,
                                                       tmp_path: Path, sig: signal.Signals) -> None:
    store.close()
    returns = distinct_returns(filled, tmp_path / "staging", 12)
    proc, out = _start(home, tmp_path, "--settle", "0.5")
    try:
        assert wait_for(lambda: any(" watching " in x for x in log_lines(settings)))
        drop(returns, settings.inbox)
        assert wait_for(lambda: len(kept(settings)) >= 2)
        proc.send_signal(sig)
        proc.wait(20)
    finally:
        proc.kill()
    text = out.read_text()
    assert proc.returncode == 0, text
    assert "Traceback" not in text and text.splitlines()[-1].endswith(" stopped")
    done = kept(settings)
    assert len(done) < len(returns), "it went on with the batch after being told to stop"
    assert working(settings) == []           # nothing left half-done
    assert sorted(done + in_inbox(settings)) == sorted(r.name for r in returns)
    with open_store(settings) as s:
        assert sorted(x.file_name for x in s.submissions()) == done
    assert sorted(x.split(": ")[0][20:] for x in log_lines(settings) if ": accepted" in x) == done


@POSIX_ONLY
@pytest.mark.backends
def test_killed_mid_batch_and_restarted_every_file_ends_up_exactly_once(
        home: Path, settings: Settings, store: Store, filled: Path, tmp_path: Path) -> None:
    store.close()
    returns = distinct_returns(filled, tmp_path / "staging", 20)
    (tmp_path / "staging" / "junk.xlsx").write_bytes(b"not a workbook")
    (tmp_path / "staging" / "figures.csv").write_bytes(b"Indicator ID,Number\nCS02,514\n")
    files = [*returns, tmp_path / "staging" / "junk.xlsx", tmp_path / "staging" / "figures.csv"]
    names = sorted(f.name for f in files)

    def kill_when(done: int, delay: float, *options: str) -> None:
        seen = len(log_lines(settings))
        proc, out = _start(home, tmp_path, "--settle", "0.5", *options)
        try:
            assert wait_for(lambda: any(" watching " in x for x in log_lines(settings)[seen:]))
            if not kept(settings):
                drop(files, settings.inbox)
            assert wait_for(lambda: len(kept(settings)) >= done), out.read_text()
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            proc.kill()
        assert len(kept(settings)) < len(files), "killed too late to test anything"

    kill_when(3, 0)        # just after a file is done
    # restarted as a watcher (polling, as on a network share), then killed part-way through a file
    kill_when(10, 0.02, "--polling", "--poll-interval", "0.2")
    assert "polling every 0.2s" in [x for x in log_lines(settings) if " watching " in x][-1]

    again = subprocess.run([sys.executable, "-m", "kpiflow", "watch", "--home", str(home), "--once", "--settle",
                            "0.5"], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stdout + again.stderr
    assert kept(settings) == names           # each exactly once, no "(2)" copies
    assert in_inbox(settings) == [] and working(settings) == []
    with open_store(settings) as s:
        subs = s.submissions()
    assert Counter(x.file_name for x in subs) == Counter(names)
    assert len({x.sha256 for x in subs}) == len(files)
    assert {x.file_name: x.outcome for x in subs} == {n: "rejected" if n in ("junk.xlsx", "figures.csv") else "accepted"
                                                      for n in names}
    for x in subs:                            # the original kept, and its feedback written, where the record says
        assert (home / x.kept_as).is_file() and x.feedback and (home / x.feedback).is_file(), x


@POSIX_ONLY
@pytest.mark.backends
def test_two_watchers_on_one_inbox_take_each_file_once_and_one_killed_leaves_its_file_to_the_other(
        home: Path, settings: Settings, store: Store, filled: Path, tmp_path: Path) -> None:
    """As on two hosts sharing the inbox (with PostgreSQL, claims are in the database)."""
    store.close()
    returns = distinct_returns(filled, tmp_path / "staging", 24)
    first, out1 = _start(home, tmp_path, "--settle", "0.3", "--rescan", "2")
    second, out2 = _start(home, tmp_path, "--settle", "0.3", "--rescan", "2", "--polling", "--poll-interval", "0.2")
    try:
        assert wait_for(lambda: sum(" watching " in x for x in log_lines(settings)) == 2), log_lines(settings)
        drop(returns, settings.inbox)
        assert wait_for(lambda: len(kept(settings)) >= 4), out1.read_text() + out2.read_text()
        first.send_signal(signal.SIGKILL)     # mid-batch, quite possibly mid-file
        first.wait(10)
        # the survivor finishes everything, including any file the dead one was holding (at a rescan)
        assert wait_for(lambda: len(kept(settings)) == len(returns), 60), out2.read_text()
    finally:
        for proc in (first, second):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
    assert second.returncode == 0, out2.read_text()
    assert kept(settings) == sorted(r.name for r in returns)   # each exactly once
    assert in_inbox(settings) == [] and working(settings) == []
    with open_store(settings) as s:
        subs = s.submissions()
    assert sorted(x.file_name for x in subs) == kept(settings)
    assert {x.outcome for x in subs} == {"accepted"}


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_the_watcher_reconnects_after_the_server_restarts_and_goes_on(
        settings: Settings, store: Store, catalogue: Catalogue, filled: Path, tmp_path: Path,
        pg_server: Any) -> None:
    store.close()
    returns = distinct_returns(filled, tmp_path / "staging", 12)
    with watching(settings, catalogue, settle=0.2, rescan=1) as (_, lines):
        drop(returns[:6], settings.inbox)
        assert wait_for(lambda: len(kept(settings)) >= 2, 20), lines
        pg_server.restart()                   # mid-batch: the file in hand loses its transaction
        drop(returns[6:], settings.inbox)
        assert wait_for(lambda: len(kept(settings)) == len(returns), 60), lines
    assert kept(settings) == sorted(r.name for r in returns)
    assert in_inbox(settings) == [] and working(settings) == []
    with open_store(settings) as s:
        subs = s.submissions()
    assert sorted(x.file_name for x in subs) == kept(settings) and {x.outcome for x in subs} == {"accepted"}
    text = "\n".join(lines)
    assert "Traceback" not in text
    if "lost the connection" in text or "cannot connect" in text:
        assert "is reachable again" in text, text


def test_the_service_guide_uses_only_options_kpiflow_watch_has() -> None:
    from typer.testing import CliRunner

    from kpiflow.cli import app

    help_text = CliRunner().invoke(app, ["watch", "--help"]).output
    guide = (Path(__file__).resolve().parent.parent / "docs" / "running-watch.md").read_text(encoding="utf-8")
    used = set(re.findall(r"(?<![\\w-])--[a-z][a-z-]*", guide)) - {"--system", "--home-dir", "--shell", "--now"}
    assert {"--once", "--polling", "--poll-interval", "--home", "--settle", "--rescan"} <= used
    assert sorted(o for o in used if o not in help_text) == []


@POSIX_ONLY
def test_the_log_is_never_written_through_a_link(settings: Settings, store: Store, catalogue: Catalogue,
                                                 tmp_path: Path) -> None:
    store.close()
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("precious\n", encoding="utf-8")
    settings.outbox.mkdir(parents=True, exist_ok=True)
    (settings.outbox / "kpiflow.log").symlink_to(outside)
    (settings.inbox / "notes.pdf").write_bytes(b"%PDF-1.4 not a return")
    lines: list[str] = []
    Watcher(settings, catalogue, settle=0, log=lines.append).run(once=True)
    assert outside.read_text(encoding="utf-8") == "precious\n"
    assert any("notes.pdf: rejected" in x for x in lines)
    assert any("kpiflow.log is a link, which kpiflow never writes through" in x for x in lines)
