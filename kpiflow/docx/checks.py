"""The checks ``publish`` runs on an edited draft, as Problems that say where and what to do.

Unrendered template tags, tracked changes (of every kind) and comments are found paragraph by
paragraph in every part that holds text: the document, its headers, footers, notes and comments.
A paragraph of the document is placed under the exception whose description precedes it, and
located as ``sheet`` = that indicator's ID, ``cell`` = "paragraph N" (counted through the whole
document, tables included); a problem in another part is located by the part. The marked
regions (read back by ``harvest``) must each be there once, and every service response written.

Text that merely looks like a template tag is not a leftover when the draft records that kpiflow
put it there from the store (a service may type ``{{ 7*7 }}`` in its response): ``tag_ok`` says
so. Anything else that looks like a tag, typed or pasted, is refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from kpiflow.docx.harvest import Harvest, Para, PartText, paragraphs_of, regions
from kpiflow.docx.marks import KINDS, mark_anchor
from kpiflow.docx.xml import W
from kpiflow.problems import DocumentAt, Problem

TEMPLATE_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}")
WHAT = {"commentary": "commentary", "response": "service response"}
LABEL = {"commentary": "Commentary:", "response": "Service Response:"}


def owners(paras: list[Para], descriptions: dict[str, str]) -> list[str]:
    """For each paragraph, the exception it belongs to (by the description above it), or ''."""
    current, out = "", []
    for p in paras:
        found = descriptions.get(p.text.strip())
        if found is not None:
            current = found
        out.append(current)
    return out


def _start(p: Para) -> str:
    text = " ".join(p.text.split())
    return text[:60] + ("..." if len(text) > 60 else "")


def _place(owner: str) -> str:
    return f" in {owner}" if owner else " before the first exception"


def _where(p: Para, owner: list[str]) -> dict[str, Any]:
    return {"at": DocumentAt(owner[p.index], f"paragraph {p.index + 1}"), "indicator_id": owner[p.index]}


def paragraph_problems(doc: PartText, owner: list[str], tag_ok: Callable[[str], bool]) -> Iterator[Problem]:
    """Unrendered template tags, tracked changes and comments in the main document, each located
    by indicator and paragraph."""
    loose: dict[int, int] = {}
    for at in doc.loose_changes:
        loose[at if at is not None else 0] = loose.get(at if at is not None else 0, 0) + 1
    for p in doc.paras:
        start = _start(p)
        for tag in TEMPLATE_TAG.findall(p.text):
            if not tag_ok(tag):
                yield Problem("error", "unrendered-tag", f"unrendered template tag {tag!r}{_place(owner[p.index])}, "
                              f"in the paragraph starting \"{start}\": remove it or make the draft again",
                              **_where(p, owner))
        changes = p.changes + loose.pop(p.index, 0)
        if changes:
            yield Problem("error", "tracked-change", f"{changes} tracked change(s){_place(owner[p.index])}, in the "
                          f"paragraph starting \"{start}\": accept or reject them in Word (Review > Accept / "
                          "Reject)", **_where(p, owner))
        if p.comments:
            yield Problem("error", "open-comment", f"a comment{_place(owner[p.index])}, on the paragraph starting "
                          f"\"{start}\": resolve and delete it", **_where(p, owner))
    if loose:      # changes in a document with no paragraph at all
        yield Problem("error", "tracked-change", f"{sum(loose.values())} tracked change(s) in the document: accept or "
                      "reject them in Word (Review > Accept / Reject)")


def part_problems(kind: str, name: str, part: PartText, tag_ok: Callable[[str], bool]) -> Iterator[Problem]:
    """The same checks in a header, footer, notes or other part, located by the part."""
    changes = sum(p.changes for p in part.paras) + len(part.loose_changes)
    if changes:
        yield Problem("error", "tracked-change", f"{changes} tracked change(s) in the {kind} ({name}): accept or "
                      "reject them in Word (Review > Accept / Reject)", at=DocumentAt(kind, name))
    if kind in ("numbering", "styles", "comments"):
        return
    for p in part.paras:
        for tag in TEMPLATE_TAG.findall(p.text):
            if not tag_ok(tag):
                yield Problem("error", "unrendered-tag", f"unrendered template tag {tag!r} in the {kind} ({name}), in "
                              f"the paragraph starting \"{_start(p)}\": remove it or make the draft again",
                              at=DocumentAt(kind, name))
        if p.comments:
            yield Problem("error", "open-comment", f"a comment in the {kind} ({name}): resolve and delete it",
                          at=DocumentAt(kind, name))


def comments_problem(count: int, anchored: bool) -> Iterator[Problem]:
    if count and not anchored:
        yield Problem("error", "open-comment", f"{count} comment(s) are still in the document: resolve and delete them "
                      "in Word", at=DocumentAt(place="word/comments.xml"))


def _places(indices: list[int], owner: list[str]) -> str:
    words = [f"paragraph {i + 1} ({f'under {owner[i]}' if owner[i] else 'before the first exception'})"
             for i in indices]
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else words[0]


def region_problems(marks: Harvest, exceptions: Sequence[tuple[str, str]],
                    owner: list[str]) -> tuple[list[Problem], dict[str, tuple[str, str]]]:
    """Each exception's (ID, description) checked for its marked commentary and a written service
    response, each marked once; returns the problems and, for the exceptions whose regions are
    all there, (commentary, response)."""
    out: list[Problem] = []
    texts: dict[str, tuple[str, str]] = {}
    for iid, name in exceptions:
        anchor = mark_anchor(iid)
        label = f"{iid} ({name})"
        where: dict[str, Any] = {"at": DocumentAt(iid), "indicator_id": iid}
        got: dict[str, str | None] = {}
        ambiguous = False
        for kind in KINDS:
            keys = [(iid, kind), (anchor, kind)]
            dup = sorted({i for k in keys for i in marks.duplicates.get(k, [])})
            both = [k for k in dict.fromkeys(keys) if marks.get(*k) is not None]
            if dup:
                ambiguous = True
                n = len(dup)
                times = "twice" if n == 2 else f"{n} times"
                out.append(Problem("error", "duplicate-region",
                                   f"{label}: its {WHAT[kind]} is marked {times}, at {_places(dup, owner)}. A region "
                                   f"copied into another section, or a duplicated section, makes it ambiguous which "
                                   f"text is {iid}'s. Delete the copy, keeping the text under {iid}'s own "
                                   f"\"{LABEL[kind]}\" label, and publish again",
                                   at=DocumentAt(iid, "paragraphs " + ", ".join(str(i + 1) for i in dup)),
                                   indicator_id=iid))
                continue
            got[kind] = marks.get(*both[0]) if both else None
        if ambiguous:
            continue
        if got["commentary"] is None and got["response"] is None:
            if iid in owner:
                out.append(Problem("error", "missing-region",
                                   f"{label}: the marked commentary and service response were not found (the marks may "
                                   "have been deleted while editing). Make the draft again with kpiflow report "
                                   "--keep-edits and check the edits came across", **where))
            else:
                out.append(Problem("error", "missing-exception", f"{label} is an exception but is not in the draft",
                                   **where))
            continue
        for kind in KINDS:
            if got[kind] is None:
                out.append(Problem("error", "missing-region",
                                   f"{label}: the marked {WHAT[kind]} was not found (its mark may have been deleted "
                                   "while editing). Make the draft again with kpiflow report --keep-edits and check "
                                   "the edits came across", **where))
        if got["response"] is not None and not (got["response"] or "").strip():
            out.append(Problem("error", "missing-response",
                               f"{label} has no service response: write one under \"Service Response:\"", **where))
        texts[iid] = (got["commentary"] or "", got["response"] or "")
    return out, texts


def draft_problems(pkg: Any, exceptions: Sequence[tuple[str, str]],
                   tag_ok: Callable[[str], bool]) -> tuple[list[Problem], dict[str, tuple[str, str]]]:
    """Everything wrong with an open draft package (``kpiflow.docx.package``) as a document:
    macros, links to outside it and fields that run commands; template tags left behind,
    unresolved tracked changes and comments in any part; each exception's (ID, description)
    regions missing or marked twice, or its response empty. Returns the problems and, for the
    exceptions whose regions are all there, (commentary, response)."""
    from kpiflow.docx.package import MAIN, field_findings, link_findings, macro_findings

    doc = paragraphs_of(pkg.xml(MAIN))
    owner = owners(doc.paras, {name: iid for iid, name in exceptions})
    parts = [(name, kind, doc if name == MAIN else paragraphs_of(pkg.xml(name)))
             for name, kind in pkg.text_parts()]
    kinds = {name: kind for name, kind, _ in parts}
    out: list[Problem] = []
    findings = [*macro_findings(pkg), *link_findings(pkg)]
    for name, _, part in parts:
        findings += field_findings(name, part.fields)
    for f in findings:
        if f.part == MAIN and f.paragraph is not None:
            at = _where(doc.paras[f.paragraph], owner)
        else:
            at = {"at": DocumentAt(kinds.get(f.part, ""), f.part)}
        out.append(Problem("warning" if f.severity == "warning" else "error", f.code, f.message, **at))
    out += paragraph_problems(doc, owner, tag_ok)
    for name, kind, part in parts:
        if name != MAIN:
            out += part_problems(kind, name, part, tag_ok)
    comments = next((n for n, ctype in pkg.content_types.items() if ctype.endswith("wordprocessingml.comments+xml")),
                    "")
    count = len(pkg.xml(comments).findall(f"{W}comment")) if comments else 0
    out += comments_problem(count, any(p.comments for p in doc.paras))
    more, texts = region_problems(regions(doc), exceptions, owner)
    return out + more, texts
