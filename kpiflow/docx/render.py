"""The pieces the report puts into its docxtpl template: blocks of body content, the marked
commentary and service response of an exception, and its charts; and the numbering of bookmark
and drawing ids after the template's own.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from kpiflow.docx.charts import ChartSpec, describe, native_chart_run, render_png
from kpiflow.docx.ids import numbers
from kpiflow.docx.marks import SECTION, bookmark_name, section_name, tag_value
from kpiflow.docx.order import order_properties
from kpiflow.docx.xml import q
from kpiflow.xmltext import XML_ILLEGAL, escape, quoteattr

LABELS = {"commentary": "Commentary:", "response": "Service Response:"}
LABEL_STYLE = "Report Label"


def open_template(path: Path) -> Any:
    """The docxtpl template, with the highest bookmark and drawing ids of its own parts (body,
    headers, footers, notes) read before anything is added, so that every id kpiflow gives out
    comes after them."""
    tpl = _template_class()(str(path))
    numbers(tpl.get_docx().part.package)
    return tpl


# text docxtpl's listing pass rewrites (a tab, a line break, "\a" or "\f" in a w:t), and the one form its
# pattern can read past the end of a text in (a w:t with attributes closed on itself)
_LISTING = re.compile(r"<w:t(?: [^>]*)?>[^<]*[\t\x07\n\x0c]|<w:t [^>]*/>")
_TEMPLATE: Any = None


def _template_class() -> Any:
    """docxtpl's template, less its listing pass over a part that holds nothing for it to do."""
    global _TEMPLATE
    if _TEMPLATE is None:
        from docxtpl import DocxTemplate

        class Template(DocxTemplate):    # type: ignore[misc]
            def resolve_listing(self, xml: str) -> str:
                # the pass visits every paragraph, run and text of the rendered part with regular
                # expressions (a tenth of a report's time) to change only the characters above
                if _LISTING.search(xml) is None:
                    return xml
                return str(super().resolve_listing(xml))

        _TEMPLATE = Template
    return _TEMPLATE


def number_drawings(tpl: Any) -> None:
    """After rendering: number the body's drawings after the template's own highest drawing id,
    and put the properties the template's tags inserted in Word's order (``order_properties``:
    docxtpl's ``{% cellbg %}`` puts ``w:shd`` before ``w:tcW``, which Word calls unreadable).

    docxtpl renumbers every drawing in the body from 1001 as it renders (a loop may have copied
    one); a header or footer with a drawing of its own could then hold the same id."""
    document = tpl.docx   # not get_docx(), which reloads the template once it is rendered
    order_properties(document)
    n = numbers(document.part.package)
    next_id = n.drawings_base
    for doc_pr in document.element.body.iter(q("wp:docPr")):
        next_id += 1
        doc_pr.set("id", str(next_id))
    n.drawings = max(n.drawings, next_id)


class Block:
    """Body content for the template, inserted with ``{{p ... }}`` as docxtpl inserts a subdoc.

    Word XML as text (``add_xml``), or python-docx elements bound to the template's main document
    part (``add_paragraph``, for what python-docx builds: pictures), so that charts and pictures
    relate from the right part, without loading a new document for every block."""

    def __init__(self, part: Any) -> None:
        self.part = part
        self.elements: list[Any] = []      # XML text, or elements

    def add_paragraph(self, text: str = "") -> Any:
        from docx.oxml import OxmlElement
        from docx.text.paragraph import Paragraph

        p = OxmlElement("w:p")
        self.elements.append(p)
        para = Paragraph(p, self)
        if text:
            para.add_run(text)
        return para

    def add_xml(self, xml: str) -> None:
        self.elements.append(xml)

    def __bool__(self) -> bool:
        return bool(self.elements)

    def __str__(self) -> str:
        from lxml import etree

        return "".join(e if isinstance(e, str) else etree.tostring(e, encoding="unicode") for e in self.elements)

    __html__ = __str__


_RUN_BREAKS = re.compile(r"(\t|\r\n?|\n)")


