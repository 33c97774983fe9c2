"""Reading the charts of a saved .docx back, for tests: the chart parts in document order, their
cached XML values and their embedded workbooks (through openpyxl, which kpiflow itself only uses
under ``kpiflow/workbook/``)."""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kpiflow.docx.xml import CONTENT_TYPES, PACKAGE_RELS, parse, q

_CHART_CT = "application/vnd.openxmlformats-officedocument.drawingml.chart+xml"
_RT_OFFICE_DOCUMENT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"


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


def chart_parts(docx_path: str | Path) -> list[ChartInfo]:
    """Read back the charts in a .docx.

    Charts referenced from the main document come first, in the order they
    appear there; any other chart parts follow in part-name order.
    """
    with zipfile.ZipFile(docx_path) as archive:
        names = set(archive.namelist())
        content_types = parse(archive.read("[Content_Types].xml"))
        chart_names = [
            str(override.get("PartName", "")).lstrip("/")
            for override in content_types.iter(f"{{{CONTENT_TYPES}}}Override")
            if override.get("ContentType") == _CHART_CT
        ]
        chart_names = [name for name in chart_names if name in names]

        ordered = _charts_in_document_order(archive, names)
        ordered = [name for name in ordered if name in chart_names]
        ordered += sorted(set(chart_names) - set(ordered), key=_natural_key)

        return [_read_chart(archive, names, name) for name in ordered]


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
    for rel in parse(archive.read(rels_name)).iter(f"{{{PACKAGE_RELS}}}Relationship"):
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
    for element in parse(archive.read(main)).iter(q("c:chart")):
        target = rels.get(str(element.get(q("r:id"))), ("", ""))[1]
        if target and target not in ordered:
            ordered.append(target)
    return ordered


def _read_chart(archive: zipfile.ZipFile, names: set[str], partname: str) -> ChartInfo:
    root = parse(archive.read(partname))
    chart = root.find(q("c:chart"))
    plot_area = chart.find(q("c:plotArea")) if chart is not None else None

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
            for series in plot.findall(q("c:ser")):
                series_names.append(_series_name(series))
                cat = series.find(q("c:cat"))
                if cat is None:
                    cat = series.find(q("c:xVal"))
                if cat is not None and not categories:
                    categories = tuple("" if v is None else v for v in _points(cat))
                val = series.find(q("c:val"))
                if val is None:
                    val = series.find(q("c:yVal"))
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
        direction = plot.find(q("c:barDir"))
        return "bar" if direction is not None and direction.get("val") == "bar" else "column"
    return local[: -len("Chart")].lower()


def _texts(element: Any) -> str:
    paragraphs = element.findall(f".//{q('a:p')}")
    if not paragraphs:
        return "".join(t.text or "" for t in element.iter(q("a:t")))
    return "\n".join("".join(t.text or "" for t in p.iter(q("a:t"))) for p in paragraphs)


def _chart_title(chart: Any) -> str:
    if chart is None:
        return ""
    title = chart.find(q("c:title"))
    if title is None:
        return ""
    tx = title.find(q("c:tx"))
    if tx is None:
        return ""
    rich = tx.find(q("c:rich"))
    if rich is not None:
        return _texts(rich)
    cached = [v for v in _points(tx) if v is not None]
    return cached[0] if cached else ""


def _series_name(series: Any) -> str:
    tx = series.find(q("c:tx"))
    if tx is None:
        return ""
    literal = tx.find(q("c:v"))
    if literal is not None:
        return str(literal.text or "")
    cached = [v for v in _points(tx) if v is not None]
    return cached[0] if cached else ""


def _points(data: Any) -> list[str | None]:
    """Cached points of a c:tx/c:cat/c:val-like element, indexed by c:pt/@idx."""
    cache = None
    for tag in ("c:strCache", "c:numCache", "c:strLit", "c:numLit", "c:multiLvlStrCache"):
        cache = data.find(f".//{q(tag)}")
        if cache is not None:
            break
    if cache is None:
        return []
    count_el = cache.find(q("c:ptCount"))
    if cache.tag == q("c:multiLvlStrCache"):
        # The first level holds the innermost (per-point) labels.
        level = cache.find(q("c:lvl"))
        points = level.findall(q("c:pt")) if level is not None else []
    else:
        points = cache.findall(q("c:pt"))
    by_index: dict[int, str] = {}
    for point in points:
        try:
            index = int(point.get("idx", ""))
        except ValueError:
            continue
        value = point.find(q("c:v"))
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
    external = root.find(q("c:externalData"))
    if external is None:
        return False, []
    rel = _relationships(archive, names, partname).get(str(external.get(q("r:id"))))
    if rel is None or not rel[1] or rel[1] not in names:
        return False, []

    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(archive.read(rel[1])), data_only=True)
    except Exception:
        # An embedded object that is not a readable xlsx (an old .xls, a
        # damaged file) cannot back "Edit Data", so it does not count.
        return False, []
    try:
        sheet = workbook.worksheets[0]
        formula = root.find(f".//{q('c:f')}")
        if formula is not None and formula.text and "!" in formula.text:
            sheet_name = formula.text.split("!", 1)[0].strip("'").replace("''", "'")
            if sheet_name in workbook.sheetnames:
                sheet = workbook[sheet_name]
        rows = [tuple(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
    return True, rows


def body_blocks(path: str | Path) -> list[Any]:
    """Paragraph texts and tables in document order, inside content controls (the marked commentary
    and service response) too."""
    from docx import Document
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    w = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    doc = Document(str(path))
    out: list[Any] = []

    def walk(parent: Any) -> None:
        for el in parent.iterchildren():
            if el.tag == f"{w}p":
                out.append(Paragraph(el, doc).text)
            elif el.tag == f"{w}tbl":
                out.append(Table(el, doc))
            elif el.tag == f"{w}sdt":
                walk(el.find(f"{w}sdtContent"))

    walk(doc.element.body)
    return out


def table_rows(table: Any) -> list[list[str]]:
    """A table's text, row by row, a merged cell once."""
    out = []
    for r in table.rows:
        cells: list[tuple[Any, str]] = []
        for c in r.cells:
            if not cells or c._tc is not cells[-1][0]:
                cells.append((c._tc, c.text))
        out.append([t for _, t in cells])
    return out
