"""The history store: all SQL lives here.

SQLite is the embedded default. Every change is one transaction (BEGIN IMMEDIATE ... COMMIT), so a
process killed at any point leaves either all of a submission or none of it; transactions nest
(as savepoints), so a caller can make several calls one change. The schema is built by numbered
migrations recorded in ``schema_migrations``, applied in the same transaction as their record; a
shipped migration is never edited, a change of schema is a new one. A database from a newer
kpiflow is refused.

Each submission records the name the file was claimed under (``claim``, unique), and the names
its original and its feedback are kept under, all before either is written: a process stopped
after storing finishes the moves on the next run instead of storing the file again.

Figures are kept as observations, never updated in place: the newest non-blank value of each
figure for an (indicator, period) is the current one, and older rows are its revision history.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kpiflow.errors import KpiflowError
from kpiflow.model import Figures, ReturnData
from kpiflow.periods import Period, parse_period
from kpiflow.settings import Settings

MIGRATIONS: list[tuple[str, str]] = [
    ("initial", """
        CREATE TABLE submissions (
            id INTEGER PRIMARY KEY,
            file_name TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            service TEXT NOT NULL DEFAULT '',
            quarter TEXT NOT NULL DEFAULT '',
            completed_by TEXT NOT NULL DEFAULT '',
            email TEXT NOT NULL DEFAULT '',
            date_completed TEXT NOT NULL DEFAULT '',
            received_at TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'rejected', 'duplicate')),
            errors INTEGER NOT NULL DEFAULT 0,
            warnings INTEGER NOT NULL DEFAULT 0,
            problems TEXT NOT NULL DEFAULT '[]',
            kept_as TEXT NOT NULL DEFAULT '',
            superseded_by INTEGER REFERENCES submissions(id)
        );
        CREATE INDEX submissions_sha ON submissions(sha256);
        CREATE INDEX submissions_service_quarter ON submissions(service, quarter);
        CREATE TABLE observations (
            id INTEGER PRIMARY KEY,
            indicator_id TEXT NOT NULL,
            period TEXT NOT NULL,
            number REAL, rate REAL, statneigh REAL, england REAL,
            source TEXT NOT NULL,
            submission_id INTEGER REFERENCES submissions(id),
            recorded_at TEXT NOT NULL
        );
        CREATE INDEX observations_key ON observations(indicator_id, period, id);
        CREATE TABLE texts (
            id INTEGER PRIMARY KEY,
            indicator_id TEXT NOT NULL,
            quarter TEXT NOT NULL,
            commentary TEXT NOT NULL DEFAULT '',
            response TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL,
            submission_id INTEGER REFERENCES submissions(id),
            recorded_at TEXT NOT NULL
        );
        CREATE INDEX texts_key ON texts(indicator_id, quarter, id);
        CREATE TABLE breakdowns (
            id INTEGER PRIMARY KEY,
            indicator_id TEXT NOT NULL,
            period TEXT NOT NULL,
            category TEXT NOT NULL,
            number REAL NOT NULL,
            position INTEGER NOT NULL,
            batch INTEGER NOT NULL,
            source TEXT NOT NULL,
            submission_id INTEGER REFERENCES submissions(id),
            recorded_at TEXT NOT NULL
        );
        CREATE INDEX breakdowns_key ON breakdowns(indicator_id, period, batch);
        CREATE TABLE issued (
            id INTEGER PRIMARY KEY,
            service TEXT NOT NULL,
            quarter TEXT NOT NULL,
            file_name TEXT NOT NULL,
            issued_at TEXT NOT NULL
        );
        CREATE TABLE quarter_events (
            id INTEGER PRIMARY KEY,
            quarter TEXT NOT NULL,
            event TEXT NOT NULL CHECK (event IN ('published', 'reopened')),
            at TEXT NOT NULL,
            by TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL DEFAULT ''
        );
    """),
    ("claims-and-feedback", """
        ALTER TABLE submissions ADD COLUMN claim TEXT;
        ALTER TABLE submissions ADD COLUMN feedback TEXT NOT NULL DEFAULT '';
        CREATE UNIQUE INDEX submissions_claim ON submissions(claim);
        CREATE INDEX submissions_kept_as ON submissions(kept_as);
        CREATE INDEX submissions_feedback ON submissions(feedback);
    """),
]
FIGURES = ("number", "rate", "statneigh", "england")
BUSY_TIMEOUT_SECONDS = 30.0   # how long a change waits for another process's change to finish


def now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class Submission:
    id: int
    file_name: str
    sha256: str
    service: str
    quarter: str
    completed_by: str
    email: str
    received_at: str
    outcome: str
    errors: int
    warnings: int
    problems: list[dict[str, Any]]
    kept_as: str
    superseded_by: int | None
    feedback: str = ""
    claim: str | None = None


@dataclass(frozen=True)
class Revision:
    indicator_id: str
    period: str
    figure: str
    old: float | None
    new: float | None
    source: str
    recorded_at: str
    by: str = ""                       # who completed the return that made the change, where known
    submission_id: int | None = None


class Store:
    """One open SQLite history store."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._depth = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        prepare_file(path)
        # a busy database (another kpiflow writing) is waited for, never an error at once
        self.conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        try:
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA foreign_keys = ON")
            if self.conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise KpiflowError(f"{path} is not a kpiflow store or is damaged: {exc}") from exc
        except BaseException:
            self.conn.close()
            raise

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing. BEGIN IMMEDIATE takes the write lock at once, so two processes queue
        (up to the 30 s timeout) instead of failing half-way. Nested, it is a savepoint."""
        nested = self._depth > 0
        try:
            self.conn.execute(f"SAVEPOINT s{self._depth}" if nested else "BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            raise KpiflowError(f"The store {self.path} is busy: another kpiflow process has been changing it for "
                               f"{BUSY_TIMEOUT_SECONDS:g} seconds. Try again in a minute; if it stays busy, look "
                               "for a kpiflow process that has stopped responding.") from exc
        self._depth += 1
        try:
            yield self.conn
        except BaseException:
            self._depth -= 1
            if nested:
                self.conn.execute(f"ROLLBACK TO s{self._depth}")
                self.conn.execute(f"RELEASE s{self._depth}")
            else:
                self.conn.execute("ROLLBACK")
            raise
        self._depth -= 1
        self.conn.execute(f"RELEASE s{self._depth}" if nested else "COMMIT")

    # -- schema ---------------------------------------------------------------------------
    def _migrate(self) -> None:
        if self._applied() == len(MIGRATIONS):
            return      # the usual case: no write lock taken, so opening never waits for a writer
        with self.transaction() as c:
            tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables and "schema_migrations" not in tables:
                raise KpiflowError(f"{self.path} is a SQLite database but not a kpiflow store. Point "
                                   "paths.database in kpiflow.toml at another file.")
            c.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                      "applied_at TEXT NOT NULL)")
            done = {r[0] for r in c.execute("SELECT version FROM schema_migrations")}
            if done and max(done) > len(MIGRATIONS):
                raise KpiflowError(f"{self.path} was written by a newer kpiflow (schema {max(done)}); this one knows "
                                   f"up to {len(MIGRATIONS)}. Upgrade kpiflow to use it.")
            for version, (name, sql) in enumerate(MIGRATIONS, start=1):
                if version in done:
                    continue
                for statement in _statements(sql):
                    c.execute(statement)
                c.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", (version, name, now()))

    def _applied(self) -> int | None:
        """The schema version, read without a lock; None for a database without a migrations table."""
        if self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
                             ).fetchone() is None:
            return None
        return self.schema_version()

    def schema_version(self) -> int:
        return int(self.conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0])

    # -- writing --------------------------------------------------------------------------
    def _current(self, c: sqlite3.Connection, iid: str, period: str) -> dict[str, float | None] | None:
        rows = c.execute(f"SELECT {', '.join(FIGURES)} FROM observations WHERE indicator_id = ? AND period = ? "
                         "ORDER BY id", (iid, period)).fetchall()
        if not rows:
            return None
        cur: dict[str, float | None] = dict.fromkeys(FIGURES)
        for r in rows:
            for f in FIGURES:
                if r[f] is not None:
                    cur[f] = r[f]
        return cur

    def _observe(self, c: sqlite3.Connection, iid: str, period: Period, figs: Figures, source: str,
                 submission_id: int | None, at: str) -> bool:
        """Record figures unless they change nothing. Returns True if a row was written."""
        if figs.is_empty():
            return False
        cur = self._current(c, iid, period.label)
        new = {"number": figs.number, "rate": figs.rate, "statneigh": figs.statneigh, "england": figs.england}
        if cur is not None and all(v is None or cur[k] == v for k, v in new.items()):
            return False
        c.execute("INSERT INTO observations (indicator_id, period, number, rate, statneigh, england, source, "
                  "submission_id, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  (iid, period.label, figs.number, figs.rate, figs.statneigh, figs.england, source, submission_id, at))
        return True

    def _breakdown(self, c: sqlite3.Connection, iid: str, period: Period, items: list[tuple[str, float]],
                   source: str, submission_id: int | None, at: str) -> None:
        batch = int(c.execute("SELECT COALESCE(MAX(batch), 0) + 1 FROM breakdowns").fetchone()[0])
        for pos, (cat, num) in enumerate(items):
            c.execute("INSERT INTO breakdowns (indicator_id, period, category, number, position, batch, source, "
                      "submission_id, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      (iid, period.label, cat, num, pos, batch, source, submission_id, at))

    def find_accepted(self, sha256: str) -> Submission | None:
        """The first accepted submission of exactly this file, if any."""
        row = self.conn.execute("SELECT * FROM submissions WHERE sha256 = ? AND outcome = 'accepted' ORDER BY id LIMIT 1",
                                (sha256,)).fetchone()
        return _submission(row) if row else None

    def submission_by_claim(self, claim: str) -> Submission | None:
        """The submission recorded for the file claimed under this name, if it got that far."""
        row = self.conn.execute("SELECT * FROM submissions WHERE claim = ?", (claim,)).fetchone()
        return _submission(row) if row else None

    def path_recorded(self, rel: str) -> bool:
        """True if a submission keeps its original or its feedback under ``rel`` (relative to the
        working folder): the name is promised even before the file is written."""
        return self.conn.execute("SELECT 1 FROM submissions WHERE kept_as = ? OR feedback = ? LIMIT 1",
                                 (rel, rel)).fetchone() is not None

    def set_kept_as(self, submission_id: int, rel: str) -> None:
        with self.transaction() as c:
            c.execute("UPDATE submissions SET kept_as = ? WHERE id = ?", (rel, submission_id))

    def record_rejected(self, file_name: str, sha256: str, service: str, quarter: str, completed_by: str,
                        problems: list[dict[str, Any]], errors: int, warnings: int, kept_as: str,
                        outcome: str = "rejected", claim: str | None = None, feedback: str = "") -> int:
        """Record a submission that stores no figures: rejected, or a duplicate of an accepted file."""
        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO submissions (file_name, sha256, service, quarter, completed_by, received_at, outcome, "
                "errors, warnings, problems, kept_as, claim, feedback) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (file_name, sha256, service, quarter, completed_by, now(), outcome, errors, warnings,
                 json.dumps(problems, ensure_ascii=False), kept_as, claim, feedback))
            return int(cur.lastrowid or 0)

    def store_return(self, data: ReturnData, file_name: str, sha256: str, warnings: list[dict[str, Any]],
                     kept_as: str, claim: str | None = None, feedback: str = "") -> int:
        """Store an accepted return and its submission record in one transaction. Earlier accepted
        returns for the same service and quarter are marked superseded by it, and kept."""
        assert data.quarter is not None
        at = now()
        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO submissions (file_name, sha256, service, quarter, completed_by, email, date_completed, "
                "received_at, outcome, errors, warnings, problems, kept_as, claim, feedback) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'accepted', 0, ?, ?, ?, ?, ?)",
                (file_name, sha256, data.service, data.quarter.label, data.completed_by, data.email,
                 data.date_completed, at, len(warnings), json.dumps(warnings, ensure_ascii=False), kept_as,
                 claim, feedback))
            sid = int(cur.lastrowid or 0)
            c.execute("UPDATE submissions SET superseded_by = ? WHERE service = ? AND quarter = ? AND outcome = 'accepted' "
                      "AND id <> ? AND superseded_by IS NULL", (sid, data.service, data.quarter.label, sid))
            source = f"return {file_name}"
            for row in data.rows:
                self._observe(c, row.indicator_id, data.quarter, row.figures, source, sid, at)
                c.execute("INSERT INTO texts (indicator_id, quarter, commentary, response, source, submission_id, "
                          "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                          (row.indicator_id, data.quarter.label, row.commentary, row.response, source, sid, at))
            for s in data.support:
                self._observe(c, s.indicator_id, s.period, s.figures, source, sid, at)
            groups: dict[tuple[str, Period], list[tuple[str, float]]] = {}
            for b in data.breakdown:
                groups.setdefault((b.indicator_id, b.period), []).append((b.category, b.number))
            for (iid, period), items in groups.items():
                self._breakdown(c, iid, period, items, source, sid, at)
        return sid

    def load_history(self, rows: Iterable[tuple[str, Period, Figures]], source: str,
                     breakdown: Iterable[tuple[str, Period, str, float]] = ()) -> int:
        """Load back data (e.g. the shipped example) in one transaction. Returns rows written."""
        at = now()
        written = 0
        with self.transaction() as c:
            for iid, period, figs in rows:
                written += self._observe(c, iid, period, figs, source, None, at)
            groups: dict[tuple[str, Period], list[tuple[str, float]]] = {}
            for iid, period, cat, num in breakdown:
                groups.setdefault((iid, period), []).append((cat, num))
            for (iid, period), items in groups.items():
                self._breakdown(c, iid, period, items, source, None, at)
        return written

    def record_issue(self, service: str, quarter: Period, file_name: str) -> None:
        with self.transaction() as c:
            c.execute("INSERT INTO issued (service, quarter, file_name, issued_at) VALUES (?, ?, ?, ?)",
                      (service, quarter.label, file_name, now()))

    def record_quarter_event(self, quarter: Period, event: str, by: str, detail: str) -> None:
        """Record that a quarter was published, or reopened (by whom, and why in ``detail``)."""
        with self.transaction() as c:
            if event == "reopened" and self.quarter_state(quarter) != "published":
                raise KpiflowError(f"{quarter.short} is not published, so there is nothing to reopen.")
            c.execute("INSERT INTO quarter_events (quarter, event, at, by, detail) VALUES (?, ?, ?, ?, ?)",
                      (quarter.label, event, now(), by, detail))

    def set_text(self, iid: str, quarter: Period, commentary: str, response: str, source: str) -> bool:
        """Record edited words (from a published report). Returns True if they changed."""
        with self.transaction() as c:
            if self.texts(iid, quarter) == (commentary, response):
                return False
            c.execute("INSERT INTO texts (indicator_id, quarter, commentary, response, source, recorded_at) "
                      "VALUES (?, ?, ?, ?, ?, ?)", (iid, quarter.label, commentary, response, source, now()))
        return True

    # -- reading --------------------------------------------------------------------------
    def series(self, iid: str) -> dict[Period, Figures]:
        """Current figures of every period held for an indicator."""
        out: dict[str, dict[str, float | None]] = {}
        for r in self.conn.execute(f"SELECT period, {', '.join(FIGURES)} FROM observations WHERE indicator_id = ? "
                                   "ORDER BY id", (iid,)):
            cur = out.setdefault(r["period"], dict.fromkeys(FIGURES))
            for f in FIGURES:
                if r[f] is not None:
                    cur[f] = r[f]
        return {parse_period(p): Figures(v["number"], v["rate"], v["statneigh"], v["england"]) for p, v in out.items()}

    def texts(self, iid: str, quarter: Period) -> tuple[str, str] | None:
        r = self.conn.execute("SELECT commentary, response FROM texts WHERE indicator_id = ? AND quarter = ? "
                              "ORDER BY id DESC LIMIT 1", (iid, quarter.label)).fetchone()
        return (r["commentary"], r["response"]) if r else None

    def last_response(self, iid: str, before: Period) -> str:
        """The newest service response given for a quarter before ``before``."""
        best: tuple[Period, int, str] | None = None
        for r in self.conn.execute("SELECT id, quarter, response FROM texts WHERE indicator_id = ? AND response <> ''",
                                   (iid,)):
            q = parse_period(r["quarter"])
            if q < before and (best is None or (q, r["id"]) > best[:2]):
                best = (q, r["id"], r["response"])
        return best[2] if best else ""

    def breakdown(self, iid: str, period: Period) -> list[tuple[str, float]]:
        r = self.conn.execute("SELECT MAX(batch) FROM breakdowns WHERE indicator_id = ? AND period = ?",
                              (iid, period.label)).fetchone()
        if not r or r[0] is None:
            return []
        return [(x["category"], x["number"]) for x in self.conn.execute(
            "SELECT category, number FROM breakdowns WHERE batch = ? ORDER BY position", (r[0],))]

    def latest_breakdown_categories(self, iid: str, before: Period) -> list[str]:
        periods = sorted({parse_period(r[0]) for r in self.conn.execute(
            "SELECT DISTINCT period FROM breakdowns WHERE indicator_id = ?", (iid,))})
        earlier = [p for p in periods if p < before]
        return [c for c, _ in self.breakdown(iid, earlier[-1])] if earlier else []

    def submissions(self, service: str | None = None, quarter: Period | None = None) -> list[Submission]:
        sql, args = "SELECT * FROM submissions WHERE 1 = 1", []
        if service:
            sql += " AND service = ? COLLATE NOCASE"
            args.append(service)
        if quarter:
            sql += " AND quarter = ?"
            args.append(quarter.label)
        return [_submission(r) for r in self.conn.execute(sql + " ORDER BY id", args)]

    def accepted_submission(self, service: str, quarter: Period) -> Submission | None:
        r = self.conn.execute("SELECT * FROM submissions WHERE service = ? AND quarter = ? AND outcome = 'accepted' "
                              "AND superseded_by IS NULL ORDER BY id DESC LIMIT 1", (service, quarter.label)).fetchone()
        return _submission(r) if r else None

    def issued(self, quarter: Period) -> dict[str, str]:
        return {r["service"]: r["issued_at"] for r in self.conn.execute(
            "SELECT service, MAX(issued_at) AS issued_at FROM issued WHERE quarter = ? GROUP BY service", (quarter.label,))}

    def revisions(self, indicator_ids: Iterable[str]) -> list[Revision]:
        """Every change of a figure after it was first recorded, oldest first, with its source,
        date and who completed the return that changed it."""
        out: list[Revision] = []
        for iid in indicator_ids:
            seen: dict[tuple[str, str], float | None] = {}
            for r in self.conn.execute("SELECT o.*, s.completed_by FROM observations o LEFT JOIN submissions s "
                                       "ON s.id = o.submission_id WHERE o.indicator_id = ? ORDER BY o.id", (iid,)):
                for f in FIGURES:
                    if r[f] is None:
                        continue
                    key = (r["period"], f)
                    if key in seen and seen[key] != r[f]:
                        out.append(Revision(iid, r["period"], f, seen[key], r[f], r["source"], r["recorded_at"],
                                            r["completed_by"] or "", r["submission_id"]))
                    seen[key] = r[f]
        return out

    def quarter_state(self, quarter: Period) -> str:
        """'published' or 'open'."""
        r = self.conn.execute("SELECT event FROM quarter_events WHERE quarter = ? ORDER BY id DESC LIMIT 1",
                              (quarter.label,)).fetchone()
        return "published" if r and r["event"] == "published" else "open"

    def quarter_events(self, quarter: Period) -> list[dict[str, str]]:
        """Each publish and reopen of a quarter, oldest first: event, at, by, detail."""
        return [dict(r) for r in self.conn.execute("SELECT event, at, by, detail FROM quarter_events WHERE quarter = ? "
                                                   "ORDER BY id", (quarter.label,))]

    # -- for analysts (kpiflow export, kpiflow.frames) --------------------------------------
    # Plain SQL that any backend runs as it stands. Comparator imports need no method of their
    # own: they are load_history() calls with the file as the source.
    def observation_rows(self) -> list[dict[str, Any]]:
        """Every stored observation, oldest first, as plain dicts: id, indicator_id, period, the
        four figures (None where blank), source, submission_id, recorded_at. Which value is current
        follows from the order: the newest non-blank value of each figure (see ``series``)."""
        return [dict(r) for r in self.conn.execute(
            "SELECT id, indicator_id, period, number, rate, statneigh, england, source, submission_id, recorded_at "
            "FROM observations ORDER BY id")]


def _submission(r: sqlite3.Row) -> Submission:
    return Submission(
        id=r["id"], file_name=r["file_name"], sha256=r["sha256"], service=r["service"], quarter=r["quarter"],
        completed_by=r["completed_by"], email=r["email"], received_at=r["received_at"], outcome=r["outcome"],
        errors=r["errors"], warnings=r["warnings"], problems=json.loads(r["problems"]), kept_as=r["kept_as"],
        superseded_by=r["superseded_by"], feedback=r["feedback"], claim=r["claim"],
    )


def _statements(sql: str) -> Iterator[str]:
    """Split a migration into statements, keeping a ``;`` inside a string or trigger body."""
    buf = ""
    for piece in sql.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \t\r\n;"):
                yield buf
            buf = ""
    if buf.strip(" \t\r\n;"):
        raise KpiflowError(f"an incomplete statement in a migration: {buf.strip()[:80]}")


def open_store(settings: Settings) -> Store:
    """The working folder's history store; a folder that is not a kpiflow working folder is refused."""
    if not (settings.home / "inbox").is_dir() and not settings.db_path.exists():
        raise KpiflowError(f"{settings.home} is not a kpiflow working folder (no inbox/). Run kpiflow init DIR, or "
                           "use --home.")
    refuse_emptied(settings)
    return Store(settings.db_path)


# -- the database file itself -------------------------------------------------------------------------

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


def refuse_emptied(settings: Settings) -> None:
    """An empty (0-byte) store in a folder that has history is a store that lost it (a failed copy,
    a restore gone wrong): SQLite would take it as a new, empty store and carry on."""
    db = settings.db_path
    try:
        if db.stat().st_size:
            return
    except FileNotFoundError:
        return
    received = sum(1 for d in (settings.processed, settings.rejected) if d.is_dir()
                   for p in d.iterdir() if not p.name.startswith("."))
    published = sum(1 for p in settings.published_dir.iterdir()) if settings.published_dir.is_dir() else 0
    history = [f"{received} received file{'s' * (received != 1)} in inbox/processed and inbox/rejected"] * bool(received)
    history += [f"{published} published quarter{'s' * (published != 1)} in outbox/published"] * bool(published)
    if history:
        raise KpiflowError(f"{db} is empty (0 bytes), but this folder has history ({'; '.join(history)}). kpiflow "
                           "will not start a new, empty store over it: every stored figure would be lost. Restore "
                           f"{db.name} from a backup; to really start again, move the empty file away first.")
