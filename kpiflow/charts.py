"""Native, editable Word charts.

A chart is stored the way Word itself stores one: a DrawingML chart part
(``/word/charts/chartN.xml``) carrying a cached copy of the data, an embedded
xlsx workbook related from it (so "Edit Data" works in Word and LibreOffice),
and an inline ``w:drawing`` in the body that points at the chart part.  Word,
LibreOffice and PDF exports therefore render a real chart rather than a
picture, and the figures stay inspectable by whoever receives the report.
"""

from __future__ import annotations

import io
import math
import posixpath
import re
import weakref
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from docx.text.paragraph import Paragraph

__all__ = ["ChartInfo", "ChartSpec", "add_native_chart", "chart_parts"]

_NS = {
    "a": "http://schemas.openxmlformats.org/drawingml/2006/main",
    "c": "http://schemas.openxmlformats.org/drawingml/2006/chart",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "wp": "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing",
}
_PKG_RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
_CHART_URI = "http://schemas.openxmlformats.org/drawingml/2006/chart"
_CHART_CT = "application/vnd.openxmlformats-officedocument.drawingml.chart+xml"
_XLSX_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_RT_OFFICE_DOCUMENT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"

_EMU_PER_CM = 360000
_KINDS = ("line", "column")
_SHEET = "Sheet1"
_GRIDLINE_RGB = "D9D9D9"
CHART_FONT = "Arial"  # the report template's body font

# Characters outside the XML 1.0 Char production (control characters, lone
# surrogates, U+FFFE/U+FFFF) cannot be serialised at all, so they are dropped
# rather than allowed to corrupt the package.
_XML_ILLEGAL = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")



@dataclass(frozen=True)
class ChartSpec:
    """What to draw. Values of ``None`` (or NaN/inf) are left as gaps."""

    title: str
    categories: tuple[str, ...]
    series: tuple[tuple[str, tuple[float | None, ...]], ...]
    kind: str = "line"
    y_title: str = ""
    number_format: str = "General"


@dataclass(frozen=True)
class ChartInfo:
    """A chart as found in a saved .docx, read from its cached XML and workbook."""

    partname: str
    title: str
    kind: str
    series_names: tuple[str, ...]
    categories: tuple[str, ...]
    values: tuple[tuple[float | None, ...], ...]
    has_workbook: bool
    workbook_rows: list[tuple[Any, ...]]


# ---------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------


