"""Reading edits back out of the draft, whether Word (content controls) or LibreOffice
(bookmarks only) saved it, and publishing them into the store."""

from __future__ import annotations

import copy
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest
from docx import Document
from docx.text.paragraph import Paragraph

from kpiflow.catalogue import load_checked_catalogue
from kpiflow.demo import DemoResult, run_demo
from kpiflow.docx.harvest import harvest
from kpiflow.issue import issue_returns
from kpiflow.periods import parse_period
from kpiflow.publish import publish
from kpiflow.settings import load_settings
from kpiflow.store import open_store

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
Q2 = parse_period("2017/18 Q2")
NEW_RESPONSE = "Early Help Hub live from November & staffed 😀\nSecond paragraph: <b>not bold</b>"


@pytest.fixture
def demo(tmp_path: Path) -> DemoResult:
    return run_demo(tmp_path / "demo")


def region(doc: object, iid: str, kind: str) -> object:
    for sdt in doc.element.body.iter(f"{W}sdt"):  # type: ignore[attr-defined]
        tag = sdt.find(f"{W}sdtPr/{W}tag")
        if tag is not None and tag.get(f"{W}val") == f"kpiflow:{iid}:{kind}":
            return sdt
    raise AssertionError(f"no region {iid} {kind}")


def set_region_text(doc: object, iid: str, kind: str, text: str) -> None:
    """Replace a region's paragraphs as Word does when an officer retypes it: inside the content
    control, keeping the mark (a point bookmark) at the start of the first paragraph."""
    sdt = region(doc, iid, kind)
    content = sdt.find(f"{W}sdtContent")  # type: ignore[attr-defined]
    paras = content.findall(f"{W}p")
    marks = [el for el in paras[0] if el.tag in (f"{W}bookmarkStart", f"{W}bookmarkEnd")]
    template = copy.deepcopy(paras[0])
    for p in paras:
        content.remove(p)
    lines = text.split("\n")
    for i, line in enumerate(lines):
        p = copy.deepcopy(template)
        for child in list(p):
            if child.tag != f"{W}pPr":
                p.remove(child)
        Paragraph(p, doc).add_run(line)  # type: ignore[arg-type]
        if i == 0:
            for mark in reversed(marks):
                p.insert(1 if p.find(f"{W}pPr") is not None else 0, mark)
        content.append(p)


def edited_draft(demo: DemoResult, name: str = "edited.docx") -> Path:
    doc = Document(str(demo.report))
    set_region_text(doc, "CS02", "response", NEW_RESPONSE)
    sdt = region(doc, "CS01", "commentary")
    last = sdt.find(f"{W}sdtContent").findall(f"{W}p")[-1]  # type: ignore[attr-defined]
    Paragraph(last, doc).add_run(" Officers added this sentence.")  # type: ignore[arg-type]
    # move CS03's response to the very end of the document: a section moved in editing
    moved = region(doc, "CS03", "response")
    body = doc.element.body
    body.insert(len(body) - 1, moved)  # before sectPr
    out = demo.report.with_name(name)
    doc.save(str(out))
    return out


def test_word_style_edits_are_read_back_by_content_control(demo: DemoResult) -> None:
    h = harvest(edited_draft(demo))
    assert h.get("CS02", "response") == NEW_RESPONSE
    assert h.via[("CS02", "response")] == "content control"
    assert h.get("CS01", "commentary").endswith("Officers added this sentence.")  # type: ignore[union-attr]
    assert h.get("CS03", "response").startswith("The Children's Services Improvement")  # type: ignore[union-attr]


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_a_draft_saved_by_libreoffice_is_read_back_by_bookmark(demo: DemoResult, tmp_path: Path) -> None:
    from kpiflow.pdf import convert

    saved = convert(edited_draft(demo), tmp_path / "lo", "docx:MS Word 2007 XML")
    h = harvest(saved)
    assert h.via[("CS02", "response")] == "bookmark"     # LibreOffice dropped the tags
    assert h.get("CS02", "response") == NEW_RESPONSE
    assert h.get("CS01", "commentary").endswith("Officers added this sentence.")  # type: ignore[union-attr]
    assert h.get("CS03", "response").startswith("The Children's Services Improvement")  # type: ignore[union-attr]


