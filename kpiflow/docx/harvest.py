"""Read the edited commentary and service responses back out of a draft report.

Each exception's commentary and service response sit in a content control tagged
``kpiflow:<ID>:commentary`` / ``kpiflow:<ID>:response``, after a label ("Commentary:", "Service
Response:") holding a bookmark ``kpiflow_<ID>_<kind>``. Word keeps both; LibreOffice Writer drops
the content-control tags when it saves a .docx but keeps the bookmarks. A region is the paragraphs
after its label, or in its content control, up to the next label, heading, table, chart or mark,
so it works wherever officers moved the sections, and a paragraph typed just below a content
control (outside it) is read as part of it, as Writer's copy of the same draft would be.

A region that cannot be found is reported, never guessed; a region marked twice (a content
control or a label copied into another section, or a whole section duplicated) is ambiguous and
is reported, never "last one wins".

Everything is read in one pass over the part (``paragraphs_of``), so a document of 100,000
paragraphs, however nested, is read in time proportional to its size.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpiflow.docx.marks import BOOKMARK, BOOKMARK_COPY, DRAFTED, TAG, mark_anchor
from kpiflow.docx.xml import W, parse, read_part

if TYPE_CHECKING:
    from kpiflow.docx.package import Package

# paragraph styles that end a region: the labels and portfolio headings of the shipped template
BOUNDARY_STYLES = {"ReportLabel", "PortfolioHeading", "ExceptionHeading", "Heading1", "Heading2", "Heading3", "Title"}
MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
# every kind of tracked change Word writes: insertions, deletions, moves, and changes of run,
# paragraph, section, table, row, cell and numbering properties
CHANGE_TAGS = frozenset(f"{W}{t}" for t in (
    "ins", "del", "moveFrom", "moveTo", "moveFromRangeStart", "moveToRangeStart", "rPrChange", "pPrChange",
    "sectPrChange", "tblPrChange", "tblPrExChange", "tblGridChange", "tcPrChange", "trPrChange", "numberingChange",
    "cellIns", "cellDel", "cellMerge", "customXmlInsRangeStart", "customXmlDelRangeStart",
    "customXmlMoveFromRangeStart", "customXmlMoveToRangeStart"))
_HIDDEN = (f"{W}del", f"{W}moveFrom")          # text a reader no longer sees once changes are accepted
_DRAWINGS = (f"{W}drawing", f"{W}pict", f"{W}object")
_COMMENT_MARKS = (f"{W}commentReference", f"{W}commentRangeStart")
_INSTR = (f"{W}instrText", f"{W}delInstrText")


@dataclass
class Para:
    """One paragraph of a part, in document order (nested ones, as in text boxes, after the one
    holding them)."""

    index: int
    text: str = ""
    changes: int = 0                      # tracked changes of any kind in it
    comments: int = 0                     # comment anchors
    style: str = ""
    block: bool = False                   # in the body itself (not a table, text box or note)
    drawing: bool = False
    marks: list[tuple[str, str]] = field(default_factory=list)     # kpiflow bookmarks (ID anchor, kind)
    control: tuple[str, str] | None = None                        # the kpiflow content control holding it


@dataclass
class PartText:
    """What one pass over a part found."""

    paras: list[Para] = field(default_factory=list)
    blocks: list[int | None] = field(default_factory=list)   # body-level paragraphs; None for a table
    fields: list[tuple[str, int | None]] = field(default_factory=list)   # (instruction, paragraph)
    loose_changes: list[int | None] = field(default_factory=list)   # changes outside paragraphs: the one before
    controls: dict[tuple[str, str], list[int | None]] = field(default_factory=dict)   # tag -> first paragraph
    bookmarks: dict[tuple[str, str], list[int | None]] = field(default_factory=dict)  # mark -> paragraph
    drafted: set[str] = field(default_factory=set)    # hashes of the words kpiflow drafted (``DRAFTED`` marks)


_P, _T, _TAB, _R, _TBL, _TXBX, _SDT, _SDT_CONTENT, _SDT_PR = (
    f"{W}p", f"{W}t", f"{W}tab", f"{W}r", f"{W}tbl", f"{W}txbxContent", f"{W}sdt", f"{W}sdtContent", f"{W}sdtPr")
_BREAKS = (f"{W}br", f"{W}cr")
_FLD_CHAR, _FLD_TYPE, _FLD_SIMPLE, _INSTR_ATTR = f"{W}fldChar", f"{W}fldCharType", f"{W}fldSimple", f"{W}instr"
_PSTYLE, _TAG, _BOOKMARK, _VAL, _NAME, _TYPE = (f"{W}pStyle", f"{W}tag", f"{W}bookmarkStart", f"{W}val", f"{W}name",
                                                 f"{W}type")
# the only elements the walk looks at; lxml skips the rest (runs, cells and their properties) in C
_WALKED = (CHANGE_TAGS | set(_HIDDEN) | set(_DRAWINGS) | set(_COMMENT_MARKS) | set(_INSTR) | set(_BREAKS)
           | {MC_FALLBACK, _P, _T, _TAB, _TBL, _TXBX, _SDT, _FLD_CHAR, _FLD_SIMPLE, _PSTYLE, _TAG, _BOOKMARK})


def paragraphs_of(root: Any, unmarked_tables: bool = True) -> PartText:
    """Every paragraph of a part's tree, with its visible text, tracked changes, comment anchors,
    style, kpiflow marks and fields, in one pass (each element that matters is visited twice, once
    entering and once leaving). Without ``unmarked_tables``, a table holding no kpiflow mark or content
    control is passed over (still a block, but its paragraphs not read): what the marked regions need."""
    from lxml import etree

    out = PartText()
    stack: list[tuple[Para, list[str], Any]] = []      # open paragraphs: record, text pieces, element
    controls: list[tuple[Any, tuple[str, str] | None, bool]] = []   # open content controls: (el, key, block)
    fields: list[list[str]] = []                       # open fields' instruction text
    hidden = tables = boxes = fallback = 0
    pending_marks: list[tuple[str, str]] = []          # bookmarks between paragraphs: for the next one
    body = root.find(f"{W}body")
    walk = etree.iterwalk(root, events=("start", "end"), tag=_WALKED)
    for event, el in walk:
        tag = el.tag
        if event == "end":
            if tag in _HIDDEN:
                hidden -= 1
            elif tag == MC_FALLBACK:
                fallback -= 1
            elif fallback:
                continue
            elif tag == _P:
                if stack and stack[-1][2] is el:
                    para, pieces, _ = stack.pop()
                    para.text = "".join(pieces)
            elif tag == _TBL:
                tables -= 1
            elif tag == _TXBX:
                boxes -= 1
            elif tag == _SDT and controls and controls[-1][0] is el:
                controls.pop()
            continue
        if tag == _T:
            if stack and not hidden and not fallback:
                stack[-1][1].append(el.text or "")
            continue
        if tag in CHANGE_TAGS:
            if stack:
                stack[-1][0].changes += 1
            else:
                out.loose_changes.append(len(out.paras) - 1 if out.paras else None)
        if tag in _HIDDEN:
            hidden += 1
        # fields are looked for everywhere, the fallback copy of a text box included
        if tag == _FLD_CHAR:
            kind = el.get(_FLD_TYPE)
            if kind == "begin":
                fields.append([])
            elif kind == "end" and fields:
                out.fields.append(("".join(fields.pop()), _at(stack, out)))
            continue
        if tag in _INSTR:
            if fields:
                fields[-1].append(el.text or "")
            else:
                out.fields.append((el.text or "", _at(stack, out)))
            continue
        if tag == _FLD_SIMPLE:
            out.fields.append((el.get(_INSTR_ATTR) or "", _at(stack, out)))
        if tag == MC_FALLBACK:
            fallback += 1
        if fallback:
            continue            # Word's copy of a text box for older readers: the same text again
        if tag == _P:
            para = Para(len(out.paras))
            para.block = not stack and not tables and not boxes and (el.getparent() is body or bool(
                controls and all(block for _, _, block in controls)))
            for _, key, block in reversed(controls):
                if key is not None and block:
                    para.control = key
                    break
            if pending_marks:
                para.marks += pending_marks
                pending_marks = []
            out.paras.append(para)
            if para.block:
                out.blocks.append(para.index)
            stack.append((para, [], el))
        elif tag == _TAB:
            if stack and el.getparent() is not None and el.getparent().tag == _R:
                stack[-1][1].append("\t")
        elif tag in _BREAKS:
            if stack and el.get(_TYPE) in (None, "textWrapping"):
                stack[-1][1].append("\n")
        elif tag == _TBL:
            if not stack and not tables and not boxes and el.getparent() is not None and (
                    el.getparent() is body or el.getparent().tag == _SDT_CONTENT):
                out.blocks.append(None)
            tables += 1
            if not unmarked_tables and not _marked(el):
                walk.skip_subtree()     # its end is still seen
        elif tag == _TXBX:
            boxes += 1
        elif tag in _DRAWINGS:
            if stack:
                stack[-1][0].drawing = True
        elif tag in _COMMENT_MARKS:
            if stack:
                stack[-1][0].comments += 1
        elif tag == _PSTYLE:
            if stack and el.getparent() is not None and el.getparent().getparent() is stack[-1][2]:
                stack[-1][0].style = el.get(_VAL, "")
        elif tag == _SDT:
            controls.append((el, None, not stack))
        elif tag == _TAG:
            parent = el.getparent()
            if controls and parent is not None and parent.tag == _SDT_PR and parent.getparent() is controls[-1][0]:
                m = TAG.fullmatch(el.get(_VAL, ""))
                if m:
                    key = (m[1], m[2])
                    controls[-1] = (controls[-1][0], key, controls[-1][2])
                    # the paragraph it starts at is the next one, or the one it sits in
                    out.controls.setdefault(key, []).append(len(out.paras) - 1 if stack else len(out.paras))
        elif tag == _BOOKMARK:
            name = el.get(_NAME, "")
            key = _bookmark_key(name)
            drafted = DRAFTED.fullmatch(name)
            if drafted:
                out.drafted.add(drafted[1])
            if key is not None:
                at = stack[-1][0].index if stack else len(out.paras)
                found = out.bookmarks.setdefault(key, [])
                if at not in found:       # Writer may write one mark twice in a paragraph
                    found.append(at)
                if stack:
                    stack[-1][0].marks.append(key)
                else:
                    pending_marks.append(key)
    while fields:
        out.fields.append(("".join(fields.pop()), len(out.paras) - 1 if out.paras else None))
    return out


def _marked(el: Any) -> bool:
    """Whether an element holds a content control or a kpiflow bookmark."""
    from lxml import etree

    global _MARKED_XPATH
    if _MARKED_XPATH is None:
        _MARKED_XPATH = etree.XPath("boolean(.//w:sdt | .//w:bookmarkStart[starts-with(@w:name, 'kpiflow')])",
                                    namespaces={"w": W[1:-1]})
    return bool(_MARKED_XPATH(el))


_MARKED_XPATH: Any = None


def _at(stack: list[tuple[Para, list[str], Any]], out: PartText) -> int | None:
    if stack:
        return stack[-1][0].index
    return len(out.paras) - 1 if out.paras else None


def _bookmark_key(name: str) -> tuple[str, str] | None:
    m = BOOKMARK.fullmatch(name) or BOOKMARK_COPY.fullmatch(name)
    return (m[1], m[2]) if m else None


@dataclass
class Harvest:
    """What the draft says, keyed by (indicator ID or bookmark anchor, kind)."""

    texts: dict[tuple[str, str], str] = field(default_factory=dict)
    paragraphs: dict[tuple[str, str], list[str]] = field(default_factory=dict)   # the same, paragraph by paragraph
    via: dict[tuple[str, str], str] = field(default_factory=dict)      # "content control" | "bookmark"
    # a region marked more than once: the paragraphs (0-based) where each of its marks sits
    duplicates: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    indices: dict[tuple[str, str], list[int]] = field(default_factory=dict)   # the region's paragraphs (0-based)

    def get(self, anchor: str, kind: str) -> str | None:
        return self.texts.get((anchor, kind))


MAX_REGION_CHARS = 20_000     # a commentary or response of a few pages; a return's text cell holds 10,000


def long_regions(marks: Harvest) -> list[tuple[str, str, int]]:
    """The marked regions holding more text than a report's commentary or response can, as
    (ID, kind, characters): carried into a draft they would stall LibreOffice's conversion."""
    return sorted((key, kind, len(text)) for (key, kind), text in marks.texts.items() if len(text) > MAX_REGION_CHARS)


