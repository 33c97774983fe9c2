"""The PostgreSQL store: one history for watchers on several hosts, or for many councils.

psycopg 3 is imported only here, and this module only when a store URL names PostgreSQL, so
``kpiflow --help`` and SQLite users never load it.

- Writes are one transaction each, serialised by a transaction-level advisory lock
  (``pg_advisory_xact_lock``), as SQLite serialises them with ``BEGIN IMMEDIATE``: the duplicate
  check and the insert, or the choice of a free file name and its record, cannot interleave with
  another process's. Migrations run in such a transaction too, so however many processes start
  together the schema is built once.
- Claims on inbox files are session-level advisory locks keyed by the file's name in the working
  folder (``try_claim``). The server drops them when the process's connection ends, however it
  ends, so a file whose claim can be taken is not being worked on; they hold across hosts, which
  file locks on SMB or NFS do not.
- A lost connection (a server restart, a network cut) inside a transaction rolls the whole change
  back on the server and raises :class:`StoreUnavailable`; the next call reconnects. Claims held
  on the lost connection are gone with it, so each is taken again before it is relied on.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg import conninfo, errors, pq
from psycopg.rows import RowMaker

from kpiflow.errors import KpiflowError, StoreUnavailable
from kpiflow.settings import redact_url
from kpiflow.store import base
from kpiflow.store.base import Row, Store

CONNECT_TIMEOUT_SECONDS = 10


def lock_key(name: str) -> int:
    """A signed 64-bit advisory lock key for ``name`` (a file name may hold bytes that are not UTF-8)."""
    return int.from_bytes(hashlib.sha256(f"kpiflow {name}".encode("utf-8", "surrogateescape")).digest()[:8], "big", signed=True)


WRITE_LOCK = lock_key("store writes")


class PgRow(dict[str, Any]):
    """A row as sqlite3.Row is: by column name or position, iterated as values, ``dict(row)``."""

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, int):
            return list(self.values())[key]
        return super().__getitem__(key)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.values())


def _rows(cursor: Any) -> RowMaker[PgRow]:
    names = [c.name for c in cursor.description] if cursor.description else []

    def make(values: Sequence[Any]) -> PgRow:
        return PgRow(zip(names, values, strict=True))

    return make


def describe(url: str) -> str:
    """Where a URL points, for messages: host (or socket folder), port and database; no password."""
    try:
        params = conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return redact_url(url)
    host = str(params.get("host") or params.get("hostaddr") or "")
    where = f"the local socket {host}" if host.startswith("/") else (host or "the local socket")
    if params.get("port") and not host.startswith("/"):
        where += f":{params['port']}"
    return f"{where} (database {params.get('dbname') or params.get('user') or 'default'})"


def _reason(exc: BaseException, url: str) -> str:
    """psycopg's message on one line, never with the password."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = (lines[0] if lines else type(exc).__name__).rstrip(" .")   # the rest is libpq's hint
    for prefix in ("connection failed: ", "connection is bad: "):
        text = text.removeprefix(prefix)
    try:
        password = str(conninfo.conninfo_to_dict(url).get("password") or "")
    except psycopg.Error:
        password = ""
    if password:
        text = text.replace(password, "***")
    return text


class DbClaim:
    """A claim held as a session advisory lock on the store's connection."""

    def __init__(self, store: PostgresStore, key: int) -> None:
        self.store = store
        self.key = key
        self.epoch = store._epoch

    def held(self) -> bool:
        """True while this process still holds the claim: after a reconnection it is taken again,
        if no other process has taken it meanwhile."""
        if self.key not in self.store._claims:
            return False
        if self.epoch == self.store._epoch:
            return True
        if self.store._try_lock(self.key):
            self.epoch = self.store._epoch
            return True
        self.store._claims.discard(self.key)
        return False

    def release(self) -> None:
        store = self.store
        if self.key not in store._claims:
            return
        store._claims.discard(self.key)
        if self.epoch == store._epoch and store._usable():
            with contextlib.suppress(StoreUnavailable):   # the connection is gone, and the lock with it
                store._run("SELECT pg_advisory_unlock(?)", (self.key,))


