"""Validate every XML part of a .docx or .xlsx against the ECMA-376 transitional schemas, offline.

The schemas are in tests/schemas (see the README there for where each came from). They are loaded
once, through one driver schema that imports every namespace, with a resolver that answers every
``schemaLocation`` (relative or an ``http://`` address) from those files: nothing is fetched.

Each part is first put through Markup Compatibility processing (ECMA-376 Part 3) as Word and
Excel do it, by a consumer that understands exactly the namespaces these schemas define:

- an element or attribute in a namespace its ``mc:Ignorable`` lists (and not understood) is
  dropped, an element whose namespace ``mc:ProcessContent`` names giving way to its children;
- an ``mc:AlternateContent`` becomes the content of its first ``mc:Choice`` whose ``Requires``
  namespaces are all understood, or else of its ``mc:Fallback`` (or nothing). Word's own Choices
  require its extension namespaces (wps, w14, ...), so in practice the Fallback is what is checked;
- the ``mc:`` attributes themselves are removed.

Then the part is validated, and a check is added that the transitional schema does not make:
the children of every ``w:rPr`` appear at most once each and in the order of the schema's
``EG_RPrBase`` list (the order ECMA-376 Strict fixes as a sequence and Word writes and expects;
the transitional schema lets them come in any order and any number of times).

Parts validated: every zip member whose name ends ``.xml`` or ``.rels``, or whose content type is
XML; a ``.vml`` part (legacy drawing: a no-namespace ``<xml>`` root holding VML) has each of its
top-level elements validated on its own. An embedded package (``.xlsx``, ``.docx``) is opened and
validated the same way, its problems named ``embeddings/x.xlsx!/xl/workbook.xml``.
"""

from __future__ import annotations

import copy
import io
import zipfile
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lxml import etree

SCHEMAS = Path(__file__).resolve().parent / "schemas"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
SML = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
XSD = "http://www.w3.org/2001/XMLSchema"
XML_NS = "http://www.w3.org/XML/1998/namespace"

# the addresses the schemas import from, answered from local copies
_REMOTE = {
    "http://www.w3.org/2001/03/xml.xsd": SCHEMAS / "w3c-dcmi" / "xml.xsd",
    "http://www.w3.org/2001/xml.xsd": SCHEMAS / "w3c-dcmi" / "xml.xsd",
    "http://dublincore.org/schemas/xmls/qdc/2003/04/02/dc.xsd": SCHEMAS / "w3c-dcmi" / "dc.xsd",
    "http://dublincore.org/schemas/xmls/qdc/2003/04/02/dcterms.xsd": SCHEMAS / "w3c-dcmi" / "dcterms.xsd",
    "http://dublincore.org/schemas/xmls/qdc/2003/04/02/dcmitype.xsd": SCHEMAS / "w3c-dcmi" / "dcmitype.xsd",
}
_ENTRY_POINTS = (   # the xml namespace first: wml.xsd and shared-math.xsd import it without a location
    "w3c-dcmi/xml.xsd", "ecma-376/wml.xsd", "ecma-376/sml.xsd", "ecma-376/dml-main.xsd",
    "ecma-376/dml-chart.xsd", "ecma-376/dml-chartDrawing.xsd", "ecma-376/dml-picture.xsd",
    "ecma-376/dml-wordprocessingDrawing.xsd", "ecma-376/dml-spreadsheetDrawing.xsd", "ecma-376/dml-diagram.xsd",
    "ecma-376/dml-lockedCanvas.xsd", "ecma-376/vml-main.xsd", "ecma-376/vml-officeDrawing.xsd",
    "ecma-376/vml-wordprocessingDrawing.xsd", "ecma-376/vml-spreadsheetDrawing.xsd",
    "ecma-376/vml-presentationDrawing.xsd", "ecma-376/shared-math.xsd", "ecma-376/shared-bibliography.xsd",
    "ecma-376/shared-customXmlDataProperties.xsd", "ecma-376/shared-customXmlSchemaProperties.xsd",
    "ecma-376/shared-documentPropertiesCustom.xsd", "ecma-376/shared-documentPropertiesExtended.xsd",
    "ecma-376/shared-additionalCharacteristics.xsd", "ecma-376/opc-contentTypes.xsd",
    "ecma-376/opc-coreProperties.xsd", "ecma-376/opc-relationships.xsd",
)


class _LocalOnly(etree.Resolver):  # type: ignore[misc]
    """Every schema import answered from tests/schemas; anything else is an error, not a fetch."""

    def resolve(self, url: str, pubid: str | None, context: Any) -> Any:
        if url in _REMOTE:
            return self.resolve_filename(str(_REMOTE[url]), context)
        path = Path(unquote(url.removeprefix("file://")))
        if path.is_file() and SCHEMAS in path.resolve().parents:
            return self.resolve_filename(str(path), context)
        raise ValueError(f"schema import {url!r} has no local copy under {SCHEMAS}")


