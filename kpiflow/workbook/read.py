"""Read an .xlsx into plain cell values, refusing files that are not safe to parse.

Safety checks run on the zip directory before any XML is parsed: the file's size, old .xls and
encrypted workbooks (OLE containers), files that are not zips, macro-enabled workbooks, zip bombs
(total size and compression ratio limits), and members a spreadsheet never has (encrypted, or
compressed other than by deflate). Every part is then streamed through expat with DTDs and entities
refused, and everything kept is bounded: cells by position and number, shared strings and styles
by number. Cells are kept sparse, so a value typed at ``XFD1048576`` costs what one at ``A1`` does
(and is refused, at its cell). defusedxml must be installed so that openpyxl, wherever kpiflow
opens a workbook with it, parses XML without entity expansion (the feedback copies are made from
the XML parts by ``annotate``, parsed as here).

Only what parsing a damaged or hostile file raises becomes a problem for the user; anything else
is a bug in kpiflow and is raised as such.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import overload
from xml.parsers import expat

from kpiflow.fmt import column_letter
from kpiflow.problems import ValidationResult
from kpiflow.workbook import layout

MAX_FILE_BYTES = 100 * 1024 * 1024     # a return is a few hundred KB; a zip is never much larger than it holds
MAX_UNCOMPRESSED = 100 * 1024 * 1024   # a quarterly return is a few hundred KB
MAX_RATIO = 200                         # ordinary xlsx XML compresses 5-20x
MAX_ROWS = 20_000                       # per sheet; a return has one row per indicator
MAX_COLS = 256                          # column IV; a return uses about twenty
MAX_CELLS = 200_000                     # cells with a value, in the whole workbook
MAX_STRINGS = 200_000                   # shared strings: no more than the cells that could use them
MAX_STYLES = 65_536                     # cell formats and number formats; Excel allows 64,000
MAX_SHEETS = 256
MAX_PARTS = 10_000                      # zip members; a return has about twenty
ISSUED_SHEET = layout.ISSUED_SHEET   # the hidden record of pre-filled cells in an issued returns workbook
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def coord(row: int, col: int) -> str:
    return f"{column_letter(col)}{row}"


def norm_header(value: object) -> str:
    """Headers are matched ignoring case and spacing."""
    return "".join(str(value).split()).lower() if value is not None else ""


class ShownDate(dt.datetime):
    """A date cell's value that remembers how the cell showed it (``30/09/2024``), so that a
    message can quote it as the user saw it rather than as ``2024-09-30 00:00:00``."""

    shown: str = ""


def shown_text(value: object) -> str:
    """A cell's value as the person filling in the workbook saw it."""
    if isinstance(value, ShownDate) and value.shown:
        return value.shown
    return str(value)


class _Rows(Sequence[list[object]]):
    """A sheet's rows 1..last as lists, made one at a time from the sparse cells when asked for."""

    def __init__(self, sheet: RawSheet) -> None:
        self._sheet = sheet

    def __len__(self) -> int:
        return self._sheet.max_row

    @overload
    def __getitem__(self, index: int) -> list[object]: ...
    @overload
    def __getitem__(self, index: slice) -> list[list[object]]: ...
    def __getitem__(self, index: int | slice) -> list[object] | list[list[object]]:
        if isinstance(index, slice):
            return [self._sheet.row(r + 1) for r in range(*index.indices(len(self)))]
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(index)
        return self._sheet.row(index + 1)

    def __iter__(self) -> Iterator[list[object]]:
        for r in range(1, len(self) + 1):
            yield self._sheet.row(r)


