"""What a published Word document must offer a reader who uses assistive technology.

The Public Sector Bodies Accessibility Regulations 2018 (WCAG 2.2 AA) ask for a title, the
language, headings that are real headings in order, tables with marked header rows, and
alternative text on every picture and chart. These are the machine-checkable parts; reading order
and the sense of link text are left for a person to review.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

from kpiflow.docx.xml import W, q, read_part
from kpiflow.problems import DocumentAt, ValidationResult

LANGUAGE = "en-GB"
_HEADING_NAME = re.compile(r"^heading (\d)$", re.I)
_CORE = {"dc": "http://purl.org/dc/elements/1.1/",
         "cp": "http://schemas.openxmlformats.org/package/2006/metadata/core-properties"}


def _heading_levels(styles: Any) -> dict[str, int]:
    """Style id -> heading level: styles named "heading N" or with an outline level, and styles
    based on one of those."""
    own: dict[str, int] = {}
    based: dict[str, str] = {}
    for st in styles.iter(f"{W}style"):
        sid = st.get(f"{W}styleId") or ""
        name = st.find(f"{W}name")
        m = _HEADING_NAME.match(name.get(f"{W}val", "") if name is not None else "")
        lvl = st.find(f"{W}pPr/{W}outlineLvl")
        if m:
            own[sid] = int(m.group(1))
        elif lvl is not None and (lvl.get(f"{W}val") or "").isdigit() and int(lvl.get(f"{W}val") or 9) < 9:
            own[sid] = int(lvl.get(f"{W}val") or 0) + 1
        base = st.find(f"{W}basedOn")
        if base is not None:
            based[sid] = base.get(f"{W}val") or ""
    levels = dict(own)
    for sid in based:
        seen, cur = set(), sid
        while cur in based and cur not in own and cur not in seen:
            seen.add(cur)
            cur = based[cur]
        if cur in own and sid not in levels:
            levels[sid] = own[cur]
    return levels


def _default_language(styles: Any) -> str:
    lang = styles.find(f"{W}docDefaults/{W}rPrDefault/{W}rPr/{W}lang")
    return (lang.get(f"{W}val") or "") if lang is not None else ""


def _text(p: Any) -> str:
    return "".join(t.text or "" for t in p.iter(f"{W}t"))


def check_document(path: Path | BinaryIO, result: ValidationResult, *, template: bool = False,
                   descriptions: dict[str, str] | None = None, name: str = "") -> None:
    """Add a Problem for each accessibility failure of the .docx at ``path``.

    ``template``: a report template, whose title is set when a draft is made and whose tags stand
    in for text. ``descriptions`` (description -> indicator ID) places each problem under the
    exception it is in."""
    with zipfile.ZipFile(path) as z:
        body = read_part(z, "word/document.xml")
        styles = read_part(z, "word/styles.xml") if "word/styles.xml" in z.namelist() else None
        core = read_part(z, "docProps/core.xml") if "docProps/core.xml" in z.namelist() else None
    sheet = name or (path.name if isinstance(path, Path) else "document")
    if not template:
        title = core.find("dc:title", _CORE) if core is not None else None
        if title is None or not (title.text or "").strip():
            result.error("no-title", "The document has no title. Set it in File > Properties > Title (kpiflow sets "
                         "it when it makes a draft: make the draft again if it was removed).", at=DocumentAt(sheet))
    lang = _default_language(styles) if styles is not None else ""
    if lang != LANGUAGE:
        result.error("wrong-language", f"The document's language is {lang or 'not set'}, not English (UK). Set it "
                     "in the Normal style's language, or restore the shipped template's styles.", at=DocumentAt(sheet))
    levels = _heading_levels(styles) if styles is not None else {}
    descriptions = descriptions or {}
    owner, last_level, n = "", 0, 0
    for el in body.iter(f"{W}p", f"{W}tbl"):
        if el.tag == f"{W}tbl":
            first = el.find(f"{W}tr")
            if first is not None and first.find(f"{W}trPr/{W}tblHeader") is None:
                result.error("table-no-header", f"A table (paragraph {n}) has no header row: select its first row "
                             "and set Table Properties > Row > Repeat as header row at the top of each page.",
                             indicator_id=owner, at=DocumentAt(owner or sheet, f"paragraph {n}"))
            continue
        n += 1
        text = _text(el).strip()
        owner = descriptions.get(text, owner)
        style = el.find(f"{W}pPr/{W}pStyle")
        level = levels.get(style.get(f"{W}val") or "") if style is not None else None
        if level is not None:
            if not text:
                result.error("empty-heading", f"Paragraph {n} is an empty heading: screen readers announce it as a "
                             "heading with nothing in it. Delete it or give it the Normal style.",
                             indicator_id=owner, at=DocumentAt(owner or sheet, f"paragraph {n}"))
            elif level > last_level + 1:
                result.error("heading-skipped", f'The heading "{text[:60]}" (paragraph {n}) is level {level} after '
                             f"level {last_level}: headings must not skip a level. Use Heading {last_level + 1}.",
                             indicator_id=owner, at=DocumentAt(owner or sheet, f"paragraph {n}"))
            if text:
                last_level = level
        for doc_pr in el.iter(q("wp:docPr")):
            if not (doc_pr.get("descr") or doc_pr.get("title") or "").strip():
                result.error("missing-alt-text", f"A picture or chart (paragraph {n}) has no alternative text. "
                             "Right-click it, choose Edit Alt Text, and say what it shows and its latest figures.",
                             indicator_id=owner, at=DocumentAt(owner or sheet, f"paragraph {n}"))


def set_properties(document: Any, title: str, author: str) -> None:
    """Core properties for a draft: its title (shown by PDF viewers), author and language."""
    import datetime as dt

    from kpiflow.docx.props import set_core_properties

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    set_core_properties(document.part.package, {
        "title": title, "subject": title, "creator": author, "last_modified_by": author, "description": None,
        "language": LANGUAGE, "created": now, "modified": now, "revision": "1"})


def chart_spec_from_part(chart: Any) -> Any:
    """What a chart part shows, read back from its own XML (title, series names, categories and
    cached values), as a ChartSpec: Word and LibreOffice keep these however the chart was edited."""
    from kpiflow.docx.charts import ChartSpec

    c, a = "{http://schemas.openxmlformats.org/drawingml/2006/chart}", \
        "{http://schemas.openxmlformats.org/drawingml/2006/main}"
    title_el = chart.find(f"{c}chart/{c}title")
    title = "".join(t.text or "" for t in title_el.iter(f"{a}t")) if title_el is not None else ""
    kind = "column" if chart.find(f".//{c}barChart") is not None else "line"
    categories: list[str] = []
    series: list[tuple[str, tuple[float | None, ...]]] = []
    number_format = "General"
    for ser in chart.iter(f"{c}ser"):
        name = "".join(v.text or "" for v in ser.iterfind(f"{c}tx//{c}v"))
        cat_pts = ser.findall(f"{c}cat//{c}pt")
        if cat_pts and not categories:
            size = max(int(p.get("idx", "0")) for p in cat_pts) + 1
            cats = [""] * size
            for p in cat_pts:
                cats[int(p.get("idx", "0"))] = "".join(v.text or "" for v in p.iterfind(f"{c}v"))
            categories = cats
        fmt_code = ser.find(f"{c}val//{c}formatCode")
        if fmt_code is not None and (fmt_code.text or "") == "0.0":
            number_format = "0.0"
        values: dict[int, float] = {}
        for p in ser.iterfind(f"{c}val//{c}pt"):
            try:
                values[int(p.get("idx", "0"))] = float("".join(v.text or "" for v in p.iterfind(f"{c}v")))
            except ValueError:
                continue
        series.append((name, tuple(values.get(i) for i in range(len(categories)))))
    axis = chart.find(f".//{c}valAx/{c}numFmt")
    if axis is not None and axis.get("formatCode") == "0.0":
        number_format = "0.0"      # LibreOffice keeps the axis format, and writes General on the series
    return ChartSpec(title, tuple(categories), tuple(series), kind, "", number_format)


def restore_chart_alt_text(src: Path, dest: Path | BinaryIO) -> int:
    """Write ``src`` to ``dest`` with alternative text on every chart that has lost it (LibreOffice
    Writer drops it when it saves a .docx), said from what the chart part itself shows. Pictures
    are left alone: only a person can say what a picture shows. Returns how many were restored."""
    from lxml import etree

    from kpiflow.docx.charts import describe

    rels_ns = "{http://schemas.openxmlformats.org/package/2006/relationships}"
    r_id = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    with zipfile.ZipFile(src) as z:
        body = read_part(z, "word/document.xml")
        rels = read_part(z, "word/_rels/document.xml.rels")
        targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{rels_ns}Relationship")}
        restored = 0
        for inline in body.iter(q("wp:inline"), q("wp:anchor")):
            doc_pr = inline.find(q("wp:docPr"))
            chart_ref = next(inline.iter(q("c:chart")), None)
            if doc_pr is None or chart_ref is None or (doc_pr.get("descr") or doc_pr.get("title") or "").strip():
                continue
            target = targets.get(chart_ref.get(r_id), "")
            part = "word/" + target.lstrip("/").removeprefix("word/")
            if not target or part not in z.namelist():
                continue
            spec = chart_spec_from_part(read_part(z, part))
            if spec.categories and spec.series:
                doc_pr.set("descr", describe(spec))
                restored += 1
        with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as out:
            for item in z.infolist():
                data = z.read(item.filename)
                if item.filename == "word/document.xml" and restored:
                    data = etree.tostring(body, xml_declaration=True, encoding="UTF-8", standalone=True)
                out.writestr(item, data)
    return restored
