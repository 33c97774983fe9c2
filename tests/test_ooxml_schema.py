"""Every XML part of every .docx and .xlsx kpiflow writes is valid against the ECMA-376 transitional
schemas, with ``w:rPr`` children in Word's order (PRODUCT.md section 15), checked with the offline
validator in tests/ooxml_schema.py; and that validator fails on the faults Word refuses.

The files: the demo's draft (line and column charts, a breakdown), the same draft with picture
charts, a draft carrying an officer's edits (--keep-edits), the published .docx, the issued
return, the annotated feedback copy of a rejected return, ``export --format xlsx``, the shipped
template and catalogue, and each chart's embedded workbook (validated inside its .docx). The
council's drafts and workbooks are checked in tests/test_council.py with its six-quarter run.
"""

from __future__ import annotations

import copy
import io
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import openpyxl
import pytest
from lxml import etree
from ooxml_schema import mc_process, rpr_order, schema, validate_bytes, validate_package, validate_part
from typer.testing import CliRunner

from kpiflow.cli import app
from kpiflow.demo import fill_example_return, run_demo
from kpiflow.periods import parse_period

Q2 = parse_period("2017/18 Q2")
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W = f"{{{W_NS}}}"
CP_CORE = "http://schemas.openxmlformats.org/package/2006/metadata/core-properties"
CP_CUSTOM = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"
SHIPPED = Path(__file__).parent.parent / "kpiflow" / "skeleton"


@dataclass
class Files:
    home: Path
    draft: Path
    image_draft: Path
    kept_draft: Path
    published: Path
    issued: Path
    feedback: Path
    export: Path


def _edit_commentary(draft: Path, dest: Path, words: str) -> None:
    """The draft as an officer leaves it: the first marked commentary retyped (python-docx, as a
    client that keeps the content controls would save it)."""
    from docx import Document

    doc = Document(str(draft))
    sdt = next(doc.element.body.iter(f"{W}sdt"))
    texts = list(sdt.iter(f"{W}t"))
    texts[0].text = words
    for t in texts[1:]:
        t.text = ""
    doc.save(str(dest))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    """One demo run, and each other kind of file kpiflow writes made from it."""
    from kpiflow.catalogue import load_checked_catalogue
    from kpiflow.publish import publish
    from kpiflow.report import make_report
    from kpiflow.report.word import render_report
    from kpiflow.settings import load_settings
    from kpiflow.store import open_store

    base = tmp_path_factory.mktemp("schema")
    demo = run_demo(base / "demo")
    home = demo.home
    settings = load_settings(home)
    catalogue = load_checked_catalogue(settings)
    edited = base / "edited.docx"
    _edit_commentary(demo.report, edited, "The officer's own words about the quarter.")
    kept = make_report(settings, Q2, keep_edits=edited)
    assert kept.ok and kept.path is not None, kept.lines
    with open_store(settings) as store:
        image = render_report(replace(settings, charts="image"), store, catalogue, Q2, out=base / "image.docx")
        done = publish(settings, store, catalogue, Q2, demo.report, "clerk")
    assert done.ok, done.lines
    published = next(p for p in done.files if p.suffix == ".docx")
    # a return with a word where a number goes: rejected, with an annotated copy
    bad = fill_example_return(demo.issued, base / f"bad {demo.issued.name}")
    wb = openpyxl.load_workbook(bad)
    wb["Return"]["F7"] = "n/a"
    wb.save(bad)
    shutil.move(bad, home / "inbox" / bad.name)
    runner = CliRunner()
    for args in (["reopen", "--quarter", Q2.label, "--reason", "a late correction"], ["ingest"]):
        out = runner.invoke(app, [*args, "--home", str(home)], catch_exceptions=False)
        assert out.exit_code in (0, 1), out.output     # ingest exits 1: the return is rejected
    feedback = [p for p in (home / "outbox" / "feedback").glob("*.xlsx") if p.name.startswith("bad ")]
    assert feedback, sorted(p.name for p in (home / "outbox" / "feedback").iterdir())
    export = base / "history.xlsx"
    out = runner.invoke(app, ["export", "--format", "xlsx", "--out", str(export), "--home", str(home)],
                        catch_exceptions=False)
    assert out.exit_code == 0, out.output
    return Files(home, demo.report, image, kept.path, published, demo.issued, feedback[0], export)


