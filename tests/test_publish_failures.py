"""Publishing is all or nothing: LibreOffice failing or hanging, a full disk, or a kill at any step
leaves the quarter open, the store as it was and no half-filled folder, and a re-run finishes the
job without a "(2)" folder. Every run here is the real command line.

A full disk is a file-size limit (``RLIMIT_FSIZE``) on the process: a write past it fails part-way
with an error, as writing to a full disk does. A kill lands at a named step through a small driver
script that wraps publish's step functions to hang there (after writing a marker file), as the
ingest tests do.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from publish_helpers import FOLDER, QUARTER, cli_env, fake_soffice, kpiflow, no_soffice_env

from kpiflow.demo import DemoResult
from kpiflow.periods import parse_period
from kpiflow.settings import load_settings
from kpiflow.store import SQLiteStore

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL, rlimits and shell scripts are POSIX")

Q2 = parse_period(QUARTER)


def snapshot(demo: DemoResult) -> tuple[str, list[tuple[str, str] | None], int]:
    """The quarter's state, its stored words and the number of stored text rows."""
    with SQLiteStore(load_settings(demo.home).db_path) as store:
        rows = store.conn.execute("SELECT COUNT(*) FROM texts").fetchone()[0]
        return store.quarter_state(Q2), [store.texts(i, Q2) for i in ("CS01", "CS02", "CS03")], rows


def published(demo: DemoResult) -> list[str]:
    folder = demo.home / "outbox" / "published"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def visible(demo: DemoResult) -> list[str]:
    return [n for n in published(demo) if not n.startswith(".")]


def assert_nothing_published(demo: DemoResult, before: tuple[str, list[tuple[str, str] | None], int]) -> None:
    assert snapshot(demo) == before
    assert before[0] == "open"
    assert visible(demo) == []


def assert_finished(demo: DemoResult, with_pdf: bool = False) -> None:
    """One folder for the quarter, complete, the quarter closed; no working files left."""
    assert published(demo) == [FOLDER]
    folder = demo.home / "outbox" / "published" / FOLDER
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    names = sorted(f["name"] for f in manifest["files"])
    assert sorted(p.name for p in folder.iterdir()) == sorted([*names, "manifest.json"])
    assert ("Appendix 6(b) - Exception Reports (Q2 2017-18).pdf" in names) == with_pdf
    assert snapshot(demo)[0] == "published"


def test_libreoffice_failing_leaves_the_quarter_open_and_a_rerun_finishes(fresh: DemoResult, tmp_path: Path) -> None:
    before = snapshot(fresh)
    env = fake_soffice(tmp_path / "bin", 'echo "soffice: cannot open display" >&2; exit 81')
    r = kpiflow(fresh.home, "publish", "--quarter", QUARTER, env=env)
    print(r.stdout, r.stderr)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "LibreOffice could not convert" in r.stderr and "cannot open display" in r.stderr
    assert "Nothing was published" in r.stderr and "still open" in r.stderr
    assert_nothing_published(fresh, before)
    again = kpiflow(fresh.home, "publish", "--quarter", QUARTER, env=no_soffice_env(tmp_path / "nobin"))
    assert again.returncode == 0, again.stdout + again.stderr
    assert_finished(fresh)


def test_libreoffice_hanging_is_stopped_and_changes_nothing(fresh: DemoResult, tmp_path: Path) -> None:
    before = snapshot(fresh)
    pidfile = tmp_path / "sleeper.pid"
    # the script's child keeps running (and holding the output pipes) unless the whole group is killed
    env = fake_soffice(tmp_path / "bin", f'sleep 300 & echo $! > "{pidfile}"; wait')
    env["KPIFLOW_CONVERT_TIMEOUT"] = "3"
    started = time.monotonic()
    r = kpiflow(fresh.home, "publish", "--quarter", QUARTER, env=env, timeout=90)
    print(r.stderr)
    assert r.returncode == 2, r.stdout + r.stderr
    assert time.monotonic() - started < 60
    assert "did not finish converting" in r.stderr and "Nothing was published" in r.stderr
    assert_nothing_published(fresh, before)
    assert not alive(int(pidfile.read_text()))     # LibreOffice's whole process group was stopped


