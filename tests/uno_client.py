"""Drive LibreOffice through UNO: type into a workbook or edit a Word document as a user would, or
report what Calc sees.

Run with a Python that has the ``uno`` module (Debian: ``/usr/bin/python3`` with python3-uno),
not the project's virtual environment, so this file imports only the standard library and uno::

    python3 tests/uno_client.py calc-fill '{"src": "in.xlsx", "out": "out.xlsx",
                                            "cells": [["Return", "F7", 531], ["Return", "K7", "Text"]]}'
    python3 tests/uno_client.py calc-inspect '{"src": "in.xlsx", "protected": ["Return"],
                                               "count_validation": ["Return"], "cells": [["Return", "F7"]]}'
    python3 tests/uno_client.py writer-edit '{"src": "in.docx", "out": "out.docx", "edits": [
        {"bookmark": "kpiflow_CS02_response", "op": "replace", "text": "First.\\nSecond paragraph."},
        {"bookmark": "kpiflow_CS01_commentary", "op": "append", "text": " One more sentence."}]}'

Each run starts its own headless soffice with a fresh profile and a unique pipe, and always stops
it, within an overall timeout (``"timeout"`` in the arguments, seconds). One JSON object is
printed on stdout. Exit status: 0 done; 1 done, but some typing was refused (a locked cell on a
protected sheet) or an edited bookmark no longer covers its text; 2 failed, with ``{"error": ...}``
on stdout and the traceback on stderr.
A command is one function ``(desktop, args) -> (result, status)`` listed in COMMANDS.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import uno
from com.sun.star.connection import NoConnectException

CONNECT_TIMEOUT = 60.0   # seconds for a fresh profile to start and accept the connection
DEFAULT_TIMEOUT = 150.0  # seconds for the whole run, after which soffice is killed
XLSX_FILTER = "Calc MS Excel 2007 XML"
DOCX_FILTER = "MS Word 2007 XML"
SENTINEL = "\u2060"   # WORD JOINER: a placeholder character that the documents never contain


def _props(**values: Any) -> tuple[Any, ...]:
    out = []
    for name, value in values.items():
        p = uno.createUnoStruct("com.sun.star.beans.PropertyValue")
        p.Name, p.Value = name, value
        out.append(p)
    return tuple(out)


def _kill_group(pgid: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _soffice() -> str:
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if exe is None:
        raise RuntimeError("soffice is not on PATH")
    return exe


def _watchdog(pgid: int, timeout: float) -> threading.Timer:
    """Kill soffice when the run takes too long; a UNO call blocked on it then fails. If the
    main thread still does not finish, end the process."""
    def fire() -> None:
        print(f"uno_client: timed out after {timeout:g} s, killing soffice", file=sys.stderr)
        _kill_group(pgid)
        time.sleep(10)
        os._exit(3)

    timer = threading.Timer(timeout, fire)
    timer.daemon = True
    timer.start()
    return timer


def _connect(pipe: str, proc: subprocess.Popen[bytes]) -> Any:
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    deadline = time.monotonic() + CONNECT_TIMEOUT
    while True:
        try:
            return resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
        except NoConnectException:
            if proc.poll() is not None:
                raise RuntimeError(f"soffice exited (status {proc.returncode}) before accepting a connection") from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"soffice did not accept a connection within {CONNECT_TIMEOUT:g} s") from None
            time.sleep(0.25)


class _Office:
    """A running headless LibreOffice of our own. A class rather than a generator: contextlib
    cannot re-raise a UNO exception (it sets ``__traceback__``, which pyuno structs refuse)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.desktop: Any = None

    def __enter__(self) -> Any:
        self.profile = Path(tempfile.mkdtemp(prefix="uno-client-profile-"))
        pipe = f"uno_client_{os.getpid()}_{uuid.uuid4().hex}"
        cmd = [_soffice(), f"-env:UserInstallation={self.profile.as_uri()}", f"--accept=pipe,name={pipe};urp;",
               "--headless", "--invisible", "--norestore", "--nologo", "--nodefault", "--nolockcheck"]
        # its own session, so the wrapper script, oosplash and soffice.bin can be killed as one group
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        self.timer = _watchdog(self.proc.pid, self.timeout)
        try:
            ctx = _connect(pipe, self.proc)
            self.desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        except BaseException:
            self.close()
            raise
        return self.desktop

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.desktop is not None:
            # the bridge goes away as soffice exits, which can surface here as an exception
            with suppress(Exception):
                self.desktop.terminate()
            self.desktop = None
        with suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=20)
        _kill_group(self.proc.pid)   # whatever is left of the group, if anything
        self.proc.wait()
        self.timer.cancel()
        shutil.rmtree(self.profile, ignore_errors=True)


