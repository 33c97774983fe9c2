"""The shipped example files: one source, every template renders."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpiflow.init import SKELETON_FILES, skeleton_file
from kpiflow.template_check import check_template

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("rel", SKELETON_FILES)
def test_project_root_copies_match_the_packaged_files(rel: str) -> None:
    assert (ROOT / rel).read_bytes() == skeleton_file(rel).read_bytes(), f"run make skeleton ({rel})"


@pytest.mark.parametrize("template", sorted((ROOT / "doc_templates").glob("*.docx")), ids=lambda p: p.name)
def test_every_shipped_template_checks_clean(template: Path) -> None:
    result = check_template(template)
    assert result.ok, result.render_text()


def test_template_check_finds_unknown_variables_and_broken_tags(tmp_path: Path) -> None:
    from docx import Document

    doc = Document()
    doc.add_paragraph("{{ council }} {{ councill }}")
    doc.add_paragraph("{%p for ex in exceptions %}")
    doc.add_paragraph("{{ ex.descripton }}")
    doc.add_paragraph("{%p endfor %}")
    bad = tmp_path / "bad.docx"
    doc.save(str(bad))
    result = check_template(bad)
    assert [p.code for p in result.problems] == ["unknown-variable", "wrong-language"]   # python-docx default: en-US
    assert "councill" in result.problems[0].message
    doc2 = Document()
    doc2.add_paragraph("{{ ex.description }}")
    doc2.add_paragraph("{%p for ex in exceptions %}")
    broken = tmp_path / "broken.docx"
    doc2.save(str(broken))
    result2 = check_template(broken)
    assert [p.code for p in result2.problems] == ["template-syntax"]
    (tmp_path / "x.docx").write_bytes(b"nope")
    assert [p.code for p in check_template(tmp_path / "x.docx").problems] == ["not-docx"]


def test_the_headings_look_like_headings_in_every_office_suite() -> None:
    """The portfolio and exception headings read as headings on the page, not as body text: no run in the
    template unbolds them, and their styles name Arial rather than a theme font (which Word would put first)."""
    import zipfile

    from lxml import etree

    w = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    with zipfile.ZipFile(skeleton_file("doc_templates/appendix_6b.docx")) as z:
        body = etree.fromstring(z.read("word/document.xml"))
        styles = etree.fromstring(z.read("word/styles.xml"))
    headings = [p for p in body.iter(f"{w}p") if (p.find(f"{w}pPr/{w}pStyle") is not None and "Heading" in
                                                  p.find(f"{w}pPr/{w}pStyle").get(f"{w}val"))]
    assert len(headings) >= 5
    for p in headings:
        for b in p.iter(f"{w}b"):
            assert b.get(f"{w}val") not in ("0", "false"), etree.tostring(p)
    for sid in ("Heading1", "Heading2"):
        style = next(s for s in styles.iter(f"{w}style") if s.get(f"{w}styleId") == sid)
        fonts = style.find(f"{w}rPr/{w}rFonts")
        assert fonts.get(f"{w}ascii") == "Arial" and fonts.get(f"{w}asciiTheme") is None
        assert style.find(f"{w}rPr/{w}b") is not None