class PostgresStore(Store):
    """One open PostgreSQL history store, from a ``postgresql://`` URL."""

    kind = "postgresql"
    claims_in_database = True

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = describe(url)
        self._depth = 0
        self._epoch = 0                   # counts connections: a claim from an earlier one has lapsed
        self._claims: set[int] = set()    # lock keys this process holds
        self._conn: psycopg.Connection[PgRow] | None = None
        self._sql_cache: dict[str, str] = {}
        self._connect()
        try:
            self._migrate()
        except psycopg.Error as exc:
            self.close()
            raise KpiflowError(f"the store at {self.where} could not be brought up to date: "
                               f"{_reason(exc, url)}") from exc
        except BaseException:
            self.close()
            raise

    # -- the connection ---------------------------------------------------------------------------
    def _connect(self) -> psycopg.Connection[PgRow]:
        try:
            params = conninfo.conninfo_to_dict(self.url)
        except psycopg.Error as exc:
            raise KpiflowError(f"the store URL {redact_url(self.url)} is not valid: {_reason(exc, self.url)}. "
                               "Write it as postgresql://user@host:port/database") from exc
        extra: dict[str, Any] = {"application_name": "kpiflow"}
        defaults = {"connect_timeout": CONNECT_TIMEOUT_SECONDS, "keepalives": 1, "keepalives_idle": 30,
                    "keepalives_interval": 10, "keepalives_count": 3}
        extra |= {k: v for k, v in defaults.items() if k not in params}
        try:
            conn = psycopg.connect(self.url, autocommit=True, row_factory=_rows, **extra)
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot connect to the PostgreSQL server at {self.where}: {_reason(exc, self.url)}. "
                                   "Check that the server is running and reachable from here, and the store URL "
                                   "([store] url in kpiflow.toml, or KPIFLOW_DATABASE_URL).") from exc
        self._conn = conn
        self._epoch += 1
        return conn

    def _usable(self) -> bool:
        c = self._conn
        return c is not None and not c.closed and not c.broken

    def _connection(self) -> psycopg.Connection[PgRow]:
        if self._usable():
            assert self._conn is not None
            return self._conn
        if self._depth > 0:
            raise self._lost(None)
        if self._conn is not None:
            self._conn.close()
        return self._connect()

    def _lost(self, exc: BaseException | None) -> StoreUnavailable:
        why = f" ({_reason(exc, self.url)})" if exc is not None else ""
        return StoreUnavailable(f"lost the connection to the PostgreSQL server at {self.where}{why}; nothing of "
                                "the change in hand was stored, and it can be tried again.")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._claims.clear()

    def _sql(self, sql: str) -> str:
        out = self._sql_cache.get(sql)
        if out is None:
            out = self._sql_cache[sql] = sql.replace("%", "%%").replace("?", "%s")
        return out

    def _run(self, sql: str, args: Sequence[Any] = (), retry: bool = True) -> list[Row]:
        """Outside a transaction a statement that meets a dropped connection is tried once more on
        a new one (only reads, claims and BEGIN run there); inside one, the change is lost."""
        for attempt in (1, 2):
            conn = self._connection()
            try:
                cur = conn.execute(self._sql(sql), args or None)
                rows: list[Row] = list(cur.fetchall()) if cur.description else []
                return rows
            except psycopg.OperationalError as exc:
                if self._usable() or isinstance(exc, errors.LockNotAvailable):
                    raise
                if self._depth > 0 or not retry or attempt == 2:
                    raise self._lost(exc) from exc
        raise AssertionError("unreachable")

    def _run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        conn = self._connection()
        try:
            with conn.cursor() as cur:
                cur.executemany(self._sql(sql), rows)
        except psycopg.OperationalError as exc:
            if self._usable():
                raise
            raise self._lost(exc) from exc

    def _begin_snapshot(self) -> None:
        self._run("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")

    def _begin(self) -> None:
        self._run("BEGIN")
        try:
            self._run(f"SET LOCAL lock_timeout = {int(base.BUSY_TIMEOUT_SECONDS * 1000)}", retry=False)
            self._run("SELECT pg_advisory_xact_lock(?)", (WRITE_LOCK,), retry=False)
        except errors.LockNotAvailable as exc:
            self._end(commit=False)
            raise KpiflowError(f"The store at {self.where} is busy: another kpiflow process has been changing it "
                               f"for {base.BUSY_TIMEOUT_SECONDS:g} seconds. Try again in a minute; if it stays busy, "
                               "look for a kpiflow process that has stopped responding.") from exc
        except BaseException:
            self._end(commit=False)
            raise

    def _end(self, commit: bool) -> None:
        if not commit and not self._usable():
            return     # the server rolled it back when the connection went
        try:
            self._run("COMMIT" if commit else "ROLLBACK", retry=False)
        except StoreUnavailable:
            if commit:
                raise
        except psycopg.Error:
            if commit:
                raise

    def _undo(self, nested: bool) -> None:
        if self._usable():
            super()._undo(nested)

    def _migration_lock(self) -> None:
        pass    # the transaction's write lock is it: every other process opening now waits for it

    @property
    def in_transaction(self) -> bool:
        c = self._conn
        return c is not None and c.info.transaction_status != pq.TransactionStatus.IDLE

    def tables(self) -> set[str]:
        return {r[0] for r in self._run("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}

    def columns(self, table: str) -> list[str]:
        return [r[0] for r in self._run("SELECT column_name FROM information_schema.columns WHERE table_schema = "
                                        "current_schema() AND table_name = ? ORDER BY ordinal_position", (table,))]

    def indexes(self, table: str) -> set[str]:
        return {r[0] for r in self._run("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                                        "AND tablename = ?", (table,))}

    def _not_a_store(self) -> str:
        return (f"the database at {self.where} holds tables but is not a kpiflow store. Give kpiflow a database "
                "of its own (createdb kpiflow).")

    # -- claims -----------------------------------------------------------------------------------
    def _try_lock(self, key: int) -> bool:
        return bool(self._run("SELECT pg_try_advisory_lock(?)", (key,))[0][0])

    def try_claim(self, name: str) -> DbClaim | None:
        key = lock_key(f"claim {name}")
        if key in self._claims:
            return None     # held by this process already: like a second file lock, it is refused
        if not self._try_lock(key):
            return None
        self._claims.add(key)
        return DbClaim(self, key)

    # -- copying ----------------------------------------------------------------------------------
    def _after_copy(self, tables: Sequence[str]) -> None:
        """Move each identity column's counter past the ids copied in."""
        for t in tables:
            self._run(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM {t}")
