"""The feedback copy of a return: each problem cell filled red (amber for a warning) with a
comment saying what is wrong, and a first sheet "Problems" listing every problem with a link to
its cell. The original is never touched; the copy keeps its data validation and protection.

The copy is made at the XML level, part by part, from the received zip (no openpyxl load and
save: that cost ~100 ms a return and dropped what openpyxl does not model, such as Excel's own
data validation extensions). Every part kpiflow does not change is copied as it is. Those it
changes are edited in place, everything else in them left byte for byte:

- ``styles.xml`` gains the fills and fonts, and for each problem cell a copy of its cell format
  with the fill (so its number format, font, borders and protection stay);
- each marked sheet: the problem cells' ``s`` points at those copies (a cell the sheet does not
  hold is added), and a comments part and the legacy VML drawing Excel shows them with are added
  (or joined to the sheet's own comments);
- the Problems sheet is a new part, put first in ``workbook.xml`` (sheet-scoped names and the
  active tab follow), with its relationship and content type.

Parts are parsed with expat, DTDs and entities refused, after the reader's checks of the zip
(``read.precheck``: size, compression ratio, members), so the work is bounded as reading is.
"""

from __future__ import annotations

import contextlib
import io
import posixpath
import re
import shutil
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kpiflow.fmt import column_letter
from kpiflow.problems import Problem, ValidationResult
from kpiflow.workbook.layout import HEADER_FILL
from kpiflow.xmltext import XML_ILLEGAL, escape, quoteattr

ERROR_FILL = "FF9999"
WARNING_FILL = "FFD966"
LINK_COLOUR = "0563C1"
_A1 = re.compile(r"([A-Z]{1,3})([1-9][0-9]{0,6})")
MAX_COL, MAX_ROW = 16_384, 1_048_576     # Excel's sheet: XFD1048576
MAX_TEXT = 32_767                        # characters in a cell
# the largest part the copy edits, held in memory twice (before and after): a return's sheet is
# ~50 KB; a sheet of a million empty formatted cells gets the .txt feedback alone
MAX_EDITED_PART = 16 * 1024 * 1024

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "http://schemas.openxmlformats.org/package/2006/content-types"
_SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_COMMENTS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml"
_STYLES_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"
_VML_TYPE = "application/vnd.openxmlformats-officedocument.vmlDrawing"
_XML_HEAD = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

FILE_LEVEL = {"not-xlsx", "corrupt-file", "file-too-large", "macros-not-accepted", "unreadable-file", "too-many-rows",
              "unsafe-file", "far-cell", "too-many-cells", "too-many-strings"}


def can_annotate(result: ValidationResult) -> bool:
    """Whether the file was a workbook kpiflow could open (and so can hand back marked up)."""
    return not any(p.code in FILE_LEVEL for p in result.problems)


class CannotAnnotate(Exception):
    """The workbook could be read for its values but not copied with its problems marked."""


def _quote(sheet: str) -> str:
    return "'" + sheet.replace("'", "''") + "'"


# -- XML text --------------------------------------------------------------------------------------

def _text(value: str) -> bytes:
    """Element text: characters XML cannot hold dropped, markup escaped."""
    return escape(XML_ILLEGAL.sub("", value)[:MAX_TEXT]).encode("utf-8")


def _attr(value: str) -> bytes:
    """A quoted attribute value."""
    return quoteattr(XML_ILLEGAL.sub("", value)[:MAX_TEXT]).encode("utf-8")


def _t(value: str, prefix: bytes = b"") -> bytes:
    """A ``<t>`` element, keeping spaces and line breaks where they matter."""
    keep = b' xml:space="preserve"' if value != value.strip() or "\n" in value else b""
    return b"<%st%s>%s</%st>" % (prefix, keep, _text(value), prefix)


# -- finding elements in a part by their offsets ---------------------------------------------------

_TAG = re.compile(rb"""<[^\s/>]+(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*/?>""")
_ATTR = re.compile(rb"""(\s+)([^\s=/>]+)(\s*=\s*)("[^"]*"|'[^']*')""")
_NAME = re.compile(rb"<([^\s/>:]+:)?[^\s/>]+")


@dataclass
class _El:
    """An element of a part: its name (``namespace}local``), attributes and where it is."""

    name: str
    attrs: dict[str, str]
    start: int          # the "<" of its start tag
    tag_end: int        # just after its start tag
    empty: bool         # written <x/>
    close: int = -1     # the "<" of its end tag (tag_end when empty)
    end: int = -1       # just after the element

    @property
    def local(self) -> str:
        return self.name.rpartition("}")[2]


class _Stop(Exception):
    pass


