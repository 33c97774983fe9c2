"""``kpiflow store copy``: the whole history from the working folder's store into another, checked.

Every table of the history (submissions and their audit trail, figures and their revisions, words,
breakdowns, issued workbooks, quarter events) is copied with its ids, so every reference between
rows holds, into a new, empty store of either kind: SQLite to PostgreSQL, or back. The source is
read in one consistent snapshot (writers are not held up); the copy is written in one transaction
and read back, row for row, before it is committed, so a copy that does not match leaves the
destination as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kpiflow.errors import KpiflowError
from kpiflow.settings import POSTGRES_SCHEMES, Settings, redact_url
from kpiflow.store import Store, open_store, open_url
from kpiflow.store.migrations import HISTORY_TABLES


@dataclass(frozen=True)
class CopyResult:
    """What was copied where, table by table."""

    source: str
    destination: str
    destination_url: str
    rows: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "destination": self.destination, "rows": dict(self.rows),
                "checked": True}

    def lines(self) -> list[str]:
        out = [f"Copied the history from {self.source} to {self.destination}:"]
        out += [f"  {table:<15} {n:>8} rows" for table, n in self.rows.items()]
        out.append("Checked row for row: every row of the copy equals its original.")
        out.append(f'To work from the copy, set [store] url = "{self.destination_url}" in kpiflow.toml (or '
                   "KPIFLOW_DATABASE_URL).")
        return out


def destination_url(to: str) -> str:
    """A URL for ``--to``: a postgresql:// or sqlite: URL as given, or a path (from the current
    folder) to a SQLite file."""
    scheme = to.split(":", 1)[0].lower() if ":" in to else ""
    if scheme in (*POSTGRES_SCHEMES, "sqlite"):
        return to
    return f"sqlite:{Path(to).expanduser().resolve()}"


def copy_history(settings: Settings, to: str) -> CopyResult:
    """Copy the working folder's history into the empty store ``to``; check it row for row."""
    url = destination_url(to)
    with open_store(settings) as source:
        shown = redact_url(url)
        if _same_place(settings, source, url):
            raise KpiflowError(f"{shown} is the working folder's own store: copy it somewhere else.")
        with open_url(url, settings.home) as dest:
            taken = {t: n for t in HISTORY_TABLES if (n := _count(dest, t))}
            if taken:
                raise KpiflowError(f"{dest.where} already holds a history ({_describe(taken)}); kpiflow copies "
                                   "only into a new, empty store, so nothing was copied.")
            if source.schema_version() != dest.schema_version():
                raise KpiflowError(f"{source.where} is at schema {source.schema_version()} and {dest.where} at "
                                   f"{dest.schema_version()}: open both with this kpiflow first.")
            with source.snapshot():
                tables = {t: _columns(source, dest, t) for t in HISTORY_TABLES}
                data = {t: source.query(f"SELECT {', '.join(cols)} FROM {t} ORDER BY id")
                        for t, cols in tables.items()}
            rows = {t: [tuple(r) for r in rs] for t, rs in data.items()}
            with dest.transaction():
                for t, cols in tables.items():
                    _insert(dest, t, cols, rows[t])
                # submissions point at later ones (superseded_by): set once all are in
                superseded = [(r[tables["submissions"].index("superseded_by")], r[0]) for r in rows["submissions"]
                              if r[tables["submissions"].index("superseded_by")] is not None]
                if superseded:
                    dest.query_many("UPDATE submissions SET superseded_by = ? WHERE id = ?", superseded)
                dest._after_copy(list(tables))
                for t, cols in tables.items():
                    _check(dest, t, cols, rows[t])
        return CopyResult(source.where, dest.where, shown, {t: len(r) for t, r in rows.items()})


def _same_place(settings: Settings, source: Store, url: str) -> bool:
    if source.kind == "sqlite":
        return url.startswith("sqlite:") and Path(url.split(":", 1)[1].removeprefix("//")).expanduser().resolve(
        ) == settings.db_path.resolve()
    return url == settings.store_url


def _count(store: Store, table: str) -> int:
    return int(store.query(f"SELECT COUNT(*) FROM {table}")[0][0])


def _describe(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {t}" for t, n in counts.items())


def _columns(source: Store, dest: Store, table: str) -> list[str]:
    cols = source.columns(table)
    if set(cols) != set(dest.columns(table)):
        raise KpiflowError(f"the {table} table differs between {source.where} and {dest.where}: "
                           f"{sorted(set(cols) ^ set(dest.columns(table)))}")
    return cols


def _insert(dest: Store, table: str, cols: list[str], rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    if table == "submissions":
        i = cols.index("superseded_by")
        rows = [(*r[:i], None, *r[i + 1:]) for r in rows]
    try:
        dest.query_many(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
    except KpiflowError:
        raise
    except Exception as exc:     # a value the destination will not take: the whole copy is undone
        raise KpiflowError(f"could not copy the {table} table into {dest.where} ({type(exc).__name__}: {exc}); "
                           "nothing was copied.") from exc


def _check(dest: Store, table: str, cols: list[str], rows: list[tuple[Any, ...]]) -> None:
    """Every row of the copy equals its original, value for value (and type: 1 is not 1.0 or '1')."""
    copied = [tuple(r) for r in dest.query(f"SELECT {', '.join(cols)} FROM {table} ORDER BY id")]
    if len(copied) != len(rows):
        raise KpiflowError(f"the copy of {table} has {len(copied)} rows, not {len(rows)}; nothing was copied.")
    for original, copy in zip(rows, copied, strict=True):
        if original != copy or [type(v) for v in original] != [type(v) for v in copy]:
            diff = [c for c, a, b in zip(cols, original, copy, strict=True) if a != b or type(a) is not type(b)]
            raise KpiflowError(f"the copy of {table} row {original[0]} differs in {', '.join(diff)}; nothing was "
                               "copied.")
