"""Convert a .docx to a tagged PDF with LibreOffice headless, and finish what it leaves out.

Each conversion has its own LibreOffice profile (two sharing one silently lose a file) and a
timeout. The PDF export is tagged for PDF/UA-1 (a structure tree, figures, table headers).
LibreOffice 7.4 takes the language from the document's default style and the title from its core
properties, but writes no alternative text for charts and does not ask viewers to show the title,
so ``finish_pdf`` sets both afterwards: each ``/Figure`` in the structure tree gets the alternative
text of the picture or chart at the same place in the document's order.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kpiflow.errors import KpiflowError

# LibreOffice's PDF export filter options (7.4 and later read them as JSON after the filter name)
PDF_OPTIONS = {
    "UseTaggedPDF": {"type": "boolean", "value": "true"},
    "PDFUACompliance": {"type": "boolean", "value": "true"},
    "ExportBookmarks": {"type": "boolean", "value": "true"},
    "ExportFormFields": {"type": "boolean", "value": "false"},
}
PDF_FILTER = "pdf:writer_pdf_Export:" + json.dumps(PDF_OPTIONS, separators=(",", ":"))
CONVERT_SECONDS = 180
MAX_DOCUMENT_XML = 64 * 1024 * 1024   # bytes of word/document.xml read for alternative texts


class PdfUnavailable(KpiflowError):
    pass


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert(src: Path, outdir: Path, fmt: str = "pdf", timeout: float = CONVERT_SECONDS) -> Path:
    """Convert with LibreOffice into ``outdir``; the result has the source's stem."""
    exe = soffice()
    if exe is None:
        raise PdfUnavailable("LibreOffice (soffice) is not installed, so no PDF was made. Install it "
                             "(Debian: apt-get install libreoffice-writer-nogui) or save as PDF from Word.")
    outdir.mkdir(parents=True, exist_ok=True)
    out = outdir / f"{src.stem}.{fmt.split(':')[0]}"
    if timeout == CONVERT_SECONDS:
        timeout = convert_timeout()
    with tempfile.TemporaryDirectory(prefix="kpiflow-lo-") as profile:
        cmd = [exe, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore", "--convert-to", fmt,
               "--outdir", str(outdir), str(src)]
        returncode, stdout, stderr = _run(cmd, timeout, src)
    if returncode != 0 or not out.exists() or out.stat().st_size == 0:
        detail = (stderr or stdout).strip()[:300] or f"exit code {returncode}, no file written"
        raise KpiflowError(f"LibreOffice could not convert {src.name}: {detail}")
    return out


def convert_timeout() -> float:
    """Seconds a conversion may take: ``KPIFLOW_CONVERT_TIMEOUT`` if set (a slow machine, or a
    test), otherwise CONVERT_SECONDS."""
    try:
        value = float(os.environ.get("KPIFLOW_CONVERT_TIMEOUT", ""))
    except ValueError:
        return CONVERT_SECONDS
    return value if value > 0 else CONVERT_SECONDS


def _run(cmd: list[str], timeout: float, src: Path) -> tuple[int, str, str]:
    """Run LibreOffice in a process group of its own, so that a conversion that hangs is stopped
    whole: ``soffice`` is a script that starts the real program, which would otherwise live on
    (and keep the output pipes open) after the script is killed."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=sys.platform != "win32")
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        _kill(proc)
        raise KpiflowError(f"LibreOffice did not finish converting {src.name} within {timeout:g} s and was "
                           "stopped") from exc
    except BaseException:
        _kill(proc)
        raise
    return proc.returncode, stdout or "", stderr or ""


def _kill(proc: subprocess.Popen[str]) -> None:
    if sys.platform != "win32":
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired, ValueError, OSError):
        proc.communicate(timeout=10)


def figure_alt_texts(docx: Path) -> list[str]:
    """The alternative text of every picture and chart in the document body, in order."""
    from defusedxml import ElementTree

    with zipfile.ZipFile(docx) as z:
        info = z.getinfo("word/document.xml")
        if info.file_size > MAX_DOCUMENT_XML:
            raise KpiflowError(f"{docx.name} is too large to read ({info.file_size:,} bytes of text)")
        root = ElementTree.fromstring(z.read(info), forbid_dtd=True)
    wp = "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}docPr"
    return [(el.get("descr") or el.get("title") or "").strip() for el in root.iter(wp)]


def to_pdf(src: Path, outdir: Path, title: str = "", lang: str = "en-GB") -> Path:
    """A tagged PDF of ``src`` with its figures' alternative text, language and title set."""
    out = convert(src, outdir, PDF_FILTER)
    finish_pdf(out, figure_alt_texts(src), title, lang)
    return out


