"""Check a returns workbook and turn it into a ReturnData, collecting every problem in one pass.

Each check is a small function that adds located Problems to the ValidationResult; a bad cell
never hides the next one. Nothing here touches files or the store.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

from kpiflow.errors import PeriodError
from kpiflow.fmt import NotANumber, clean_text, parse_number
from kpiflow.model import (
    BreakdownRow,
    Catalogue,
    Figures,
    Indicator,
    ReturnData,
    ReturnRow,
    SupportRow,
    default_comparator_year,
)
from kpiflow.periods import Period, parse_period
from kpiflow.problems import ValidationResult
from kpiflow.workbook.layout import (
    ABOUT,
    ABOUT_REQUIRED,
    BREAKDOWN,
    BREAKDOWN_HEADERS,
    COMPARATOR_YEAR,
    COMPARATOR_YEARS_BACK,
    RETURN,
    RETURN_REQUIRED,
    SUPPORT,
    SUPPORT_HEADERS,
)
from kpiflow.workbook.read import ISSUED_SHEET, RawSheet, RawWorkbook, coord, norm_header, read_workbook

SUPPORT_REQUIRED = SUPPORT_HEADERS
BREAKDOWN_REQUIRED = BREAKDOWN_HEADERS
FORMULA_ERRORS = {"#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!", "#SPILL!", "#CALC!",
                  "#GETTING_DATA"}
_REF_ROW = re.compile(r"[A-Z]{1,3}(\d+)")
_PERCENT_TEXT = re.compile(r"^\s*(?P<n>[+-]?(?:\d[\d,]*(?:\.\d+)?|\.\d+))\s*%\s*$")
_DASHED_YEAR = re.compile(r"^(\d{4})-(\d{2})$")


def _show(value: object) -> str:
    from kpiflow.workbook.read import shown_text

    text = " ".join(shown_text(value).split())   # a date as the cell showed it, not as Python prints it
    return text if len(text) <= 40 else text[:37] + "..."


def check_number(result: ValidationResult, value: object, sheet: str, cell: str, iid: str, what: str,
                 percent: bool = False, blank: str = "leave it blank and explain why in Commentary") -> float | None:
    """Parse one figure, adding a located problem when it is not a usable number (text, a formula's error, no
    finite number, a negative one, a percentage over 100). ``blank``: what the message says to do instead."""
    if isinstance(value, str) and value.strip() in FORMULA_ERRORS:
        result.error("formula-error", f'The cell shows the formula error {value.strip()}. Replace it with the {what} itself.',
                     sheet, cell, iid)
        return None
    try:
        num = parse_number(value)
    except NotANumber:
        if isinstance(value, str) and (m := _PERCENT_TEXT.match(value)):
            # typed as text with a % sign (in a cell formatted as text, or pasted): say what to type instead
            n = m["n"].replace(",", "")
            result.error("not-a-number", f'"{_show(value)}" is typed as text, so it cannot be read as a number. Type '
                         f"{n}, without the % sign.", sheet, cell, iid)
            return None
        result.error("not-a-number", f'"{_show(value)}" is not a number. Enter the {what}, or {blank}.', sheet, cell,
                     iid)
        return None
    if num is None:
        return None
    if not math.isfinite(num):
        # "1e400" and "nan" parse as floats but are no figure: stored, a chart would drop them and the trends misread
        result.error("not-a-number", f'"{_show(value)}" is not a figure. Enter the {what} as a number, or {blank}.',
                     sheet, cell, iid)
        return None
    if num < 0:
        result.error("negative-value", f"{_show(value)} is negative. Enter the {what} as 0 or more.", sheet, cell, iid)
        return None
    if percent and num > 100:
        result.error("out-of-range", f"{_show(value)} is not a percentage from 0 to 100. Enter it as e.g. 87.5, not 875 "
                     "or 0.875.", sheet, cell, iid)
        return None
    return num


def _table(sheet: RawSheet, required: list[str], result: ValidationResult) -> tuple[int, dict[str, int]] | None:
    return sheet.find_table(required, result, "Copy the headings back from the workbook you were issued.")


def _get(row: list[object], cols: dict[str, int], header: str) -> object:
    c = cols[norm_header(header)]
    return row[c - 1] if c <= len(row) else None


def _about(sheet: RawSheet, result: ValidationResult, catalogue: Catalogue, data: ReturnData,
           expected_quarter: Period | None, expected_service: str | None) -> None:
    found: dict[str, tuple[int, object]] = {}
    for r, row in enumerate(sheet.rows, start=1):
        if row and row[0] is not None and norm_header(row[0]) not in found:
            found[norm_header(row[0])] = (r, row[1] if len(row) > 1 else None)

    def value(label: str) -> tuple[str, object]:
        r, v = found.get(norm_header(label), (0, None))
        return (coord(r, 2) if r else ""), v

    for label in ABOUT_REQUIRED:
        if norm_header(label) not in found:
            result.error("missing-label", f'The About sheet has no "{label}" row. Use the workbook you were issued.',
                         sheet="About")
    cell, v = value("Service")
    if cell:
        name = catalogue.service_name(str(v or ""))
        if not str(v or "").strip():
            result.error("missing-value", "The service is blank. Use the workbook issued to your service.", "About", cell)
        elif name is None:
            result.error("unknown-service", f'"{_show(v)}" is not a service in the catalogue. Use the workbook issued to '
                         "your service.", "About", cell)
        elif expected_service and name.casefold() != expected_service.casefold():
            result.error("wrong-service", f'This return is for "{name}", not "{expected_service}".', "About", cell)
        else:
            data.service = name
    cell, v = value("Quarter")
    if cell:
        try:
            q = parse_period(v)
            if q.kind != "quarter":
                raise PeriodError(f'"{_show(v)}" is a {q.kind}, not a quarter')
        except PeriodError as exc:
            result.error("unknown-quarter", f"{exc}. Use the workbook issued for this quarter.", "About", cell)
        else:
            if expected_quarter and q != expected_quarter:
                result.error("wrong-quarter", f"This return is for {q.short}, but {expected_quarter.short} was asked "
                             "for. Send the return for the right quarter.", "About", cell)
            else:
                data.quarter = q
    cell, v = value("Completed by")
    data.completed_by = clean_text(v)
    if cell and not data.completed_by:
        result.warning("missing-value", "Enter your name, so the performance team knows who to ask about this return.",
                       "About", cell)
    data.email = clean_text(value("Email")[1])
    _, dc = value("Date completed")
    if isinstance(dc, dt.datetime | dt.date):
        data.date_completed = dc.strftime("%Y-%m-%d")
    else:
        data.date_completed = clean_text(dc)
    data.signed_off_by = clean_text(value("Signed off by")[1])
    _, ds = value("Date signed off")
    data.date_signed_off = ds.strftime("%Y-%m-%d") if isinstance(ds, dt.datetime | dt.date) else clean_text(ds)
    cell, v = value("Email")
    if data.email and not _valid_email(data.email):
        result.warning("bad-address", f'"{_show(v)}" is not an email address, so kpiflow will not write to it. Enter '
                       "your work email address, e.g. name@council.gov.uk.", "About", cell)


def _valid_email(text: str) -> bool:
    from kpiflow.addresses import valid_address

    return valid_address(text)


def _return_sheet(sheet: RawSheet, result: ValidationResult, catalogue: Catalogue, data: ReturnData) -> None:
    table = _table(sheet, RETURN_REQUIRED, result)
    if table is None:
        return
    hr, cols = table
    seen: dict[str, str] = {}
    name = sheet.name
    history_cols = _history_columns(sheet.rows[hr - 1])
    for r, row in sheet.data_rows(hr):
        raw_id = _get(row, cols, "Indicator ID")
        id_cell = coord(r, cols["indicatorid"])
        iid = clean_text(raw_id)
        if not iid:
            continue  # a note typed below the table is not an indicator row
        ind = catalogue.get(iid)
        if ind is None:
            result.error("unknown-indicator", f'"{_show(iid)}" is not an indicator in the catalogue. Do not add rows or '
                         "change indicator IDs.", name, id_cell, iid)
            continue
        iid = ind.id     # as the catalogue spells it: IDs are matched ignoring case
        if iid in seen:
            result.error("duplicate-indicator", f"{iid} appears twice (first at {seen[iid]}). Keep one row per indicator.",
                         name, id_cell, iid)
            continue
        seen[iid] = id_cell
        if data.service and ind.service != data.service:
            result.error("wrong-service", f"{iid} belongs to {ind.service}, not {data.service}. Remove the row.",
                         name, id_cell, iid)
            continue
        errors_before = len(result.errors)
        figs = _figures(row, r, cols, result, sheet, iid, ind)
        comparator_year = _comparator_year(row, r, cols, result, name, iid, figs, data.quarter)
        commentary = clean_text(_get(row, cols, "Commentary"))
        response = clean_text(_get(row, cols, "Service response"))
        primary = figs.rate if ind.primary == "rate" else figs.number
        if primary is None and len(result.errors) == errors_before and not commentary:
            what = "Rate" if ind.primary == "rate" else "Number"
            result.error("missing-value", f"No figure was given for this quarter. Enter it in {what}, or leave it blank "
                         "and explain why in Commentary.", name, coord(r, cols[norm_header(what)]), iid)
        data.rows.append(ReturnRow(iid, r, figs, commentary, response,
                                   {h: coord(r, cols[norm_header(h)]) for h in ("Number", "Rate", "Commentary",
                                                                               "Service response",
                                                                               "Statistical neighbours", "England")},
                                   comparator_year))
        for period, c in history_cols:
            back = _issued_figures(row[c - 1] if c <= len(row) else None, ind)
            if back is not None:
                data.issued_history.append(SupportRow(iid, r, period, back))
    if data.service:
        for ind in catalogue.for_service(data.service):
            if ind.id not in seen:
                result.error("missing-indicator", f"{ind.id} ({ind.name}) is missing from the Return sheet. Use the "
                             "workbook you were issued, which lists every indicator.", name, indicator_id=ind.id)


def _comparator_year(row: list[object], r: int, cols: dict[str, int], result: ValidationResult, sheet: str,
                     iid: str, figs: Figures, quarter: Period | None) -> Period | None:
    """The year the row's comparators were published for: its Comparator year cell, or (blank, or a
    workbook without the column) the year the sheet asks for by default. Only read where the row
    gives a comparator: with none, nothing is filed against it."""
    if figs.statneigh is None and figs.england is None:
        return None
    c = cols.get(norm_header(COMPARATOR_YEAR))
    value = row[c - 1] if c is not None and c <= len(row) else None
    if value is None or str(value).strip() == "":
        return default_comparator_year(quarter) if quarter else None
    assert c is not None
    cell = coord(r, c)
    example = (default_comparator_year(quarter) if quarter else None)
    like = f"like {example.label}" if example else "like 2024/25"
    text = str(value).strip()
    if (m := _DASHED_YEAR.match(text)) and int(m[2]) == (int(m[1]) + 1) % 100:
        text = f"{m[1]}/{m[2]}"     # 2024-25, as the Targets sheet takes it (2024-12 stays a month)
    try:
        p = parse_period(value if not isinstance(value, str) else text)
    except PeriodError:
        p = None
    if p is None or p.kind != "year":
        result.error("bad-comparator-year", f'"{_show(value)}" is not a financial year. Enter the year the Statistical '
                     f"neighbours and England figures were published for, {like}.", sheet, cell, iid)
        return None
    if quarter is not None and p.fy > quarter.fy:
        result.error("bad-comparator-year", f"{p.label} is after this return's year ({quarter.year.label}): comparator "
                     f"figures are published after the year they are for. Enter the year they are for, {like}.",
                     sheet, cell, iid)
        return None
    if quarter is not None and p.fy < quarter.fy - COMPARATOR_YEARS_BACK:
        result.error("bad-comparator-year", f"{p.label} is more than {COMPARATOR_YEARS_BACK} years before this return's "
                     f"year ({quarter.year.label}). Enter the year the figures are for, {like}; add older comparator "
                     "figures in Supporting data, one row per year.", sheet, cell, iid)
        return None
    return p


def _history_columns(header: list[object]) -> list[tuple[Period, int]]:
    """The read-only history columns of an issued Return sheet: headed by a year or a quarter."""
    out = []
    for c, v in enumerate(header, start=1):
        if not isinstance(v, str):
            continue
        try:
            p = parse_period(v)
        except PeriodError:
            continue
        if p.kind in ("year", "quarter"):
            out.append((p, c))
    return out


_ISSUED_CELL = re.compile(r"^\s*(?P<a>\d[\d,]*(?:\.\d+)?)\s*%?\s*(?:\(\s*(?P<b>\d[\d,]*(?:\.\d+)?)\s*\))?\s*$")


def _issued_figures(value: object, ind: Indicator) -> Figures | None:
    """A history cell as kpiflow printed it when issuing ("469 (162.8)", "3,139", "45.5%")."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    m = _ISSUED_CELL.match(value) if isinstance(value, str) else None
    if m is None:
        return None
    a = float(m["a"].replace(",", ""))
    b = float(m["b"].replace(",", "")) if m["b"] else None
    if ind.unit == "Number and rate":
        return Figures(a, b) if b is not None else None
    if ind.unit == "Rate":
        return Figures(None, a)
    return Figures(a)


