"""The indicator catalogue: definitions and targets, read from workbook_templates/catalogue.xlsx."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kpiflow.errors import KpiflowError, PeriodError
from kpiflow.model import EXCEPTION_MODES, FREQUENCIES, MEASURES, UNITS, Catalogue, Indicator
from kpiflow.periods import parse_period
from kpiflow.problems import ValidationResult
from kpiflow.settings import Settings
from kpiflow.workbook.read import RawSheet, coord, norm_header, read_workbook

INDICATOR_HEADERS = ["Indicator ID", "Indicator", "Portfolio", "Service", "Better to be", "Unit", "Rate per",
                     "Frequency", "Measure", "Tolerance %", "Exception"]
TARGET_HEADERS = ["Indicator ID", "Year", "Target"]


def _text(v: object) -> str:
    return "" if v is None else " ".join(str(v).split())


def _choice(v: object, options: tuple[str, ...]) -> str | None:
    t = _text(v).casefold()
    for o in options:
        if o.casefold() == t:
            return o
    return None


def _number(v: object) -> float | None:
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    if isinstance(v, bool):
        raise ValueError
    if isinstance(v, int | float):
        return float(v)
    return float(str(v).replace(",", "").strip())


def _find_table(sheet: RawSheet, headers: list[str], result: ValidationResult) -> tuple[int, dict[str, int]] | None:
    hr = sheet.find_header(headers[0])
    if hr is None:
        result.error("missing-header", f'No header row with "{headers[0]}" was found. Put the headers back in the first row.',
                     sheet=sheet.name)
        return None
    cols = sheet.header_map(hr)
    missing = [h for h in headers if norm_header(h) not in cols]
    for h in missing:
        result.error("missing-header", f'The column "{h}" is missing from the header row (row {hr}). Put it back.',
                     sheet=sheet.name)
    return (hr, cols) if not missing else None


def parse_catalogue(sheets: dict[str, RawSheet], result: ValidationResult) -> Catalogue:
    """Interpret the catalogue's sheets; every problem located at its cell."""
    indicators: list[Indicator] = []
    targets: dict[tuple[str, str], float | None] = {}
    if "Indicators" not in sheets:
        result.error("missing-sheet", 'The catalogue has no sheet called "Indicators".', sheet="Indicators")
        return Catalogue(())
    sh = sheets["Indicators"]
    found = _find_table(sh, INDICATOR_HEADERS, result)
    seen: dict[str, str] = {}
    if found:
        hr, cols = found

        def at(row: list[object], h: str) -> object:
            c = cols[norm_header(h)]
            return row[c - 1] if c <= len(row) else None

        def loc(r: int, h: str) -> str:
            return coord(r, cols[norm_header(h)])

        for r, row in sh.data_rows(hr):
            iid = _text(at(row, "Indicator ID"))
            if not iid:
                result.error("missing-value", "This row has no Indicator ID. Give every indicator a unique ID.",
                             sheet=sh.name, cell=loc(r, "Indicator ID"))
                continue
            if iid in seen:
                result.error("duplicate-indicator", f"{iid} is listed twice (first at {seen[iid]}). Give each indicator one row.",
                             sheet=sh.name, cell=loc(r, "Indicator ID"), indicator_id=iid)
                continue
            seen[iid] = loc(r, "Indicator ID")
            ok = True
            fields: dict[str, str] = {}
            for h, opts in (("Better to be", ("High", "Low")), ("Unit", UNITS), ("Frequency", FREQUENCIES),
                            ("Measure", MEASURES)):
                val = _choice(at(row, h), opts)
                if val is None:
                    ok = False
                    result.error("bad-value", f'"{_text(at(row, h))}" is not a valid {h}. Use one of: {", ".join(opts)}.',
                                 sheet=sh.name, cell=loc(r, h), indicator_id=iid)
                else:
                    fields[h] = val
            exc = _choice(at(row, "Exception"), EXCEPTION_MODES) if _text(at(row, "Exception")) else "Auto"
            if exc is None:
                ok = False
                result.error("bad-value", f'"{_text(at(row, "Exception"))}" is not valid. Use Auto, Always or Never.',
                             sheet=sh.name, cell=loc(r, "Exception"), indicator_id=iid)
            for h in ("Indicator", "Portfolio", "Service"):
                if not _text(at(row, h)):
                    ok = False
                    result.error("missing-value", f"{h} is blank. Fill it in.", sheet=sh.name, cell=loc(r, h), indicator_id=iid)
            nums: dict[str, float | None] = {}
            for h in ("Rate per", "Tolerance %"):
                try:
                    nums[h] = _number(at(row, h))
                except ValueError:
                    ok = False
                    nums[h] = None
                    result.error("not-a-number", f'"{_text(at(row, h))}" is not a number.', sheet=sh.name, cell=loc(r, h),
                                 indicator_id=iid)
            unit = fields.get("Unit")
            if unit in ("Rate", "Number and rate") and not nums.get("Rate per"):
                ok = False
                result.error("missing-value", "A rate needs its base in Rate per, e.g. 10000.", sheet=sh.name,
                             cell=loc(r, "Rate per"), indicator_id=iid)
            if not ok or exc is None:
                continue
            indicators.append(Indicator(
                id=iid, name=_text(at(row, "Indicator")), portfolio=_text(at(row, "Portfolio")),
                service=_text(at(row, "Service")), better=fields["Better to be"], unit=fields["Unit"],
                rate_per=nums["Rate per"], frequency=fields["Frequency"], measure=fields["Measure"],
                tolerance=nums["Tolerance %"], exception=exc,
            ))
    if "Targets" in sheets:
        tsh = sheets["Targets"]
        tfound = _find_table(tsh, TARGET_HEADERS, result)
        if tfound:
            hr, cols = tfound
            for r, row in tsh.data_rows(hr):
                def tv(h: str, row: list[object] = row) -> object:
                    c = cols[norm_header(h)]
                    return row[c - 1] if c <= len(row) else None

                iid = _text(tv("Indicator ID"))
                cell_id = coord(r, cols[norm_header("Indicator ID")])
                if iid not in seen:
                    result.error("unknown-indicator", f'"{iid}" is not an indicator on the Indicators sheet.',
                                 sheet=tsh.name, cell=cell_id, indicator_id=iid)
                    continue
                try:
                    y = parse_period(tv("Year"))
                    if y.kind != "year":
                        raise PeriodError(f'"{_text(tv("Year"))}" is not a financial year like 2017/18')
                except PeriodError as exc_:
                    result.error("bad-period", str(exc_), sheet=tsh.name, cell=coord(r, cols[norm_header("Year")]),
                                 indicator_id=iid)
                    continue
                try:
                    targets[(iid, y.label)] = _number(tv("Target"))
                except ValueError:
                    result.error("not-a-number", f'Target "{_text(tv("Target"))}" is not a number. Leave it blank for No Target Set.',
                                 sheet=tsh.name, cell=coord(r, cols[norm_header("Target")]), indicator_id=iid)
    return Catalogue(tuple(indicators), targets)


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
    return CatalogueCheck(*load_catalogue(settings.catalogue_path))


def load_checked_catalogue(settings: Settings) -> Catalogue:
    """The catalogue, or CatalogueInvalid listing its errors."""
    check = check_catalogue(settings)
    if not check.result.ok:
        raise CatalogueInvalid(check.result)
    return check.catalogue
