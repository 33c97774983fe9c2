"""kpiflow watch with a real observer, real files and a real subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kpiflow.catalogue import Catalogue
from kpiflow.settings import Settings
from kpiflow.store import Store
from kpiflow.watch import Watcher, ignored


def wait_for(predicate: object, timeout: float = 30) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_office_lock_and_temp_files_are_ignored() -> None:
    for name in ("~$return.xlsx", ".~lock.return.xlsx#", "return.tmp", ".hidden.xlsx", "Thumbs.db"):
        assert ignored(Path(name)), name
    assert not ignored(Path("Children's Services_2017-18_Q2.xlsx"))


def test_once_processes_what_is_waiting_but_not_an_open_workbook(settings: Settings, store: Store,
                                                                  catalogue: Catalogue, filled: Path) -> None:
    store.close()
    (settings.inbox / "a.xlsx").write_bytes(filled.read_bytes())
    (settings.inbox / "b.xlsx").write_bytes(filled.read_bytes())
    (settings.inbox / "~$b.xlsx").write_bytes(b"lock")       # b is still open in Excel
    lines: list[str] = []
    outcomes = Watcher(settings, catalogue, settle=0.3, log=lines.append).run(once=True)
    assert [(o.file, o.status) for o in outcomes] == [("a.xlsx", "accepted")]
    assert (settings.inbox / "b.xlsx").exists()
    assert any("a.xlsx: accepted" in line for line in lines)
    assert "a.xlsx: accepted" in (settings.outbox / "kpiflow.log").read_text(encoding="utf-8")


def test_a_slowly_copied_file_is_read_only_when_complete_and_sigterm_stops_cleanly(
        home: Path, settings: Settings, store: Store, filled: Path) -> None:
    store.close()
    env = {**os.environ, "KPIFLOW_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "kpiflow", "watch", "--settle", "1", "--rescan", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert wait_for(lambda: (settings.outbox / "kpiflow.log").exists())
        data = filled.read_bytes()
        target = settings.inbox / "slow.xlsx"
        with target.open("wb") as fh:   # written in pieces over about 2.5 seconds
            step = len(data) // 5 + 1
            for i in range(0, len(data), step):
                fh.write(data[i:i + step])
                fh.flush()
                time.sleep(0.5)
        assert wait_for(lambda: (settings.processed / "slow.xlsx").exists())
        assert not (settings.rejected / "slow.xlsx").exists()
        (settings.inbox / "junk.xlsx").write_bytes(b"not a workbook")
        assert wait_for(lambda: (settings.rejected / "junk.xlsx").exists())
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "slow.xlsx: accepted" in out and "junk.xlsx: rejected with 1 problem" in out
    with Store(settings.db_path) as s:
        assert [x.outcome for x in s.submissions()] == ["accepted", "rejected"]