def _figures(row: list[object], r: int, cols: dict[str, int], result: ValidationResult, sheet: RawSheet, iid: str,
             ind: Indicator) -> Figures:
    def num(header: str, what: str, percent: bool = False) -> float | None:
        c = cols[norm_header(header)]
        if (r, c) in sheet.formulas_without_value:
            result.error("formula-no-value", f"This cell holds a formula but no saved result, so the {what} cannot be "
                         "read. Open the workbook in Excel or LibreOffice Calc, save it and send it again, or type "
                         "the figure in.", sheet.name, coord(r, c), iid)
            return None
        return check_number(result, _get(row, cols, header), sheet.name, coord(r, c), iid, what, percent)

    noun = f'figure for "{ind.name}"'
    return Figures(
        number=num("Number", noun, ind.unit == "Percentage"),
        rate=num("Rate", "rate"),
        statneigh=num("Statistical neighbours", "statistical neighbours' figure", ind.unit == "Percentage"),
        england=num("England", "England figure", ind.unit == "Percentage"),
    )


def _period(result: ValidationResult, value: object, sheet: str, cell: str, iid: str,
            quarter: Period | None) -> Period | None:
    try:
        p = parse_period(value)
    except PeriodError as exc:
        result.error("bad-period", f"{exc}.", sheet, cell, iid)
        return None
    if quarter is not None and p.end_date > quarter.end_date:
        result.error("future-period", f"{p.label} is after the quarter of this return ({quarter.short}). Check the period.",
                     sheet, cell, iid)
        return None
    return p


