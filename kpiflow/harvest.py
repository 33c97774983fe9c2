"""Read the edited commentary and service responses back out of a draft report.

Each exception's commentary and service response sit in a content control tagged
``kpiflow:<ID>:commentary`` / ``kpiflow:<ID>:response`` and inside a bookmark
``kpiflow_<ID>_commentary`` / ``kpiflow_<ID>_response``. Word keeps both; LibreOffice Writer drops
the content-control tags when it saves a .docx but keeps the bookmarks. The read-back uses the tag
where there is one and the bookmark otherwise, so it works wherever officers moved the sections.
A region that cannot be found is reported, never guessed.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
KINDS = ("commentary", "response")
_TAG = re.compile(r"kpiflow:(.+):(commentary|response)")
_BOOKMARK = re.compile(r"kpiflow_(.+)_(commentary|response)")


@dataclass
class Harvest:
    """What the draft says, keyed by (indicator ID or bookmark anchor, kind)."""

    texts: dict[tuple[str, str], str] = field(default_factory=dict)
    via: dict[tuple[str, str], str] = field(default_factory=dict)      # "content control" | "bookmark"

    def get(self, anchor: str, kind: str) -> str | None:
        return self.texts.get((anchor, kind))


def _paragraph_text(p: Any) -> str:
    """A paragraph's visible text as Word shows it: tabs and line breaks kept, deleted text left out."""
    out: list[str] = []
    for el in p.iter():
        tag = el.tag
        if tag == f"{W}t":
            if not any(a.tag == f"{W}del" for a in el.iterancestors()):
                out.append(el.text or "")
        elif tag == f"{W}tab" and el.getparent() is not None and el.getparent().tag == f"{W}r":
            out.append("\t")
        elif tag in (f"{W}br", f"{W}cr") and el.get(f"{W}type") in (None, "textWrapping"):
            out.append("\n")
    return "".join(out)


def _join(paragraphs: list[str]) -> str:
    return "\n".join(t for t in paragraphs if t.strip()).strip()


def read_document(docx: Path) -> Any:
    from lxml import etree

    with zipfile.ZipFile(docx) as zf:
        data = zf.read("word/document.xml")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    return etree.fromstring(data, parser)


def harvest(docx: Path) -> Harvest:
    root = read_document(docx)
    out = Harvest()
    for sdt in root.iter(f"{W}sdt"):
        tag = sdt.find(f"{W}sdtPr/{W}tag")
        m = _TAG.fullmatch(tag.get(f"{W}val", "")) if tag is not None else None
        content = sdt.find(f"{W}sdtContent")
        if m and content is not None:
            key = (m[1], m[2])
            out.texts[key] = _join([_paragraph_text(p) for p in content.iter(f"{W}p")])
            out.via[key] = "content control"
    body = root.find(f"{W}body")
    if body is None:
        return out
    for key, text in _bookmarked(body).items():
        if key not in out.texts:
            out.texts[key] = text
            out.via[key] = "bookmark"
    return out


def _bookmarked(body: Any) -> dict[tuple[str, str], str]:
    """Text between each kpiflow bookmark's first start and its last end.

    Word writes one start and one end. LibreOffice, saving a bookmark that spans a content
    control, may write the start twice under one name and close only the second, so the region
    runs from the first start to the last end of any start with that name."""
    paras = list(body.iter(f"{W}p"))
    index = {id(p): i for i, p in enumerate(paras)}

    def where(el: Any, start: bool) -> int | None:
        for anc in el.iterancestors(f"{W}p"):
            return index.get(id(anc))
        # a marker between paragraphs belongs to the next one (a start) or the previous (an end)
        sib = el.getnext() if start else el.getprevious()
        while sib is not None and sib.tag != f"{W}p":
            sib = sib.getnext() if start else sib.getprevious()
        return index.get(id(sib)) if sib is not None else None

    starts: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for el in body.iter(f"{W}bookmarkStart"):
        m = _BOOKMARK.fullmatch(el.get(f"{W}name", ""))
        at = where(el, True)
        if m and at is not None:
            starts.setdefault((m[1], m[2]), []).append((at, el.get(f"{W}id", "")))
    ends: dict[str, int] = {}
    for el in body.iter(f"{W}bookmarkEnd"):
        at = where(el, False)
        if at is not None:
            ends[el.get(f"{W}id", "")] = at
    found: dict[tuple[str, str], str] = {}
    for key, marks in starts.items():
        closing = [ends[mid] for _, mid in marks if mid in ends]
        if not closing:
            continue   # never closed: the region is lost, and the caller reports it
        first, last = min(at for at, _ in marks), max(closing)
        if last >= first:
            found[key] = _join([_paragraph_text(p) for p in paras[first:last + 1]])
    return found