def _join(paragraphs: list[str]) -> str:
    return "\n".join(t for t in paragraphs if t.strip()).strip()


def _is_boundary(p: Para) -> bool:
    return p.drawing or p.style in BOUNDARY_STYLES


def regions(part: PartText) -> Harvest:
    """The marked regions of a main document part read by ``paragraphs_of``.

    Walking the body's paragraphs in order: a label's mark, or a content control's tag, opens
    its region; a table, chart, label, heading or another region's mark closes it; the paragraphs
    between are its text. A mark in an ordinary paragraph (not a label) starts the region at that
    paragraph."""
    out = Harvest()
    # a label's bookmark names the region by the ID as a bookmark name can hold it; the content
    # control by the ID itself: one region
    alias = {(mark_anchor(iid), kind): (iid, kind) for iid, kind in part.controls}
    bookmarks: dict[tuple[str, str], list[int | None]] = {}
    for key, found in part.bookmarks.items():
        bookmarks.setdefault(alias.get(key, key), []).extend(found)
    members: dict[tuple[str, str], list[int]] = {}
    from_control: set[tuple[str, str]] = set()
    current: tuple[str, str] | None = None
    for b in part.blocks:
        if b is None:
            current = None
            continue
        p = part.paras[b]
        if p.marks:
            current = alias.get(p.marks[-1], p.marks[-1])
            if not _is_boundary(p):
                members.setdefault(current, []).append(b)
            continue
        if p.control is not None:
            current = p.control
            from_control.add(current)
        elif _is_boundary(p):
            current = None
            continue
        if current is not None:
            members.setdefault(current, []).append(b)
    for key in set(members) | set(bookmarks) | set(part.controls):
        indices = members.get(key, [])
        out.texts[key] = _join([part.paras[i].text for i in indices])
        out.indices[key] = indices
        out.paragraphs[key] = [part.paras[i].text.strip() for i in indices if part.paras[i].text.strip()]
        out.via[key] = "content control" if key in from_control else "bookmark"
        for found in (part.controls.get(key, []), bookmarks.get(key, [])):
            if len(found) > 1:
                out.duplicates[key] = sorted({*out.duplicates.get(key, []), *(i for i in found if i is not None)})
    return out