@dataclass
class RawSheet:
    """Cell values of one sheet, kept sparse; rows and columns are 1-based as in Excel."""

    name: str
    cells: dict[int, dict[int, object]] = field(default_factory=dict)    # row -> column -> value
    formulas_without_value: set[tuple[int, int]] = field(default_factory=set)
    state: str = "visible"

    @property
    def max_row(self) -> int:
        return max(self.cells, default=0)

    @property
    def rows(self) -> _Rows:
        """Rows 1..last, each a list up to its own last value (short rows are not padded)."""
        return _Rows(self)

    def row(self, r: int) -> list[object]:
        cols = self.cells.get(r)
        if not cols:
            return []
        out: list[object] = [None] * max(cols)
        for c, v in cols.items():
            out[c - 1] = v
        return out

    def value(self, row: int, col: int) -> object:
        return self.cells.get(row, {}).get(col)

    def at(self, ref: str) -> object:
        m = _REF.fullmatch(ref)
        return self.value(int(m[2]), _col_number(m[1])) if m else None

    def find_header(self, must_have: str, search_rows: int = 40,
                    key: Callable[[object], str] | None = None) -> int | None:
        """The first row holding a cell equal to ``must_have`` (normalised by ``key``)."""
        norm = key or norm_header
        wanted = norm(must_have)
        for r in sorted(r for r in self.cells if r <= search_rows):
            if any(norm(v) == wanted for v in self.cells[r].values()):
                return r
        return None

    def header_map(self, row: int, key: Callable[[object], str] | None = None) -> dict[str, int]:
        norm = key or norm_header
        out: dict[str, int] = {}
        for col, v in sorted(self.cells.get(row, {}).items()):
            k = norm(v)
            if k and k not in out:
                out[k] = col
        return out

    def find_table(self, required: Sequence[str], result: ValidationResult, fix: str,
                   key: Callable[[object], str] | None = None) -> tuple[int, dict[str, int]] | None:
        """The header row of the table headed by ``required`` and its columns (heading -> column),
        or None with a located problem for each heading that is missing; ``fix`` says what to do."""
        norm = key or norm_header
        hr = self.find_header(required[0], key=norm)
        if hr is None:
            result.error("missing-header", f'The sheet has no header row with "{required[0]}". {fix}', sheet=self.name)
            return None
        cols = self.header_map(hr, key=norm)
        missing = [h for h in required if norm(h) not in cols]
        for h in missing:
            result.error("missing-header", f'The column "{h}" is missing from the headings in row {hr}. {fix}',
                         sheet=self.name, cell=f"{hr}:{hr}")
        return None if missing else (hr, cols)

    def data_rows(self, header_row: int) -> Iterator[tuple[int, list[object]]]:
        """Rows below the header that hold any value."""
        for r in sorted(r for r in self.cells if r > header_row):
            if any(v is not None and str(v).strip() != "" for v in self.cells[r].values()):
                yield r, self.row(r)


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


_DAMAGED = "The file is damaged (it may not have finished copying). Save it again and resend it."
_TOO_LARGE = ("The workbook expands to far more data than a return can hold, so it was not opened. "
              "Start again from the returns workbook you were issued.")


def precheck(path: Path, result: ValidationResult) -> bool:
    """File-level checks that need no parsing. Adds problems; returns True if safe to open."""
    try:
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(8)
    except OSError as exc:
        result.error("unreadable-file", f"The file cannot be read ({exc.strerror}). Save it again and resend it.")
        return False
    if size > MAX_FILE_BYTES:
        result.error("file-too-large", f"The file is {size / 1024**2:,.0f} MB, far larger than a return can be, so it "
                     "was not opened. Start again from the returns workbook you were issued.")
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
        if not _small_directory(path):
            result.error("file-too-large", _TOO_LARGE)
            return False
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, EOFError):
        result.error("corrupt-file", _DAMAGED)
        return False
    names = {i.filename for i in infos}
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos) or 1
    if total > MAX_UNCOMPRESSED or total / packed > MAX_RATIO:
        result.error("file-too-large", _TOO_LARGE)
        return False
    # Excel stores parts deflated or as they are, never encrypted: zipfile would raise for these
    if any(i.flag_bits & 0x1 or i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) for i in infos):
        result.error("corrupt-file", _DAMAGED)
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


