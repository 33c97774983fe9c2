"""Numbers and figures as people read them in the report, the returns and the command line.

Thousands are separated by commas (2,400); rates have one decimal place; numbers and percentages
have the decimal places ``dp`` says, so that one indicator's figures all look alike ("82.0%"
beside "80.1%", never "82%"). Without ``dp`` a whole number has none and any other one.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable

from kpiflow.model import Figures
from kpiflow.periods import MONTH_NAMES

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def clean_text(value: object) -> str:
    """User text as typed, with Windows line ends normalised and XML-illegal characters removed."""
    if value is None:
        return ""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text).strip()


def fmt_number(v: float, dp: int | None = None) -> str:
    if dp is None:
        dp = 0 if float(v).is_integer() else 1
    text = f"{v:,.{dp}f}"
    # a value that rounds to zero is printed without a sign
    return text.lstrip("-") if not text.strip("-0.,") else text


def exact(v: float | None) -> str:
    """A figure exactly as stored, for the audit trail and open data: no thousands separators, no rounding
    ("531", "185.6"); "" for no figure (or one that is not finite)."""
    if v is None or not math.isfinite(v):
        return ""
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def decimals(values: Iterable[float | None]) -> int:
    """The decimal places (0 or 1) that show every value to one decimal place without hiding any."""
    return 1 if any(v is not None and round(v, 1) != round(v) for v in values) else 0


def fmt(value: float | None, unit: str, figure: str = "primary", dp: int | None = None) -> str:
    """A figure as the report prints it: counts whole, rates to one decimal place, percentages with %."""
    if value is None:
        return "n/a"
    if unit == "Percentage":
        return f"{fmt_number(round(value, 1), dp)}%"
    if figure == "rate" or (figure == "primary" and unit in ("Rate", "Number and rate")):
        return f"{value:,.1f}"
    return fmt_number(value, dp)


def fmt_target(value: float | None, unit: str, dp: int | None = None) -> str:
    """A target as the report prints it: like ``fmt``, with as many more decimal places (up to two) as it needs to
    be shown exactly, so that a RAG is visibly right: a pro rata 2.75 is "2.75", never "2.8" (against which 2.9
    would read as Amber, not Red)."""
    if value is None:
        return "n/a"
    rate = unit in ("Rate", "Number and rate")
    base = 1 if rate or unit == "Percentage" else (dp if dp is not None else (0 if float(value).is_integer() else 1))
    places = next((d for d in range(base, base + 3) if abs(round(value, d) - value) < 1e-9), base + 2)
    if places == base:
        return fmt(value, unit, dp=dp)
    text = f"{value:,.{places}f}"
    return f"{text}%" if unit == "Percentage" else text


def fmt_figures(f: Figures | None, unit: str, dp: int | None = None) -> str:
    """A values-table cell: ``469 (162.8)`` for number and rate, else the one figure."""
    if f is None:
        return ""
    if unit == "Number and rate":
        if f.number is not None and f.rate is not None:
            return f"{fmt_number(f.number, dp)} ({f.rate:,.1f})"
        return fmt(f.number, unit, "number", dp) if f.number is not None else fmt(f.rate, unit, "rate")
    if unit == "Rate":
        return fmt(f.rate, unit, "rate")
    return fmt(f.number, unit, "number", dp)


def long_date(d: dt.date) -> str:
    """A date as a British reader writes it: 14 October 2025."""
    return f"{d.day} {MONTH_NAMES[d.month - 1].title()} {d.year}"


class NotANumber(ValueError):
    """A value that is not a number as a person would type one."""


def parse_number(value: object) -> float | None:
    """A typed number: blank is None; text with thousands commas, spaces or non-breaking spaces is
    accepted; a date, a true/false or other text is NotANumber."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise NotANumber(str(value))
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dt.datetime | dt.date):
        raise NotANumber(str(value))
    text = str(value).strip().replace("\u00a0", "").replace("\u202f", "").replace(" ", "").replace(",", "")
    if text == "":
        return None
    try:
        return float(text)
    except ValueError:
        raise NotANumber(str(value)) from None


def column_letter(col: int) -> str:
    """The spreadsheet letters of a 1-based column number (1 -> A, 27 -> AA)."""
    letters = ""
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters
