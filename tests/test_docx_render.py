"""Bookmark and drawing ids in the draft come after the template's own, whatever they are."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from docx import Document

from kpiflow.docx.harvest import harvest
from kpiflow.docx.xml import NS, parse
from kpiflow.model import Catalogue
from kpiflow.periods import parse_period
from kpiflow.pipeline import process_file
from kpiflow.report.word import render_report
from kpiflow.settings import load_settings
from kpiflow.store import Store

Q2 = parse_period("2017/18 Q2")
# ids a template may well hold: 101 and 1001 are what kpiflow and docxtpl once numbered from
TEMPLATE_BOOKMARKS = {"own_low": 101, "own_high": 5000, "own_header": 6000}
TEMPLATE_DRAWINGS = {"header": 1001, "body": 7000}


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def _bookmark(paragraph: object, name: str, mark_id: int) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    for tag in ("w:bookmarkStart", "w:bookmarkEnd"):
        el = OxmlElement(tag)
        el.set(qn("w:id"), str(mark_id))
        if tag == "w:bookmarkStart":
            el.set(qn("w:name"), name)
        paragraph._p.append(el)  # type: ignore[attr-defined]


def _template_with_high_ids(shipped: Path, out: Path) -> Path:
    doc = Document(str(shipped))
    header = doc.sections[0].header.paragraphs[0]
    header.add_run().add_picture(io.BytesIO(_png()))
    _bookmark(header, "own_header", TEMPLATE_BOOKMARKS["own_header"])
    body = doc.add_paragraph("The council's own closing words.")
    body.add_run().add_picture(io.BytesIO(_png()))
    _bookmark(body, "own_low", TEMPLATE_BOOKMARKS["own_low"])
    _bookmark(body, "own_high", TEMPLATE_BOOKMARKS["own_high"])
    for part, key in ((doc.sections[0].header.part, "header"), (doc.part, "body")):
        for doc_pr in part.element.iter(f"{{{NS['wp']}}}docPr"):
            doc_pr.set("id", str(TEMPLATE_DRAWINGS[key]))
    doc.save(str(out))
    return out


def _ids(report: Path) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(bookmark name, id) and (drawing name, id) across the body, headers and footers."""
    bookmarks, drawings = [], []
    with zipfile.ZipFile(report) as zf:
        for name in zf.namelist():
            if name == "word/document.xml" or name.startswith(("word/header", "word/footer")):
                root = parse(zf.read(name))
                bookmarks += [(str(el.get(f"{{{NS['w']}}}name")), int(el.get(f"{{{NS['w']}}}id")))
                              for el in root.iter(f"{{{NS['w']}}}bookmarkStart")]
                drawings += [(str(el.get("name")), int(el.get("id"))) for el in root.iter(f"{{{NS['wp']}}}docPr")]
    return bookmarks, drawings


@pytest.mark.parametrize("charts", ["native", "image"])
def test_ids_come_after_the_templates_own(charts: str, home: Path, store: Store, catalogue: Catalogue,
                                          filled: Path, tmp_path: Path) -> None:
    if charts == "image":
        pytest.importorskip("matplotlib")
        toml = home / "kpiflow.toml"
        toml.write_text(toml.read_text(encoding="utf-8").replace('# charts = "native"', 'charts = "image"'),
                        encoding="utf-8")
    settings = load_settings(home)
    assert process_file(settings, store, catalogue, filled).status == "accepted"
    template = _template_with_high_ids(settings.template_path, tmp_path / "own ids.docx")
    report = render_report(settings, store, catalogue, Q2, template=template)

    bookmarks, drawings = _ids(report)
    ids = [i for _, i in bookmarks]
    assert len(ids) == len(set(ids)), bookmarks
    ours = {n: i for n, i in bookmarks if n.startswith("kpiflow_")}
    # six regions' marks and, beside each, the hash of the words kpiflow wrote there; and each of the three
    # exceptions' headings (what the overview links to)
    assert len([n for n in ours if not n.startswith("kpiflow_d_")]) == 9 and len(ours) == 15
    assert min(ours.values()) > max(TEMPLATE_BOOKMARKS.values())
    assert {n: i for n, i in bookmarks if not n.startswith("kpiflow_")} == TEMPLATE_BOOKMARKS

    ids = [i for _, i in drawings]
    assert len(ids) == len(set(ids)), drawings
    assert len(drawings) == 1 + 1 + 5            # the header's and body's own pictures, five charts
    assert TEMPLATE_DRAWINGS["header"] in ids     # headers are not renumbered
    body = [i for i in ids if i != TEMPLATE_DRAWINGS["header"]]
    assert min(body) > max(TEMPLATE_DRAWINGS.values())

    h = harvest(report)                           # the marks still read back
    assert {k for k, _ in h.texts} == {"CS01", "CS02", "CS03"} and set(h.via.values()) == {"content control"}


@pytest.mark.parametrize("text", ["Plain words.", "a\tb", "first line\nsecond line", "ends\r\nwith CRLF", " leading",
                                  "trailing ", "&amp; <b> \"quoted\" 'single'", "emoji \U0001f600 and £5", "\n\nbreaks",
                                  "x" * 5000])
def test_a_run_written_as_text_is_the_run_python_docx_writes(text: str) -> None:
    """The marked regions' paragraphs are written as Word XML text: the same run python-docx makes of the text
    (tabs and line breaks as Word's own elements, spaces kept at the ends)."""
    from kpiflow.docx.render import paragraph_xml

    def shape(p: object) -> list[tuple[str, dict[str, str], str | None]]:
        return [(el.tag, dict(el.attrib), el.text) for el in p.iter()]   # type: ignore[attr-defined]

    from lxml import etree

    theirs = parse(etree.tostring(Document().add_paragraph(text)._p))     # as plain lxml elements
    ours = parse(f'<w:body xmlns:w="{NS["w"]}">{paragraph_xml(text)}</w:body>'.encode())[0]
    assert shape(ours) == shape(theirs)


def test_characters_xml_cannot_hold_are_dropped_from_a_run() -> None:
    from kpiflow.docx.render import run_xml

    xml = run_xml("bell\x07 null\x00 ok\ufffe")
    assert parse(f'<w:r xmlns:w="{NS["w"]}">{xml[5:]}'.encode()).xpath("string()") == "bell null ok"
