"""The Store interface, and everything the two stores share: the records, the queries, the writes.

Every query here is written once, with ``?`` placeholders; ``sqlite.py`` and ``postgres.py`` give
the connection, the transactions, the migrations' locking and the claims. Every change is one
transaction (nested, a savepoint), so a process killed at any point leaves either all of a
submission or none of it. Write transactions are serialised (SQLite's ``BEGIN IMMEDIATE``, a
PostgreSQL advisory lock), so a check and the write that depends on it (is this file a duplicate?
is this name free?) cannot be split by another process.

Each submission records the name the file was claimed under (``claim``, unique), and the names
its original and its feedback are kept under, all before either is written: a process stopped
after storing finishes the moves on the next run instead of storing the file again.

Figures are kept as observations, never updated in place: the newest non-blank value of each
figure for an (indicator, period) is the current one, and older rows are its revision history.
"""

from __future__ import annotations

import datetime as dt
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from kpiflow.claims import Claim
from kpiflow.errors import KpiflowError
from kpiflow.model import Figures, ReturnData
from kpiflow.model import Submission as Submission  # the record lives in model; the store is where it is made
from kpiflow.periods import Period, parse_period
from kpiflow.store import migrations

FIGURES = ("number", "rate", "statneigh", "england")
BUSY_TIMEOUT_SECONDS = 30.0   # how long a change waits for another process's change to finish


def now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


class Row(Protocol):
    """A result row, by column name or position (sqlite3.Row, or the PostgreSQL store's rows)."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...

    def keys(self) -> Any: ...


@dataclass(frozen=True)
class Message:
    """One message of the returns cycle (section 18), stored before it is sent: its Message-ID is
    fixed then, so a message sent again after a kill is the same message."""

    id: int
    key: str                    # unique: one message per service, quarter and stage (per return for answers)
    message_id: str
    kind: str
    service: str
    quarter: str
    submission_id: int | None
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    detail: dict[str, Any]
    state: str                  # queued | sent | dropped
    queued_at: str
    sent_at: str | None
    claimed_by: str | None
    claimed_at: str | None
    attempts: int
    last_error: str


@dataclass(frozen=True)
class SignOff:
    """A decision on an accepted return: signed off, or sent back to the service."""

    id: int
    service: str
    quarter: str
    submission_id: int
    event: str                  # signed-off | sent-back
    by: str
    note: str
    how: str                    # recorded (by the performance team) | attested (on the return's About sheet)
    signed_on: str
    at: str
    recorded_by: str


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


@dataclass(frozen=True)
class HeldFigures:
    """One period's current figures for an indicator, as ``kpiflow history --indicator`` lists them."""

    indicator_id: str
    period: str
    number: float | None
    rate: float | None
    statneigh: float | None
    england: float | None
    source: str                        # of the newest observation for the period
    recorded_at: str



def _by_service_and_quarter(table: str, service: str | None, quarter: Period | None) -> tuple[str, list[Any]]:
    """A query of ``table``'s rows, for one service (names matched ignoring case) and one quarter where given.
    lower() folds ASCII letters only in SQLite, as its NOCASE did: the same on both stores."""
    sql, args = f"SELECT * FROM {table} WHERE 1 = 1", []   # table: one of kpiflow's own names, never a user's
    if service:
        sql += " AND lower(service) = lower(?)"
        args.append(service)
    if quarter:
        sql += " AND quarter = ?"
        args.append(quarter.label)
    return sql, args