def alive(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return False
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
        time.sleep(0.1)
    return True


def _limit_file_size(limit: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_full_disk_while_publishing_changes_nothing(fresh: DemoResult, tmp_path: Path) -> None:
    before = snapshot(fresh)
    # room for the store's shared-memory file (32 KB) but not for a copy of the draft
    limit = 40_000
    assert fresh.report.stat().st_size > limit
    r = kpiflow(fresh.home, "publish", "--quarter", QUARTER, env=no_soffice_env(tmp_path / "nobin"),
                preexec_fn=lambda: _limit_file_size(limit))
    print(r.stderr)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "could not be written" in r.stderr and "Nothing was published" in r.stderr
    assert "Traceback" not in r.stderr
    assert_nothing_published(fresh, before)
    again = kpiflow(fresh.home, "publish", "--quarter", QUARTER, env=no_soffice_env(tmp_path / "nobin2"))
    assert again.returncode == 0, again.stdout + again.stderr
    assert_finished(fresh)


def test_a_full_disk_while_writing_the_draft_leaves_no_truncated_draft(fresh: DemoResult, tmp_path: Path) -> None:
    drafts = fresh.home / "outbox" / "drafts"
    before = sorted(p.name for p in drafts.iterdir())
    r = kpiflow(fresh.home, "report", "--quarter", QUARTER, preexec_fn=lambda: _limit_file_size(40_000))
    print(r.stderr)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "could not be written" in r.stderr and "Traceback" not in r.stderr
    assert sorted(p.name for p in drafts.iterdir()) == before       # no truncated draft, no leftovers


DRIVER = r'''
import os, sys, time
from pathlib import Path

point, marker, home = sys.argv[1:4]

import kpiflow.publish as publish
import kpiflow.store as store


def pause(at):
    """Hang at the named step until killed."""
    if at == point:
        Path(marker).write_text(str(os.getpid()))
        end = time.monotonic() + 600
        while time.monotonic() < end:
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


wrap(publish, "write_final_docx", after="docx-written")           # the final .docx in the working folder
wrap(publish, "write_manifest", before="before-manifest", after="manifest-written")
wrap(store.Store, "record_quarter_event", after="in-transaction")  # words and status written, not committed
wrap(publish, "put_in_place", before="committed")                   # committed; the folder not yet in place

from kpiflow.cli import main

sys.argv = ["kpiflow", "publish", "--quarter", "2017/18 Q2", "--home", home]
main()
'''


@pytest.mark.parametrize("point", ["docx-written", "before-manifest", "manifest-written", "in-transaction",
                                   "committed"])
def test_a_kill_at_any_step_is_finished_by_a_rerun(fresh: DemoResult, tmp_path: Path, point: str) -> None:
    before = snapshot(fresh)
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    marker = tmp_path / "marker"
    env = no_soffice_env(tmp_path / "nobin")
    proc = subprocess.Popen([sys.executable, str(driver), point, str(marker), str(fresh.home)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the driver never reached its step"
            time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
    if point == "committed":
        # the store says published; only the folder's rename is left, and the re-run does it
        assert snapshot(fresh)[0] == "published"
        assert visible(fresh) == []
    else:
        assert_nothing_published(fresh, before)
    again = kpiflow(fresh.home, "publish", "--quarter", QUARTER, env=cli_env(PATH=str(tmp_path / "nobin")))
    print(again.stdout, again.stderr)
    assert again.returncode == 0, again.stdout + again.stderr
    assert_finished(fresh)
    if point == "committed":
        assert "Finished publishing" in again.stdout


RACE = r'''
import subprocess, sys
home = sys.argv[1]
import kpiflow.publish as publish

real = publish.write_manifest


def write_manifest(*args, **kwargs):
    # a clerk ingests a corrected return while the final files are being built
    done = subprocess.run([sys.executable, "-m", "kpiflow", "ingest", "--home", home], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return real(*args, **kwargs)


publish.write_manifest = write_manifest
from kpiflow.cli import main

sys.argv = ["kpiflow", "publish", "--quarter", "2017/18 Q2", "--home", home]
main()
'''


def test_a_return_accepted_while_publishing_stops_it(fresh: DemoResult, tmp_path: Path) -> None:
    from publish_helpers import corrected_return

    corrected_return(fresh, {"CS01": {"Number": 540, "Rate": 188.7}}, "late.xlsx")
    before = snapshot(fresh)
    driver = tmp_path / "race.py"
    driver.write_text(RACE, encoding="utf-8")
    r = subprocess.run([sys.executable, str(driver), str(fresh.home)], capture_output=True, text=True, timeout=180,
                       env=no_soffice_env(tmp_path / "nobin"))
    print(r.stdout, r.stderr)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "stale-draft" in r.stdout and "late.xlsx" in r.stdout and "CS01 2017/18 Q2 number 531 -> 540" in r.stdout
    assert snapshot(fresh)[0] == before[0] == "open"
    with SQLiteStore(load_settings(fresh.home).db_path) as store:     # the late return's words, none of publish's
        assert store.conn.execute("SELECT COUNT(*) FROM texts WHERE source LIKE 'published report%'").fetchone()[0] == 0
        assert store.conn.execute("SELECT COUNT(*) FROM texts").fetchone()[0] == before[2] + 3
    assert visible(fresh) == [] and published(fresh) == []
