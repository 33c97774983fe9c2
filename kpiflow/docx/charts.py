"""Native, editable Word charts.

A chart is stored the way Word itself stores one: a DrawingML chart part
(``/word/charts/chartN.xml``) carrying a cached copy of the data, an embedded
xlsx workbook related from it (so "Edit Data" works in Word and LibreOffice),
and an inline ``w:drawing`` in the body that points at the chart part.  Word,
LibreOffice and PDF exports therefore render a real chart rather than a
picture, and the figures stay inspectable by whoever receives the report.

Each chart part is written in one pass, as text, for its kind (line or clustered column), styled
for an A4 page (9 pt Arial, a bold 10 pt title, the legend below, light gridlines, no border).
"""

# The chart XML derives from the chart XML templates of python-pptx
# (https://github.com/scanny/python-pptx, pptx/chart/xmlwriter.py: the line and bar chart
# writers, their element order and axis ids), used under its MIT licence:
#
#   The MIT License (MIT)
#   Copyright (c) 2013 Steve Canny, https://github.com/scanny
#
#   Permission is hereby granted, free of charge, to any person obtaining a copy of this software
#   and associated documentation files (the "Software"), to deal in the Software without
#   restriction, including without limitation the rights to use, copy, modify, merge, publish,
#   distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
#   Software is furnished to do so, subject to the following conditions:
#
#   The above copyright notice and this permission notice shall be included in all copies or
#   substantial portions of the Software.
#
#   THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
#   BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
#   NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
#   DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
#   OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.

from __future__ import annotations

import io
import math
import struct
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kpiflow.docx.ids import numbers
from kpiflow.docx.xml import NS
from kpiflow.fmt import column_letter
from kpiflow.report.context import ROLE_ORDER, ChartSpec, SeriesStyle, describe, series_style, value_axis_min
from kpiflow.xmltext import XML_ILLEGAL, escape, quoteattr

if TYPE_CHECKING:
    from docx.text.paragraph import Paragraph

__all__ = ["CHART_FONT", "ChartSpec", "add_native_chart", "describe", "native_chart_run", "render_png"]   # ChartSpec, describe: the context's

_CHART_URI = "http://schemas.openxmlformats.org/drawingml/2006/chart"
_CHART_CT = "application/vnd.openxmlformats-officedocument.drawingml.chart+xml"
_XLSX_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

_EMU_PER_CM = 360000
_KINDS = ("line", "column")
_SHEET = "Sheet1"
_GRIDLINE_RGB = "D9D9D9"
_CAT_AX, _VAL_AX = "2118791784", "2140495176"   # python-pptx's axis ids for a line chart
_WORKBOOK_RID = "rId1"   # the chart part's one relationship: its embedded workbook
CHART_FONT = "Arial"  # the report template's body font


# ---------------------------------------------------------------------------
# placing a chart
# ---------------------------------------------------------------------------


def add_native_chart(
    paragraph: Paragraph,
    spec: ChartSpec,
    width_cm: float = 15.0,
    height_cm: float = 7.5,
) -> None:
    """Append a native chart to the paragraph (a new run holding a w:drawing)."""
    from docx.oxml.parser import parse_xml

    numbers(paragraph.part.package, [paragraph._p.getroottree().getroot()])
    paragraph._p.append(parse_xml(_with_w(native_chart_run(paragraph.part, spec, width_cm, height_cm))))


def _with_w(run_xml: str) -> str:
    """A run's XML with the w: namespace declared on it, to be parsed on its own."""
    return run_xml.replace("<w:r>", f'<w:r xmlns:w="{NS["w"]}">', 1)


