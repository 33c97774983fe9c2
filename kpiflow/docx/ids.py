"""Numbers that must be unique within a Word package, given out after the package's own.

Chart and embedded-workbook part names (``chart7.xml``), drawing ids (``wp:docPr/@id``) and
annotation ids (the ``w:id`` that bookmarks share with comments and tracked changes) are read from
the package the first time kpiflow adds anything to it, and counted up from there. A template's
own ids are therefore never reused, whatever they are, and adding many charts or marks costs the
same for each.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kpiflow.docx.xml import NS, parse


@dataclass
class Numbers:
    """The highest numbers used in one package, and so the next free ones."""

    charts: int
    workbooks: int
    drawings_base: int   # the package's own highest drawing id, before kpiflow added any
    drawings: int
    annotations: int

    def next_chart(self) -> int:
        self.charts += 1
        return self.charts

    def next_workbook(self) -> int:
        self.workbooks += 1
        return self.workbooks

    def next_drawing(self) -> int:
        self.drawings += 1
        return self.drawings

    def next_annotation(self) -> int:
        self.annotations += 1
        return self.annotations


_numbers: weakref.WeakKeyDictionary[Any, Numbers] = weakref.WeakKeyDictionary()
_NUMBERED = re.compile(r"/word/(charts/chart|embeddings/Microsoft_Excel_Worksheet)(\d+)\.")
# the parts that hold body text and so drawings and bookmarks: the main document (or template),
# headers, footers, footnotes, endnotes and comments
_STORIES = ("main+xml", "header+xml", "footer+xml", "footnotes+xml", "endnotes+xml", "comments+xml")


def _is_story(content_type: str) -> bool:
    return ("wordprocessingml" in content_type or content_type.startswith("application/vnd.ms-word")) \
        and content_type.endswith(_STORIES)


def numbers(package: Any, more: Iterable[Any] = ()) -> Numbers:
    """The numbers of a python-docx package, read from its parts (and any detached trees in
    ``more``, such as a docxtpl subdoc's body) the first time it is asked for."""
    found = _numbers.get(package)
    if found is not None:
        return found
    from lxml import etree

    charts = workbooks = 0
    trees = list(more)
    for part in package.iter_parts():
        m = _NUMBERED.match(str(part.partname))
        if m:
            if m[1].startswith("charts"):
                charts = max(charts, int(m[2]))
            else:
                workbooks = max(workbooks, int(m[2]))
        if _is_story(str(part.content_type)):
            element = getattr(part, "element", None)
            trees.append(element if element is not None else parse(part.blob))
    # compiled XPaths work on python-docx's element classes, whose own xpath() takes no namespace map
    drawing_ids = etree.XPath("//wp:docPr/@id", namespaces={"wp": NS["wp"]})
    annotation_ids = etree.XPath("//@w:id", namespaces={"w": NS["w"]})
    drawings, annotations = [0], [0]
    for tree in trees:
        drawings += [int(v) for v in drawing_ids(tree) if str(v).isdigit()]
        annotations += [int(v) for v in annotation_ids(tree) if str(v).isdigit()]
    found = Numbers(charts, workbooks, max(drawings), max(drawings), max(annotations))
    _numbers[package] = found
    return found
