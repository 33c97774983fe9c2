"""Write workbooks: the returns workbook a service fills in, and the catalogue.

The Return sheet is protected: only input cells (figures, comparators, commentary, service
response) are unlocked, each with data validation and an input message. Text that starts with
``=``, ``+``, ``-`` or ``@`` is always written as text, never as a formula.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kpiflow.catalogue import (
    ACCUMULATES_HEADER,
    INDICATOR_HEADERS,
    PRIORITY_HEADER,
    QUARTER_HEADERS,
    SERVICE_HEADERS,
    TARGET_HEADERS,
)
from kpiflow.fmt import fmt, long_date
from kpiflow.measures import months_words
from kpiflow.model import Catalogue, Indicator, default_comparator_year
from kpiflow.periods import Period
from kpiflow.workbook import layout
from kpiflow.workbook.layout import (
    ABOUT,
    ABOUT_LABELS,
    BREAKDOWN,
    BREAKDOWN_HEADERS,
    COMPARATOR_YEAR,
    COMPARATOR_YEARS_BACK,
    GUIDANCE,
    ISSUED_SHEET,
    RETURN,
    RETURN_HEADER_ROW,
    RETURN_HEADERS,
    SUPPORT,
    SUPPORT_HEADER_ROW,
    SUPPORT_HEADERS,
)

TEMPLATE_VERSION = "1"
INPUT_ROWS = 200   # blank input rows on the Supporting data and Breakdown sheets

INPUT_FILL = "FFF2CC"     # pale yellow: type here
LOCKED_FILL = "EDEDED"    # grey: filled in for you
HEADER_FILL = layout.HEADER_FILL


@dataclass(frozen=True)
class ReturnContext:
    """What the issued workbook is pre-filled with, for one indicator."""

    indicator: Indicator
    target: float | None
    history: dict[str, str] = field(default_factory=dict)   # column header -> printed value
    last_response: str = ""
    target_in_force: float | None = None      # at the quarter, where it differs from the year's target


def what_to_enter(ind: Indicator, quarter: Period) -> str:
    """In words, what the figure for this quarter is, and for a monthly indicator which months to
    add in Supporting data."""
    months = quarter.months()
    what = {"Number": "Number", "Percentage": "Percentage (0 to 100)",
            "Rate": f"Rate per {ind.rate_per or 0:,.0f}",
            "Number and rate": f"Number, and rate per {ind.rate_per or 0:,.0f},"}[ind.unit]
    text, each = ind.measure.what_to_enter(what, quarter, long_date(quarter.end_date))
    if ind.frequency == "Monthly":
        labels = ", ".join(m.label for m in months[:-1]) + f" and {months[-1].label}"
        text += f". Also add each month in Supporting data (Period {labels}): {each}"
    return text + "."


@dataclass(frozen=True)
class BreakdownSeed:
    indicator_id: str
    category: str


def _styles() -> dict[str, Any]:
    from openpyxl.styles import Alignment, Font, PatternFill, Protection

    return {
        "input": PatternFill("solid", fgColor=INPUT_FILL),
        "locked": PatternFill("solid", fgColor=LOCKED_FILL),
        "header": PatternFill("solid", fgColor=HEADER_FILL),
        "header_font": Font(bold=True, color="FFFFFF"),
        "title_font": Font(bold=True, size=14),
        "bold": Font(bold=True),
        "wrap": Alignment(wrap_text=True, vertical="top"),
        "unlocked": Protection(locked=False),
        "locked_p": Protection(locked=True),
    }


def set_text(cell: Any, value: object) -> None:
    """Write a value; strings are always text, never formulas, and lose characters a workbook
    cannot hold."""
    if isinstance(value, str):
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell.value = value
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        cell.data_type = "s"


def text_cell(ws: Any, row: int, column: int, value: object) -> Any:
    """``ws.cell(row, column)`` holding ``value`` as :func:`set_text` writes it: every cell kpiflow
    fills with words goes through here, so no text can become a formula."""
    c = ws.cell(row=row, column=column)
    set_text(c, value)
    return c


def _header(ws: Any, row: int, headers: Sequence[str], st: dict[str, Any]) -> None:
    for col, h in enumerate(headers, start=1):
        c = text_cell(ws, row, col, h)
        c.fill, c.font, c.alignment = st["header"], st["header_font"], st["wrap"]


def _protect(ws: Any) -> None:
    ws.protection.sheet = True
    ws.protection.formatCells = False     # let people widen columns and wrap text
    ws.protection.formatColumns = False
    ws.protection.formatRows = False
    ws.protection.autoFilter = False
    # rows and columns cannot be inserted or deleted: every pre-filled cell stays where it was issued
    ws.protection.insertRows = True
    ws.protection.deleteRows = True
    ws.protection.insertColumns = True
    ws.protection.deleteColumns = True
    ws.protection.sort = True


def _fit_rows(ws: Any, first: int, last: int, widths: Mapping[str, float], headers: Sequence[str]) -> None:
    """Row heights for wrapped text: Excel and LibreOffice do not size rows written without one, so
    a description would run into the row below it on screen and on paper. Rows can still be resized."""
    import math

    for r in range(first, last + 1):
        lines = 1
        for c, h in enumerate(headers, start=1):
            value = ws.cell(row=r, column=c).value
            if not isinstance(value, str) or not value:
                continue
            per_line = max(1.0, widths.get(h, 11) * 1.15 - 1)
            lines = max(lines, sum(max(1, math.ceil(len(part) / per_line)) for part in value.split("\n")))
        ws.row_dimensions[r].height = 15 * lines + 3


def _printable(ws: Any, title_rows: str | None = None, landscape: bool = True) -> None:
    """A4, one page wide, headings repeated on every page."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0        # as many pages down as it takes
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.5
    if title_rows:
        ws.print_title_rows = title_rows


