"""Every sentence kpiflow can write is listed in docs/sentences.md with an example; this test renders
each example from facts (or from the function that writes it) and checks the two agree word for word."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from kpiflow.measures import COUNT, CUMULATIVE, SNAPSHOT
from kpiflow.model import Figures, Indicator
from kpiflow.narrative import NO_FIGURE, SENTENCES, draft, no_return_text, reason_text
from kpiflow.periods import Period, quarter, year
from kpiflow.rules import REASON_CODES, Reason
from kpiflow.status import Outstanding
from kpiflow.trends import Facts, facts

DOC = Path(__file__).resolve().parent.parent / "docs" / "sentences.md"
Q1, Q2 = quarter(2025, 1), quarter(2025, 2)


def ind(unit: str = "Number", measure: str = "Snapshot", better: str = "High") -> Indicator:
    per = 10000 if unit in ("Rate", "Number and rate") else None
    return Indicator("T01", "Test", "P", "S", better, unit, per, "Quarterly", measure, None)


def make(i: Indicator, values: dict[Period, float], at: Period = Q2, target: float | None = None,
         profile: tuple[float | None, ...] | None = None, comparators: dict[Period, tuple[float, float]] | None = None,
         numbers: dict[Period, float] | None = None) -> Facts:
    series: dict[Period, Figures] = {}
    for p, v in values.items():
        series[p] = Figures(None, v) if i.primary == "rate" else Figures(v)
    for p, n in (numbers or {}).items():
        f = series.get(p, Figures())
        series[p] = Figures(n, f.rate, f.statneigh, f.england)
    for p, (sn, en) in (comparators or {}).items():
        f = series.get(p, Figures())
        series[p] = Figures(f.number, f.rate, sn, en)
    profiles = {at.year.label: profile} if profile else None
    return facts(i, series, at, {at.year.label: target}, 5.0, 1.0, 6, profiles)


def q(fy: int, n: int) -> Period:
    return quarter(fy, n)


# Facts that make each drafted sentence, by key
LAC = {year(2022): 180.0, year(2023): 191.0, year(2024): 200.0, q(2024, 2): 195.0, Q1: 197.7, Q2: 196.0}
LAC_CMP = {year(2022): (110.0, 70.0), year(2023): (112.0, 71.0), year(2024): (113.0, 71.0)}
SCENARIOS: dict[str, Callable[[], Facts]] = {
    "no-target": lambda: make(ind("Rate", better="Low"), LAC, comparators=LAC_CMP),
    "target": lambda: make(ind("Percentage"), {Q1: 82.0, Q2: 80.1}, target=85.0),
    "target-pro-rata": lambda: make(ind("Number", "Count"), {Q1: 580, Q2: 660}, target=2400.0),
    "target-profile": lambda: make(ind("Rate"), {Q1: 238.0, Q2: 229.0}, target=250.0, profile=(235, 240, 245, 250)),
    "run": lambda: make(ind("Rate", better="Low"), LAC, comparators=LAC_CMP),
    "run-one": lambda: make(ind("Percentage"), {year(2023): 87.0, year(2024): 83.0, Q2: 80.1}, target=85.0),
    "run-comparators": lambda: make(ind("Rate", better="Low"), {year(2022): 110.0, year(2023): 108.0, year(2024): 106.0,
                                                                Q1: 105.5, Q2: 105.0},
                                    comparators={year(2022): (100.0, 95.0), year(2023): (101.0, 96.4),
                                                 year(2024): (100.5, 96.8)}),
    "year-total": lambda: make(ind("Number", "Count"), {**{q(2023, n): v for n, v in enumerate((320, 310, 280, 290), 1)},
                                                        **{q(2024, n): v for n, v in enumerate((330, 300, 270, 260), 1)}},
                               at=q(2024, 4)),
    "previous": lambda: make(ind("Number and rate", better="Low"), {Q1: 191.6, Q2: 185.6},
                             numbers={Q1: 548, Q2: 531}),
    "previous-same": lambda: make(ind("Rate", better="Low"), LAC, comparators=LAC_CMP),
    "previous-ytd": lambda: make(ind("Percentage", "Cumulative"), {Q1: 46.5, Q2: 45.8}, target=46.0),
    "previous-ytd-same": lambda: make(ind("Percentage", "Cumulative"), {Q1: 95.8, Q2: 96.3}, target=97.0),
    "previous-added": lambda: make(ind("Number", "Cumulative", "Low"), {Q1: 262, Q2: 560}, target=1200.0,
                                   profile=(250, 550, 850, 1200)),
    "previous-added-same": lambda: make(ind("Number and rate", "Cumulative", "Low"), {Q1: 13.5, Q2: 27.0},
                                        numbers={Q1: 27, Q2: 54}, target=60.0),
    "previous-missing": lambda: make(ind("Number", "Count"), {q(2024, 2): 560, Q2: 660}),
    "last-year": lambda: make(ind("Number", "Count"), {q(2024, 2): 560, Q1: 580, Q2: 660}, target=2400.0),
    "last-year-same": lambda: make(ind("Rate", better="Low"), LAC, comparators=LAC_CMP),
    "last-year-ytd": lambda: make(ind("Percentage", "Cumulative"), {q(2024, 2): 46.8, Q1: 46.5, Q2: 45.8},
                                  target=46.0),
    "last-year-ytd-same": lambda: make(ind("Percentage", "Cumulative"), {q(2024, 2): 96.2, Q1: 95.8, Q2: 96.3},
                                       target=97.0),
    "comparators": lambda: make(ind("Rate", better="Low"), LAC, comparators=LAC_CMP),
    "comparators-older": lambda: make(ind("Rate", better="Low"), LAC, comparators={
        year(2022): (110.0, 70.0), year(2023): (112.0, 71.0)}),
    "gap-widened": lambda: make(ind("Rate", better="Low"), LAC, comparators=LAC_CMP),
    "gap-narrowed": lambda: make(ind("Rate", "Count"), {year(2022): 35.0, year(2023): 36.4, Q1: 10.4, Q2: 9.0},
                                 at=Q2, comparators={year(2022): (37.0, 40.0), year(2023): (37.0, 37.5)}),
    "lead-widened": lambda: make(ind("Rate"), LAC, comparators=LAC_CMP),
    "lead-narrowed": lambda: make(ind("Rate", "Count", "Low"), {year(2022): 35.0, year(2023): 36.4, Q1: 10.4, Q2: 9.0},
                                  at=Q2, comparators={year(2022): (37.0, 40.0), year(2023): (37.0, 37.5)}),
    "gap-crossed": lambda: make(ind("Rate", "Count"), {year(2023): 36.4, year(2024): 38.6, Q1: 10.4, Q2: 9.0},
                                comparators={year(2023): (37.0, 37.5), year(2024): (38.0, 38.0)}),
    "forecast": lambda: make(ind("Number", "Cumulative"), {Q1: 610, Q2: 1240}, target=2400.0),
    "forecast-no-target": lambda: make(ind("Number", "Count"), {Q1: 629, Q2: 514}),
    "forecast-profile": lambda: make(ind("Number", "Cumulative", "Low"), {Q1: 262, Q2: 560}, target=1200.0,
                                     profile=(250, 550, 850, 1200)),
    "projection-reaches": lambda: make(ind("Number", better="Low"), {q(2024, 1).step(i): 80.0 - 2 * i
                                                                     for i in range(6)},
                                       comparators={year(2024): (50.0, 66.0)}),
    "projection-widening": lambda: make(ind("Rate", better="Low"), {q(2024, 1).step(i): 190.0 + 2 * i
                                                                    for i in range(6)},
                                        comparators={year(2024): (113.0, 71.0)}),
    "projection-now": lambda: make(ind("Rate", better="Low"), {q(2023, 4): 2.8, q(2024, 1): 2.6, q(2024, 2): 2.7,
                                                               q(2024, 3): 2.8, q(2024, 4): 2.9, Q1: 3.5},
                                   at=Q1, comparators={year(2023): (3.0, 3.6), year(2024): (3.3, 4.0)}),
    "projection-too-far": lambda: make(ind("Number", better="Low"), {q(2024, 1).step(i): 80.0 - 0.5 * i
                                                                     for i in range(6)},
                                       comparators={year(2024): (50.0, 60.0)}),
}

# The words that stand in place of commentary, the reasons in the summary, the first page and notes
OTHERS: dict[str, Callable[[], str]] = {
    "no-return": lambda: no_return_text("Adult Social Care", dt.date(2025, 7, 14)),
    "no-figure": lambda: NO_FIGURE,
    "outstanding-missing": lambda: Outstanding("Adult Social Care", "missing", ("AS01", "AS02", "AS03", "AS04")).text(
        dt.date(2025, 7, 14), Q1),
    "outstanding-rejected": lambda: Outstanding("Housing", "rejected", ("HO01",), "2025-01-12T09:30:00+00:00").text(
        dt.date(2025, 1, 20), quarter(2024, 3)),
    **{f"note-{k.name.lower()}": (lambda k=k: k.values_note) for k in (SNAPSHOT, COUNT, CUMULATIVE)},  # type: ignore[misc]
}
REASONS: dict[str, Reason] = {
    "always": Reason("always"), "never": Reason("never"), "no-figure": Reason("no-figure", {"quarter": "2025/26 Q1"}),
    "below-target": Reason("below-target", {"rag": "Amber", "value": 1240, "target": 1300, "basis": "year to date"}),
    "worse-than-last-year": Reason("worse-than-last-year", {"value": 660, "last_year": 700, "basis": "value",
                                                            "last_year_period": "2024/25 Q2"}),
    "worse-than-comparators": Reason("worse-than-comparators", {"year": "2024/25"}),
    "red": Reason("red", {"value": 80.1, "target": 85, "basis": "value"}),
    "amber-worsening": Reason("amber-worsening", {"value": 298, "previous": 262, "previous_period": "2025/26 Q1",
                                                  "basis": "in the quarter"}),
    "missed-two-quarters": Reason("missed-two-quarters", {"quarter": "2025/26 Q2", "previous_period": "2025/26 Q1"}),
    "no-target": Reason("no-target"), "no-target-not-worse": Reason("no-target-not-worse"),
    "on-target": Reason("on-target"), "within-rule": Reason("within-rule"),
    "recorded": Reason("recorded", {"text": "worse than the same quarter last year, 514 against 781"}),
}


def documented() -> dict[str, str]:
    """Key -> example, from the headings (### `key`) and the quoted example line under each."""
    out: dict[str, str] = {}
    key = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if m := re.fullmatch(r"### `([a-z0-9-]+)`", line):
            key = m[1]
        elif key and line.startswith("> "):
            assert key not in out, f"{key} is documented twice"
            out[key] = line[2:]
            key = None
    return out


def rendered(key: str) -> str:
    if key in SCENARIOS:
        d = draft(SCENARIOS[key]())
        sentences = [text for para in d.paragraphs for k, text in para if k == key]
        assert sentences, f"the facts for {key} drafted no {key} sentence: {d.keys()}"
        return sentences[0]
    if key in OTHERS:
        return OTHERS[key]()
    reason = key.removeprefix("reason-")
    return reason_text(REASONS[reason], "Number" if reason != "red" else "Percentage", 1 if reason == "red" else 0)


def test_every_sentence_is_documented_with_an_example() -> None:
    docs = set(documented())
    expected = set(SENTENCES) | set(OTHERS) | {f"reason-{c}" for c in REASON_CODES}
    assert docs == expected
    assert set(SCENARIOS) == set(SENTENCES)


@pytest.mark.parametrize("key", sorted(set(SENTENCES) | set(OTHERS) | {f"reason-{c}" for c in REASON_CODES}))
def test_each_example_is_what_kpiflow_writes(key: str) -> None:
    assert documented()[key] == rendered(key)
