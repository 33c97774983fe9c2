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

from kpiflow.errors import KpiflowError
from kpiflow.settings import Settings, sqlite_path, store_kind
from kpiflow.store.base import FIGURES, Claim, Revision, Row, Store, Submission, now
from kpiflow.store.migrations import MIGRATIONS
from kpiflow.store.sqlite import SQLiteStore

__all__ = ["FIGURES", "MIGRATIONS", "Claim", "Revision", "Row", "SQLiteStore", "Store", "Submission", "now",
           "open_store", "open_url"]


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
    return SQLiteStore(settings.db_path)