def run_xml(text: str, props: str = "") -> str:
    """A run of ``text`` as Word XML, as python-docx writes one: a tab as ``w:tab``, a line break
    as ``w:br``, spaces kept at the ends; characters XML cannot hold are dropped."""
    pieces = [f"<w:r>{props}"]
    for piece in _RUN_BREAKS.split(XML_ILLEGAL.sub("", text)):
        if not piece:
            continue
        if piece == "\t":
            pieces.append("<w:tab/>")
        elif piece[0] in "\r\n":
            pieces.append("<w:br/>" * len(piece))      # python-docx: one break for each of \r and \n
        else:
            space = ' xml:space="preserve"' if piece.strip() != piece else ""
            pieces.append(f"<w:t{space}>{escape(piece)}</w:t>")
    pieces.append("</w:r>")
    return "".join(pieces)


def paragraph_xml(text: str = "", props: str = "", content: str = "") -> str:
    """A paragraph: its properties, a run of ``text`` (none for no text) and any more ``content``."""
    run = run_xml(text) if text else ""
    return f"<w:p>{props}{run}{content}</w:p>" if props or run or content else "<w:p/>"


def bookmark_xml(name: str, mark_id: int) -> str:
    return f'<w:bookmarkStart w:id="{mark_id}" w:name={quoteattr(name)}/><w:bookmarkEnd w:id="{mark_id}"/>'


def new_block(tpl: Any) -> Block:
    return Block(tpl.get_docx().part)


def point_bookmark(name: str, mark_id: int) -> tuple[Any, Any]:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    start, end = OxmlElement("w:bookmarkStart"), OxmlElement("w:bookmarkEnd")
    start.set(qn("w:id"), str(mark_id))
    start.set(qn("w:name"), name)
    end.set(qn("w:id"), str(mark_id))
    return start, end


def label_style_id(tpl: Any) -> str:
    """The template's label style, looked up once per template (a style lookup walks them all)."""
    cached: str | None = getattr(tpl, "_kpiflow_label_style", None)
    if cached is None:
        try:
            cached = str(tpl.get_docx().styles[LABEL_STYLE].style_id)
        except KeyError:
            cached = ""   # a template without the style: the label keeps the body style, bold
        tpl._kpiflow_label_style = cached
    return cached


def marked_block(tpl: Any, indicator_id: str, kind: str, texts: list[str]) -> Block:
    """The label and the paragraphs of an exception's commentary or service response, marked so
    that edits made in Word or LibreOffice can be read back.

    The paragraphs sit in a content control tagged ``kpiflow:<ID>:<kind>`` (Word keeps it); the
    label ("Service Response:") carries a bookmark ``kpiflow_<ID>_<kind>`` (LibreOffice keeps
    it when it drops the tag), and the region is what follows the label up to the next label,
    table or chart. The mark is on the label, not on the text, so that an officer can select
    and retype the whole text without deleting it."""
    block = new_block(tpl)
    style_id = label_style_id(tpl)
    style = f"<w:pPr><w:pStyle w:val={quoteattr(style_id)}/></w:pPr>" if style_id else ""
    mark = bookmark_xml(bookmark_name(indicator_id, kind), numbers(block.part.package).next_annotation())
    block.add_xml(f"<w:p>{style}{run_xml(LABELS[kind], '<w:rPr><w:b/></w:rPr>')}{mark}</w:p>")
    alias = f"{indicator_id} {'commentary' if kind == 'commentary' else 'service response'}"
    paras = "".join(paragraph_xml(text) for text in texts or [""])
    block.add_xml(f"<w:sdt><w:sdtPr><w:alias w:val={quoteattr(alias)}/><w:tag w:val={quoteattr(tag_value(indicator_id, kind))}/>"
                  f"</w:sdtPr><w:sdtContent>{paras}</w:sdtContent></w:sdt>")
    return block


