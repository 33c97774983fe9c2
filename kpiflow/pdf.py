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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kpiflow.errors import KpiflowError

# LibreOffice's PDF export filter options (7.4 and later read them as JSON after the filter name)
PDF_OPTIONS = {
    "UseTaggedPDF": {"type": "boolean", "value": "true"},
    "PDFUACompliance": {"type": "boolean", "value": "true"},
    "ExportBookmarks": {"type": "boolean", "value": "true"},
    # each bookmark a named destination: what the overview's links to the exceptions go to (see add_links)
    "ExportBookmarksToPDFDestination": {"type": "boolean", "value": "true"},
    "ExportFormFields": {"type": "boolean", "value": "false"},
}
PDF_FILTER = "pdf:writer_pdf_Export:" + json.dumps(PDF_OPTIONS, separators=(",", ":"))
CONVERT_SECONDS = 180
MAX_DOCUMENT_XML = 64 * 1024 * 1024   # bytes of word/document.xml read for alternative texts
PROFILE_PREFIX = "kpiflow-lo-"         # each conversion's profile: kpiflow-lo-<pid of kpiflow>-<random>


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
    clean_stale_profiles()
    profile = tempfile.mkdtemp(prefix=f"{PROFILE_PREFIX}{os.getpid()}-")
    try:
        cmd = [exe, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore", "--convert-to", fmt,
               "--outdir", str(outdir), str(src)]
        returncode, stdout, stderr = _run(cmd, timeout, src, profile)
    finally:
        remove_profile(profile)
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


def _run(cmd: list[str], timeout: float, src: Path, profile: str = "") -> tuple[int, str, str]:
    """Run LibreOffice in a process group of its own, so that a conversion that hangs is stopped
    whole: ``soffice`` is a script that starts the real program, which would otherwise live on
    (and keep the output pipes open) after the script is killed.

    However kpiflow stops, the group is stopped with it: an exception or Ctrl-C stops it here, a
    SIGTERM or SIGHUP is turned into an exception for the time of the conversion, and a guard
    process (on Linux) that the system signals when kpiflow dies, even by SIGKILL, stops the group
    and removes the profile."""
    with _signals_raise():
        guard = _guard(profile)
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, start_new_session=sys.platform != "win32")
            try:
                stdout, stderr = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired as exc:
                _kill(proc)
                raise KpiflowError(f"LibreOffice did not finish converting {src.name} within {timeout:g} s and "
                                   "was stopped") from exc
            except BaseException:
                _kill(proc)
                raise
            finally:
                if sys.platform != "win32":
                    # anything the conversion left running in its group (it would write the file later)
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(proc.pid, signal.SIGKILL)
        finally:
            _end_guard(guard)
    return proc.returncode, stdout or "", stderr or ""