KINDS: dict[str, Callable[[Files], Path]] = {
    "draft": lambda f: f.draft,
    "draft-picture-charts": lambda f: f.image_draft,
    "draft-keep-edits": lambda f: f.kept_draft,
    "published": lambda f: f.published,
    "issued-return": lambda f: f.issued,
    "annotated-feedback": lambda f: f.feedback,
    "export-xlsx": lambda f: f.export,
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_part_of_every_file_kind_is_schema_valid(files: Files, kind: str) -> None:
    checked: list[str] = []
    assert validate_package(KINDS[kind](files), checked) == []
    assert any(n.endswith(("/word/document.xml", "/xl/workbook.xml")) for n in checked), checked


@pytest.mark.parametrize("rel", ["doc_templates/appendix_6b.docx", "workbook_templates/catalogue.xlsx"])
def test_the_shipped_template_and_catalogue_are_schema_valid(rel: str) -> None:
    assert validate_package(SHIPPED / rel) == []


def test_the_drafts_hold_what_the_checks_are_meant_to_cover(files: Files) -> None:
    """The checks above are only as good as the files: each kind of content is really there."""
    checked: list[str] = []
    assert validate_package(files.draft, checked) == []
    embedded = {n.split("!")[0] for n in checked if "!" in n}
    with zipfile.ZipFile(files.draft) as z:
        charts = [n for n in z.namelist() if n.startswith("word/charts/chart")]
        body = z.read("word/document.xml").decode()
        kinds = {k for n in charts for k in ("barChart", "lineChart") if f"<c:{k}>" in z.read(n).decode()}
    assert len(embedded) == len(charts) >= 2 and kinds == {"barChart", "lineChart"}
    assert "Category" in body                                  # a breakdown table
    rag = [t for t in etree.fromstring(body.encode()).iter(f"{W}tcPr")
           if t.find(f"{W}shd") is not None and t.find(f"{W}shd").get(f"{W}fill") != "D9E2F3"]
    assert rag and all(t.index(t.find(f"{W}tcW")) < t.index(t.find(f"{W}shd")) for t in rag)   # {% cellbg %}
    with zipfile.ZipFile(files.image_draft) as z:
        assert any(n.startswith("word/media/") for n in z.namelist())
        assert not any(n.startswith("word/charts/") for n in z.namelist())
    with zipfile.ZipFile(files.kept_draft) as z:
        assert "own words about the quarter" in z.read("word/document.xml").decode()
    with zipfile.ZipFile(files.feedback) as z:
        assert any(n.startswith("xl/comments") for n in z.namelist())    # comments and their VML drawing


def test_core_properties_are_written_once_in_their_own_namespace(files: Files) -> None:
    """The fault of python-docx #1037 / docxtpl #471 / docxcompose #101, as the draft has it."""
    for path in (files.draft, files.published):
        with zipfile.ZipFile(path) as z:
            core = etree.fromstring(z.read("docProps/core.xml"))
        assert [el for el in core if etree.QName(el).namespace == CP_CUSTOM] == []
        names = [etree.QName(el).localname for el in core]
        assert len(names) == len(set(names))
        assert core.findtext(f"{{{CP_CORE}}}lastModifiedBy") == "Blackpool Council"
        assert core.findtext(f"{{{CP_CORE}}}revision") == "1"
        assert core.findtext("{http://purl.org/dc/elements/1.1/}title") == "Appendix 6(b) - Exception Reports (Q2 2017/18)"


# --- the validator fails where Word would refuse ---------------------------------------------

def _with_part(path: Path, name: str, change: Callable[[etree._Element], None]) -> bytes:
    """The package at ``path`` with one part changed."""
    buf = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == name:
                root = etree.fromstring(data)
                change(root)
                data = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
            out.writestr(item, data)
    return buf.getvalue()


def _first_rpr_with(root: etree._Element, n: int) -> etree._Element:
    return next(r for r in root.iter(f"{W}rPr") if len(r) >= n)


def test_one_run_property_out_of_order_fails(files: Files) -> None:
    """The transitional schema lets w:rPr's children come in any order; Word does not."""
    def swap(root: etree._Element) -> None:
        rpr = _first_rpr_with(root, 2)
        first = rpr[0]
        rpr.remove(first)
        rpr.append(first)

    data = _with_part(files.draft, "word/styles.xml", swap)
    problems = validate_bytes(data, "draft")
    assert len(problems) == 1 and "w:rPr children out of Word's order" in problems[0], problems
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert schema().validate(mc_process(etree.fromstring(z.read("word/styles.xml"))))  # the schema alone passes


def test_a_run_property_given_twice_fails() -> None:
    part = (f'<w:document xmlns:w="{W_NS}"><w:body><w:p><w:r><w:rPr><w:b/><w:b w:val="0"/></w:rPr>'
            "<w:t>x</w:t></w:r></w:p></w:body></w:document>").encode()
    assert any("repeats a child" in p for p in validate_part(part))


def test_the_rpr_order_is_the_schemas() -> None:
    order = rpr_order()
    assert order[:4] == ("rStyle", "rFonts", "b", "bCs") and order.index("sz") < order.index("lang")
    from kpiflow.docx.order import ORDER

    assert ORDER["rPr"][4:-1] == order      # kpiflow's ordering is the schema's, after the change marks


def test_shading_before_the_cell_width_fails(files: Files) -> None:
    def shading_first(root: etree._Element) -> None:
        tc_pr = next(t for t in root.iter(f"{W}tcPr") if t.find(f"{W}shd") is not None and t.find(f"{W}tcW") is not None)
        shd = tc_pr.find(f"{W}shd")
        tc_pr.remove(shd)
        tc_pr.insert(0, shd)

    problems = validate_bytes(_with_part(files.draft, "word/document.xml", shading_first), "draft")
    assert len(problems) == 1 and "tcW" in problems[0] and "not expected" in problems[0], problems


def test_a_core_property_in_the_custom_properties_namespace_fails(files: Files) -> None:
    def second_author(root: etree._Element) -> None:
        etree.SubElement(root, f"{{{CP_CUSTOM}}}lastModifiedBy").text = "kpiflow"

    problems = validate_bytes(_with_part(files.draft, "docProps/core.xml", second_author), "draft")
    assert len(problems) == 1 and "docProps/core.xml" in problems[0], problems


def test_a_zoom_without_its_percentage_fails() -> None:
    def no_percent(root: etree._Element) -> None:
        root.find(f"{W}zoom").attrib.pop(f"{W}percent")

    problems = validate_bytes(_with_part(SHIPPED / "doc_templates/appendix_6b.docx", "word/settings.xml", no_percent))
    assert len(problems) == 1 and "percent" in problems[0], problems


def test_a_broken_embedded_workbook_fails(files: Files) -> None:
    with zipfile.ZipFile(files.draft) as z:
        name = next(n for n in z.namelist() if n.startswith("word/embeddings/") and n.endswith(".xlsx"))
        inner = z.read(name)
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(inner)) as src, zipfile.ZipFile(buf, "w") as out:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<sheetData>", b"<sheetData><bogus/>")
            out.writestr(item, data)
    outer = io.BytesIO()
    with zipfile.ZipFile(files.draft) as src, zipfile.ZipFile(outer, "w") as out:
        for item in src.infolist():
            out.writestr(item, buf.getvalue() if item.filename == name else src.read(item.filename))
    problems = validate_bytes(outer.getvalue(), "draft")
    assert len(problems) == 1 and f"{name}!:/xl/worksheets/sheet1.xml" in problems[0], problems


