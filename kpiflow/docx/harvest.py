"""Read the edited commentary and service responses back out of a draft report.

Each exception's commentary and service response sit in a content control tagged
``kpiflow:<ID>:commentary`` / ``kpiflow:<ID>:response``, after a label ("Commentary:", "Service
Response:") holding a bookmark ``kpiflow_<ID>_<kind>``. Word keeps both; LibreOffice Writer drops
the content-control tags when it saves a .docx but keeps the bookmarks. The read-back uses the tag
where there is one and otherwise the paragraphs after the bookmarked label, up to the next label,
table or chart, so it works wherever officers moved the sections.
A region that cannot be found is reported, never guessed.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kpiflow.docx.marks import BOOKMARK, TAG
from kpiflow.docx.xml import W, read_part

# paragraph styles that end a region: the labels and portfolio headings of the shipped template
BOUNDARY_STYLES = {"ReportLabel", "PortfolioHeading", "ExceptionHeading", "Heading1", "Heading2", "Heading3", "Title"}


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
    """The main document part's root element."""
    with zipfile.ZipFile(docx) as zf:
        return read_part(zf, "word/document.xml")


def harvest(docx: Path) -> Harvest:
    """The text of every marked region in the draft: by content-control tag where Word kept it,
    otherwise by the bookmark on its label."""
    root = read_document(docx)
    out = Harvest()
    for sdt in root.iter(f"{W}sdt"):
        tag = sdt.find(f"{W}sdtPr/{W}tag")
        m = TAG.fullmatch(tag.get(f"{W}val", "")) if tag is not None else None
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


def _blocks(parent: Any) -> list[Any]:
    """Body-level paragraphs and tables in order, looking inside block content controls."""
    out: list[Any] = []
    for el in parent:
        if el.tag == f"{W}sdt":
            content = el.find(f"{W}sdtContent")
            if content is not None:
                out += _blocks(content)
        elif el.tag in (f"{W}p", f"{W}tbl"):
            out.append(el)
    return out


def _marks_in(block: Any) -> list[tuple[str, str]]:
    marks = []
    for el in block.iter(f"{W}bookmarkStart"):
        m = BOOKMARK.fullmatch(el.get(f"{W}name", ""))
        if m:
            marks.append((m[1], m[2]))
    return marks


def _is_boundary(block: Any) -> bool:
    if block.tag == f"{W}tbl" or next(block.iter(f"{W}drawing"), None) is not None:
        return True
    style = block.find(f"{W}pPr/{W}pStyle")
    return style is not None and style.get(f"{W}val", "") in BOUNDARY_STYLES


def _bookmarked(body: Any) -> dict[tuple[str, str], str]:
    """Each region: the paragraphs after the label holding its mark ``kpiflow_<ID>_<kind>``, up to
    the next table, chart, label or heading, or the next mark.

    LibreOffice may write a mark twice under one name; the first one counts. A mark found in an
    ordinary paragraph (not a label) starts the region at that paragraph."""
    blocks = _blocks(body)
    found: dict[tuple[str, str], str] = {}
    for i, block in enumerate(blocks):
        for key in _marks_in(block):
            if key in found:
                continue
            texts = [] if _is_boundary(block) else [_paragraph_text(block)]
            for nxt in blocks[i + 1:]:
                if _is_boundary(nxt) or _marks_in(nxt):
                    break
                texts.append(_paragraph_text(nxt))
            found[key] = _join(texts)
    return found