def test_publish_stores_the_edits_and_the_next_quarter_starts_from_them(demo: DemoResult) -> None:
    settings = load_settings(demo.home)
    catalogue = load_checked_catalogue(settings)
    draft = edited_draft(demo)
    with open_store(settings) as store:
        result = publish(settings, store, catalogue, Q2, draft, "clerk")
        assert result.ok, result.lines
        # the officer's words are stored (CS01's commentary, CS02's response); the commentary kpiflow drafted from
        # the figures and nobody changed is not (CS02's, CS03's): a later draft drafts it again from its own day's
        assert "Stored the report's words (commentary and service response) for CS01, CS02" in result.lines
        assert store.texts("CS02", Q2) == ("", NEW_RESPONSE)
        assert harvest(draft).get("CS02", "commentary")
        issued = issue_returns(settings, store, catalogue, parse_period("2017/18 Q3"))[0]
    ws = openpyxl.load_workbook(issued)["Return"]
    headers = [c.value for c in ws[6]]
    col = headers.index("Last service response") + 1
    assert ws.cell(8, col).value == NEW_RESPONSE
    assert ws.cell(8, col).protection.locked
    # publishing is repeatable: the same draft gives the same words
    with open_store(settings) as store:
        store.record_quarter_event(Q2, "reopened", "clerk", "again")
        again = publish(settings, store, catalogue, Q2, draft, "clerk")
        assert again.ok
        assert any(line.startswith("No words to store: the commentary and service responses are the store's")
                   for line in again.lines), again.lines


def test_a_lost_region_or_a_deleted_exception_is_reported_not_guessed(demo: DemoResult) -> None:
    doc = Document(str(demo.report))
    sdt = region(doc, "CS02", "response")
    label = sdt.getprevious()  # type: ignore[attr-defined]
    assert Paragraph(label, doc).text == "Service Response:"  # type: ignore[arg-type]
    for el in (sdt, label):     # the label carries the mark
        el.getparent().remove(el)  # type: ignore[attr-defined]
    lost = demo.report.with_name("lost.docx")
    doc.save(str(lost))
    settings = load_settings(demo.home)
    with open_store(settings) as store:
        result = publish(settings, store, load_checked_catalogue(settings), Q2, lost, "clerk")
        assert not result.ok
        assert any("CS02 (Number of early help assessments): the marked service response was not found" in line
                   for line in result.lines)
        assert store.quarter_state(Q2) == "open"
        assert store.texts("CS02", Q2)[1].startswith("Data collection")  # type: ignore[index]


def test_an_emptied_response_is_reported_as_missing(demo: DemoResult) -> None:
    doc = Document(str(demo.report))
    set_region_text(doc, "CS03", "response", "")
    emptied = demo.report.with_name("emptied.docx")
    doc.save(str(emptied))
    settings = load_settings(demo.home)
    with open_store(settings) as store:
        result = publish(settings, store, load_checked_catalogue(settings), Q2, emptied, "clerk")
    assert not result.ok
    assert any("CS03 (Number/ rate of current children in need per 10,000 population (including LAC & CP)) has no "
               "service response" in line for line in result.lines)


# -- never words against the wrong indicator ------------------------------------------------------

import json  # noqa: E402

from publish_helpers import (  # noqa: E402
    QUARTER,
    edit_xml,
    frag,
    kpiflow,
    no_soffice_env,
    para,
    rewrite,
    stored_texts,
)
from publish_helpers import region as region_of  # noqa: E402


def publish_cli(demo: DemoResult, draft: Path, *extra: str) -> tuple[int, str]:
    r = kpiflow(demo.home, "publish", "--quarter", QUARTER, "--from", str(draft), *extra,
                env=no_soffice_env(demo.home.parent / f"bin{len(extra)}"))
    print(r.stdout, r.stderr)
    return r.returncode, r.stdout


def problems(stdout: str) -> list[tuple[str, str, str]]:
    return [(p["code"], p["sheet"], p["cell"]) for p in json.loads(stdout)["checks"]["problems"]]


