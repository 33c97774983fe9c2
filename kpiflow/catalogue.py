"""The indicator catalogue: definitions and targets, read from workbook_templates/catalogue.xlsx."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kpiflow.errors import KpiflowError, PeriodError
from kpiflow.fmt import parse_number
from kpiflow.measures import accumulates_allowed, allowed, kind_for
from kpiflow.model import (
    EXCEPTION_MODES,
    FREQUENCIES,
    MEASURES,
    UNITS,
    Catalogue,
    Contact,
    Indicator,
    Profile,
)
from kpiflow.periods import Period, parse_period
from kpiflow.problems import ValidationResult
from kpiflow.settings import Settings
from kpiflow.workbook.read import RawSheet, coord, norm_header, read_workbook

INDICATOR_HEADERS = ["Indicator ID", "Indicator", "Portfolio", "Service", "Better to be", "Unit", "Rate per",
                     "Frequency", "Measure", "Tolerance %", "Exception"]
TARGET_HEADERS = ["Indicator ID", "Year", "Target"]
QUARTER_HEADERS = ("Q1", "Q2", "Q3", "Q4")     # optional: a profiled target for each quarter
ACCUMULATES_HEADER = "Accumulates"              # optional: Yes for a year-to-date percentage that builds up
SERVICE_HEADERS = ["Service", "Contact", "Email", "Approver", "Approver email", "Escalate to", "Escalation email"]
PRIORITY_HEADER = "Priority"                    # optional: the council-plan priority an indicator serves
PRIORITY_MAX = 120                              # a priority is a heading in the report, not a paragraph


def _text(v: object) -> str:
    return "" if v is None else " ".join(str(v).split())


def _choice(v: object, options: tuple[str, ...]) -> str | None:
    t = _text(v).casefold()
    for o in options:
        if o.casefold() == t:
            return o
    return None


def _number(v: object) -> float | None:
    """A number typed in the catalogue; ValueError for anything else (the caller says where)."""
    return parse_number(v)


def header_key(value: object) -> str:
    """Catalogue headings are matched ignoring case, spacing and a trailing question mark
    ("Better to be?" is "Better to be")."""
    return norm_header(value).rstrip("?")


_DASHED_YEAR = re.compile(r"^\s*(\d{4})\s*-\s*(\d{2})\s*$")


def parse_year(value: object) -> Period:
    """A financial year in the Targets sheet: ``2017/18``, ``2017/2018``, or ``2017-18`` (which in a
    Year column cannot be a month)."""
    m = _DASHED_YEAR.match(str(value)) if isinstance(value, str) else None
    if m and int(m[2]) == (int(m[1]) + 1) % 100:
        return Period("year", int(m[1]))
    y = parse_period(value)
    if y.kind != "year":
        raise PeriodError(f'"{_text(value)}" is not a financial year like 2017/18')
    return y


def _find_table(sheet: RawSheet, headers: list[str], result: ValidationResult) -> tuple[int, dict[str, int]] | None:
    return sheet.find_table(headers, result, "Put the headings back in the first row, as in the shipped catalogue.",
                            key=header_key)


class _Rows:
    """Cell access by heading for one table."""

    def __init__(self, cols: dict[str, int]) -> None:
        self.cols = cols

    def has(self, h: str) -> bool:
        return header_key(h) in self.cols

    def at(self, row: list[object], h: str) -> object:
        c = self.cols[header_key(h)]
        return row[c - 1] if c <= len(row) else None

    def loc(self, r: int, h: str) -> str:
        return coord(r, self.cols[header_key(h)])


def parse_catalogue(sheets: dict[str, RawSheet], result: ValidationResult) -> Catalogue:
    """Interpret the catalogue's sheets; every problem located at its cell."""
    indicators: list[Indicator] = []
    targets: dict[tuple[str, str], float | None] = {}
    profiles: dict[tuple[str, str], Profile] = {}
    if "Indicators" not in sheets:
        result.error("missing-sheet", 'The catalogue has no sheet called "Indicators".', sheet="Indicators")
        return Catalogue(())
    sh = sheets["Indicators"]
    found = _find_table(sh, INDICATOR_HEADERS, result)
    seen: dict[str, tuple[str, str]] = {}     # ID ignoring case -> (the ID as written, its cell)
    priorities: dict[str, str] = {}           # a priority ignoring case -> its first spelling
    if found:
        hr, cols = found
        t = _Rows(cols)
        for r, row in sh.data_rows(hr):
            iid = _text(t.at(row, "Indicator ID"))
            if not iid:
                result.error("missing-value", "This row has no Indicator ID. Give every indicator a unique ID.",
                             sheet=sh.name, cell=t.loc(r, "Indicator ID"))
                continue
            if iid.casefold() in seen:
                first, at_cell = seen[iid.casefold()]
                same = "" if first == iid else f" as {first}"
                result.error("duplicate-indicator", f"{iid} is listed twice (first at {at_cell}{same}; IDs are "
                             "matched ignoring case). Give each indicator one row.",
                             sheet=sh.name, cell=t.loc(r, "Indicator ID"), indicator_id=iid)
                continue
            seen[iid.casefold()] = (iid, t.loc(r, "Indicator ID"))
            ind = _indicator(t, r, row, iid, sh.name, result)
            if ind is not None and ind.priority:
                # one spelling per priority: another case or spacing is the same priority, not a second one
                spelt = priorities.setdefault(ind.priority.casefold(), ind.priority)
                if spelt != ind.priority:
                    result.warning("bad-value", f'Priority "{ind.priority}" is written "{spelt}" in an earlier row. '
                                   "Spell it the same way in every row; kpiflow counts them as one priority.",
                                   sheet=sh.name, cell=t.loc(r, PRIORITY_HEADER), indicator_id=iid)
                    ind = replace(ind, priority=spelt)
            if ind is not None:
                indicators.append(ind)
    if "Targets" not in sheets:
        result.error("missing-sheet", 'The catalogue has no sheet called "Targets". Add it with the columns Indicator '
                     "ID, Year and Target (and Q1 to Q4 for a profiled target); an indicator with no row there has "
                     "No Target Set.", sheet="Targets")
        return Catalogue(tuple(indicators), targets, profiles, *_services(sheets, indicators, result))
    tsh = sheets["Targets"]
    tfound = _find_table(tsh, TARGET_HEADERS, result)
    if tfound:
        hr, cols = tfound
        t = _Rows(cols)
        rows_at: dict[tuple[str, str], str] = {}
        for r, row in tsh.data_rows(hr):
            written = _text(t.at(row, "Indicator ID"))
            cell_id = t.loc(r, "Indicator ID")
            if written.casefold() not in seen:
                result.error("unknown-indicator", f'"{written}" is not an indicator on the Indicators sheet.',
                             sheet=tsh.name, cell=cell_id, indicator_id=written)
                continue
            iid = seen[written.casefold()][0]
            try:
                y = parse_year(t.at(row, "Year"))
            except PeriodError as exc_:
                result.error("bad-period", str(exc_), sheet=tsh.name, cell=t.loc(r, "Year"), indicator_id=iid)
                continue
            if (iid, y.label) in rows_at:
                result.error("duplicate-target", f"{iid} has two rows for {y.label} (the first at "
                             f"{rows_at[(iid, y.label)]}). Keep one row per indicator and year.",
                             sheet=tsh.name, cell=cell_id, indicator_id=iid)
                continue
            rows_at[(iid, y.label)] = cell_id
            values: dict[str, float | None] = {}
            ok = True
            for h in ("Target", *QUARTER_HEADERS):
                if not t.has(h):
                    values[h] = None
                    continue
                try:
                    values[h] = _number(t.at(row, h))
                except ValueError:
                    ok = False
                    blank = " Leave it blank for No Target Set." if h == "Target" else " Leave it blank to use the year's."
                    result.error("not-a-number", f'{h} "{_text(t.at(row, h))}" is not a number.{blank}',
                                 sheet=tsh.name, cell=t.loc(r, h), indicator_id=iid)
                    continue
                v = values[h]
                if v is not None and v < 0:
                    ok = False
                    result.error("negative-value", f"The {'target' if h == 'Target' else h + ' target'} "
                                 f"{_text(t.at(row, h))} is negative. A target is 0 or more: which way is better is "
                                 "set by Better to be.", sheet=tsh.name, cell=t.loc(r, h), indicator_id=iid)
            if not ok:
                continue
            targets[(iid, y.label)] = values["Target"]
            profile = tuple(values[h] for h in QUARTER_HEADERS)
            if any(v is not None for v in profile):
                profiles[(iid, y.label)] = (profile[0], profile[1], profile[2], profile[3])
    return Catalogue(tuple(indicators), targets, profiles, *_services(sheets, indicators, result))