def _parser() -> Any:
    parser = etree.XMLParser(no_network=True, load_dtd=False, resolve_entities=False)
    parser.resolvers.add(_LocalOnly())
    return parser


@cache
def schema() -> Any:
    """One XMLSchema holding every namespace of ECMA-376 transitional (and xml, Dublin Core)."""
    imports = "".join(
        f'<xs:import namespace="{_target(SCHEMAS / p)}" schemaLocation="{(SCHEMAS / p).as_uri()}"/>'
        for p in _ENTRY_POINTS)
    driver = f'<xs:schema xmlns:xs="{XSD}" targetNamespace="urn:kpiflow:tests:ooxml">{imports}</xs:schema>'
    doc = etree.parse(io.BytesIO(driver.encode()), _parser(), base_url=(SCHEMAS / "driver.xsd").as_uri())
    return etree.XMLSchema(doc)


def _target(path: Path) -> str:
    return str(etree.parse(str(path), etree.XMLParser(load_dtd=False, no_network=True)).getroot().get(
        "targetNamespace"))


@cache
def understood() -> frozenset[str]:
    """The namespaces the schemas define: what a consumer with these schemas understands."""
    out = {XML_NS}
    for path in SCHEMAS.rglob("*.xsd"):
        out.add(_target(path))
    return frozenset(out)


@cache
def rpr_order() -> tuple[str, ...]:
    """The children of ``w:rPr`` in the order of wml.xsd's ``EG_RPrBase`` (Word's and Strict's)."""
    root = etree.parse(str(SCHEMAS / "ecma-376" / "wml.xsd"), etree.XMLParser(load_dtd=False)).getroot()
    group = root.find(f"{{{XSD}}}group[@name='EG_RPrBase']")
    assert group is not None, "wml.xsd has no EG_RPrBase group"
    return tuple(str(e.get("name")) for e in group.iter(f"{{{XSD}}}element"))


# w:rPr of a paragraph mark (CT_ParaRPr) opens with the tracked-change marks; every w:rPr may end
# with its own rPrChange
_RPR_BEFORE = ("ins", "del", "moveFrom", "moveTo")
_RPR_AFTER = ("rPrChange",)


# ---- Markup Compatibility -------------------------------------------------------------------

def _prefixes(el: Any, value: str | None) -> set[str]:
    out = set()
    for prefix in (value or "").split():
        ns = el.nsmap.get(prefix)
        if ns is None:
            raise ValueError(f"mc prefix {prefix!r} on <{el.tag}> is not declared")
        out.add(ns)
    return out


def _names(el: Any, value: str | None) -> set[tuple[str, str]]:
    """``mc:ProcessContent``'s qualified names (``prefix:local`` or ``prefix:*``) as (namespace, local)."""
    out = set()
    for name in (value or "").split():
        prefix, _, local = name.partition(":")
        out |= {(ns, local) for ns in _prefixes(el, prefix)}
    return out


def mc_process(root: Any, understood_ns: frozenset[str] | None = None) -> Any:
    """A copy of ``root`` after Markup Compatibility processing (see the module docstring)."""
    known = understood_ns if understood_ns is not None else understood()
    root = copy.deepcopy(root)

    def walk(el: Any, ignorable: frozenset[str], process: frozenset[tuple[str, str]]) -> None:
        ignorable = ignorable | frozenset(_prefixes(el, el.get(f"{{{MC}}}Ignorable")))
        process = process | frozenset(_names(el, el.get(f"{{{MC}}}ProcessContent")))
        missing = _prefixes(el, el.get(f"{{{MC}}}MustUnderstand")) - known
        if missing:
            raise ValueError(f"<{el.tag}> must be understood in {', '.join(sorted(missing))}, which these schemas "
                             "do not define: Word would refuse the file")
        for name in list(el.attrib):
            ns = etree.QName(name).namespace
            if ns == MC or (ns in ignorable and ns not in known):
                del el.attrib[name]
        for child in list(el):
            if not isinstance(child.tag, str):
                continue
            ns = etree.QName(child).namespace
            if ns == MC and etree.QName(child).localname == "AlternateContent":
                chosen: list[Any] = []
                for option in child:
                    local = etree.QName(option).localname if isinstance(option.tag, str) else ""
                    if local == "Choice" and _prefixes(option, option.get("Requires")) <= known:
                        chosen = list(option)
                        break
                    if local == "Fallback":
                        chosen = list(option)
                        break
                _replace(child, chosen)
                for c in chosen:
                    walk(c, ignorable, process)
            elif ns not in known and ns in ignorable:
                if (ns, etree.QName(child).localname) in process or (ns, "*") in process:
                    kids = list(child)
                    _replace(child, kids)
                    for c in kids:
                        walk(c, ignorable, process)
                else:
                    _replace(child, [])
            else:
                walk(child, ignorable, process)

    walk(root, frozenset(), frozenset())
    return root