def test_a_response_copied_into_another_section_is_refused_as_ambiguous(fresh: DemoResult) -> None:
    def copy_response(root: object) -> None:
        cs01 = region_of(root, "CS01", "response")
        cs02 = region_of(root, "CS02", "response")
        cs02.addnext(copy.deepcopy(cs01))        # CS01's response pasted under CS02's

    draft = rewrite(fresh.report, fresh.home / "copied.docx", {"word/document.xml": edit_xml(copy_response)})
    before = stored_texts(fresh)
    code, out = publish_cli(fresh, draft, "--json")
    assert code == 1
    found = problems(out)
    assert [f[0] for f in found] == ["duplicate-region"]
    assert found[0][1] == "CS01"
    text = json.loads(out)["checks"]["problems"][0]["message"]
    assert "CS01" in text and "twice" in text and "CS02" in text     # where the copy sits
    assert stored_texts(fresh) == before
    code, out = publish_cli(fresh, draft)
    assert code == 1 and "duplicate-region" in out


def test_a_duplicated_section_is_refused_as_ambiguous(fresh: DemoResult) -> None:
    """An officer copies CS02's whole section (its tables, labels and regions) and edits the copy:
    which one is CS02's words?"""
    def duplicate(root: object) -> None:
        body = root.find(f"{W}body")  # type: ignore[attr-defined]
        blocks = list(body)
        start = next(i for i, el in enumerate(blocks) if el.tag == f"{W}sdt" and el.find(f"{W}sdtPr/{W}tag").get(
            f"{W}val") == "kpiflow:CS02:commentary") - 1
        end = next(i for i, el in enumerate(blocks) if el.tag == f"{W}sdt" and el.find(f"{W}sdtPr/{W}tag").get(
            f"{W}val") == "kpiflow:CS02:response")
        for el in blocks[start:end + 1]:
            dup = copy.deepcopy(el)
            for mark in dup.iter(f"{W}bookmarkStart", f"{W}bookmarkEnd"):   # Word does not copy bookmarks
                mark.getparent().remove(mark)
            body.insert(len(body) - 1, dup)
        content = region_of(root, "CS02", "response").find(f"{W}sdtContent")
        content.append(para("An edit made in the first copy."))

    draft = rewrite(fresh.report, fresh.home / "duplicated.docx", {"word/document.xml": edit_xml(duplicate)})
    before = stored_texts(fresh)
    code, out = publish_cli(fresh, draft, "--json")
    assert code == 1
    assert sorted({f[:2] for f in problems(out)}) == [("duplicate-region", "CS02")]
    assert stored_texts(fresh) == before


def test_a_bookmark_copied_by_writer_is_refused_as_ambiguous(fresh: DemoResult) -> None:
    """Writer names a copied bookmark "<name> Copy 1" and saves it as <name>_Copy_1."""
    def copy_label(root: object) -> None:
        for sdt in list(root.iter(f"{W}sdt")):  # type: ignore[attr-defined]
            content = sdt.find(f"{W}sdtContent")
            for p in list(content):
                sdt.addprevious(p)
            sdt.getparent().remove(sdt)
        label = next(s for s in root.iter(f"{W}bookmarkStart")  # type: ignore[attr-defined]
                     if s.get(f"{W}name") == "kpiflow_CS01_response").getparent()
        target = next(s for s in root.iter(f"{W}bookmarkStart")  # type: ignore[attr-defined]
                      if s.get(f"{W}name") == "kpiflow_CS03_response").getparent()
        dup = copy.deepcopy(label)
        dup.find(f"{W}bookmarkStart").set(f"{W}name", "kpiflow_CS01_response_Copy_1")
        target.addnext(dup)
        dup.addnext(para("Pasted under CS03."))

    draft = rewrite(fresh.report, fresh.home / "writer-copy.docx", {"word/document.xml": edit_xml(copy_label)})
    code, out = publish_cli(fresh, draft, "--json")
    assert code == 1
    assert ("duplicate-region", "CS01") in {f[:2] for f in problems(out)}


def test_a_paragraph_typed_just_below_a_region_is_stored_with_it(fresh: DemoResult) -> None:
    def below(root: object) -> None:
        region_of(root, "CS01", "response").addnext(para("Typed just below the control, outside it."))

    draft = rewrite(fresh.report, fresh.home / "below.docx", {"word/document.xml": edit_xml(below)})
    code, out = publish_cli(fresh, draft)
    assert code == 0, out
    response = stored_texts(fresh)["CS01"]
    assert response is not None and response[1].endswith("\nTyped just below the control, outside it.")


