from __future__ import annotations

import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import docx
import pytest
from docx.enum.shape import WD_INLINE_SHAPE
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.shared import Cm
from docx_helpers import chart_parts
from docxtpl import DocxTemplate
from lxml import etree

from kpiflow.docx.charts import ChartSpec, add_native_chart

NS = {
    "a": "http://schemas.openxmlformats.org/drawingml/2006/main",
    "c": "http://schemas.openxmlformats.org/drawingml/2006/chart",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "wp": "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing",
}

YEARS = ("2014/15", "2015/16", "2016/17", "2017/18", "2018/19")

LINE = ChartSpec(
    title="Looked-after children per 10,000",
    categories=YEARS,
    series=(
        ("Council", (61.0, 63.5, None, 70.25, 72.0)),
        ("England", (60.0, 60.0, 62.0, 64.0, 65.0)),
    ),
    kind="line",
    y_title="Rate per 10,000",
    number_format="0.0",
)

COLUMN = ChartSpec(
    title="Re-referrals (%)",
    categories=("Q1", "Q2", "Q3"),
    series=(("2023/24", (21.5, 19.0, 23.0)),),
    kind="column",
)

NASTY = ChartSpec(
    title='Rate & <children> "LAC" 😀\x07',
    categories=("=SUM(A1)", "a < b", "http://example.org"),
    series=(("Us & them <x>\x0b", (1.0, float("nan"), 3.0)),),
)


def _rows(spec: ChartSpec) -> list[tuple[object, ...]]:
    header = (None, *(name for name, _ in spec.series))
    body = [(cat, *(values[i] for _, values in spec.series)) for i, cat in enumerate(spec.categories)]
    return [header, *body]


def _xml(path: Path, member: str) -> etree._Element:
    with zipfile.ZipFile(path) as archive:
        return etree.fromstring(archive.read(member))


def _docpr_ids(path: Path) -> list[str]:
    return [str(v) for v in _xml(path, "word/document.xml").xpath("//wp:docPr/@id", namespaces=NS)]


