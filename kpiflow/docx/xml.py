"""Word XML: the namespaces kpiflow uses, and the one parser it reads Word parts with.

Drafts come back from officers' machines, so a part is parsed with no DTD loading, no entity
resolution, no network and libxml2's size limits on (``huge_tree`` off); a part that declares a
DOCTYPE at all is refused, since Word and LibreOffice never write one.
"""

from __future__ import annotations

import threading
from typing import Any

NS = {
    "w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "wp": "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing",
    "a": "http://schemas.openxmlformats.org/drawingml/2006/main",
    "c": "http://schemas.openxmlformats.org/drawingml/2006/chart",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
}
W = f"{{{NS['w']}}}"
PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
CONTENT_TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"


def q(tag: str) -> str:
    """``"w:p"`` in Clark notation, ``{namespace}p``, as lxml names elements and attributes."""
    prefix, local = tag.split(":")
    return f"{{{NS[prefix]}}}{local}"


class UnsafeXml(ValueError):
    """A part that declares a DOCTYPE (and so possibly entities): refused, never expanded."""


_local = threading.local()   # lxml parsers must not be shared between threads


def _parser() -> Any:
    parser = getattr(_local, "parser", None)
    if parser is None:
        from lxml import etree

        parser = etree.XMLParser(resolve_entities=False, load_dtd=False, dtd_validation=False, no_network=True,
                                 huge_tree=False)
        _local.parser = parser
    return parser


def parse(data: bytes) -> Any:
    """The root element of one XML part. Raises ``lxml.etree.XMLSyntaxError`` (a ``SyntaxError``)
    for broken XML and ``UnsafeXml`` (a ``ValueError``) for a part with a DOCTYPE."""
    from lxml import etree

    root = etree.fromstring(data, _parser())
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise UnsafeXml("the part declares a DOCTYPE, which Word never writes: kpiflow will not read it")
    return root


def read_part(archive: Any, name: str) -> Any:
    """Parse the part ``name`` of an open ``zipfile.ZipFile``."""
    return parse(archive.read(name))