def _support_sheet(sheet: RawSheet, result: ValidationResult, catalogue: Catalogue, data: ReturnData) -> None:
    table = _table(sheet, SUPPORT_REQUIRED, result)
    if table is None:
        return
    hr, cols = table
    for r, row in sheet.data_rows(hr):
        iid = clean_text(_get(row, cols, "Indicator ID"))
        id_cell = coord(r, cols["indicatorid"])
        ind = catalogue.get(iid)
        if ind is None:
            result.error("unknown-indicator", f'"{_show(iid)}" is not an indicator in the catalogue. Pick one from the list.'
                         if iid else "This row has figures but no Indicator ID. Pick the indicator.",
                         sheet.name, id_cell, iid)
            continue
        iid = ind.id
        if data.service and ind.service != data.service:
            result.error("wrong-service", f"{iid} belongs to {ind.service}, not {data.service}.", sheet.name, id_cell, iid)
            continue
        period = _period(result, _get(row, cols, "Period"), sheet.name, coord(r, cols["period"]), iid, data.quarter)
        figs = _figures(row, r, cols, result, sheet, iid, ind)
        if period is not None:
            data.support.append(SupportRow(iid, r, period, figs))


def _breakdown_sheet(sheet: RawSheet, result: ValidationResult, catalogue: Catalogue, data: ReturnData) -> None:
    table = _table(sheet, BREAKDOWN_REQUIRED, result)
    if table is None:
        return
    hr, cols = table
    for r, row in sheet.data_rows(hr):
        iid = clean_text(_get(row, cols, "Indicator ID"))
        number_raw = _get(row, cols, "Number")
        if number_raw is None or str(number_raw).strip() == "":
            continue  # pre-filled categories left blank: nothing to report
        id_cell = coord(r, cols["indicatorid"])
        found = catalogue.get(iid)
        if found is None:
            result.error("unknown-indicator", f'"{_show(iid)}" is not an indicator in the catalogue.' if iid
                         else "This row has a number but no Indicator ID.", sheet.name, id_cell, iid)
            continue
        iid = found.id
        period = _period(result, _get(row, cols, "Period"), sheet.name, coord(r, cols["period"]), iid, data.quarter)
        category = clean_text(_get(row, cols, "Category"))
        if not category:
            result.error("missing-value", "The category is blank. Say what this number counts, e.g. Under 1.",
                         sheet.name, coord(r, cols["category"]), iid)
        number = check_number(result, number_raw, sheet.name, coord(r, cols["number"]), iid, "number")
        if period is not None and category and number is not None:
            data.breakdown.append(BreakdownRow(iid, r, period, category, number))


