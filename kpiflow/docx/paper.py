"""The paper as Cabinet will read it: a draft's body read as a sequence of what it shows (paragraphs outside the
marked regions, table cells, charts and pictures), each chart with what its cache and its embedded workbook
hold, for ``kpiflow.paper_check`` to compare with a fresh rendering from the store; and the published copy
written with the store's charts in place of the draft's.

Paragraphs are numbered as ``kpiflow.docx.harvest.paragraphs_of`` numbers them (every ``w:p`` of the part in
document order, Word's fallback copies of text boxes left out), so that a region's paragraphs and an item's
place are counted alike.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kpiflow.docx.harvest import MC_FALLBACK, Harvest, PartText, paragraphs_of, regions
from kpiflow.docx.xml import NS, W, parse, q

C = f"{{{NS['c']}}}"
A = f"{{{NS['a']}}}"
R_ID = f"{{{NS['r']}}}id"
R_EMBED = f"{{{NS['r']}}}embed"
RT_PACKAGE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/package"
SSML = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
MAX_WORKBOOK_BYTES = 8 * 1024 * 1024     # a chart's data: a few hundred cells


def norm(text: str) -> str:
    """Text as compared: runs of white space as one space (an office suite may respace a line)."""
    return " ".join(text.split())


@dataclass
class Item:
    """One thing the paper shows: a paragraph's text ("p"), a table cell ("cell"), a chart or a picture."""

    kind: str
    text: str
    para: int                     # the paragraph it is, or starts in (-1: a cell with no paragraph)
    table: int = -1               # the body's tables counted in order
    row: int = -1
    col: int = -1
    element: Any = None           # a drawing's wp:inline or wp:anchor
    style: str = ""

    def key(self) -> tuple[Any, ...]:
        """What two renderings must share to be the same item (a chart's contents are compared apart)."""
        if self.kind == "cell":
            return ("cell", self.row, self.col, self.text)
        if self.kind in ("chart", "picture"):
            return (self.kind,)
        return ("p", self.text)


@dataclass
class ChartData:
    """A chart part and what it holds."""

    part: str
    spec: Any                                   # kpiflow.report.context.ChartSpec
    workbook_part: str = ""
    workbook_rid: str = ""
    workbook: dict[str, str | float] | None = None   # cell reference -> value, None if there is none to read


@dataclass
class Paper:
    root: Any
    part: PartText
    marks: Harvest
    items: list[Item] = field(default_factory=list)
    in_regions: set[int] = field(default_factory=set)


def _under_fallback(el: Any) -> bool:
    return any(a.tag == MC_FALLBACK for a in el.iterancestors())


def read_paper(pkg: Any) -> Paper:
    """The draft's main document as items in reading order (see the module's notes). Paragraphs inside a marked
    region are the officer's and are left out; empty paragraphs are left out."""
    from kpiflow.docx.package import MAIN

    root = pkg.xml(MAIN)
    part = paragraphs_of(root)
    marks = regions(part)
    paper = Paper(root, part, marks)
    paper.in_regions = {i for found in marks.indices.values() for i in found}
    index: dict[Any, int] = {}
    for el in root.iter(f"{W}p"):
        if not _under_fallback(el):
            index[el] = len(index)
    if len(index) != len(part.paras):       # never expected: the same tree counted twice
        raise ValueError("the document's paragraphs could not be counted alike")
    tables = 0

    def para(p: Any) -> None:
        i = index.get(p)
        if i is None or i in paper.in_regions:
            return
        info = part.paras[i]
        text = norm(info.text)
        if text:
            paper.items.append(Item("p", text, i, style=info.style))
        for d in p.iter(q("wp:inline"), q("wp:anchor")):
            if _under_fallback(d):
                continue
            if next(d.iter(q("c:chart")), None) is not None:
                paper.items.append(Item("chart", "", i, element=d))
            elif next(d.iter(q("a:blip")), None) is not None:
                paper.items.append(Item("picture", "", i, element=d))

    def table(tbl: Any) -> None:
        nonlocal tables
        t = tables
        tables += 1
        for r, tr in enumerate(tbl.iterfind(f"{W}tr")):
            for c, tc in enumerate(tr.iterfind(f"{W}tc")):
                found = [index[p] for p in tc.iter(f"{W}p") if p in index]
                text = norm("\n".join(part.paras[i].text for i in found))
                paper.items.append(Item("cell", text, found[0] if found else -1, t, r, c))

    def walk(container: Any) -> None:
        for child in container:
            if child.tag == f"{W}p":
                para(child)
            elif child.tag == f"{W}tbl":
                table(child)
            elif child.tag == f"{W}sdt":
                content = child.find(f"{W}sdtContent")
                if content is not None:
                    walk(content)
            elif child.tag in (f"{W}customXml", f"{W}smartTag"):
                walk(child)

    body = root.find(f"{W}body")
    if body is not None:
        walk(body)
    return paper


