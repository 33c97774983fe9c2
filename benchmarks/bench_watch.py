"""kpiflow watch with 200 returns dropped at once (PRODUCT.md §14): every one processed, >= 20
returns/s after the settle time, peak memory < 300 MB.

The watcher runs as its own process with the default settings (settle 2 s). The 200 returns are
distinct (each has different commentary, so none is a duplicate) and appear in the inbox at once,
each by a rename. The baseline, measured in the same run, is ``kpiflow ingest`` of the same 200
files in a second working folder: the ratio is the watcher's time after the settle time over it.

Where PostgreSQL is installed, the same again with the store on a throwaway PostgreSQL server
(tests/pg_server.py) and two watchers over the one inbox, as on two hosts: every return taken
exactly once, >= 20 returns/s between them; printed beside the SQLite figures as
``bench watch-postgresql``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from common import KPIFLOW, verdict
from pg_server import INSTALL_HINT, start_server

N = 200
MIN_RATE = 20.0
MAX_PEAK_MB = 300.0


def make_home(root: Path, url: str = "") -> Path:
    from kpiflow.init import init_home
    from kpiflow.settings import load_settings

    init_home(root)
    if url:
        with (root / "kpiflow.toml").open("a", encoding="utf-8") as fh:
            fh.write(f'\n[store]\nurl = "{url}"\n')
    load_settings(root).ensure_folders()
    return root


def make_returns(tmp: Path, n: int) -> list[Path]:
    """``n`` distinct, valid returns for the shipped example, outside any inbox."""
    import openpyxl

    from kpiflow.catalogue import load_checked_catalogue
    from kpiflow.demo import SERVICE, fill_example_return
    from kpiflow.issue import issue_returns
    from kpiflow.periods import parse_period
    from kpiflow.settings import load_settings
    from kpiflow.store import open_store

    home = make_home(tmp / "source")
    settings = load_settings(home)
    catalogue = load_checked_catalogue(settings)
    with open_store(settings) as store:
        issued = issue_returns(settings, store, catalogue, parse_period("2017/18 Q2"), SERVICE)[0]
    filled = fill_example_return(issued, tmp / "filled.xlsx")
    wb = openpyxl.load_workbook(filled)
    out = tmp / "returns"
    out.mkdir()
    paths = []
    for i in range(n):
        wb["Return"]["J7"].value = f"Commentary version {i}"
        path = out / f"Children's Services Q2 return {i:03d}.xlsx"
        wb.save(path)
        paths.append(path)
    return paths


def done(home: Path) -> int:
    return sum(1 for d in ("processed", "rejected") if (home / "inbox" / d).is_dir()
               for p in (home / "inbox" / d).iterdir() if p.is_file() and not p.name.startswith("."))


def peak_child_mb() -> float:
    """Peak resident memory of the largest child process waited for so far."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def run_watcher(home: Path, returns: list[Path], settle: float, watchers: int = 1) -> tuple[int, float, float]:
    """Drop ``returns`` into the inbox of ``watchers`` running watchers; the count processed, the
    seconds from the drop until the last was processed, and the largest watcher's peak memory."""
    log = home / "outbox" / "kpiflow.log"
    procs = [subprocess.Popen([*KPIFLOW, "watch", "--home", str(home)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for _ in range(watchers)]
    try:
        end = time.monotonic() + 30
        while not (log.exists() and log.read_text(encoding="utf-8").count(" watching ") == watchers):
            if time.monotonic() > end or any(p.poll() is not None for p in procs):
                errs = [p.stderr.read() if p.stderr and p.poll() is not None else "" for p in procs]
                raise SystemExit(f"the watchers did not start: {errs}")
            time.sleep(0.05)
        inbox = home / "inbox"
        start = time.perf_counter()
        for p in returns:
            os.rename(p, inbox / p.name)
        dropped = time.perf_counter()
        deadline = time.monotonic() + settle + len(returns) / 2 + 60
        count = 0
        first = None
        while count < len(returns) and time.monotonic() < deadline:
            time.sleep(0.01)
            count = done(home)
            if count and first is None:
                first = time.perf_counter()
        finished = time.perf_counter()
        print(f"dropped {len(returns)} files in {dropped - start:.3f} s")
        if first is not None:
            print(f"first one done after: {first - dropped:.2f} s; then {(count - 1) / max(finished - first, 1e-9):.1f} "
                  "returns/s")
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return count, finished - dropped, peak_child_mb()


def run_ingest(home: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run([*KPIFLOW, "ingest", "--home", str(home)], capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"kpiflow ingest failed ({proc.returncode}): {proc.stderr[-500:]}")
    return took


def main() -> int:
    from kpiflow.settings import load_settings

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        returns = make_returns(tmp, N)
        watch_home = make_home(tmp / "watch")
        ingest_home = make_home(tmp / "ingest")
        for p in returns:
            shutil.copy2(p, ingest_home / "inbox" / p.name)
        settle = load_settings(watch_home).settle_seconds
        count, took, peak = run_watcher(watch_home, returns, settle)
        baseline = run_ingest(ingest_home)
    after_settle = max(took - settle, 1e-9)
    rate = count / after_settle
    ratio = after_settle / baseline
    print(f"processed:            {count}/{N}")
    print(f"drop to last done:    {took:.2f} s (settle {settle:g} s)")
    print(f"after the settle:     {after_settle:.2f} s, {rate:.1f} returns/s (bar >= {MIN_RATE:g})")
    print(f"kpiflow ingest, same: {baseline:.2f} s, {N / baseline:.1f} returns/s (baseline, whole process)")
    print(f"watcher peak memory:  {peak:.0f} MB (bar < {MAX_PEAK_MB:g})")
    ok = count == N and rate >= MIN_RATE and peak < MAX_PEAK_MB
    verdict("watch", ok, ratio, f"processed={count}/{N} rate={rate:.1f}/s peak={peak:.0f}MB")
    pg_ok = run_postgresql(rate)
    return 0 if ok and pg_ok else 1


def taken_once(home: Path, n: int) -> tuple[bool, str]:
    """Every return stored once and kept once, none left behind."""
    from kpiflow.settings import load_settings
    from kpiflow.store import open_store

    settings = load_settings(home)
    with open_store(settings) as store:
        subs = store.submissions()
    names = [s.file_name for s in subs]
    kept = sorted(p.name for p in settings.processed.iterdir() if p.is_file())
    ok = (len(subs) == n == len(set(names)) and {s.outcome for s in subs} == {"accepted"} and kept == sorted(names)
          and not any(settings.work_dir.iterdir()) and not (home / "kpiflow.db").exists())
    return ok, f"stored={len(subs)} distinct={len(set(names))} kept={len(kept)}"


def run_postgresql(sqlite_rate: float) -> bool:
    """Two watchers over one inbox, the store on PostgreSQL; skipped where it is not installed."""
    server = start_server()
    if server is None:
        print(f"bench watch-postgresql: SKIP ({INSTALL_HINT})")
        return True
    from kpiflow.settings import load_settings

    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            returns = make_returns(tmp, N)
            home = make_home(tmp / "watch", server.create_database("bench_watch"))
            settle = load_settings(home).settle_seconds
            count, took, peak = run_watcher(home, returns, settle, watchers=2)
            once, detail = taken_once(home, N)
    finally:
        server.close()
    after_settle = max(took - settle, 1e-9)
    rate = count / after_settle
    print(f"postgresql, two watchers over one inbox: {count}/{N} processed, each taken once: {once} ({detail})")
    print(f"  after the settle:   {after_settle:.2f} s, {rate:.1f} returns/s (bar >= {MIN_RATE:g}; SQLite, "
          f"one watcher: {sqlite_rate:.1f})")
    print(f"  peak memory:        {peak:.0f} MB (largest process so far)")
    ok = count == N and once and rate >= MIN_RATE
    verdict("watch-postgresql", ok, rate / sqlite_rate if sqlite_rate else 0.0,
            f"processed={count}/{N} rate={rate:.1f}/s taken-once={once}")
    return ok


if __name__ == "__main__":
    sys.exit(main())
