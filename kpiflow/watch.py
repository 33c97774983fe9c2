"""``kpiflow watch``: watchdog events become calls to pipeline.process_file, nothing more.

Events are only hints that something changed: every candidate must hold its size and mtime for
the settle time (and have no Office lock file ``~$name``) before it is claimed, and the folder is
rescanned on a timer so that a missed event delays a file but never loses it. The event handler
only sets a flag (an exception there would kill the observer thread); all the work happens in the
thread that called ``run``, one file at a time, oldest first, so that a later return for the same
service and quarter supersedes an earlier one in the order they arrived.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from kpiflow.errors import StoreUnavailable
from kpiflow.filing import NOT_A_FILE, lock_names, locked_by_office, scan_inbox
from kpiflow.model import Catalogue
from kpiflow.pipeline import Outcome, original_name, pending, process_file, send_acknowledgements
from kpiflow.settings import Settings
from kpiflow.store import Store, open_store

# Event types that change nothing in the folder (anything reading a file produces them).
_READ_ONLY_EVENTS = ("opened", "closed_no_write")
HEALTH_CHECK_SECONDS = 1.0    # how often an idle watcher checks its observer and the inbox folder
LOCKED_LOOK_SECONDS = 1.0     # how often a workbook open in an office program is looked at
_FOLDER, _OBSERVER, _STORE = "\0folder", "\0observer", "\0store"   # keys of _failed no file name can take
ERROR_PAUSE_SECONDS = 5.0     # pause after the folder (a network share) or the store's server could not be reached


class _StopRaceFilter(logging.Filter):
    """watchdog's inotify emitter can log an error when it is stopped while reading an event;
    nothing is wrong, and a clean stop should not print one."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "called when the thread is inactive" not in record.getMessage()


def _quiet_stop_race() -> None:
    log = logging.getLogger("watchdog.observers.inotify")
    if not any(isinstance(f, _StopRaceFilter) for f in log.filters):
        log.addFilter(_StopRaceFilter())


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float            # monotonic time this size and mtime were first seen
    locked: bool = False