class Stopped(BaseException):
    """kpiflow was asked to stop (SIGTERM, SIGHUP) while LibreOffice was converting."""


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Stopped` in the main thread, so that the conversion's
    clean-up runs; the handlers in force before are put back afterwards."""
    import threading

    if sys.platform == "win32" or threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: Any) -> None:
        raise Stopped(f"stopped by signal {signum}")

    wanted = [s for s in (signal.SIGTERM, signal.SIGHUP) if signal.getsignal(s) in (signal.SIG_DFL, None)]
    before = {s: signal.signal(s, stop) for s in wanted}
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


# The guard: a small process that the kernel sends SIGTERM when kpiflow dies (PR_SET_PDEATHSIG),
# however it dies; it then stops every process running on the conversion's profile and removes it.
# It is started before LibreOffice, so there is no moment when LibreOffice runs unguarded.
_GUARD = r"""
import os, shutil, signal, sys, time
profile, parent = sys.argv[1], int(sys.argv[2])
marker = ("-env:UserInstallation=file://" + profile).encode()
def users():
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/cmdline" % name, "rb") as fh:
                    if marker in fh.read().split(b"\0"):
                        found.append(int(name))
            except OSError:
                pass
    return found
def reap(*_):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pids = users()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(profile, ignore_errors=True)
        if not pids and not os.path.exists(profile):
            break
        time.sleep(0.05)
    os._exit(0)
signal.signal(signal.SIGTERM, reap)
if os.getppid() != parent:
    reap()
print("ready", flush=True)
while True:
    signal.pause()
"""


def _die_with_parent() -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM, 0, 0, 0)     # PR_SET_PDEATHSIG


def _guard(profile: str) -> subprocess.Popen[str] | None:
    if not sys.platform.startswith("linux") or not profile:
        return None
    try:
        guard = subprocess.Popen([sys.executable, "-S", "-c", _GUARD, profile, str(os.getpid())],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 text=True, preexec_fn=_die_with_parent, start_new_session=True)
    except OSError:
        return None
    if guard.stdout is not None:
        guard.stdout.readline()     # its handler is in place
    return guard


def _end_guard(guard: subprocess.Popen[str] | None) -> None:
    """Stop the guard without its clean-up: kpiflow does that itself when it lives to."""
    if guard is None:
        return
    with contextlib.suppress(ProcessLookupError):
        guard.kill()
    with contextlib.suppress(subprocess.TimeoutExpired, OSError):
        guard.wait(timeout=5)
    if guard.stdout is not None:
        guard.stdout.close()


def _processes_using(profile: str) -> list[int]:
    """Processes whose command line names ``profile`` as their LibreOffice profile (Linux)."""
    marker = f"-env:UserInstallation=file://{profile}".encode()
    found = []
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                    args = fh.read().split(b"\0")
            except OSError:
                continue
            if marker in args:
                found.append(int(entry.name))
    return found


def remove_profile(profile: str, wait: float = 10.0) -> None:
    """Remove a conversion's profile once nothing runs on it (a process still stopping would write
    into it again)."""
    import time

    deadline = time.monotonic() + wait
    while True:
        users = _processes_using(profile)
        for pid in users:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(profile, ignore_errors=True)
        if (not users and not os.path.exists(profile)) or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_profiles() -> list[str]:
    """Remove the LibreOffice profiles a kpiflow process that has died left behind (each is named
    for its process), stopping any LibreOffice still running on one. Returns the profiles removed."""
    removed = []
    tmp = Path(tempfile.gettempdir())
    with contextlib.suppress(OSError):
        for entry in os.scandir(tmp):
            owner = entry.name.removeprefix(PROFILE_PREFIX).split("-", 1)[0]
            if (not entry.name.startswith(PROFILE_PREFIX) or not owner.isdigit() or int(owner) == os.getpid()
                    or _alive(int(owner)) or not entry.is_dir(follow_symlinks=False)):
                continue
            remove_profile(entry.path, wait=5.0)
            removed.append(entry.path)
    return removed


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


def internal_links(docx: Path) -> list[tuple[str, str]]:
    """Each link to a bookmark in the document body, in order: (the bookmark, the link's text)."""
    from defusedxml import ElementTree

    w = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    with zipfile.ZipFile(docx) as z:
        info = z.getinfo("word/document.xml")
        if info.file_size > MAX_DOCUMENT_XML:
            raise KpiflowError(f"{docx.name} is too large to read ({info.file_size:,} bytes of text)")
        root = ElementTree.fromstring(z.read(info), forbid_dtd=True)
    return [(el.get(f"{w}anchor") or "", "".join(t.text or "" for t in el.iter(f"{w}t")))
            for el in root.iter(f"{w}hyperlink") if el.get(f"{w}anchor")]


def to_pdf(src: Path, outdir: Path, title: str = "", lang: str = "en-GB") -> Path:
    """A tagged PDF of ``src`` with its figures' alternative text, language, title and links set."""
    out = convert(src, outdir, PDF_FILTER)
    finish_pdf(out, figure_alt_texts(src), title, lang, internal_links(src))
    return out


def structure_links(pdf: Any) -> list[Any]:
    """Structure elements of type /Link, in document order."""
    import pikepdf

    found: list[Any] = []
    stack: list[Any] = [pdf.Root.StructTreeRoot.get("/K")] if pdf.Root.get("/StructTreeRoot") is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, pikepdf.Array):
            stack.extend(reversed(list(node)))
        elif isinstance(node, pikepdf.Dictionary):
            if node.get("/S") == pikepdf.Name("/Link"):
                found.append(node)
            elif node.get("/K") is not None:
                stack.append(node.get("/K"))
    return found


def _text_origins(page: Any) -> list[tuple[int | None, float, float, float]]:
    """Where each piece of text on a page starts: (its marked-content id, x, y, font size), in
    content order. Follows q/Q, cm, BT, Tm, Td, TD, T*, TL and Tf, as LibreOffice writes them."""
    import pikepdf

    def mul(a: list[float], b: list[float]) -> list[float]:
        return [a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3], a[2] * b[0] + a[3] * b[2],
                a[2] * b[1] + a[3] * b[3], a[4] * b[0] + a[5] * b[2] + b[4], a[4] * b[1] + a[5] * b[3] + b[5]]

    ident = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    ctm, stack, tm, tlm, size, leading = ident, [], ident, ident, 0.0, 0.0
    marks: list[int | None] = []
    out: list[tuple[int | None, float, float, float]] = []
    for instr in pikepdf.parse_content_stream(page):
        operands, name = instr.operands, str(instr.operator)
        nums = [float(x) for x in operands] if name in ("cm", "Tm", "Td", "TD", "TL") else []
        if name == "q":
            stack.append(ctm)
        elif name == "Q" and stack:
            ctm = stack.pop()
        elif name == "cm" and len(nums) == 6:
            ctm = mul(nums, ctm)
        elif name == "BT":
            tm = tlm = ident
        elif name == "Tm" and len(nums) == 6:
            tm = tlm = nums
        elif name in ("Td", "TD") and len(nums) == 2:
            if name == "TD":
                leading = -nums[1]
            tm = tlm = mul([1, 0, 0, 1, nums[0], nums[1]], tlm)
        elif name == "T*":
            tm = tlm = mul([1, 0, 0, 1, 0, -leading], tlm)
        elif name == "TL" and nums:
            leading = nums[0]
        elif name == "Tf" and len(operands) == 2:
            size = float(operands[1])
        elif name == "BDC":
            props = operands[1] if len(operands) > 1 else None
            mcid = props.get("/MCID") if isinstance(props, pikepdf.Dictionary) else None
            marks.append(int(mcid) if mcid is not None else None)
        elif name == "BMC":
            marks.append(None)
        elif name == "EMC" and marks:
            marks.pop()
        elif name in ("Tj", "TJ", "'", '"'):
            m = mul(tm, ctm)
            out.append((marks[-1] if marks else None, m[4], m[5], size * abs(m[3] or 1.0)))
    return out


def _page_of(elem: Any) -> Any:
    while elem is not None:
        if elem.get("/Pg") is not None:
            return elem.get("/Pg")
        elem = elem.get("/P")
    return None


def _destination(pdf: Any, name: str) -> Any:
    """The named destination's page and place, from the catalogue's /Dests or its /Names tree."""
    import pikepdf

    dests = pdf.Root.get("/Dests")
    # LibreOffice writes a bookmark's name with each character other than a letter or digit as its hex code
    written = "".join(c if c.isascii() and c.isalnum() else f"{ord(c):02X}" for c in name)
    found = None
    if isinstance(dests, pikepdf.Dictionary):
        found = dests.get("/" + name, dests.get("/" + written))
    if found is None and pdf.Root.get("/Names") is not None and pdf.Root.Names.get("/Dests") is not None:
        found = pikepdf.NameTree(pdf.Root.Names.Dests).get(name)
    if isinstance(found, pikepdf.Dictionary):
        found = found.get("/D")
    return found if isinstance(found, pikepdf.Array) else None


def add_links(pdf: Any, links: list[tuple[str, str]]) -> int:
    """Link annotations for the document's links to its own bookmarks, where LibreOffice left them out.

    LibreOffice 7.4 (the nogui build) tags each link as a /Link structure element but writes no
    annotation, so a reader cannot follow it. Each /Link element (in document order, matched to the
    .docx's links) gets an annotation over its text going to the bookmark's named destination,
    referenced from the element (PDF/UA). Nothing is added when the counts disagree, or when the
    PDF has link annotations already. Returns how many were added."""
    import pikepdf

    elems = structure_links(pdf)
    if not links or len(elems) != len(links) or any(
            a.get("/Subtype") == pikepdf.Name("/Link") for p in pdf.pages for a in p.get("/Annots", [])):
        return 0
    tree = pdf.Root.StructTreeRoot
    parents = pikepdf.NumberTree(tree.ParentTree)
    next_key = int(tree.get("/ParentTreeNextKey", max((int(k) for k, _ in parents.items()), default=-1) + 1))
    origins: dict[Any, list[tuple[int | None, float, float, float]]] = {}
    added = 0
    for elem, (anchor, text) in zip(elems, links, strict=True):
        page, dest = _page_of(elem), _destination(pdf, anchor)
        kids = elem.get("/K")
        mcids = [int(k) for k in (kids if isinstance(kids, pikepdf.Array) else [kids]) if isinstance(k, int)]
        if page is None or dest is None or not mcids:
            continue
        key = page.objgen
        if key not in origins:
            origins[key] = _text_origins(pikepdf.Page(page))
        texts = origins[key]
        at = next((i for i, t in enumerate(texts) if t[0] == mcids[0]), None)
        if at is None:
            continue
        _, x, y, size = texts[at]
        # the link's text ends where the next piece of text on its line begins (or, at a line's end, an estimate)
        right = next((t[1] for t in texts[at + 1:] if t[0] not in mcids and abs(t[2] - y) < 0.5 and t[1] > x),
                     x + 0.6 * size * max(len(text), 1))
        annot = pdf.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link,
            Rect=[x, y - 0.25 * size, right, y + 0.9 * size], Border=[0, 0, 0],
            A=pikepdf.Dictionary(S=pikepdf.Name.GoTo, D=dest), Contents=pikepdf.String(f"Go to {text}"),
            StructParent=next_key))
        page.Annots = pikepdf.Array([*page.get("/Annots", []), annot])
        page.Tabs = pikepdf.Name.S
        objr = pikepdf.Dictionary(Type=pikepdf.Name.OBJR, Obj=annot, Pg=page)
        elem.K = pikepdf.Array([*(kids if isinstance(kids, pikepdf.Array) else [kids]), objr])
        parents[next_key] = elem
        next_key += 1
        added += 1
    tree.ParentTreeNextKey = next_key
    return added


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


def finish_pdf(path: Path, alt_texts: list[str], title: str, lang: str = "en-GB",
               links: list[tuple[str, str]] | None = None) -> None:
    """Set what LibreOffice leaves out: /Alt on each figure (in document order), the language,
    the title in the document information and XMP metadata, DisplayDocTitle, and the links to
    the document's own bookmarks (``links``, see ``add_links``)."""
    import pikepdf

    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        if links:
            add_links(pdf, links)
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
