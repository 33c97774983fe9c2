"""Statistical-neighbour and England figures from the Department for Education's published files.

The Department publishes its statistics as tidy CSV files in the Explore Education Statistics
layout: one row per place and year (``time_period``, ``time_identifier``, ``geographic_level``,
``old_la_code``, ``la_name``...), filter columns that tell several measures apart (such as
``population_type``), and one column per figure (``number``, ``rate_per_10000``). The statistical
neighbour model is a list with one row per council: ``old_la_code`` and ``SN_1`` ... ``SN_10``,
each naming a neighbour by code or by name, with closeness columns beside them.

``import_comparators`` stores, for each year in the file, England's figure and the mean of the
council's ten neighbours as an indicator's ``england`` and ``statneigh`` figures for that year:
ordinary observations, so a changed figure is a revision with this file as its source. Problems in
the files are located at their cell (as Excel shows the CSV) and stop the import before anything is
stored; suppressed values are skipped and reported, never stored as zero.

pandas is imported inside the functions that read the files, so that other commands never pay for it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kpiflow.catalogue import load_checked_catalogue
from kpiflow.errors import KpiflowError
from kpiflow.fmt import column_letter
from kpiflow.model import Figures, Indicator, Series
from kpiflow.periods import Period, parse_period, year
from kpiflow.problems import ValidationResult
from kpiflow.settings import Settings
from kpiflow.store import open_store
from kpiflow.trends import outturn

SUPPRESSED = ("c", "x", "z", "..", "low")   # the Department's symbols for a figure not published
ENGLAND_CODE = "E92000001"
# the columns that place a row in time and space; every other text column is a filter
PLACE_AND_TIME = ("time_period", "time_identifier", "geographic_level", "country_code", "country_name",
                  "region_code", "region_name", "old_la_code", "new_la_code", "la_name")
NATIONAL, LOCAL = "national", "local authority"
# a four-digit time_period is the year ending 31 March only for these kinds of year
YEAR_ENDING_MARCH = ("reporting year", "financial year")
SIX_DIGIT_KINDS = ("", "reporting year", "financial year", "tax year", "academic year")
NEIGHBOURS = 10
_SN_COLUMN = re.compile(r"^sn[_ ]?(\d{1,2})$")
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_THOUSANDS = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$")


def norm(text: object) -> str:
    """A name or value as compared: byte-order marks and spacing ignored, any case."""
    return " ".join(str(text).replace("\ufeff", "").split()).casefold()


def show(v: float) -> str:
    """A figure as the file would print it: no trailing .0, no float noise."""
    return str(int(v)) if float(v).is_integer() else repr(round(v, 6))


def decimals(text: str) -> int:
    t = text.strip()
    return len(t.split(".", 1)[1]) if "." in t else 0


def parse_value(text: str) -> tuple[str, float | None]:
    """("number", value), ("suppressed", None), ("blank", None) or ("bad", None)."""
    t = text.strip()
    if not t:
        return "blank", None
    if t.casefold() in SUPPRESSED:
        return "suppressed", None
    if _THOUSANDS.match(t):
        t = t.replace(",", "")
    if _NUMBER.match(t):
        return "number", float(t)
    return "bad", None


@dataclass(frozen=True)
class Place:
    code: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.name} ({self.code})" if self.name and self.name != self.code else self.code


@dataclass(frozen=True)
class YearComparators:
    """What one year of the file gives an indicator, and what kpiflow held before."""

    period: str
    england: float | None
    england_before: float | None
    statneigh: float | None
    statneigh_before: float | None
    neighbours_used: int
    left_out: tuple[str, ...]          # "Torbay (880): suppressed (c)", "Halton (876): no row for the year"
    council: float | None              # the council's own figure in the file
    council_note: str                  # "suppressed (c)" or "" when the file has no usable figure
    held: float | None                 # kpiflow's figure for the council for that year
    differs: bool                      # the file's figure and kpiflow's disagree (at the file's rounding)

    @property
    def changed(self) -> bool:
        return any(new is not None and new != old for new, old in ((self.england, self.england_before),
                                                                  (self.statneigh, self.statneigh_before)))


@dataclass(frozen=True)
class ComparatorImport:
    """What ``kpiflow comparators import`` did, or why it stored nothing."""

    file: str
    indicator: str
    figure: str                        # the indicator's primary figure: what the comparators stand against
    column: str
    where: tuple[tuple[str, str], ...]
    council: Place | None
    neighbours_file: str
    neighbours: tuple[Place, ...]
    source: str
    years: tuple[YearComparators, ...]
    written: int                       # observation rows written (years whose figures changed)
    result: ValidationResult

    @property
    def ok(self) -> bool:
        return self.result.ok

    def to_dict(self) -> dict[str, Any]:
        problems = self.result.to_dict()
        return {
            "file": self.file, "indicator": self.indicator, "figure": self.figure, "column": self.column,
            "where": dict(self.where), "council": asdict(self.council) if self.council else None,
            "neighbours_file": self.neighbours_file, "neighbours": [asdict(n) for n in self.neighbours],
            "source": self.source, "ok": self.ok, "stored": self.ok, "written": self.written,
            "years": [{**asdict(y), "left_out": list(y.left_out), "changed": y.changed} for y in self.years],
            "errors": problems["errors"], "warnings": problems["warnings"], "problems": problems["problems"],
        }

    def lines(self) -> list[str]:
        where = "".join(f', where {c} = "{v}"' for c, v in self.where)
        out = [f"{self.file}: comparators for {self.indicator} ({self.figure}) from column {self.column}{where}"]
        if self.council is not None:
            out.append(f"Council: {self.council.label}")
        if self.neighbours:
            out.append(f"Statistical neighbours ({self.neighbours_file}): "
                       + ", ".join(n.label for n in self.neighbours))
        elif self.ok and self.neighbours_file:
            out.append(f"{self.neighbours_file} names no neighbours for the council: England's figures only.")
        elif self.ok:
            out.append("No neighbour list given (--neighbours SN.csv): England's figures only.")
        for y in self.years:
            parts = [f"  {y.period}: England {_was(y.england, y.england_before)}"]
            if self.neighbours:
                if y.statneigh is None:
                    parts.append("no statistical neighbours' average (no neighbour has a figure)")
                else:
                    of = f"mean of {y.neighbours_used}" + (f" of {len(self.neighbours)}" if y.left_out else "")
                    parts.append(f"statistical neighbours {_was(y.statneigh, y.statneigh_before)}, {of}")
            line = "; ".join(parts)
            if y.left_out:
                line += " (left out: " + "; ".join(y.left_out) + ")"
            out.append(line)
        name = self.council.name if self.council else "the council"
        differ = [y for y in self.years if y.differs]
        if differ:
            out.append(f"{name}'s own figure in the file differs from kpiflow's (check which is right):")
            out += [f"  {y.period}: the file has {show(y.council or 0)}, kpiflow holds {show(y.held or 0)} "
                    f"({self.figure})" for y in differ]
        out += [p.render() for p in self.result.problems]
        if self.result.omitted:
            out.append(f"... and {self.result.omitted} more problems")
        if not self.ok:
            out.append(f"{self.result.summary()}. Nothing was stored: put the problems right and run it again.")
        else:
            changed = sum(y.changed for y in self.years)
            out.append(f"Stored comparators for {len(self.years)} year{'s' * (len(self.years) != 1)}: "
                       f"{changed} changed, {len(self.years) - changed} as kpiflow already held them. Earlier "
                       f"figures are kept as revisions (kpiflow history --indicator {self.indicator}).")
        return out


def _was(new: float | None, old: float | None) -> str:
    if new is None:
        return "not stored"
    if old is None:
        return f"{show(new)} (new)"
    if old == new:
        return show(new)
    return f"{show(new)} (was {show(old)})"


class _Table:
    """A CSV read as text, with its columns found by name in any order."""

    def __init__(self, name: str, frame: Any) -> None:
        self.name = name
        self.df = frame
        self.columns: list[str] = [str(c).replace("\ufeff", "").strip() for c in frame.columns]
        frame.columns = self.columns
        self._by_norm: dict[str, str] = {}
        for c in self.columns:
            self._by_norm.setdefault(norm(c), c)

    def find(self, wanted: str) -> str | None:
        return self._by_norm.get(norm(wanted))

    def cell(self, column: str, index: int) -> str:
        """Where a value is, as Excel shows the CSV: the header is row 1."""
        return f"{column_letter(self.columns.index(column) + 1)}{index + 2}"

    def listing(self, limit: int = 30) -> str:
        shown = ", ".join(self.columns[:limit])
        return shown + (f" and {len(self.columns) - limit} more" if len(self.columns) > limit else "")


def read_csv(path: Path, result: ValidationResult) -> _Table | None:
    """Every cell as text (so ``c`` and ``0`` stay what they are), a byte-order mark and quoted
    commas understood; a file that is not a CSV table is a problem, not a traceback."""
    import pandas as pd

    data = path.read_bytes()
    if data[:4] == b"PK\x03\x04" or b"\x00" in data[:4096]:
        kind = "an Excel workbook or a zip file" if data[:2] == b"PK" else "not text"
        result.error("not-csv", f"{path.name} is {kind}, not a CSV file. Download the CSV file from Explore "
                     "Education Statistics and import that.", sheet=path.name)
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")   # saved from Excel as "CSV (Comma delimited)"
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False,
                            skip_blank_lines=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        result.error("not-csv", f"{path.name} cannot be read as a CSV table ({str(exc).strip()}). Download the "
                     "file again and import it as it comes.", sheet=path.name)
        return None
    return _Table(path.name, frame)


def _period_problems(t: _Table, rows: Any, result: ValidationResult) -> dict[tuple[str, str], Period]:
    """The financial year of each (time_period, time_identifier) pair in ``rows``; anything that is
    not a year kpiflow can place is reported once, at its first row."""
    tp_col, ti_col = t.find("time_period"), t.find("time_identifier")
    assert tp_col is not None
    found: dict[tuple[str, str], Period] = {}
    reported: set[tuple[str, str]] = set()
    academic = False
    pairs = rows[[tp_col]].copy()
    pairs["_ti"] = rows[ti_col].map(norm) if ti_col else ""
    pairs["_tp"] = rows[tp_col].str.strip()
    firsts = pairs.drop_duplicates(["_tp", "_ti"])
    counts = pairs.groupby(["_tp", "_ti"]).size()
    for index, r in firsts.iterrows():
        tp, ti = r["_tp"], r["_ti"]
        n = int(counts[(tp, ti)])
        rows_said = f"{n} row{'s' * (n != 1)}"
        raw_ti = str(rows.at[index, ti_col]).strip() if ti_col else ""
        six = re.fullmatch(r"\d{6}", tp) is not None and int(tp[4:]) == (int(tp[:4]) + 1) % 100
        four = re.fullmatch(r"\d{4}", tp) is not None
        if six and ti in SIX_DIGIT_KINDS:
            found[(tp, ti)] = year(int(tp[:4]))
            academic = academic or ti == "academic year"
        elif four and ti in YEAR_ENDING_MARCH:
            found[(tp, ti)] = year(int(tp) - 1)
        elif four and not ti_col:
            if ("", "no-identifier") not in reported:
                reported.add(("", "no-identifier"))
                result.error("missing-column", f'time_period holds four-digit years such as "{tp}" but the file has '
                             "no time_identifier column to say what kind of year they are, so kpiflow cannot tell "
                             "a calendar year from a year ending 31 March. Use the Department's file as "
                             "downloaded.", sheet=t.name, cell=t.cell(tp_col, index))
        elif (six or four) and ti_col:
            if ("", ti) not in reported:
                reported.add(("", ti))
                result.error("not-financial-year", f'time_identifier is "{raw_ti}" ({rows_said}, time_period '
                             f'"{tp}" first): kpiflow holds financial years (April to March) and cannot place '
                             f"this kind of year. Import the Department's file by reporting year or financial "
                             f"year (the year ending 31 March).", sheet=t.name, cell=t.cell(ti_col, index))
        elif (tp, "") not in reported:
            reported.add((tp, ""))
            result.error("bad-period", f'time_period "{tp}" is not a year kpiflow can read ({rows_said}). Use the '
                         'Department\'s annual file: time_period such as 201718, or 2018 with time_identifier '
                         '"Reporting year".', sheet=t.name, cell=t.cell(tp_col, index))
    if academic and result.ok:
        result.warning("academic-year", "The file's years are academic years (September to August): each is "
                       "stored against the financial year it starts in (201718 as 2017/18). Check the measure "
                       "is comparable with the indicator's figures.", sheet=t.name)
    return found


def _numeric_like(values: Any) -> bool:
    """True for a column of figures (numbers, suppression symbols, blanks): not a filter."""
    return all(parse_value(v)[0] != "bad" for v in values.unique()[:500])


def _unique_problem(t: _Table, rows: Any, column: str, filtered: bool, result: ValidationResult) -> None:
    """Report rows that are still more than one per place and year, naming the columns that vary."""
    keys = ["_level", "_code", "_year"]
    dup = rows[rows.duplicated(keys, keep=False)]
    if dup.empty:
        return
    groups = dup.groupby(keys, sort=False)
    candidates = [c for c in t.columns if norm(c) not in PLACE_AND_TIME and c != column]
    varying = [c for c in candidates if int(groups[c].nunique().max()) > 1]
    filters = [c for c in varying if not _numeric_like(rows[c])] or varying
    first_key = next(iter(groups.groups))
    first = dup[(dup["_level"] == first_key[0]) & (dup["_code"] == first_key[1]) & (dup["_year"] == first_key[2])]
    name_col = t.find("la_name")
    where = first_key[1] if first_key[0] == LOCAL else "England"
    if first_key[0] == LOCAL and name_col:
        where = f"{first[name_col].iloc[0].strip()} ({first_key[1]})"
    row_numbers = " and ".join(str(i + 2) for i in first.index[:2])
    after = ", after the --where filters," if filtered else ""
    more = groups.ngroups - 1
    tail = f" The same is true of {more} other place{'s' * (more != 1)} and years." if more else ""
    if filters:
        detail = "; ".join(f"{c} (" + ", ".join(f'"{v}"' for v in list(dict.fromkeys(first[c].str.strip()))[:4])
                           + ")" for c in filters[:6])
        c0 = filters[0]
        example = first[c0].iloc[0].strip()
        message = (f"Rows {row_numbers} are both for {where} in {first_key[2]}{after} and differ in {detail}. "
                   f'Pick one measure with --where for each of these columns, e.g. --where {c0}="{example}".{tail}')
        cell = t.cell(c0, int(first.index[1]))
    else:
        message = (f"Rows {row_numbers} are both for {where} in {first_key[2]} and are the same in every filter "
                   f"column: the file repeats them. Use the Department's file as downloaded.{tail}")
        cell = t.cell(t.find("time_period") or t.columns[0], int(first.index[1]))
    result.error("not-unique", message, sheet=t.name, cell=cell)


def select_rows(t: _Table, column: str, where: Sequence[tuple[str, str]],
                result: ValidationResult) -> Any | None:
    """The national and local-authority rows of the measure asked for, each with its level, code
    and financial year; None (with the problems recorded) when the file cannot be used."""
    df = t.df
    needed = ["time_period", "geographic_level", "old_la_code", column, *(c for c, _ in where)]
    missing = [c for c in dict.fromkeys(needed) if t.find(c) is None]
    for c in missing:
        what = "the figure to import (--column)" if c == column else (
            "a --where filter" if c in {w for w, _ in where} else "needed in every Explore Education Statistics file")
        result.error("missing-column", f'The file has no "{c}" column ({what}). Its columns are: {t.listing()}.',
                     sheet=t.name)
    if missing:
        return None
    mask = None
    for c, v in where:
        col = t.find(c)
        assert col is not None
        hit = df[col].map(norm) == norm(v)
        if not hit.any():
            held = list(dict.fromkeys(x.strip() for x in df[col] if x.strip()))
            shown = ", ".join(f'"{x}"' for x in held[:8]) + (f" and {len(held) - 8} more" if len(held) > 8 else "")
            result.error("no-matching-rows", f'No row has {col} = "{v}". The file\'s values of {col} are: {shown}.',
                         sheet=t.name)
        mask = hit if mask is None else mask & hit
    if not result.ok:
        return None
    rows = df if mask is None else df[mask]
    if rows.empty:
        result.error("no-matching-rows", "No row matches all the --where filters together: "
                     + ", ".join(f'{c} = "{v}"' for c, v in where) + ".", sheet=t.name)
        return None
    level = rows[t.find("geographic_level")].map(norm)
    code_col = t.find("old_la_code")
    # a local authority row without an old code (a council formed since) is no council kpiflow can name
    rows = rows[(level == NATIONAL) | ((level == LOCAL) & (rows[code_col].str.strip() != ""))].copy()
    rows["_level"] = level[rows.index]
    periods = _period_problems(t, rows, result)
    if not result.ok:
        return None
    tp_col, ti_col = t.find("time_period"), t.find("time_identifier")
    ti = rows[ti_col].map(norm) if ti_col else ""
    rows["_year"] = [periods[k].label for k in zip(rows[tp_col].str.strip(), ti if ti_col else [""] * len(rows),
                                                   strict=True)]
    country_col = t.find("country_code")
    national_code = rows[country_col].str.strip() if country_col else ""
    rows["_code"] = rows[code_col].str.strip().where(rows["_level"] == LOCAL, national_code)
    _unique_problem(t, rows, t.find(column) or column, bool(where), result)
    return rows if result.ok else None


def england_rows(t: _Table, rows: Any) -> Any:
    national = rows[rows["_level"] == NATIONAL]
    code, name = t.find("country_code"), t.find("country_name")
    if code and (national[code].str.strip() == ENGLAND_CODE).any():
        return national[national[code].str.strip() == ENGLAND_CODE]
    if name and (national[name].map(norm) == "england").any():
        return national[national[name].map(norm) == "england"]
    return national


def read_neighbours(path: Path, la_code: str, names: dict[str, str], result: ValidationResult) -> tuple[Place, ...]:
    """The council's ten statistical neighbours from the Department's list, each given by code or
    by name (trailing spaces ignored); names are resolved through the list's own la_name column and
    ``names`` (normalised council name -> code, from the data file)."""
    t = read_csv(path, result)
    if t is None:
        return ()
    code_col = t.find("old_la_code")
    sn: dict[int, str] = {}
    for c in t.columns:
        m = _SN_COLUMN.match(norm(c))
        if m:
            sn.setdefault(int(m.group(1)), c)
    missing = [f"SN_{n}" for n in range(1, NEIGHBOURS + 1) if n not in sn]
    if code_col is None:
        result.error("missing-column", f'The neighbour list has no "old_la_code" column. Its columns are: '
                     f"{t.listing()}.", sheet=t.name)
    if missing:
        result.error("missing-column", f"The neighbour list has no {', '.join(missing)} column"
                     f"{'s' * (len(missing) != 1)}: it needs SN_1 to SN_{NEIGHBOURS}, one per neighbour. Its "
                     f"columns are: {t.listing()}.", sheet=t.name)
    if code_col is None or missing:
        return ()
    df = t.df
    mine = df[df[code_col].str.strip() == la_code]
    if mine.empty:
        result.error("unknown-council", f"The neighbour list has no row for {la_code} (la_code in kpiflow.toml) in "
                     "its old_la_code column. Check la_code, and that this is the Department's list for England.",
                     sheet=t.name)
        return ()
    if len(mine) > 1:
        result.error("not-unique", f"The neighbour list has {len(mine)} rows for {la_code} (rows "
                     + ", ".join(str(i + 2) for i in mine.index) + "): keep the one that is right.",
                     sheet=t.name, cell=t.cell(code_col, int(mine.index[1])))
        return ()
    index = int(mine.index[0])
    list_names: dict[str, str] = {}
    name_col = t.find("la_name")
    own_names: dict[str, str] = {}
    if name_col:
        for code, name in zip(df[code_col].str.strip(), df[name_col].str.strip(), strict=True):
            list_names.setdefault(norm(name), code)
            own_names.setdefault(code, name)
    out: list[Place] = []
    named: dict[str, int] = {}
    for n in range(1, NEIGHBOURS + 1):
        raw = str(df.at[index, sn[n]]).strip()
        cell = t.cell(sn[n], index)
        if not raw:
            result.warning("missing-neighbour", f"SN_{n} is blank for {la_code}: the statistical neighbours' "
                           "average is of the neighbours the list names.", sheet=t.name, cell=cell)
            continue
        code = raw if raw.isdigit() else list_names.get(norm(raw)) or names.get(norm(raw))
        if code is None:
            result.error("unknown-neighbour", f'SN_{n} "{raw}" is neither a DfE code nor the name of a council in '
                         "the neighbour list or the data file. Correct it in the list.", sheet=t.name, cell=cell)
            continue
        if code == la_code or code in named:
            what = "the council itself" if code == la_code else f"the same council as SN_{named[code]}"
            result.error("unknown-neighbour", f'SN_{n} "{raw}" is {what}: a council\'s ten neighbours are ten '
                         "other councils. Correct the list.", sheet=t.name, cell=cell)
            continue
        named[code] = n
        out.append(Place(code, own_names.get(code, raw if not raw.isdigit() else code)))
    return tuple(out)


@dataclass(frozen=True)
class _Figure:
    kind: str                 # number | suppressed | blank | bad | none (no row)
    value: float | None
    raw: str
    index: int | None


def _figures_by_year(rows: Any, column: str) -> dict[str, _Figure]:
    out: dict[str, _Figure] = {}
    for index, y, raw in zip(rows.index, rows["_year"], rows[column], strict=True):
        kind, value = parse_value(raw)
        out[y] = _Figure(kind, value, raw.strip(), int(index))
    return out


def _bad(t: _Table, column: str, f: _Figure, who: str, y: str, result: ValidationResult) -> None:
    assert f.index is not None
    result.error("not-a-number", f'{column} for {who} in {y} is "{f.raw}", which is neither a number nor one of '
                 f"the Department's symbols for a suppressed figure ({', '.join(SUPPRESSED)}). Correct the file "
                 "or download it again.", sheet=t.name, cell=t.cell(column, f.index))


def _figure_mismatch(ind: Indicator, column: str) -> str:
    """Why the column's name says it holds another figure than the one the indicator is compared
    by (a count for a rate, a rate per 1,000 for one per 10,000), or ''."""
    name = norm(column)
    looks_rate = bool(re.search(r"rate|per_?\d|percent|pct|proportion", name))
    looks_number = not looks_rate and bool(re.search(r"number|count|total|^n_|_n$", name))
    if ind.primary == "rate" and looks_number:
        return (f'"{column}" looks like a count, but {ind.id} is compared by its rate: comparators stand against '
                "the indicator's rate. Check --column.")
    if ind.primary == "number" and ind.unit != "Percentage" and looks_rate:
        return (f'"{column}" looks like a rate, but {ind.id} is compared by its number: comparators stand against '
                "the indicator's number. Check --column.")
    per = re.search(r"per_?(\d+)", name)
    if ind.primary == "rate" and per and ind.rate_per and float(per.group(1)) != ind.rate_per:
        return (f'"{column}" is a rate per {int(per.group(1)):,}, but {ind.id} is a rate per {ind.rate_per:,.0f}. '
                "Check --column.")
    return ""


NO_ROW = _Figure("none", None, "", None)


@dataclass(frozen=True)
class _Inputs:
    """What the files give one import, read and checked."""

    t: _Table
    column: str
    indicator: Indicator
    council: Place
    neighbours: tuple[Place, ...]
    england: dict[str, _Figure]                 # year label -> England's figure
    ours: dict[str, _Figure]                    # year label -> the council's own figure
    theirs: dict[str, dict[str, _Figure]]       # neighbour code -> year label -> figure
    series: Series                              # what kpiflow holds for the indicator

    def years(self) -> list[Period]:
        labels = {*self.england, *self.ours, *(y for by_year in self.theirs.values() for y in by_year)}
        return sorted(parse_period(y) for y in labels)


def _year(i: _Inputs, period: Period, result: ValidationResult) -> YearComparators:
    """One year's England figure, neighbours' mean and check of the council's own figure; bad and
    suppressed values recorded in ``result`` at their cells."""
    y, t, col = period.label, i.t, i.column
    en = i.england.get(y, NO_ROW)
    if en.kind == "bad":
        _bad(t, col, en, "England", y, result)
    elif en.kind == "suppressed":
        result.warning("suppressed-value", f'England\'s {col} for {y} is suppressed ("{en.raw}"): no England '
                       f"figure is stored for {y}.", sheet=t.name, cell=t.cell(col, en.index or 0))
    used: list[_Figure] = []
    left_out: list[str] = []
    for n in i.neighbours:
        f = i.theirs[n.code].get(y, NO_ROW)
        if f.kind == "number":
            used.append(f)
        elif f.kind == "bad":
            _bad(t, col, f, n.label, y, result)
        elif f.kind == "suppressed":
            left_out.append(f'{n.label}: suppressed ("{f.raw}")')
            result.warning("suppressed-value", f'The {col} of {n.label} for {y} is suppressed ("{f.raw}"): it is '
                           f"left out of the statistical neighbours' average for {y}.", sheet=t.name,
                           cell=t.cell(col, f.index or 0))
        else:
            left_out.append(f"{n.label}: " + ("blank" if f.kind == "blank" else
                                               f"no row for {y}" if i.theirs[n.code] else "not in the file"))
    sn = None
    if used:
        # one decimal place more than the published figures have (rates are often whole numbers)
        places = max(1, max(decimals(f.raw) for f in used) + 1)
        sn = round(sum(f.value or 0.0 for f in used) / len(used), places)
    own = i.ours.get(y, NO_ROW)
    if own.kind == "bad":
        _bad(t, col, own, i.council.label, y, result)
    held = outturn(i.series, period, i.indicator.primary, i.indicator.measure)
    # compared at the file's rounding: 162.8 held and 163 published agree
    differs = (own.value is not None and held is not None
               and abs(round(held, decimals(own.raw)) - own.value) > 1e-9)
    before = i.series.get(period, Figures())
    return YearComparators(y, en.value, before.england, sn, before.statneigh, len(used), tuple(left_out),
                           own.value, f'suppressed ("{own.raw}")' if own.kind == "suppressed" else "", held, differs)


def _find_indicator(settings: Settings, indicator: str) -> Indicator:
    catalogue = load_checked_catalogue(settings)
    found = catalogue.get(indicator) or next((i for i in catalogue.indicators
                                              if i.id.casefold() == indicator.strip().casefold()), None)
    if found is None:
        raise KpiflowError(f'"{indicator}" is not an indicator in the catalogue. Use one of: '
                           + ", ".join(i.id for i in catalogue.indicators) + ".")
    return found


def import_comparators(settings: Settings, file: Path, indicator: str, column: str,
                       where: Sequence[tuple[str, str]] = (), neighbours: Path | None = None) -> ComparatorImport:
    """``kpiflow comparators import``: England's figure and the statistical neighbours' mean, for
    each year in a Department for Education tidy CSV, stored as the indicator's comparators.

    ``where`` picks the rows of one measure (column, value); ``neighbours`` is the Department's
    statistical neighbour list. The council is the setting ``la_code``. Nothing is stored if either
    file has an error; failures of the run itself (no la_code, an unknown indicator, a missing
    file) raise KpiflowError.
    """
    la = settings.la_code
    if not la:
        raise KpiflowError(f"la_code is not set in {settings.home / 'kpiflow.toml'}: add the line la_code = \"890\" "
                           "with your council's three-digit DfE code (old_la_code in the Department's files; 890 is "
                           "Blackpool), then run this again.")
    ind = _find_indicator(settings, indicator)
    for p in (file, neighbours):
        if p is not None and not p.is_file():
            raise KpiflowError(f"no such file: {p}")
    seen: set[str] = set()
    for c, _ in where:
        if norm(c) in seen:
            raise KpiflowError(f"--where names {c} twice: give one value for each column.")
        seen.add(norm(c))
    result = ValidationResult(file.name)
    sn_name = neighbours.name if neighbours else ""
    source = f"comparators {file.name}" + (f"; statistical neighbours from {sn_name}" if neighbours else "")

    def stop(council: Place | None = None, places: tuple[Place, ...] = ()) -> ComparatorImport:
        return ComparatorImport(file.name, ind.id, ind.primary, column, tuple(where), council, sn_name, places,
                                source, (), 0, result)

    with open_store(settings) as store:
        t = read_csv(file, result)
        rows = select_rows(t, column, where, result) if t is not None else None
        if t is None or rows is None:
            return stop()
        col = t.find(column)
        assert col is not None
        if warning := _figure_mismatch(ind, col):
            result.error("figure-mismatch", warning, sheet=t.name)
        local = rows[rows["_level"] == LOCAL]
        mine = local[local["_code"] == la]
        if mine.empty:
            anywhere = (t.df[t.find("old_la_code")].str.strip() == la).any()
            why = " after the --where filters" if anywhere else ""
            result.error("unknown-council", f"The file has no local authority rows for {la} (la_code in "
                         f"kpiflow.toml) in its old_la_code column{why}. Check la_code, and that the file holds "
                         "local authority figures.", sheet=t.name)
            return stop()
        names: dict[str, str] = {}            # council name (normalised) -> code, to read a list of names
        own_names: dict[str, str] = {}        # code -> the file's name for it
        if name_col := t.find("la_name"):
            for code, name in zip(local["_code"], local[name_col].str.strip(), strict=True):
                names[norm(name)] = code
                own_names[code] = name
        council = Place(la, own_names.get(la, settings.council))
        places: tuple[Place, ...] = ()
        if neighbours is not None:
            places = tuple(Place(n.code, own_names.get(n.code, n.name))
                           for n in read_neighbours(neighbours, la, names, result))
        if not result.ok:
            return stop(council, places)
        theirs = {n.code: _figures_by_year(local[local["_code"] == n.code], col) for n in places}
        for n in places:
            if not theirs[n.code]:
                result.warning("no-figure", f"The file has no rows for {n.label}, one of the statistical "
                               f"neighbours: each year's average is of the others.", sheet=t.name)
        inputs = _Inputs(t, col, ind, council, places, _figures_by_year(england_rows(t, rows), col),
                         _figures_by_year(mine, col), theirs, store.series(ind.id))
        found = tuple(_year(inputs, period, result) for period in inputs.years())
        if not result.ok:
            return stop(council, places)
        # only the figures that change: a value the file confirms is not recorded again
        written = store.load_history([(ind.id, parse_period(y.period), Figures(
            statneigh=y.statneigh if y.statneigh != y.statneigh_before else None,
            england=y.england if y.england != y.england_before else None)) for y in found], source)
    return ComparatorImport(file.name, ind.id, ind.primary, column, tuple(where), council, sn_name, places, source,
                            found, written, result)