def add_chart(block: Block, spec: ChartSpec, mode: str) -> None:
    """A paragraph holding the chart: native (``mode`` "native", written as XML text), or a matplotlib
    picture ("image", through python-docx)."""
    if mode != "image":
        block.add_xml(paragraph_xml(content=native_chart_run(block.part, spec)))
        return
    import io

    from docx.shared import Cm

    paragraph = block.add_paragraph()
    paragraph.add_run().add_picture(io.BytesIO(render_png(spec)), width=Cm(15))
    # python-docx numbers a picture from the ids already in the document body, which does
    # not hold this block yet
    for doc_pr in paragraph._p.iter(q("wp:docPr")):
        doc_pr.set("id", str(numbers(block.part.package).next_drawing()))
        doc_pr.set("descr", describe(spec))


class RunXml(str):
    """Run-level Word XML for a ``{{r ... }}`` tag: inserted as it is (autoescape passes it through)."""

    def __html__(self) -> str:
        return str(self)


def section_bookmark(tpl: Any, indicator_id: str) -> RunXml:
    """A point bookmark for an exception's heading (``{{r ex.section_mark }}``): what the overview's
    row for it links to."""
    return RunXml(bookmark_xml(section_name(indicator_id), numbers(tpl.get_docx().part.package).next_annotation()))


def section_link(text: str, indicator_id: str | None) -> RunXml:
    """``text`` as a run; with ``indicator_id``, an internal hyperlink to that exception's heading
    (underlined and blue, so it reads as a link without colour too)."""
    run = f'<w:r>{{}}<w:t xml:space="preserve">{escape(text)}</w:t></w:r>'
    if indicator_id is None:
        return RunXml(run.format(""))
    props = '<w:rPr><w:color w:val="0563C1"/><w:u w:val="single"/></w:rPr>'
    return RunXml(f"<w:hyperlink w:anchor={quoteattr(section_name(indicator_id))} w:history=\"1\">"
                  f"{run.format(props)}</w:hyperlink>")


def retarget_section_links(document: Any) -> int:
    """Point each link to an exception's heading that the template gave no bookmark (a council's
    template without ``{{r ex.section_mark }}``) at its commentary's mark instead, or, with neither,
    leave its text unlinked. Returns how many links were changed."""
    names = {b.get(q("w:name")) for b in document.element.body.iter(q("w:bookmarkStart"))}
    changed = 0
    for link in list(document.element.body.iter(q("w:hyperlink"))):
        anchor = link.get(q("w:anchor"))
        found = SECTION.fullmatch(anchor or "")
        if found is None or anchor in names:
            continue
        changed += 1
        fallback = f"kpiflow_{found[1]}_commentary"
        if fallback in names:
            link.set(q("w:anchor"), fallback)
        else:
            parent = link.getparent()
            at = parent.index(link)
            for i, child in enumerate(list(link)):
                parent.insert(at + i, child)
            parent.remove(link)
    return changed


def save_draft(tpl: Any, out: Any) -> None:
    """Write a rendered template to the binary file ``out``: docxtpl's save, with the package's parts
    deflated at zlib's fastest level (a draft's many chart parts make the default level a sixth of a
    report's time; the file is about an eighth larger). A template asked to replace pictures or
    embedded files is saved by docxtpl itself."""
    if tpl.pics_to_replace or tpl.crc_to_new_media or tpl.crc_to_new_embedded or tpl.zipname_to_replace:
        tpl.save(out)
        return
    import zipfile

    from docx.opc import pkgwriter

    writes: Any = pkgwriter.PackageWriter   # python-docx's own steps, given a writer of ours

    class _Writer:
        def __init__(self) -> None:
            self.zf = zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1)

        def write(self, pack_uri: Any, blob: bytes) -> None:
            self.zf.writestr(pack_uri.membername, blob)

        def close(self) -> None:
            self.zf.close()

    package = tpl.docx.part.package
    parts = list(package.parts)
    for part in parts:
        part.before_marshal()
    writer = _Writer()
    try:
        writes._write_content_types_stream(writer, parts)
        writes._write_pkg_rels(writer, package.rels)
        writes._write_parts(writer, parts)
    finally:
        writer.close()
    tpl.is_saved = True