def _dv(kind: str, title: str, prompt: str, **kw: Any) -> Any:
    from openpyxl.worksheet.datavalidation import DataValidation

    dv = DataValidation(type=kind, allow_blank=True, showInputMessage=True, showErrorMessage=True,
                        promptTitle=title[:32], prompt=prompt[:255], errorTitle="Check this value"[:32],
                        error=prompt[:255], **kw)
    return dv


def example_date(quarter: Period) -> dt.date:
    """A plausible completion date for examples: two weeks after the quarter ends."""
    return quarter.end_date + dt.timedelta(days=14)


def guidance_lines(service: str, quarter: Period, due: dt.date | None = None) -> list[str]:
    months = quarter.months()
    year_start = quarter.year.months()[0]
    return [
        f"Quarterly performance return: {service}, {quarter.short}",
        *([f"Due by {due:%A} {long_date(due)}: put the completed workbook in the shared inbox folder by then.",
           "If sign-off is needed, your approver fills in Signed off by and Date signed off on the About sheet."]
          if due else []),
        "",
        "What to do",
        "1. Fill in the About sheet: your name, email address and the date you completed the return (e.g. "
        f"{example_date(quarter).strftime('%d/%m/%Y')}).",
        "2. On the Return sheet, enter this quarter's figure for each indicator in the yellow cells.",
        "   The What to enter column says what each figure is:",
        f"   - at the end of the quarter, e.g. \"Number at {long_date(quarter.end_date)}\";",
        f"   - the year to date, e.g. \"Year to date: {months_words(year_start, months[-1])}\";",
        f"   - or the quarter's own amount, e.g. \"In the quarter: {months_words(months[0], months[-1])}\".",
        "   - Number and Percentage indicators: put the figure in Number (a percentage as 0 to 100, e.g. 87.5).",
        "   - Rate indicators: put the rate in Rate. Number and rate indicators: fill in both.",
        "   - Statistical neighbours and England: comparator figures, if you have them, for the year in Comparator "
        f"year ({default_comparator_year(quarter).label}, the latest published, unless you change it to the year "
        "your figures are for).",
        "   - If you cannot give a figure, leave it blank and say why in Commentary.",
        "3. Commentary: what the figures show. If you leave it blank, the performance team drafts it for you.",
        "4. Service response: what the service is doing about performance. An indicator that is reported as an",
        "   exception must have a service response.",
        "5. Supporting data: for a monthly indicator, one row for each month of the quarter (What to enter lists them);",
        "   also (optional) corrected figures for earlier periods and comparator figures, one row each.",
        f"   A Period is a month like {months[-1].label}, a quarter like {quarter.label} or a year like "
        f"{quarter.year.step(-1).label}.",
        "   Monthly figures must agree with the quarter: its last month (the sum of its months for an amount in the "
        "quarter).",
        "6. Breakdown (optional): e.g. children looked after by age band, one row per category.",
        "7. Save the workbook as an Excel Workbook (.xlsx) and put it in the shared inbox folder.",
        "",
        "Grey cells are filled in for you and cannot be changed. Yellow cells are for you to fill in.",
        "Rows cannot be inserted or deleted: every indicator keeps the row it was issued in.",
        "Do not rename the sheets or the column headings, and do not add macros.",
        "You will get feedback in the outbox/feedback folder: a copy of your workbook with any problem cells",
        "marked red, and a list of the problems with what to do about each.",
    ]