def _same(a: object, b: object) -> bool:
    if (a is None or str(a).strip() == "") and (b is None or str(b).strip() == ""):
        return True
    try:
        return float(str(a)) == float(str(b))
    except ValueError:
        return " ".join(str(a).split()) == " ".join(str(b).split())


def _locked_cells(raw: RawWorkbook, result: ValidationResult) -> None:
    """Pre-filled cells must still hold what they were issued with."""
    record = raw.sheets.get(ISSUED_SHEET)
    if record is None:
        return
    reported = {(p.sheet, p.cell) for p in result.problems}   # a more specific problem says it better
    changed: dict[tuple[str, int], list[tuple[str, str, object, object]]] = {}
    first_ref: dict[tuple[str, int], str] = {}
    recorded: dict[tuple[str, int], int] = {}
    id_refs: set[str] = set()
    for row in record.rows[1:]:
        sheet, ref, iid, issued = (list(row) + [None] * 4)[:4]
        target = raw.sheets.get(str(sheet))
        m = _REF_ROW.fullmatch(str(ref or ""))
        if target is None or m is None:
            continue
        key = (str(sheet), int(m[1]))
        first_ref.setdefault(key, str(ref))
        recorded[key] = recorded.get(key, 0) + 1
        if iid and issued == iid:
            id_refs.add(f"{sheet}!{ref}")
        if (str(sheet), str(ref)) in reported:
            continue
        now = target.at(str(ref))
        if not _same(now, issued):
            changed.setdefault(key, []).append((str(ref), str(iid or ""), issued, now))
    for (sheet, r), cells in changed.items():
        id_changed = any(f"{sheet}!{c[0]}" in id_refs for c in cells)
        if len(cells) > 1 and (id_changed or 2 * len(cells) > recorded[(sheet, r)]):
            # an inserted, deleted or moved row shifts every cell of the rows below it: one problem per row
            iid = next((c[1] for c in cells if c[1]), "")
            result.error("row-moved", f"Row {r} no longer holds the row issued for {iid or 'this sheet'}: "
                         f"{len(cells)} cells filled in for you have changed, as when a row is inserted, deleted or "
                         "moved. Put the rows back as they were, or start again from the workbook you were issued.",
                         sheet, first_ref[(sheet, r)], iid)
            continue
        for ref, iid, issued, now in cells:
            was = f'"{_show(issued)}"' if issued not in (None, "") else "blank"
            result.error("locked-cell-changed", f"This cell is filled in for you and must not be changed (it was "
                         f'{was}, now "{_show(now)}"). Put it back, or start again from the workbook you were issued.',
                         sheet, ref, iid)