def office(timeout: float = DEFAULT_TIMEOUT) -> _Office:
    """``with office() as desktop:`` a Desktop of a fresh soffice, always stopped afterwards;
    killed if the run takes longer than ``timeout`` seconds."""
    return _Office(timeout)


class _Document:
    def __init__(self, desktop: Any, path: str) -> None:
        self.desktop, self.path = desktop, path

    def __enter__(self) -> Any:
        url = Path(self.path).resolve().as_uri()
        self.doc = self.desktop.loadComponentFromURL(url, "_blank", 0, _props(Hidden=True, MacroExecutionMode=0))
        if self.doc is None:
            raise RuntimeError(f"LibreOffice could not open {self.path}")
        return self.doc

    def __exit__(self, *exc: object) -> None:
        try:
            self.doc.close(True)
        except Exception:
            self.doc.dispose()


def opened(desktop: Any, path: str) -> _Document:
    """``with opened(desktop, path) as doc:`` the document loaded hidden with macros off, closed
    (or disposed) afterwards."""
    return _Document(desktop, path)


def _store(doc: Any, path: str, filter_name: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    doc.storeToURL(Path(path).resolve().as_uri(), _props(FilterName=filter_name, Overwrite=True))


def _cell(doc: Any, sheet_name: str, ref: str) -> tuple[Any, Any]:
    sheet = doc.Sheets.getByName(sheet_name)
    addr = sheet.getCellRangeByName(ref).RangeAddress
    return sheet, sheet.getCellByPosition(addr.StartColumn, addr.StartRow)


def calc_fill(desktop: Any, args: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Type values into cells as a user would, then save as .xlsx.

    args: src, out, cells: [[sheet, "F7", value], ...]; a number is entered as a number, text as
    text (never as a formula). A locked cell on a protected sheet is refused, as Calc's interface
    refuses typing there; protection is never removed. The check is made here because the API's
    setString and setValue write through sheet protection.
    """
    typed: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    with opened(desktop, args["src"]) as doc:
        for sheet_name, ref, value in args["cells"]:
            sheet, cell = _cell(doc, sheet_name, ref)
            where = {"sheet": sheet_name, "cell": ref, "value": value}
            if sheet.isProtected() and cell.CellProtection.IsLocked:
                refused.append({**where, "reason": "locked cell on a protected sheet"})
                continue
            if isinstance(value, str):
                cell.setString(value)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                cell.setValue(value)
            else:
                raise TypeError(f"{sheet_name}!{ref}: only numbers and text can be typed, not {value!r}")
            typed.append(where)
        _store(doc, args["out"], args.get("filter", XLSX_FILTER))
    return {"out": args["out"], "typed": typed, "refused": refused}, (1 if refused else 0)


def _enum(value: Any) -> str:
    return str(getattr(value, "value", value))


def _validation(obj: Any) -> dict[str, Any] | None:
    v = obj.Validation
    kind = _enum(v.Type)
    if kind == "ANY":
        return None
    return {"type": kind, "operator": _enum(v.getOperator()), "formula1": v.getFormula1(),
            "formula2": v.getFormula2(), "ignore_blank": bool(v.IgnoreBlankCells),
            "show_input_message": bool(v.ShowInputMessage), "input_title": v.InputTitle,
            "input_message": v.InputMessage, "show_error_message": bool(v.ShowErrorMessage),
            "error_message": v.ErrorMessage}


def _describe(doc: Any, sheet_name: str, ref: str) -> dict[str, Any]:
    _, cell = _cell(doc, sheet_name, ref)
    kind = _enum(cell.Type)
    return {"type": kind, "value": cell.getValue() if kind == "VALUE" else None, "string": cell.getString(),
            "formula": cell.getFormula() if kind == "FORMULA" else None, "locked": bool(cell.CellProtection.IsLocked),
            "validation": _validation(cell), "comment": cell.getAnnotation().getString()}


def _validation_cells(sheet: Any) -> int:
    """How many cells of a sheet carry data validation (blank cells included)."""
    n = 0
    ranges = sheet.getUniqueCellFormatRanges()
    for i in range(ranges.getCount()):
        group = ranges.getByIndex(i)
        if _enum(group.Validation.Type) == "ANY":
            continue
        for a in group.getRangeAddresses():
            n += (a.EndColumn - a.StartColumn + 1) * (a.EndRow - a.StartRow + 1)
    return n


def calc_inspect(desktop: Any, args: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Report what Calc sees in a workbook.

    args: src; protected: [sheet, ...]; count_validation: [sheet, ...]; cells: [[sheet, "F7"], ...].
    Result: sheets (name, visible) in order, protected {sheet: bool}, validation_cells {sheet: n},
    cells {"Sheet!F7": type, value, string, formula, locked, validation, comment}.
    """
    with opened(desktop, args["src"]) as doc:
        sheets = doc.Sheets
        names = list(sheets.ElementNames)
        return {
            "sheets": [{"name": n, "visible": bool(sheets.getByName(n).IsVisible)} for n in names],
            "protected": {n: bool(sheets.getByName(n).isProtected()) for n in args.get("protected", [])},
            "validation_cells": {n: _validation_cells(sheets.getByName(n)) for n in args.get("count_validation", [])},
            "cells": {f"{s}!{ref}": _describe(doc, s, ref) for s, ref in args.get("cells", [])},
        }, 0


def _paragraph_texts(rng: Any) -> list[str]:
    """The whole text of each paragraph a range touches. A content control that Writer imported as
    an input field around a paragraph's text ends in a carriage return."""
    cursor = rng.getText().createTextCursorByRange(rng)
    out = []
    paragraphs = cursor.createEnumeration()
    while paragraphs.hasMoreElements():
        para = paragraphs.nextElement()
        if para.supportsService("com.sun.star.text.Paragraph"):
            out.append(para.getString())
    return out


def _anchor(doc: Any, name: str) -> Any:
    if not doc.Bookmarks.hasByName(name):
        raise KeyError(f"no bookmark named {name!r}; the document has {list(doc.Bookmarks.ElementNames)}")
    return doc.Bookmarks.getByName(name).getAnchor()


def _select_region(doc: Any, name: str, paragraphs: int) -> Any:
    """A cursor selecting the text an officer would select: the ``paragraphs`` paragraphs after
    the label that holds the mark."""
    anchor = _anchor(doc, name)
    cursor = anchor.getText().createTextCursorByRange(anchor.getStart())
    cursor.gotoNextParagraph(False)
    cursor.gotoEndOfParagraph(True)
    for _ in range(paragraphs - 1):
        cursor.gotoNextParagraph(True)
        cursor.gotoEndOfParagraph(True)
    return cursor


def _type(text: Any, cursor: Any, new_text: str) -> None:
    """Type over the selection; a newline starts a new paragraph, as pressing Enter does."""
    from com.sun.star.text.ControlCharacter import PARAGRAPH_BREAK

    for i, line in enumerate(new_text.replace("\r\n", "\n").split("\n")):
        if i:
            text.insertControlCharacter(cursor, PARAGRAPH_BREAK, False)
        text.insertString(cursor, line, i == 0)
        cursor.collapseToEnd()


def writer_edit(desktop: Any, args: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Edit a draft's marked regions as an officer would in Writer, then save as .docx.

    args: src, out, edits: [{"bookmark": name, "paragraphs": n, "op": "replace" | "append",
    "text": ...}, ...]. A region is the ``paragraphs`` paragraphs after the label holding its
    bookmark. "replace" selects the whole region and types the text over it (a newline in the text
    starts a new paragraph); "append" types the text at the end of the region's last paragraph.
    Result: out, bookmarks (every bookmark name, in document order), and reloaded (the bookmark
    names Writer finds in the saved file).
    """
    with opened(desktop, args["src"]) as doc:
        names = list(doc.Bookmarks.ElementNames)
        for edit in args["edits"]:
            name, op, new, count = edit["bookmark"], edit["op"], edit["text"], int(edit.get("paragraphs", 1))
            cursor = _select_region(doc, name, count)
            if op == "replace":
                _type(cursor.getText(), cursor, new)
            elif op == "append":
                cursor.collapseToEnd()
                cursor.getText().insertString(cursor, new, False)
            else:
                raise ValueError(f"unknown edit {op!r}: use replace or append")
        _store(doc, args["out"], args.get("filter", DOCX_FILTER))
    with opened(desktop, args["out"]) as doc:
        reloaded = list(doc.Bookmarks.ElementNames)
    return {"out": args["out"], "bookmarks": names, "reloaded": reloaded}, 0


COMMANDS: dict[str, Callable[[Any, dict[str, Any]], tuple[dict[str, Any], int]]] = {
    "calc-fill": calc_fill,
    "calc-inspect": calc_inspect,
    "writer-edit": writer_edit,
}


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in COMMANDS:
        print(f"usage: {Path(argv[0]).name} {{{','.join(COMMANDS)}}} '<json args>'", file=sys.stderr)
        return 2
    try:
        args = json.loads(argv[2])
        with office(float(args.get("timeout", DEFAULT_TIMEOUT))) as desktop:
            result, status = COMMANDS[argv[1]](desktop, args)
    except Exception as exc:
        traceback.print_exc()
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return 2
    print(json.dumps(result))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
