"""The one parser kpiflow reads Word parts with: a DOCTYPE or an entity is refused, never expanded."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from kpiflow.docx.harvest import harvest, paragraphs_of, read_document
from kpiflow.docx.xml import UnsafeXml, W, parse

SECRET = "kpiflow-secret-text"

REFUSED = {
    "doctype": b"<!DOCTYPE d><d/>",
    "internal entity": b'<!DOCTYPE d [<!ENTITY e "expanded">]><d>&e;</d>',
    "external entity": b'<!DOCTYPE d [<!ENTITY e SYSTEM "{secret}">]><d>&e;</d>',
    "external DTD": b'<?xml version="1.0"?><!DOCTYPE d SYSTEM "{secret}"><d/>',
    "parameter entity": b'<!DOCTYPE d [<!ENTITY % p SYSTEM "{secret}"> %p;]><d/>',
    "billion laughs": b'<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">' + b"".join(
        b'<!ENTITY %s "%s">' % (bytes([98 + i]), (b"&%s;" % bytes([97 + i])) * 10) for i in range(8))
        + b"]><d>&i;</d>",
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_a_doctype_or_entity_is_refused(name: str, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    data = REFUSED[name].replace(b"{secret}", secret.as_uri().encode())
    started = time.perf_counter()
    # libxml2 stops the billion laughs itself, before kpiflow sees the DOCTYPE
    with pytest.raises((UnsafeXml, etree.XMLSyntaxError) if name == "billion laughs" else UnsafeXml) as caught:
        parse(data)
    assert time.perf_counter() - started < 1   # nothing was expanded
    assert SECRET not in str(caught.value)
    assert isinstance(caught.value, (ValueError, SyntaxError))   # what publish reports as unreadable


def test_an_ordinary_part_parses() -> None:
    root = parse(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                 b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
                 b"<w:body><w:p><w:r><w:t>A &amp; B</w:t></w:r></w:p></w:body></w:document>")
    assert [t.text for t in root.iter(f"{W}t")] == ["A & B"]


def test_a_draft_with_an_entity_in_its_document_part_is_refused(tmp_path: Path) -> None:
    draft = tmp_path / "draft.docx"
    with zipfile.ZipFile(draft, "w") as zf:
        zf.writestr("word/document.xml", REFUSED["internal entity"])
    with pytest.raises(UnsafeXml):
        harvest(draft)
    with pytest.raises(UnsafeXml):
        paragraphs_of(read_document(draft))
