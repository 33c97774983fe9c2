"""Word's order for the children of property elements (``w:pPr``, ``w:rPr``, ``w:tcPr``, ...).

ECMA-376 fixes the order of these children (a sequence in the schema; for ``w:rPr`` the
transitional schema allows any order, but Strict and Word do not), and Word calls a file with
them out of order unreadable. Whatever inserts a property, kpiflow or docxtpl (whose
``{% cellbg %}`` puts ``w:shd`` first in ``w:tcPr``), ``order_properties`` puts every one back
in place after the template is rendered. The orders are wml.xsd's (ISO/IEC 29500 transitional).
"""

from __future__ import annotations

from typing import Any

from kpiflow.docx.xml import W

_RPR_BASE = (
    "rStyle", "rFonts", "b", "bCs", "i", "iCs", "caps", "smallCaps", "strike", "dstrike", "outline", "shadow",
    "emboss", "imprint", "noProof", "snapToGrid", "vanish", "webHidden", "color", "spacing", "w", "kern",
    "position", "sz", "szCs", "highlight", "u", "effect", "bdr", "shd", "fitText", "vertAlign", "rtl", "cs", "em",
    "lang", "eastAsianLayout", "specVanish", "oMath",
)
_BORDERS = ("top", "start", "left", "bottom", "end", "right", "insideH", "insideV", "tl2br", "tr2bl")
_MARGINS = ("top", "start", "left", "bottom", "end", "right")

ORDER: dict[str, tuple[str, ...]] = {
    # CT_ParaRPr (a paragraph mark's) opens with the tracked-change marks; CT_RPr is the rest
    "rPr": ("ins", "del", "moveFrom", "moveTo", *_RPR_BASE, "rPrChange"),
    "pPr": (
        "pStyle", "keepNext", "keepLines", "pageBreakBefore", "framePr", "widowControl", "numPr",
        "suppressLineNumbers", "pBdr", "shd", "tabs", "suppressAutoHyphens", "kinsoku", "wordWrap", "overflowPunct",
        "topLinePunct", "autoSpaceDE", "autoSpaceDN", "bidi", "adjustRightInd", "snapToGrid", "spacing", "ind",
        "contextualSpacing", "mirrorIndents", "suppressOverlap", "jc", "textDirection", "textAlignment",
        "textboxTightWrap", "outlineLvl", "divId", "cnfStyle", "rPr", "sectPr", "pPrChange"),
    "tcPr": (
        "cnfStyle", "tcW", "gridSpan", "hMerge", "vMerge", "tcBorders", "shd", "noWrap", "tcMar", "textDirection",
        "tcFitText", "vAlign", "hideMark", "headers", "cellIns", "cellDel", "cellMerge", "tcPrChange"),
    "tblPr": (
        "tblStyle", "tblpPr", "tblOverlap", "bidiVisual", "tblStyleRowBandSize", "tblStyleColBandSize", "tblW", "jc",
        "tblCellSpacing", "tblInd", "tblBorders", "shd", "tblLayout", "tblCellMar", "tblLook", "tblCaption",
        "tblDescription", "tblPrChange"),
    "trPr": (
        "cnfStyle", "divId", "gridBefore", "gridAfter", "wBefore", "wAfter", "cantSplit", "trHeight", "tblHeader",
        "tblCellSpacing", "jc", "hidden", "ins", "del", "trPrChange"),
    "tcBorders": _BORDERS,
    "tblBorders": _BORDERS,
    "pBdr": ("top", "left", "bottom", "right", "between", "bar"),
    "tcMar": _MARGINS,
    "tblCellMar": _MARGINS,
}
# header and footer references come first in a section's properties, in any order among themselves
_SECT = ("footnotePr", "endnotePr", "type", "pgSz", "pgMar", "paperSrc", "pgBorders", "lnNumType", "pgNumType",
         "cols", "formProt", "vAlign", "noEndnote", "titlePg", "textDirection", "bidi", "rtlGutter", "docGrid",
         "printerSettings", "sectPrChange")
_RANKS = {f"{W}{parent}": {f"{W}{name}": i for i, name in enumerate(names)} for parent, names in ORDER.items()}
_RANKS[f"{W}sectPr"] = {f"{W}headerReference": 0, f"{W}footerReference": 0,
                        **{f"{W}{name}": i + 1 for i, name in enumerate(_SECT)}}


def order_children(root: Any) -> int:
    """Put the children of every property element under ``root`` (an lxml element) in Word's
    order; returns how many elements were reordered. An element holding a child the order does not
    know (another vendor's extension, say) is left as it is: guessing its place could be worse."""
    moved = 0
    for el in root.iter(*_RANKS):
        if len(el) < 2:
            continue
        ranks = _RANKS[el.tag]
        children = list(el)
        keys = [ranks.get(c.tag, -1) if isinstance(c.tag, str) else -1 for c in children]
        if -1 in keys or keys == sorted(keys):
            continue
        wanted = sorted(children, key=lambda c: ranks[c.tag])   # stable: equal ranks keep their order
        for c in children:
            el.remove(c)
        el.extend(wanted)
        moved += 1
    return moved


def order_properties(document: Any) -> int:
    """``order_children`` on a python-docx document's body, headers and footers."""
    moved = order_children(document.part.element)
    for rel in document.part.rels.values():
        if rel.reltype.endswith(("/header", "/footer")) and not rel.is_external:
            moved += order_children(rel.target_part.element)
    return moved