CHANGES = {
    "move": ('<w:moveFrom w:id="901" w:author="A" w:date="2017-10-20T10:00:00Z"><w:r><w:t>moved</w:t></w:r>'
             '</w:moveFrom>', '<w:moveTo w:id="902" w:author="A" w:date="2017-10-20T10:00:00Z"><w:r><w:t>moved</w:t>'
             "</w:r></w:moveTo>"),
    "run format": ('<w:r><w:rPr><w:b/><w:rPrChange w:id="903" w:author="A" w:date="2017-10-20T10:00:00Z"><w:rPr/>'
                   "</w:rPrChange></w:rPr><w:t>bold now</w:t></w:r>",),
    "paragraph format": ('<w:pPr><w:jc w:val="center"/><w:pPrChange w:id="904" w:author="A" '
                         'w:date="2017-10-20T10:00:00Z"><w:pPr/></w:pPrChange></w:pPr>',),
    "numbering": ('<w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/><w:numberingChange w:id="905" '
                  'w:author="A" w:date="2017-10-20T10:00:00Z" w:original=""/></w:numPr></w:pPr>',),
}


def _changed_paragraph(kind: str) -> object:
    p = para("")
    for piece in CHANGES[kind]:
        el = frag(piece)
        if el.tag == f"{W}pPr":
            p.insert(0, el)
        else:
            p.append(el)
    return p


def test_every_kind_of_tracked_change_in_every_part_is_unresolved(fresh: DemoResult) -> None:
    def in_document(root: object) -> None:
        for iid, kind in (("CS01", "move"), ("CS02", "run format"), ("CS03", "paragraph format")):
            region_of(root, iid, "commentary").find(f"{W}sdtContent").append(_changed_paragraph(kind))
        table = next(root.iter(f"{W}tbl"))  # type: ignore[attr-defined]
        table.find(f"{W}tblPr").append(frag('<w:tblPrChange w:id="906" w:author="A" w:date="2017-10-20T10:00:00Z">'
                                            "<w:tblPr/></w:tblPrChange>"))
        sect = root.find(f"{W}body/{W}sectPr")  # type: ignore[attr-defined]
        sect.append(frag('<w:sectPrChange w:id="907" w:author="A" w:date="2017-10-20T10:00:00Z"><w:sectPr/>'
                         "</w:sectPrChange>"))

    def in_part(root: object) -> None:
        root.append(_changed_paragraph("numbering"))  # type: ignore[attr-defined]

    def inserted(root: object) -> None:
        root.append(frag('<w:p><w:ins w:id="908" w:author="A" w:date="2017-10-20T10:00:00Z"><w:r><w:t>new</w:t>'  # type: ignore[attr-defined]
                         "</w:r></w:ins></w:p>"))

    footnotes = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:footnotes xmlns:w="http://schemas.'
                 b'openxmlformats.org/wordprocessingml/2006/main"><w:footnote w:id="1"><w:p><w:del w:id="909" '
                 b'w:author="A" w:date="2017-10-20T10:00:00Z"><w:r><w:delText>gone</w:delText></w:r></w:del></w:p>'
                 b"</w:footnote></w:footnotes>")

    def register_footnotes(data: bytes) -> bytes:
        return data.replace(b"</Types>", b'<Override PartName="/word/footnotes.xml" ContentType="application/vnd.'
                            b'openxmlformats-officedocument.wordprocessingml.footnotes+xml"/></Types>')

    def relate_footnotes(data: bytes) -> bytes:
        return data.replace(b"</Relationships>", b'<Relationship Id="rIdFoot" Type="http://schemas.openxmlformats.'
                            b'org/officeDocument/2006/relationships/footnotes" Target="footnotes.xml"/>'
                            b"</Relationships>")

    draft = rewrite(fresh.report, fresh.home / "changes.docx", {
        "word/document.xml": edit_xml(in_document), "word/header1.xml": edit_xml(in_part),
        "word/footer1.xml": edit_xml(inserted), "[Content_Types].xml": register_footnotes,
        "word/_rels/document.xml.rels": relate_footnotes}, add={"word/footnotes.xml": footnotes})
    before = stored_texts(fresh)
    code, out = publish_cli(fresh, draft, "--json")
    assert code == 1
    found = problems(out)
    assert {f[0] for f in found} == {"tracked-change"}
    where = {(f[1], f[2].split()[0]) for f in found}
    assert {("CS01", "paragraph"), ("CS02", "paragraph"), ("CS03", "paragraph")} <= where
    assert {f[1] for f in found} >= {"header", "footer", "footnotes"}
    assert len(found) == 3 + 2 + 3     # three regions, the table and the section, three other parts
    assert stored_texts(fresh) == before