def _small_directory(path: Path) -> bool:
    """Whether the zip's directory is the size of a workbook's, read from its end record before
    zipfile loads it: a million tiny members would cost hundreds of MB as ZipInfo objects."""
    with path.open("rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(max(0, size - 22 - 0xFFFF))
        tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return True     # no end record: zipfile says what is wrong
    entries: int
    directory_bytes: int
    entries, directory_bytes = struct.unpack_from("<HL", tail, at + 10)    # total entries, directory size
    # zip64 (0xFFFF entries or 0xFFFFFFFF bytes) is for archives far larger than any workbook
    return entries <= MAX_PARTS and directory_bytes <= MAX_PARTS * 1024


# Built-in number formats that show dates or times, and how a UK Excel shows each (14 is the
# system's short date, 22 its short date and time; 27-36 and 50-58 are East Asian formats).
_DATE_IDS = {14: "dd/mm/yyyy", 15: "d-mmm-yy", 16: "d-mmm", 17: "mmm-yy", 18: "h:mm AM/PM", 19: "h:mm:ss AM/PM",
             20: "h:mm", 21: "h:mm:ss", 22: "dd/mm/yyyy hh:mm", 45: "mm:ss", 46: "[h]:mm:ss", 47: "mm:ss.0",
             **{i: "dd/mm/yyyy" for i in (*range(27, 37), *range(50, 59))}}
_PERCENT_IDS = {9, 10}
_DATE_CODE = re.compile(r"[dmyhs]", re.I)
# what a format shows literally: quoted text, [colour], [$-809] and [h], \x, _x (space as wide as x), *x (fill)
_LITERAL = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.|_.|\*.')
_REF = re.compile(r"([A-Z]{1,3})([0-9]{1,7})")
_ANY_REF = re.compile(r"[A-Za-z]+[0-9]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_REL_NS_STRICT = "http://purl.oclc.org/ooxml/officeDocument/relationships"
_EXCEL_LAST_SERIAL = {False: 2958465, True: 2957003}     # 31 December 9999 in each date system


def _col_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def _first_section(code: str) -> str:
    """The part of a number format used for positive numbers (sections are split by ``;``)."""
    depth_quote = False
    for i, ch in enumerate(code):
        if ch == '"':
            depth_quote = not depth_quote
        elif ch == ";" and not depth_quote:
            return code[:i]
    return code


def _is_date_format(code: str) -> bool:
    bare = _LITERAL.sub("", _first_section(code))
    return bare.lower() != "general" and bool(_DATE_CODE.search(bare))


def _is_percent_format(code: str) -> bool:
    return "%" in _LITERAL.sub("", _first_section(code))


def decode_escapes(text: str) -> str:
    """Excel writes characters XML cannot hold as ``_xHHHH_`` (a carriage return is ``_x000D_``), and a
    typed ``_x`` that would look like one as ``_x005F_x``."""
    if "_x" not in text:
        return text
    out = _ESCAPE.sub(lambda m: chr(int(m[1], 16)), text)
    # an escaped surrogate pair becomes one character; a lone surrogate cannot be stored as text
    return out.encode("utf-16", "surrogatepass").decode("utf-16", "replace") if any(
        "\ud800" <= ch <= "\udfff" for ch in out) else out


# -- how a date cell showed its value ------------------------------------------------------------

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _date_tokens(code: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    i, n = 0, len(code)
    while i < n:
        ch = code[i]
        if ch == '"':
            j = code.find('"', i + 1)
            j = n if j < 0 else j
            out.append(("lit", code[i + 1:j]))
            i = j + 1
        elif ch == "\\":
            out.append(("lit", code[i + 1:i + 2]))
            i += 2
        elif ch == "_":
            out.append(("lit", " "))
            i += 2
        elif ch == "*":
            i += 2
        elif ch == "[":
            j = code.find("]", i)
            inner = code[i + 1:j] if j > 0 else ""
            if inner.lower() in ("h", "hh", "m", "mm", "s", "ss"):
                out.append(("tok", inner.lower()))
            i = n if j < 0 else j + 1
        elif code[i:i + 5].upper() == "AM/PM":
            out.append(("ampm", ""))
            i += 5
        elif code[i:i + 3].upper() == "A/P":
            out.append(("ap", ""))
            i += 3
        elif ch.lower() in "ymdhs":
            j = i
            while j < n and code[j].lower() == ch.lower():
                j += 1
            out.append(("tok", code[i:j].lower()))
            i = j
        elif ch == "." and i + 1 < n and code[i + 1] == "0":
            j = i + 1
            while j < n and code[j] == "0":
                j += 1
            out.append(("frac", str(j - i - 1)))
            i = j
        elif ch == "@":
            i += 1
        else:
            out.append(("lit", ch))
            i += 1
    # m and mm are minutes after an hour or before a second, months elsewhere
    toks = [k for k, (kind, _) in enumerate(out) if kind == "tok"]
    for pos, k in enumerate(toks):
        text = out[k][1]
        if text in ("m", "mm"):
            before = out[toks[pos - 1]][1] if pos else ""
            after = out[toks[pos + 1]][1] if pos + 1 < len(toks) else ""
            if before.startswith("h") or after.startswith("s"):
                out[k] = ("min", text)
    return out


def format_date(value: dt.datetime, code: str) -> str:
    """``value`` as a cell with number format ``code`` shows it (the common date and time codes)."""
    tokens = _date_tokens(_first_section(code))
    twelve = any(kind in ("ampm", "ap") for kind, _ in tokens)
    parts: list[str] = []
    for kind, text in tokens:
        if kind == "lit":
            parts.append(text)
        elif kind == "ampm":
            parts.append("AM" if value.hour < 12 else "PM")
        elif kind == "ap":
            parts.append("A" if value.hour < 12 else "P")
        elif kind == "frac":
            digits = int(text)
            parts.append("." + f"{value.microsecond:06d}"[:digits] if digits else "")
        elif kind == "min":
            parts.append(f"{value.minute:0{len(text)}d}")
        elif text.startswith("y"):
            parts.append(f"{value.year % 100:02d}" if len(text) <= 2 else f"{value.year:04d}")
        elif text.startswith("m"):
            parts.append({1: str(value.month), 2: f"{value.month:02d}", 3: _MONTHS[value.month - 1][:3],
                          5: _MONTHS[value.month - 1][0]}.get(len(text), _MONTHS[value.month - 1]))
        elif text.startswith("d"):
            parts.append({1: str(value.day), 2: f"{value.day:02d}", 3: _DAYS[value.weekday()][:3]}.get(
                len(text), _DAYS[value.weekday()]))
        elif text.startswith("h"):
            hour = (value.hour % 12 or 12) if twelve else value.hour
            parts.append(f"{hour:0{min(len(text), 2)}d}")
        elif text.startswith("s"):
            parts.append(f"{value.second:0{min(len(text), 2)}d}")
    return "".join(parts).strip() or value.strftime("%d/%m/%Y")


def _shown_date(value: dt.datetime, code: str | None) -> ShownDate:
    out = ShownDate(value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond)
    if code:
        out.shown = format_date(value, code)
    else:
        out.shown = value.strftime("%d/%m/%Y") + (value.strftime(" %H:%M:%S") if value.time() != dt.time() else "")
    return out


def _serial_to_date(serial: float, date1904: bool) -> dt.datetime | dt.time:
    """An Excel date serial as Excel shows it (as openpyxl reads it: to the millisecond, the
    1900 system's days before 1 March 1900 counted from 31 December 1899)."""
    day, fraction = divmod(serial, 1)
    diff = dt.timedelta(milliseconds=round(fraction * 86_400_000))
    if 0 <= serial < 1 and diff.days == 0:
        return (dt.datetime.min + diff).time()
    if date1904:
        base = dt.datetime(1904, 1, 1)
    else:
        base = dt.datetime(1899, 12, 30)
        if 0 < serial < 60:
            day += 1
    return base + dt.timedelta(days=day) + diff


# -- refusals --------------------------------------------------------------------------------------

class _Refused(Exception):
    """The file cannot be read as a return: becomes one located problem."""

    def __init__(self, code: str, message: str, sheet: str = "", cell: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.sheet, self.cell = code, message, sheet, cell


def _damaged(what: str, sheet: str = "", cell: str = "") -> _Refused:
    return _Refused("corrupt-file", f"The workbook is damaged ({what}), so it could not be read. Save it again in "
                    "Excel and resend it.", sheet, cell)


class _Forbidden(Exception):
    pass


def _forbid(*_: object) -> None:
    # what defusedxml forbids: any DTD, entity declaration or external reference
    raise _Forbidden("DTDs and entities are not allowed in a workbook")


def _forbid_ref(*_: object) -> int:
    raise _Forbidden("external entities are not allowed in a workbook")


class _Budget:
    """What the whole workbook may still cost: bytes of XML parsed, cells kept."""

    def __init__(self) -> None:
        self.bytes = MAX_UNCOMPRESSED
        self.cells = MAX_CELLS


def xml_parser(namespaces: bool = False) -> expat.XMLParserType:
    """An expat parser that refuses DTDs and entities (raising ``XmlForbidden``), as defusedxml
    does; with ``namespaces``, element names come as ``namespace}local``."""
    parser = expat.ParserCreate(namespace_separator="}") if namespaces else expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _forbid
    parser.EntityDeclHandler = _forbid
    parser.UnparsedEntityDeclHandler = _forbid
    parser.ExternalEntityRefHandler = _forbid_ref
    return parser


XmlForbidden = _Forbidden


def _parse(zf: zipfile.ZipFile, part: str, budget: _Budget, start: Callable[[str, dict[str, str]], None],
           end: Callable[[str], None] | None = None, chars: Callable[[str], None] | None = None,
           namespaces: bool = False) -> None:
    """Stream one part through expat with DTDs and entities refused. A part parsed more than once
    (two sheets naming one part) counts each time, so no file can make kpiflow parse more than
    MAX_UNCOMPRESSED bytes of XML."""
    try:
        info = zf.getinfo(part)
    except KeyError:
        raise _damaged(f"the part {part[:80]} is missing") from None
    budget.bytes -= info.file_size
    if budget.bytes < 0:
        raise _Refused("file-too-large", _TOO_LARGE)
    parser = xml_parser(namespaces)
    parser.StartElementHandler = start
    if end is not None:
        parser.EndElementHandler = end
    if chars is not None:
        parser.CharacterDataHandler = chars
    parser.buffer_text = True
    with zf.open(info) as fh:
        parser.ParseFile(fh)


def _local(name: str) -> str:
    return name.rpartition(":")[2]


# -- the parts -------------------------------------------------------------------------------------

@dataclass
class _Styles:
    date_formats: dict[int, str] = field(default_factory=dict)   # cell style index -> its date format code
    percent: set[int] = field(default_factory=set)                # cell style indices that show percentages


def _read_styles(zf: zipfile.ZipFile, part: str, budget: _Budget) -> _Styles:
    custom: dict[int, str] = {}
    xfs: list[int] = []
    depth = {"cellXfs": 0}

    def start(tag: str, attrs: dict[str, str]) -> None:
        name = _local(tag)
        if name == "numFmt":
            if len(custom) >= MAX_STYLES:
                raise _Refused("file-too-large", _TOO_LARGE)
            custom[_small_int(attrs.get("numFmtId"))] = attrs.get("formatCode", "")
        elif name == "cellXfs":
            depth["cellXfs"] += 1
        elif name == "xf" and depth["cellXfs"]:
            if len(xfs) >= MAX_STYLES:
                raise _Refused("file-too-large", _TOO_LARGE)
            xfs.append(_small_int(attrs.get("numFmtId")))

    def end(tag: str) -> None:
        if _local(tag) == "cellXfs":
            depth["cellXfs"] -= 1

    _parse(zf, part, budget, start, end)
    styles = _Styles()
    for i, fid in enumerate(xfs):
        code = custom.get(fid)
        if code is not None:
            if _is_date_format(code):
                styles.date_formats[i] = code
            elif _is_percent_format(code):
                styles.percent.add(i)
        elif fid in _DATE_IDS:
            styles.date_formats[i] = _DATE_IDS[fid]
        elif fid in _PERCENT_IDS:
            styles.percent.add(i)
    return styles


def _small_int(text: str | None, default: int = 0) -> int:
    """An index attribute; anything that is not a short run of digits counts as ``default``."""
    return int(text) if text and len(text) <= 9 and text.isascii() and text.isdigit() else default


def _read_strings(zf: zipfile.ZipFile, part: str, budget: _Budget) -> list[str]:
    strings: list[str] = []
    state = {"si": 0, "rph": 0}
    buf: list[str] = []
    capture: list[list[str] | None] = [None]

    def start(tag: str, attrs: dict[str, str]) -> None:
        name = _local(tag)
        if name == "si":
            if len(strings) >= MAX_STRINGS:
                raise _Refused("too-many-strings", f"The workbook holds more than {MAX_STRINGS:,} different texts, far "
                               "more than a return can. Start again from the returns workbook you were issued.")
            state["si"] = 1
            buf.clear()
        elif name == "rPh":
            state["rph"] += 1
        elif name == "t" and state["si"] and not state["rph"]:
            capture[0] = buf

    def end(tag: str) -> None:
        name = _local(tag)
        if name == "t":
            capture[0] = None
        elif name == "rPh":
            state["rph"] -= 1
        elif name == "si":
            strings.append(decode_escapes("".join(buf)))
            state["si"] = 0

    def chars(data: str) -> None:
        target = capture[0]
        if target is not None:
            target.append(data)

    _parse(zf, part, budget, start, end, chars)
    return strings


class _SheetHandler:
    """expat callbacks for one worksheet: keeps the values of cells that have one, sparse. Cheap
    for the many empty formatted cells of an issued workbook, which only open and close."""

    def __init__(self, sheet: RawSheet, strings: list[str], styles: _Styles, date1904: bool,
                 budget: _Budget) -> None:
        self.sheet, self.strings, self.styles, self.date1904, self.budget = sheet, strings, styles, date1904, budget
        self.row = self.col = 0
        self.ref = ""            # the cell's reference as written, when it is not one kpiflow can hold
        self.t = "n"
        self.style = 0
        self.v: list[str] | None = None
        self.text: list[str] | None = None
        self.has_f = False
        self.in_is = False
        self.in_rph = 0
        self.capture: list[str] | None = None

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        name = _local(tag)
        if name == "c":
            ref = attrs.get("r")
            self.ref = ""
            if ref:
                m = _REF.fullmatch(ref)
                if m:
                    self.col, self.row = _col_number(m[1]), int(m[2])
                elif _ANY_REF.fullmatch(ref[:40]):
                    self.col, self.ref = MAX_COLS + 1, ref[:20]     # beyond XFD or row 9,999,999
                else:
                    raise _damaged(f'a cell is called "{ref[:20]}"', self.sheet.name)
            else:
                self.col += 1   # a cell without a reference follows the previous one in its row
            self.t = attrs.get("t", "n")
            self.style = _small_int(attrs.get("s"))
            self.v = self.text = None
            self.has_f = self.in_is = False
        elif name == "row":
            r = attrs.get("r")
            if r is None:
                self.row += 1
            elif r.isascii() and r.isdigit():
                self.row = int(r) if len(r) <= 7 else MAX_ROWS + 1
            else:
                raise _damaged(f'a row is numbered "{r[:20]}"', self.sheet.name)
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
            self.in_rph += 1
        elif name == "t" and self.in_is and not self.in_rph:
            self.capture = self.text

    def end(self, tag: str) -> None:
        name = _local(tag)
        if name in ("v", "t"):
            self.capture = None
        elif name == "rPh":
            self.in_rph -= 1
        elif name == "c":
            self._cell()

    def chars(self, data: str) -> None:
        if self.capture is not None:
            self.capture.append(data)

    def _where(self) -> str:
        return self.ref or coord(self.row, self.col)

    def _cell(self) -> None:
        t = self.t
        has_value = t == "inlineStr" or (self.v is not None and "".join(self.v).strip() != "")
        if not has_value and not self.has_f:
            return
        self._check_bounds()
        row, col = self.row, self.col
        if not has_value:
            self.sheet.formulas_without_value.add((row, col))
            return
        value: object
        if t == "inlineStr":
            value = decode_escapes("".join(self.text or []))
        else:
            v = "".join(self.v or [])
            if t == "s":
                i = _small_int(v.strip(), -1)
                if not 0 <= i < len(self.strings):
                    raise _damaged(f"the cell refers to text {v.strip()[:20]} the file does not have",
                                   self.sheet.name, self._where())
                value = self.strings[i]
            elif t == "str":
                value = decode_escapes(v)
            elif t == "e":
                value = v
            elif t == "b":
                value = v.strip() in ("1", "true")
            elif t == "d":
                value = self._iso_date(v.strip())
            else:
                value = self._number(v.strip())
        if value == "":
            return
        cells = self.sheet.cells.setdefault(row, {})
        cells[col] = value

    def _check_bounds(self) -> None:
        if self.row < 1 or self.col < 1:
            raise _damaged("a cell is outside the sheet", self.sheet.name)
        if self.col > MAX_COLS or self.ref:
            raise _Refused("far-cell", f"Something is typed far outside the table, at {self._where()}. Delete it "
                           f"(Ctrl+End in Excel goes to the last cell in use): a return uses columns A to "
                           f"{column_letter(MAX_COLS)} and rows up to {MAX_ROWS:,}.", self.sheet.name, self._where())
        if self.row > MAX_ROWS:
            raise _Refused("too-many-rows", f"The sheet has something in row {self.row:,}, but a return has at most "
                           f"{MAX_ROWS:,} rows. Delete the rows below the data and send it again.",
                           self.sheet.name, self._where())
        self.budget.cells -= 1
        if self.budget.cells < 0:
            raise _Refused("too-many-cells", f"The workbook has more than {MAX_CELLS:,} filled cells, far more than a "
                           "return can. Delete what was pasted below or beside the tables, or start again from the "
                           "returns workbook you were issued.", self.sheet.name)

    def _number(self, text: str) -> object:
        if not _NUMBER.fullmatch(text):
            raise _damaged(f'the cell holds "{text[:20]}" as a number', self.sheet.name, self._where())
        num: float | int
        if any(ch in text for ch in ".eE") or len(text) > 15:
            num = float(text)
            if not math.isfinite(num):
                raise _damaged(f'the cell holds "{text[:20]}" as a number', self.sheet.name, self._where())
        else:
            num = int(text)
        code = self.styles.date_formats.get(self.style)
        if code is not None and 0 <= num <= _EXCEL_LAST_SERIAL[self.date1904]:
            when = _serial_to_date(float(num), self.date1904)
            return _shown_date(when, code) if isinstance(when, dt.datetime) else when
        if self.style in self.styles.percent:
            # as it shows: 0.06 formatted 0% is the 6 the user typed, not 6.000000000000001
            scaled = Decimal(text) * 100
            return int(scaled) if scaled == scaled.to_integral_value() and abs(scaled) < 10**15 else float(scaled)
        return num

    def _iso_date(self, text: str) -> object:
        """A ``t="d"`` cell: an ISO 8601 date, date and time, or time."""
        try:
            if "-" in text[1:]:
                when = dt.datetime.fromisoformat(text.rstrip("Z"))
                if when.tzinfo is not None:
                    when = when.replace(tzinfo=None)
                return _shown_date(when, self.styles.date_formats.get(self.style))
            return dt.time.fromisoformat(text.rstrip("Z"))
        except ValueError:
            raise _damaged(f'the cell holds "{text[:20]}" as a date', self.sheet.name, self._where()) from None


def _read_sheet(zf: zipfile.ZipFile, part: str, name: str, strings: list[str], styles: _Styles, date1904: bool,
                budget: _Budget) -> RawSheet:
    sheet = RawSheet(name)
    handler = _SheetHandler(sheet, strings, styles, date1904, budget)
    _parse(zf, part, budget, handler.start, handler.end, handler.chars)
    return sheet


def read_workbook(path: Path, result: ValidationResult) -> RawWorkbook | None:
    """All sheets' values (the results Excel saved for formulas), or None with a file-level
    problem added to ``result``. Streamed through expat, without openpyxl."""
    if not precheck(path, result):
        return None
    try:
        return _read(path)
    except _Forbidden:
        result.error("unsafe-file", "The workbook contains XML declarations that a spreadsheet never needs and that "
                     "can be used to attack the computer opening it (an 'XML bomb'), so it was not opened. Start "
                     "again from the returns workbook you were issued.")
    except _Refused as exc:
        result.error(exc.code, exc.message, exc.sheet, exc.cell)
    except (expat.ExpatError, zipfile.BadZipFile, zlib.error, EOFError):
        # what reading a damaged zip or malformed XML raises; anything else is kpiflow's own bug
        result.error("corrupt-file", "The workbook could not be opened: it may be damaged. Save it again in Excel "
                     "and resend it.")
    except OSError as exc:
        result.error("unreadable-file", f"The file cannot be read ({exc.strerror or exc}). Save it again and resend it.")
    return None


@dataclass
class _Book:
    date1904: bool = False
    sheets: list[tuple[str, str, str]] = field(default_factory=list)    # name, relationship id, state


def _read_book(zf: zipfile.ZipFile, budget: _Budget) -> _Book:
    book = _Book()
    rid_keys = (f"{_REL_NS}}}id", f"{_REL_NS_STRICT}}}id")

    def start(tag: str, attrs: dict[str, str]) -> None:
        name = tag.rpartition("}")[2]
        if name == "workbookPr":
            book.date1904 = attrs.get("date1904") in ("1", "true")
        elif name == "sheet":
            if len(book.sheets) >= MAX_SHEETS:
                raise _Refused("file-too-large", _TOO_LARGE)
            rid = next((attrs[k] for k in rid_keys if k in attrs), "")
            book.sheets.append((attrs.get("name", ""), rid, attrs.get("state", "visible")))

    _parse(zf, "xl/workbook.xml", budget, start, namespaces=True)
    return book


def _read_rels(zf: zipfile.ZipFile, part: str, budget: _Budget) -> dict[str, tuple[str, str]]:
    rels: dict[str, tuple[str, str]] = {}

    def start(tag: str, attrs: dict[str, str]) -> None:
        if _local(tag) == "Relationship":
            if len(rels) >= MAX_SHEETS * 4:
                raise _Refused("file-too-large", _TOO_LARGE)
            rels[attrs.get("Id", "")] = (attrs.get("Type", ""), attrs.get("Target", ""))

    _parse(zf, part, budget, start)
    return rels


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


def _read(path: Path) -> RawWorkbook:
    budget = _Budget()
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        book = _read_book(zf, budget)
        rels = _read_rels(zf, "xl/_rels/workbook.xml.rels", budget)
        strings: list[str] = []
        ss = next((_resolve("xl", t) for typ, t in rels.values() if typ.endswith("/sharedStrings")), "xl/sharedStrings.xml")
        if ss in names:
            strings = _read_strings(zf, ss, budget)
        styles = _Styles()
        st = next((_resolve("xl", t) for typ, t in rels.values() if typ.endswith("/styles")), "xl/styles.xml")
        if st in names:
            styles = _read_styles(zf, st, budget)
        sheets: dict[str, RawSheet] = {}
        for name, rid, state in book.sheets:
            if rid not in rels:
                raise _damaged(f"the sheet {name[:40]} has no part")
            sheet = _read_sheet(zf, _resolve("xl", rels[rid][1]), name, strings, styles, book.date1904, budget)
            sheet.state = state
            sheets[sheet.name] = sheet
    return RawWorkbook(path, sheets)