def read_document(docx: Path | Package, tables: bool = True) -> Any:
    """The main document part's root element, of a .docx or of a package already open
    (``kpiflow.docx.package.open_package``: read no further than its directory promised, damaged XML
    refused).

    Without ``tables``, each table is read as an empty ``w:tbl``: what the marked regions need (a
    table ends a region and is never part of one), without parsing what is most of a report, its
    tables. The contents are cut from the part's text before it is parsed, wherever that can be done
    exactly (``_without_tables``); otherwise the whole part is parsed, tables and all."""
    from kpiflow.docx.package import MAIN, Package

    if isinstance(docx, Package):
        if not tables and (cut := _without_tables(docx.read(MAIN))) is not None:
            try:
                return parse(cut)
            except (SyntaxError, ValueError):
                pass            # the whole part, read below, is refused as damaged
        return docx.xml(MAIN)
    with zipfile.ZipFile(docx) as zf:
        if tables:
            return read_part(zf, MAIN)
        data = zf.read(MAIN)
    if (cut := _without_tables(data)) is not None:
        try:
            return parse(cut)
        except (SyntaxError, ValueError):
            pass
    return parse(data)


_MAIN_NS = W[1:-1].encode()
# the part's start: an XML declaration naming no encoding but UTF-8, then the root element binding
# the prefix w to Word's main namespace (attribute values in quotes may hold ">", never "<")
_ROOT_START = re.compile(rb'\s*(?:<\?xml(?:\s+(?!encoding\b)[\w:.-]+\s*=\s*(?:"[^"<]*"|\'[^\'<]*\'))*'
                         rb'(?:\s+encoding\s*=\s*(?:"(?i:utf-?8)"|\'(?i:utf-?8)\'))?'
                         rb'(?:\s+(?!encoding\b)[\w:.-]+\s*=\s*(?:"[^"<]*"|\'[^\'<]*\'))*\s*\?>)?\s*'
                         rb'<w:document((?:\s+[^\s=/>]+\s*=\s*(?:"[^"<]*"|\'[^\'<]*\'))*)\s*>')