# --- Markup Compatibility, as Word processes it ----------------------------------------------

W14 = "http://schemas.microsoft.com/office/word/2010/wordml"


def _doc(body: str, ignorable: str = 'mc:Ignorable="w14"') -> bytes:
    return (f'<w:document xmlns:w="{W_NS}" xmlns:mc="{MC_NS}" xmlns:w14="{W14}" {ignorable}>'
            f"<w:body>{body}</w:body></w:document>").encode()


def test_an_ignorable_extension_is_dropped_and_an_undeclared_one_is_not() -> None:
    extended = '<w:p w14:paraId="1A2B3C4D"><w:r><w:t>x</w:t></w:r><w14:foo/></w:p>'
    assert validate_part(_doc(extended)) == []
    assert validate_part(_doc(extended, ignorable="")) != []


def test_alternate_content_is_checked_by_its_fallback() -> None:
    good, bad = "<w:r><w:t>fallback</w:t></w:r>", "<w:r><w:bogus/></w:r>"

    def alt(fallback: str) -> bytes:
        return _doc(f'<w:p><mc:AlternateContent><mc:Choice Requires="w14"><w14:foo/></mc:Choice>'
                    f"<mc:Fallback>{fallback}</mc:Fallback></mc:AlternateContent></w:p>")

    assert validate_part(alt(good)) == []
    assert validate_part(alt(bad)) != []


def test_process_content_keeps_the_children_of_an_ignored_element() -> None:
    part = _doc('<w14:wrap><w:p><w:r><w:bogus/></w:r></w:p></w14:wrap>',
                ignorable='mc:Ignorable="w14" mc:ProcessContent="w14:wrap"')
    assert validate_part(part) != []       # the children were kept and checked
    assert validate_part(part.replace(b' mc:ProcessContent="w14:wrap"', b"")) == []


def test_must_understand_an_unknown_namespace_fails() -> None:
    part = _doc("<w:p/>", ignorable='mc:MustUnderstand="w14"')
    assert any("must be understood" in p for p in validate_part(part))


def test_the_processing_leaves_the_part_itself_alone() -> None:
    root = etree.fromstring(_doc('<w:p><w14:foo/></w:p>'))
    before = etree.tostring(root)
    mc_process(copy.deepcopy(root))
    mc_process(root)
    assert etree.tostring(root) == before
