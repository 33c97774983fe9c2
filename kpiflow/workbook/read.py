"""Read an .xlsx into plain rows of values, refusing files that are not safe to parse.

Safety checks run on the zip directory before openpyxl sees a byte: old .xls and encrypted
workbooks (OLE containers), files that are not zips, macro-enabled workbooks, and zip bombs
(total size and compression ratio limits). defusedxml must be installed so that openpyxl parses
XML without entity expansion.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kpiflow.problems import ValidationResult

MAX_UNCOMPRESSED = 100 * 1024 * 1024   # a quarterly return is a few hundred KB
MAX_RATIO = 200                         # ordinary xlsx XML compresses 5-20x
MAX_ROWS = 20_000                       # per sheet; a return has one row per indicator
ISSUED_SHEET = "kpiflow"   # the hidden record of pre-filled cells in an issued returns workbook
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
    formulas_without_value: set[tuple[int, int]] = field(default_factory=set)
    state: str = "visible"

    def value(self, row: int, col: int) -> object:
        if 1 <= row <= len(self.rows) and 1 <= col <= len(self.rows[row - 1]):
            return self.rows[row - 1][col - 1]
        return None

    def at(self, ref: str) -> object:
        m = _REF.fullmatch(ref)
        return self.value(int(m[2]), _col_number(m[1])) if m else None

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


_DATE_IDS = {14, 15, 16, 17, 18, 19, 20, 21, 22, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 45, 46, 47, 50, 51, 52,
             53, 54, 55, 56, 57, 58}
_DATE_CODE = re.compile(r"[dmyhs]", re.I)
_QUOTED = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.')
_REF = re.compile(r"([A-Z]+)(\d+)")
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_REL_NS_STRICT = "http://purl.oclc.org/ooxml/officeDocument/relationships"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _col_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def _is_date_format(code: str) -> bool:
    bare = _QUOTED.sub("", code)
    return bare.lower() != "general" and bool(_DATE_CODE.search(bare))


class _Unreadable(Exception):
    pass


class _TooManyRows(Exception):
    pass


def _resolve(base_dir: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    parts: list[str] = []
    for part in f"{base_dir}/{target}".split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part and part != ".":
            parts.append(part)
    return "/".join(parts)


def _text_of(el: Any) -> str:
    """Text of an inline or shared string item, without phonetic runs."""
    out: list[str] = []
    for child in el.iter():
        name = _local(child.tag)
        if name == "rPh":
            continue
        if name == "t" and child.text:
            out.append(child.text)
    return "".join(out)


def _serial_to_datetime(serial: float, date1904: bool) -> dt.datetime:
    base = dt.datetime(1904, 1, 1) if date1904 else dt.datetime(1899, 12, 30)
    return base + dt.timedelta(days=serial)


class _Forbidden(Exception):
    pass


def _forbid(*_: object) -> None:
    # what defusedxml forbids: any DTD, entity declaration or external reference
    raise _Forbidden("DTDs and entities are not allowed in a workbook")


def _forbid_ref(*_: object) -> int:
    raise _Forbidden("external entities are not allowed in a workbook")


class _SheetHandler:
    """expat callbacks for one worksheet: keeps the values of cells that have one. Cheap for the
    many empty formatted cells of an issued workbook, which only open and close."""

    def __init__(self, sheet: RawSheet, strings: list[str], date_styles: set[int], date1904: bool) -> None:
        self.sheet, self.strings, self.date_styles, self.date1904 = sheet, strings, date_styles, date1904
        self.cells: dict[tuple[int, int], object] = {}
        self.row = self.col = 0
        self.t = "n"
        self.style = 0
        self.v: list[str] | None = None
        self.text: list[str] | None = None
        self.has_f = False
        self.in_is = self.in_rph = False
        self.capture: list[str] | None = None

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        name = tag.rpartition(":")[2]
        if name == "c":
            ref = attrs.get("r")
            m = _REF.fullmatch(ref) if ref else None
            if m:
                self.col, self.row = _col_number(m[1]), int(m[2])
            else:
                self.col += 1   # a cell without a reference follows the previous one in its row
            self.t = attrs.get("t", "n")
            self.style = int(attrs.get("s") or 0)
            self.v = self.text = None
            self.has_f = self.in_is = False
        elif name == "row":
            r = attrs.get("r")
            self.row = int(r) if r else self.row + 1
            self.col = 0
        elif name == "v":
            self.v = []
            self.capture = self.v
        elif name == "f":
            self.has_f = True
        elif name == "is":
            self.in_is = True
            self.text = []
        elif name == "rPh":
            self.in_rph = True
        elif name == "t" and self.in_is and not self.in_rph:
            self.capture = self.text

    def end(self, tag: str) -> None:
        name = tag.rpartition(":")[2]
        if name in ("v", "t"):
            self.capture = None
        elif name == "rPh":
            self.in_rph = False
        elif name == "c":
            self._cell()

    def chars(self, data: str) -> None:
        if self.capture is not None:
            self.capture.append(data)

    def _cell(self) -> None:
        t, row, col = self.t, self.row, self.col
        value: object
        if t == "inlineStr":
            value = "".join(self.text or [])
        elif self.v is None or not "".join(self.v).strip():
            if self.has_f:
                self.sheet.formulas_without_value.add((row, col))
            return
        else:
            v = "".join(self.v)
            if t == "s":
                value = self.strings[int(v)]
            elif t in ("str", "e"):
                value = v
            elif t == "b":
                value = v.strip() in ("1", "true")
            elif t == "d":
                value = dt.datetime.fromisoformat(v.strip().rstrip("Z"))
            else:
                text = v.strip()
                if not text:
                    return
                num: float | int = float(text) if ("." in text or "E" in text or "e" in text) else int(text)
                value = _serial_to_datetime(float(num), self.date1904) if self.style in self.date_styles else num
        if value is None or value == "":
            return
        if row > MAX_ROWS:
            raise _TooManyRows(self.sheet.name)
        self.cells[(row, col)] = value


def _read_sheet(zf: zipfile.ZipFile, part: str, name: str, strings: list[str], date_styles: set[int],
                date1904: bool) -> RawSheet:
    """One worksheet's values, streamed through expat with DTDs and entities refused."""
    from xml.parsers import expat

    sheet = RawSheet(name)
    handler = _SheetHandler(sheet, strings, date_styles, date1904)
    parser = expat.ParserCreate()
    parser.StartElementHandler = handler.start
    parser.EndElementHandler = handler.end
    parser.CharacterDataHandler = handler.chars
    parser.StartDoctypeDeclHandler = _forbid
    parser.EntityDeclHandler = _forbid
    parser.UnparsedEntityDeclHandler = _forbid
    parser.ExternalEntityRefHandler = _forbid_ref
    parser.buffer_text = True
    with zf.open(part) as fh:
        parser.ParseFile(fh)
    cells = handler.cells
    max_row = max((r for r, _ in cells), default=0)
    max_col = max((c for _, c in cells), default=0)
    sheet.rows = [[None] * max_col for _ in range(max_row)]
    for (r, c), value in cells.items():
        sheet.rows[r - 1][c - 1] = value
    return sheet


