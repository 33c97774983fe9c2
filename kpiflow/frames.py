"""The history as one tidy table for analysts: ``history(home)`` and ``kpiflow export``.

One row per stored value of a figure: ``indicator``, ``period`` (kpiflow's label: ``2017/18``,
``2017/18 Q2``, ``2017-09``), ``kind`` (year, quarter or month), ``figure`` (number, rate,
statneigh: the statistical neighbours' average, england), ``value``, ``current`` (True for the
value in force; False for an earlier value since revised), ``source``, ``recorded_at`` (UTC) and
``submission`` (the return it came in, where it came in one), and ``priority`` (the council-plan
priority the catalogue gives the indicator, "" where none). Which value is current is the
store's rule, the one every report uses: the newest non-blank value of each figure.

``history()`` adds the period as pandas periods: ``year`` (freq ``Y-MAR``) on every row, and
``quarter`` (freq ``Q-MAR``) or ``month`` (freq ``M``) on the rows of that kind. pandas names a
financial year by the year it ends in, so 2017/18 is ``Period("2018", "Y-MAR")`` and 2017/18 Q2
(July to September 2017) is ``Period("2018Q2", "Q-MAR")``.

pandas is imported inside these functions only, so that no other command pays for it.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kpiflow.errors import KpiflowError
from kpiflow.filing import part_path, unique_path
from kpiflow.periods import Period, parse_period
from kpiflow.settings import Settings, load_settings
from kpiflow.store import FIGURES, Store, open_store

COLUMNS = ("indicator", "period", "kind", "figure", "value", "current", "source", "recorded_at", "submission",
           "priority")
PERIOD_COLUMNS = ("year", "quarter", "month")
FORMATS = ("csv", "xlsx", "parquet")
SUFFIXES = {".csv": "csv", ".xlsx": "xlsx", ".parquet": "parquet", ".pq": "parquet"}


def pandas_periods(p: Period) -> tuple[Any, Any, Any]:
    """A kpiflow period as pandas periods: (year, quarter, month), NaT where not of that kind."""
    import pandas as pd

    fy = pd.Period(year=p.fy + 1, freq="Y-MAR")
    q = pd.Period(year=p.fy + 1, quarter=p.n, freq="Q-MAR") if p.kind == "quarter" else pd.NaT
    m = pd.Period(year=p.calendar_year, month=p.calendar_month, freq="M") if p.kind == "month" else pd.NaT
    return fy, q, m


def priorities(settings: Settings) -> dict[str, str]:
    """Each indicator's priority from the working folder's catalogue (the rows that can be read)."""
    from kpiflow.catalogue import load_catalogue

    if not settings.catalogue_path.exists():
        return {}
    return {i.id: i.priority for i in load_catalogue(settings.catalogue_path)[0].indicators}


def history_frame(store: Store, with_periods: bool = True, priority: dict[str, str] | None = None) -> Any:
    """Every stored value of every figure, sorted by indicator, period, figure and age; ``priority``
    gives each indicator's priority (see ``priorities``)."""
    import pandas as pd

    obs = store.observation_rows()
    newest: dict[tuple[str, str, str], int] = {}
    # the store's rule (Store.series): rows come oldest first, the newest non-blank value wins
    for r in obs:
        for f in FIGURES:
            if r[f] is not None:
                newest[(r["indicator_id"], r["period"], f)] = r["id"]
    order = {f: i for i, f in enumerate(FIGURES)}
    records: list[tuple[Any, ...]] = []
    for r in obs:
        p = parse_period(r["period"])
        for f in FIGURES:
            if r[f] is not None:
                current = newest[(r["indicator_id"], r["period"], f)] == r["id"]
                records.append((r["indicator_id"], p, f, float(r[f]), current, r["source"], r["recorded_at"],
                                r["submission_id"], r["id"]))
    records.sort(key=lambda x: (x[0], x[1], order[x[2]], x[8]))
    periods = [x[1] for x in records]
    data: dict[str, Any] = {
        "indicator": [x[0] for x in records],
        "period": [p.label for p in periods],
        "kind": [p.kind for p in periods],
    }
    if with_periods:
        as_pandas = {p: pandas_periods(p) for p in set(periods)}
        for i, (name, freq) in enumerate(zip(PERIOD_COLUMNS, ("Y-MAR", "Q-MAR", "M"), strict=True)):
            data[name] = pd.array([as_pandas[p][i] for p in periods], dtype=f"period[{freq}]")
    data.update({
        "figure": [x[2] for x in records],
        "value": pd.array([x[3] for x in records], dtype="float64"),
        "current": pd.array([x[4] for x in records], dtype="bool"),
        "source": [x[5] for x in records],
        "recorded_at": pd.to_datetime([x[6] for x in records], utc=True, format="ISO8601"),
        "submission": pd.array([x[7] for x in records], dtype="Int64"),
        "priority": [(priority or {}).get(x[0], "") for x in records],
    })
    return pd.DataFrame(data)


