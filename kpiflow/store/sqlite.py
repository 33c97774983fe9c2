"""The SQLite store: the embedded default, one file (``kpiflow.db``) for one council on one machine.

Write transactions are ``BEGIN IMMEDIATE``: the write lock is taken at once, so two processes queue
(up to the busy timeout) instead of failing half-way. The database is in WAL mode, so reading
never waits for a writer. Claims on inbox files are file locks (filing.py), which hold on one
machine; a network share needs the PostgreSQL store.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from kpiflow.errors import DISK_FULL, KpiflowError, disk_full
from kpiflow.store import base
from kpiflow.store.base import Row, Store

LOW_SPACE_BYTES = 1024 * 1024     # free space below which an I/O error is taken for a full disk


class SQLiteStore(Store):
    """One open SQLite history store."""

    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)
        self._depth = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        prepare_file(path)
        # a busy database (another kpiflow writing) is waited for, never an error at once
        self.conn = sqlite3.connect(str(path), timeout=base.BUSY_TIMEOUT_SECONDS, isolation_level=None)
        try:
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA foreign_keys = ON")
            self._use_wal()
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            if self._full(exc):
                raise KpiflowError(f"{path}: {DISK_FULL}") from exc
            raise KpiflowError(f"{path} is not a kpiflow store or is damaged: {exc}") from exc
        except BaseException:
            self.conn.close()
            raise

    def _use_wal(self) -> None:
        """Switch a new database to WAL. The switch needs the database to itself and SQLite does not
        wait for it as it waits for a write, so processes opening a new store together take turns."""
        deadline = time.monotonic() + base.BUSY_TIMEOUT_SECONDS
        while True:
            try:
                if self.conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    self.conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def close(self) -> None:
        self.conn.close()

    def _full(self, exc: BaseException) -> bool:
        """Whether SQLite failed for want of space: SQLITE_FULL, or an I/O error on a disk with
        next to nothing left (SQLite reports a full disk under its shared-memory file that way)."""
        if disk_full(exc):
            return True
        if "disk I/O error" not in str(exc):
            return False
        try:
            return shutil.disk_usage(self.path.parent).free < LOW_SPACE_BYTES
        except OSError:
            return False

    def _run(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        try:
            rows: list[Row] = self.conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            if self._full(exc):
                raise KpiflowError(f"The store {self.path} could not be written: {DISK_FULL}") from exc
            raise
        return rows

    def _values(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self.conn.cursor()
        cur.row_factory = None      # plain tuples: the cheapest rows for a long read
        values: list[tuple[Any, ...]] = cur.execute(sql, args).fetchall()
        return values

    def _run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            self.conn.executemany(sql, rows)
        except sqlite3.OperationalError as exc:
            if self._full(exc):
                raise KpiflowError(f"The store {self.path} could not be written: {DISK_FULL}") from exc
            raise

    def _begin_snapshot(self) -> None:
        self.conn.execute("BEGIN")    # deferred: the first read fixes the view (WAL keeps it)

    def _begin(self) -> None:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            raise KpiflowError(f"The store {self.path} is busy: another kpiflow process has been changing it for "
                               f"{base.BUSY_TIMEOUT_SECONDS:g} seconds. Try again in a minute; if it stays busy, "
                               "look for a kpiflow process that has stopped responding.") from exc

    def _end(self, commit: bool) -> None:
        try:
            self.conn.execute("COMMIT" if commit else "ROLLBACK")
        except sqlite3.OperationalError as exc:
            if self._full(exc):
                raise KpiflowError(f"The store {self.path} could not be written: {DISK_FULL}") from exc
            raise

    def _migration_lock(self) -> None:
        pass    # BEGIN IMMEDIATE has it already

    def _not_a_store(self) -> str:
        return (f"{self.path} is a SQLite database but not a kpiflow store. Point paths.database in kpiflow.toml "
                "at another file.")

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def tables(self) -> set[str]:
        return {r[0] for r in self._run("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def columns(self, table: str) -> list[str]:
        return [r[1] for r in self._run("SELECT * FROM pragma_table_info(?) ORDER BY cid", (table,))]

    def indexes(self, table: str) -> set[str]:
        return {r[0] for r in self._run("SELECT name FROM pragma_index_list(?)", (table,))}


def prepare_file(path: Path) -> None:
    """Create the database file as kpiflow creates every file (0666 less the umask: SQLite's own
    default is 0644, and it gives -wal and -shm the mode of the database), and refuse, saying what
    to fix, a database kpiflow could not write to. A read-only kpiflow.db makes SQLite create a
    read-only -shm, which keeps every run failing after kpiflow.db itself is fixed."""
    folder = path.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        raise KpiflowError(f"The folder {folder} is read-only, so kpiflow cannot use its store there: SQLite writes "
                           f"{path.name}-wal and {path.name}-shm beside {path.name}. Give everyone who runs kpiflow "
                           f"write permission on the folder (e.g. chmod ug+w {folder}).")
    if not os.path.lexists(path):
        flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0)
        with suppress(FileExistsError):    # another kpiflow made it first
            os.close(os.open(path, flags, 0o666))
    stuck = [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"))
             if os.path.lexists(p) and not os.access(p, os.W_OK)]
    if stuck:
        names = " ".join(p.name for p in stuck)
        raise KpiflowError(f"{names} {'is' if len(stuck) == 1 else 'are'} read-only, so kpiflow cannot use the store. "
                           f"Give everyone who runs kpiflow write permission (e.g. in {folder}: chmod ug+w "
                           f"{path.name}*). Fix {path.name}-wal and {path.name}-shm too where they exist: SQLite "
                           f"made them with the permissions {path.name} had then.")