def test_document_with_two_charts_round_trips(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Before")
    add_native_chart(document.add_paragraph(), LINE)
    add_native_chart(document.add_paragraph(), COLUMN, width_cm=12, height_cm=6)
    path = tmp_path / "two.docx"
    document.save(str(path))

    reopened = docx.Document(str(path))
    shapes = list(reopened.inline_shapes)
    assert [s.type for s in shapes] == [WD_INLINE_SHAPE.CHART, WD_INLINE_SHAPE.CHART]
    assert shapes[0].width == Cm(15) and shapes[0].height == Cm(7.5)
    assert shapes[1].width == Cm(12) and shapes[1].height == Cm(6)

    infos = chart_parts(path)
    assert [i.partname for i in infos] == ["/word/charts/chart1.xml", "/word/charts/chart2.xml"]
    for info, spec in zip(infos, (LINE, COLUMN), strict=True):
        assert info.title == spec.title
        assert info.kind == spec.kind
        assert info.series_names == tuple(name for name, _ in spec.series)
        assert info.categories == spec.categories
        assert info.values == tuple(values for _, values in spec.series)
        assert info.has_workbook
        assert info.workbook_rows == _rows(spec)

    # Every docPr id in the body is distinct.
    ids = _docpr_ids(path)
    assert len(ids) == 2 and len(set(ids)) == 2

    chart = _xml(path, "word/charts/chart1.xml")
    children = [etree.QName(e).localname for e in chart]
    assert children.index("txPr") < children.index("externalData") == len(children) - 1
    assert chart.xpath("c:roundedCorners/@val", namespaces=NS) == ["0"]
    assert chart.xpath("c:txPr//a:defRPr/@sz", namespaces=NS) == ["900"]
    assert chart.xpath("c:chart/c:title//a:defRPr/@sz", namespaces=NS) == ["1000"]
    assert chart.xpath("c:chart/c:legend/c:legendPos/@val", namespaces=NS) == ["b"]
    assert chart.xpath("c:chart/c:dispBlanksAs/@val", namespaces=NS) == ["gap"]
    assert len(chart.xpath("//c:lineChart/c:ser/c:marker/c:symbol", namespaces=NS)) == 2
    assert chart.xpath("//c:valAx/c:title//a:t/text()", namespaces=NS) == ["Rate per 10,000"]
    assert set(chart.xpath("//c:formatCode/text()", namespaces=NS)) == {"0.0"}
    # The gap is an omitted point, not a zero.
    assert chart.xpath("//c:ser[1]/c:val//c:pt/@idx", namespaces=NS) == ["0", "1", "3", "4"]

    column = _xml(path, "word/charts/chart2.xml")
    assert column.xpath("//c:barChart/c:barDir/@val", namespaces=NS) == ["col"]
    assert column.xpath("//c:barChart/c:varyColors/@val", namespaces=NS) == ["0"]


def test_charts_added_to_a_reopened_document_get_fresh_names_and_ids(tmp_path: Path) -> None:
    first = tmp_path / "first.docx"
    document = docx.Document()
    add_native_chart(document.add_paragraph(), LINE)
    add_native_chart(document.add_paragraph(), COLUMN)
    document.save(str(first))

    document = docx.Document(str(first))
    add_native_chart(document.add_paragraph(), COLUMN)
    second = tmp_path / "second.docx"
    document.save(str(second))

    infos = chart_parts(second)
    assert [i.partname for i in infos] == [
        "/word/charts/chart1.xml",
        "/word/charts/chart2.xml",
        "/word/charts/chart3.xml",
    ]
    assert all(i.has_workbook for i in infos)
    with zipfile.ZipFile(second) as archive:
        embedded = sorted(n for n in archive.namelist() if n.startswith("word/embeddings/"))
    assert embedded == [f"word/embeddings/Microsoft_Excel_Worksheet{n}.xlsx" for n in (1, 2, 3)]
    ids = _docpr_ids(second)
    assert len(ids) == 3 and len(set(ids)) == 3


def test_user_text_cannot_break_the_package(tmp_path: Path) -> None:
    document = docx.Document()
    add_native_chart(document.add_paragraph(), NASTY)
    path = tmp_path / "nasty.docx"
    document.save(str(path))
    docx.Document(str(path))

    (info,) = chart_parts(path)
    assert info.title == 'Rate & <children> "LAC" 😀'
    assert info.series_names == ("Us & them <x>",)
    assert info.categories == NASTY.categories
    assert info.values == ((1.0, None, 3.0),)
    # Labels stay text in the workbook: no formula, no hyperlink.
    assert info.workbook_rows == [
        (None, "Us & them <x>"),
        ("=SUM(A1)", 1),
        ("a < b", None),
        ("http://example.org", 3),
    ]
    descr = _xml(path, "word/document.xml").xpath("//wp:docPr/@descr", namespaces=NS)
    assert descr == ['Line chart: Rate & <children> "LAC" 😀. Latest figures: Us & them <x> 3 (http://example.org).']


def test_invalid_specs_are_rejected() -> None:
    paragraph = docx.Document().add_paragraph()
    with pytest.raises(ValueError, match="kind"):
        add_native_chart(paragraph, ChartSpec("t", ("a",), (("s", (1.0,)),), kind="pie"))
    with pytest.raises(ValueError, match="values"):
        add_native_chart(paragraph, ChartSpec("t", ("a", "b"), (("s", (1.0,)),)))
    with pytest.raises(ValueError, match="series"):
        add_native_chart(paragraph, ChartSpec("t", ("a",), ()))
    with pytest.raises(ValueError, match="size"):
        add_native_chart(paragraph, LINE, width_cm=0)


def _render_template_with_subdoc_charts(tmp_path: Path) -> Path:
    template_path = tmp_path / "template.docx"
    template = docx.Document()
    template.add_paragraph("Report for {{ council }}")
    template.add_paragraph("{{p charts }}")
    template.add_paragraph("End of report")
    template.save(str(template_path))

    tpl = DocxTemplate(str(template_path))
    subdoc = tpl.new_subdoc()
    subdoc.add_paragraph("Figure 1")
    add_native_chart(subdoc.add_paragraph(), LINE)
    subdoc.add_paragraph("Figure 2")
    add_native_chart(subdoc.add_paragraph(), COLUMN)
    tpl.render({"council": "Anytown", "charts": subdoc})
    out = tmp_path / "rendered.docx"
    tpl.save(out)
    return out


def test_chart_in_docxtpl_subdoc(tmp_path: Path) -> None:
    out = _render_template_with_subdoc_charts(tmp_path)

    document = docx.Document(str(out))
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == "Report for Anytown" and texts[-1] == "End of report"

    chart_rels = {
        rid: rel.target_part.partname for rid, rel in document.part.rels.items() if rel.reltype == RT.CHART
    }
    assert sorted(chart_rels.values()) == ["/word/charts/chart1.xml", "/word/charts/chart2.xml"]

    body = _xml(out, "word/document.xml").find("w:body", NS)
    assert body is not None
    refs = body.xpath(
        "w:p/w:r/w:drawing/wp:inline/a:graphic"
        "/a:graphicData[@uri='http://schemas.openxmlformats.org/drawingml/2006/chart']/c:chart/@r:id",
        namespaces=NS,
    )
    assert [chart_rels[str(r)] for r in refs] == ["/word/charts/chart1.xml", "/word/charts/chart2.xml"]
    ids = _docpr_ids(out)
    assert len(ids) == 2 and len(set(ids)) == 2

    infos = chart_parts(out)
    assert [i.title for i in infos] == [LINE.title, COLUMN.title]
    assert [i.values for i in infos] == [
        tuple(v for _, v in LINE.series),
        tuple(v for _, v in COLUMN.series),
    ]
    assert all(i.has_workbook for i in infos)


def _soffice(source: Path, fmt: str, workdir: Path) -> Path:
    soffice = shutil.which("soffice")
    assert soffice is not None
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={(workdir / 'profile').as_uri()}",
            "--headless",
            "--convert-to",
            fmt,
            "--outdir",
            str(workdir),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return workdir / f"{source.stem}.{fmt}"


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_libreoffice_reads_native_charts(tmp_path: Path) -> None:
    source = tmp_path / "charts.docx"
    document = docx.Document()
    add_native_chart(document.add_paragraph(), LINE)
    add_native_chart(document.add_paragraph(), NASTY)
    document.save(str(source))

    started = time.monotonic()
    odt = _soffice(source, "odt", tmp_path)
    assert odt.is_file()
    with zipfile.ZipFile(odt) as archive:
        names = archive.namelist()
        content = archive.read("content.xml").decode("utf-8")
        objects = sorted(
            {n.split("/")[0] for n in names if n.startswith("Object ") and n.endswith("/content.xml")}
        )
        chart_xml = [archive.read(f"{o}/content.xml").decode("utf-8") for o in objects]
    assert len(objects) == 2
    assert content.count("<draw:object ") == 2
    assert all("<chart:chart " in xml for xml in chart_xml)
    assert any("Looked-after children per 10,000" in xml for xml in chart_xml)
    assert any("Rate &amp; &lt;children&gt;" in xml for xml in chart_xml)

    pdf = _soffice(source, "pdf", tmp_path)
    assert pdf.is_file() and pdf.read_bytes().startswith(b"%PDF")
    print(f"soffice conversions took {time.monotonic() - started:.1f}s")


def test_alternative_text_says_what_the_chart_shows_and_its_latest_figures() -> None:
    from kpiflow.docx.charts import ChartSpec, describe

    spec = ChartSpec("Rate per 10,000: Blackpool Council, statistical neighbours and England",
                     ("2015/16", "2016/17", "Q2 2017/18"),
                     (("Blackpool Council", (150.0, 160.44, 185.6)), ("Statistical neighbours", (98.0, 102.0, None)),
                      ("England", (60.0, 62.0, 62.0))), "line", "Rate per 10,000", "0.0")
    assert describe(spec) == (
        "Line chart: Rate per 10,000: Blackpool Council, statistical neighbours and England. Latest figures: "
        "Blackpool Council 185.6 (Q2 2017/18); Statistical neighbours 102.0 (2016/17); England 62.0 (Q2 2017/18).")
    counts = ChartSpec("Number: quarter by quarter", ("Q1", "Q2", "Q3", "Q4"),
                       (("2016/17", (10.0, 12.0, 9.0, 11.0)), ("2017/18", (8.0, 7.0, None, None))), "column", "Number")
    assert describe(counts) == ("Column chart: Number: quarter by quarter. Latest figures: 2016/17 11 (Q4); "
                                "2017/18 7 (Q2).")


def test_lines_are_told_apart_by_marker_and_dash_not_colour_alone(tmp_path: Path) -> None:
    from kpiflow.docx.charts import ChartSpec, _chart_xml, _clean_spec

    spec = ChartSpec("t", ("a", "b"), (("one", (1.0, 2.0)), ("two", (2.0, 3.0)), ("three", (3.0, 1.0))))
    xml = _chart_xml(_clean_spec(spec), "rId1")
    assert xml.count('<c:symbol val="circle"/>') == 1 and '<c:symbol val="triangle"/>' in xml
    assert '<c:symbol val="diamond"/>' in xml
    assert '<a:prstDash val="solid"/>' in xml and '<a:prstDash val="lgDash"/>' in xml and '<a:prstDash val="sysDot"/>' in xml


def test_a_series_without_figures_is_left_out_rather_than_an_empty_legend_entry() -> None:
    from kpiflow.docx.charts import ChartSpec, _chart_xml, _clean_spec

    spec = ChartSpec("Number: month by month", ("Apr", "May"), (("2016/17", (None, None)), ("2017/18", (3.0, 4.0))))
    clean = _clean_spec(spec)
    assert [name for name, _ in clean.series] == ["2017/18"]
    assert "2016/17" not in _chart_xml(clean, "rId1")
    with pytest.raises(ValueError, match="at least one series with a figure"):
        _clean_spec(ChartSpec("t", ("a",), (("x", (None,)),)))


def test_a_percentage_axis_runs_from_0_to_100() -> None:
    from kpiflow.docx.charts import ChartSpec, _chart_xml, _clean_spec

    xml = _chart_xml(_clean_spec(ChartSpec("Percentage", ("Q1", "Q2"), (("2017/18", (96.0, 99.5)),), "line",
                                           "Percentage", "General", 0.0, 100.0)), "rId1")
    assert '<c:scaling><c:orientation val="minMax"/><c:max val="100.0"/><c:min val="0.0"/></c:scaling>' in xml


def test_a_column_chart_starts_at_zero_and_a_line_chart_may_zoom() -> None:
    from kpiflow.docx.charts import ChartSpec, _chart_xml, _clean_spec

    values = (("2024/25", (150.0, 160.0, 170.0, 180.0)), ("2025/26", (165.0, 190.0, None, None)))
    column = _chart_xml(_clean_spec(ChartSpec("Number", ("Q1", "Q2", "Q3", "Q4"), values, "column", "Number")), "rId1")
    assert '<c:scaling><c:orientation val="minMax"/><c:min val="0.0"/></c:scaling>' in column
    line = _chart_xml(_clean_spec(ChartSpec("Number", ("Q1", "Q2", "Q3", "Q4"), values, "line", "Number")), "rId1")
    assert "<c:min " not in line and '<c:title><c:tx><c:rich>' in line      # zoomed, and its axis labelled


def test_each_kind_of_series_looks_the_same_in_every_chart() -> None:
    from kpiflow.docx.charts import ChartSpec, _chart_xml, _clean_spec

    def looks(spec: ChartSpec) -> dict[str, str]:
        root = etree.fromstring(_chart_xml(_clean_spec(spec), "rId1").encode())
        out = {}
        for ser in root.iter(f"{{{NS['c']}}}ser"):
            name = ser.find("c:tx//c:v", NS).text
            colour = ser.find("c:spPr/a:ln/a:solidFill/a:srgbClr", NS).get("val")
            dash = ser.find("c:spPr/a:ln/a:prstDash", NS).get("val")
            out[name] = f"{colour} {dash} {ser.find('c:marker/c:symbol', NS).get('val')}"
        return out

    cats = ("2022/23", "2023/24")
    three = ChartSpec("t", cats, (("Council", (1.0, 2.0)), ("Statistical neighbours", (2.0, 3.0)),
                                  ("England", (3.0, 4.0))), roles=("council", "neighbours", "england"))
    # no neighbours' figures: England is the second series here, and must still look like England
    two = ChartSpec("t", cats, (("Council", (1.0, 2.0)), ("Statistical neighbours", (None, None)),
                                ("England", (3.0, 4.0))), roles=("council", "neighbours", "england"))
    assert looks(two)["England"] == looks(three)["England"]
    assert len(set(looks(three).values())) == 3


def test_chart_values_are_rounded_as_the_report_shows_them() -> None:
    from kpiflow.docx.charts import ChartSpec, _chart_xml, _clean_spec, _workbook_blob

    spec = _clean_spec(ChartSpec("Rate", ("Q1", "Q2"), (("2025/26", (13.399999999999999, 2.8000000000000007)),),
                                 decimals=1))
    assert spec.series[0][1] == (13.4, 2.8)
    import io

    with zipfile.ZipFile(io.BytesIO(_workbook_blob(spec))) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "13.399999" not in _chart_xml(spec, "rId1") and "13.399999" not in sheet and ">13.4<" in sheet


def test_at_q4_the_comparator_chart_includes_the_year_just_ended_where_it_has_figures() -> None:
    from kpiflow.assess import Assessment
    from kpiflow.model import Figures, Indicator
    from kpiflow.periods import quarter, year
    from kpiflow.report import chart_specs
    from kpiflow.rules import Verdict
    from kpiflow.trends import facts

    ind = Indicator("T01", "Test", "P", "S", "Low", "Rate", 1000, "Quarterly", "Snapshot", None)
    series = {year(2022): Figures(None, 2.9, 2.9, 3.4), year(2023): Figures(None, 2.8, 3.0, 3.6),
              **{quarter(2024, n): Figures(None, v) for n, v in enumerate((2.6, 2.7, 2.8, 2.9), 1)},
              year(2024): Figures(None, None, 3.3, 4.0)}
    q4 = quarter(2024, 4)
    f = facts(ind, series, q4, {}, 5.0, 1.0, 6)
    (comparators, *_) = chart_specs(Assessment(ind, f, Verdict(True, ()), series), "Eastbridge")
    assert comparators.categories == ("2022/23", "2023/24", "2024/25")
    assert dict(comparators.series) == {"Eastbridge": (2.9, 2.8, 2.9), "Statistical neighbours": (2.9, 3.0, 3.3),
                                        "England": (3.4, 3.6, 4.0)}


def test_a_charts_workbook_is_the_zip_archive_zipfile_writes() -> None:
    """The embedded workbooks are written as bytes directly: the same archive zipfile makes (dated 1980)."""
    import io

    from kpiflow.docx.charts import stored_zip

    entries = [("[Content_Types].xml", b"<Types/>"), ("xl/worksheets/sheet1.xml", "<t>£ & é</t>".encode()),
               ("empty.xml", b"")]
    ref = io.BytesIO()
    with zipfile.ZipFile(ref, "w", zipfile.ZIP_STORED) as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            info.external_attr, info.create_system = 0o600 << 16, 3
            zf.writestr(info, data)
    assert stored_zip(entries) == ref.getvalue()
    with zipfile.ZipFile(io.BytesIO(stored_zip(entries))) as z:
        assert z.testzip() is None and [z.read(n) for n, _ in entries] == [d for _, d in entries]