def _walk(data: bytes, start: Callable[[_El, int], None] | None = None,
          end: Callable[[_El, int], None] | None = None) -> None:
    """Stream ``data`` through expat (DTDs and entities refused), calling ``start`` and ``end``
    with each element and its depth (the root is 1). A callback may raise ``_Stop`` to end early."""
    from kpiflow.workbook.read import xml_parser

    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise CannotAnnotate("a part is UTF-16")
    parser = xml_parser(namespaces=True)
    stack: list[_El] = []

    def on_start(name: str, attrs: dict[str, str]) -> None:
        at = parser.CurrentByteIndex
        m = _TAG.match(data, at)
        if m is None:
            raise CannotAnnotate("a tag kpiflow cannot follow")
        el = _El(name, attrs, at, m.end(), data[m.end() - 2:m.end()] == b"/>")
        stack.append(el)
        if start is not None:
            start(el, len(stack))

    def on_end(name: str) -> None:
        el = stack.pop()
        if el.empty:
            el.close = el.end = el.tag_end
        else:
            el.close = parser.CurrentByteIndex
            el.end = data.index(b">", el.close) + 1
        if end is not None:
            end(el, len(stack) + 1)

    parser.StartElementHandler = on_start
    parser.EndElementHandler = on_end
    with contextlib.suppress(_Stop):
        parser.Parse(data, True)


def _prefix(data: bytes, el: _El) -> bytes:
    """The prefix an element is written with (``x:`` or nothing), for new elements beside it."""
    m = _NAME.match(data, el.start)
    return (m[1] or b"") if m else b""


def _with_attrs(tag: bytes, changes: dict[str, str | None]) -> bytes:
    """A start tag with unprefixed attributes set (or removed, for None), the rest as it was."""
    done: set[str] = set()

    def one(m: re.Match[bytes]) -> bytes:
        name = m[2].decode("utf-8")
        if name not in changes:
            return m[0]
        done.add(name)
        value = changes[name]
        return b"" if value is None else m[1] + m[2] + m[3] + _attr(value)

    head = _NAME.match(tag)
    at = head.end() if head else 1
    close = b"/>" if tag.endswith(b"/>") else b">"
    body = _ATTR.sub(one, tag[at:len(tag) - len(close)])
    extra = b"".join(b" %s=%s" % (k.encode(), _attr(v)) for k, v in changes.items() if v is not None and k not in done)
    return tag[:at] + body + extra + close


