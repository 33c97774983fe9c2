from __future__ import annotations

import pytest
from helpers import seed_facts

from kpiflow.model import AMBER, GREEN, RED, Figures, Indicator
from kpiflow.narrative import RULE_TEXT, reason_texts
from kpiflow.periods import Period, quarter, year
from kpiflow.rules import Reason, Verdict, evaluate
from kpiflow.settings import EXCEPTION_RULES
from kpiflow.trends import Facts, facts

Q1, Q2 = quarter(2017, 1), quarter(2017, 2)
DEFAULT = "below-target-or-worse-than-last-year"


def make(values: dict[Period, float], *, target: float | None = 100.0, better: str = "High",
         measure: str = "Snapshot", tolerance: float | None = None, exception: str = "Auto",
         comparators: tuple[float, float] | None = None, at: Period = Q2,
         targets: dict[str, float | None] | None = None) -> Facts:
    """Facts for a one-figure indicator with the given quarterly values (and comparators on every quarter)."""
    ind = Indicator("T01", "Test indicator", "Portfolio", "Service", better, "Number", None, "Quarterly",
                    measure, tolerance, exception)
    sn, en = comparators or (None, None)
    series = {p: Figures(v, None, sn, en) for p, v in values.items()}
    return facts(ind, series, at, targets if targets is not None else {"2017/18": target}, 5.0, 1.0, 6)


def words(v: Verdict, unit: str = "Number") -> tuple[bool, tuple[str, ...]]:
    """A verdict as the report words it."""
    return v.exception, reason_texts(v, unit)


def verdict(rule: str, values: dict[Period, float], **kw: object) -> Verdict:
    return evaluate(make(values, **kw), rule)  # type: ignore[arg-type]


def test_every_preset_has_words_for_the_report() -> None:
    assert set(RULE_TEXT) == set(EXCEPTION_RULES)


# --- the seed's indicators under the default rule ---

@pytest.mark.parametrize("iid", ["CS01", "CS02", "CS03"])
def test_every_seed_indicator_is_an_exception_under_the_default_rule(iid: str) -> None:
    assert evaluate(seed_facts(iid), DEFAULT).exception


def test_seed_reasons() -> None:
    assert words(evaluate(seed_facts("CS02"), DEFAULT), "Number")[1] == (
        "worse than the same quarter last year (514 against 781)",)
    # compared like with like (whole years: 2016/17 against 2015/16) both comparator gaps widened
    assert words(evaluate(seed_facts("CS01"), DEFAULT), "Number and rate")[1] == (
        "worse than the same quarter last year (185.6 against 173.2)",
        "worse than the statistical neighbours' average and England in 2016/17, and the gap is not narrowing")
    assert words(evaluate(seed_facts("CS03"), DEFAULT), "Rate")[1] == (
        "worse than the same quarter last year (675.4 against 660.0)",
        "worse than the statistical neighbours' average and England in 2016/17, and the gap is not narrowing")


@pytest.mark.parametrize("rule", ["red", "red-or-amber-worsening", "missed-two-quarters"])
def test_seed_under_a_target_rule_has_no_target_to_miss(rule: str) -> None:
    # CS01 is worse than last year, so the reason must not say otherwise
    assert words(evaluate(seed_facts("CS01"), rule)) == (False, ("no target set",))


# --- RAG boundaries through facts ---

@pytest.mark.parametrize(("value", "better", "tolerance", "expected"), [
    (100, "High", None, GREEN), (101, "High", None, GREEN), (96, "High", None, AMBER), (95, "High", None, AMBER),
    (94.9, "High", None, RED), (100, "Low", None, GREEN), (105, "Low", None, AMBER), (105.1, "Low", None, RED),
    (92, "High", None, RED), (92, "High", 10.0, AMBER), (90, "High", 10.0, AMBER), (89, "High", 10.0, RED),
    (97, "High", 2.0, RED), (98, "High", 2.0, AMBER), (97, "High", 0.0, RED), (100, "High", 0.0, GREEN),
])
def test_rag_boundaries_and_the_indicators_own_tolerance(value: float, better: str, tolerance: float | None,
                                                         expected: str) -> None:
    assert make({Q2: value}, better=better, tolerance=tolerance).rag == expected


