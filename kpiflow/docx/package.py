"""A Word package from an officer's machine, opened with suspicion.

Before any part is inflated or parsed, the zip's directory is checked: the file's size, the number
of parts, every part's stored and inflated size and their ratio (a 1.6 MB part that inflates to
1.5 GB is refused from the directory alone), names given twice, encrypted parts. A part is then
read no further than the size the directory promised.

``active_content`` finds what must never reach the Cabinet paper: macros (a .docm renamed .docx,
ActiveX, old OLE objects, macro-enabled embedded workbooks), links to content outside the package
(a picture or object fetched from a server when the document opens) and fields that run commands
or fetch from outside (DDE, DDEAUTO, INCLUDETEXT, INCLUDEPICTURE, LINK, IMPORT). Hyperlinks are
kept; a remote ``attachedTemplate`` (Word records the template a document was based on, often on
a network drive) is left out of the published copy by ``clean_copy``.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kpiflow.docx.xml import CONTENT_TYPES, PACKAGE_RELS, W, parse

MAX_FILE_BYTES = 100 * 1024 * 1024      # a report with its charts is well under 5 MB
MAX_PARTS = 5_000
MAX_PART_BYTES = 64 * 1024 * 1024       # inflated size of any one part
MAX_TOTAL_BYTES = 256 * 1024 * 1024     # inflated size of all parts together
# inflated size of one XML part: a report's document.xml is well under 1 MB, and parsing XML takes
# many times its size in memory (a 10 MB part stays near 200 MB; a 25 MB one took 450 MB)
MAX_XML_PART_BYTES = 10 * 1024 * 1024
MAX_RATIO = 200                         # inflated / stored, for parts inflating past RATIO_FLOOR
RATIO_FLOOR = 1024 * 1024               # small parts may compress as well as they like

MAIN = "word/document.xml"
MAIN_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
RT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
RT_OFFICE_DOCUMENT = RT + "officeDocument"
RT_HYPERLINK = RT + "hyperlink"
RT_ATTACHED_TEMPLATE = RT + "attachedTemplate"
TEXT_PART_TYPES = {   # the parts whose paragraphs are checked: content type ending -> what Word calls it
    "wordprocessingml.document.main+xml": "document",
    "wordprocessingml.header+xml": "header",
    "wordprocessingml.footer+xml": "footer",
    "wordprocessingml.footnotes+xml": "footnotes",
    "wordprocessingml.endnotes+xml": "endnotes",
    "wordprocessingml.comments+xml": "comments",
    "wordprocessingml.numbering+xml": "numbering",
    "wordprocessingml.styles+xml": "styles",
}
_MACRO_TYPES = re.compile(r"macroEnabled|vbaProject|vbaData|activeX|oleObject|ms-office\.vba", re.I)
_MACRO_NAMES = re.compile(r"(^|/)(vbaProject\.bin|vbaData\.xml)$|(^|/)activeX/|\.(docm|dotm|xlsm|xlsb|xltm|pptm)$",
                          re.I)
UNSAFE_FIELDS = ("DDE", "DDEAUTO", "INCLUDETEXT", "INCLUDEPICTURE", "LINK", "IMPORT")


class Refused(Exception):
    """The package cannot be read safely: ``code`` and ``message`` say why, ``part`` where."""

    def __init__(self, code: str, message: str, part: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.part = code, message, part


@dataclass
class Package:
    """An open .docx whose directory has been checked; parts are read on demand, bounded."""

    path: Path
    zf: zipfile.ZipFile
    infos: dict[str, zipfile.ZipInfo]
    content_types: dict[str, str] = field(default_factory=dict)   # part name -> content type

    def __enter__(self) -> Package:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.zf.close()

    def has(self, name: str) -> bool:
        return name in self.infos

    def read(self, name: str) -> bytes:
        """A part's bytes, never more than the directory said it holds."""
        info = self.infos[name]
        try:
            with self.zf.open(info) as fh:
                data = fh.read(info.file_size + 1)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, RuntimeError) as exc:
            raise Refused("damaged-draft", f"{self.path.name} is damaged: its part {name} cannot be read ({exc}). "
                          "Open it in Word or LibreOffice, save it again as a Word document (.docx) and use the "
                          "saved copy.", name) from exc
        if len(data) > info.file_size:
            raise Refused("oversized-part", f"{name} holds more than the file's directory says it does",
                          name)
        return data

    def xml(self, name: str) -> Any:
        """A part parsed by the one hardened parser; unreadable XML is refused."""
        data = self.read(name)
        try:
            return parse(data)
        except (SyntaxError, ValueError) as exc:
            raise Refused("damaged-draft", f"{self.path.name} is damaged or built in a way Word never writes: its "
                          f"part {name} cannot be read ({str(exc)[:160]}). Open it in Word or LibreOffice, save it "
                          "again as a Word document (.docx) and use the saved copy.", name) from exc

    def relationships(self, part: str) -> list[tuple[str, str, str, bool]]:
        """(id, type, target, external) of a part's relationships ("" for the package's own)."""
        rels = _rels_name(part)
        if rels not in self.infos:
            return []
        out = []
        for rel in self.xml(rels).iter(f"{{{PACKAGE_RELS}}}Relationship"):
            external = rel.get("TargetMode") == "External"
            target = str(rel.get("Target", ""))
            if not external:
                target = posixpath.normpath(posixpath.join(posixpath.dirname(part), target)).lstrip("/") \
                    if not target.startswith("/") else target.lstrip("/")
            out.append((str(rel.get("Id", "")), str(rel.get("Type", "")), target, external))
        return out

    def text_parts(self) -> list[tuple[str, str]]:
        """(part name, kind) of the parts holding text: document, headers, footers, notes,
        comments, numbering and styles, the main document first."""
        out = [(MAIN, "document")]
        for name, ctype in sorted(self.content_types.items()):
            for ending, kind in TEXT_PART_TYPES.items():
                if ctype.endswith(ending) and name != MAIN and name in self.infos:
                    out.append((name, kind))
        return out