def _walk(node: Any, found: list[Any]) -> None:
    """Structure elements of type /Figure under ``node``, in document order."""
    import pikepdf

    if isinstance(node, pikepdf.Array):
        for kid in node:
            _walk(kid, found)
        return
    if not isinstance(node, pikepdf.Dictionary):
        return
    if node.get("/S") == pikepdf.Name.Figure:
        found.append(node)
    kids = node.get("/K")
    if kids is not None:
        _walk(kids, found)


def structure_figures(pdf: Any) -> list[Any]:
    root = pdf.Root.get("/StructTreeRoot")
    found: list[Any] = []
    if root is not None:
        _walk(root.get("/K"), found)
    return found


def finish_pdf(path: Path, alt_texts: list[str], title: str, lang: str = "en-GB") -> None:
    """Set what LibreOffice leaves out: /Alt on each figure (in document order), the language,
    the title in the document information and XMP metadata, and DisplayDocTitle."""
    import pikepdf

    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        figures = structure_figures(pdf)
        if len(figures) == len(alt_texts):
            for fig, text in zip(figures, alt_texts, strict=True):
                if text:
                    fig.Alt = pikepdf.String(text)
        pdf.Root.Lang = pikepdf.String(lang)
        prefs = pdf.Root.get("/ViewerPreferences")
        if not isinstance(prefs, pikepdf.Dictionary):
            prefs = pikepdf.Dictionary()
        prefs.DisplayDocTitle = True
        pdf.Root.ViewerPreferences = prefs
        if title:
            with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
                meta["dc:title"] = title
                meta["dc:language"] = {lang}
            pdf.docinfo["/Title"] = title
        pdf.save(path)


@dataclass(frozen=True)
class PdfCheck:
    """What a published PDF offers assistive technology, as found in the file."""

    tagged: bool
    lang: str
    title: str
    display_title: bool
    figures: int
    figures_without_alt: int
    table_headers: int

    def problems(self, expected_lang: str = "en-GB") -> list[str]:
        out = []
        if not self.tagged:
            out.append("the PDF is not tagged (no structure tree)")
        if self.lang != expected_lang:
            out.append(f"the PDF's language is {self.lang or 'not set'}, not {expected_lang}")
        if not self.title or not self.display_title:
            out.append("the PDF does not show its title")
        if self.figures_without_alt:
            out.append(f"{self.figures_without_alt} of {self.figures} figures in the PDF have no alternative text")
        return out


def check_pdf(path: Path) -> PdfCheck:
    import pikepdf

    with pikepdf.open(path) as pdf:
        root = pdf.Root
        mark = root.get("/MarkInfo")
        tagged = root.get("/StructTreeRoot") is not None and isinstance(mark, pikepdf.Dictionary) and bool(
            mark.get("/Marked", False))
        figures = structure_figures(pdf)
        prefs = root.get("/ViewerPreferences")
        display = isinstance(prefs, pikepdf.Dictionary) and bool(prefs.get("/DisplayDocTitle", False))
        headers = 0
        tree = root.get("/StructTreeRoot")
        if tree is not None:
            stack: list[Any] = [tree.get("/K")]
            while stack:
                node = stack.pop()
                if isinstance(node, pikepdf.Array):
                    stack.extend(node)
                elif isinstance(node, pikepdf.Dictionary):
                    headers += node.get("/S") == pikepdf.Name.TH
                    if node.get("/K") is not None:
                        stack.append(node.get("/K"))
        return PdfCheck(
            tagged=tagged, lang=str(root.get("/Lang", "")), title=str(pdf.docinfo.get("/Title", "")),
            display_title=display, figures=len(figures),
            figures_without_alt=sum(1 for f in figures if not str(f.get("/Alt", "")).strip()),
            table_headers=headers)
