"""The council's exception rule: named presets over trend facts, with the reasons as codes.

A verdict's reasons are codes with the values they rest on, never sentences: they are frozen into
the published record, and ``narrative.reason_text`` words them, so a wording fix never rewrites history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kpiflow.model import AMBER, GREEN, RED, RULE_NAMES, WORSENED
from kpiflow.trends import Facts

# why an indicator is, or is not, reported; the values each carries are listed beside it
REASON_CODES: dict[str, str] = {
    "always": "the catalogue reports it every quarter",
    "never": "the catalogue never reports it",
    "no-figure": "no figure for the quarter (quarter)",
    "below-target": "below target (rag, value, target, basis)",
    "worse-than-last-year": "worse than the same quarter last year (value, last_year, last_year_period, basis)",
    "worse-than-comparators": "worse than both comparators, the gap not narrowing (year)",
    "red": "Red against target (value, target, basis)",
    "amber-worsening": "Amber and worse than the previous quarter (value, previous, previous_period, basis)",
    "missed-two-quarters": "target missed in this and the previous quarter (quarter, previous_period)",
    "no-target": "no target set, so a target rule cannot report it",
    "no-target-not-worse": "no target set and not worse than last year",
    "on-target": "on target",
    "within-rule": "missed the target but within the rule",
    "recorded": "a reason recorded in words by an earlier version (text)",
}


@dataclass(frozen=True)
class Reason:
    code: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, **dict(self.values)}

    @classmethod
    def from_dict(cls, data: object) -> Reason:
        """A stored reason; a sentence stored by an earlier version is kept as recorded."""
        if isinstance(data, dict) and isinstance(data.get("code"), str):
            return cls(data["code"], {k: v for k, v in data.items() if k != "code"})
        return cls("recorded", {"text": str(data)})


@dataclass(frozen=True)
class Verdict:
    exception: bool
    reasons: tuple[Reason, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"exception": self.exception, "reasons": [r.to_dict() for r in self.reasons]}


def _target_basis(f: Facts) -> str:
    """What the figure judged against the target is: the year to date, unless it is the value itself."""
    if f.indicator.measure == "Count" and f.quarter.n > 1:
        return "year to date"
    if f.indicator.measure == "Cumulative":
        return "year to date"
    return "value"


def evaluate(f: Facts, rule: str) -> Verdict:
    """Whether an indicator is an exception, and why (or why not)."""
    if rule not in RULE_NAMES:
        raise ValueError(f"unknown exception rule {rule!r}")
    mode = f.indicator.exception
    if mode == "Always":
        return Verdict(True, (Reason("always"),))
    if mode == "Never":
        return Verdict(False, (Reason("never"),))
    if f.current is None:
        return Verdict(False, (Reason("no-figure", {"quarter": f.quarter.label}),))
    reasons: list[Reason] = []
    # the figures each reason rests on, with what they are ("year to date", "in the quarter") so
    # that the words can label them
    against_target: dict[str, Any] = {"value": f.to_date, "target": f.target_now, "basis": _target_basis(f)}
    if rule == "below-target-or-worse-than-last-year":
        if f.rag in (AMBER, RED):
            reasons.append(Reason("below-target", {"rag": f.rag, **against_target}))
        if f.vs_last_year == WORSENED:
            reasons.append(Reason("worse-than-last-year", {"value": f.current, "last_year": f.last_year,
                                                           "last_year_period": f.last_year_period.label,
                                                           "basis": f.ly_cmp.basis if f.ly_cmp else "value"}))
        # a gap that changed sides is not narrowing: the council is worse than both now
        if f.target is None and len(f.worse_than) == 2 and all(
                f.gap_trend.get(c) in ("widening", "steady", "crossed") for c in f.worse_than):
            reasons.append(Reason("worse-than-comparators", {"year": f.gap_year.label if f.gap_year else ""}))
    elif rule == "red":
        if f.rag == RED:
            reasons.append(Reason("red", against_target))
    elif rule == "red-or-amber-worsening":
        if f.rag == RED:
            reasons.append(Reason("red", against_target))
        elif f.rag == AMBER and f.vs_previous == WORSENED:
            cmp = f.prev_cmp
            reasons.append(Reason("amber-worsening", {"value": cmp.now if cmp else f.current, "previous": f.previous,
                                                      "previous_period": f.previous_period.label,
                                                      "basis": cmp.basis if cmp else "value"}))
    elif rule == "missed-two-quarters" and f.rag in (AMBER, RED) and f.previous_rag in (AMBER, RED):
        reasons.append(Reason("missed-two-quarters", {"quarter": f.quarter.label,
                                                      "previous_period": f.previous_period.label}))
    if reasons:
        return Verdict(True, tuple(reasons))
    if f.target is None:
        # only the default rule looks at last year; the others cannot report an indicator without a target
        code = "no-target-not-worse" if rule == "below-target-or-worse-than-last-year" else "no-target"
    else:
        code = "on-target" if f.rag == GREEN else "within-rule"
    return Verdict(False, (Reason(code),))
