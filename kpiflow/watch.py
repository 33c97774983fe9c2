"""``kpiflow watch``: watchdog events become calls to pipeline.process_file, nothing more.

Events are only hints that something changed: every candidate must hold its size and mtime for
the settle time (and have no Office lock file ``~$name``) before it is claimed, and the folder is
rescanned on a timer so that a missed event delays a file but never loses it.
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kpiflow.catalogue import Catalogue
from kpiflow.pipeline import Outcome, pending, process_file
from kpiflow.settings import Settings
from kpiflow.store import Store


def ignored(path: Path) -> bool:
    """Office lock and temp files, hidden files: never returns."""
    name = path.name
    return (name.startswith(("~$", ".~lock", ".")) or name.endswith((".tmp", ".TMP", "#"))
            or name.lower() in ("thumbs.db", "desktop.ini"))


def locked_by_office(path: Path) -> bool:
    """Excel keeps ``~$name`` beside a workbook it has open (it drops the first two characters
    of long names)."""
    return any((path.parent / f"~${n}").exists() for n in (path.name, path.name[2:]))


def waiting_files(settings: Settings) -> list[Path]:
    if not settings.inbox.is_dir():
        return []
    return sorted((p for p in settings.inbox.iterdir() if p.is_file() and not ignored(p)),
                  key=lambda p: (p.stat().st_mtime, p.name))


class Watcher:
    def __init__(self, settings: Settings, catalogue: Catalogue, settle: float | None = None,
                 rescan: float | None = None, polling: bool = False, poll_interval: float = 1.0,
                 log: Callable[[str], Any] = print) -> None:
        self.settings = settings
        self.catalogue = catalogue
        self.settle = settings.settle_seconds if settle is None else settle
        self.rescan = settings.rescan_seconds if rescan is None else rescan
        self.polling = polling
        self.poll_interval = poll_interval
        self._log = log
        self._seen: dict[Path, tuple[int, int, float]] = {}   # path -> (size, mtime_ns, still since)
        self._hint = threading.Event()
        self._stop = threading.Event()
        self.outcomes: list[Outcome] = []

    def log(self, message: str) -> None:
        line = f"{dt.datetime.now().strftime('%Y-%m-%d %H:%M:%S')} {message}"
        self._log(line)
        try:
            self.settings.outbox.mkdir(parents=True, exist_ok=True)
            with (self.settings.outbox / "kpiflow.log").open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        except OSError:
            pass

    def stop(self, *_: object) -> None:
        self._stop.set()
        self._hint.set()

    def _observer(self) -> Any:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        hint = self._hint

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                hint.set()   # never raise here: an exception would kill the observer thread

        obs = PollingObserver(timeout=self.poll_interval) if self.polling else Observer()
        obs.schedule(Handler(), str(self.settings.inbox), recursive=False)
        obs.daemon = True
        obs.start()
        return obs

    def ready(self, now: float) -> list[Path]:
        """Files whose size and mtime have held still for the settle time."""
        out: list[Path] = []
        current = set()
        for p in waiting_files(self.settings):
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            current.add(p)
            key = (st.st_size, st.st_mtime_ns)
            prev = self._seen.get(p)
            if prev is None or prev[:2] != key:
                self._seen[p] = (*key, now)
                continue
            if now - prev[2] >= self.settle and not locked_by_office(p):
                out.append(p)
        for p in list(self._seen):
            if p not in current:
                del self._seen[p]
        return out

    def process(self, store: Store, paths: list[Path], claimed: bool = False) -> None:
        for p in paths:
            if self._stop.is_set():
                return
            try:
                outcome = process_file(self.settings, store, self.catalogue, p, claimed=claimed)
            except Exception as exc:
                self.log(f"{p.name}: could not be processed ({type(exc).__name__}: {exc}); left in place")
                continue
            self._seen.pop(p, None)
            if outcome.status != "skipped":
                self.outcomes.append(outcome)
                self.log(outcome.line())

    def run(self, once: bool = False) -> list[Outcome]:
        self.settings.ensure_folders()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.stop)
        with Store(self.settings.db_path) as store:
            self.process(store, pending(self.settings), claimed=True)
            if once:
                # a file still being written is left for the next run
                start = time.monotonic()
                self.ready(start)
                while not self._stop.is_set():
                    time.sleep(min(0.2, self.settle))
                    now = time.monotonic()
                    files = self.ready(now)
                    self.process(store, files)
                    if not self._seen or now - start > self.settle * 3 + 5:
                        break
                return self.outcomes
            observer = self._observer()
            self.log(f"watching {self.settings.inbox} (settle {self.settle:g}s, rescan {self.rescan:g}s"
                     f"{', polling' if self.polling else ''}); Ctrl-C stops")
            last_scan = 0.0
            try:
                while not self._stop.is_set():
                    now = time.monotonic()
                    if not observer.is_alive():
                        self.log("the folder watcher stopped; restarting it")
                        observer = self._observer()
                    if self._hint.is_set() or now - last_scan >= self.rescan or self._seen:
                        self._hint.clear()
                        last_scan = now
                        self.process(store, self.ready(now))
                    self._hint.wait(timeout=min(0.5, self.settle / 2 or 0.1))
            except KeyboardInterrupt:
                pass
            finally:
                observer.stop()
                observer.join(timeout=5)
                self.log("stopped")
        return self.outcomes