def _replace(el: Any, new: list[Any]) -> None:
    parent = el.getparent()
    at = parent.index(el)
    tail = el.tail
    parent.remove(el)
    for i, n in enumerate(new):
        parent.insert(at + i, n)
    if tail and tail.strip():
        raise ValueError("text after a Markup Compatibility element")


# ---- the checks -----------------------------------------------------------------------------

def rpr_problems(root: Any) -> list[str]:
    """Each ``w:rPr`` whose children are out of Word's order or repeated."""
    rank = {name: i for i, name in enumerate((*_RPR_BEFORE, *rpr_order(), *_RPR_AFTER))}
    out = []
    for rpr in root.iter(f"{{{W}}}rPr"):
        names = [etree.QName(c).localname for c in rpr if isinstance(c.tag, str) and etree.QName(c).namespace == W]
        if len(set(names)) != len(names):
            out.append(f"line {rpr.sourceline}: w:rPr repeats a child: {' '.join(names)}")
        ranks = [rank.get(n, -1) for n in names]
        if ranks != sorted(ranks):
            out.append(f"line {rpr.sourceline}: w:rPr children out of Word's order: {' '.join(names)} "
                       f"(the order is {' '.join(n for n in sorted(names, key=lambda n: rank.get(n, -1)))})")
    return out


def _xml_members(archive: zipfile.ZipFile) -> Iterable[str]:
    types: dict[str, str] = {}
    defaults: dict[str, str] = {}
    if "[Content_Types].xml" in archive.namelist():
        ct = etree.fromstring(archive.read("[Content_Types].xml"))
        for o in ct:
            local = etree.QName(o).localname
            if local == "Override":
                types[o.get("PartName", "").lstrip("/")] = o.get("ContentType", "")
            elif local == "Default":
                defaults[o.get("Extension", "").lower()] = o.get("ContentType", "")
    for name in archive.namelist():
        if name.endswith("/"):
            continue
        kind = types.get(name) or defaults.get(name.rsplit(".", 1)[-1].lower(), "")
        if name.endswith((".xml", ".rels", ".vml")) or kind.endswith(("+xml", "/xml")):
            yield name


def validate_bytes(data: bytes, label: str = "package", checked: list[str] | None = None) -> list[str]:
    """Problems in every XML part of the package ``data`` (and of packages embedded in it); the
    name of each part validated is added to ``checked``."""
    out: list[str] = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in _xml_members(archive):
            out += [f"{label}:/{name}: {p}" for p in validate_part(archive.read(name), vml=name.endswith(".vml"))]
            if checked is not None:
                checked.append(f"{label}:/{name}")
        for name in archive.namelist():
            if name.lower().endswith((".xlsx", ".docx", ".xlsm", ".docm")):
                out += validate_bytes(archive.read(name), f"{label}:/{name}!", checked)
    return out


def _short(text: str) -> str:
    """Clark names as prefixes, so that a message can be read."""
    for prefix, ns in (("w", W), ("x", SML), ("cp", "http://schemas.openxmlformats.org/package/2006/metadata/core-properties"),
                       ("op", "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"),
                       ("xml", XML_NS)):
        text = text.replace(f"{{{ns}}}", f"{prefix}:")
    return text


def validate_package(path: str | Path, checked: list[str] | None = None) -> list[str]:
    """Problems in every XML part of the .docx or .xlsx at ``path``: empty when all are valid."""
    return validate_bytes(Path(path).read_bytes(), Path(path).name, checked)


def validate_part(data: bytes, vml: bool = False) -> list[str]:
    parser = etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed: {exc}"]
    try:
        roots = [mc_process(root)]
    except ValueError as exc:
        return [f"Markup Compatibility: {exc}"]
    for t in roots[0].iter(f"{{{SML}}}t"):
        # Excel writes xml:space="preserve" on a cell's text and needs it to keep leading and
        # trailing spaces, but sml.xsd types <t> as a plain string (ST_Xstring), with no attributes
        t.attrib.pop(f"{{{XML_NS}}}space", None)
    if vml:    # a legacy drawing: validate what is inside its no-namespace <xml> wrapper
        roots = [etree.fromstring(etree.tostring(e)) for e in roots[0] if isinstance(e.tag, str)]
    out: list[str] = []
    for r in roots:
        ns = etree.QName(r).namespace
        if ns not in understood():
            out.append(f"root <{r.tag}> is in no ECMA-376 namespace: it cannot be validated")
            continue
        reparsed = etree.fromstring(etree.tostring(r))   # line numbers of the processed part
        s = schema()
        if not s.validate(reparsed):
            out += [f"{_short(e.path)}: {_short(e.message)}" for e in s.error_log]
        out += rpr_problems(reparsed)
    return out
