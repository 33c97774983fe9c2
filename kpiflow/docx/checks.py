"""The checks ``publish`` runs on an edited draft, as messages that say where and what to do.

Unrendered template tags, tracked changes and comments are found paragraph by paragraph in the
main document part; each paragraph is placed under the exception whose description precedes it.
The marked regions (read back by ``harvest``) must all be there, and every service response
written.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kpiflow.docx.harvest import Harvest
from kpiflow.docx.marks import KINDS, mark_anchor
from kpiflow.docx.xml import W, read_part

TEMPLATE_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}")


@dataclass(frozen=True)
class Para:
    text: str
    changes: int        # tracked insertions and deletions
    comments: int       # comment anchors


def read_paragraphs(docx: Path) -> tuple[list[Para], int]:
    """Body paragraphs in order, and the number of comments in the comments part."""
    with zipfile.ZipFile(docx) as zf:
        root = read_part(zf, "word/document.xml")
        comments = 0
        if "word/comments.xml" in zf.namelist():
            comments = len(read_part(zf, "word/comments.xml").findall(f"{W}comment"))
    text_tags = {f"{W}t", f"{W}delText"}
    paras = [Para("".join(t.text or "" for t in p.iter() if t.tag in text_tags),
                  len(list(p.iter(f"{W}ins"))) + len(list(p.iter(f"{W}del"))),
                  len(list(p.iter(f"{W}commentReference"))) + len(list(p.iter(f"{W}commentRangeStart"))))
             for p in root.iter(f"{W}p")]
    return paras, comments


def owners(paras: list[Para], descriptions: dict[str, str]) -> list[str]:
    """For each paragraph, the exception it belongs to (by the description above it), or ''."""
    current, out = "", []
    for p in paras:
        if p.text.strip() in descriptions:
            current = descriptions[p.text.strip()]
        out.append(current)
    return out


def _place(owner: str) -> str:
    return f" in {owner}" if owner else " before the first exception"


def paragraph_problems(paras: list[Para], owner: list[str], comment_count: int) -> list[str]:
    """Unrendered template tags, tracked changes and comments, each located."""
    out: list[str] = []
    for p, where in zip(paras, owner, strict=True):
        start = p.text.strip()[:60]
        for tag in TEMPLATE_TAG.findall(p.text):
            out.append(f"unrendered template tag {tag!r}{_place(where)}, in the paragraph starting \"{start}\": "
                       "remove it or make the draft again")
        if p.changes:
            out.append(f"{p.changes} tracked change(s){_place(where)}, in the paragraph starting \"{start}\": accept "
                       "or reject them in Word (Review > Accept / Reject)")
        if p.comments:
            out.append(f"a comment{_place(where)}, on the paragraph starting \"{start}\": resolve and delete it")
    if comment_count and not any(p.comments for p in paras):
        out.append(f"{comment_count} comment(s) are still in the document: resolve and delete them in Word")
    return out


def region_problems(marks: Harvest, exceptions: Sequence[tuple[str, str]],
                    owner: list[str]) -> tuple[list[str], dict[str, tuple[str, str]]]:
    """Each exception's (ID, description) checked for its marked commentary and a written service
    response; returns the problems and, for the exceptions found, (commentary, response)."""
    out: list[str] = []
    texts: dict[str, tuple[str, str]] = {}
    for iid, name in exceptions:
        anchor = mark_anchor(iid)
        got: dict[str, str | None] = {}
        for kind in KINDS:
            by_tag = marks.get(iid, kind)
            got[kind] = by_tag if by_tag is not None else marks.get(anchor, kind)
        label = f"{iid} ({name})"
        if got["commentary"] is None and got["response"] is None:
            if iid in owner:
                out.append(f"{label}: the marked commentary and service response were not found (the marks may have "
                           "been deleted while editing). Make the draft again with kpiflow report and copy the edits "
                           "across")
            else:
                out.append(f"{label} is an exception but is not in the draft")
            continue
        for kind, what in (("commentary", "commentary"), ("response", "service response")):
            if got[kind] is None:
                out.append(f"{label}: the marked {what} was not found (its mark may have been deleted while editing). "
                           "Make the draft again with kpiflow report and copy the edits across")
        if got["response"] is not None and not (got["response"] or "").strip():
            out.append(f"{label} has no service response: write one under \"Service Response:\"")
        texts[iid] = (got["commentary"] or "", got["response"] or "")
    return out, texts
