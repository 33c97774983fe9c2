"""The council's exception rule: named presets over trend facts, with the reasons as codes.

A verdict's reasons are codes with the values they rest on, never sentences: they are frozen into
the published record, and ``narrative.reason_text`` words them, so a wording fix never rewrites history.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kpiflow.model import AMBER, GREEN, RED, WORSENED, Indicator, Series
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
class Assessment:
    """One indicator at a quarter: its series, the facts drawn from it and the rule's verdict."""

    indicator: Indicator
    facts: Facts
    verdict: Verdict
    series: Series


@dataclass(frozen=True)
class Verdict:
    exception: bool
    reasons: tuple[Reason, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"exception": self.exception, "reasons": [r.to_dict() for r in self.reasons]}


def _target_basis(f: Facts) -> str:
    """What the figure judged against the target is: the year to date, unless it is the value itself."""
    return f.indicator.measure.target_basis(f.quarter)


def _default(f: Facts, against_target: dict[str, Any]) -> list[Reason]:
    reasons: list[Reason] = []
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
    return reasons


def _red(f: Facts, against_target: dict[str, Any]) -> list[Reason]:
    return [Reason("red", against_target)] if f.rag == RED else []


def _red_or_amber_worsening(f: Facts, against_target: dict[str, Any]) -> list[Reason]:
    if f.rag == RED:
        return [Reason("red", against_target)]
    if f.rag == AMBER and f.vs_previous == WORSENED:
        cmp = f.prev_cmp
        return [Reason("amber-worsening", {"value": cmp.now if cmp else f.current, "previous": f.previous,
                                           "previous_period": f.previous_period.label,
                                           "basis": cmp.basis if cmp else "value"})]
    return []


def _missed_two_quarters(f: Facts, against_target: dict[str, Any]) -> list[Reason]:
    if f.rag in (AMBER, RED) and f.previous_rag in (AMBER, RED):
        return [Reason("missed-two-quarters", {"quarter": f.quarter.label,
                                               "previous_period": f.previous_period.label})]
    return []


@dataclass(frozen=True)
class Preset:
    """A named exception rule: its words in the report, and how it decides."""

    name: str
    text: str                                   # "an indicator is reported when ...", for the report
    decide: Callable[[Facts, dict[str, Any]], list[Reason]]   # the reasons it reports an indicator for
    no_target_code: str = "no-target"           # why an indicator with no target and no reason is not reported


# The one list of presets: settings accept these names, the report states the text, and evaluate
# applies the rule. A new preset is one entry here (and its words, tests and docs).
PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("below-target-or-worse-than-last-year",
           "an indicator is reported when it is below target or performing worse than at the same point last year",
           # the default rule looks at last year; the others cannot report an indicator without a target
           _default, "no-target-not-worse"),
    Preset("red", "an indicator is reported when it is Red: worse than its target by more than the tolerance", _red),
    Preset("red-or-amber-worsening",
           "an indicator is reported when it is Red, or Amber and worse than last quarter", _red_or_amber_worsening),
    Preset("missed-two-quarters",
           "an indicator is reported when it has missed its target in this and the previous quarter",
           _missed_two_quarters),
)}
PRESET_NAMES: tuple[str, ...] = tuple(PRESETS)
DEFAULT_PRESET = "below-target-or-worse-than-last-year"


def rule_text(rule: str) -> str:
    """How the report states the council's exception rule."""
    return PRESETS[rule].text


def evaluate(f: Facts, rule: str) -> Verdict:
    """Whether an indicator is an exception, and why (or why not)."""
    preset = PRESETS.get(rule)
    if preset is None:
        raise ValueError(f"unknown exception rule {rule!r}")
    mode = f.indicator.exception
    if mode == "Always":
        return Verdict(True, (Reason("always"),))
    if mode == "Never":
        return Verdict(False, (Reason("never"),))
    if f.current is None:
        return Verdict(False, (Reason("no-figure", {"quarter": f.quarter.label}),))
    # the figures each reason rests on, with what they are ("year to date", "in the quarter") so
    # that the words can label them
    against_target: dict[str, Any] = {"value": f.to_date, "target": f.target_now, "basis": _target_basis(f)}
    reasons = preset.decide(f, against_target)
    if reasons:
        return Verdict(True, tuple(reasons))
    code = preset.no_target_code if f.target is None else "on-target" if f.rag == GREEN else "within-rule"
    return Verdict(False, (Reason(code),))