def main_targets(pkg: Any) -> dict[str, str]:
    """The main document's relationships, id -> the part it points at (read once for all its charts)."""
    from kpiflow.docx.package import MAIN

    return {rid: str(target) for rid, _kind, target, external in pkg.relationships(MAIN) if not external}


def chart_data(pkg: Any, item: Item, targets: dict[str, str]) -> ChartData | None:
    """What a chart item's part holds: its cached title, categories and series, and its embedded workbook.
    ``targets``: the main document's relationships (``main_targets``)."""
    from kpiflow.docx.a11y import chart_spec_from_part

    ref = next(item.element.iter(q("c:chart")), None)
    name = targets.get(ref.get(R_ID, ""), "") if ref is not None else ""
    if not name or not pkg.has(name):
        return None
    out = ChartData(name, chart_spec_from_part(pkg.xml(name)))
    for rid, kind, target, external in pkg.relationships(name):
        if kind == RT_PACKAGE and not external and pkg.has(target):
            out.workbook_part, out.workbook_rid = target, rid
            out.workbook = workbook_cells(pkg.read(target))
            break
    return out


def picture_part(pkg: Any, item: Item, targets: dict[str, str]) -> str:
    blip = next(item.element.iter(q("a:blip")), None)
    name = targets.get(blip.get(R_EMBED, ""), "") if blip is not None else ""
    return name if name and pkg.has(name) else ""


def workbook_cells(data: bytes) -> dict[str, str | float] | None:
    """The cells of the first worksheet of an embedded workbook (numbers as numbers, text resolved from shared
    strings), read within bounds; None if it is not a workbook that can be read."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = {i.filename: i for i in zf.infolist()}
            if sum(i.file_size for i in infos.values()) > MAX_WORKBOOK_BYTES:
                return None
            sheets = sorted(n for n in infos if n.startswith("xl/worksheets/") and n.endswith(".xml"))
            if not sheets:
                return None
            shared: list[str] = []
            if "xl/sharedStrings.xml" in infos:
                for si in parse(zf.read("xl/sharedStrings.xml")).iter(f"{SSML}si"):
                    shared.append("".join(t.text or "" for t in si.iter(f"{SSML}t")))
            sheet = parse(zf.read(sheets[0]))
    except (zipfile.BadZipFile, OSError, ValueError, SyntaxError, KeyError, EOFError, NotImplementedError):
        return None
    out: dict[str, str | float] = {}
    for c in sheet.iter(f"{SSML}c"):
        ref, kind = c.get("r") or "", c.get("t") or "n"
        v = c.find(f"{SSML}v")
        if kind == "inlineStr":
            out[ref] = "".join(t.text or "" for t in c.iter(f"{SSML}t"))
        elif v is None or v.text is None:
            continue
        elif kind == "s":
            try:
                out[ref] = shared[int(v.text)]
            except (ValueError, IndexError):
                out[ref] = ""
        elif kind in ("str", "e", "b"):
            out[ref] = v.text
        else:
            try:
                out[ref] = float(v.text)
            except ValueError:
                out[ref] = v.text
    return out


def chart_for_draft(fresh_xml: bytes, workbook_rid: str) -> bytes:
    """The store's chart part, pointing at the draft's embedded workbook by the draft's relationship id (with
    none, the chart keeps its cached figures alone)."""
    from lxml import etree

    root = parse(fresh_xml)
    ext = root.find(f"{C}externalData")
    if ext is not None:
        if workbook_rid:
            ext.set(R_ID, workbook_rid)
        else:
            root.remove(ext)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True))


def write_with(src: Path, dest: Path | io.BytesIO, parts: dict[str, bytes]) -> None:
    """Write the package ``src`` to ``dest`` with ``parts`` replaced (each by its name)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as out:
        for item in zin.infolist():
            data = parts[item.filename] if item.filename in parts else zin.read(item.filename)
            out.writestr(item, data)


def serialise(root: Any) -> bytes:
    from lxml import etree

    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True))


def rels_name(part: str) -> str:
    folder, base = posixpath.split(part)
    return posixpath.join(folder, "_rels", f"{base}.rels")
