"""``kpiflow history import``: a council's back figures from one tidy table, checked like a return.

A council starting on kpiflow has years of figures in spreadsheets. The table has one row per
indicator and period: ``Indicator ID``, ``Period``, ``Number``, ``Rate``, ``Statistical
neighbours``, ``England`` and, optionally, ``Source`` (headings matched ignoring case and
spacing, in any order). It may be a CSV file or an .xlsx workbook (the sheet ``History``, else
the first sheet; ``kpiflow history template`` writes one).

Every problem is located at its row and column as a spreadsheet shows the file
(``history.csv!B7``, ``History!B7``), and nothing is stored if there is any error. The figures are
ordinary observations with the file as their source, so a figure that differs from one already held
is a revision, and the same file imported twice (the same SHA-256) is recognised and stores nothing.

Reading is bounded whatever the file holds: a file over 256 MB is refused before it is read, a CSV
is read a line at a time (lines and rows are capped), and a workbook goes through the same bounded
reader as a return.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import itertools
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kpiflow.catalogue import load_checked_catalogue
from kpiflow.errors import KpiflowError, PeriodError
from kpiflow.filing import kind_of, sha256_file
from kpiflow.fmt import column_letter
from kpiflow.model import Catalogue, Figures, Indicator
from kpiflow.periods import Period, parse_period
from kpiflow.problems import ValidationResult
from kpiflow.settings import Settings
from kpiflow.store import open_store

HEADERS = ("Indicator ID", "Period", "Number", "Rate", "Statistical neighbours", "England")
SOURCE = "Source"
MAX_FILE_BYTES = 256 * 1024 * 1024    # refused before it is read (PRODUCT.md section 15)
MAX_ROWS = 100_000                    # 200 indicators x 20 years of months and quarters is under half this
MAX_LINE = 64 * 1024                  # characters in one line of a CSV: a row of seven figures is a few dozen
MAX_SOURCE = 300                      # characters of a row's Source kept
BASE_TOLERANCE = 10                   # percent: how far the population a rate implies may move between periods
TEMPLATE_NAME = "history_import.xlsx"
_FIGURES = (("Number", "number"), ("Rate", "rate"), ("Statistical neighbours", "statneigh"), ("England", "england"))


def _norm(value: object) -> str:
    return "".join(str(value).replace("\ufeff", "").split()).lower() if value is not None else ""


def _show(value: object) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class HistoryRow:
    """One checked row: what is stored, and where it came from."""

    indicator_id: str
    period: Period
    figures: Figures
    source: str
    row: int


@dataclass
class HistoryImport:
    """What ``kpiflow history import`` found and did."""

    file: str
    sha256: str
    result: ValidationResult
    rows: list[HistoryRow] = field(default_factory=list)
    written: int = 0
    earlier: dict[str, Any] | None = None     # the earlier import of the same file: nothing stored again
    stored: bool = False

    @property
    def ok(self) -> bool:
        return self.result.ok

    @property
    def duplicate(self) -> bool:
        return self.earlier is not None

    def indicators(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r.indicator_id] = out.get(r.indicator_id, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        problems = self.result.to_dict()
        return {"file": self.file, "sha256": self.sha256, "ok": self.ok, "stored": self.stored,
                "duplicate": self.duplicate, "earlier_import": self.earlier, "rows": len(self.rows),
                "written": self.written, "indicators": self.indicators(),
                "errors": problems["errors"], "warnings": problems["warnings"], "omitted": problems["omitted"],
                "problems": problems["problems"]}

    def lines(self) -> list[str]:
        out = [p.render() for p in self.result.problems]
        if self.result.omitted:
            out.append(f"... and {self.result.omitted} more problem{'s' * (self.result.omitted != 1)}")
        if self.earlier is not None:
            out.append(f"{self.file}: already imported on {self.earlier['imported_at']} (as {self.earlier['file_name']}"
                       f", sha256 {self.sha256[:12]}): nothing was stored again.")
            return out
        if not self.ok:
            out.append(f"{self.result.summary()}. Nothing was stored: put the problems right and import the file "
                       "again.")
            return out
        n, k = len(self.rows), len(self.indicators())
        out.append(f"{self.file}: {n} row{'s' * (n != 1)} for {k} indicator{'s' * (k != 1)}; {self.written} "
                   f"stored (new or changed figures), {n - self.written} as kpiflow already held them. A changed "
                   "figure is kept as a revision (kpiflow history --indicator ID shows them).")
        return out


class _Stop(Exception):
    """The file cannot be read further; the problem is already recorded."""


def _csv_rows(path: Path, result: ValidationResult) -> Iterator[tuple[int, list[object]]]:
    """The CSV's rows, numbered as a spreadsheet shows them (the first line is row 1), read a line
    at a time: a line longer than MAX_LINE stops the read with a located problem."""
    with path.open("rb") as fh:
        head = fh.read(4096)
        if head[:4] == b"PK\x03\x04" or b"\x00" in head:
            what = "an Excel workbook or a zip file" if head[:2] == b"PK" else "not text"
            result.error("not-csv", f"{path.name} is {what}, not a CSV file. Save the table as CSV UTF-8, or import "
                         "the workbook itself under a name ending .xlsx.", sheet=path.name)
            raise _Stop
        fh.seek(0)
        encoding = "utf-8-sig"
        try:
            decoder = codecs.getincrementaldecoder("utf-8-sig")()
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            encoding = "cp1252"     # saved from Excel as "CSV (Comma delimited)"
    with path.open(encoding=encoding, errors="replace", newline="") as text:
        line_no = 0

        def lines() -> Iterator[str]:
            nonlocal line_no
            while True:
                line = text.readline(MAX_LINE + 1)
                if not line:
                    return
                line_no += 1
                if len(line) > MAX_LINE and not line.endswith(("\n", "\r")):
                    result.error("too-many-rows", f"Line {line_no} is longer than {MAX_LINE:,} characters, far "
                                 "longer than a row of figures. Check it is the table of figures, saved as CSV.",
                                 sheet=path.name, cell=f"A{line_no}")
                    raise _Stop
                yield line

        reader = csv.reader(lines())
        try:
            while True:
                start = line_no + 1
                try:
                    row = next(reader)
                except StopIteration:
                    return
                yield start, list(row)
        except csv.Error as exc:
            result.error("not-csv", f"{path.name} cannot be read as a CSV table at line {line_no} ({exc}). Save it "
                         "again from Excel as CSV UTF-8.", sheet=path.name, cell=f"A{line_no}")
            raise _Stop from None


def _xlsx_rows(path: Path, result: ValidationResult) -> tuple[str, Iterator[tuple[int, list[object]]],
                                                               set[tuple[int, int]]] | None:
    """The sheet holding the table (``History``, else the first), through the bounded reader."""
    from kpiflow.workbook.read import read_workbook

    raw = read_workbook(path, result)
    if raw is None:
        return None
    visible = [s for s in raw.sheets.values() if s.state == "visible"]
    by_name = {_norm(n): s for n, s in raw.sheets.items()}
    sheet = by_name.get("history") or (visible[0] if visible else None)
    if sheet is None:
        result.error("missing-sheet", "The workbook has no sheet to read. Put the table on a sheet called History.",
                     sheet=path.name)
        return None
    return sheet.name, ((r, sheet.row(r)) for r in sorted(sheet.cells)), sheet.formulas_without_value


def _blank(v: object) -> bool:
    return v is None or str(v).strip() == ""


def _number(result: ValidationResult, value: object, sheet: str, cell: str, iid: str, what: str) -> float | None:
    """A figure checked as a return's are (kpiflow.validate.check_number): a table has no Commentary to explain a
    blank in."""
    from kpiflow.validate import check_number

    return check_number(result, value, sheet, cell, iid, what, blank="leave the cell blank")


@dataclass
class _Reader:
    """Checks the table a row at a time, keeping only the rows that pass."""

    catalogue: Catalogue
    sheet: str
    source: str
    today: dt.date
    result: ValidationResult
    cols: dict[str, int] = field(default_factory=dict)
    header_row: int = 0
    seen: dict[tuple[str, Period], int] = field(default_factory=dict)
    rows: list[HistoryRow] = field(default_factory=list)
    formulas: set[tuple[int, int]] = field(default_factory=set)
    count: int = 0

    def cell(self, r: int, header: str) -> str:
        return f"{column_letter(self.cols[_norm(header)])}{r}"

    def header(self, r: int, row: list[object]) -> bool:
        """Take ``row`` as the header if it is one; a problem for each heading missing."""
        found: dict[str, int] = {}
        for c, v in enumerate(row, start=1):
            if _norm(v) and _norm(v) not in found:
                found[_norm(v)] = c
        if _norm(HEADERS[0]) not in found:
            return False
        missing = [h for h in HEADERS if _norm(h) not in found]
        for h in missing:
            self.result.error("missing-header", f'The column "{h}" is missing from the headings in row {r}. The '
                              "headings are: " + ", ".join(HEADERS) + f", and optionally {SOURCE} "
                              "(kpiflow history template writes them).", self.sheet, f"{r}:{r}")
        if missing:
            raise _Stop
        self.cols, self.header_row = found, r
        return True

    def get(self, row: list[object], header: str) -> object:
        c = self.cols.get(_norm(header))
        return row[c - 1] if c is not None and c <= len(row) else None

    def take(self, r: int, row: list[object]) -> None:
        if all(_blank(v) for v in row):
            return
        self.count += 1
        if self.count > MAX_ROWS:
            self.result.error("too-many-rows", f"The table has more than {MAX_ROWS:,} rows, far more than a "
                              "council's history needs. Split it into several files by year and import each.",
                              self.sheet, f"A{r}")
            raise _Stop
        res, sheet = self.result, self.sheet
        raw_id = self.get(row, "Indicator ID")
        iid = " ".join(str(raw_id).split()) if not _blank(raw_id) else ""
        id_cell = self.cell(r, "Indicator ID")
        if not iid:
            res.error("missing-value", "This row has no Indicator ID. Enter the ID from the catalogue, e.g. CS01, or "
                      "delete the row.", sheet, id_cell)
            return
        ind = self.catalogue.get(iid)
        if ind is None:
            res.error("unknown-indicator", f'"{_show(iid)}" is not an indicator in the catalogue. Use an ID from the '
                      "catalogue (kpiflow history template lists them).", sheet, id_cell, iid)
            return
        period = self.period(r, row, ind)
        figs = self.figures(r, row, ind)
        if period is None or figs is None:
            return
        if figs.is_empty():
            res.warning("missing-value", f"This row gives no figure for {period.label}, so nothing is stored from it. "
                        "Fill in the figures, or delete the row.", sheet, id_cell, ind.id)
            return
        key = (ind.id, period)
        if key in self.seen:
            res.error("duplicate-period", f"{ind.id} {period.label} is also in row {self.seen[key]}. Keep one row per "
                      "indicator and period.", sheet, self.cell(r, "Period"), ind.id)
            return
        self.seen[key] = r
        self.rows.append(HistoryRow(ind.id, period, figs, self.row_source(r, row, ind.id), r))

    def period(self, r: int, row: list[object], ind: Indicator) -> Period | None:
        cell = self.cell(r, "Period")
        value = self.get(row, "Period")
        try:
            p = parse_period(value if not _blank(value) else None)
        except PeriodError as exc:
            self.result.error("bad-period", f"{exc}.", self.sheet, cell, ind.id)
            return None
        if p.end_date > self.today:
            self.result.error("future-period", f"{p.label} has not ended yet (it ends on {p.end_date:%d/%m/%Y}): the "
                              "history holds figures for periods that are over. Check the period.", self.sheet, cell,
                              ind.id)
            return None
        return p

    def figures(self, r: int, row: list[object], ind: Indicator) -> Figures | None:
        values: dict[str, float | None] = {}
        ok = True
        for header, name in _FIGURES:
            cell = self.cell(r, header)
            if (r, self.cols[_norm(header)]) in self.formulas:
                self.result.error("formula-no-value", "This cell holds a formula but no saved result. Type the figure "
                                  "in, or open and save the workbook in Excel first.", self.sheet, cell, ind.id)
                ok = False
                continue
            raw = self.get(row, header)
            what = {"number": "number", "rate": f"rate per {ind.rate_per or 0:,.0f}", "statneigh":
                    "statistical neighbours' figure", "england": "England figure"}[name]
            before = len(self.result.errors)
            v = _number(self.result, raw, self.sheet, cell, ind.id, what)
            ok = ok and len(self.result.errors) == before
            if v is None:
                values[name] = None
                continue
            if not self.in_domain(v, raw, name, ind, cell):
                ok = False
                continue
            values[name] = v
        return Figures(values.get("number"), values.get("rate"), values.get("statneigh"),
                       values.get("england")) if ok else None

    def in_domain(self, v: float, raw: object, name: str, ind: Indicator, cell: str) -> bool:
        res, sheet = self.result, self.sheet
        if name == "rate" and not ind.has_rate:
            res.error("unexpected-figure", f"{ind.id} has no rate (its unit is {ind.unit}). Leave Rate blank and put "
                      "the figure in Number.", sheet, cell, ind.id)
            return False
        if name == "number" and not ind.has_number:
            res.error("unexpected-figure", f"{ind.id} is a rate per {ind.rate_per or 0:,.0f} with no number. Leave "
                      "Number blank and put the figure in Rate.", sheet, cell, ind.id)
            return False
        if ind.unit == "Percentage" and v > 100:
            res.error("out-of-range", f"{_show(raw)} is not a percentage from 0 to 100. Enter it as e.g. 87.5.", sheet,
                      cell, ind.id)
            return False
        rate_like = name == "rate" or (name in ("statneigh", "england") and ind.primary == "rate")
        if rate_like and ind.rate_per and v > ind.rate_per:
            res.error("out-of-range", f"{_show(raw)} is more than {ind.rate_per:,.0f}, so it cannot be a rate per "
                      f"{ind.rate_per:,.0f}. Check the figure, and that it is per {ind.rate_per:,.0f}.", sheet, cell,
                      ind.id)
            return False
        return True

    def row_source(self, r: int, row: list[object], iid: str) -> str:
        given = " ".join(str(self.get(row, SOURCE) or "").split()) if _norm(SOURCE) in self.cols else ""
        if len(given) > MAX_SOURCE:
            self.result.warning("long-text", f"Source is {len(given):,} characters long; the first {MAX_SOURCE} are "
                                "kept.", self.sheet, self.cell(r, SOURCE), iid)
            given = given[:MAX_SOURCE]
        return f"{self.source}: {given}" if given else self.source


def _implied_base(f: Figures, rate_per: float) -> float | None:
    if not f.number or not f.rate:
        return None
    return f.number / f.rate * rate_per


def _rates_fit(reader: _Reader, catalogue: Catalogue, stored: dict[str, dict[Period, Figures]]) -> None:
    """A rate must fit its number: the population the two imply may move only a little from that of
    the nearest earlier period holding both, in the file or in the store."""
    by_ind: dict[str, list[HistoryRow]] = {}
    for row in reader.rows:
        by_ind.setdefault(row.indicator_id, []).append(row)
    for iid, rows in by_ind.items():
        ind = catalogue.get(iid)
        if ind is None or not (ind.has_number and ind.has_rate and ind.rate_per):
            continue
        bases: dict[Period, tuple[float, int | None]] = {}
        for p, f in stored.get(iid, {}).items():
            if (b := _implied_base(f, ind.rate_per)) is not None:
                bases[p] = (b, None)
        for row in rows:
            if (b := _implied_base(row.figures, ind.rate_per)) is not None:
                bases[row.period] = (b, row.row)
        ordered = sorted(bases)
        for before, now in itertools.pairwise(ordered):
            (b0, r0), (b1, r1) = bases[before], bases[now]
            if r1 is None or abs(b1 - b0) / b0 * 100 <= BASE_TOLERANCE:
                continue
            where = f"row {r0}" if r0 is not None else "kpiflow's store"
            reader.result.error("rate-inconsistent", f"{iid} {now.label}: the number and rate imply a population of "
                                f"{b1:,.0f}, but {before.label} ({where}) implies {b0:,.0f}. Check the number, the "
                                f"rate, and that the rate is per {ind.rate_per:,.0f}.", reader.sheet,
                                reader.cell(r1, "Rate"), iid)


def read_history(path: Path, catalogue: Catalogue, result: ValidationResult, today: dt.date | None = None,
                 stored: dict[str, dict[Period, Figures]] | None = None) -> list[HistoryRow]:
    """Read and check a history table; the rows are for storing only when ``result`` is ok."""
    source = f"history import {path.name}"
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        raise KpiflowError(f"{path}: cannot be read ({exc.strerror}).") from None
    if size > MAX_FILE_BYTES:
        result.error("file-too-large", f"The file is {size / 2**20:,.0f} MB; kpiflow reads history tables of up to "
                     f"{MAX_FILE_BYTES // 2**20} MB. Split it into several files by year and import each.",
                     sheet=path.name)
        return []
    is_xlsx = path.suffix.lower() in (".xlsx", ".xlsm")
    formulas: set[tuple[int, int]] = set()
    if is_xlsx:
        got = _xlsx_rows(path, result)
        if got is None:
            return []
        sheet, rows, formulas = got
    elif path.suffix.lower() in (".csv", ".txt", ""):
        sheet, rows = path.name, _csv_rows(path, result)
    else:
        result.error("not-csv", f"{path.name} is neither a CSV file nor an Excel workbook (.xlsx). Save the table "
                     "as CSV UTF-8 or as an Excel Workbook and import that.", sheet=path.name)
        return []
    reader = _Reader(catalogue, sheet, source, today or dt.date.today(), result, formulas=formulas)
    try:
        for r, row in rows:
            if not reader.cols:
                if reader.header(r, row) or r < 40:
                    continue     # title rows may stand above the header
                break
            reader.take(r, row)
    except _Stop:
        return []
    if not reader.cols:
        result.error("missing-header", "The table has no header row with \"Indicator ID\". The first row must hold the "
                     "headings " + ", ".join(HEADERS) + " (kpiflow history template writes them).", sheet=sheet)
        return []
    if not reader.rows and result.ok:
        result.error("missing-value", "The table has no rows of figures under its headings. Fill it in and import it "
                     "again.", sheet=sheet)
    _rates_fit(reader, catalogue, stored or {})
    return reader.rows


def import_history(settings: Settings, file: Path, today: dt.date | None = None) -> HistoryImport:
    """``kpiflow history import``: check the table and, if it has no errors, store its figures in
    one transaction with the file as their source. The same file twice stores nothing."""
    kind = kind_of(file)
    if kind == "missing":
        raise KpiflowError(f"no such file: {file}")
    if kind not in ("file", "link") or not file.is_file():
        raise KpiflowError(f"{file} is not a file. Give the CSV or .xlsx file of figures.")
    catalogue = load_checked_catalogue(settings)
    result = ValidationResult(file.name)
    sha = sha256_file(file, MAX_FILE_BYTES)
    with open_store(settings) as store:
        if sha is not None and (earlier := store.history_import(sha)) is not None:
            return HistoryImport(file.name, sha, result, earlier=earlier)
        stored = {i.id: dict(store.series(i.id)) for i in catalogue.indicators if i.has_rate and i.has_number}
        rows = read_history(file, catalogue, result, today, stored)
        done = HistoryImport(file.name, sha or "", result, rows)
        if not result.ok or sha is None:
            if sha is None and result.ok:
                result.error("file-too-large", f"The file is larger than {MAX_FILE_BYTES // 2**20} MB. Split it into "
                             "several files by year and import each.", sheet=file.name)
            return done
        written, earlier = store.import_history(file.name, sha, [(r.indicator_id, r.period, r.figures, r.source)
                                                                 for r in rows])
        done.written, done.earlier, done.stored = written, earlier, earlier is None
    return done


# -- the template -------------------------------------------------------------------------------

def template_rows(catalogue: Catalogue) -> Iterable[tuple[str, str, str, str, str]]:
    """The Indicators sheet of the template: what each indicator's figures are."""
    for ind in catalogue.indicators:
        rate = f"per {ind.rate_per:,.0f}" if ind.has_rate and ind.rate_per else ""
        fill = {"Number": "Number", "Percentage": "Number (0 to 100)", "Rate": "Rate",
                "Number and rate": "Number and Rate"}.get(ind.unit, "Number")
        yield ind.id, ind.name, f"{ind.unit} {rate}".strip(), str(ind.measure), fill