def write_return(path: Path, service: str, quarter: Period, rows: Sequence[ReturnContext],
                 history_headers: Sequence[str], breakdown: Sequence[BreakdownSeed] = (),
                 due: dt.date | None = None) -> Path:
    """Write an issued returns workbook for one service and quarter."""
    from openpyxl import Workbook

    st = _styles()
    wb = Workbook()
    g = wb.active
    g.title = GUIDANCE
    for i, line in enumerate(guidance_lines(service, quarter, due), start=1):
        c = text_cell(g, i, 1, line)
        if i == 1:
            c.font = st["title_font"]
        elif line == "What to do":
            c.font = st["bold"]
    g.column_dimensions["A"].width = 110
    for row in g.iter_rows(min_row=1, max_row=g.max_row, max_col=1):
        row[0].alignment = st["wrap"]
    _printable(g, landscape=True)
    _protect(g)

    about = wb.create_sheet(ABOUT)
    due_by = f"{due:%A} {long_date(due)}" if due else ""
    values: list[object] = [service, quarter.label, TEMPLATE_VERSION, None, None, None, due_by, None, None]
    for i, (label, value) in enumerate(zip(ABOUT_LABELS, values, strict=True), start=1):
        text_cell(about, i, 1, label).font = st["bold"]
        c = about.cell(row=i, column=2)
        set_text(c, value)
        if i <= 3 or label == "Due by":
            c.fill, c.protection = st["locked"], st["locked_p"]
        else:
            c.fill, c.protection = st["input"], st["unlocked"]
    about.column_dimensions["A"].width = 20
    about.column_dimensions["B"].width = 45
    dv_name = _dv("textLength", "Completed by", "Your name, so the performance team can contact you.",
                  operator="between", formula1="1", formula2="200")
    dv_email = _dv("textLength", "Email", "Your work email address.", operator="between", formula1="3", formula2="254")
    dv_date = _dv("date", "Date completed", "The date you completed this return, e.g. "
                  f"{example_date(quarter).strftime('%d/%m/%Y')}.", operator="greaterThan", formula1="36526")
    dv_signer = _dv("textLength", "Signed off by", "Where sign-off is needed: the approver's name, as the "
                    "performance team knows them.", operator="between", formula1="1", formula2="200")
    dv_signed = _dv("date", "Date signed off", "The date the approver signed the return off, on or after the date "
                    "completed.", operator="greaterThan", formula1="36526")
    for dv, ref in ((dv_name, "B4"), (dv_email, "B5"), (dv_date, "B6"), (dv_signer, "B8"), (dv_signed, "B9")):
        about.add_data_validation(dv)
        dv.add(ref)
    about["B6"].number_format = "DD/MM/YYYY"
    about["B9"].number_format = "DD/MM/YYYY"
    _printable(about, landscape=False)
    _protect(about)

    ws = wb.create_sheet(RETURN)
    text_cell(ws, 1, 1, f"{service}: performance return for {quarter.short}").font = st["title_font"]
    text_cell(ws, 2, 1, "Fill in the yellow cells. Grey cells are filled in for you. See the Guidance sheet.")
    headers = [*RETURN_HEADERS, *history_headers, "Last service response"]
    _header(ws, RETURN_HEADER_ROW, headers, st)
    col = {h: i for i, h in enumerate(headers, start=1)}
    cmp_year = default_comparator_year(quarter)
    dv_cmp = _dv("decimal", "Comparator", "The comparator figure published for the year in Comparator year (the "
                 "same measure as this indicator), 0 or more.", operator="greaterThanOrEqual", formula1="0")
    years = [quarter.year.step(-k).label for k in range(COMPARATOR_YEARS_BACK + 1)]
    dv_year = _dv("list", "Comparator year", f"The year the Statistical neighbours and England figures were "
                  f"published for: {cmp_year.label} unless yours are for another year (not after "
                  f"{quarter.year.label}).", formula1='"' + ",".join(years) + '"')
    dv_text = _dv("textLength", "Text", "Plain text. Keep it to a few short paragraphs.", operator="lessThanOrEqual",
                  formula1="10000")
    for dv in (dv_cmp, dv_text, dv_year):
        ws.add_data_validation(dv)
    locked_cells: list[tuple[str, str, str]] = []
    for r, ctx in enumerate(rows, start=RETURN_HEADER_ROW + 1):
        ind = ctx.indicator
        target: object = "No Target Set" if ctx.target is None else ctx.target
        if ctx.target_in_force is not None and ctx.target_in_force != ctx.target:
            in_force = f"Q{quarter.n}: {fmt(ctx.target_in_force, ind.unit)}"
            target = in_force if ctx.target is None else f"{fmt(ctx.target, ind.unit)} ({in_force})"
        enter = what_to_enter(ind, quarter)
        locked = {"Indicator ID": ind.id, "Indicator": ind.name, "Better to be": ind.better,
                  "Unit": ind.unit + (f" per {ind.rate_per:,.0f}" if ind.has_rate and ind.rate_per else ""),
                  "Target": target, "What to enter": enter,
                  "Last service response": ctx.last_response or None}
        for h in history_headers:
            locked[h] = ctx.history.get(h) or None
        for h, v in locked.items():
            c = ws.cell(row=r, column=col[h])
            set_text(c, v)
            c.fill, c.protection, c.alignment = st["locked"], st["locked_p"], st["wrap"]
            locked_cells.append(("Return", c.coordinate, ind.id))
        inputs = ["Statistical neighbours", "England", "Comparator year", "Commentary", "Service response"]
        inputs += ["Number"] if ind.has_number else []
        inputs += ["Rate"] if ind.has_rate else []
        for h in ("Number", "Rate"):
            if h not in inputs:
                c = ws.cell(row=r, column=col[h], value=None)
                c.fill, c.protection = st["locked"], st["locked_p"]
        for h in inputs:
            c = ws.cell(row=r, column=col[h])
            c.fill, c.protection, c.alignment = st["input"], st["unlocked"], st["wrap"]
            ref = c.coordinate
            if h in ("Number", "Rate"):
                # each figure's input message says what to enter, where the person is typing
                pct = h == "Number" and ind.unit == "Percentage"
                rule = "A percentage from 0 to 100, e.g. 87.5." if pct else "A whole or decimal number, 0 or more."
                dv = _dv("decimal", f"{ind.id}: {'Percentage' if pct else h}", f"Enter: {enter} {rule} Leave it blank "
                         "and explain in Commentary if you cannot.", operator="between" if pct else "greaterThanOrEqual",
                         formula1="0", **({"formula2": "100"} if pct else {}))
                ws.add_data_validation(dv)
                dv.add(ref)
            elif h in ("Statistical neighbours", "England"):
                dv_cmp.add(ref)
            elif h == "Comparator year":
                set_text(c, cmp_year.label)
                c.number_format = "@"    # text: Excel must not read 2024/25 as a date
                dv_year.add(ref)
            else:
                dv_text.add(ref)
    widths = {"Indicator ID": 10, "Indicator": 32, "Better to be": 8, "Unit": 13, "Target": 13, "Number": 11,
              "Rate": 11, "Statistical neighbours": 13, "England": 10, "Commentary": 32, "Service response": 32,
              "What to enter": 30, "Comparator year": 11, "Last service response": 34}
    from openpyxl.styles import Border, Side
    from openpyxl.utils import get_column_letter

    for h, i in col.items():
        ws.column_dimensions[get_column_letter(i)].width = widths.get(h, 11)
    thin = Side(style="thin", color="A6A6A6")
    for row in ws.iter_rows(min_row=RETURN_HEADER_ROW, max_row=RETURN_HEADER_ROW + len(rows), max_col=len(headers)):
        for c in row:
            c.border = Border(left=thin, right=thin, top=thin, bottom=thin)
    _fit_rows(ws, RETURN_HEADER_ROW, RETURN_HEADER_ROW + len(rows), widths, headers)
    ws.freeze_panes = ws.cell(row=RETURN_HEADER_ROW + 1, column=col["Target"])
    _printable(ws, f"{RETURN_HEADER_ROW}:{RETURN_HEADER_ROW}")
    # the printout is the form itself, legible on A4; the history columns are on screen
    ws.print_area = f"A1:{get_column_letter(col[COMPARATOR_YEAR])}{RETURN_HEADER_ROW + len(rows)}"
    _protect(ws)

    sup = wb.create_sheet(SUPPORT)
    text_cell(sup, 1, 1, "Optional: monthly figures, corrections to earlier periods, comparator history. "
             "One row per indicator and period.").font = st["bold"]
    _header(sup, SUPPORT_HEADER_ROW, SUPPORT_HEADERS, st)
    dv_sup = _dv("decimal", "Figure", "A number, 0 or more.", operator="greaterThanOrEqual", formula1="0")
    dv_period = _dv("textLength", "Period", f"A month like {quarter.months()[-1].label}, a quarter like {quarter.label} "
                    f"or a year like {quarter.year.step(-1).label}.", operator="lessThanOrEqual", formula1="40")
    dv_id = _dv("list", "Indicator ID", "Pick the indicator.", formula1='"' + ",".join(c.indicator.id for c in rows) + '"')
    sup.add_data_validation(dv_sup)
    sup.add_data_validation(dv_period)
    sup.add_data_validation(dv_id)
    first, last = SUPPORT_HEADER_ROW + 1, SUPPORT_HEADER_ROW + INPUT_ROWS
    for c_ in range(1, len(SUPPORT_HEADERS) + 1):
        for r in range(first, last + 1):
            cell = sup.cell(row=r, column=c_)
            cell.fill, cell.protection = st["input"], st["unlocked"]
    dv_id.add(f"A{first}:A{last}")
    dv_period.add(f"B{first}:B{last}")
    dv_sup.add(f"C{first}:F{last}")
    for letter, w in zip("ABCDEF", (12, 14, 12, 12, 14, 12), strict=True):
        sup.column_dimensions[letter].width = w
    _printable(sup, f"{SUPPORT_HEADER_ROW}:{SUPPORT_HEADER_ROW}", landscape=False)
    _protect(sup)

    bd = wb.create_sheet(BREAKDOWN)
    text_cell(bd, 1, 1, "Optional: a breakdown of a figure, e.g. children looked after by age band. "
            "One row per category.").font = st["bold"]
    _header(bd, SUPPORT_HEADER_ROW, BREAKDOWN_HEADERS, st)
    dv_bnum = _dv("whole", "Number", "A whole number, 0 or more.", operator="greaterThanOrEqual", formula1="0")
    dv_bid = _dv("list", "Indicator ID", "Pick the indicator this breakdown is for.", formula1=dv_id.formula1)
    bd.add_data_validation(dv_bnum)
    bd.add_data_validation(dv_bid)
    for r in range(first, last + 1):
        for c_ in range(1, 5):
            cell = bd.cell(row=r, column=c_)
            cell.fill, cell.protection = st["input"], st["unlocked"]
    for i, seed in enumerate(breakdown, start=first):
        set_text(bd.cell(row=i, column=1), seed.indicator_id)
        set_text(bd.cell(row=i, column=2), quarter.label)
        set_text(bd.cell(row=i, column=3), seed.category)
    dv_bid.add(f"A{first}:A{last}")
    dv_bnum.add(f"D{first}:D{last}")
    for letter, w in zip("ABCD", (12, 14, 24, 12), strict=True):
        bd.column_dimensions[letter].width = w
    _printable(bd, f"{SUPPORT_HEADER_ROW}:{SUPPORT_HEADER_ROW}", landscape=False)
    _protect(bd)

    _record_locked(wb, [("About", f"B{i}", "") for i in (1, 2, 3)] + locked_cells)

    wb.active = wb.sheetnames.index(RETURN)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def _record_locked(wb: Any, cells: list[tuple[str, str, str]]) -> None:
    """Keep what each pre-filled cell held when issued, in a sheet Excel users cannot unhide,
    so that validation can tell when one was changed."""
    ws = wb.create_sheet(ISSUED_SHEET)
    for col, h in enumerate(("Sheet", "Cell", "Indicator ID", "Value"), start=1):
        text_cell(ws, 1, col, h)
    for row, (sheet, ref, iid) in enumerate(cells, start=2):
        for col, value in enumerate((sheet, ref, iid, wb[sheet][ref].value), start=1):
            text_cell(ws, row, col, value)
    ws.sheet_state = "veryHidden"
    _protect(ws)


