"""A council with every kind of indicator, run through the commands over six quarters, checked
against verdicts worked out by hand (tests/fixtures/council/README.md), and every drafted sentence
audited: each figure it quotes is in the values table or named for what it is."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from council import (
    AS,
    HO,
    PRESETS,
    QUARTERS,
    Council,
    Exception_,
    check_verdict,
    expected,
    explain,
    read_draft,
    start,
    steps,
)
from sentence_audit import unlabelled

from kpiflow.periods import Period, parse_period

Q1_2025, Q2_2025, Q3_2024 = (parse_period(q) for q in ("2025/26 Q1", "2025/26 Q2", "2024/25 Q3"))


@dataclass
class Run:
    council: Council
    verdicts: dict[tuple[str, str], dict[str, dict[str, Any]]] = field(default_factory=dict)  # (quarter, preset)
    status: dict[str, dict[str, Any]] = field(default_factory=dict)                          # quarter -> JSON
    status_text: dict[str, str] = field(default_factory=dict)
    drafts: dict[str, Path] = field(default_factory=dict)
    charts: dict[str, Any] = field(default_factory=dict)
    after: dict[str, dict[str, Any]] = field(default_factory=dict)    # status once the late return is in


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    c = start(tmp_path_factory.mktemp("council") / "home")
    r = Run(c)
    drafts = c.home / "outbox" / "drafts"
    for _, q in steps(c):
        r.drafts[q.label] = max(drafts.glob(f"*({q.short.replace('/', '-')})*.docx"), key=lambda p: p.stat().st_mtime)
        r.status[q.label] = json.loads(c.run("status", "--quarter", q.label, "--json"))
        r.status_text[q.label] = c.run("status", "--quarter", q.label)
        if q in (Q1_2025, Q2_2025):
            for preset in PRESETS:
                r.verdicts[(q.label, preset)] = explain(c, q, preset)
        if q == Q1_2025:
            r.charts["AS01"] = _chart_data(c, q, "AS01")
    for q in (Q3_2024, Q1_2025):
        r.after[q.label] = json.loads(c.run("status", "--quarter", q.label, "--json"))
    return r


def _chart_data(c: Council, quarter: Period, iid: str) -> Any:
    from kpiflow.assess import assess
    from kpiflow.catalogue import load_checked_catalogue
    from kpiflow.report import chart_specs
    from kpiflow.settings import load_settings
    from kpiflow.store import open_store

    settings = load_settings(c.home)
    with open_store(settings) as store:
        a = assess(settings, store, load_checked_catalogue(settings), quarter, [iid])[0]
    return chart_specs(a, settings.council)


# --- the hand-worked table ---

ROWS = expected()



@pytest.mark.parametrize("row", ROWS, ids=[f"{r['quarter']}-{r['id']}" for r in ROWS])
def test_verdicts_match_the_hand_worked_table(run: Run, row: dict[str, str]) -> None:
    check_verdict(run.verdicts, row)


def test_exception_counts_under_each_preset(run: Run) -> None:
    counts = {(q, p): sum(v["exception"] for v in run.verdicts[(q, p)].values())
              for q in ("2025/26 Q1", "2025/26 Q2") for p in PRESETS}
    assert counts == {("2025/26 Q1", "default"): 14, ("2025/26 Q1", "red"): 6,
                      ("2025/26 Q1", "red_or_amber_worsening"): 9, ("2025/26 Q1", "missed_two_quarters"): 4,
                      ("2025/26 Q2", "default"): 17, ("2025/26 Q2", "red"): 5,
                      ("2025/26 Q2", "red_or_amber_worsening"): 11, ("2025/26 Q2", "missed_two_quarters"): 9}


# --- missing figures ---

NO_RETURN = re.compile(r"No return received from Adult Social Care by \d{1,2} [A-Z][a-z]+ \d{4}\.")


def test_a_service_that_has_not_returned_is_on_the_first_page_and_in_status(run: Run) -> None:
    first_page, _, _ = read_draft(run.drafts["2025/26 Q1"])
    assert "Returns not in" in first_page
    listed = [t for t in first_page if t.startswith(f"{AS}:")]
    assert len(listed) == 1 and re.fullmatch(
        rf"{AS}: no return received by \d{{1,2}} [A-Z][a-z]+ \d{{4}}, so AS01, AS02, AS03 and AS04 have no "
        r"figures for Q1 2025/26\.", listed[0])
    out = run.status["2025/26 Q1"]["outstanding"]
    assert [(o["service"], o["state"], o["indicators"]) for o in out] == [(AS, "missing", ["AS01", "AS02", "AS03",
                                                                                         "AS04"])]
    assert "Not assessed, because their returns are not in: 4 indicators" in run.status_text["2025/26 Q1"]
    assert out[0]["text"] == listed[0] and f"  {listed[0]}" in run.status_text["2025/26 Q1"].splitlines()
    # once the late return is in, nothing is outstanding
    assert run.after["2025/26 Q1"]["outstanding"] == []


def test_an_always_indicator_without_a_return_says_so_and_has_no_rag_or_direction(run: Run) -> None:
    _, summary, exceptions = read_draft(run.drafts["2025/26 Q1"])
    as01 = exceptions["AS01"]
    assert NO_RETURN.fullmatch(as01.commentary) and NO_RETURN.fullmatch(as01.response)
    assert as01.values[2:4] == ["405", "-"]             # 2024/25, then Q1: no figure, nothing carried over
    row = next(r for r in summary if r[0].startswith("AS01"))
    assert row[1:4] == [" -", " -", "No figure"]
    assert "AS02" not in exceptions and "AS03" not in exceptions and "AS04" not in exceptions
    # its charts leave the missing quarter out
    (spec,) = run.charts["AS01"]
    assert dict(spec.series) == {"2024/25": (392, 398, None, 405), "2025/26": (None, None, None, None)}


def test_a_blank_figure_says_no_figure_given_with_the_returns_commentary(run: Run) -> None:
    _, _, exceptions = read_draft(run.drafts["2024/25 Q3"])
    assert exceptions["AS01"].commentary == ("No figure given.\nThe care records system was replaced in December; "
                                              "the figure will follow with the Q4 return.")


def test_a_rejected_return_not_sent_again_is_listed(run: Run) -> None:
    first_page, _, _ = read_draft(run.drafts["2024/25 Q3"])
    listed = [t for t in first_page if t.startswith(f"{HO}:")]
    assert len(listed) == 1 and "was rejected and has not been sent again, so HO01, HO02, HO03 and HO04 have no " \
                                 "figures for Q3 2024/25." in listed[0]
    assert [o["state"] for o in run.status["2024/25 Q3"]["outstanding"]] == ["rejected"]
    assert run.after["2024/25 Q3"]["outstanding"] == []


# --- the values table ---

def test_the_values_table_shows_what_each_figure_is_and_the_target_in_force(run: Run) -> None:
    _, _, ex = read_draft(run.drafts["2025/26 Q2"])
    assert ex["CS05"].values[-1] == "480.0 (Q2: 240.0)"
    assert ex["HO01"].values[-1] == "240 (Q2: 110)"
    assert ex["CO01"].values == ["No. year to date", "1,220", "1,180", "262", "560", "", "", "1,200 (Q2: 550)"]
    assert ex["AS04"].values[-1] == "250.0 (Q2: 240.0)"
    assert ex["EN01"].values == ["% year to date", "44.5%", "45.2%", "46.5%", "45.8%", "", "", "46.0%"]
    assert ex["CS04"].values == ["%", "87.0%", "83.0%", "82.0%", "80.1%", "", "", "85.0%"]
    assert ex["CO04"].values[0] == "No. (Rate)" and ex["CO04"].values[-1] == "No Target Set"
    assert ex["CO01"].note.startswith("Figures are for the year to date") and "(profile)" in ex["CO01"].note
    assert ex["CS04"].note == "Each figure is the position at the end of the period (a year's is at 31 March)."
    assert "HO03" not in ex                              # Never


def test_the_first_page_summary_keeps_capitals(run: Run) -> None:
    for q in run.drafts:
        _, summary, _ = read_draft(run.drafts[q])
        for row in summary:
            reason = row[-1]
            assert reason[:1].isupper(), reason
            for word in ("amber", "england", "green", "red:"):
                assert word not in reason, (q, reason)


# --- every drafted sentence ---

def drafted(ex: Exception_) -> str:
    return "" if ex.commentary.startswith("No figure given.") else ex.commentary


@pytest.mark.parametrize("quarter", [q.label for q in QUARTERS])
def test_every_figure_in_the_drafts_is_in_the_table_or_labelled(run: Run, quarter: str) -> None:
    _, _, exceptions = read_draft(run.drafts[quarter])
    assert exceptions
    problems = {iid: bad for iid, ex in exceptions.items() if (bad := unlabelled(drafted(ex), ex.values))}
    assert problems == {}
    for ex in exceptions.values():
        text = drafted(ex)
        assert "england" not in text and "amber" not in text and " than a year ago" not in text.replace(
            "better than a year ago", "").replace("worse than a year ago", "")


def test_the_audit_catches_an_unlabelled_year_to_date() -> None:
    # the example: a year-to-date sum quoted as if it were in the table
    table = ["No.", "2,400", "2,420", "580", "660", "", "", "2,400 (Q2: 1,200)"]
    assert unlabelled("At Q2 2025/26 it was 1,240 against 1,200.", table) == ["1,240"]
    assert unlabelled("At Q2 2025/26 the total for the year to date was 1,240 against a pro rata target of 1,200 "
                      "(Green).", table) == []


def test_crossing_a_comparator_is_never_called_narrowing(run: Run) -> None:
    _, _, ex = read_draft(run.drafts["2025/26 Q2"])
    text = ex["CO04"].commentary
    assert ("In 2024/25, the latest complete year, the rate was 38.6: above the statistical neighbours' average "
            "(38.0) and England (38.0). In 2023/24 it was below the statistical neighbours' average (37.0) and "
            "England (37.5).") in text
    assert "narrowed" not in text and "widened" not in text


def test_year_to_date_words(run: Run) -> None:
    _, _, ex = read_draft(run.drafts["2025/26 Q2"])
    assert ex["AS02"].commentary.startswith("At Q2 2025/26 the figure for the year to date was 580.0 against a pro "
                                            "rata target of 600.0 (Amber).")
    assert ("Q2 2025/26 on its own added 270.0 to the year to date, less than the 310.0 added in Q1 2025/26, "
            "a deterioration.") in ex["AS02"].commentary
    assert "At this pace it is on course for a rate of 1,160.0 per 100,000 by the year end, against a target of " \
           "1,200.0." in \
        ex["AS02"].commentary
    assert ex["EN01"].commentary.startswith("At Q2 2025/26 the figure for the year to date was 45.8% against a "
                                            "target of 46.0% (Amber).")
    _, _, q1 = read_draft(run.drafts["2025/26 Q1"])
    assert q1["EN01"].commentary.startswith("At Q1 2025/26 the figure for the year to date was 46.5% against a "
                                            "target of 46.0% (Green).")


def test_every_file_kpiflow_wrote_for_the_council_is_schema_valid(run: Run) -> None:
    """Every draft of the six quarters (among them one made while a return was still missing, and
    one with a blank figure), every issued return, every annotated feedback copy and the catalogue:
    every part valid against ECMA-376 transitional, as Word and Excel need (tests/ooxml_schema.py)."""
    from ooxml_schema import validate_package

    home = run.council.home
    written = sorted([*(home / "outbox").rglob("*.docx"), *(home / "outbox").rglob("*.xlsx"),
                      home / "workbook_templates" / "catalogue.xlsx"])
    drafts = [p for p in written if p.parent.name == "drafts"]
    assert len(drafts) == len(QUARTERS) and any(p.parent.name == "feedback" for p in written)
    assert any("Returns not in" in " ".join(read_draft(p)[0]) for p in drafts)
    assert {p: validate_package(p) for p in written} == {p: [] for p in written}
