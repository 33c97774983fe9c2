"""Numbers and figures as people read them in the report, the returns and the command line."""

from __future__ import annotations

from kpiflow.model import Figures


def fmt_number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"


def fmt(value: float | None, unit: str, figure: str = "primary") -> str:
    """A figure as the report prints it: counts whole, rates to one decimal place, percentages with %."""
    if value is None:
        return "n/a"
    if unit == "Percentage":
        return f"{fmt_number(round(value, 1))}%"
    if figure == "rate" or (figure == "primary" and unit in ("Rate", "Number and rate")):
        return f"{value:.1f}"
    return fmt_number(value)


def fmt_figures(f: Figures | None, unit: str) -> str:
    """A values-table cell: ``469 (162.8)`` for number and rate, else the one figure."""
    if f is None:
        return ""
    if unit == "Number and rate":
        if f.number is not None and f.rate is not None:
            return f"{fmt_number(f.number)} ({f.rate:.1f})"
        return fmt(f.number, unit, "number") if f.number is not None else fmt(f.rate, unit, "rate")
    if unit == "Rate":
        return fmt(f.rate, unit, "rate")
    return fmt(f.number, unit, "number")