def history(home: str | Path | None = None) -> Any:
    """The working folder's whole history as a pandas DataFrame (see the module docstring).

    Example, in a notebook: ``from kpiflow.frames import history; df = history("/srv/kpiflow")``
    """
    settings = load_settings(home)
    with open_store(settings) as store:
        return history_frame(store, priority=priorities(settings))


@dataclass(frozen=True)
class Export:
    """What ``kpiflow export`` wrote."""

    path: Path
    format: str
    values: int
    current: int
    indicators: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "format": self.format, "values": self.values, "current": self.current,
                "revised": self.values - self.current, "indicators": self.indicators}

    def lines(self) -> list[str]:
        if not self.values:
            return [f"The store holds no figures yet: {self.path} has the column headings only."]
        return [f"Exported {self.values} values of {self.indicators} indicator{'s' * (self.indicators != 1)} "
                f"({self.current} current, {self.values - self.current} earlier values since revised) to "
                f"{self.path}"]


def _format(format_: str | None, out: Path | None) -> str:
    by_suffix = SUFFIXES.get(out.suffix.lower()) if out is not None else None
    if format_ is None:
        return by_suffix or "csv"
    fmt = format_.strip().lower()
    if fmt not in FORMATS:
        raise KpiflowError(f'--format "{format_}" is not one kpiflow writes: use csv, xlsx or parquet.')
    if by_suffix is not None and by_suffix != fmt:
        raise KpiflowError(f"--out {out} is named as a .{by_suffix} file but --format is {fmt}: make them agree.")
    return fmt


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def csv_safe(value: object) -> object:
    """A CSV cell that a spreadsheet will not run as a formula, as OWASP's advice on CSV injection
    says: text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
    ``'``, unless it is a plain number (``-5`` stays -5)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def _write(df: Any, fmt: str, dest: Path) -> None:
    if fmt == "csv":
        import pandas as pd

        df = df.copy()
        for name in df.columns:
            if df[name].dtype == object or pd.api.types.is_string_dtype(df[name].dtype):
                df[name] = df[name].map(csv_safe)
        # with a byte-order mark, so that Excel reads names such as "Children’s Services" right
        # and CRLF line ends (RFC 4180), so that a value holding a carriage return is quoted whole
        df.to_csv(dest, index=False, encoding="utf-8-sig", lineterminator="\r\n")
    elif fmt == "parquet":
        try:
            df.to_parquet(dest, index=False)
        except ImportError as exc:
            raise KpiflowError(f"Writing parquet needs pyarrow: pip install pyarrow ({exc}).") from exc
    else:
        import pandas as pd

        from kpiflow.workbook.build import write_table

        # a workbook cell has no time zone: the times are UTC, as the heading says
        times = df["recorded_at"].dt.tz_convert("UTC").dt.tz_localize(None).dt.to_pydatetime()
        rows = ((ind, period, kind, figure, float(value), bool(current), source, times[i],
                 None if pd.isna(sub) else int(sub), priority)
                for i, (ind, period, kind, figure, value, current, source, _, sub, priority)
                in enumerate(df[list(COLUMNS)].itertuples(index=False, name=None)))
        headers = [*COLUMNS[:7], "recorded_at (UTC)", *COLUMNS[8:]]
        write_table(dest, "History", headers, rows, widths=(12, 14, 9, 10, 12, 9, 48, 20, 11, 30))


def export_history(settings: Settings, format_: str | None = None, out: Path | None = None) -> Export:
    """``kpiflow export``: the history table as csv, xlsx or parquet. Without ``out`` it goes to a new
    file in outbox/exports/; a file named with ``out`` is replaced whole (written aside, then renamed)."""
    fmt = _format(format_, out)
    with open_store(settings) as store:
        df = history_frame(store, with_periods=False, priority=priorities(settings))
    if out is None:
        dest = unique_path(settings.outbox / "exports", f"kpiflow-history-{dt.date.today().isoformat()}.{fmt}")
    else:
        given = out.expanduser()
        if os.path.islink(given):
            raise KpiflowError(f"--out {out} is a symbolic link: kpiflow never writes through a link. Name the "
                               "file itself, or a new file.")
        dest = given.parent.resolve() / given.name
        if dest.is_dir():
            raise KpiflowError(f"--out {out} is a folder: name the file to write, e.g. {out}/history.{fmt}")
        if not dest.parent.is_dir():
            raise KpiflowError(f"--out {out}: there is no folder {dest.parent}")
    tmp = part_path(dest)
    try:
        _write(df, fmt, tmp)
        os.replace(tmp, dest)
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        raise KpiflowError(f"{'--out ' + str(out) if out is not None else dest}: kpiflow may not write in "
                           f"{dest.parent} ({exc.strerror}). Choose a folder you can write to, or ask for write "
                           "access to this one.") from None
    finally:
        if os.path.lexists(tmp):
            tmp.unlink()
    return Export(dest, fmt, len(df), int(df["current"].sum()), int(df["indicator"].nunique()))
