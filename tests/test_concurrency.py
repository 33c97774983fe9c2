"""Real processes: ``kpiflow ingest`` killed with SIGKILL at each step and run again, and two
``kpiflow ingest`` processes on one inbox at once; on SQLite (claims by flock) and on PostgreSQL
(claims in the database).

A process is stopped at a named step by a small driver script that wraps the pipeline's step
functions to hang there (after writing a marker file), so a kill lands at a known point every
time; the re-run is the real command line.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from kpiflow.demo import SERVICE
from kpiflow.periods import Period
from kpiflow.pipeline import original_name
from kpiflow.settings import Settings
from kpiflow.store import Store, open_store

pytestmark = [pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and flock are POSIX"),
              pytest.mark.backends]

# On PostgreSQL the processes run with file locks switched off, as between hosts on a share where
# flock holds nothing: the claims in the database alone must keep them apart.
NO_FILE_LOCKS = r'''
import os
if os.environ.get("KPIFLOW_TEST_NO_FILE_LOCKS"):
    import kpiflow.filing
    kpiflow.filing._flock = lambda fd: None
'''

RUN = NO_FILE_LOCKS + r'''
import sys
from kpiflow.cli import main
sys.argv = ["kpiflow", *sys.argv[1:]]
main()
'''

DRIVER = NO_FILE_LOCKS + r'''
import os, sys, time
from pathlib import Path

point, target, marker, home = sys.argv[1:5]

import kpiflow.pipeline as pipeline
import kpiflow.store as store

current = {"file": ""}


def pause(at):
    """Hang at the named step until killed, or until the test creates <marker>.resume."""
    if at == point and current["file"] == target:
        Path(marker).write_text(str(os.getpid()))
        resume = Path(marker + ".resume")
        end = time.monotonic() + 600
        while not resume.exists() and time.monotonic() < end:
            time.sleep(0.01)


def wrap(owner, name, before=None, after=None):
    real = getattr(owner, name)

    def wrapper(*args, **kwargs):
        if before:
            pause(before)
        result = real(*args, **kwargs)
        if after:
            pause(after)
        return result

    setattr(owner, name, wrapper)


real_validate = pipeline.validate_file


def validate_file(path, *args, **kwargs):
    current["file"] = pipeline.original_name(path)
    pause("claimed")                                     # in inbox/.working, nothing read or stored
    return real_validate(path, *args, **kwargs)


pipeline.validate_file = validate_file
wrap(store.Store, "_breakdown", before="in-transaction")  # figures written, transaction not committed
wrap(pipeline, "_record", after="stored")                 # committed; no feedback, original not moved
wrap(pipeline, "_keep_original", before="fed-back")       # feedback written; original not moved
real_unlink = os.unlink


def unlink(path, *args, **kwargs):
    if Path(path).parent.name == ".working":
        pause("linked")                                  # original linked into processed/ or rejected/ too
    return real_unlink(path, *args, **kwargs)


os.unlink = unlink

announce = os.environ.get("KPIFLOW_TEST_ANNOUNCE")
if announce:                       # say when this process is about to take the store's write lock
    real_record = pipeline._record

    def announced_record(*args, **kwargs):
        Path(announce).write_text(str(os.getpid()))
        return real_record(*args, **kwargs)

    pipeline._record = announced_record

from kpiflow.cli import main

sys.argv = ["kpiflow", "ingest", "--home", home]
main()
'''

LAUNCHER = NO_FILE_LOCKS + r'''
import sys, time
from pathlib import Path

import kpiflow.cli, kpiflow.pipeline, kpiflow.validate, openpyxl   # the slow part, before the start line

ready, go, home = sys.argv[1:4]
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.002)
sys.argv = ["kpiflow", "ingest", "--home", home]
kpiflow.cli.main()
'''


@pytest.fixture(autouse=True)
def no_file_locks_on_postgresql(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if backend == "postgresql":
        monkeypatch.setenv("KPIFLOW_TEST_NO_FILE_LOCKS", "1")


def kpiflow_ingest(home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("KPIFLOW_HOME", None)
    return subprocess.run([sys.executable, "-c", RUN, "ingest", "--home", str(home)], capture_output=True,
                          text=True, env=env, timeout=120)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def drop_all(settings: Settings, files: dict[str, bytes]) -> None:
    """Into the inbox, oldest first in the order given (ingest takes them by age)."""
    start = time.time() - 1000
    for i, (name, data) in enumerate(files.items()):
        path = settings.inbox / name
        path.write_bytes(data)
        os.utime(path, (start + i, start + i))


def wait_for_marker(marker: Path, child: subprocess.Popen[str]) -> None:
    end = time.monotonic() + 60
    while not marker.exists():
        if child.poll() is not None:
            out, err = child.communicate()
            pytest.fail(f"the driver finished without reaching its pause point:\n{out}\n{err}")
        if time.monotonic() > end:
            child.kill()
            pytest.fail("the driver never reached its pause point")
        time.sleep(0.02)


def work_files(settings: Settings) -> list[Path]:
    return sorted(settings.work_dir.iterdir()) if settings.work_dir.exists() else []


def assert_consistent(settings: Settings, files: dict[str, bytes], quarter: Period) -> Store:
    """Every file received ends exactly once in processed/ or rejected/, recorded once, with its
    feedback; nothing left behind; figures stored once; the newest accepted return is the one used."""
    assert work_files(settings) == []
    assert [p.name for p in settings.inbox.iterdir() if p.is_file()] == []
    kept = [p for d in (settings.processed, settings.rejected) for p in d.iterdir()]
    assert Counter(sha(p.read_bytes()) for p in kept) == Counter(sha(d) for d in files.values())
    everything = list(settings.feedback_dir.iterdir())
    assert all(not p.name.startswith(".") for p in kept + everything)   # no half-written .part file
    feedback = [p for p in everything if p.suffix == ".txt"]
    # a marked-up workbook only ever sits beside its .txt
    assert {p.with_suffix(".txt") for p in everything if p.suffix == ".xlsx"} <= set(feedback)
    store = open_store(settings)
    subs = store.submissions()
    assert Counter(s.file_name for s in subs) == Counter(list(files))  # one record per file
    assert len({s.claim for s in subs}) == len(subs)
    assert sorted(settings.home / s.kept_as for s in subs) == sorted(kept)
    assert sorted(settings.home / s.feedback for s in subs) == sorted(feedback)
    verdict = {"accepted": "ACCEPTED", "rejected": "REJECTED", "duplicate": "ALREADY RECEIVED"}
    for s in subs:
        assert sha((settings.home / s.kept_as).read_bytes()) == s.sha256 == sha(files[s.file_name])
        text = (settings.home / s.feedback).read_text(encoding="utf-8")
        assert f"feedback for {s.file_name}" in text and verdict[s.outcome] in text
        assert (settings.home / s.kept_as).parent == (settings.rejected if s.outcome == "rejected"
                                                      else settings.processed)
    # each distinct acceptable file accepted exactly once; a copy of one is a duplicate
    accepted = [s for s in subs if s.outcome == "accepted"]
    assert len({s.sha256 for s in accepted}) == len(accepted)
    assert {s.sha256 for s in subs if s.outcome == "duplicate"} <= {s.sha256 for s in accepted}
    # superseded in the order stored; the newest is the one in use
    for older, newer in itertools.pairwise(accepted):
        assert older.superseded_by == newer.id
    assert accepted[-1].superseded_by is None
    current = store.accepted_submission(SERVICE, quarter)
    assert current is not None and current.id == accepted[-1].id
    # figures stored once, only by accepted submissions
    q = store.query
    assert q("SELECT COUNT(*) FROM observations o JOIN submissions s ON s.id = o.submission_id "
             "WHERE s.outcome <> 'accepted'")[0][0] == 0
    assert q("SELECT COUNT(*) FROM (SELECT 1 FROM observations WHERE submission_id IS NOT NULL "
             "GROUP BY indicator_id, period, submission_id HAVING COUNT(*) > 1) AS twice")[0][0] == 0
    texts = {r[0]: r[1] for r in q("SELECT submission_id, COUNT(*) FROM texts WHERE submission_id IS NOT NULL "
                                   "GROUP BY submission_id")}
    assert texts == {s.id: 3 for s in accepted}
    batches = q("SELECT submission_id, COUNT(DISTINCT batch) FROM breakdowns WHERE submission_id IS NOT NULL "
                "GROUP BY submission_id")
    assert {r[0]: r[1] for r in batches} == {s.id: 1 for s in accepted}
    return store


# -- killed at each step ------------------------------------------------------------------------

@pytest.fixture
def four_returns(filled: Path, edit: Callable[..., Path]) -> dict[str, bytes]:
    """a: the example return; b: rejected; c: a copy of a; d: a correction of a."""
    good = filled.read_bytes()
    bad = edit(filled, {"Return!F7": "n/a"}).read_bytes()
    corrected = edit(filled, {"Return!F7": 530, "Return!G7": 185.3, "Supporting data!C4": 1978,
                              "Supporting data!D4": 691.5, "About!B4": "A Corrector"}).read_bytes()
    return {"a.xlsx": good, "b.xlsx": bad, "c.xlsx": good, "d.xlsx": corrected}


CUT_POINTS = [
    ("claimed", "a.xlsx"),
    ("in-transaction", "d.xlsx"),
    ("stored", "b.xlsx"),
    ("stored", "c.xlsx"),
    ("fed-back", "a.xlsx"),
    ("linked", "d.xlsx"),
]


@pytest.mark.parametrize(("point", "target"), CUT_POINTS, ids=[f"{p}-{t}" for p, t in CUT_POINTS])
def test_a_process_killed_at_any_step_leaves_things_consistent_and_a_rerun_finishes(
        point: str, target: str, tmp_path: Path, settings: Settings, store: Store, quarter: Period,
        four_returns: dict[str, bytes]) -> None:
    store.close()
    drop_all(settings, four_returns)
    script, marker = tmp_path / "driver.py", tmp_path / "paused"
    script.write_text(DRIVER, encoding="utf-8")
    child = subprocess.Popen([sys.executable, str(script), point, target, str(marker), str(settings.home)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_marker(marker, child)
        [held] = [p for p in work_files(settings) if original_name(p) == target]
        if point != "in-transaction":
            # another ingest meanwhile takes everything else but leaves the live process's file alone
            # (not while the process holds the write transaction: the other would wait for it)
            other = kpiflow_ingest(settings.home)
            assert "Traceback" not in other.stderr and "Error" not in other.stderr, other.stderr
            assert f"{target}: skipped" in other.stdout
            assert [p for p in work_files(settings) if not p.name.startswith(".")] == [held]
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.communicate()
    assert child.returncode == -signal.SIGKILL

    # what the kill left behind is what that step promises
    with open_store(settings) as s:
        recorded = s.submission_by_claim(held.name)
        assert held.exists()
        if point in ("claimed", "in-transaction"):
            assert recorded is None
            assert s.query("SELECT COUNT(*) FROM observations WHERE source = ?",
                           (f"return {target}",))[0][0] == 0
        else:
            assert recorded is not None and recorded.file_name == target
            assert (settings.home / recorded.feedback).exists() == (point != "stored")
            kept = settings.home / recorded.kept_as
            assert kept.exists() == (point == "linked")
            if point == "linked":
                assert kept.samefile(held)

    rerun = kpiflow_ingest(settings.home)
    assert rerun.returncode in (0, 1), rerun.stderr
    assert "Traceback" not in rerun.stderr and "Error" not in rerun.stderr
    assert f"{target}: " in rerun.stdout
    with assert_consistent(settings, four_returns, quarter) as s:
        outcomes = Counter(x.outcome for x in s.submissions())
        assert outcomes == {"accepted": 2, "rejected": 1, "duplicate": 1}
        newest = s.accepted_submission(SERVICE, quarter)
        assert newest is not None
        assert s.series("CS01")[quarter].number == (530 if newest.file_name == "d.xlsx" else 531)
    again = kpiflow_ingest(settings.home)
    assert again.returncode == 0 and "Nothing to ingest." in again.stdout


# -- two processes at once ----------------------------------------------------------------------

def test_a_second_process_waits_for_a_write_in_progress_and_then_sees_it(
        tmp_path: Path, settings: Settings, store: Store, quarter: Period, filled: Path) -> None:
    """The duplicate check and the insert are one transaction: a copy of a file whose storing is
    under way waits for it (the store's write lock, not an error) and is then found a duplicate."""
    store.close()
    data = filled.read_bytes()
    drop_all(settings, {"a.xlsx": data})
    script, marker = tmp_path / "driver.py", tmp_path / "paused"
    script.write_text(DRIVER, encoding="utf-8")
    first = subprocess.Popen([sys.executable, str(script), "in-transaction", "a.xlsx", str(marker),
                              str(settings.home)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_marker(marker, first)
        (settings.inbox / "c.xlsx").write_bytes(data)
        about_to_store = tmp_path / "second is storing"
        second = subprocess.Popen([sys.executable, str(script), "no-pause", "c.xlsx", str(tmp_path / "unused"),
                                   str(settings.home)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "KPIFLOW_TEST_ANNOUNCE": str(about_to_store)})
        wait_for_marker(about_to_store, second)
        # it has asked for the write lock the first one holds: it waits, it neither fails nor goes ahead
        assert second.poll() is None
        Path(f"{marker}.resume").touch()
        out1, err1 = first.communicate(timeout=60)
        out2, err2 = second.communicate(timeout=60)
    finally:
        for p in (first, second):
            if p.poll() is None:
                p.kill()
    assert (first.returncode, second.returncode) == (0, 0), err1 + err2
    assert "a.xlsx: accepted" in out1 and "c.xlsx: duplicate" in out2
    with assert_consistent(settings, {"a.xlsx": data, "c.xlsx": data}, quarter) as s:
        assert [(x.file_name, x.outcome) for x in s.submissions()] == [("a.xlsx", "accepted"),
                                                                        ("c.xlsx", "duplicate")]


@pytest.fixture
def twenty_returns(filled: Path, edit: Callable[..., Path], tmp_path: Path) -> dict[str, bytes]:
    """12 distinct acceptable returns, 4 exact copies of some of them, 4 rejected (2 distinct, 2
    copies). Each copy comes straight after its original, so the two processes tend to take the
    pair at the same moment: only one of them may be stored."""
    out: dict[str, bytes] = {}
    wb = openpyxl.load_workbook(filled)
    scratch = tmp_path / "variant.xlsx"
    for i in range(12):
        wb["About"]["B4"] = f"Officer {i}"
        wb.save(scratch)
        out[f"good-{i:02}.xlsx"] = scratch.read_bytes()
        if i % 3 == 0:
            out[f"copy-{i:02}.xlsx"] = out[f"good-{i:02}.xlsx"]
    wb["Return"]["F7"] = "n/a"
    for i in range(2):
        wb["About"]["B4"] = f"Careless {i}"
        wb.save(scratch)
        out[f"bad-{i:02}.xlsx"] = out[f"bad-copy-{i:02}.xlsx"] = scratch.read_bytes()
    return out


def test_two_ingest_processes_on_one_inbox_never_take_the_same_file(
        tmp_path: Path, settings: Settings, store: Store, quarter: Period,
        twenty_returns: dict[str, bytes]) -> None:
    store.close()
    files = twenty_returns
    assert len(files) == 20
    drop_all(settings, files)
    script, go = tmp_path / "launch.py", tmp_path / "go"
    script.write_text(LAUNCHER, encoding="utf-8")
    ready = [tmp_path / f"ready-{i}" for i in range(2)]
    procs = [subprocess.Popen([sys.executable, str(script), str(r), str(go), str(settings.home)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in ready]
    try:
        end = time.monotonic() + 60
        while not all(r.exists() for r in ready) and time.monotonic() < end:
            time.sleep(0.01)
        go.touch()
        results = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    taken: list[Counter[str]] = []
    for p, (out, err) in zip(procs, results, strict=True):
        assert p.returncode in (0, 1), err
        assert "Traceback" not in err and "Error" not in err, err
        lines = [line.split(": ", 1) for line in out.splitlines() if ": " in line and not line.startswith(" ")]
        taken.append(Counter(name for name, status in lines if not status.startswith("skipped")))
    # each file processed by exactly one of the two, and both did some of the work
    assert taken[0] + taken[1] == Counter(list(files))
    assert not set(taken[0]) & set(taken[1])
    assert taken[0] and taken[1], taken
    with assert_consistent(settings, files, quarter) as s:
        assert Counter(x.outcome for x in s.submissions()) == {"accepted": 12, "duplicate": 4, "rejected": 4}
        assert s.series("CS01")[quarter].number == 531