def native_chart_run(doc_part: Any, spec: ChartSpec, width_cm: float = 15.0, height_cm: float = 7.5) -> str:
    """A native chart for the document part ``doc_part``: its chart and workbook parts added to the
    package and related from the part, and the run holding its drawing returned as XML text (the
    ``w:`` prefix bound by the document it goes into)."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.opc.packuri import PackURI
    from docx.opc.part import Part

    clean = _clean_spec(spec)
    if not (math.isfinite(width_cm) and math.isfinite(height_cm)) or width_cm <= 0 or height_cm <= 0:
        raise ValueError(f"chart size must be positive, got {width_cm} x {height_cm} cm")

    # The paragraph of a docxtpl subdoc reports the template's main document
    # part here, which is where the chart relationship has to live.
    package = doc_part.package
    n = numbers(package)

    workbook = Part(PackURI(f"/word/embeddings/Microsoft_Excel_Worksheet{n.next_workbook()}.xlsx"), _XLSX_CT,
                    _workbook_blob(clean), package)
    chart = Part(PackURI(f"/word/charts/chart{n.next_chart()}.xml"), _CHART_CT,
                 _chart_xml(clean, _WORKBOOK_RID).encode("utf-8"), package)
    # the relationship id is chosen here, so that the chart XML can be written whole beforehand
    chart.load_rel(RT.PACKAGE, workbook, _WORKBOOK_RID)
    # a new part: no relationship to it can exist yet, so none is looked for (relate_to would walk them all)
    chart_rid = doc_part.rels._next_rId
    doc_part.rels.add_relationship(RT.CHART, chart, chart_rid)
    inline = _inline_xml(chart_rid, n.next_drawing(), round(width_cm * _EMU_PER_CM), round(height_cm * _EMU_PER_CM),
                         describe(clean))
    return f"<w:r><w:drawing>{inline}</w:drawing></w:r>"


def _inline_xml(rid: str, docpr_id: int, cx: int, cy: int, descr_text: str) -> str:
    # Namespaces are declared on wp:inline itself because docxtpl moves subdoc
    # bodies around as text, dropping declarations made on ancestors.
    decls = " ".join(f'xmlns:{p}="{NS[p]}"' for p in ("wp", "a", "c", "r"))
    descr = f" descr={quoteattr(descr_text)}" if descr_text else ""
    return (
        f'<wp:inline {decls} distT="0" distB="0" distL="0" distR="0">'
        f'<wp:extent cx="{cx}" cy="{cy}"/>'
        '<wp:effectExtent l="0" t="0" r="0" b="0"/>'
        f'<wp:docPr id="{docpr_id}" name="Chart {docpr_id}"{descr}/>'
        "<wp:cNvGraphicFramePr/>"
        f'<a:graphic><a:graphicData uri="{_CHART_URI}">'
        f'<c:chart r:id="{rid}"/>'
        "</a:graphicData></a:graphic>"
        "</wp:inline>"
    )


def _clean_text(text: str) -> str:
    return XML_ILLEGAL.sub("", str(text))


def _clean_value(value: float | None, decimals: int | None = None) -> float | None:
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        return None
    # rounded as shown, so Edit Data never shows 13.399999999999999
    return round(number, decimals) if decimals is not None else number


def _clean_spec(spec: ChartSpec) -> ChartSpec:
    if spec.kind not in _KINDS:
        raise ValueError(f"unsupported chart kind {spec.kind!r}; expected one of {_KINDS}")
    if not spec.categories:
        raise ValueError("a chart needs at least one category")
    if not spec.series:
        raise ValueError("a chart needs at least one series")
    series: list[tuple[str, tuple[float | None, ...]]] = []
    roles: list[str] = []
    for i, (name, values) in enumerate(spec.series):
        if len(values) != len(spec.categories):
            raise ValueError(
                f"series {name!r} has {len(values)} values for {len(spec.categories)} categories"
            )
        clean = tuple(_clean_value(v, spec.decimals) for v in values)
        if any(v is not None for v in clean):     # a series with no figure would be an empty legend entry
            series.append((_clean_text(name), clean))
            roles.append(spec.roles[i] if i < len(spec.roles) else ROLE_ORDER[i % len(ROLE_ORDER)])
    if not series:
        raise ValueError("a chart needs at least one series with a figure")
    return ChartSpec(
        title=_clean_text(spec.title),
        categories=tuple(_clean_text(c) for c in spec.categories),
        series=tuple(series),
        kind=spec.kind,
        y_title=_clean_text(spec.y_title),
        number_format=_clean_text(spec.number_format) or "General",
        y_min=_clean_value(spec.y_min),
        y_max=_clean_value(spec.y_max),
        roles=tuple(roles),
        decimals=spec.decimals,
    )


# ---------------------------------------------------------------------------
# the chart part
# ---------------------------------------------------------------------------


def _text_body(size: int, bold: bool, rotate: bool = False, run: str | None = None) -> str:
    """bodyPr, lstStyle and one paragraph whose default run is ``size`` (hundredths of a point)
    in the chart font, holding ``run`` as text if given."""
    b = "1" if bold else "0"
    body = '<a:bodyPr rot="-5400000" vert="horz"/>' if rotate else "<a:bodyPr/>"
    latin = f'<a:latin typeface="{CHART_FONT}"/>'
    text = "" if run is None else \
        f'<a:r><a:rPr lang="en-GB" sz="{size}" b="{b}">{latin}</a:rPr><a:t>{escape(run)}</a:t></a:r>'
    return f'{body}<a:lstStyle/><a:p><a:pPr><a:defRPr sz="{size}" b="{b}">{latin}</a:defRPr></a:pPr>{text}</a:p>'


def _title(text: str, size: int, bold: bool, rotate: bool = False) -> str:
    return f'<c:title><c:tx><c:rich>{_text_body(size, bold, rotate, text)}</c:rich></c:tx><c:overlay val="0"/></c:title>'


def _str_cache(values: Sequence[str]) -> str:
    pts = "".join(f'<c:pt idx="{i}"><c:v>{escape(v)}</c:v></c:pt>' for i, v in enumerate(values))
    return f'<c:strCache><c:ptCount val="{len(values)}"/>{pts}</c:strCache>'


def _series(spec: ChartSpec) -> str:
    """The c:ser elements, each referring to its cells in the embedded workbook (categories in
    column A from row 2, one series a column from B with its name in row 1) and caching them.
    A gap is an omitted point, not a zero."""
    n, last = len(spec.categories), len(spec.categories) + 1
    cats = f"<c:cat><c:strRef><c:f>{_SHEET}!$A$2:$A${last}</c:f>{_str_cache(spec.categories)}</c:strRef></c:cat>"
    # between c:tx and c:cat: markers on a line, no inverted fill on a column
    end = '<c:smooth val="0"/>' if spec.kind == "line" else ""
    fmt = escape(spec.number_format)
    out = []
    for i, (name, values) in enumerate(spec.series):
        col = column_letter(i + 2)
        look = _line_look(series_style(spec, i)) if spec.kind == "line" else _column_look(series_style(spec, i))
        pts = "".join(f'<c:pt idx="{j}"><c:v>{v!r}</c:v></c:pt>' for j, v in enumerate(values) if v is not None)
        out.append(
            f'<c:ser><c:idx val="{i}"/><c:order val="{i}"/>'
            f"<c:tx><c:strRef><c:f>{_SHEET}!${col}$1</c:f>{_str_cache([name])}</c:strRef></c:tx>{look}{cats}"
            f"<c:val><c:numRef><c:f>{_SHEET}!${col}$2:${col}${last}</c:f><c:numCache>"
            f'<c:formatCode>{fmt}</c:formatCode><c:ptCount val="{n}"/>{pts}</c:numCache></c:numRef></c:val>'
            f"{end}</c:ser>")
    return "".join(out)


def _line_look(style: SeriesStyle) -> str:
    colour = f'<a:solidFill><a:srgbClr val="{style.colour}"/></a:solidFill>'
    return (f'<c:spPr><a:ln w="22225" cap="rnd">{colour}<a:prstDash val="{style.dash}"/></a:ln></c:spPr>'
            f'<c:marker><c:symbol val="{style.marker}"/><c:size val="6"/>'
            f'<c:spPr>{colour}<a:ln w="9525">{colour}</a:ln></c:spPr></c:marker>')


def _column_look(style: SeriesStyle) -> str:
    return (f'<c:spPr><a:solidFill><a:srgbClr val="{style.fill}"/></a:solidFill>'
            '<a:ln w="6350"><a:solidFill><a:srgbClr val="000000"/></a:solidFill></a:ln></c:spPr>'
            '<c:invertIfNegative val="0"/>')


def _plot(spec: ChartSpec) -> str:
    """The chart-kind element. varyColors is always written: LibreOffice reads an absent one as
    "true" and would colour each column of a single series differently."""
    axes = f'<c:axId val="{_CAT_AX}"/><c:axId val="{_VAL_AX}"/>'
    if spec.kind == "line":
        return (f'<c:lineChart><c:grouping val="standard"/><c:varyColors val="0"/>{_series(spec)}'
                f'<c:marker val="1"/>{axes}</c:lineChart>')
    return (f'<c:barChart><c:barDir val="col"/><c:grouping val="clustered"/><c:varyColors val="0"/>{_series(spec)}'
            f'<c:gapWidth val="80"/>{axes}</c:barChart>')


def _axes(spec: ChartSpec) -> str:
    y_title = _title(spec.y_title, 900, bold=False, rotate=True) if spec.y_title else ""
    linked = "1" if spec.number_format == "General" else "0"
    y_min = value_axis_min(spec)
    bounds = (f'<c:max val="{spec.y_max!r}"/>' if spec.y_max is not None else "") + (
        f'<c:min val="{y_min!r}"/>' if y_min is not None else "")
    return (
        f'<c:catAx><c:axId val="{_CAT_AX}"/><c:scaling><c:orientation val="minMax"/></c:scaling>'
        '<c:delete val="0"/><c:axPos val="b"/><c:majorTickMark val="out"/><c:minorTickMark val="none"/>'
        f'<c:tickLblPos val="nextTo"/><c:crossAx val="{_VAL_AX}"/><c:crosses val="autoZero"/><c:auto val="1"/>'
        '<c:lblAlgn val="ctr"/><c:lblOffset val="100"/><c:noMultiLvlLbl val="0"/></c:catAx>'
        f'<c:valAx><c:axId val="{_VAL_AX}"/><c:scaling><c:orientation val="minMax"/>{bounds}</c:scaling>'
        '<c:delete val="0"/><c:axPos val="l"/>'
        f'<c:majorGridlines><c:spPr><a:ln w="6350"><a:solidFill><a:srgbClr val="{_GRIDLINE_RGB}"/></a:solidFill>'
        f"</a:ln></c:spPr></c:majorGridlines>{y_title}"
        f'<c:numFmt formatCode={quoteattr(spec.number_format)} sourceLinked="{linked}"/>'
        '<c:majorTickMark val="out"/><c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/>'
        f'<c:crossAx val="{_CAT_AX}"/><c:crosses val="autoZero"/><c:crossBetween val="between"/></c:valAx>'
    )


def _chart_xml(spec: ChartSpec, workbook_rid: str) -> str:
    """The whole c:chartSpace of a cleaned spec, its data in the workbook related as ``workbook_rid``.

    Children in schema order. With no title, autoTitleDeleted is set, or Word invents a title from
    the series name on a single-series chart."""
    title = _title(spec.title, 1000, bold=True) if spec.title else ""
    return (
        f'{_XML_DECLARATION}<c:chartSpace xmlns:c="{NS["c"]}" xmlns:a="{NS["a"]}" xmlns:r="{NS["r"]}">'
        '<c:date1904 val="0"/><c:roundedCorners val="0"/>'
        f'<c:chart>{title}<c:autoTitleDeleted val="{0 if spec.title else 1}"/>'
        f"<c:plotArea>{_plot(spec)}{_axes(spec)}</c:plotArea>"
        '<c:legend><c:legendPos val="b"/><c:overlay val="0"/></c:legend>'
        '<c:plotVisOnly val="1"/><c:dispBlanksAs val="gap"/></c:chart>'
        "<c:spPr><a:noFill/><a:ln><a:noFill/></a:ln></c:spPr>"
        f"<c:txPr>{_text_body(900, bold=False)}</c:txPr>"
        f'<c:externalData r:id="{workbook_rid}"><c:autoUpdate val="0"/></c:externalData>'
        "</c:chartSpace>"
    )


# ---------------------------------------------------------------------------
# the embedded workbook
# ---------------------------------------------------------------------------

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

    def text(ref: str, value: str) -> str:
        return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(value)}</t></is></c>'

    rows = ['<row r="1">' + "".join(text(f"{column_letter(c + 1)}1", name)
                                    for c, (name, _) in enumerate(spec.series, start=1))
            + "</row>"]
    for r, category in enumerate(spec.categories, start=2):
        cells = [text(f"A{r}", category)]
        for c, (_, values) in enumerate(spec.series, start=1):
            v = values[r - 2]
            ref = f"{column_letter(c + 1)}{r}"
            cells.append(f'<c r="{ref}" s="1"/>' if v is None else f'<c r="{ref}" s="1"><v>{v!r}</v></c>')
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
    # stored, not deflated: the .docx that holds it is compressed as a whole
    return stored_zip([*_XLSX_STATIC_BYTES, ("xl/worksheets/sheet1.xml", sheet.encode("utf-8")),
                       ("xl/styles.xml", styles.encode("utf-8"))])


_XLSX_STATIC_BYTES = [(name, xml.encode("utf-8")) for name, xml in _XLSX_STATIC.items()]
_ZIP_DATE = (1 << 5) | 1      # 1 January 1980, the format's first day: the same bytes for the same chart


def stored_zip(entries: Sequence[tuple[str, bytes]]) -> bytes:
    """A zip archive of ``entries`` (ASCII names), stored uncompressed, as ``zipfile`` writes one with
    ZIP_STORED (made on Unix, dated 1 January 1980): written directly, since a chart's small workbook is made
    144 times for a report."""
    local: list[bytes] = []
    central: list[bytes] = []
    offset = 0
    for name, data in entries:
        raw = name.encode("ascii")
        crc, size = zlib.crc32(data), len(data)
        header = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, _ZIP_DATE, crc, size, size, len(raw), 0)
        central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 0x314, 20, 0, 0, 0, _ZIP_DATE, crc, size, size,
                                   len(raw), 0, 0, 0, 0, 0o600 << 16, offset) + raw)
        local += [header, raw, data]
        offset += len(header) + len(raw) + size
    directory = b"".join(central)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(directory), offset, 0)
    return b"".join(local) + directory + end


# ---------------------------------------------------------------------------
# the same chart as a picture
# ---------------------------------------------------------------------------


# the same looks in matplotlib's words (pictures, and the web page's SVG)
MPL_MARKERS = {"circle": "o", "square": "s", "triangle": "^", "diamond": "D", "x": "x"}
MPL_DASHES = {"solid": "-", "dash": "--", "sysDot": ":", "lgDash": (0, (8, 3)), "dashDot": "-."}


COLUMN_HATCHES = ("", "//", "..", "xx")


def draw_series(ax: Any, spec: ChartSpec, marker_size: float, line_width: float, edge_width: float) -> list[int]:
    """Draw a clean spec's series on matplotlib axes, each in its role's look (the Word charts', so a picture and
    the web page's SVG look alike): columns side by side with a hatch each, or lines with dash and marker; its
    value axis from zero for columns. Returns the categories' x positions."""
    x = list(range(len(spec.categories)))
    n = len(spec.series)
    for i, (name, values) in enumerate(spec.series):
        ys = [math.nan if v is None else v for v in values]
        look = series_style(spec, i)
        if spec.kind == "column":
            w = 0.8 / n
            ax.bar([xi - 0.4 + w * (i + 0.5) for xi in x], ys, width=w, label=name, color=f"#{look.fill}",
                   hatch=COLUMN_HATCHES[i % len(COLUMN_HATCHES)], edgecolor="#000000", linewidth=edge_width)
        else:
            ax.plot(x, ys, label=name, color=f"#{look.colour}", linestyle=MPL_DASHES[look.dash],
                    marker=MPL_MARKERS[look.marker], markersize=marker_size, linewidth=line_width)
    y_min = value_axis_min(spec)
    if y_min is not None or spec.y_max is not None:
        ax.set_ylim(bottom=y_min, top=spec.y_max)
    return x


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
        x = draw_series(ax, spec, marker_size=3, line_width=1.5, edge_width=0.4)
        n = len(spec.series)
        ax.set_xticks(x, list(spec.categories), fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        import textwrap

        # a long title wraps rather than running off the picture
        ax.set_title("\n".join(textwrap.wrap(spec.title, 80)), fontsize=9, fontweight="bold")
        if spec.y_title:
            ax.set_ylabel(spec.y_title, fontsize=7)
        ax.grid(axis="y", color="#D9D9D9", linewidth=0.5)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=max(1, n), frameon=False)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight", pad_inches=0.05)
        return buf.getvalue()
    finally:
        plt.close(fig)
