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