def _spliced(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    """``data`` with each (start, end, bytes) put in place of what was there; insertions at one
    place keep the order they were given in."""
    out: list[bytes] = []
    pos = 0
    for s, e, new in sorted(edits, key=lambda x: (x[0], x[1])):
        if s < pos:
            raise CannotAnnotate("two changes to one place")
        out += [data[pos:s], new]
        pos = e
    out.append(data[pos:])
    return b"".join(out)


def _part_path(base_dir: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(base_dir, target))


def _rels_path(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


# -- the package -----------------------------------------------------------------------------------

@dataclass
class _Rels:
    """A relationships part: each relationship's id, type and target part."""

    path: str
    data: bytes
    rels: list[tuple[str, str, str]] = field(default_factory=list)
    root: _El | None = None
    added: list[bytes] = field(default_factory=list)

    @classmethod
    def read(cls, pkg: _Package, path: str) -> _Rels:
        data = pkg.part(path) if path in pkg.names else (
            b'%s<Relationships xmlns="%s"></Relationships>' % (_XML_HEAD, PKG_REL.encode()))
        rels = cls(path, data)
        base = posixpath.dirname(posixpath.dirname(path))

        def start(el: _El, depth: int) -> None:
            if depth == 1:
                rels.root = el
            elif depth == 2 and el.local == "Relationship":
                target = el.attrs.get("Target", "")
                external = el.attrs.get("TargetMode", "") == "External"
                rels.rels.append((el.attrs.get("Id", ""), el.attrs.get("Type", ""),
                                  "" if external else _part_path(base, target)))

        _walk(data, start)
        return rels

    def target(self, kind: str) -> tuple[str, str] | None:
        """The first relationship of a type ending ``/kind``: its id and part."""
        return next(((i, t) for i, typ, t in self.rels if typ.endswith("/" + kind)), None)

    def add(self, kind: str, part: str) -> str:
        taken = {i for i, _, _ in self.rels}
        n = len(self.rels) + 1
        while f"rId{n}" in taken:
            n += 1
        rid = f"rId{n}"
        self.rels.append((rid, f"{REL}/{kind}", part))
        self.added.append(b'Relationship Id="%s" Type="%s/%s" Target="/%s"/>' % (
            rid.encode(), REL.encode(), kind.encode(), part.encode()))
        return rid

    def written(self) -> bytes:
        assert self.root is not None
        p = _prefix(self.data, self.root)
        added = b"".join(b"<" + p + rel for rel in self.added)
        if self.root.empty:
            open_tag = self.data[self.root.start:self.root.tag_end - 2] + b">"
            return _spliced(self.data, [(self.root.start, self.root.end, open_tag + added + b"</%sRelationships>" % p)])
        return _spliced(self.data, [(self.root.close, self.root.close, added)])


class _Package:
    """The received zip, read part by part within the bounds ``read.precheck`` checked."""

    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.names = {i.filename for i in zf.infolist()}
        self.changed: dict[str, bytes] = {}
        self.new: dict[str, bytes] = {}
        self.overrides: list[tuple[str, str]] = []

    def part(self, name: str) -> bytes:
        """A part to parse or edit, no larger than MAX_EDITED_PART."""
        if name in self.changed:
            return self.changed[name]
        if self.zf.getinfo(name).file_size > MAX_EDITED_PART:
            raise CannotAnnotate(f"the part {name[:80]} is too large to mark up")
        return self.zf.read(name)

    def free(self, pattern: str) -> str:
        """The first part name ``pattern % n`` (n = 1, 2, ...) the package does not have."""
        n = 1
        while (pattern % n) in self.names or (pattern % n) in self.new:
            n += 1
        return pattern % n

    def add(self, name: str, data: bytes, content_type: str | None = None) -> None:
        self.new[name] = data
        if content_type:
            self.overrides.append((name, content_type))


# -- what is marked where ----------------------------------------------------------------------------

@dataclass
class _Mark:
    """One problem cell: its place, its problems, the format it had and the one it gets."""

    row: int
    col: int
    problems: list[Problem]
    base: int = 0          # the cell format (cellXfs index) it had
    found: tuple[int, int] | None = None   # where the sheet holds the cell's start tag, if it does
    style: int = 0         # the new format: a copy of ``base`` with the fill

    @property
    def ref(self) -> str:
        return f"{column_letter(self.col)}{self.row}"

    @property
    def worst(self) -> str:
        return "error" if any(p.severity == "error" for p in self.problems) else "warning"

    @property
    def text(self) -> str:
        return "\n\n".join(f"{p.severity.upper()} ({p.code}): {p.message}" for p in self.problems)


def _col_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


@dataclass
class _Sheet:
    name: str
    part: str
    marks: dict[tuple[int, int], _Mark] = field(default_factory=dict)


# -- styles ------------------------------------------------------------------------------------------

_STYLE_ORDER = ("numFmts", "fonts", "fills", "borders", "cellStyleXfs", "cellXfs", "cellStyles", "dxfs",
                "tableStyles", "colors", "extLst")


class _Styles:
    """styles.xml, with fonts, fills and cell formats appended."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.root: _El | None = None
        self.lists: dict[str, _El] = {}
        self.counts = {"fonts": 0, "fills": 0, "borders": 0, "cellXfs": 0, "cellStyleXfs": 0}
        self.xfs: list[bytes] = []
        self.added: dict[str, list[bytes]] = {"fonts": [], "fills": [], "borders": [], "cellXfs": []}
        parent: list[str] = [""]

        def start(el: _El, depth: int) -> None:
            if depth == 1:
                self.root = el
            elif depth == 2:
                parent[0] = el.local
                self.lists.setdefault(el.local, el)
            elif depth == 3 and parent[0] in self.counts:
                self.counts[parent[0]] += 1

        def end(el: _El, depth: int) -> None:
            if depth == 3 and parent[0] == "cellXfs" and el.local == "xf":
                self.xfs.append(data[el.start:el.end])

        _walk(data, start, end)
        if self.root is None or self.root.empty:
            raise CannotAnnotate("styles.xml has no styles element to add to")
        self.prefix: bytes = _prefix(data, self.root)
        p = self.prefix
        # Excel reserves fills 0 and 1, and every format needs font 0 and border 0
        if self.counts["fonts"] == 0:
            self._append("fonts", b'<%sfont><%ssz val="11"/><%sname val="Calibri"/></%sfont>' % (p, p, p, p))
        for kind in ("none", "gray125")[self.counts["fills"]:]:
            self._append("fills", b'<%sfill><%spatternFill patternType="%s"/></%sfill>' % (p, p, kind.encode(), p))
        if self.counts["borders"] == 0:
            self._append("borders", b"<%sborder><%sleft/><%sright/><%stop/><%sbottom/><%sdiagonal/></%sborder>"
                         % (p, p, p, p, p, p, p))
        if not self.xfs:
            self._append("cellXfs", b'<%sxf numFmtId="0" fontId="0" fillId="0" borderId="0"/>' % p)
            self.xfs.append(self.added["cellXfs"][-1])
        self._fills: dict[str, int] = {}
        self._copies: dict[tuple[int, str], int] = {}

    def _append(self, kind: str, element: bytes) -> int:
        """Add an element to a list; its index there."""
        self.added[kind].append(element)
        return self.counts[kind] + len(self.added[kind]) - 1

    def fill(self, rgb: str) -> int:
        if rgb not in self._fills:
            p = self.prefix
            self._fills[rgb] = self._append("fills", b'<%sfill><%spatternFill patternType="solid"><%sfgColor rgb="FF%s"/>'
                                            b'<%sbgColor indexed="64"/></%spatternFill></%sfill>'
                                            % (p, p, p, rgb.encode(), p, p, p))
        return self._fills[rgb]

    def font(self, bold: bool = False, size: int = 11, rgb: str = "", underline: bool = False) -> int:
        p = self.prefix
        parts = [b"<%sb/>" % p if bold else b"", b"<%su/>" % p if underline else b"", b'<%ssz val="%d"/>' % (p, size),
                 b'<%scolor rgb="FF%s"/>' % (p, rgb.encode()) if rgb else b"", b'<%sname val="Calibri"/>' % p,
                 b'<%sfamily val="2"/>' % p]
        return self._append("fonts", b"<%sfont>%s</%sfont>" % (p, b"".join(parts), p))

    def plain(self, font: int = 0, fill: int = 0) -> int:
        """A new cell format with a font and a fill, for the Problems sheet."""
        xf_id = b' xfId="0"' if self.counts["cellStyleXfs"] else b""
        return self._append("cellXfs", b'<%sxf numFmtId="0" fontId="%d" fillId="%d" borderId="0"%s applyFont="1" '
                            b'applyFill="1"/>' % (self.prefix, font, fill, xf_id))

    def filled(self, base: int, rgb: str) -> int:
        """A copy of cell format ``base`` with a solid fill."""
        key = (base, rgb)
        if key not in self._copies:
            xf = self.xfs[base] if 0 <= base < len(self.xfs) else self.xfs[0]
            m = _TAG.match(xf)
            assert m is not None
            tag = _with_attrs(m[0], {"fillId": str(self.fill(rgb)), "applyFill": "1"})
            self._copies[key] = self._append("cellXfs", tag + xf[m.end():])
        return self._copies[key]

    def written(self) -> bytes:
        assert self.root is not None
        edits: list[tuple[int, int, bytes]] = []
        p = self.prefix
        for kind, new in self.added.items():
            if not new:
                continue
            count = str(self.counts[kind] + len(new)).encode()
            el = self.lists.get(kind)
            if el is not None and not el.empty:
                edits.append((el.start, el.tag_end, _with_attrs(self.data[el.start:el.tag_end], {"count": count.decode()})))
                edits.append((el.close, el.close, b"".join(new)))
                continue
            whole = b'<%s%s count="%s">%s</%s%s>' % (p, kind.encode(), count, b"".join(new), p, kind.encode())
            if el is not None:     # <fills/>
                edits.append((el.start, el.end, whole))
                continue
            later = [self.lists[k].start for k in _STYLE_ORDER[_STYLE_ORDER.index(kind) + 1:] if k in self.lists]
            at = min(later) if later else self.root.close
            edits.append((at, at, whole))
        return _spliced(self.data, edits)


# -- the marked sheets -------------------------------------------------------------------------------

def _mark_sheet(pkg: _Package, sheet: _Sheet, styles: _Styles, comments: _Comments) -> None:
    """Point each problem cell at its filled format (adding the cells the sheet lacks), unselect
    the sheet's tab, and give it its comments."""
    data = pkg.part(sheet.part)
    edits: list[tuple[int, int, bytes]] = []
    root: list[_El] = []
    top: list[_El] = []
    sheet_data: list[_El] = []
    col_styles: list[tuple[int, int, int]] = []
    # only the rows holding problem cells are kept (a sheet may have a million empty cells)
    marked_rows = sorted({r for r, _ in sheet.marks})
    marked = set(marked_rows)
    rows: dict[int, _El] = {}
    first_after: dict[int, int] = {}    # a marked row the sheet lacks -> the start of the next row it has
    row_style: dict[int, int] = {}
    cells: dict[int, list[tuple[int, int]]] = {}    # marked row -> (column, start) of each cell in it
    legacy: list[_El] = []
    pos = {"row": 0, "col": 0, "next": 0}

    def start(el: _El, depth: int) -> None:
        name, a = el.local, el.attrs
        if depth == 1:
            root.append(el)
        elif depth == 2:
            top.append(el)
            if name == "sheetData":
                sheet_data.append(el)
            elif name == "legacyDrawing":
                legacy.append(el)
        elif name == "sheetView" and a.get("tabSelected") in ("1", "true"):
            edits.append((el.start, el.tag_end, _with_attrs(data[el.start:el.tag_end], {"tabSelected": None})))
        elif name == "col" and depth == 3:
            col_styles.append((_int(a.get("min")), _int(a.get("max")), _int(a.get("style"))))
        elif name == "row" and depth == 3:
            r = a.get("r")
            row = pos["row"] = _int(r) if r else pos["row"] + 1
            pos["col"] = 0
            while pos["next"] < len(marked_rows) and marked_rows[pos["next"]] <= row:
                if marked_rows[pos["next"]] < row:
                    first_after[marked_rows[pos["next"]]] = el.start
                pos["next"] += 1
            if row in marked:
                rows[row] = el
                if a.get("customFormat") in ("1", "true"):
                    row_style[row] = _int(a.get("s"))
        elif name == "c" and depth == 4:
            m = _A1.fullmatch(a.get("r", ""))
            if m:
                pos["col"] = _col_number(m[1])
            else:
                pos["col"] += 1
            if pos["row"] in rows:
                cells.setdefault(pos["row"], []).append((pos["col"], el.start))
            mark = sheet.marks.get((pos["row"], pos["col"]))
            if mark is not None and mark.found is None:
                mark.found, mark.base = (el.start, el.tag_end), _int(a.get("s"))

    _walk(data, start)
    if not root or not sheet_data:
        raise CannotAnnotate(f"the sheet {sheet.name} has no cells")
    p = _prefix(data, root[0])
    for mark in sheet.marks.values():
        if mark.found is None:     # a cell not written takes its row's format, or else its column's
            mark.base = row_style.get(mark.row, next((s for lo, hi, s in col_styles if lo <= mark.col <= hi), 0))
        mark.style = styles.filled(mark.base, ERROR_FILL if mark.worst == "error" else WARNING_FILL)
        if mark.found is not None:
            s, e = mark.found
            edits.append((s, e, _with_attrs(data[s:e], {"s": str(mark.style)})))
    edits += _missing_cells(data, p, sheet, sheet_data[0], rows, first_after, cells)
    rid = comments.attach(pkg, sheet, legacy[0].attrs.get(f"{REL}}}id", "?") if legacy else None)
    if rid:
        after = ("legacyDrawingHF", "drawingHF", "picture", "oleObjects", "controls", "webPublishItems", "tableParts",
                 "extLst")
        at = next((el.start for el in top if el.local in after), root[0].close)
        edits.append((at, at, b'<%slegacyDrawing xmlns:r="%s" r:id="%s"/>' % (p, REL.encode(), rid.encode())))
    pkg.changed[sheet.part] = _spliced(data, edits)


def _int(text: str | None) -> int:
    return int(text) if text and text.isascii() and text.isdigit() and len(text) <= 9 else 0


def _missing_cells(data: bytes, p: bytes, sheet: _Sheet, sheet_data: _El, rows: dict[int, _El],
                   first_after: dict[int, int], cells: dict[int, list[tuple[int, int]]]) -> list[tuple[int, int, bytes]]:
    """The problem cells the sheet does not hold, added in their rows (and rows added), in order."""
    edits: list[tuple[int, int, bytes]] = []
    by_row: dict[int, list[_Mark]] = {}
    for mark in sorted(sheet.marks.values(), key=lambda m: (m.row, m.col)):
        if mark.found is None:
            by_row.setdefault(mark.row, []).append(mark)

    def cell(m: _Mark) -> bytes:
        return b'<%sc r="%s" s="%d"/>' % (p, m.ref.encode(), m.style)

    new_rows: list[bytes] = []
    for r, marks in sorted(by_row.items()):
        row = rows.get(r)
        if row is None:
            row_xml = b'<%srow r="%d">%s</%srow>' % (p, r, b"".join(cell(m) for m in marks), p)
            if r in first_after:
                edits.append((first_after[r], first_after[r], row_xml))
            else:
                new_rows.append(row_xml)
            continue
        if row.empty:
            tag = data[row.start:row.tag_end]
            edits.append((row.start, row.end, tag[:-2] + b">" + b"".join(cell(m) for m in marks) + b"</%srow>" % p))
            continue
        present = cells.get(r, [])
        for m in marks:
            at = next((start for col, start in present if col > m.col), row.close)
            edits.append((at, at, cell(m)))
    if new_rows:
        if sheet_data.empty:
            tag = data[sheet_data.start:sheet_data.tag_end]
            edits.append((sheet_data.start, sheet_data.end, tag[:-2] + b">" + b"".join(new_rows) + b"</%ssheetData>" % p))
        else:
            edits.append((sheet_data.close, sheet_data.close, b"".join(new_rows)))
    return edits


# -- comments and their drawing ---------------------------------------------------------------------

class _Comments:
    """Comments parts and the legacy VML drawings Excel shows them with, one of each per sheet."""

    def __init__(self, pkg: _Package) -> None:
        used = [int(n) for name in pkg.names if name.lower().endswith(".vml")
                for n in re.findall(rb"_x0000_s(\d{1,9})", pkg.part(name))]
        self.next_block = max(used, default=0) // 1024 + 1    # VML shape ids come in blocks of 1024 per drawing

    def attach(self, pkg: _Package, sheet: _Sheet, legacy: str | None) -> str:
        """Add the sheet's comments (``legacy``: the relationship id of the sheet's own legacy
        drawing, if it has one); the id of a new legacy drawing relationship, or "" if the sheet
        has a drawing already."""
        rels = _Rels.read(pkg, _rels_path(sheet.part))
        marks = sorted(sheet.marks.values(), key=lambda m: (m.row, m.col))
        own = rels.target("comments")
        had: set[str] = set()
        if own:
            pkg.changed[own[1]], had = _joined_comments(pkg.part(own[1]), marks)
        else:
            part = pkg.free("xl/comments%d.xml")
            pkg.add(part, _comments_xml(marks), _COMMENTS_TYPE)
            rels.add("comments", part)
        rid = ""
        new_shapes = [m for m in marks if m.ref not in had]
        if legacy is not None:
            vml = next((t for i, _, t in rels.rels if i == legacy), "")
            if vml not in pkg.names:
                raise CannotAnnotate("the sheet's drawing is missing")
            data = pkg.part(vml)
            ids = [int(n) for n in re.findall(rb"_x0000_s(\d{1,9})", data)]
            first = max(ids, default=1024 * self.next_block) + 1
            shapes = b"".join(_shape(m, first + i) for i, m in enumerate(new_shapes))
            if b"_x0000_t202" not in data:
                shapes = _SHAPE_TYPE + shapes
            at = data.rfind(b"</xml>")
            if at < 0:
                raise CannotAnnotate("the sheet's drawing has no end")
            pkg.changed[vml] = data[:at] + shapes + data[at:]
        else:
            block = self.next_block
            self.next_block += 1
            part = pkg.free("xl/drawings/vmlDrawing%d.vml")
            pkg.add(part, _vml(marks, block))
            rid = rels.add("vmlDrawing", part)
        pkg.changed[rels.path] = rels.written()
        return rid


def _comments_xml(marks: list[_Mark]) -> bytes:
    return (b'%s<comments xmlns="%s"><authors><author>kpiflow</author></authors><commentList>%s</commentList>'
            b"</comments>" % (_XML_HEAD, MAIN.encode(), b"".join(_comment(m, 0) for m in marks)))


def _comment(mark: _Mark, author: int, p: bytes = b"") -> bytes:
    return b'<%scomment ref="%s" authorId="%d"><%stext>%s</%stext></%scomment>' % (
        p, mark.ref.encode(), author, p, _t(mark.text, p), p, p)


def _joined_comments(data: bytes, marks: list[_Mark]) -> tuple[bytes, set[str]]:
    """The sheet's own comments part with kpiflow's added; a comment of its own on a problem cell
    gives way to kpiflow's. Also the cells that had one (their drawing has a shape already)."""
    root: list[_El] = []
    authors: list[_El] = []
    lists: list[_El] = []
    replaced: list[_El] = []
    refs = {m.ref for m in marks}

    def start(el: _El, depth: int) -> None:
        if depth == 1:
            root.append(el)
        elif depth == 2 and el.local == "authors":
            authors.append(el)
        elif depth == 2 and el.local == "commentList":
            lists.append(el)
        elif depth == 3 and el.local == "comment" and el.attrs.get("ref") in refs:
            replaced.append(el)

    _walk(data, start)
    if not root or not authors or not lists or authors[0].empty or lists[0].empty:
        raise CannotAnnotate("the sheet's comments part is not one kpiflow can add to")
    author_names = _author_names(data, authors[0])
    p = _prefix(data, root[0])
    edits: list[tuple[int, int, bytes]] = [(el.start, el.end, b"") for el in replaced]
    if "kpiflow" in author_names:
        author = author_names.index("kpiflow")
    else:
        author = len(author_names)
        edits.append((authors[0].close, authors[0].close, b"<%sauthor>kpiflow</%sauthor>" % (p, p)))
    edits.append((lists[0].close, lists[0].close, b"".join(_comment(m, author, p) for m in marks)))
    return _spliced(data, edits), {el.attrs.get("ref", "") for el in replaced}


def _author_names(data: bytes, authors: _El) -> list[str]:
    out: list[str] = []
    for m in re.finditer(rb"<(?:[^\s/>:]+:)?author(?:\s[^>]*)?(/?)>(?:([^<]*)</(?:[^\s/>:]+:)?author>)?",
                         data[authors.tag_end:authors.close]):
        out.append("" if m[1] else (m[2] or b"").decode("utf-8", "replace"))
    return out


_V = b"urn:schemas-microsoft-com:vml"
_O = b"urn:schemas-microsoft-com:office:office"
_X = b"urn:schemas-microsoft-com:office:excel"
_SHAPE_TYPE = (b'<v:shapetype xmlns:v="%s" xmlns:o="%s" id="_x0000_t202" coordsize="21600,21600" o:spt="202" '
               b'path="m,l,21600r21600,l21600,xe"><v:stroke joinstyle="miter"/><v:path gradientshapeok="t" '
               b'o:connecttype="rect"/></v:shapetype>' % (_V, _O))


def _shape(mark: _Mark, shape_id: int) -> bytes:
    """A comment's box, as openpyxl writes it (hidden until the cell is pointed at)."""
    height = min(60 + 18 * (len(mark.text) // 40 + 1), 400)
    return (b'<v:shape xmlns:v="%s" xmlns:o="%s" xmlns:x="%s" id="_x0000_s%d" type="#_x0000_t202" '
            b'style="position:absolute; margin-left:59.25pt;margin-top:1.5pt;width:320px;height:%dpx;z-index:1;'
            b'visibility:hidden" fillcolor="#ffffe1" o:insetmode="auto"><v:fill color2="#ffffe1"/>'
            b'<v:shadow color="black" obscured="t"/><v:path o:connecttype="none"/>'
            b'<v:textbox style="mso-direction-alt:auto"><div style="text-align:left"/></v:textbox>'
            b'<x:ClientData ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/><x:AutoFill>False</x:AutoFill>'
            b"<x:Row>%d</x:Row><x:Column>%d</x:Column></x:ClientData></v:shape>"
            % (_V, _O, _X, shape_id, height, mark.row - 1, mark.col - 1))


def _vml(marks: list[_Mark], block: int) -> bytes:
    layout = (b'<o:shapelayout xmlns:o="%s" xmlns:v="%s" v:ext="edit"><o:idmap v:ext="edit" data="%d"/>'
              b"</o:shapelayout>" % (_O, _V, block))
    return b"<xml>" + layout + _SHAPE_TYPE + b"".join(_shape(m, block * 1024 + 1 + i)
                                                      for i, m in enumerate(marks)) + b"</xml>"


# -- the Problems sheet ------------------------------------------------------------------------------

def _problems_sheet(result: ValidationResult, sheets: dict[str, _Sheet], styles: _Styles) -> bytes:
    title = styles.plain(font=styles.font(bold=True, size=12))
    header = styles.plain(font=styles.font(bold=True, rgb="FFFFFF"), fill=styles.fill(HEADER_FILL))
    link = styles.plain(font=styles.font(rgb=LINK_COLOUR, underline=True))
    error = styles.plain(fill=styles.fill(ERROR_FILL))
    rows: list[bytes] = []
    links: list[bytes] = []

    def row(r: int, values: Iterable[tuple[str, int]]) -> None:
        cells = b"".join(b'<c r="%s%d" t="inlineStr"%s><is>%s</is></c>' % (
            column_letter(c).encode(), r, b' s="%d"' % s if s else b"", _t(v))
            for c, (v, s) in enumerate(values, start=1) if v)
        rows.append(b'<row r="%d">%s</row>' % (r, cells))

    row(1, [(f"{result.summary()}. Click a location to go to the cell.", title)])
    row(3, [(h, header) for h in ("Location", "Severity", "Code", "Indicator", "What is wrong and what to do")])
    r = 3
    for p in result.problems:
        r += 1
        linked = p.sheet in sheets
        row(r, [(p.location, link if linked else 0), (p.severity, error if p.severity == "error" else 0),
                (p.code, 0), (p.indicator_id, 0), (p.message, 0)])
        if linked:
            target = p.cell if _A1.fullmatch(p.cell or "") else "A1"
            links.append(b'<hyperlink ref="A%d" location=%s display=%s/>' % (
                r, _attr(f"{_quote(p.sheet)}!{target}"), _attr(p.location)))
    if result.omitted:
        r += 1
        row(r, [(f"... and {result.omitted} more problems", 0)])
    if not result.problems:
        row(r + 1, [("No problems found.", 0)])
    cols = b"".join(b'<col min="%d" max="%d" width="%d" customWidth="1"/>' % (i, i, w)
                    for i, w in enumerate((18, 10, 22, 12, 100), start=1))
    return (b'%s<worksheet xmlns="%s" xmlns:r="%s"><sheetViews><sheetView tabSelected="1" workbookViewId="0">'
            b'<pane ySplit="3" topLeftCell="A4" activePane="bottomLeft" state="frozen"/>'
            b'<selection pane="bottomLeft" activeCell="A4" sqref="A4"/></sheetView></sheetViews>'
            b'<sheetFormatPr defaultRowHeight="15"/><cols>%s</cols><sheetData>%s</sheetData>%s'
            b'<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>'
            % (_XML_HEAD, MAIN.encode(), REL.encode(), cols, b"".join(rows),
               b"<hyperlinks>%s</hyperlinks>" % b"".join(links) if links else b""))


# -- the workbook ------------------------------------------------------------------------------------

@dataclass
class _Book:
    data: bytes
    sheets: list[tuple[str, str, str]] = field(default_factory=list)     # name, sheetId, relationship id
    sheets_el: _El | None = None
    edits: list[tuple[int, int, bytes]] = field(default_factory=list)

    @classmethod
    def read(cls, data: bytes) -> _Book:
        book = cls(data)

        def start(el: _El, depth: int) -> None:
            if depth == 1 and el.name != f"{MAIN}}}workbook":
                # Strict Open XML (other namespaces throughout): a transitional sheet cannot be added to it
                raise CannotAnnotate("the workbook is not transitional SpreadsheetML")
            if depth == 2 and el.local == "sheets":
                book.sheets_el = el
            elif depth == 3 and el.local == "sheet":
                book.sheets.append((el.attrs.get("name", ""), el.attrs.get("sheetId", ""),
                                    el.attrs.get(f"{REL}}}id", "")))
            elif depth == 3 and el.local == "definedName" and "localSheetId" in el.attrs:
                n = _int(el.attrs["localSheetId"])
                book.edits.append((el.start, el.tag_end, _with_attrs(data[el.start:el.tag_end],
                                                                      {"localSheetId": str(n + 1)})))
            elif depth == 3 and el.local == "workbookView":
                book.edits.append((el.start, el.tag_end, _with_attrs(data[el.start:el.tag_end],
                                                                      {"activeTab": None, "firstSheet": None})))

        _walk(data, start)
        if book.sheets_el is None or book.sheets_el.empty:
            raise CannotAnnotate("the workbook lists no sheets")
        return book

    def free_name(self) -> str:
        taken = {name.casefold() for name, _, _ in self.sheets}
        name, n = "Problems", 1
        while name.casefold() in taken:
            n += 1
            name = f"Problems ({n})"
        return name

    def written(self, name: str, rid: str) -> bytes:
        assert self.sheets_el is not None
        sheet_id = max((_int(i) for _, i, _ in self.sheets), default=0) + 1
        new = b'<%ssheet name=%s sheetId="%d" xmlns:r="%s" r:id="%s"/>' % (
            _prefix(self.data, self.sheets_el), _attr(name), sheet_id, REL.encode(), rid.encode())
        return _spliced(self.data, [*self.edits, (self.sheets_el.tag_end, self.sheets_el.tag_end, new)])


def _content_types(data: bytes, overrides: list[tuple[str, str]], vml: bool) -> bytes:
    root: list[_El] = []
    has_vml: list[bool] = []

    def start(el: _El, depth: int) -> None:
        if depth == 1:
            root.append(el)
        elif el.local == "Default" and el.attrs.get("Extension", "").lower() == "vml":
            has_vml.append(True)

    _walk(data, start)
    if not root or root[0].empty:
        raise CannotAnnotate("the package lists no content types")
    p = _prefix(data, root[0])
    new = b"".join(b'<%sOverride PartName="/%s" ContentType="%s"/>' % (p, part.encode(), kind.encode())
                   for part, kind in overrides)
    if vml and not has_vml:
        new = b'<%sDefault Extension="vml" ContentType="%s"/>' % (p, _VML_TYPE.encode()) + new
    return _spliced(data, [(root[0].close, root[0].close, new)])


# -- the copy ----------------------------------------------------------------------------------------

def annotated(src: Path, result: ValidationResult) -> bytes:
    """The annotated copy of ``src``, as the bytes of an .xlsx. Raises ``CannotAnnotate`` (or
    what reading a damaged zip raises) for a workbook that cannot be copied so."""
    from kpiflow.workbook.read import XmlForbidden, precheck

    if not precheck(src, ValidationResult(src.name)):
        raise CannotAnnotate("the file is not a workbook kpiflow opens")
    try:
        with zipfile.ZipFile(src) as zf:
            return _copy(zf, result)
    except XmlForbidden:
        raise CannotAnnotate("the workbook holds XML declarations kpiflow refuses") from None


def _copy(zf: zipfile.ZipFile, result: ValidationResult) -> bytes:
    from xml.parsers.expat import ExpatError

    pkg = _Package(zf)
    try:
        book = _Book.read(pkg.part("xl/workbook.xml"))
        book_rels = _Rels.read(pkg, "xl/_rels/workbook.xml.rels")
        parts = {rid: t for rid, _, t in book_rels.rels}
        sheets = {name: _Sheet(name, parts[rid]) for name, _, rid in book.sheets if parts.get(rid) in pkg.names}
        for p in result.problems:
            m = _A1.fullmatch(p.cell or "")
            sheet = sheets.get(p.sheet)
            if m and sheet is not None and _col_number(m[1]) <= MAX_COL and int(m[2]) <= MAX_ROW:
                key = (int(m[2]), _col_number(m[1]))
                sheet.marks.setdefault(key, _Mark(key[0], key[1], [])).problems.append(p)
        styles_at = book_rels.target("styles")
        if styles_at and styles_at[1] in pkg.names:
            styles_part = styles_at[1]
            styles = _Styles(pkg.part(styles_part))
        else:
            styles_part = pkg.free("xl/styles%d.xml")
            styles = _Styles(b'%s<styleSheet xmlns="%s"></styleSheet>' % (_XML_HEAD, MAIN.encode()))
            book_rels.add("styles", styles_part)
            pkg.overrides.append((styles_part, _STYLES_TYPE))
        comments = _Comments(pkg)
        for sheet in sheets.values():
            if sheet.marks:
                _mark_sheet(pkg, sheet, styles, comments)
            else:
                _unselect(pkg, sheet)
        name = book.free_name()
        problems_part = pkg.free("xl/worksheets/sheet%d.xml")
        pkg.add(problems_part, _problems_sheet(result, sheets, styles), _SHEET_TYPE)
        rid = book_rels.add("worksheet", problems_part)
        pkg.changed["xl/workbook.xml"] = book.written(name, rid)
        pkg.changed[book_rels.path] = book_rels.written()
        if styles_part in pkg.names:
            pkg.changed[styles_part] = styles.written()
        else:
            pkg.new[styles_part] = styles.written()
        pkg.changed["[Content_Types].xml"] = _content_types(
            pkg.part("[Content_Types].xml"), pkg.overrides, any(n.lower().endswith(".vml") for n in pkg.new))
    except (ExpatError, KeyError, ValueError, UnicodeDecodeError) as exc:
        raise CannotAnnotate(f"a part could not be followed ({type(exc).__name__})") from exc
    return _zipped(pkg)


def _unselect(pkg: _Package, sheet: _Sheet) -> None:
    """Clear the sheet's selected tab (so the Problems sheet is the only one selected): only the
    part before the cells is read."""
    data = pkg.part(sheet.part)
    edits: list[tuple[int, int, bytes]] = []

    def start(el: _El, depth: int) -> None:
        if depth == 2 and el.local == "sheetData":
            raise _Stop
        if el.local == "sheetView" and el.attrs.get("tabSelected") in ("1", "true"):
            edits.append((el.start, el.tag_end, _with_attrs(data[el.start:el.tag_end], {"tabSelected": None})))

    _walk(data, start)
    if edits:
        pkg.changed[sheet.part] = _spliced(data, edits)


def _zipped(pkg: _Package) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for info in pkg.zf.infolist():
            copy = zipfile.ZipInfo(info.filename, info.date_time)
            copy.compress_type = zipfile.ZIP_DEFLATED
            copy.external_attr = info.external_attr
            if info.filename in pkg.changed:
                out.writestr(copy, pkg.changed[info.filename])
            else:
                with pkg.zf.open(info) as src, out.open(copy, "w") as dest:
                    shutil.copyfileobj(src, dest, 1 << 16)
        now = time.localtime()[:6]
        added = {**{n: d for n, d in pkg.changed.items() if n not in pkg.names}, **pkg.new}
        for name, data in added.items():
            out.writestr(zipfile.ZipInfo(name, now), data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()