def write_template(settings: Settings, out: Path | None = None) -> Path:
    """Write the history import workbook: a History sheet headed for the table (nothing else on it,
    so that saved as CSV it imports as it is), the catalogue's indicators, and how to fill it in.
    Every cell is a value: the workbook has no formulas."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.worksheet.datavalidation import DataValidation

    from kpiflow.workbook.build import set_text

    catalogue = load_checked_catalogue(settings)
    dest = out if out is not None else settings.home / "workbook_templates" / TEMPLATE_NAME
    if os.path.lexists(dest):
        raise KpiflowError(f"{dest} exists already: kpiflow does not overwrite it. Give another name with --out.")
    wb = Workbook()
    ws = wb.active
    ws.title = "History"
    bold = Font(bold=True)
    for c, h in enumerate([*HEADERS, SOURCE], start=1):
        set_text(ws.cell(row=1, column=c), h)
        ws.cell(row=1, column=c).font = bold
    for letter, w in zip("ABCDEFG", (14, 14, 12, 12, 22, 12, 40), strict=True):
        ws.column_dimensions[letter].width = w
    ws.freeze_panes = "A2"
    ids = ",".join(i.id for i in catalogue.indicators)
    if len(ids) <= 250:
        dv = DataValidation(type="list", formula1=f'"{ids}"', allow_blank=True, showErrorMessage=True,
                            promptTitle="Indicator ID", prompt="An indicator ID from the Indicators sheet.",
                            showInputMessage=True)
        ws.add_data_validation(dv)
        dv.add(f"A2:A{MAX_ROWS // 10}")
    for col in ("B",):
        for r in range(2, 502):
            ws[f"{col}{r}"].number_format = "@"     # 2024/25 stays text, never a date
    ind_ws = wb.create_sheet("Indicators")
    for c, h in enumerate(("Indicator ID", "Indicator", "Unit", "Measure", "Fill in"), start=1):
        set_text(ind_ws.cell(row=1, column=c), h)
        ind_ws.cell(row=1, column=c).font = bold
    for r, values in enumerate(template_rows(catalogue), start=2):
        for c, v in enumerate(values, start=1):
            set_text(ind_ws.cell(row=r, column=c), v)
    for letter, w in zip("ABCDE", (14, 60, 20, 12, 18), strict=True):
        ind_ws.column_dimensions[letter].width = w
    g = wb.create_sheet("Guidance")
    for r, line in enumerate(guidance_lines(), start=1):
        set_text(g.cell(row=r, column=1), line)
    g.column_dimensions["A"].width = 110
    g["A1"].font = Font(bold=True, size=14)
    dest.parent.mkdir(parents=True, exist_ok=True)
    wb.save(dest)
    return dest


def guidance_lines() -> list[str]:
    return [
        "Back figures for kpiflow: one row per indicator and period",
        "",
        "On the History sheet, one row for each indicator and period you hold figures for:",
        "- Indicator ID: as in the catalogue (the Indicators sheet lists them).",
        "- Period: a year like 2023/24, a quarter like 2023/24 Q2, or a month like 2023-09 (or Sep 2023).",
        "  A year's figure is its outturn: the value at 31 March, or the year's total for an amount counted in "
        "each quarter.",
        "- Number, Rate: the council's figures, as the Indicators sheet's Fill in column says (a percentage as 0 to "
        "100).",
        "- Statistical neighbours, England: comparator figures, usually for whole years.",
        "- Source (optional): where the figures came from, e.g. SSDA903 return 2023.",
        "Leave a cell blank when there is no figure. Type figures in: no formulas.",
        "",
        "Then run: kpiflow history import history.xlsx (or save the History sheet as CSV UTF-8 and import the .csv).",
        "Every problem is listed with its cell (e.g. History!B7), and nothing is stored until there are none.",
        "A figure that differs from one kpiflow holds is stored as a revision; importing the same file again stores "
        "nothing.",
    ]
