"""Plain-English sentences from trend facts, in the register of a council exception report.

Every sentence states only what the facts show; where a fact is missing the sentence is left out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kpiflow.fmt import fmt
from kpiflow.periods import parse_period

if TYPE_CHECKING:
    from kpiflow.rules import Reason, Verdict
    from kpiflow.trends import Facts

RULE_TEXT = {
    "below-target-or-worse-than-last-year": "an indicator is reported when it is below target or performing worse "
                                            "than at the same point last year",
    "red": "an indicator is reported when it is Red: worse than its target by more than the tolerance",
    "red-or-amber-worsening": "an indicator is reported when it is Red, or Amber and worse than last quarter",
    "missed-two-quarters": "an indicator is reported when it has missed its target in this and the previous quarter",
}


def _short(label: Any) -> str:
    try:
        return parse_period(label).short
    except ValueError:
        return str(label)


def reason_text(reason: Reason, unit: str) -> str:
    """A verdict's reason in words, from its code and values."""
    v = reason.values

    def n(key: str) -> str:
        return fmt(v.get(key), unit)

    words: dict[str, Callable[[], str]] = {
        "always": lambda: "the catalogue reports this indicator every quarter",
        "never": lambda: "the catalogue never reports this indicator as an exception",
        "no-figure": lambda: f"no figure for {_short(v.get('quarter'))}",
        "below-target": lambda: f"below target ({v.get('rag')}): {n('value')} against {n('target')}",
        "worse-than-last-year": lambda: f"worse than the same quarter last year, {n('value')} against {n('last_year')}",
        "worse-than-comparators": lambda: "worse than statistical neighbours and England, and the gap is not narrowing",
        "red": lambda: f"Red: {n('value')} against a target of {n('target')}",
        "amber-worsening": lambda: f"Amber and worse than {_short(v.get('previous_period'))} ({n('value')} against "
                                   f"{n('previous')})",
        "missed-two-quarters": lambda: f"target missed in {_short(v.get('quarter'))} and "
                                       f"{_short(v.get('previous_period'))}",
        "no-target": lambda: "no target set",
        "no-target-not-worse": lambda: "no target set and not worse than last year",
        "on-target": lambda: "on target",
        "within-rule": lambda: "within the rule",
        "recorded": lambda: str(v.get("text", "")),
    }
    make = words.get(reason.code)
    return make() if make else reason.code


def reason_texts(verdict: Verdict, unit: str) -> tuple[str, ...]:
    return tuple(reason_text(r, unit) for r in verdict.reasons)


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