def _months_agree(data: ReturnData, catalogue: Catalogue, result: ValidationResult) -> None:
    """Monthly figures in Supporting data must agree with the quarter's: its last month for a
    Snapshot or a year to date, the sum of its months for a Count."""
    quarter = data.quarter
    if quarter is None:
        return
    months = quarter.months()
    for row in data.rows:
        ind = catalogue.get(row.indicator_id)
        if ind is None:
            continue
        given = {s.period: s for s in data.support if s.indicator_id == ind.id and s.period in months}
        for figure, header in (("number", "Number"), ("rate", "Rate")):
            ours = getattr(row.figures, figure)
            if ours is None:
                continue
            p = _typed
            if ind.measure.months_add_up:
                values = [getattr(given[m].figures, figure) if m in given else None for m in months]
                if any(v is None for v in values):
                    continue
                total = sum(v for v in values if v is not None)
                if abs(total - ours) <= _slack(values, ours):
                    continue
                rows = ", ".join(str(given[m].row) for m in months)
                result.error("months-disagree", f"The months in Supporting data do not agree with this figure: {p(ours)} "
                             f"here, but the months add up to {p(total)} (Supporting data rows {rows}), and this is "
                             "the quarter's total. Correct whichever is wrong.", "Return", row.cells.get(header, ""),
                             ind.id)
                continue
            last = given.get(months[-1])
            v = getattr(last.figures, figure) if last is not None else None
            if last is None or v is None or abs(v - ours) <= _slack([v], ours):
                continue
            what = ind.measure.month_rule_words
            result.error("months-disagree", f"The months in Supporting data do not agree with this figure: {p(ours)} "
                         f"here, but {p(v)} for {months[-1].short} (Supporting data row {last.row}), and this is "
                         f"{what} the end of the quarter. Correct whichever is wrong.", "Return",
                         row.cells.get(header, ""), ind.id)