def _services(sheets: dict[str, RawSheet], indicators: list[Indicator],
              result: ValidationResult) -> tuple[dict[str, Contact], bool]:
    """The optional Services sheet (section 18): one row per service, every address checked. Once
    the sheet is there, every service in Indicators needs its row."""
    from kpiflow.addresses import parse_addresses

    sh = sheets.get("Services")
    if sh is None:
        return {}, False
    known = {i.service.casefold(): i.service for i in indicators}
    contacts: dict[str, Contact] = {}
    found = _find_table(sh, SERVICE_HEADERS, result)
    if not found:
        return contacts, True
    hr, cols = found
    t = _Rows(cols)
    rows_at: dict[str, str] = {}
    for r, row in sh.data_rows(hr):
        written = _text(t.at(row, "Service"))
        where = t.loc(r, "Service")
        if written.casefold() not in known:
            result.error("unknown-service", f'"{written}" is not a service on the Indicators sheet. Spell it as the '
                         "Indicators sheet does, or delete the row.", sheet=sh.name, cell=where)
            continue
        name = known[written.casefold()]
        if name in rows_at:
            result.error("duplicate-service", f"{name} has two rows (the first at {rows_at[name]}). Keep one row per "
                         "service.", sheet=sh.name, cell=where)
            continue
        rows_at[name] = where
        lists: dict[str, tuple[str, ...]] = {}
        for h in ("Email", "Approver email", "Escalation email"):
            try:
                lists[h] = parse_addresses(t.at(row, h))
            except ValueError as exc:
                result.error("bad-address", f"{name}: {exc}", sheet=sh.name, cell=t.loc(r, h))
                lists[h] = ()
        if not lists["Email"] and not _text(t.at(row, "Email")):
            result.error("missing-value", f"{name} has no Email: give the address (or addresses, separated by ;) of "
                         "the person who sends the return.", sheet=sh.name, cell=t.loc(r, "Email"))
        contacts[name] = Contact(name, _text(t.at(row, "Contact")), lists["Email"], _text(t.at(row, "Approver")),
                                 lists["Approver email"], _text(t.at(row, "Escalate to")), lists["Escalation email"])
    for svc in known.values():
        if svc not in rows_at:
            result.error("no-service-row", f"{svc} is on the Indicators sheet but has no row here. Add a row with its "
                         "contact, approver and their email addresses.", sheet=sh.name)
    return contacts, True


