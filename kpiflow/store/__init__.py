"""The history store: one interface (``base.Store``), two implementations, and nothing else in
kpiflow has SQL.

- ``sqlite.py``: the embedded default, ``kpiflow.db`` in the working folder.
- ``postgres.py``: a PostgreSQL server, for watchers on several hosts over one shared inbox or a
  regional collection (psycopg is imported only when a store URL names one).
- ``migrations.py``: the numbered schema, written once for both.
- ``copy.py``: ``kpiflow store copy``, the whole history from one store into another, checked.

:func:`open_store` picks by the working folder's store URL (``[store] url`` in kpiflow.toml or
``KPIFLOW_DATABASE_URL``).
"""

from __future__ import annotations

from pathlib import Path

from kpiflow.claims import Claim
from kpiflow.errors import KpiflowError
from kpiflow.settings import Settings, sqlite_path, store_kind
from kpiflow.store.base import FIGURES, HeldFigures, Message, Revision, Row, SignOff, Store, Submission, now
from kpiflow.store.migrations import MIGRATIONS
from kpiflow.store.sqlite import SQLiteStore

__all__ = ["FIGURES", "MIGRATIONS", "Claim", "HeldFigures", "Message", "Revision", "Row", "SQLiteStore", "SignOff",
           "Store", "Submission", "now", "open_store", "open_url"]


def open_url(url: str, home: Path) -> Store:
    """The store a URL names: ``postgresql://...``, or ``sqlite:PATH`` (relative to ``home``)."""
    if store_kind(url) == "postgresql":
        from kpiflow.store.postgres import PostgresStore

        return PostgresStore(url)
    return SQLiteStore(sqlite_path(url, home))


def open_store(settings: Settings) -> Store:
    """The working folder's history store; a folder that is not a kpiflow working folder is refused."""
    if settings.store_kind == "postgresql":
        if not (settings.home / "inbox").is_dir():
            raise KpiflowError(f"{settings.home} is not a kpiflow working folder (no inbox/). Run kpiflow init DIR, "
                               "or use --home.")
        return open_url(settings.store_url, settings.home)
    if not (settings.home / "inbox").is_dir() and not settings.db_path.exists():
        raise KpiflowError(f"{settings.home} is not a kpiflow working folder (no inbox/). Run kpiflow init DIR, or "
                           "use --home.")
    refuse_emptied(settings)
    return SQLiteStore(settings.db_path)


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