def read_workbook(path: Path, result: ValidationResult) -> RawWorkbook | None:
    """All sheets' values (the results Excel saved for formulas), or None with a file-level
    problem added to ``result``. Parsed with defusedxml, streaming, without openpyxl."""
    if not precheck(path, result):
        return None
    from defusedxml import DefusedXmlException

    try:
        return _read(path)
    except (_Forbidden, DefusedXmlException):
        result.error("unsafe-file", "The workbook contains XML declarations that a spreadsheet never needs and that "
                     "can be used to attack the computer opening it (an 'XML bomb'), so it was not opened. Start "
                     "again from the returns workbook you were issued.")
    except _TooManyRows as exc:
        result.error("too-many-rows", f"The sheet has more than {MAX_ROWS:,} rows. Delete the rows below the data "
                     "and send it again.", sheet=str(exc))
    except Exception:
        result.error("corrupt-file", "The workbook could not be opened: it may be damaged. Save it again in Excel "
                     "and resend it.")
    return None


def _read(path: Path) -> RawWorkbook:
    from defusedxml.ElementTree import fromstring

    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        wb = fromstring(zf.read("xl/workbook.xml"))
        date1904 = any(_local(e.tag) == "workbookPr" and e.get("date1904") in ("1", "true") for e in wb.iter())
        rels_xml = fromstring(zf.read("xl/_rels/workbook.xml.rels"))
        rels = {e.get("Id"): (e.get("Type", ""), e.get("Target", "")) for e in rels_xml if _local(e.tag) == "Relationship"}
        strings: list[str] = []
        ss = next((_resolve("xl", t) for typ, t in rels.values() if typ.endswith("/sharedStrings")), "xl/sharedStrings.xml")
        if ss in names:
            strings = [_text_of(si) for si in fromstring(zf.read(ss)) if _local(si.tag) == "si"]
        date_styles: set[int] = set()
        st = next((_resolve("xl", t) for typ, t in rels.values() if typ.endswith("/styles")), "xl/styles.xml")
        if st in names:
            styles = fromstring(zf.read(st))
            custom = {int(e.get("numFmtId", "0")): e.get("formatCode", "") for e in styles.iter()
                      if _local(e.tag) == "numFmt"}
            xfs = next((e for e in styles if _local(e.tag) == "cellXfs"), None)
            for i, xf in enumerate(xfs if xfs is not None else []):
                fid = int(xf.get("numFmtId", "0"))
                if fid in _DATE_IDS or (fid in custom and _is_date_format(custom[fid])):
                    date_styles.add(i)
        sheets: dict[str, RawSheet] = {}
        for e in wb.iter():
            if _local(e.tag) != "sheet":
                continue
            rid = e.get(f"{{{_REL_NS}}}id") or e.get(f"{{{_REL_NS_STRICT}}}id")
            if rid not in rels:
                raise _Unreadable(f"sheet {e.get('name')} has no part")
            sheet = _read_sheet(zf, _resolve("xl", rels[rid][1]), e.get("name", ""), strings, date_styles, date1904)
            sheet.state = e.get("state", "visible")
            sheets[sheet.name] = sheet
    return RawWorkbook(path, sheets)