def _indicator(t: _Rows, r: int, row: list[object], iid: str, sheet: str, result: ValidationResult) -> Indicator | None:
    """One row of the Indicators sheet, or None (with its problems recorded) if it cannot be used."""
    ok = True
    fields: dict[str, str] = {}
    for h, opts in (("Better to be", ("High", "Low")), ("Unit", UNITS), ("Frequency", FREQUENCIES),
                    ("Measure", MEASURES)):
        val = _choice(t.at(row, h), opts)
        if val is None:
            ok = False
            result.error("bad-value", f'"{_text(t.at(row, h))}" is not a valid {h}. Use one of: {", ".join(opts)}.',
                         sheet=sheet, cell=t.loc(r, h), indicator_id=iid)
        else:
            fields[h] = val
    why = allowed(fields["Measure"], fields["Unit"]) if "Measure" in fields and "Unit" in fields else None
    if why:
        ok = False
        result.error("bad-value", why, sheet=sheet, cell=t.loc(r, "Measure"), indicator_id=iid)
    accumulates = False
    if t.has(ACCUMULATES_HEADER) and _text(t.at(row, ACCUMULATES_HEADER)):
        said = _choice(t.at(row, ACCUMULATES_HEADER), ("Yes", "No"))
        if said is None:
            ok = False
            result.error("bad-value", f'"{_text(t.at(row, ACCUMULATES_HEADER))}" is not valid. Use Yes for a '
                         "year-to-date percentage that builds up through the year, or leave it blank.",
                         sheet=sheet, cell=t.loc(r, ACCUMULATES_HEADER), indicator_id=iid)
        elif said == "Yes" and not accumulates_allowed(fields.get("Measure", ""), fields.get("Unit", "")):
            ok = False
            result.error("bad-value", "Accumulates is only for a Cumulative percentage (a year-to-date percentage "
                         "that builds up through the year). Leave it blank for this indicator.",
                         sheet=sheet, cell=t.loc(r, ACCUMULATES_HEADER), indicator_id=iid)
        accumulates = said == "Yes"
    exc = _choice(t.at(row, "Exception"), EXCEPTION_MODES) if _text(t.at(row, "Exception")) else "Auto"
    if exc is None:
        ok = False
        result.error("bad-value", f'"{_text(t.at(row, "Exception"))}" is not valid. Use Auto, Always or Never.',
                     sheet=sheet, cell=t.loc(r, "Exception"), indicator_id=iid)
    priority = _text(t.at(row, PRIORITY_HEADER)) if t.has(PRIORITY_HEADER) else ""
    if len(priority) > PRIORITY_MAX:
        ok = False
        result.error("bad-value", f"Priority is {len(priority)} characters long. Give the priority's short name "
                     f"(at most {PRIORITY_MAX} characters), as the council plan heads it.",
                     sheet=sheet, cell=t.loc(r, PRIORITY_HEADER), indicator_id=iid)
    for h in ("Indicator", "Portfolio", "Service"):
        if not _text(t.at(row, h)):
            ok = False
            result.error("missing-value", f"{h} is blank. Fill it in.", sheet=sheet, cell=t.loc(r, h), indicator_id=iid)
    nums: dict[str, float | None] = {}
    for h in ("Rate per", "Tolerance %"):
        try:
            nums[h] = _number(t.at(row, h))
        except ValueError:
            ok = False
            nums[h] = None
            result.error("not-a-number", f'"{_text(t.at(row, h))}" is not a number.', sheet=sheet, cell=t.loc(r, h),
                         indicator_id=iid)
            continue
        v = nums[h]
        if v is not None and v < 0:
            ok = False
            result.error("negative-value", f"{h} is {_text(t.at(row, h))}, below zero. Enter 0 or more.",
                         sheet=sheet, cell=t.loc(r, h), indicator_id=iid)
    unit = fields.get("Unit")
    rate_per = nums.get("Rate per")
    if unit in ("Rate", "Number and rate") and (rate_per is None or rate_per == 0) and "Rate per" in nums:
        ok = False
        result.error("missing-value", "A rate needs its base in Rate per, e.g. 10000.", sheet=sheet,
                     cell=t.loc(r, "Rate per"), indicator_id=iid)
    if not ok or exc is None:
        return None
    return Indicator(
        id=iid, name=_text(t.at(row, "Indicator")), portfolio=_text(t.at(row, "Portfolio")),
        service=_text(t.at(row, "Service")), better=fields["Better to be"], unit=fields["Unit"],
        rate_per=nums["Rate per"], frequency=fields["Frequency"],
        measure=kind_for(fields["Measure"], fields["Unit"], accumulates), tolerance=nums["Tolerance %"], exception=exc,
        accumulates=accumulates, priority=priority,
    )