# --- red ---

def test_red_reports_only_red() -> None:
    assert words(verdict("red", {Q2: 90})) == (True, ("Red: 90 against a target of 100",))
    assert words(verdict("red", {Q2: 96})) == (False, ("within the rule",))
    assert words(verdict("red", {Q2: 100})) == (False, ("on target",))
    # worse than last year does not matter to this rule
    assert not verdict("red", {quarter(2016, 2): 200, Q2: 100}).exception


def test_red_with_a_looser_indicator_tolerance_is_not_red() -> None:
    assert not verdict("red", {Q2: 90}, tolerance=15.0).exception


# --- red-or-amber-worsening ---

def test_red_or_amber_worsening() -> None:
    rule = "red-or-amber-worsening"
    assert words(verdict(rule, {Q1: 99, Q2: 96})) == (
        True, ("Amber and worse than Q1 2017/18 (96 against 99)",))
    assert not verdict(rule, {Q1: 95, Q2: 96}).exception          # Amber, but better than last quarter
    assert not verdict(rule, {Q1: 96.5, Q2: 96}).exception        # Amber, within the no-change band
    assert not verdict(rule, {Q2: 96}).exception                   # Amber, no previous quarter
    assert words(verdict(rule, {Q1: 80, Q2: 90})) == (True, ("Red: 90 against a target of 100",))
    assert not verdict(rule, {Q1: 120, Q2: 100}).exception        # Green, however it moved
    assert verdict(rule, {Q1: 101, Q2: 104}, better="Low").exception


# --- missed-two-quarters ---

def test_missed_two_quarters() -> None:
    rule = "missed-two-quarters"
    assert words(verdict(rule, {Q1: 97, Q2: 98})) == (True, ("target missed in Q2 2017/18 and Q1 2017/18",))
    assert verdict(rule, {Q1: 80, Q2: 97}).exception              # Red then Amber: both missed
    assert not verdict(rule, {Q1: 100, Q2: 80}).exception         # only this quarter
    assert not verdict(rule, {Q1: 80, Q2: 100}).exception         # only the previous quarter
    assert not verdict(rule, {Q2: 80}).exception                  # no figure for the previous quarter


def test_missed_two_quarters_across_the_year_end_uses_each_years_target() -> None:
    rule = "missed-two-quarters"
    q4 = quarter(2016, 4)
    assert verdict(rule, {q4: 90, Q1: 90}, at=Q1, targets={"2016/17": 100.0, "2017/18": 100.0}).exception
    assert not verdict(rule, {q4: 90, Q1: 90}, at=Q1, targets={"2016/17": 80.0, "2017/18": 100.0}).exception
    assert not verdict(rule, {q4: 90, Q1: 90}, at=Q1, targets={"2017/18": 100.0}).exception


def test_missed_two_quarters_for_a_count_is_judged_to_date() -> None:
    # a year's target of 400 is 100 a quarter: 97 is behind at Q1, 97 + 110 is on track by Q2
    values = {Q1: 97.0, Q2: 110.0}
    f = make(values, target=400.0, measure="Count")
    assert (f.previous_rag, f.rag) == (AMBER, GREEN)
    assert not evaluate(f, "missed-two-quarters").exception


# --- the default rule ---

def test_default_rule_with_a_target() -> None:
    assert words(verdict(DEFAULT, {Q2: 96})) == (True, ("below target (Amber): 96 against a target of 100",))
    assert words(verdict(DEFAULT, {quarter(2016, 2): 120, Q2: 110})) == (
        True, ("worse than the same quarter last year (110 against 120)",))
    assert words(verdict(DEFAULT, {quarter(2016, 2): 120, Q2: 90}))[1] == (
        "below target (Red): 90 against a target of 100", "worse than the same quarter last year (90 against 120)")
    assert words(verdict(DEFAULT, {quarter(2016, 2): 100, Q2: 110})) == (False, ("on target",))


