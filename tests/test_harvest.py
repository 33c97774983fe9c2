"""Reading edits back out of the draft, whether Word (content controls) or LibreOffice
(bookmarks only) saved it, and publishing them into the store."""

from __future__ import annotations

import copy
import shutil
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
        # drafted commentary is stored too, so all three differ from what the return held
        assert "Stored the report's words (commentary and service response) for CS01, CS02, CS03" in result.lines
        assert store.texts("CS02", Q2) == (harvest(draft).get("CS02", "commentary"), NEW_RESPONSE)
        issued = issue_returns(settings, store, catalogue, parse_period("2017/18 Q3"))[0]
    ws = openpyxl.load_workbook(issued)["Return"]
    headers = [c.value for c in ws[6]]
    col = headers.index("Last published service response") + 1
    assert ws.cell(8, col).value == NEW_RESPONSE
    assert ws.cell(8, col).protection.locked
    # publishing is repeatable: the same draft gives the same words
    with open_store(settings) as store:
        store.record_quarter_event(Q2, "reopened", "clerk", "again")
        again = publish(settings, store, catalogue, Q2, draft, "clerk")
        assert again.ok
        assert "Stored the report's words (commentary and service response) for no indicator: they match the store " \
               "already" in again.lines


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
