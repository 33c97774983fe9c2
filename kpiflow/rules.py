"""The council's exception rule: named presets over trend facts, with the reasons."""

from __future__ import annotations

from dataclasses import dataclass

from kpiflow.narrative import fmt
from kpiflow.trends import AMBER, GREEN, RED, WORSENED, Facts

RULE_TEXT = {
    "below-target-or-worse-than-last-year": "an indicator is reported when it is below target or performing worse "
                                            "than at the same point last year",
    "red": "an indicator is reported when it is Red: worse than its target by more than the tolerance",
    "red-or-amber-worsening": "an indicator is reported when it is Red, or Amber and worse than last quarter",
    "missed-two-quarters": "an indicator is reported when it has missed its target in this and the previous quarter",
}


@dataclass(frozen=True)
class Verdict:
    exception: bool
    reasons: tuple[str, ...]


def evaluate(f: Facts, rule: str) -> Verdict:
    """Whether an indicator is an exception, and why (or why not)."""
    mode = f.indicator.exception
    if mode == "Always":
        return Verdict(True, ("the catalogue reports this indicator every quarter",))
    if mode == "Never":
        return Verdict(False, ("the catalogue never reports this indicator as an exception",))
    if f.current is None:
        return Verdict(False, (f"no figure for {f.quarter.short}",))
    unit = f.indicator.unit
    reasons: list[str] = []
    if rule == "below-target-or-worse-than-last-year":
        if f.rag in (AMBER, RED):
            reasons.append(f"below target ({f.rag}): {fmt(f.to_date, unit)} against {fmt(f.target_now, unit)}")
        if f.vs_last_year == WORSENED:
            reasons.append(f"worse than the same quarter last year, {fmt(f.current, unit)} against "
                           f"{fmt(f.last_year, unit)}")
        if f.target is None and len(f.worse_than) == 2 and all(
                f.gap_trend.get(c) in ("widening", "steady") for c in f.worse_than):
            reasons.append("worse than statistical neighbours and England, and the gap is not narrowing")
    elif rule == "red":
        if f.rag == RED:
            reasons.append(f"Red: {fmt(f.to_date, unit)} against a target of {fmt(f.target_now, unit)}")
    elif rule == "red-or-amber-worsening":
        if f.rag == RED:
            reasons.append(f"Red: {fmt(f.to_date, unit)} against a target of {fmt(f.target_now, unit)}")
        elif f.rag == AMBER and f.vs_previous == WORSENED:
            reasons.append(f"Amber and worse than {f.previous_period.short} ({fmt(f.current, unit)} against "
                           f"{fmt(f.previous, unit)})")
    elif rule == "missed-two-quarters":
        if f.rag in (AMBER, RED) and f.previous_rag in (AMBER, RED):
            reasons.append(f"target missed in {f.quarter.short} and {f.previous_period.short}")
    else:
        raise ValueError(f"unknown exception rule {rule!r}")
    if reasons:
        return Verdict(True, tuple(reasons))
    if f.target is None:
        # only the default rule looks at last year; the others cannot report an indicator without a target
        why = "no target set and not worse than last year" if rule == "below-target-or-worse-than-last-year" \
            else "no target set"
    else:
        why = "on target" if f.rag == GREEN else "within the rule"
    return Verdict(False, (why,))
