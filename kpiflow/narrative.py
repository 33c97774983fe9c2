"""Plain-English sentences from trend facts, in the register of a council exception report.

Every sentence states only what the facts show; where a fact is missing the sentence is left out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kpiflow.trends import Facts
    from kpiflow.validate import Figures


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


def _subject(f: Facts) -> str:
    return {"rate": "The rate", "number": "The number"}[f.figure] if f.indicator.unit != "Percentage" else "The percentage"


def _size(a: float, b: float) -> str:
    change = abs(a - b) / abs(b) * 100 if b else 100.0
    return "slightly" if change < 5 else "significantly" if change >= 20 else ""


def _comparators_phrase(names: list[str]) -> str:
    return " and ".join(names)


def draft_commentary(f: Facts) -> list[str]:
    """Paragraphs of drafted commentary for an indicator, for a policy officer to edit."""
    unit = f.indicator.unit

    def p(v: float | None) -> str:
        return fmt(v, unit)

    subject = _subject(f)
    has_cmp = f.statneigh is not None or f.england is not None
    paras: list[str] = []
    first: list[str] = []
    if f.target is None:
        basis = "the general trend of performance"
        if has_cmp:
            basis += " and with " + _comparators_phrase(
                [n for n, v in (("our statistical neighbours", f.statneigh), ("England", f.england)) if v is not None])
        first.append(f"There is no target set for this indicator, so it is compared instead with {basis}.")
    elif f.rag is not None and f.current is not None:
        what = "the figure for the year to date" if f.indicator.measure == "Count" else "the figure"
        first.append(f"At {f.quarter.short} {what} was {p(f.to_date)} against a target of {p(f.target_now)} "
                     f"({f.rag}).")
    if f.run is not None:
        verb = "increased" if f.run.rising else "decreased"
        if f.run.years >= 2:
            sentence = f"{subject} has {verb} in each year since {f.run.since.label}"
        else:
            sentence = f"{subject} {verb} from {f.run.since.label} to {f.run.until.label}"
        faster = _faster_than(f)
        if faster:
            sentence += f", faster than {_comparators_phrase(faster)}"
        first.append(sentence + ".")
    if first:
        paras.append(" ".join(first))
    second: list[str] = []
    if f.current is not None and f.previous is not None and f.vs_previous is not None:
        q, pq = f.quarter.short, f.previous_period.short
        if f.vs_previous == "No change":
            second.append(f"At {q} it was about the same as at {pq} ({p(f.current)} against {p(f.previous)}).")
        else:
            verb = "rose" if f.current > f.previous else "fell"
            size = _size(f.current, f.previous)
            second.append(f"At {q} it {verb}{' ' + size if size else ''} compared with {pq} ({p(f.current)} against "
                          f"{p(f.previous)}).")
    if f.current is not None and f.last_year is not None and f.vs_last_year is not None:
        ly = f.last_year_period.short
        if f.vs_last_year == "No change":
            second.append(f"That is about the same as at {ly} ({p(f.last_year)}).")
        else:
            word = "higher" if f.current > f.last_year else "lower"
            judgement = "an improvement" if f.vs_last_year == "Improved" else "a worse position"
            size = _size(f.current, f.last_year)
            second.append(f"It is {size + ' ' if size else ''}{word} than at {ly} ({p(f.current)} against "
                          f"{p(f.last_year)}), {judgement} than a year ago.")
    if second:
        paras.append(" ".join(second))
    cmp_bits: list[str] = []
    for name, value in (("the statistical neighbours' average", f.statneigh), ("England", f.england)):
        if value is None or f.current is None:
            continue
        word = "above" if f.current > value else "below" if f.current < value else "level with"
        key = "statistical neighbours" if "neighbours" in name else "England"
        trend = f.gap_trend.get(key)
        tail = f", and the gap has {trend} since {f.previous_period.short}" if trend in ("widening", "narrowing") else ""
        tail = tail.replace("has widening", "has widened").replace("has narrowing", "has narrowed")
        cmp_bits.append(f"{word} {name} ({p(value)}){tail}")
    if cmp_bits:
        paras.append(f"{subject} is " + "; it is ".join(cmp_bits) + ".")
    pr = f.projection
    if pr is not None and pr.reaches is not None and len(pr.points) >= 2:
        span = f"{len(pr.points)} {'months' if pr.points[-1][0].kind == 'month' else 'quarters'}"
        who = "the statistical neighbours' average" if pr.comparator == "statistical neighbours" else "the England figure"
        paras.append(f"If the trend of the last {span} were to continue, it would reach {who} "
                     f"({p(pr.comparator_value)}) by {pr.reaches.quarter.short}.")
    return paras


def _faster_than(f: Facts) -> list[str]:
    """Comparators whose change over the same run of years was smaller, in the same direction."""
    if f.run is None:
        return []
    ours = dict(f.annual)
    start, end = ours.get(f.run.since), ours.get(f.run.until)
    if not start or end is None:
        return []
    our_change = (end - start) / start
    out = []
    for name, values in f.annual_comparators.items():
        d = dict(values)
        a, b = d.get(f.run.since), d.get(f.run.until)
        if not a or b is None:
            continue
        theirs = (b - a) / a
        if (our_change > 0 and theirs < our_change) or (our_change < 0 and theirs > our_change):
            out.append("statistical neighbours" if name == "statistical neighbours" else "England")
    return out if len(out) == len(f.annual_comparators) else []
