"""Read an .xlsx into plain rows of values, refusing files that are not safe to parse.

Safety checks run on the zip directory before openpyxl sees a byte: old .xls and encrypted
workbooks (OLE containers), files that are not zips, macro-enabled workbooks, and zip bombs
(total size and compression ratio limits). defusedxml must be installed so that openpyxl parses
XML without entity expansion.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kpiflow.problems import ValidationResult

MAX_UNCOMPRESSED = 100 * 1024 * 1024   # a quarterly return is a few hundred KB
MAX_RATIO = 200                         # ordinary xlsx XML compresses 5-20x
MAX_ROWS = 20_000                       # per sheet; a return has one row per indicator
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def column_letter(col: int) -> str:
    letters = ""
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def coord(row: int, col: int) -> str:
    return f"{column_letter(col)}{row}"


def norm_header(value: object) -> str:
    """Headers are matched ignoring case and spacing."""
    return "".join(str(value).split()).lower() if value is not None else ""


@dataclass
class RawSheet:
    """Cell values of one sheet; rows and columns are 1-based as in Excel."""

    name: str
    rows: list[list[object]] = field(default_factory=list)

    def value(self, row: int, col: int) -> object:
        if 1 <= row <= len(self.rows) and 1 <= col <= len(self.rows[row - 1]):
            return self.rows[row - 1][col - 1]
        return None

    def find_header(self, must_have: str, search_rows: int = 40) -> int | None:
        """The first row holding a cell equal to ``must_have`` (normalised)."""
        key = norm_header(must_have)
        for i, row in enumerate(self.rows[:search_rows], start=1):
            if any(norm_header(v) == key for v in row):
                return i
        return None

    def header_map(self, row: int) -> dict[str, int]:
        out: dict[str, int] = {}
        for col, v in enumerate(self.rows[row - 1], start=1):
            key = norm_header(v)
            if key and key not in out:
                out[key] = col
        return out

    def data_rows(self, header_row: int) -> Iterator[tuple[int, list[object]]]:
        """Rows below the header that hold any value."""
        for i in range(header_row + 1, len(self.rows) + 1):
            row = self.rows[i - 1]
            if any(v is not None and str(v).strip() != "" for v in row):
                yield i, row


@dataclass
class RawWorkbook:
    path: Path
    sheets: dict[str, RawSheet]


def check_defusedxml() -> bool:
    """openpyxl uses defusedxml only when it is importable; kpiflow insists on it."""
    try:
        from openpyxl.xml import DEFUSEDXML
    except ImportError:
        return False
    return bool(DEFUSEDXML)


def precheck(path: Path, result: ValidationResult) -> bool:
    """File-level checks that need no parsing. Adds problems; returns True if safe to open."""
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        result.error("unreadable-file", f"The file cannot be read ({exc.strerror}). Save it again and resend it.")
        return False
    if head == OLE_MAGIC:
        result.error(
            "not-xlsx",
            "This is an old-style .xls workbook or a password-protected one. Remove any password, "
            "then save it as an Excel Workbook (.xlsx) and send it again.",
        )
        return False
    if not zipfile.is_zipfile(path):
        result.error(
            "not-xlsx",
            "This file is not an Excel workbook (.xlsx). Open the returns workbook you were sent, "
            "fill it in and save it as an Excel Workbook (.xlsx).",
        )
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
            total = sum(i.file_size for i in infos)
            packed = sum(i.compress_size for i in infos) or 1
            bad = zf.testzip() if total <= MAX_UNCOMPRESSED else None
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError):
        result.error("corrupt-file", "The file is damaged (it may not have finished copying). Save it again and resend it.")
        return False
    if total > MAX_UNCOMPRESSED or total / packed > MAX_RATIO:
        result.error(
            "file-too-large",
            "The workbook expands to far more data than a return can hold, so it was not opened. "
            "Start again from the returns workbook you were issued.",
        )
        return False
    if bad is not None:
        result.error("corrupt-file", "The file is damaged (it may not have finished copying). Save it again and resend it.")
        return False
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/workbook") for n in names):
        result.error("not-xlsx", "This file is not an Excel workbook (.xlsx). Save it as an Excel Workbook (.xlsx).")
        return False
    if "xl/vbaProject.bin" in names or path.suffix.lower() == ".xlsm":
        result.error(
            "macros-not-accepted",
            "This workbook contains macros, which kpiflow never opens. Save it as an Excel Workbook "
            "(.xlsx), not a macro-enabled workbook, and send it again.",
        )
        return False
    return True


def read_workbook(path: Path, result: ValidationResult) -> RawWorkbook | None:
    """All sheets' cached values, or None with a file-level problem added to ``result``."""
    if not check_defusedxml():
        raise RuntimeError("defusedxml is not installed: kpiflow will not parse workbooks without it")
    if not precheck(path, result):
        return None
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:  # openpyxl raises many types for malformed parts; all mean the same here
        result.error("corrupt-file", "The workbook could not be opened: it may be damaged. Save it again in Excel and resend it.")
        return None
    sheets: dict[str, RawSheet] = {}
    try:
        for ws in wb.worksheets:
            sheet = RawSheet(ws.title)
            for i, row in enumerate(ws.iter_rows(values_only=True), start=1):
                if i > MAX_ROWS:
                    result.error(
                        "too-many-rows", f"The sheet has more than {MAX_ROWS:,} rows. Delete the rows below the data.",
                        sheet=ws.title,
                    )
                    return None
                sheet.rows.append(list(row))
            # trim trailing empty rows: a formatted but empty sheet reports its formatted extent
            while sheet.rows and all(v is None for v in sheet.rows[-1]):
                sheet.rows.pop()
            sheets[ws.title] = sheet
    except Exception:
        result.error("corrupt-file", "Part of the workbook could not be read: it may be damaged. Save it again in Excel and resend it.")
        return None
    finally:
        wb.close()
    return RawWorkbook(path, sheets)