def test_default_rule_reports_a_count_against_its_target_to_date() -> None:
    # a year's target of 1000 is 500 by Q2; 200 + 150 is 30% short of that
    v = verdict(DEFAULT, {Q1: 200, Q2: 150}, target=1000.0, measure="Count")
    assert words(v) == (True, ("below target (Red): 350 for the year to date against a target of 500",))
    assert words(verdict("red", {Q1: 200, Q2: 150}, target=1000.0, measure="Count"))[1] == (
        "Red: 350 for the year to date against a target of 500",)


def test_default_rule_without_a_target() -> None:
    ly = quarter(2016, 2)
    assert words(verdict(DEFAULT, {ly: 100, Q2: 110}, target=None)) == (
        False, ("no target set and not worse than last year",))
    assert verdict(DEFAULT, {ly: 100, Q2: 90}, target=None).exception
    assert not verdict(DEFAULT, {ly: 100, Q2: 99.5}, target=None).exception     # within the no-change band


def annual(ours: tuple[float, float], sn: tuple[float, float], en: tuple[float, float], *,
           target: float | None = None) -> Verdict:
    """The default rule for an indicator (no change on last year) with whole-year figures for 2015/16
    and 2016/17 and the comparators published for them."""
    ind = Indicator("T01", "Test indicator", "Portfolio", "Service", "High", "Number", None, "Quarterly",
                    "Snapshot", None)
    series = {year(2015): Figures(ours[0], None, sn[0], en[0]), year(2016): Figures(ours[1], None, sn[1], en[1]),
              quarter(2016, 2): Figures(100), Q2: Figures(100)}
    return evaluate(facts(ind, series, Q2, {"2017/18": target}, 5.0, 1.0, 6), DEFAULT)


def test_default_rule_without_a_target_counts_a_gap_to_both_comparators_that_is_not_narrowing() -> None:
    # comparators are published for whole years: the gaps are those of 2016/17 against 2015/16
    widening = annual((100, 98), (120, 120), (130, 130))
    assert words(widening) == (True, ("worse than the statistical neighbours' average and England in 2016/17, "
                                      "and the gap is not narrowing",))
    assert annual((100, 100), (120, 120), (130, 130)).exception                      # steady
    assert not annual((95, 100), (120, 120), (130, 130)).exception                   # narrowing
    assert not annual((100, 98), (120, 120), (130, 90)).exception                    # worse than one only
    assert annual((125, 110), (120, 120), (130, 130)).exception                      # crossed to worse
    # worse than both with a target set: the target decides
    assert not annual((100, 98), (120, 120), (130, 130), target=100.0).exception


# --- the catalogue's Exception column ---

@pytest.mark.parametrize("rule", EXCEPTION_RULES)
def test_always_and_never_override_every_rule(rule: str) -> None:
    assert words(verdict(rule, {}, exception="Always")) == (True, ("the catalogue reports this indicator every quarter",))
    assert verdict(rule, {Q2: 100}, exception="Always").exception
    assert words(verdict(rule, {Q1: 10, Q2: 10}, exception="Never")) == (
        False, ("the catalogue never reports this indicator as an exception",))


def test_no_figure_is_no_exception_and_an_unknown_rule_is_an_error() -> None:
    assert words(verdict(DEFAULT, {Q1: 10})) == (False, ("no figure for Q2 2017/18",))
    with pytest.raises(ValueError, match="unknown exception rule"):
        verdict("worse-than-ever", {Q2: 10})


def test_reasons_are_codes_with_values_that_survive_a_json_round_trip() -> None:
    import json

    v = verdict(DEFAULT, {quarter(2016, 2): 120, Q2: 90})
    assert [r.code for r in v.reasons] == ["below-target", "worse-than-last-year"]
    assert v.reasons[0].values == {"rag": RED, "value": 90, "target": 100, "basis": "value"}
    back = tuple(Reason.from_dict(d) for d in json.loads(json.dumps(v.to_dict()))["reasons"])
    assert back == v.reasons


def test_a_reason_stored_as_words_by_an_earlier_version_reads_back_as_recorded() -> None:
    old = Reason.from_dict("worse than the same quarter last year, 514 against 781")
    assert old.code == "recorded"
    assert words(Verdict(True, (old,)))[1] == ("worse than the same quarter last year, 514 against 781",)