def write_catalogue(path: Path, catalogue: Catalogue) -> Path:
    """Write a catalogue workbook (used to ship the example and by tests)."""
    from openpyxl import Workbook

    st = _styles()
    wb = Workbook()
    ws = wb.active
    ws.title = "Indicators"
    # the optional Accumulates column only where an indicator needs it
    accumulates = any(ind.accumulates for ind in catalogue.indicators)
    priority = any(ind.priority for ind in catalogue.indicators)   # and Priority where one is given
    _header(ws, 1, [*INDICATOR_HEADERS, *([ACCUMULATES_HEADER] if accumulates else []),
                    *([PRIORITY_HEADER] if priority else [])], st)
    for r, ind in enumerate(catalogue.indicators, start=2):
        vals = [ind.id, ind.name, ind.portfolio, ind.service, ind.better, ind.unit, ind.rate_per, ind.frequency,
                ind.measure.name, ind.tolerance, ind.exception]
        if accumulates:
            vals.append("Yes" if ind.accumulates else None)
        if priority:
            vals.append(ind.priority or None)
        for c, v in enumerate(vals, start=1):
            set_text(ws.cell(row=r, column=c), v)
    for letter, w in zip("ABCDEFGHIJK", (12, 60, 45, 22, 12, 16, 10, 12, 12, 12, 10), strict=True):
        ws.column_dimensions[letter].width = w
    t = wb.create_sheet("Targets")
    _header(t, 1, [*TARGET_HEADERS, *QUARTER_HEADERS], st)
    keys = sorted(set(catalogue.targets) | set(catalogue.profiles))
    for r, (iid, y) in enumerate(keys, start=2):
        set_text(t.cell(row=r, column=1), iid)
        set_text(t.cell(row=r, column=2), y)
        t.cell(row=r, column=3, value=catalogue.targets.get((iid, y)))
        for c, v in enumerate(catalogue.profiles.get((iid, y), (None,) * 4), start=4):
            t.cell(row=r, column=c, value=v)
    if catalogue.contacts or catalogue.has_services_sheet:
        sv = wb.create_sheet("Services")
        _header(sv, 1, SERVICE_HEADERS, st)
        for r, who in enumerate(catalogue.contacts.values(), start=2):
            for col, v in enumerate((who.service, who.contact, "; ".join(who.emails), who.approver,
                                     "; ".join(who.approver_emails), who.escalate_to,
                                     "; ".join(who.escalation_emails)), start=1):
                set_text(sv.cell(row=r, column=col), v)
        for letter, w in zip("ABCDEFG", (22, 20, 34, 20, 34, 20, 34), strict=True):
            sv.column_dimensions[letter].width = w
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def write_table(path: Path, sheet: str, headers: Sequence[str], rows: Iterable[Sequence[object]],
                widths: Sequence[int] = ()) -> Path:
    """Write one plain table (bold header row, frozen, with filters): the export for analysts.
    Streams rows (write-only mode), so a long history costs little memory."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    ws.freeze_panes = "A2"
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w
    bold = Font(bold=True)
    head = []
    for h in headers:
        c = WriteOnlyCell(ws)
        set_text(c, h)
        c.font = bold
        head.append(c)
    ws.append(head)
    n = 0
    for row in rows:
        cells = []
        for v in row:
            c = WriteOnlyCell(ws)
            set_text(c, v)
            cells.append(c)
        ws.append(cells)
        n += 1
    ws.auto_filter.ref = f"A1:{get_column_letter(max(len(headers), 1))}{n + 1}"
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def fill_return(path: Path, out: Path, about: dict[str, object], figures: dict[str, dict[str, object]],
                support: Sequence[Sequence[object]] = (), breakdown: Sequence[Sequence[object]] = ()) -> Path:
    """Fill an issued workbook's input cells as a service would, and save it as ``out``.

    ``figures`` maps indicator ID -> {header: value} for Return input columns. Only unlocked cells
    are written: a locked cell raises ValueError, as Excel would refuse the typing.
    """
    from openpyxl import load_workbook

    from kpiflow.workbook.read import norm_header

    wb = load_workbook(path)
    ab = wb["About"]
    for r in range(1, ab.max_row + 1):
        label = ab.cell(row=r, column=1).value
        if label in about:
            _type_into(ab.cell(row=r, column=2), about[str(label)])
    ws = wb["Return"]
    cols = {norm_header(ws.cell(row=RETURN_HEADER_ROW, column=c).value): c for c in range(1, ws.max_column + 1)}
    for r in range(RETURN_HEADER_ROW + 1, ws.max_row + 1):
        iid = ws.cell(row=r, column=cols["indicatorid"]).value
        for h, v in figures.get(str(iid), {}).items():
            _type_into(ws.cell(row=r, column=cols[norm_header(h)]), v)
    sup = wb["Supporting data"]
    for i, row in enumerate(support, start=SUPPORT_HEADER_ROW + 1):
        for c, v in enumerate(row, start=1):
            _type_into(sup.cell(row=i, column=c), v)
    if breakdown:
        bd = wb["Breakdown"]
        rows_at: dict[tuple[str, str], int] = {}
        free: list[int] = []
        for r in range(SUPPORT_HEADER_ROW + 1, SUPPORT_HEADER_ROW + INPUT_ROWS + 1):
            iid = bd.cell(row=r, column=1).value
            if iid is None:
                free.append(r)
            else:
                rows_at[(str(iid), str(bd.cell(row=r, column=3).value))] = r
        for iid, period, category, number in breakdown:
            r = rows_at.get((str(iid), str(category))) or free.pop(0)
            for c, v in enumerate((iid, period, category, number), start=1):
                _type_into(bd.cell(row=r, column=c), v)
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return out


def _type_into(cell: Any, value: object) -> None:
    if cell.protection.locked and cell.parent.protection.sheet:
        raise ValueError(f"{cell.parent.title}!{cell.coordinate} is locked")
    set_text(cell, value)