def load_catalogue(path: Path) -> tuple[Catalogue, ValidationResult]:
    result = ValidationResult(str(path))
    raw = read_workbook(path, result)
    if raw is None:
        return Catalogue(()), result
    return parse_catalogue(raw.sheets, result), result


class CatalogueInvalid(KpiflowError):
    def __init__(self, result: ValidationResult) -> None:
        super().__init__(f"The catalogue has errors; run kpiflow catalogue check.\n{result.render_text()}")
        self.result = result


@dataclass(frozen=True)
class CatalogueCheck:
    """What ``kpiflow catalogue check`` says."""

    catalogue: Catalogue
    result: ValidationResult

    def to_dict(self) -> dict[str, Any]:
        return {**self.result.to_dict(), "indicators": len(self.catalogue.indicators),
                "services": len(self.catalogue.services)}

    def lines(self) -> list[str]:
        def count(n: int, word: str) -> str:
            return f"{n} {word}{'s' * (n != 1)}"

        r, c = self.result, self.catalogue
        return [p.render() for p in r.problems] + [
            f"{r.source}: {count(len(c.indicators), 'indicator')}, {count(len(c.services), 'service')}, "
            f"{count(len(r.errors), 'error')}, {count(len(r.warnings), 'warning')}"]


def check_catalogue(settings: Settings) -> CatalogueCheck:
    """Read and check the working folder's catalogue."""
    if not settings.catalogue_path.exists():
        raise KpiflowError(f"There is no catalogue at {settings.catalogue_path}. Run kpiflow init, or use --home to "
                           "point at your working folder.")
    catalogue, result = load_catalogue(settings.catalogue_path)
    if not catalogue.has_services_sheet and (settings.mail.host or settings.mail.sender or settings.cycle.signoff):
        why = "sign-off is on ([cycle] signoff = true)" if settings.cycle.signoff else "[mail] is set in kpiflow.toml"
        result.error("missing-sheet", f'The catalogue has no sheet called "Services", and {why}. Add it with the '
                     "columns " + ", ".join(SERVICE_HEADERS) + ": one row per service, saying who is reminded, who "
                     "signs off and who is told when a return is late.", sheet="Services")
    return CatalogueCheck(catalogue, result)


def load_checked_catalogue(settings: Settings) -> Catalogue:
    """The catalogue, or CatalogueInvalid listing its errors."""
    check = check_catalogue(settings)
    if not check.result.ok:
        raise CatalogueInvalid(check.result)
    return check.catalogue
