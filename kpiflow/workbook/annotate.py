"""The feedback copy of a return: each problem cell filled red (amber for a warning) with a
comment saying what is wrong, and a first sheet "Problems" listing every problem with a link to
its cell. The original is never touched; the copy keeps its data validation and protection."""

from __future__ import annotations

import re
from pathlib import Path

from kpiflow.problems import Problem, ValidationResult
from kpiflow.workbook.build import HEADER_FILL, set_text, text_cell

ERROR_FILL = "FF9999"
WARNING_FILL = "FFD966"
_A1 = re.compile(r"[A-Z]{1,3}[1-9][0-9]{0,6}")


def _quote(sheet: str) -> str:
    return "'" + sheet.replace("'", "''") + "'"


FILE_LEVEL = {"not-xlsx", "corrupt-file", "file-too-large", "macros-not-accepted", "unreadable-file", "too-many-rows",
              "unsafe-file", "far-cell", "too-many-cells", "too-many-strings"}


def can_annotate(result: ValidationResult) -> bool:
    """Whether the file was a workbook kpiflow could open (and so can hand back marked up)."""
    return not any(p.code in FILE_LEVEL for p in result.problems)


def annotated(src: Path, result: ValidationResult) -> bytes:
    """The annotated copy of ``src``, as the bytes of an .xlsx."""
    import io

    from kpiflow.workbook.read import check_defusedxml

    if not check_defusedxml():
        raise RuntimeError("defusedxml is not installed: kpiflow will not let openpyxl parse a received workbook")
    from openpyxl import load_workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill
    from openpyxl.worksheet.hyperlink import Hyperlink

    wb = load_workbook(src)
    by_cell: dict[tuple[str, str], list[Problem]] = {}
    for p in result.problems:
        if p.sheet in wb.sheetnames and _A1.fullmatch(p.cell or ""):
            by_cell.setdefault((p.sheet, p.cell), []).append(p)
    for (sheet, ref), problems in by_cell.items():
        cell = wb[sheet][ref]
        worst = "error" if any(p.severity == "error" for p in problems) else "warning"
        cell.fill = PatternFill("solid", fgColor=ERROR_FILL if worst == "error" else WARNING_FILL)
        text = "\n\n".join(f"{p.severity.upper()} ({p.code}): {p.message}" for p in problems)
        comment = Comment(ILLEGAL_CHARACTERS_RE.sub("", text), "kpiflow")
        comment.width, comment.height = 320, min(60 + 18 * (len(text) // 40 + 1), 400)
        cell.comment = comment

    ws = wb.create_sheet("Problems", 0)
    text_cell(ws, 1, 1, f"{result.summary()}. Click a location to go to the cell.").font = Font(bold=True, size=12)
    headers = ["Location", "Severity", "Code", "Indicator", "What is wrong and what to do"]
    for col in range(1, len(headers) + 1):
        c = text_cell(ws, 3, col, headers[col - 1])
        c.font = Font(bold=True, color="FFFFFF")
        c.fill = PatternFill("solid", fgColor=HEADER_FILL)
    link_font = Font(color="0563C1", underline="single")
    for p in result.problems:
        row = ws.max_row + 1
        for col, value in enumerate((p.location, p.severity, p.code, p.indicator_id, p.message), start=1):
            set_text(ws.cell(row=row, column=col), value)
        if p.sheet in wb.sheetnames:
            target = p.cell if _A1.fullmatch(p.cell or "") else "A1"
            loc = ws.cell(row=row, column=1)
            loc.hyperlink = Hyperlink(ref=loc.coordinate, location=f"{_quote(p.sheet)}!{target}")
            loc.font = link_font
        if p.severity == "error":
            ws.cell(row=row, column=2).fill = PatternFill("solid", fgColor=ERROR_FILL)
    if result.omitted:
        text_cell(ws, ws.max_row + 1, 1, f"... and {result.omitted} more problems")
    if not result.problems:
        text_cell(ws, ws.max_row + 1, 1, "No problems found.")
    for letter, width in zip("ABCDE", (18, 10, 22, 12, 100), strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A4"
    wb.active = 0
    for other in wb.worksheets[1:]:
        other.sheet_view.tabSelected = False
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
