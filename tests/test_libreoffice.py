"""LibreOffice as a real client: it opens what kpiflow writes and kpiflow reads what it saves."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest

from kpiflow.demo import DemoResult, run_demo
from kpiflow.model import Catalogue
from kpiflow.pdf import convert, to_pdf
from kpiflow.validate import validate_file

pytestmark = pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    return run_demo(tmp_path_factory.mktemp("lo") / "demo")


def test_the_report_converts_to_pdf_with_all_three_indicators(demo: DemoResult, tmp_path: Path) -> None:
    from pypdf import PdfReader

    pdf = to_pdf(demo.report, tmp_path)
    reader = PdfReader(str(pdf))
    text = " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)
    for name in ("Number/Rate of children looked after per 10,000", "Number of early help assessments",
                 "Number/ rate of current children in need per 10,000 population (including LAC & CP)"):
        assert name in text
    assert "Appendix 6(b) - Exception Reports (Q2 2017/18)" in text
    assert "469 (162.8)" in text and "No Target Set" in text
    # a summary page, then one page or more for each of the three exceptions
    assert len(reader.pages) >= 4


def test_the_report_keeps_its_charts_as_charts(demo: DemoResult, tmp_path: Path) -> None:
    import zipfile

    odt = convert(demo.report, tmp_path, "odt")
    with zipfile.ZipFile(odt) as zf:
        charts = [n for n in zf.namelist() if n.endswith("content.xml") and n.startswith("Object")
                  and b"chart:chart" in zf.read(n)]
    assert len(charts) == 5


def test_a_return_saved_by_libreoffice_reads_back_exactly(demo: DemoResult, tmp_path: Path) -> None:
    from kpiflow.catalogue import load_checked_catalogue
    from kpiflow.settings import load_settings

    catalogue: Catalogue = load_checked_catalogue(load_settings(demo.home))
    original = demo.home / "inbox" / "processed" / demo.filled.name
    src = tmp_path / "in" / "return.xlsx"
    src.parent.mkdir()
    shutil.copyfile(original, src)
    saved = convert(src, tmp_path / "out", "xlsx:Calc MS Excel 2007 XML")
    before, r1 = validate_file(src, catalogue)
    after, r2 = validate_file(saved, catalogue)
    assert r1.ok and r2.ok, r2.render_text()
    assert before is not None and after is not None
    assert after.rows == before.rows
    assert after.support == before.support and after.breakdown == before.breakdown
    assert (after.service, after.quarter, after.completed_by) == (before.service, before.quarter,
                                                                  before.completed_by)
    wb = openpyxl.load_workbook(saved)
    ws = wb["Return"]
    assert ws.protection.sheet
    assert ws["A7"].protection.locked and not ws["F7"].protection.locked
    assert len(ws.data_validations.dataValidation) > 0


def test_the_pdf_is_tagged_with_alternative_text_language_and_title(demo: DemoResult, tmp_path: Path) -> None:
    import pikepdf

    from kpiflow.pdf import check_pdf, figure_alt_texts

    alts = figure_alt_texts(demo.report)
    assert len(alts) == 5 and all(alts)
    pdf = to_pdf(demo.report, tmp_path, title="Appendix 6(b) - Exception Reports (Q2 2017/18)")
    found = check_pdf(pdf)
    assert found.problems() == []
    assert (found.tagged, found.lang, found.display_title, found.figures) == (True, "en-GB", True, 5)
    with pikepdf.open(pdf) as opened:
        assert opened.docinfo["/Title"] == "Appendix 6(b) - Exception Reports (Q2 2017/18)"
        from kpiflow.pdf import structure_figures

        # each figure carries the alternative text of the chart at the same place in the document
        assert [str(f.Alt) for f in structure_figures(opened)] == alts


def test_an_untagged_pdf_fails_the_check(demo: DemoResult, tmp_path: Path) -> None:
    from kpiflow.pdf import check_pdf

    plain = convert(demo.report, tmp_path, "pdf")    # LibreOffice's defaults: untagged
    problems = check_pdf(plain).problems()
    assert "the PDF is not tagged (no structure tree)" in problems