class Watcher:
    """Watch ``settings.inbox`` and pass each file to ``process_file`` once it has settled.

    ``settle``: seconds a file's size and mtime must hold still; ``rescan``: seconds between full
    rescans whatever the events say; ``polling``: use watchdog's PollingObserver (network shares),
    polling every ``poll_interval`` seconds; ``log``: where each line goes besides
    ``outbox/kpiflow.log``.
    """

    def __init__(self, settings: Settings, catalogue: Catalogue, settle: float | None = None,
                 rescan: float | None = None, polling: bool = False, poll_interval: float = 1.0,
                 log: Callable[[str], Any] = print) -> None:
        self.settings = settings
        self.catalogue = catalogue
        self.settle = max(0.0, settings.settle_seconds if settle is None else settle)
        self.rescan = max(0.1, settings.rescan_seconds if rescan is None else rescan)
        self.polling = polling
        self.poll_interval = max(0.05, poll_interval)
        self.observer: Any = None
        self.outcomes: list[Outcome] = []
        self._log = log
        # between two looks at the folder: long enough not to spin on a stream of events, short
        # enough that a file is taken soon after its settle time
        self._tick = min(0.1, max(0.05, self.settle / 4))
        self._seen: dict[Path, _Seen] = {}
        self._failed: dict[str, str] = {}     # file name (or _FOLDER, _OBSERVER) -> the last failure logged
        self._stranded: set[Path] = set()     # claimed by this watcher, not finished: retried at rescans
        self._left: set[Path] = set()         # links, pipes and devices in the inbox, said to be skipped
        self._log_is_link = False
        self._hint = threading.Event()
        self._stop = threading.Event()
        self._signals = 0
        self._inbox_id: tuple[int, int] | None = None
        self._next_rescan = float("inf")   # when the working folder is next retried and the inbox rescanned

    # -- logging ------------------------------------------------------------------------------
    def log(self, message: str) -> None:
        """One timestamped line to the terminal and to ``outbox/kpiflow.log``."""
        line = f"{dt.datetime.now().strftime('%Y-%m-%d %H:%M:%S')} {message}"
        with contextlib.suppress(OSError):   # a closed terminal (a service with no console) must not stop it
            self._log(line)
        log = self.settings.outbox / "kpiflow.log"
        try:
            self.settings.outbox.mkdir(parents=True, exist_ok=True)
            # never through a link someone put there in place of the log
            fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        except OSError:
            if os.path.islink(log) and not self._log_is_link:
                self._log_is_link = True
                with contextlib.suppress(OSError):
                    self._log(f"{log} is a link, which kpiflow never writes through: these lines are not kept there")

    def _log_failure(self, name: str, message: str) -> None:
        # a file that keeps failing is retried at every rescan; say so once, not every time
        if self._failed.get(name) != message:
            self._failed[name] = message
            self.log(f"{name}: {message}")

    # -- stopping -----------------------------------------------------------------------------
    def stop(self, *_: object) -> None:
        """Stop after the file in hand. Safe to call from any thread."""
        self._stop.set()
        self._hint.set()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # only set flags here: writing to the terminal from a signal handler can collide with a
        # write already in progress
        self._signals += 1
        if self._signals > 1 and signum == signal.SIGINT:
            raise KeyboardInterrupt   # a second Ctrl-C: the user means now
        self.stop()

    def _install_signals(self) -> dict[int, Any]:
        previous: dict[int, Any] = {}
        if threading.current_thread() is not threading.main_thread():
            return previous
        wanted = [signal.SIGTERM, signal.SIGINT]
        if hasattr(signal, "SIGBREAK"):   # Ctrl-Break in a Windows console
            wanted.append(signal.SIGBREAK)
        for sig in wanted:
            previous[sig] = signal.signal(sig, self._on_signal)
        return previous

    # -- the observer -------------------------------------------------------------------------
    def _start_observer(self) -> Any:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        hint = self._hint

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                # never raise here: an exception would kill the observer thread
                if event.event_type not in _READ_ONLY_EVENTS:
                    hint.set()

        _quiet_stop_race()
        obs = PollingObserver(timeout=self.poll_interval) if self.polling else Observer()
        obs.schedule(Handler(), str(self.settings.inbox), recursive=False)
        obs.daemon = True
        obs.start()
        st = self.settings.inbox.stat()
        self._inbox_id = (st.st_dev, st.st_ino)
        return obs

    def _observer_healthy(self) -> bool:
        obs = self.observer
        if obs is None or not obs.is_alive() or not all(e.is_alive() for e in obs.emitters):
            return False
        try:
            st = self.settings.inbox.stat()
        except OSError:
            return False
        # a folder that was moved away and replaced: the old watch follows the old folder
        return (st.st_dev, st.st_ino) == self._inbox_id

    def _stop_observer(self) -> None:
        obs, self.observer = self.observer, None
        if obs is not None:
            try:
                obs.stop()
                obs.join(timeout=5)
            except Exception:   # an observer that already died can fail to stop; it is gone either way
                pass

    def _ensure_observer(self) -> None:
        if self._observer_healthy():
            return
        restarting = self.observer is not None
        self._stop_observer()
        try:
            self.observer = self._start_observer()
        except Exception as exc:
            self._log_failure(_OBSERVER, f"cannot follow events in {self.settings.inbox} ({type(exc).__name__}: "
                              f"{exc}); rescanning every {self.rescan:g}s and trying again")
            return
        self._failed.pop(_OBSERVER, None)
        if restarting:
            self.log("the folder watcher stopped; restarted it")
            self._hint.set()   # look now for anything that arrived while nothing was watching

    # -- the work -----------------------------------------------------------------------------
    def ready(self, now: float, announce: bool = False) -> list[Path]:
        """Files whose size and mtime have held still for the settle time and that no office suite
        has open, oldest first. Updates what has been seen; with ``announce``, logs a file found
        open in an office program."""
        others: list[tuple[Path, str]] = []
        candidates, names = scan_inbox(self.settings.inbox, others)
        for p, kind in others:
            if p not in self._left:
                self.log(f"{p.name}: skipped: {NOT_A_FILE[kind]}")
        self._left = {p for p, _ in others}   # said once while it stays; again if it comes back
        out: list[Path] = []
        current: set[Path] = set()
        for p, st in candidates:
            current.add(p)
            seen = self._seen.get(p)
            if seen is None or (seen.size, seen.mtime_ns) != (st.st_size, st.st_mtime_ns):
                seen = self._seen[p] = _Seen(st.st_size, st.st_mtime_ns, now, seen.locked if seen else False)
            was_locked = seen.locked
            seen.locked = any(n.casefold() in names for n in lock_names(p.name))
            if announce and seen.locked and not was_locked:
                self.log(f"{p.name}: open in an office program; waiting for it to be closed")
            if not seen.locked and now - seen.since >= self.settle:
                out.append(p)
        for p in list(self._seen):
            if p not in current:
                del self._seen[p]
        return out

    def _unchanged(self, p: Path) -> bool:
        """Still as it was when found ready: a long batch gives a file time to be overwritten."""
        seen = self._seen.get(p)
        if seen is None:
            return True
        try:
            st = p.stat()
        except OSError:
            return True   # gone: process_file reports it as skipped
        return (st.st_size, st.st_mtime_ns) == (seen.size, seen.mtime_ns) and not locked_by_office(p)

    def process(self, store: Store, paths: list[Path], claimed: bool = False) -> None:
        """Process each file in turn, stopping between files when asked. One log line per file.

        A file that raises is logged and left (in the working folder, if it got that far) to be
        tried again at the next rescan; the rest carry on."""
        working = set(pending(self.settings, store)) if paths and not claimed else set()
        for p in paths:
            if self._stop.is_set():
                return
            if not claimed and not self._unchanged(p):
                continue   # it changed after it was found ready: it settles again
            self._seen.pop(p, None)
            try:
                outcome = process_file(self.settings, store, self.catalogue, p, claimed=claimed)
            except Exception as exc:
                if claimed:
                    self._stranded.add(p)
                else:
                    # the file this call claimed is the one new in the working folder
                    now_working = set(pending(self.settings, store))
                    self._stranded |= now_working - working
                    working = now_working
                if isinstance(exc, StoreUnavailable):
                    # the store's server is down or out of reach: every file would fail the same way
                    self._log_failure(_STORE, f"{exc} Trying again every {ERROR_PAUSE_SECONDS:g}s.")
                    self._next_rescan = min(self._next_rescan, time.monotonic() + ERROR_PAUSE_SECONDS)
                    self._stop.wait(ERROR_PAUSE_SECONDS)
                    return
                where = "inbox/.working" if claimed or not p.exists() else "the inbox"
                self._log_failure(original_name(p) if claimed else p.name, f"could not be processed ({type(exc).__name__}: {exc}); it stays in "
                                  f"{where} and is tried again")
                continue
            if self._failed.pop(_STORE, None) is not None:
                self.log(f"the store at {store.where} is reachable again")
            self._stranded.discard(p)
            self._failed.pop(outcome.file, None)
            if outcome.status != "skipped":
                self.outcomes.append(outcome)
                self.log(outcome.line())
                if outcome.status in ("accepted", "rejected"):
                    for line in send_acknowledgements(self.settings, store, self.catalogue):
                        self.log(line)

    def _retry_stranded(self, store: Store) -> None:
        """Try again the files this watcher claimed but could not finish, and finish any that
        another process (another watcher, perhaps on another host) left part-done when it died;
        those a live process holds are skipped."""
        stranded = sorted(p for p in self._stranded if p.exists())
        self._stranded.clear()
        abandoned = [p for p in pending(self.settings, store) if p not in stranded]
        self.process(store, stranded + abandoned, claimed=True)

    def _until_next_look(self, now: float, last_look: float, next_rescan: float) -> float:
        """Seconds until the folder should be looked at again (0: now)."""
        if now >= next_rescan:
            return 0.0
        since_look = now - last_look
        if self._hint.is_set() or any(not s.locked for s in self._seen.values()):
            # a file arriving or settling: look every tick, however many events arrive, and
            # without events too (a network share may send none)
            return max(0.0, self._tick - since_look)
        if self._seen:
            return max(0.0, LOCKED_LOOK_SECONDS - since_look)   # only files open in Excel
        return next_rescan - now

    def _folder_problem(self, exc: Exception) -> None:
        self._log_failure(_FOLDER, f"cannot watch {self.settings.inbox} ({type(exc).__name__}: {exc}); trying again")
        self._stop.wait(min(ERROR_PAUSE_SECONDS, self.rescan))

    def _watch(self, store: Store) -> None:
        self._ensure_observer()
        last_look = time.monotonic()
        try:
            self.process(store, self.ready(last_look, announce=True))
        except Exception as exc:
            self._folder_problem(exc)
        self.log(f"watching {self.settings.inbox} (settle {self.settle:g}s, rescan {self.rescan:g}s"
                 f"{f', polling every {self.poll_interval:g}s' if self.polling else ''}); Ctrl-C stops")
        self._next_rescan = min(self._next_rescan, time.monotonic() + self.rescan)
        while not self._stop.is_set():
            try:
                self._ensure_observer()
                now = time.monotonic()
                wait = self._until_next_look(now, last_look, self._next_rescan)
                if wait <= 0:
                    self._hint.clear()
                    last_look = now
                    if now >= self._next_rescan:
                        self._next_rescan = now + self.rescan
                        self._retry_stranded(store)
                    self.process(store, self.ready(now, announce=True))
                    self._failed.pop(_FOLDER, None)
                    continue
            except Exception as exc:   # the folder itself (a network share gone): wait and try again
                self._folder_problem(exc)
                continue
            wait = min(wait, HEALTH_CHECK_SECONDS)
            # while the hint is set (events arriving faster than the tick) wait on the stop flag,
            # not on the hint, which would return at once and spin
            (self._stop if self._hint.is_set() else self._hint).wait(timeout=wait)

    def _once(self, store: Store) -> None:
        """Process what is waiting and return. A file still being written is waited for, up to a
        limit; a file open in an office program is left for the next run."""
        start = time.monotonic()
        limit = self.settle * 3 + 5
        self.ready(start)
        while not self._stop.is_set():
            self._stop.wait(self._tick)
            now = time.monotonic()
            self.process(store, self.ready(now))
            if all(s.locked for s in self._seen.values()) or now - start > limit:
                break
        if self._stop.is_set():
            return
        for p, s in sorted(self._seen.items()):
            why = "open in an office program" if s.locked else "still being written"
            self.log(f"{p.name}: {why}; left for the next run")

    def run(self, once: bool = False) -> list[Outcome]:
        """Process what a stopped run left part-done, then what is waiting; with ``once`` return
        then, else keep watching until stopped (Ctrl-C, SIGTERM or ``stop()``)."""
        self.settings.ensure_folders()
        previous = self._install_signals()
        try:
            with open_store(self.settings) as store:
                self.process(store, pending(self.settings, store), claimed=True)
                if once:
                    self._once(store)
                else:
                    try:
                        self._watch(store)
                    finally:
                        self._stop_observer()
                        self.log("stopped")
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self.outcomes
