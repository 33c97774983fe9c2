"""Custom document properties (``docProps/custom.xml``): named text values that Word shows under
File > Properties > Custom and that Word and LibreOffice Writer keep when they save a .docx.

Word keeps at most 255 characters of a property's value, so a longer value is never written: the
caller splits lists over numbered properties (``chunks``). Properties kpiflow does not own (a
council's template may carry its own) are kept as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

CUSTOM_PART = "docProps/custom.xml"
CUSTOM_TYPE = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
RT_CUSTOM = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties"
CP = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
VT = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
FMTID = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"
MAX_VALUE = 255
MAX_PROPERTIES = 1_000     # kpiflow writes a few dozen; LibreOffice takes minutes over 100,000


def read_properties(root: Any) -> dict[str, str]:
    """The text of every custom property in a parsed ``custom.xml``, by name. A document with far
    more properties than a report has is refused (``Refused``), before anything is done with it."""
    found = root.findall(f"{{{CP}}}property")
    if len(found) > MAX_PROPERTIES:
        from kpiflow.docx.package import Refused

        raise Refused("too-many-properties", f"the document has {len(found):,} custom properties, far more than a "
                      f"report has (at most {MAX_PROPERTIES:,}): remove the ones you added in File > Properties > "
                      "Custom (or with a document tool), or make the draft again with kpiflow report", CUSTOM_PART)
    out: dict[str, str] = {}
    for prop in found:
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