# -- read_document without the tables' contents ------------------------------------------------------------

MAIN_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def _part(body: str, decl: str = DECL, root: str = MAIN_NS) -> bytes:
    return f"{decl}<w:document {root}><w:body>{body}</w:body></w:document>".encode()


def _para(text: str) -> str:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"


def _table(inner: str, attrs: str = "") -> str:
    return f"<w:tbl{attrs}><w:tblPr/><w:tblGrid/><w:tr><w:tc>{inner}</w:tc></w:tr></w:tbl>"


def _tables_emptied(root: object) -> bytes:
    """The part parsed whole, then each table emptied (children, text, attributes): what the cut must equal."""
    from lxml import etree

    for table in list(root.iter(f"{W}tbl")):  # type: ignore[attr-defined]
        for child in list(table):
            table.remove(child)
        table.text = None
        table.attrib.clear()
    return bytes(etree.tostring(root))


@pytest.mark.parametrize("body", [
    _para("before") + _table(_para("in a cell")) + "\n  " + _para("after"),
    _table(_table(_para("nested")) + _para("outer cell")) + _para("after"),
    "<w:tbl/>" + _para("after an empty table") + _table(_para("x"), ' w:rsid="1"'),
    _table(_para("a quoted > or /> cannot end the tag"), ' w:x="a/>b" w:y=\'>\'') + _para("after"),
    _para("&lt;w:tbl&gt; typed as text") + _table(_para("&lt;/w:tbl&gt;")) + _para("after"),
])
def test_the_tables_contents_are_cut_before_parsing_exactly_as_emptying_them(body: str) -> None:
    from kpiflow.docx.harvest import _without_tables
    from kpiflow.docx.xml import parse

    data = _part(body)
    cut = _without_tables(data)
    assert cut is not None and len(cut) < len(data)
    assert _tables_emptied(parse(cut)) == _tables_emptied(parse(data))


@pytest.mark.parametrize("data", [
    _part(_para("no table")),
    _part("<!-- <w:tbl> -->" + _table(_para("x"))),                                   # a comment
    _part(_para("<![CDATA[<w:tbl>]]>") + _table(_para("x"))),                         # CDATA
    _part("<?pi <w:tbl>?>" + _table(_para("x"))),                                      # a processing instruction
    _part(_table(_para("x")), decl='<?xml version="1.0" encoding="windows-1252"?>\n'),  # another encoding
    _part(_table(_para("x")), root='xmlns:w="urn:not-word"'),                          # w is not Word's
    _part(f'<w:p xmlns:w="urn:other"/>{_table(_para("x"))}'),                           # w bound again inside
    _part(_table(_para("x")).replace("</w:tbl>", "")),                                 # tags that do not pair
    _part(_table(_para("x")) + "</w:tbl>"),
])
def test_a_part_the_cut_cannot_be_exact_for_is_parsed_whole(data: bytes) -> None:
    from kpiflow.docx.harvest import _without_tables

    assert _without_tables(data) is None


def test_a_draft_is_read_without_its_tables_from_a_path_or_an_open_package(demo: DemoResult) -> None:
    from kpiflow.docx.harvest import _without_tables, paragraphs_of, read_document, regions
    from kpiflow.docx.package import open_package

    whole = read_document(demo.report)
    assert whole.find(f".//{W}tbl/{W}tr") is not None
    expected = _tables_emptied(read_document(demo.report))
    with zipfile.ZipFile(demo.report) as zf:
        assert _without_tables(zf.read("word/document.xml")) is not None       # the report's own part is cut
    with open_package(demo.report) as pkg:
        for root in (read_document(demo.report, tables=False), read_document(pkg, tables=False)):
            assert root.find(f".//{W}tbl/{W}tr") is None
            assert regions(paragraphs_of(root)).paragraphs == regions(paragraphs_of(whole)).paragraphs
            assert _tables_emptied(root) == expected