def _rels_name(part: str) -> str:
    folder, base = posixpath.split(part)
    return posixpath.join(folder, "_rels", f"{base}.rels")


def package_of(data: bytes, name: str) -> Package:
    """A package kpiflow has just made, held in memory (a fresh rendering to compare a draft with)."""
    import io

    zf = zipfile.ZipFile(io.BytesIO(data))
    pkg = Package(Path(name), zf, {i.filename: i for i in zf.infolist()})
    pkg.content_types = _content_types(pkg)
    return pkg


def open_package(path: Path) -> Package:
    """Open ``path`` as a Word package, checking sizes before anything is inflated. Raises
    ``Refused`` for a file that is not a Word document, is damaged, or is larger than any report."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise Refused("not-a-draft", f"{path.name} cannot be read: {exc.strerror or exc}") from exc
    if size > MAX_FILE_BYTES:
        raise Refused("oversized-part", f"{path.name} is {size / 1024 / 1024:,.0f} MB, far larger than a report "
                      "can be")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise Refused("not-a-draft", f"{path.name} is not a Word document (.docx) at all: it is not the zip "
                      "package Word and LibreOffice save. Use the draft kpiflow report wrote into outbox/drafts/, "
                      "edited in Word or LibreOffice.") from exc
    try:
        pkg = Package(path, zf, _checked_directory(path, zf))
        pkg.content_types = _content_types(pkg)
        _check_main(pkg)
    except BaseException:
        zf.close()
        raise
    return pkg


def _checked_directory(path: Path, zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    infos = zf.infolist()
    if len(infos) > MAX_PARTS:
        raise Refused("oversized-part", f"{path.name} has {len(infos):,} parts, far more than a report can have")
    seen: dict[str, zipfile.ZipInfo] = {}
    folded: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        # part names are compared without case: two parts under one name could be read differently
        # by kpiflow and by the program that renders the paper
        if name.casefold() in folded:
            raise Refused("damaged-draft", f"{path.name} holds the part {name} twice: Word never writes that", name)
        folded.add(name.casefold())
        if info.flag_bits & 0x1:
            raise Refused("damaged-draft", f"{path.name} is encrypted ({name}): save it without a password", name)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise Refused("damaged-draft", f"{path.name} stores {name} in a way Word never writes", name)
        total += info.file_size
        if info.file_size > MAX_PART_BYTES:
            raise Refused("oversized-part", f"{name} would inflate to {info.file_size / 1024 / 1024:,.0f} MB, far "
                          f"more than a report holds (at most {MAX_PART_BYTES // 1024 // 1024} MB a part)", name)
        if info.file_size > MAX_XML_PART_BYTES and name.lower().endswith((".xml", ".rels")):
            raise Refused("oversized-part", f"{name} would inflate to {info.file_size / 1024 / 1024:,.0f} MB of text, "
                          f"far more than a report holds (at most {MAX_XML_PART_BYTES // 1024 // 1024} MB): shorten "
                          "what was pasted in, or make the draft again with kpiflow report", name)
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise Refused("oversized-part", f"{name} would inflate {info.file_size // max(info.compress_size, 1):,} "
                          f"times over, from {info.compress_size:,} to {info.file_size:,} bytes: a report's parts "
                          "never compress that well", name)
        if total > MAX_TOTAL_BYTES:
            raise Refused("oversized-part", f"{path.name} would inflate to more than "
                          f"{MAX_TOTAL_BYTES // 1024 // 1024} MB, far more than a report holds", name)
        seen[name] = info
    return seen


def _content_types(pkg: Package) -> dict[str, str]:
    if not pkg.has("[Content_Types].xml"):
        raise Refused("not-a-draft", f"{pkg.path.name} is not a Word document (.docx): it has no list of its parts")
    root = pkg.xml("[Content_Types].xml")
    defaults = {str(d.get("Extension", "")).lower(): str(d.get("ContentType", ""))
                for d in root.iter(f"{{{CONTENT_TYPES}}}Default")}
    overrides = {str(o.get("PartName", "")).lstrip("/"): str(o.get("ContentType", ""))
                 for o in root.iter(f"{{{CONTENT_TYPES}}}Override")}
    out: dict[str, str] = {}
    for name in pkg.infos:
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        out[name] = overrides.get(name, defaults.get(ext, ""))
    for name, ctype in overrides.items():
        out.setdefault(name, ctype)
    return out


def _check_main(pkg: Package) -> None:
    mains = [t for _, kind, t, ext in pkg.relationships("") if kind == RT_OFFICE_DOCUMENT and not ext]
    ctype = pkg.content_types.get(MAIN, "")
    if mains != [MAIN] or not pkg.has(MAIN):
        raise Refused("not-a-draft", f"{pkg.path.name} is not a Word document (.docx) as Word and LibreOffice save "
                      "it")
    if ctype != MAIN_TYPE and not _MACRO_TYPES.search(ctype):
        raise Refused("not-a-draft", f"{pkg.path.name} is not a Word document (.docx): its main part is "
                      f"{ctype or 'of no known type'}")


@dataclass(frozen=True)
class Finding:
    """Something in the package that must not be published: code, message, part, and for the
    main document the paragraph (0-based) it sits in, where known."""

    code: str
    message: str
    part: str
    paragraph: int | None = None
    severity: str = "error"


def macro_findings(pkg: Package) -> Iterator[Finding]:
    """Macros and other active content, by part name and content type."""
    for name in pkg.infos:
        ctype = pkg.content_types.get(name, "")
        if _MACRO_NAMES.search(name) or _MACRO_TYPES.search(ctype):
            what = "the document itself is macro-enabled (a .docm renamed .docx)" if name == MAIN else \
                f"it holds {name}" + (f" ({ctype})" if ctype else "")
            yield Finding("macro-content", f"The draft contains macros or other active content: {what}. Open it in "
                          "Word and save it as a Word Document (.docx), which leaves them out, or make the draft "
                          "again with kpiflow report --keep-edits.", name)


_KIND_WORDS = {"image": "a picture", "oleObject": "an embedded object", "frame": "a frame", "subDocument":
               "a subdocument", "package": "an embedded package", "mailMergeSource": "a mail-merge data source",
               "recipientData": "a mail-merge data source", "font": "a font", "audio": "a sound",
               "video": "a video", "externalLinkPath": "a linked workbook", "aFChunk": "an imported file"}


def link_findings(pkg: Package) -> Iterator[Finding]:
    """Relationships to anything outside the package except hyperlinks. A remote template is a
    warning (``clean_copy`` leaves it out); anything else is refused."""
    for name in sorted(pkg.infos):
        if not name.endswith(".rels"):
            continue
        folder, base = posixpath.split(name)
        source = posixpath.join(posixpath.dirname(folder), base[: -len(".rels")])
        for _, kind, target, external in pkg.relationships(source.lstrip("/") if source != "" else ""):
            if not external or kind == RT_HYPERLINK:
                continue
            shown = target if len(target) <= 120 else target[:117] + "..."
            if kind == RT_ATTACHED_TEMPLATE:
                yield Finding("external-link", f"The draft is attached to the template {shown}; the published copy "
                              "leaves that link out.", source or name, severity="warning")
                continue
            what = _KIND_WORDS.get(kind.rsplit("/", 1)[-1], "something")
            yield Finding("external-link", f"The draft links {what} from outside the document ({shown}), which "
                          "would be fetched whenever the paper is opened. In Word, insert it into the document "
                          "(for a picture: File > Info > Edit Links to Files > Break Link, or Insert > Pictures "
                          "again), or delete it.", source or name)


def field_findings(part: str, fields: list[tuple[str, int | None]]) -> Iterator[Finding]:
    """Fields whose instruction runs a command or fetches content from outside the document."""
    for instr, at in fields:
        words = instr.split()
        code = words[0].upper() if words else ""
        if code in UNSAFE_FIELDS:
            shown = " ".join(words)[:100]
            yield Finding("unsafe-field", f"The field {{ {shown} }} would run a command or fetch content from "
                          "outside the document when the paper is opened. Delete it (in Word, Alt+F9 shows "
                          "field codes).", part, at)


def clean_copy(pkg: Package, dest: Path) -> bool:
    """Write the package to ``dest`` as it is, except that a remote attached template is left out.
    Returns True if anything was left out."""
    settings, rels = "word/settings.xml", _rels_name("word/settings.xml")
    drop = {rid for rid, kind, _, external in pkg.relationships(settings) if external and kind == RT_ATTACHED_TEMPLATE}
    if not drop:
        with pkg.path.open("rb") as src, dest.open("xb") as out:
            while chunk := src.read(1 << 20):
                out.write(chunk)
        return False
    from lxml import etree

    root = pkg.xml(settings)
    for el in list(root.iter(f"{W}attachedTemplate")):
        el.getparent().remove(el)
    rels_root = pkg.xml(rels)
    for rel in list(rels_root):
        if rel.get("Id") in drop:
            rels_root.remove(rel)
    changed = {settings: root, rels: rels_root}
    with zipfile.ZipFile(dest, "x", zipfile.ZIP_DEFLATED) as out:
        for name, info in pkg.infos.items():
            if name in changed:
                data = etree.tostring(changed[name], xml_declaration=True, encoding="UTF-8", standalone=True)
            else:
                data = pkg.read(name)
            out.writestr(zipfile.ZipInfo(name, date_time=info.date_time), data, compress_type=zipfile.ZIP_DEFLATED)
    return True