def add_native_chart(
    paragraph: Paragraph,
    spec: ChartSpec,
    width_cm: float = 15.0,
    height_cm: float = 7.5,
) -> None:
    """Append a native chart to the paragraph (a new run holding a w:drawing)."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.opc.part import Part, XmlPart
    from docx.oxml.parser import parse_xml

    clean = _clean_spec(spec)
    if not (math.isfinite(width_cm) and math.isfinite(height_cm)) or width_cm <= 0 or height_cm <= 0:
        raise ValueError(f"chart size must be positive, got {width_cm} x {height_cm} cm")

    # The paragraph of a docxtpl subdoc reports the template's main document
    # part here, which is where the chart relationship has to live.
    doc_part = paragraph.part
    package = doc_part.package

    from docx.opc.packuri import PackURI

    state = _state(package, paragraph)
    state.charts += 1
    state.workbooks += 1
    chart_element = _chart_element(clean)
    chart_part = XmlPart(PackURI(f"/word/charts/chart{state.charts}.xml"), _CHART_CT, chart_element, package)
    chart_rid = doc_part.relate_to(chart_part, RT.CHART)
    workbook_part = Part(
        PackURI(f"/word/embeddings/Microsoft_Excel_Worksheet{state.workbooks}.xlsx"),
        _XLSX_CT,
        _workbook_blob(clean),
        package,
    )
    workbook_rid = chart_part.relate_to(workbook_part, RT.PACKAGE)
    _set_external_data(chart_element, workbook_rid)

    state.docpr += 1
    docpr_id = state.docpr
    inline = parse_xml(
        _inline_xml(
            chart_rid,
            docpr_id,
            round(width_cm * _EMU_PER_CM),
            round(height_cm * _EMU_PER_CM),
        )
    )
    doc_pr = inline.find(f"{{{_NS['wp']}}}docPr")
    if clean.title:
        # Alt text: screen readers announce the chart by its title.
        doc_pr.set("descr", clean.title)
    run = paragraph.add_run()
    run._r.add_drawing(inline)


def _clean_text(text: str) -> str:
    return _XML_ILLEGAL.sub("", str(text))


def _clean_value(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _clean_spec(spec: ChartSpec) -> ChartSpec:
    if spec.kind not in _KINDS:
        raise ValueError(f"unsupported chart kind {spec.kind!r}; expected one of {_KINDS}")
    if not spec.categories:
        raise ValueError("a chart needs at least one category")
    if not spec.series:
        raise ValueError("a chart needs at least one series")
    series: list[tuple[str, tuple[float | None, ...]]] = []
    for name, values in spec.series:
        if len(values) != len(spec.categories):
            raise ValueError(
                f"series {name!r} has {len(values)} values for {len(spec.categories)} categories"
            )
        series.append((_clean_text(name), tuple(_clean_value(v) for v in values)))
    return ChartSpec(
        title=_clean_text(spec.title),
        categories=tuple(_clean_text(c) for c in spec.categories),
        series=tuple(series),
        kind=spec.kind,
        y_title=_clean_text(spec.y_title),
        number_format=_clean_text(spec.number_format) or "General",
    )


def _col(n: int) -> str:
    """Spreadsheet column letters for a 0-based column index."""
    letters = ""
    n += 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _base_chart_xml(spec: ChartSpec) -> str:
    """The plain DrawingML chart (the layout Office writes for a new chart), referring to the embedded
    workbook's cells and caching their values. Written directly: generating it through a
    presentation library costs more than everything else a report chart needs."""
    from xml.sax.saxutils import escape

    n = len(spec.categories)
    last = n + 1

    def str_cache(values: Sequence[str]) -> str:
        pts = "".join(f'<c:pt idx="{i}"><c:v>{escape(v)}</c:v></c:pt>' for i, v in enumerate(values))
        return f'<c:strCache><c:ptCount val="{len(values)}"/>{pts}</c:strCache>'

    cats = f"<c:cat><c:strRef><c:f>{_SHEET}!$A$2:$A${last}</c:f>{str_cache(spec.categories)}</c:strRef></c:cat>"
    series = []
    for i, (name, values) in enumerate(spec.series):
        col = _col(i + 1)
        pts = "".join(f'<c:pt idx="{j}"><c:v>{v!r}</c:v></c:pt>' for j, v in enumerate(values) if v is not None)
        series.append(
            f'<c:ser><c:idx val="{i}"/><c:order val="{i}"/>'
            f"<c:tx><c:strRef><c:f>{_SHEET}!${col}$1</c:f>{str_cache([name])}</c:strRef></c:tx>{cats}"
            f"<c:val><c:numRef><c:f>{_SHEET}!${col}$2:${col}${last}</c:f><c:numCache>"
            f'<c:formatCode>General</c:formatCode><c:ptCount val="{n}"/>{pts}</c:numCache></c:numRef></c:val>'
            + ('<c:smooth val="0"/>' if spec.kind == "line" else "") + "</c:ser>")
    ax = '<c:axId val="2118791784"/><c:axId val="2140495176"/>'
    if spec.kind == "line":
        plot = (f'<c:lineChart><c:grouping val="standard"/><c:varyColors val="0"/>{"".join(series)}'
                f'<c:marker val="1"/>{ax}</c:lineChart>')
    else:
        plot = f'<c:barChart><c:barDir val="col"/><c:grouping val="clustered"/>{"".join(series)}{ax}</c:barChart>'
    return (
        f'<c:chartSpace xmlns:c="{_NS["c"]}" xmlns:a="{_NS["a"]}" xmlns:r="{_NS["r"]}">'
        '<c:date1904 val="0"/><c:chart><c:autoTitleDeleted val="0"/><c:plotArea>'
        f"{plot}"
        '<c:catAx><c:axId val="2118791784"/><c:scaling><c:orientation val="minMax"/></c:scaling>'
        '<c:delete val="0"/><c:axPos val="b"/><c:majorTickMark val="out"/><c:minorTickMark val="none"/>'
        '<c:tickLblPos val="nextTo"/><c:crossAx val="2140495176"/><c:crosses val="autoZero"/><c:auto val="1"/>'
        '<c:lblAlgn val="ctr"/><c:lblOffset val="100"/><c:noMultiLvlLbl val="0"/></c:catAx>'
        '<c:valAx><c:axId val="2140495176"/><c:scaling><c:orientation val="minMax"/></c:scaling>'
        '<c:delete val="0"/><c:axPos val="l"/><c:majorGridlines/><c:majorTickMark val="out"/>'
        '<c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/><c:crossAx val="2118791784"/>'
        '<c:crosses val="autoZero"/><c:crossBetween val="between"/></c:valAx></c:plotArea>'
        '<c:legend><c:legendPos val="r"/><c:overlay val="0"/></c:legend><c:plotVisOnly val="1"/>'
        '<c:dispBlanksAs val="gap"/></c:chart>'
        '<c:txPr><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr sz="1800"/></a:pPr><a:endParaRPr lang="en-GB"/>'
        "</a:p></c:txPr></c:chartSpace>"
    )


def _chart_element(spec: ChartSpec) -> Any:
    """The c:chartSpace root, styled for an A4 report page."""
    from docx.oxml.parser import parse_xml

    root = parse_xml(_base_chart_xml(spec).encode("utf-8"))

    for format_code in root.iter(_q("c:formatCode")):
        format_code.text = spec.number_format

    _set_chart_space_look(root)
    chart = root.find(_q("c:chart"))
    _set_title(chart, spec.title)
    plot_area = chart.find(_q("c:plotArea"))
    _set_legend(chart, plot_area)
    if spec.kind == "line":
        _style_line_chart(plot_area.find(_q("c:lineChart")))
    else:
        _style_bar_chart(plot_area.find(_q("c:barChart")))
    _style_axes(plot_area, spec)
    return root


def _q(tag: str) -> str:
    prefix, local = tag.split(":")
    return f"{{{_NS[prefix]}}}{local}"


def _sub(parent: Any, tag: str, index: int | None = None, **attrs: str) -> Any:
    """Create ``tag`` under ``parent`` (appended, or inserted at ``index``)."""
    from lxml import etree  # type: ignore[import-untyped, unused-ignore]

    element = etree.Element(_q(tag), dict(attrs))
    if index is None:
        parent.append(element)
    else:
        parent.insert(index, element)
    return element


def _remove_all(parent: Any, tag: str) -> None:
    for element in parent.findall(_q(tag)):
        parent.remove(element)


def _text_props(parent: Any, size: int, bold: bool = False, rotate: int | None = None) -> Any:
    """A ``c:txPr``/``c:rich``-style body: bodyPr, lstStyle and a paragraph default run."""
    body_pr = _sub(parent, "a:bodyPr")
    if rotate is not None:
        body_pr.set("rot", str(rotate))
        body_pr.set("vert", "horz")
    _sub(parent, "a:lstStyle")
    paragraph = _sub(parent, "a:p")
    p_pr = _sub(paragraph, "a:pPr")
    def_rpr = _sub(p_pr, "a:defRPr", sz=str(size), b="1" if bold else "0")
    _sub(def_rpr, "a:latin", typeface=CHART_FONT)
    return paragraph


def _rich_text(parent: Any, text: str, size: int, bold: bool, rotate: int | None = None) -> None:
    tx = _sub(parent, "c:tx")
    rich = _sub(tx, "c:rich")
    paragraph = _text_props(rich, size, bold, rotate)
    run = _sub(paragraph, "a:r")
    r_pr = _sub(run, "a:rPr", lang="en-GB", sz=str(size), b="1" if bold else "0")
    _sub(r_pr, "a:latin", typeface=CHART_FONT)
    _sub(run, "a:t").text = text


def _set_chart_space_look(root: Any) -> None:
    # c:chartSpace children are order-sensitive: date1904, lang, roundedCorners,
    # AlternateContent, style, clrMapOvr, pivotSource, protection, chart, spPr,
    # txPr, externalData, printSettings, userShapes, extLst.
    _remove_all(root, "c:roundedCorners")
    anchor = root.find(_q("c:lang"))
    if anchor is None:
        anchor = root.find(_q("c:date1904"))
    index = 0 if anchor is None else list(root).index(anchor) + 1
    _sub(root, "c:roundedCorners", index=index, val="0")

    _remove_all(root, "c:spPr")
    _remove_all(root, "c:txPr")
    chart = root.find(_q("c:chart"))
    index = list(root).index(chart) + 1
    sp_pr = _sub(root, "c:spPr", index=index)
    _sub(sp_pr, "a:noFill")
    _sub(_sub(sp_pr, "a:ln"), "a:noFill")
    tx_pr = _sub(root, "c:txPr", index=index + 1)
    _text_props(tx_pr, 900)


def _set_title(chart: Any, title: str) -> None:
    _remove_all(chart, "c:title")
    auto_deleted = chart.find(_q("c:autoTitleDeleted"))
    if auto_deleted is None:
        auto_deleted = _sub(chart, "c:autoTitleDeleted", index=0)
    # Without an explicit "deleted" flag Word invents a title from the series
    # name on single-series charts.
    auto_deleted.set("val", "0" if title else "1")
    if title:
        element = _sub(chart, "c:title", index=0)
        _rich_text(element, title, 1000, bold=True)
        _sub(element, "c:overlay", val="0")


def _set_legend(chart: Any, plot_area: Any) -> None:
    from lxml import etree  # type: ignore[import-untyped, unused-ignore]

    _remove_all(chart, "c:legend")
    legend = etree.Element(_q("c:legend"))
    _sub(legend, "c:legendPos", val="b")
    _sub(legend, "c:overlay", val="0")
    plot_area.addnext(legend)


def _insert_after_tx(series: Any, element: Any) -> None:
    anchor = series.find(_q("c:spPr"))
    if anchor is None:
        anchor = series.find(_q("c:tx"))
    if anchor is None:
        anchor = series.find(_q("c:order"))
    anchor.addnext(element)


def _style_line_chart(line_chart: Any) -> None:
    from lxml import etree  # type: ignore[import-untyped, unused-ignore]

    for series in line_chart.findall(_q("c:ser")):
        _remove_all(series, "c:marker")
        marker = etree.Element(_q("c:marker"))
        _sub(marker, "c:symbol", val="circle")
        _sub(marker, "c:size", val="5")
        _insert_after_tx(series, marker)


def _style_bar_chart(bar_chart: Any) -> None:
    from lxml import etree  # type: ignore[import-untyped, unused-ignore]

    # An absent c:varyColors is read as "true" by LibreOffice, which would
    # colour every column of a single-series chart differently.
    if bar_chart.find(_q("c:varyColors")) is None:
        grouping = bar_chart.find(_q("c:grouping"))
        vary = etree.Element(_q("c:varyColors"), val="0")
        grouping.addnext(vary)
    for series in bar_chart.findall(_q("c:ser")):
        if series.find(_q("c:invertIfNegative")) is None:
            _insert_after_tx(series, etree.Element(_q("c:invertIfNegative"), val="0"))
    if bar_chart.find(_q("c:gapWidth")) is None:
        # barChart order: ... ser, dLbls, gapWidth, overlap, serLines, axId.
        anchor = bar_chart.find(_q("c:overlap"))
        if anchor is None:
            anchor = bar_chart.find(_q("c:serLines"))
        if anchor is None:
            anchor = bar_chart.find(_q("c:axId"))
        anchor.addprevious(etree.Element(_q("c:gapWidth"), val="80"))


def _style_axes(plot_area: Any, spec: ChartSpec) -> None:
    from lxml import etree  # type: ignore[import-untyped, unused-ignore]

    val_ax = plot_area.find(_q("c:valAx"))
    scaling = val_ax.find(_q("c:scaling"))
    if scaling.find(_q("c:orientation")) is None:
        _sub(scaling, "c:orientation", val="minMax")

    gridlines = val_ax.find(_q("c:majorGridlines"))
    if gridlines is not None:
        _remove_all(gridlines, "c:spPr")
        sp_pr = _sub(gridlines, "c:spPr")
        line = _sub(sp_pr, "a:ln", w="6350")
        _sub(_sub(line, "a:solidFill"), "a:srgbClr", val=_GRIDLINE_RGB)
        anchor = gridlines
    else:
        anchor = val_ax.find(_q("c:axPos"))

    # valAx order: ... axPos, majorGridlines, minorGridlines, title, numFmt, majorTickMark ...
    _remove_all(val_ax, "c:title")
    _remove_all(val_ax, "c:numFmt")
    num_fmt = etree.Element(
        _q("c:numFmt"),
        formatCode=spec.number_format,
        sourceLinked="1" if spec.number_format == "General" else "0",
    )
    anchor.addnext(num_fmt)
    if spec.y_title:
        title = etree.Element(_q("c:title"))
        _rich_text(title, spec.y_title, 900, bold=False, rotate=-5400000)
        _sub(title, "c:overlay", val="0")
        anchor.addnext(title)


def _set_external_data(root: Any, rid: str) -> None:
    from lxml import etree  # type: ignore[import-untyped, unused-ignore]

    _remove_all(root, "c:externalData")
    external = etree.Element(_q("c:externalData"))
    external.set(_q("r:id"), rid)
    _sub(external, "c:autoUpdate", val="0")
    # Schema position: after txPr (or spPr / chart), before printSettings,
    # userShapes and extLst.
    anchor = None
    for tag in ("c:chart", "c:spPr", "c:txPr"):
        found = root.find(_q(tag))
        if found is not None:
            anchor = found
    if anchor is None:
        root.append(external)
    else:
        anchor.addnext(external)


_XLSX_STATIC = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'officeDocument" Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f'<sheets><sheet name="{_SHEET}" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'worksheet" Target="worksheets/sheet1.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'styles" Target="styles.xml"/></Relationships>'
    ),
}


def _workbook_blob(spec: ChartSpec) -> bytes:
    """The embedded workbook, laid out as the chart's c:f references expect: categories in
    column A from row 2, one series per column from B with its name in row 1.

    Written directly as SpreadsheetML (a chart needs one small sheet, and a spreadsheet library
    costs more than the chart itself). Every label is an inline string, so text from user data
    that starts with "=" or looks like a URL or a number stays plain text."""
    from xml.sax.saxutils import escape, quoteattr

    def text(ref: str, value: str) -> str:
        return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(value)}</t></is></c>'

    rows = ['<row r="1">' + "".join(text(f"{_col(c)}1", name) for c, (name, _) in enumerate(spec.series, start=1))
            + "</row>"]
    for r, category in enumerate(spec.categories, start=2):
        cells = [text(f"A{r}", category)]
        for c, (_, values) in enumerate(spec.series, start=1):
            v = values[r - 2]
            cells.append(f'<c r="{_col(c)}{r}" s="1"/>' if v is None else f'<c r="{_col(c)}{r}" s="1"><v>{v!r}</v></c>')
        rows.append(f'<row r="{r}">' + "".join(cells) + "</row>")
    widest = min(max([10, *(len(c) + 2 for c in spec.categories)]), 60)
    widths = [f'<col min="1" max="1" width="{widest}" customWidth="1"/>']
    widths += [f'<col min="{c + 1}" max="{c + 1}" width="{min(max(10, len(name) + 2), 60)}" customWidth="1"/>'
               for c, (name, _) in enumerate(spec.series, start=1)]
    sheet = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             f"<cols>{''.join(widths)}</cols><sheetData>{''.join(rows)}</sheetData></worksheet>")
    styles = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
              '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
              f'<numFmts count="1"><numFmt numFmtId="164" formatCode={quoteattr(spec.number_format)}/></numFmts>'
              '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
              '<fills count="2"><fill><patternFill patternType="none"/></fill>'
              '<fill><patternFill patternType="gray125"/></fill></fills>'
              '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
              '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
              '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
              '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
              '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
              "</styleSheet>")
    buffer = io.BytesIO()
    # stored, not deflated: the .docx that holds it is compressed as a whole
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for name, xml in (*_XLSX_STATIC.items(), ("xl/worksheets/sheet1.xml", sheet), ("xl/styles.xml", styles)):
            zf.writestr(name, xml)
    return buffer.getvalue()


@dataclass
class _PackageState:
    """The highest chart, workbook and drawing numbers used in a package. Found by one scan of
    the package the first time a chart is added to it, then counted up, so that adding many
    charts costs the same per chart."""

    charts: int
    workbooks: int
    docpr: int


_states: weakref.WeakKeyDictionary[Any, _PackageState] = weakref.WeakKeyDictionary()
_NUMBERED = re.compile(r"/word/(charts/chart|embeddings/Microsoft_Excel_Worksheet)(\d+)\.")


def _state(package: Any, paragraph: Paragraph) -> _PackageState:
    state = _states.get(package)
    if state is not None:
        return state
    from lxml import etree  # type: ignore[import-untyped, unused-ignore]

    charts = workbooks = 0
    trees = [paragraph._p.getroottree().getroot()]
    for part in package.iter_parts():
        m = _NUMBERED.match(str(part.partname))
        if m:
            if m[1].startswith("charts"):
                charts = max(charts, int(m[2]))
            else:
                workbooks = max(workbooks, int(m[2]))
        element = getattr(part, "element", None)
        if element is not None:
            trees.append(element)
    # A compiled XPath works on python-docx's element classes, whose own
    # xpath() does not accept a namespace map.
    docpr_ids = etree.XPath("//wp:docPr/@id", namespaces={"wp": _NS["wp"]})
    seen = [0]
    for tree in trees:
        seen += [int(v) for v in docpr_ids(tree) if str(v).isdigit()]
    state = _PackageState(charts, workbooks, max(seen))
    _states[package] = state
    return state


def _inline_xml(rid: str, docpr_id: int, cx: int, cy: int) -> str:
    # Namespaces are declared on wp:inline itself because docxtpl moves subdoc
    # bodies around as text, dropping declarations made on ancestors.
    decls = " ".join(f'xmlns:{p}="{_NS[p]}"' for p in ("wp", "a", "c", "r"))
    return (
        f'<wp:inline {decls} distT="0" distB="0" distL="0" distR="0">'
        f'<wp:extent cx="{cx}" cy="{cy}"/>'
        '<wp:effectExtent l="0" t="0" r="0" b="0"/>'
        f'<wp:docPr id="{docpr_id}" name="Chart {docpr_id}"/>'
        "<wp:cNvGraphicFramePr/>"
        f'<a:graphic><a:graphicData uri="{_CHART_URI}">'
        f'<c:chart r:id="{rid}"/>'
        "</a:graphicData></a:graphic>"
        "</wp:inline>"
    )


# ---------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------


def chart_parts(docx_path: str | Path) -> list[ChartInfo]:
    """Read back the charts in a .docx.

    Charts referenced from the main document come first, in the order they
    appear there; any other chart parts follow in part-name order.
    """
    with zipfile.ZipFile(docx_path) as archive:
        names = set(archive.namelist())
        content_types = _parse(archive.read("[Content_Types].xml"))
        chart_names = [
            str(override.get("PartName", "")).lstrip("/")
            for override in content_types.iter(f"{{{_CT_NS}}}Override")
            if override.get("ContentType") == _CHART_CT
        ]
        chart_names = [name for name in chart_names if name in names]

        ordered = _charts_in_document_order(archive, names)
        ordered = [name for name in ordered if name in chart_names]
        ordered += sorted(set(chart_names) - set(ordered), key=_natural_key)

        return [_read_chart(archive, names, name) for name in ordered]


def _parse(blob: bytes) -> Any:
    from lxml import etree  # type: ignore[import-untyped, unused-ignore]

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(blob, parser)


def _natural_key(name: str) -> tuple[Any, ...]:
    return tuple(int(piece) if piece.isdigit() else piece for piece in re.split(r"(\d+)", name))


def _rels_name(partname: str) -> str:
    directory, base = posixpath.split(partname)
    return posixpath.join(directory, "_rels", base + ".rels")


def _relationships(archive: zipfile.ZipFile, names: set[str], partname: str) -> dict[str, tuple[str, str]]:
    """rId -> (type, resolved part name, or "" for external targets)."""
    rels_name = "_rels/.rels" if partname == "" else _rels_name(partname)
    if rels_name not in names:
        return {}
    result: dict[str, tuple[str, str]] = {}
    base = posixpath.dirname(partname)
    for rel in _parse(archive.read(rels_name)).iter(f"{{{_PKG_RELS_NS}}}Relationship"):
        target = str(rel.get("Target", ""))
        if rel.get("TargetMode") == "External":
            resolved = ""
        elif target.startswith("/"):
            resolved = target.lstrip("/")
        else:
            resolved = posixpath.normpath(posixpath.join(base, target))
        result[str(rel.get("Id"))] = (str(rel.get("Type")), resolved)
    return result


def _charts_in_document_order(archive: zipfile.ZipFile, names: set[str]) -> list[str]:
    main = next(
        (
            target
            for kind, target in _relationships(archive, names, "").values()
            if kind == _RT_OFFICE_DOCUMENT
        ),
        "",
    )
    if not main or main not in names:
        return []
    rels = _relationships(archive, names, main)
    ordered: list[str] = []
    for element in _parse(archive.read(main)).iter(_q("c:chart")):
        target = rels.get(str(element.get(_q("r:id"))), ("", ""))[1]
        if target and target not in ordered:
            ordered.append(target)
    return ordered


def _read_chart(archive: zipfile.ZipFile, names: set[str], partname: str) -> ChartInfo:
    root = _parse(archive.read(partname))
    chart = root.find(_q("c:chart"))
    plot_area = chart.find(_q("c:plotArea")) if chart is not None else None

    kind = ""
    series_names: list[str] = []
    categories: tuple[str, ...] = ()
    values: list[tuple[float | None, ...]] = []
    if plot_area is not None:
        for plot in plot_area:
            local = _localname(plot)
            if not local.endswith("Chart"):
                continue
            if not kind:
                kind = _kind_of(plot, local)
            for series in plot.findall(_q("c:ser")):
                series_names.append(_series_name(series))
                cat = series.find(_q("c:cat"))
                if cat is None:
                    cat = series.find(_q("c:xVal"))
                if cat is not None and not categories:
                    categories = tuple("" if v is None else v for v in _points(cat))
                val = series.find(_q("c:val"))
                if val is None:
                    val = series.find(_q("c:yVal"))
                values.append(tuple(_to_float(v) for v in _points(val)) if val is not None else ())

    has_workbook, rows = _read_workbook(archive, names, partname, root)
    return ChartInfo(
        partname="/" + partname,
        title=_chart_title(chart),
        kind=kind,
        series_names=tuple(series_names),
        categories=categories,
        values=tuple(values),
        has_workbook=has_workbook,
        workbook_rows=rows,
    )


def _localname(element: Any) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def _kind_of(plot: Any, local: str) -> str:
    if local == "barChart":
        direction = plot.find(_q("c:barDir"))
        return "bar" if direction is not None and direction.get("val") == "bar" else "column"
    return local[: -len("Chart")].lower()


def _texts(element: Any) -> str:
    paragraphs = element.findall(f".//{_q('a:p')}")
    if not paragraphs:
        return "".join(t.text or "" for t in element.iter(_q("a:t")))
    return "\n".join("".join(t.text or "" for t in p.iter(_q("a:t"))) for p in paragraphs)


def _chart_title(chart: Any) -> str:
    if chart is None:
        return ""
    title = chart.find(_q("c:title"))
    if title is None:
        return ""
    tx = title.find(_q("c:tx"))
    if tx is None:
        return ""
    rich = tx.find(_q("c:rich"))
    if rich is not None:
        return _texts(rich)
    cached = [v for v in _points(tx) if v is not None]
    return cached[0] if cached else ""


def _series_name(series: Any) -> str:
    tx = series.find(_q("c:tx"))
    if tx is None:
        return ""
    literal = tx.find(_q("c:v"))
    if literal is not None:
        return str(literal.text or "")
    cached = [v for v in _points(tx) if v is not None]
    return cached[0] if cached else ""


def _points(data: Any) -> list[str | None]:
    """Cached points of a c:tx/c:cat/c:val-like element, indexed by c:pt/@idx."""
    cache = None
    for tag in ("c:strCache", "c:numCache", "c:strLit", "c:numLit", "c:multiLvlStrCache"):
        cache = data.find(f".//{_q(tag)}")
        if cache is not None:
            break
    if cache is None:
        return []
    count_el = cache.find(_q("c:ptCount"))
    if cache.tag == _q("c:multiLvlStrCache"):
        # The first level holds the innermost (per-point) labels.
        level = cache.find(_q("c:lvl"))
        points = level.findall(_q("c:pt")) if level is not None else []
    else:
        points = cache.findall(_q("c:pt"))
    by_index: dict[int, str] = {}
    for point in points:
        try:
            index = int(point.get("idx", ""))
        except ValueError:
            continue
        value = point.find(_q("c:v"))
        by_index[index] = str(value.text or "") if value is not None else ""
    try:
        count = int(count_el.get("val")) if count_el is not None else 0
    except (TypeError, ValueError):
        count = 0
    count = max(count, max(by_index, default=-1) + 1)
    return [by_index.get(i) for i in range(count)]


def _to_float(value: str | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _read_workbook(
    archive: zipfile.ZipFile, names: set[str], partname: str, root: Any
) -> tuple[bool, list[tuple[Any, ...]]]:
    external = root.find(_q("c:externalData"))
    if external is None:
        return False, []
    rel = _relationships(archive, names, partname).get(str(external.get(_q("r:id"))))
    if rel is None or not rel[1] or rel[1] not in names:
        return False, []

    import openpyxl  # type: ignore[import-untyped, unused-ignore]

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(archive.read(rel[1])), data_only=True)
    except Exception:
        # An embedded object that is not a readable xlsx (an old .xls, a
        # damaged file) cannot back "Edit Data", so it does not count.
        return False, []
    try:
        sheet = workbook.worksheets[0]
        formula = root.find(f".//{_q('c:f')}")
        if formula is not None and formula.text and "!" in formula.text:
            sheet_name = formula.text.split("!", 1)[0].strip("'").replace("''", "'")
            if sheet_name in workbook.sheetnames:
                sheet = workbook[sheet_name]
        rows = [tuple(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
    return True, rows


def render_png(spec: ChartSpec, width_cm: float = 15.0, height_cm: float = 7.5, dpi: int = 150) -> bytes:
    """The same chart as a picture, for ``charts = "image"`` (needs matplotlib, an optional extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        from kpiflow.errors import KpiflowError

        raise KpiflowError('charts = "image" needs matplotlib: install it with pip install "kpiflow[images]", or set '
                           'charts = "native" in kpiflow.toml') from exc
    spec = _clean_spec(spec)
    fig, ax = plt.subplots(figsize=(width_cm / 2.54, height_cm / 2.54), dpi=dpi)
    try:
        x = list(range(len(spec.categories)))
        n = len(spec.series)
        for i, (name, values) in enumerate(spec.series):
            ys = [math.nan if v is None else v for v in values]
            if spec.kind == "column":
                w = 0.8 / n
                ax.bar([xi - 0.4 + w * (i + 0.5) for xi in x], ys, width=w, label=name)
            else:
                ax.plot(x, ys, marker="o", markersize=3, label=name)
        ax.set_xticks(x, list(spec.categories), fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_title(spec.title, fontsize=9, fontweight="bold")
        if spec.y_title:
            ax.set_ylabel(spec.y_title, fontsize=7)
        ax.grid(axis="y", color="#D9D9D9", linewidth=0.5)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=max(1, n), frameon=False)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)
