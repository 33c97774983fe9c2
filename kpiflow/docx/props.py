"""Document properties: the custom ones (``docProps/custom.xml``), named text values that Word
shows under File > Properties > Custom and that Word and LibreOffice Writer keep when they save a
.docx; and the core ones (``docProps/core.xml``: title, author, dates), written in one place.

Word keeps at most 255 characters of a property's value, so a longer value is never written: the
caller splits lists over numbered properties (``chunks``). Properties kpiflow does not own (a
council's template may carry its own) are kept as they are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

CUSTOM_PART = "docProps/custom.xml"
CUSTOM_TYPE = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
RT_CUSTOM = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties"
CP = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
VT = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
FMTID = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"
MAX_VALUE = 255


def read_properties(root: Any) -> dict[str, str]:
    """The text of every custom property in a parsed ``custom.xml``, by name."""
    out: dict[str, str] = {}
    for prop in root.iter(f"{{{CP}}}property"):
        name = prop.get("name")
        if name is not None and name not in out:
            out[name] = "".join(prop.itertext())
    return out


def custom_xml(props: Mapping[str, str], existing: bytes | None = None, owned: str = "kpiflow ") -> bytes:
    """``custom.xml`` holding ``props`` (as text), and every property of ``existing`` whose name
    does not start with ``owned``."""
    from lxml import etree

    from kpiflow.docx.xml import parse

    for name, value in props.items():
        if len(value) > MAX_VALUE:
            raise ValueError(f"the custom property {name!r} is longer than Word keeps ({len(value)} characters)")
    root = etree.Element(f"{{{CP}}}Properties", nsmap={None: CP, "vt": VT})
    kept: list[Any] = []
    if existing:
        kept = [p for p in parse(existing).iter(f"{{{CP}}}property") if not str(p.get("name", "")).startswith(owned)]
    pid = 2     # Word numbers custom properties from 2
    for prop in kept:
        prop.set("pid", str(pid))
        root.append(prop)
        pid += 1
    for name, value in props.items():
        prop = etree.SubElement(root, f"{{{CP}}}property", fmtid=FMTID, pid=str(pid), name=name)
        etree.SubElement(prop, f"{{{VT}}}lpwstr").text = value
        pid += 1
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True))


def set_properties(package: Any, props: Mapping[str, str]) -> None:
    """Put ``props`` into a python-docx package's custom properties before it is saved."""
    from docx.opc.packuri import PackURI
    from docx.opc.part import Part

    for rel in package.rels.values():
        if rel.reltype == RT_CUSTOM and not rel.is_external:
            part = rel.target_part
            part._blob = custom_xml(props, part.blob)
            return
    part = Part(PackURI(f"/{CUSTOM_PART}"), CUSTOM_TYPE, custom_xml(props), package)
    package.relate_to(part, RT_CUSTOM)


CORE_PART = "docProps/core.xml"
CORE_TYPE = "application/vnd.openxmlformats-package.core-properties+xml"
RT_CORE = "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties"
CORE_NS = {
    "cp": "http://schemas.openxmlformats.org/package/2006/metadata/core-properties",
    "dc": "http://purl.org/dc/elements/1.1/",
    "dcterms": "http://purl.org/dc/terms/",
    "dcmitype": "http://purl.org/dc/dcmitype/",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
# the core properties kpiflow sets, by the name it gives them, as (prefix, element)
CORE_FIELDS = {
    "title": ("dc", "title"), "subject": ("dc", "subject"), "creator": ("dc", "creator"),
    "description": ("dc", "description"), "language": ("dc", "language"), "keywords": ("cp", "keywords"),
    "last_modified_by": ("cp", "lastModifiedBy"), "revision": ("cp", "revision"),
    "created": ("dcterms", "created"), "modified": ("dcterms", "modified"),
}


def core_xml(values: Mapping[str, str | dt.datetime | None], existing: bytes | None = None) -> bytes:
    """``core.xml`` with ``values`` (by the names of ``CORE_FIELDS``; None removes one) and every
    other core property of ``existing``.

    Written with the namespaces spelt out, never through python-docx's setters: once docxcompose
    (imported by docxtpl) has rebound python-docx's ``cp`` prefix to the custom-properties
    namespace, those add a second ``lastModifiedBy`` in that namespace, and Word calls the file
    unreadable. Anything in ``existing`` outside the core-properties namespaces is dropped: the
    schema allows nothing else there."""
    from lxml import etree

    from kpiflow.docx.xml import parse

    unknown = set(values) - set(CORE_FIELDS)
    if unknown:
        raise ValueError(f"not a core property kpiflow sets: {', '.join(sorted(unknown))}")
    cp = CORE_NS["cp"]
    root = etree.Element(f"{{{cp}}}coreProperties", nsmap=CORE_NS)
    setting = {f"{{{CORE_NS[prefix]}}}{local}" for prefix, local in (CORE_FIELDS[n] for n in values)}
    allowed = {CORE_NS["cp"], CORE_NS["dc"], CORE_NS["dcterms"]}
    if existing:
        for el in parse(existing):
            if isinstance(el.tag, str) and etree.QName(el).namespace in allowed and el.tag not in setting:
                root.append(el)
    for name, value in values.items():
        if value is None:
            continue
        prefix, local = CORE_FIELDS[name]
        el = etree.SubElement(root, f"{{{CORE_NS[prefix]}}}{local}")
        if isinstance(value, dt.datetime):
            el.set(f"{{{CORE_NS['xsi']}}}type", "dcterms:W3CDTF")
            utc = value.astimezone(dt.UTC) if value.tzinfo else value
            el.text = utc.replace(microsecond=0, tzinfo=None).isoformat() + "Z"
        else:
            el.text = value
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True))


def set_core_properties(package: Any, values: Mapping[str, str | dt.datetime | None]) -> None:
    """Put ``values`` into a python-docx package's core properties (``docProps/core.xml``), the
    one place kpiflow writes them."""
    from docx.opc.packuri import PackURI
    from docx.opc.part import Part, XmlPart
    from docx.oxml.parser import parse_xml

    for rel in package.rels.values():
        if rel.reltype == RT_CORE and not rel.is_external:
            part = rel.target_part
            data = core_xml(values, part.blob)
            if isinstance(part, XmlPart):
                part._element = parse_xml(data)
            else:
                part._blob = data
            return
    package.relate_to(Part(PackURI(f"/{CORE_PART}"), CORE_TYPE, core_xml(values), package), RT_CORE)


def chunks(tokens: Iterable[str], limit: int = MAX_VALUE) -> list[str]:
    """Space-separated tokens packed into values of at most ``limit`` characters."""
    out: list[str] = []
    line = ""
    for token in tokens:
        if len(token) > limit:
            raise ValueError(f"a token longer than {limit} characters: {token[:40]}...")
        if line and len(line) + 1 + len(token) > limit:
            out.append(line)
            line = ""
        line = f"{line} {token}" if line else token
    if line:
        out.append(line)
    return out