_ANY_W_BINDING = re.compile(rb"xmlns:w\s*=")
_W_BINDING = re.compile(rb'\sxmlns:w\s*=\s*(?:"' + re.escape(_MAIN_NS) + rb'"|\'' + re.escape(_MAIN_NS) + rb'\')')
# a table's start tag (attributes in full, so that a quoted ">" or "/>" cannot end it) or end tag
_TABLE_TAG = re.compile(rb'<w:tbl((?:\s+[^\s=/>]+\s*=\s*(?:"[^"<]*"|\'[^\'<]*\'))*)\s*(/?)>|</w:tbl\s*>')


def _without_tables(data: bytes) -> bytes | None:
    """The part's text with each outermost table's contents left out (``<w:tbl/>``), or None where
    that cannot be done exactly from the text: a part with no tables, in another encoding, with a
    comment, CDATA section, DOCTYPE or processing instruction (where "<w:tbl" could be text), with
    the prefix w bound anywhere but on the root, to anything but Word's main namespace, or whose
    tables' tags do not pair up. In text and attribute values "<" is always escaped, so every "<w:tbl"
    left is a table's tag."""
    declared = data[:64].lstrip().startswith(b"<?xml")
    if b"<w:tbl" not in data or b"<!" in data or data.count(b"<?") != declared \
            or len(_ANY_W_BINDING.findall(data)) != 1:
        return None
    root = _ROOT_START.match(data)
    if root is None or not _W_BINDING.search(root[1]):
        return None
    out: list[bytes] = []
    depth, kept = 0, 0
    for m in _TABLE_TAG.finditer(data, root.end()):
        if m[0].startswith(b"</"):
            depth -= 1
            if depth < 0:
                return None
            if depth == 0:
                kept = m.end()
        elif not depth:
            out += [data[kept:m.start()], b"<w:tbl/>"]
            kept = m.end()
            depth = 0 if m[2] else 1
        elif not m[2]:
            depth += 1
    if depth:
        return None
    out.append(data[kept:])
    return b"".join(out)


def harvest(docx: Path) -> Harvest:
    """The text of every marked region in the draft: by content-control tag where Word kept it,
    otherwise by the bookmark on its label."""
    return regions(paragraphs_of(read_document(docx)))