class Store(ABC):
    """One open history store: SQLite (:class:`kpiflow.store.sqlite.SQLiteStore`) or PostgreSQL
    (:class:`kpiflow.store.postgres.PostgresStore`); :func:`kpiflow.store.open_store` picks."""

    kind: ClassVar[str]
    #: True where claims on inbox files are taken in the database (so they hold across hosts)
    claims_in_database: ClassVar[bool] = False
    #: where the store is, for messages: a path, or a URL without its password
    where: str
    _depth: int = 0

    # -- what each store provides -----------------------------------------------------------------
    @abstractmethod
    def _run(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        """Execute one statement (``?`` placeholders); its rows, or [] if it returns none."""

    def _values(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """``_run``'s rows as tuples of values (a back end may read them more cheaply so)."""
        return [tuple(r) for r in self._run(sql, args)]

    @abstractmethod
    def _run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Execute one statement once for each row of arguments."""

    @abstractmethod
    def _begin_snapshot(self) -> None:
        """Start a read-only transaction that sees one moment of the store, holding up no writer."""

    @abstractmethod
    def _begin(self) -> None:
        """Start a write transaction, waiting (up to BUSY_TIMEOUT_SECONDS) for any other writer."""

    @abstractmethod
    def _end(self, commit: bool) -> None:
        """Commit or roll back the outermost transaction."""

    @abstractmethod
    def _migration_lock(self) -> None:
        """Inside the migration's transaction: make every other process starting now wait."""

    @abstractmethod
    def tables(self) -> set[str]:
        """The tables in the store."""

    @abstractmethod
    def columns(self, table: str) -> list[str]:
        """A table's columns, in order."""

    @abstractmethod
    def indexes(self, table: str) -> set[str]:
        """The names of a table's indexes."""

    @property
    @abstractmethod
    def in_transaction(self) -> bool: ...

    @abstractmethod
    def close(self) -> None: ...

    def try_claim(self, name: str) -> Claim | None:
        """Claim ``name`` in the database; None if another process holds it. Only where
        ``claims_in_database``; elsewhere claims are file locks. Take claims through
        :func:`kpiflow.claims.claims_for`, which picks."""
        raise NotImplementedError(f"the {self.kind} store takes no claims; lock the file instead")

    def _not_a_store(self) -> str:
        return f"{self.where} holds tables but is not a kpiflow store."

    def _after_copy(self, tables: Sequence[str]) -> None:
        """After rows were copied in with their ids: whatever the database needs to number on."""
        return None   # SQLite numbers on from the largest id itself

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        """Run one statement (``?`` placeholders) and return its rows: for tests and diagnostics.
        kpiflow's own SQL lives in the store's methods."""
        return self._run(sql, args)

    def query_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for each row of arguments (for copying a history in)."""
        self._run_many(sql, rows)

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Read several tables as they were at one moment, without holding up writers."""
        if self._depth:
            raise KpiflowError("a snapshot cannot be taken inside a transaction")
        self._begin_snapshot()
        self._depth += 1     # a connection lost meanwhile is an error, never a silent new view
        try:
            yield
        finally:
            self._depth -= 1
            self._end(commit=False)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing, and one writer at a time. Nested, it is a savepoint."""
        nested = self._depth > 0
        if nested:
            self._run(f"SAVEPOINT s{self._depth}")
        else:
            self._begin()
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            self._undo(nested)
            raise
        self._depth -= 1
        if nested:
            self._run(f"RELEASE SAVEPOINT s{self._depth}")
        else:
            self._end(commit=True)

    def _undo(self, nested: bool) -> None:
        if nested:
            self._run(f"ROLLBACK TO SAVEPOINT s{self._depth}")
            self._run(f"RELEASE SAVEPOINT s{self._depth}")
        else:
            self._end(commit=False)

    def _insert(self, sql: str, args: Sequence[Any]) -> int:
        return int(self._run(sql + " RETURNING id", args)[0][0])

    # -- schema -----------------------------------------------------------------------------------
    def _migrate(self) -> None:
        """Apply the migrations not yet applied, all in one transaction that other processes
        wait for; a store written by a newer kpiflow, or a database that is not a store, is refused."""
        wanted = len(migrations.MIGRATIONS)
        if self._applied() == wanted:
            return      # the usual case: no lock taken, so opening never waits for a writer
        with self.transaction():
            self._migration_lock()
            tables = self.tables()
            if tables and "schema_migrations" not in tables:
                raise KpiflowError(self._not_a_store())
            self._run("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                      "name TEXT NOT NULL, applied_at TEXT NOT NULL)")
            done = {int(r[0]) for r in self._run("SELECT version FROM schema_migrations")}
            if done and max(done) > wanted:
                raise KpiflowError(f"{self.where} was written by a newer kpiflow (schema {max(done)}); this one "
                                   f"knows up to {wanted}. Upgrade kpiflow to use it.")
            for version, (name, sql) in enumerate(migrations.MIGRATIONS, start=1):
                if version in done:
                    continue
                for statement in migrations.statements(migrations.render(sql, self.kind)):
                    self._run(statement)
                self._run("INSERT INTO schema_migrations VALUES (?, ?, ?)", (version, name, now()))

    def _applied(self) -> int | None:
        """The schema version, read without a lock; None for a database without a migrations table."""
        if "schema_migrations" not in self.tables():
            return None
        return self.schema_version()

    def schema_version(self) -> int:
        return int(self._run("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")[0][0])

    # -- writing ----------------------------------------------------------------------------------
    def _current(self, iid: str, period: str) -> dict[str, float | None] | None:
        rows = self._run(f"SELECT {', '.join(FIGURES)} FROM observations WHERE indicator_id = ? AND period = ? "
                         "ORDER BY id", (iid, period))
        if not rows:
            return None
        cur: dict[str, float | None] = dict.fromkeys(FIGURES)
        for r in rows:
            for f in FIGURES:
                if r[f] is not None:
                    cur[f] = r[f]
        return cur

    def _observe(self, iid: str, period: Period, figs: Figures, source: str, submission_id: int | None,
                 at: str) -> bool:
        """Record figures unless they change nothing. Returns True if a row was written."""
        if figs.is_empty():
            return False
        cur = self._current(iid, period.label)
        new = {"number": figs.number, "rate": figs.rate, "statneigh": figs.statneigh, "england": figs.england}
        if cur is not None and all(v is None or cur[k] == v for k, v in new.items()):
            return False
        self._run("INSERT INTO observations (indicator_id, period, number, rate, statneigh, england, source, "
                  "submission_id, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  (iid, period.label, figs.number, figs.rate, figs.statneigh, figs.england, source, submission_id,
                   at))
        return True

    def _breakdown(self, iid: str, period: Period, items: list[tuple[str, float]], source: str,
                   submission_id: int | None, at: str) -> None:
        batch = int(self._run("SELECT COALESCE(MAX(batch), 0) + 1 FROM breakdowns")[0][0])
        for pos, (cat, num) in enumerate(items):
            self._run("INSERT INTO breakdowns (indicator_id, period, category, number, position, batch, source, "
                      "submission_id, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      (iid, period.label, cat, num, pos, batch, source, submission_id, at))

    def find_accepted(self, sha256: str) -> Submission | None:
        """The first accepted submission of exactly this file, if any."""
        rows = self._run("SELECT * FROM submissions WHERE sha256 = ? AND outcome = 'accepted' ORDER BY id LIMIT 1",
                         (sha256,))
        return _submission(rows[0]) if rows else None

    def submission_by_claim(self, claim: str) -> Submission | None:
        """The submission recorded for the file claimed under this name, if it got that far."""
        rows = self._run("SELECT * FROM submissions WHERE claim = ?", (claim,))
        return _submission(rows[0]) if rows else None

    def path_recorded(self, rel: str) -> bool:
        """True if a submission keeps its original or its feedback under ``rel`` (relative to the
        working folder): the name is promised even before the file is written."""
        return bool(self._run("SELECT 1 FROM submissions WHERE kept_as = ? OR feedback = ? LIMIT 1", (rel, rel)))

    def set_kept_as(self, submission_id: int, rel: str) -> None:
        with self.transaction():
            self._run("UPDATE submissions SET kept_as = ? WHERE id = ?", (rel, submission_id))

    def record_rejected(self, file_name: str, sha256: str, service: str, quarter: str, completed_by: str,
                        problems: list[dict[str, Any]], errors: int, warnings: int, kept_as: str,
                        outcome: str = "rejected", claim: str | None = None, feedback: str = "") -> int:
        """Record a submission that stores no figures: rejected, or a duplicate of an accepted file."""
        with self.transaction():
            return self._insert(
                "INSERT INTO submissions (file_name, sha256, service, quarter, completed_by, received_at, outcome, "
                "errors, warnings, problems, kept_as, claim, feedback) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (file_name, sha256, service, quarter, completed_by, now(), outcome, errors, warnings,
                 json.dumps(problems, ensure_ascii=False), kept_as, claim, feedback))

    def store_return(self, data: ReturnData, file_name: str, sha256: str, warnings: list[dict[str, Any]],
                     kept_as: str, claim: str | None = None, feedback: str = "") -> int:
        """Store an accepted return and its submission record in one transaction. Earlier accepted
        returns for the same service and quarter are marked superseded by it, and kept."""
        assert data.quarter is not None
        at = now()
        with self.transaction():
            sid = self._insert(
                "INSERT INTO submissions (file_name, sha256, service, quarter, completed_by, email, date_completed, "
                "received_at, outcome, errors, warnings, problems, kept_as, claim, feedback) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'accepted', 0, ?, ?, ?, ?, ?)",
                (file_name, sha256, data.service, data.quarter.label, data.completed_by, data.email,
                 data.date_completed, at, len(warnings), json.dumps(warnings, ensure_ascii=False), kept_as,
                 claim, feedback))
            self._run("UPDATE submissions SET superseded_by = ? WHERE service = ? AND quarter = ? "
                      "AND outcome = 'accepted' AND id <> ? AND superseded_by IS NULL",
                      (sid, data.service, data.quarter.label, sid))
            source = f"return {file_name}"
            for row in data.rows:
                for period, figs in row.observations(data.quarter):
                    self._observe(row.indicator_id, period, figs, source, sid, at)
                self._run("INSERT INTO texts (indicator_id, quarter, commentary, response, source, submission_id, "
                          "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                          (row.indicator_id, data.quarter.label, row.commentary, row.response, source, sid, at))
            for s in data.support:
                self._observe(s.indicator_id, s.period, s.figures, source, sid, at)
            groups: dict[tuple[str, Period], list[tuple[str, float]]] = {}
            for b in data.breakdown:
                groups.setdefault((b.indicator_id, b.period), []).append((b.category, b.number))
            for (iid, period), items in groups.items():
                self._breakdown(iid, period, items, source, sid, at)
        return sid

    def load_history(self, rows: Iterable[tuple[str, Period, Figures]], source: str,
                     breakdown: Iterable[tuple[str, Period, str, float]] = ()) -> int:
        """Load back data (e.g. the shipped example) in one transaction. Returns rows written."""
        at = now()
        written = 0
        with self.transaction():
            for iid, period, figs in rows:
                written += self._observe(iid, period, figs, source, None, at)
            groups: dict[tuple[str, Period], list[tuple[str, float]]] = {}
            for iid, period, cat, num in breakdown:
                groups.setdefault((iid, period), []).append((cat, num))
            for (iid, period), items in groups.items():
                self._breakdown(iid, period, items, source, None, at)
        return written

    def history_import(self, sha256: str) -> dict[str, Any] | None:
        """The earlier import of exactly this file (``kpiflow history import``), if any."""
        rows = self._run("SELECT id, file_name, sha256, rows_read, rows_written, imported_at FROM history_imports "
                         "WHERE sha256 = ?", (sha256,))
        return dict(rows[0]) if rows else None

    def history_imports(self) -> list[dict[str, Any]]:
        """Every ``kpiflow history import`` stored, oldest first."""
        return [dict(r) for r in self._run("SELECT id, file_name, sha256, rows_read, rows_written, imported_at FROM "
                                           "history_imports ORDER BY id")]

    def import_history(self, file_name: str, sha256: str,
                       rows: Sequence[tuple[str, Period, Figures, str]]) -> tuple[int, dict[str, Any] | None]:
        """Store a history import, each row with its own source, and record the file, in one
        transaction. Returns (observation rows written, None), or (0, the earlier import) when this
        exact file was imported before: then nothing is stored."""
        at = now()
        with self.transaction():
            before = self.history_import(sha256)
            if before is not None:
                return 0, before
            written = sum(self._observe(iid, period, figs, source, None, at) for iid, period, figs, source in rows)
            self._run("INSERT INTO history_imports (file_name, sha256, rows_read, rows_written, imported_at) "
                      "VALUES (?, ?, ?, ?, ?)", (file_name, sha256, len(rows), written, at))
        return written, None

    def record_issue(self, service: str, quarter: Period, file_name: str) -> None:
        with self.transaction():
            self._run("INSERT INTO issued (service, quarter, file_name, issued_at) VALUES (?, ?, ?, ?)",
                      (service, quarter.label, file_name, now()))

    def record_quarter_event(self, quarter: Period, event: str, by: str, detail: str) -> None:
        """Record that a quarter was published, or reopened (by whom, and why in ``detail``)."""
        with self.transaction():
            if event == "reopened" and self.quarter_state(quarter) != "published":
                raise KpiflowError(f"{quarter.short} is not published, so there is nothing to reopen.")
            self._run("INSERT INTO quarter_events (quarter, event, at, by, detail) VALUES (?, ?, ?, ?, ?)",
                      (quarter.label, event, now(), by, detail))

    def set_text(self, iid: str, quarter: Period, commentary: str, response: str, source: str) -> bool:
        """Record edited words (from a published report). Returns True if they changed."""
        with self.transaction():
            if self.texts(iid, quarter) == (commentary, response):
                return False
            self._run("INSERT INTO texts (indicator_id, quarter, commentary, response, source, recorded_at) "
                      "VALUES (?, ?, ?, ?, ?, ?)", (iid, quarter.label, commentary, response, source, now()))
        return True

    # -- the returns cycle: messages and sign-off (section 18) ---------------------------------------
    def queue_message(self, key: str, message_id: str, kind: str, service: str, quarter: str,
                      submission_id: int | None, to: Sequence[str], cc: Sequence[str], subject: str,
                      detail: dict[str, Any] | None = None) -> Message:
        """Store a message to send, unless one with this key is stored already (queued, sent or
        dropped): that one is returned instead, so a stage is never queued twice."""
        with self.transaction():
            found = self.message_by_key(key)
            if found is not None:
                return found
            mid = self._insert(
                "INSERT INTO messages (msg_key, message_id, kind, service, quarter, submission_id, recipients, subject, "
                "detail, state, queued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?)",
                (key, message_id, kind, service, quarter, submission_id,
                 json.dumps({"to": list(to), "cc": list(cc)}, ensure_ascii=False), subject,
                 json.dumps(detail or {}, ensure_ascii=False), now()))
            found = self.message(mid)
        assert found is not None
        return found

    def message(self, id_: int) -> Message | None:
        rows = self._run("SELECT * FROM messages WHERE id = ?", (id_,))
        return _message(rows[0]) if rows else None

    def message_by_key(self, key: str) -> Message | None:
        rows = self._run("SELECT * FROM messages WHERE msg_key = ?", (key,))
        return _message(rows[0]) if rows else None

    def messages(self, service: str | None = None, quarter: Period | None = None,
                 state: str | None = None) -> list[Message]:
        """Stored messages, oldest first."""
        sql, args = _by_service_and_quarter("messages", service, quarter)
        if state:
            sql += " AND state = ?"
            args.append(state)
        return [_message(r) for r in self._run(sql + " ORDER BY id", args)]

    def claim_message(self, id_: int, holder: str, may_take: Callable[[str, str], bool]) -> Message | None:
        """Claim a queued message for sending: the claimed message, or None if it is sent, dropped
        or held by another sender that ``may_take(holder, claimed_at)`` says is still alive."""
        with self.transaction():
            m = self.message(id_)
            if m is None or m.state != "queued":
                return None
            if m.claimed_by and m.claimed_by != holder and not may_take(m.claimed_by, m.claimed_at or ""):
                return None
            self._run("UPDATE messages SET claimed_by = ?, claimed_at = ?, attempts = attempts + 1 WHERE id = ?",
                      (holder, now(), id_))
            return self.message(id_)

    def release_message(self, id_: int, holder: str, error: str = "") -> None:
        """Give up a claim without sending (the error, if any, is kept for ``history``)."""
        with self.transaction():
            self._run("UPDATE messages SET claimed_by = NULL, claimed_at = NULL, last_error = ? "
                      "WHERE id = ? AND claimed_by = ?", (error, id_, holder))

    def mark_sent(self, id_: int, holder: str) -> None:
        """Record that the mail server took the message."""
        with self.transaction():
            self._run("UPDATE messages SET state = 'sent', sent_at = ?, claimed_by = NULL, claimed_at = NULL, "
                      "last_error = '' WHERE id = ? AND state = 'queued'", (now(), id_))

    def drop_message(self, id_: int, why: str) -> None:
        """A queued message no longer worth sending (a chase for a return that has since arrived)."""
        with self.transaction():
            self._run("UPDATE messages SET state = 'dropped', last_error = ? WHERE id = ? AND state = 'queued'",
                      (why, id_))

    def record_signoff(self, service: str, quarter: Period, submission_id: int, event: str, by: str, note: str,
                       how: str, signed_on: str, recorded_by: str = "") -> SignOff:
        with self.transaction():
            sid = self._insert(
                "INSERT INTO signoffs (service, quarter, submission_id, event, by, note, how, signed_on, at, "
                "recorded_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (service, quarter.label, submission_id, event, by, note, how, signed_on, now(), recorded_by))
            return _signoff(self._run("SELECT * FROM signoffs WHERE id = ?", (sid,))[0])

    def signoffs(self, service: str | None = None, quarter: Period | None = None) -> list[SignOff]:
        """Every sign-off and send-back, oldest first."""
        sql, args = _by_service_and_quarter("signoffs", service, quarter)
        return [_signoff(r) for r in self._run(sql + " ORDER BY id", args)]

    # -- reading ----------------------------------------------------------------------------------
    def series(self, iid: str) -> dict[Period, Figures]:
        """Current figures of every period held for an indicator."""
        return self._series([iid], "WHERE indicator_id = ? ", (iid,))[iid]

    def all_series(self, ids: Sequence[str]) -> dict[str, dict[Period, Figures]]:
        """``series`` of each of the indicators ``ids``, in one read of the store."""
        return self._series(ids)

    def _series(self, ids: Sequence[str], where: str = "", args: Sequence[Any] = ()) -> dict[str, dict[Period, Figures]]:
        """The current figures of the indicators ``ids``: each figure of a period its newest observation's that
        holds one."""
        found: dict[str, dict[str, list[Any]]] = {iid: {} for iid in ids}
        for iid, period, *values in self._values(
                f"SELECT indicator_id, period, {', '.join(FIGURES)} FROM observations {where}ORDER BY id", args):
            periods = found.get(iid)
            if periods is None:
                continue
            cur = periods.get(period)
            if cur is None:
                periods[period] = values
            else:
                for i, v in enumerate(values):
                    if v is not None:
                        cur[i] = v
        labels: dict[str, Period] = {}      # every indicator holds the same few periods
        return {iid: {labels.get(p) or labels.setdefault(p, parse_period(p)): Figures(*v) for p, v in periods.items()}
                for iid, periods in found.items()}

    def held(self, iid: str) -> list[HeldFigures]:
        """Every period held for an indicator, in period order: its current figures, and the source
        and time of the newest observation that set one of them."""
        found: dict[str, dict[str, Any]] = {}
        for r in self._run(f"SELECT period, {', '.join(FIGURES)}, source, recorded_at FROM observations "
                           "WHERE indicator_id = ? ORDER BY id", (iid,)):
            cur = found.setdefault(r["period"], dict.fromkeys(FIGURES))
            for f in FIGURES:
                if r[f] is not None:
                    cur[f] = r[f]
            cur["source"], cur["recorded_at"] = r["source"], r["recorded_at"]
        return [HeldFigures(iid, label, v["number"], v["rate"], v["statneigh"], v["england"], v["source"],
                            v["recorded_at"]) for label, v in sorted(found.items(), key=lambda kv: parse_period(kv[0]))]

    def texts(self, iid: str, quarter: Period) -> tuple[str, str] | None:
        rows = self._run("SELECT commentary, response FROM texts WHERE indicator_id = ? AND quarter = ? "
                         "ORDER BY id DESC LIMIT 1", (iid, quarter.label))
        return (rows[0]["commentary"], rows[0]["response"]) if rows else None

    def last_response(self, iid: str, before: Period) -> str:
        """The newest service response given for a quarter before ``before``."""
        best: tuple[Period, int, str] | None = None
        for r in self._run("SELECT id, quarter, response FROM texts WHERE indicator_id = ? AND response <> ''",
                           (iid,)):
            q = parse_period(r["quarter"])
            if q < before and (best is None or (q, r["id"]) > best[:2]):
                best = (q, r["id"], r["response"])
        return best[2] if best else ""

    def breakdown(self, iid: str, period: Period) -> list[tuple[str, float]]:
        rows = self._run("SELECT MAX(batch) FROM breakdowns WHERE indicator_id = ? AND period = ?",
                         (iid, period.label))
        if not rows or rows[0][0] is None:
            return []
        return [(x["category"], x["number"]) for x in self._run(
            "SELECT category, number FROM breakdowns WHERE batch = ? ORDER BY position", (rows[0][0],))]

    def latest_breakdown_categories(self, iid: str, before: Period) -> list[str]:
        periods = sorted({parse_period(r[0]) for r in self._run(
            "SELECT DISTINCT period FROM breakdowns WHERE indicator_id = ?", (iid,))})
        earlier = [p for p in periods if p < before]
        return [c for c, _ in self.breakdown(iid, earlier[-1])] if earlier else []

    def submissions(self, service: str | None = None, quarter: Period | None = None) -> list[Submission]:
        sql, args = _by_service_and_quarter("submissions", service, quarter)
        return [_submission(r) for r in self._run(sql + " ORDER BY id", args)]

    def submission(self, id_: int) -> Submission | None:
        rows = self._run("SELECT * FROM submissions WHERE id = ?", (id_,))
        return _submission(rows[0]) if rows else None

    def accepted_submission(self, service: str, quarter: Period) -> Submission | None:
        rows = self._run("SELECT * FROM submissions WHERE service = ? AND quarter = ? AND outcome = 'accepted' "
                         "AND superseded_by IS NULL ORDER BY id DESC LIMIT 1", (service, quarter.label))
        return _submission(rows[0]) if rows else None

    def issued(self, quarter: Period) -> dict[str, str]:
        return {r["service"]: r["issued_at"] for r in self._run(
            "SELECT service, MAX(issued_at) AS issued_at FROM issued WHERE quarter = ? GROUP BY service",
            (quarter.label,))}

    def revisions(self, indicator_ids: Iterable[str]) -> list[Revision]:
        """Every change of a figure after it was first recorded, oldest first, with its source,
        date and who completed the return that changed it."""
        out: list[Revision] = []
        for iid in indicator_ids:
            seen: dict[tuple[str, str], float | None] = {}
            for r in self._run("SELECT o.*, s.completed_by FROM observations o LEFT JOIN submissions s "
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
        rows = self._run("SELECT event FROM quarter_events WHERE quarter = ? ORDER BY id DESC LIMIT 1",
                         (quarter.label,))
        return "published" if rows and rows[0]["event"] == "published" else "open"

    def quarter_events(self, quarter: Period) -> list[dict[str, str]]:
        """Each publish and reopen of a quarter, oldest first: event, at, by, detail."""
        return [dict(r) for r in self._run("SELECT event, at, by, detail FROM quarter_events WHERE quarter = ? "
                                           "ORDER BY id", (quarter.label,))]

    # -- for analysts (kpiflow export, kpiflow.frames) -----------------------------------------
    # Comparator imports need no method of their own: they are load_history() calls with the file
    # as the source.
    def observation_rows(self) -> list[dict[str, Any]]:
        """Every stored observation, oldest first, as plain dicts: id, indicator_id, period, the
        four figures (None where blank), source, submission_id, recorded_at. Which value is current
        follows from the order: the newest non-blank value of each figure (see ``series``)."""
        return [dict(r) for r in self._run(
            "SELECT id, indicator_id, period, number, rate, statneigh, england, source, submission_id, recorded_at "
            "FROM observations ORDER BY id")]


def _message(r: Row) -> Message:
    rec = json.loads(r["recipients"])
    return Message(
        id=r["id"], key=r["msg_key"], message_id=r["message_id"], kind=r["kind"], service=r["service"],
        quarter=r["quarter"], submission_id=r["submission_id"], to=tuple(rec.get("to", ())), cc=tuple(rec.get("cc", ())),
        subject=r["subject"], detail=json.loads(r["detail"]), state=r["state"], queued_at=r["queued_at"],
        sent_at=r["sent_at"], claimed_by=r["claimed_by"], claimed_at=r["claimed_at"], attempts=r["attempts"],
        last_error=r["last_error"])


def _signoff(r: Row) -> SignOff:
    return SignOff(id=r["id"], service=r["service"], quarter=r["quarter"], submission_id=r["submission_id"],
                   event=r["event"], by=r["by"], note=r["note"], how=r["how"], signed_on=r["signed_on"], at=r["at"],
                   recorded_by=r["recorded_by"])


def _submission(r: Row) -> Submission:
    return Submission(
        id=r["id"], file_name=r["file_name"], sha256=r["sha256"], service=r["service"], quarter=r["quarter"],
        completed_by=r["completed_by"], email=r["email"], received_at=r["received_at"], outcome=r["outcome"],
        errors=r["errors"], warnings=r["warnings"], problems=json.loads(r["problems"]), kept_as=r["kept_as"],
        superseded_by=r["superseded_by"], feedback=r["feedback"], claim=r["claim"],
    )
