"""Accessibility of drafts, templates and published papers (WCAG 2.2 AA, as the regulations ask)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from docx import Document
from helpers import run_kpiflow

from kpiflow.demo import DemoResult, run_demo
from kpiflow.docx.a11y import check_document
from kpiflow.problems import ValidationResult


def problems(path: Path, **kw: object) -> list[tuple[str, str, str]]:
    result = ValidationResult(path.name)
    check_document(path, result, **kw)  # type: ignore[arg-type]
    return [(p.code, p.cell, p.indicator_id) for p in result.problems]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    return run_demo(tmp_path_factory.mktemp("a11y") / "demo")


def png() -> bytes:
    # a 1x1 PNG, written here rather than shipped
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = zlib.compress(b"\x00\xff\x00\x00")
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def test_the_demo_draft_has_title_language_headings_table_headers_and_alt_text(demo: DemoResult) -> None:
    assert problems(demo.report) == []
    doc = Document(str(demo.report))
    props = doc.core_properties
    assert (props.title, props.author, props.language) == (
        "Appendix 6(b) - Exception Reports (Q2 2017/18)", "Blackpool Council", "en-GB")
    for table in doc.tables:
        assert table.rows[0]._tr.find(".//{http://schemas.openxmlformats.org/wordprocessingml/2006/main}tblHeader") \
            is not None


def test_each_failure_is_found_and_located(tmp_path: Path) -> None:
    doc = Document()           # python-docx's own template: no title, language en-US
    doc.add_paragraph("Report", style="Heading 1")
    doc.add_paragraph("", style="Heading 2")
    doc.add_paragraph("Detail", style="Heading 3")        # after an empty level 2: skips from 1 to 3
    doc.add_table(rows=2, cols=2)
    doc.add_picture(io.BytesIO(png()))
    doc.add_paragraph("Skipped", style="Heading 4")
    path = tmp_path / "bad.docx"
    doc.save(str(path))
    found = problems(path)
    assert found == [("no-title", "", ""), ("wrong-language", "", ""), ("empty-heading", "paragraph 2", ""),
                     ("heading-skipped", "paragraph 3", ""), ("table-no-header", "paragraph 3", ""),
                     ("missing-alt-text", "paragraph 8", "")]   # paragraphs counted as Word holds them, cells too


def test_a_picture_pasted_in_without_alt_text_stops_publishing(demo: DemoResult, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(demo.home, home)
    doc = Document(str(home / "outbox" / "drafts" / demo.report.name))
    doc.add_picture(io.BytesIO(png()))            # lands in the last exception, CS03
    draft = home / "outbox" / "drafts" / "with picture.docx"
    doc.save(str(draft))
    r = run_kpiflow("publish", "--quarter", "2017/18 Q2", "--from", str(draft), home=home)
    assert r.returncode == 1, r.stdout + r.stderr
    line = next(x for x in r.stdout.splitlines() if "missing-alt-text" in x)
    assert "CS03" in line and "Edit Alt Text" in line
    assert not (home / "outbox" / "published" / "2017-18_Q2").exists()


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_the_published_pdf_is_tagged_for_assistive_technology(demo: DemoResult, tmp_path: Path) -> None:
    import pikepdf

    from kpiflow.pdf import check_pdf, figure_alt_texts, structure_figures

    home = tmp_path / "home"
    shutil.copytree(demo.home, home)
    r = run_kpiflow("publish", "--quarter", "2017/18 Q2", home=home)
    assert r.returncode == 0, r.stdout + r.stderr
    (pdf,) = (home / "outbox" / "published").rglob("*.pdf")
    (docx,) = (home / "outbox" / "published").rglob("*.docx")
    found = check_pdf(pdf)
    assert found.problems() == []
    assert found.table_headers >= 5 * 1 + 3 * (2 + 8)    # summary header; each exception's two tables
    with pikepdf.open(pdf) as opened:
        assert opened.Root.MarkInfo.Marked
        assert str(opened.Root.Lang) == "en-GB"
        assert str(opened.docinfo["/Title"]) == "Appendix 6(b) - Exception Reports (Q2 2017/18)"
        assert bool(opened.Root.ViewerPreferences.DisplayDocTitle)
        alts = [str(f.Alt) for f in structure_figures(opened)]
    assert alts == figure_alt_texts(docx) and len(alts) == 5
    assert alts[0].startswith("Line chart: Rate per 10,000: Blackpool Council, statistical neighbours and England. "
                              "Latest figures: Blackpool Council 185.6 (Q2 2017/18)")