def _typed(v: float) -> str:
    """A figure as the person typed it: every decimal place they gave, thousands separated."""
    return f"{v:,.6f}".rstrip("0").rstrip(".")


def _slack(parts: list[float | None], whole: float) -> float:
    """Rounding a figure to one decimal place may leave parts and whole apart by up to 0.05 each."""
    decimals = any(v is not None and not float(v).is_integer() for v in [*parts, whole])
    return (0.05 * len(parts) if decimals else 0.0) + 1e-9


def _fractions(data: ReturnData, catalogue: Catalogue, result: ValidationResult) -> None:
    """A percentage typed as a fraction (0.85 for 85%). Where the return's own history (the figures
    it was issued with, its Supporting data) shows the figure is normally near 100 times as much, it
    is an error: a figure a hundred times too small would otherwise go to Cabinet as a collapse.
    With no earlier figure to tell, a percentage below 1 may be real (0.4% of pupils excluded), so
    it is a warning the service can let stand."""
    quarter = data.quarter
    if quarter is None:
        return
    for row in data.rows:
        ind = catalogue.get(row.indicator_id)
        if ind is None or ind.unit != "Percentage":
            continue
        back = {s.period: s.figures for s in [*data.issued_history, *data.support]
                if s.indicator_id == ind.id and s.period < quarter}
        for figure, header in (("number", "Number"), ("statneigh", "Statistical neighbours"), ("england", "England")):
            v = getattr(row.figures, figure)
            if v is None or not 0 < v < 1:
                continue
            earlier = sorted((p for p, f in back.items() if getattr(f, figure)), reverse=True)
            ref_period = earlier[0] if earlier else None
            ref = getattr(back[ref_period], figure) if ref_period else None
            if ref is None and figure != "number" and row.figures.number and row.figures.number >= 1:
                ref = row.figures.number        # a comparator far below the council's own figure
            cell = row.cells.get(header, "")
            as_percent = _typed(round(v * 100, 6))
            if ref is None:
                result.warning("percentage-as-fraction", f"{_typed(v)} is less than 1%. Did you mean {as_percent}? "
                               f"Enter a percentage from 0 to 100 ({as_percent}, not {_typed(v)}); if the figure "
                               f"really is {_typed(v)}%, leave it.", "Return", cell, ind.id)
            elif abs(math.log(v * 100 / ref)) < abs(math.log(v / ref)):
                when = f" at {ref_period.short}" if ref_period else " given for the council"
                result.error("percentage-as-fraction", f"{_typed(v)} looks like a fraction, not a percentage: the "
                             f"figure{when} was {_typed(ref)}%. Did you mean {as_percent}? Enter the percentage from "
                             f"0 to 100.", "Return", cell, ind.id)


