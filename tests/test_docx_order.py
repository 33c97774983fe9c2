"""kpiflow.docx.order: property children put in Word's order, whoever inserted them; and the core
properties written once, in their own namespace, even after docxcompose has rebound ``cp``."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

from docx import Document
from lxml import etree
from ooxml_schema import validate_package

from kpiflow.docx.order import order_children

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W = f"{{{W_NS}}}"
CORE = "http://schemas.openxmlformats.org/package/2006/metadata/core-properties"
CUSTOM = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"


def _xml(inner: str) -> etree._Element:
    return etree.fromstring(f'<w:body xmlns:w="{W_NS}">{inner}</w:body>')


def _names(el: etree._Element | None) -> list[str]:
    assert el is not None
    return [etree.QName(c).localname if isinstance(c.tag, str) else "comment" for c in el]


def test_the_shading_docxtpl_puts_first_goes_after_the_width() -> None:
    body = _xml('<w:tc><w:tcPr><w:shd w:fill="FFC7CE"/><w:tcW w:w="1247"/><w:vAlign w:val="center"/>'
                "<w:gridSpan w:val=\"2\"/></w:tcPr></w:tc>")
    assert order_children(body) == 1
    assert _names(body.find(f"{W}tc/{W}tcPr")) == ["tcW", "gridSpan", "shd", "vAlign"]
    assert order_children(body) == 0      # in order now: nothing to move


def test_run_paragraph_and_table_properties_are_ordered() -> None:
    body = _xml('<w:p><w:pPr><w:rPr><w:lang w:val="en-GB"/><w:b/><w:ins w:id="1" w:author="a"/></w:rPr>'
                '<w:jc w:val="center"/><w:pStyle w:val="Title"/></w:pPr>'
                '<w:r><w:rPr><w:sz w:val="18"/><w:i/><w:rFonts w:ascii="Arial"/></w:rPr></w:r></w:p>'
                '<w:tbl><w:tblPr><w:tblLook w:val="04A0"/><w:tblW w:w="0" w:type="auto"/><w:tblStyle w:val="T"/>'
                "</w:tblPr><w:tr><w:trPr><w:tblHeader/><w:cantSplit/></w:trPr></w:tr></w:tbl>")
    assert order_children(body) == 5
    assert _names(body.find(f"{W}p/{W}pPr")) == ["pStyle", "jc", "rPr"]
    assert _names(body.find(f"{W}p/{W}pPr/{W}rPr")) == ["ins", "b", "lang"]
    assert _names(body.find(f"{W}p/{W}r/{W}rPr")) == ["rFonts", "i", "sz"]
    assert _names(body.find(f"{W}tbl/{W}tblPr")) == ["tblStyle", "tblW", "tblLook"]
    assert _names(body.find(f"{W}tbl/{W}tr/{W}trPr")) == ["cantSplit", "tblHeader"]


def test_header_and_footer_references_keep_their_order_before_the_page_size() -> None:
    body = _xml('<w:sectPr><w:pgSz w:w="11906" w:h="16838"/><w:footerReference w:type="default"/>'
                '<w:headerReference w:type="first"/><w:headerReference w:type="default"/></w:sectPr>')
    order_children(body)
    sect = body.find(f"{W}sectPr")
    assert _names(sect) == ["footerReference", "headerReference", "headerReference", "pgSz"]
    assert sect is not None and [c.get(f"{W}type") for c in sect][:3] == ["default", "first", "default"]


def test_an_element_with_a_child_the_order_does_not_know_is_left_alone() -> None:
    body = etree.fromstring(f'<w:body xmlns:w="{W_NS}" xmlns:w14="http://schemas.microsoft.com/office/word/2010/'
                            'wordml"><w:r><w:rPr><w:sz w:val="18"/><w14:glow/><w:b/></w:rPr></w:r>'
                            "<w:r><w:rPr><w:sz w:val=\"18\"/><!-- a comment --><w:b/></w:rPr></w:r></w:body>")
    assert order_children(body) == 0
    assert [_names(r) for r in body.iter(f"{W}rPr")] == [["sz", "glow", "b"], ["sz", "comment", "b"]]


def test_core_properties_after_docxcompose_rebinds_cp(tmp_path: Path) -> None:
    """python-docx #1037, docxtpl #471, docxcompose #101: setting lastModifiedBy after docxcompose
    is imported adds a second one in the custom-properties namespace. kpiflow's one writer does not."""
    import docxtpl  # noqa: F401  (imports docxcompose, which rebinds python-docx's cp prefix)

    from kpiflow.docx.a11y import set_properties

    doc = Document()
    doc.core_properties.comments = "from the template"
    set_properties(doc, "Appendix 6(b)", "Blackpool Council")
    path = tmp_path / "props.docx"
    doc.save(str(path))
    with zipfile.ZipFile(path) as z:
        core = etree.fromstring(z.read("docProps/core.xml"))
    assert [etree.QName(el).namespace for el in core if etree.QName(el).namespace == CUSTOM] == []
    assert [el.text for el in core.iter(f"{{{CORE}}}lastModifiedBy")] == ["Blackpool Council"]
    assert [el.text for el in core.iter(f"{{{CORE}}}revision")] == ["1"]
    assert core.find("{http://purl.org/dc/elements/1.1/}description") is None
    assert [p for p in validate_package(path) if "docProps/core.xml" in p] == []
    # python-docx reads the dc: and dcterms: ones back (not cp:, which it now looks for in the wrong namespace)
    back = Document(str(path)).core_properties
    assert (back.title, back.author, back.language) == ("Appendix 6(b)", "Blackpool Council", "en-GB")
    assert back.created is not None and abs(back.created - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