LONG_TEXT = 3000          # characters: more than this prints as a wall of text in Cabinet papers


def _long_texts(data: ReturnData, result: ValidationResult) -> None:
    for row in data.rows:
        for header, text in (("Commentary", row.commentary), ("Service response", row.response)):
            if len(text) > LONG_TEXT:
                result.warning("long-text", f"{header} is {len(text):,} characters long. It will be printed in full, "
                               f"but more than {LONG_TEXT:,} characters is hard to read in Cabinet papers: consider "
                               "shortening it.", "Return", row.cells.get(header, ""), row.indicator_id)


def validate_workbook(raw: RawWorkbook, catalogue: Catalogue, result: ValidationResult,
                      expected_quarter: Period | None = None, expected_service: str | None = None) -> ReturnData:
    data = ReturnData()
    for name in (ABOUT, RETURN):
        if name not in raw.sheets:
            result.error("missing-sheet", f'The workbook has no sheet called "{name}". Use the returns workbook you were '
                         "issued and do not rename its sheets.", sheet=name)
    if ABOUT in raw.sheets:
        _about(raw.sheets[ABOUT], result, catalogue, data, expected_quarter, expected_service)
    if RETURN in raw.sheets:
        _return_sheet(raw.sheets[RETURN], result, catalogue, data)
    if SUPPORT in raw.sheets:
        _support_sheet(raw.sheets[SUPPORT], result, catalogue, data)
    if BREAKDOWN in raw.sheets:
        _breakdown_sheet(raw.sheets[BREAKDOWN], result, catalogue, data)
    _months_agree(data, catalogue, result)
    _fractions(data, catalogue, result)
    _long_texts(data, result)
    _locked_cells(raw, result)
    return data


def validate_file(path: Path, catalogue: Catalogue, expected_quarter: Period | None = None,
                  expected_service: str | None = None) -> tuple[ReturnData | None, ValidationResult]:
    """Read and check one returns workbook. The ReturnData is None when the file could not be read."""
    result = ValidationResult(path.name)
    raw = read_workbook(path, result)
    if raw is None:
        return None, result
    return validate_workbook(raw, catalogue, result, expected_quarter, expected_service), result
