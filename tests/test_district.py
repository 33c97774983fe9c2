"""A second council, Eastbridge District Council, run through the commands over five quarters across a year end
(tests/fixtures/district/README.md): verdicts against a table worked out by hand, and every drafted sentence of its
Q4 and Q1 drafts read as Cabinet would read it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from council import PRESETS, check_verdict
from district import CU, INDICATORS, Q1_2025, Q4_2024, RB, District, expected, figures, start, steps
from docx_helpers import body_blocks, table_rows
from sentence_audit import unlabelled

from kpiflow.periods import Period, parse_period

CHECKED = (Q4_2024, Q1_2025)


@dataclass(frozen=True)
class Section:
    """One exception as the draft shows it."""

    id: str
    values: list[str]          # the values row: label, two years, Q1-Q4, target
    commentary: str


@dataclass
class Run:
    district: District
    verdicts: dict[tuple[str, str], dict[str, dict[str, Any]]] = field(default_factory=dict)
    drafts: dict[str, dict[str, Section]] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    feedback: dict[str, str] = field(default_factory=dict)


def read_sections(path: Path) -> dict[str, Section]:
    from docx.table import Table

    from kpiflow.docx.harvest import harvest

    by_name = {i.name: i.id for i in INDICATORS}
    blocks = body_blocks(path)
    texts = harvest(path)
    out: dict[str, Section] = {}
    for i, b in enumerate(blocks):
        if isinstance(b, Table) and table_rows(b)[0] == ["Indicator Description", "Better to be?"]:
            iid = by_name[table_rows(b)[1][0]]
            at = next(j for j in range(i + 1, len(blocks)) if isinstance(blocks[j], Table))
            out[iid] = Section(iid, table_rows(blocks[at])[2], texts.get(iid, "commentary") or "")
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    d = start(tmp_path_factory.mktemp("district") / "home")
    r = Run(d)
    for q in steps(d):
        if q not in CHECKED:
            continue
        drafts = d.home / "outbox" / "drafts"
        draft = max(drafts.glob(f"*({q.short.replace('/', '-')})*.docx"), key=lambda p: p.stat().st_mtime)
        r.drafts[q.label] = read_sections(draft)
        r.files[q.label] = draft
        for name, preset in PRESETS.items():
            d.set_rule(preset)
            r.verdicts[(q.label, name)] = {x["id"]: x for x in json.loads(d.run("explain", "--quarter", q.label,
                                                                                "--json"))}
        d.set_rule(PRESETS["default"])
        feedback = d.home / "outbox" / "feedback" / f"{RB}_{q.file_label} - feedback.txt"
        r.feedback[q.label] = feedback.read_text(encoding="utf-8")
    return r


# --- the hand-worked table ---

ROWS = expected()



@pytest.mark.parametrize("row", ROWS, ids=[f"{r['quarter']}-{r['id']}" for r in ROWS])
def test_verdicts_match_the_hand_worked_table(run: Run, row: dict[str, str]) -> None:
    check_verdict(run.verdicts, row)


def test_exception_counts_under_each_preset(run: Run) -> None:
    counts = {(q.label, p): sum(v["exception"] for v in run.verdicts[(q.label, p)].values())
              for q in CHECKED for p in PRESETS}
    assert counts == {("2024/25 Q4", "default"): 10, ("2024/25 Q4", "red"): 4,
                      ("2024/25 Q4", "red_or_amber_worsening"): 5, ("2024/25 Q4", "missed_two_quarters"): 7,
                      ("2025/26 Q1", "default"): 11, ("2025/26 Q1", "red"): 6,
                      ("2025/26 Q1", "red_or_amber_worsening"): 6, ("2025/26 Q1", "missed_two_quarters"): 6}


# --- the five kinds of misleading sentence (issue: "every drafted sentence true on a second council") ---

def test_faster_than_only_when_the_comparator_moved_the_same_way(run: Run) -> None:
    q1 = run.drafts["2025/26 Q1"]["RB03"].commentary
    # the rate fell 110.0 -> 106.0 while both comparators rose: say what each did
    assert "faster than" not in q1
    assert ("The rate has decreased in each year since 2022/23. Over the same years the statistical neighbours' "
            "average rose from 100.0 to 100.5 and England's from 95.0 to 96.8.") in q1
    q4 = run.drafts["2024/25 Q4"]
    for iid in ("RB03", "WS02", "LC02"):
        assert "faster than" not in q4[iid].commentary, iid
    assert ("The rate decreased from 2022/23 to 2023/24. Over the same years the statistical neighbours' average "
            "rose from 15.0 to 15.2 and England's from 18.0 to 18.4.") in q4["WS02"].commentary


def test_a_projection_names_its_period_and_never_contradicts_the_comparator_paragraph(run: Run) -> None:
    text = run.drafts["2025/26 Q1"]["LC02"].commentary
    assert ("In 2024/25, the latest complete year, the rate was 2.9: below the statistical neighbours' average (3.3) "
            "and England (4.0). The leads over the statistical neighbours' average and England have widened since "
            "2023/24.") in text
    assert ("At Q1 2025/26 the rate (3.5) was above the statistical neighbours' average for 2024/25 (3.3): if the "
            "trend of the last 6 quarters were to continue, the gap would keep widening.") in text


def test_an_accumulating_percentage_is_never_compared_with_the_quarter_before(run: Run) -> None:
    q4, q1 = run.drafts["2024/25 Q4"]["RB01"].commentary, run.drafts["2025/26 Q1"]["RB01"].commentary
    assert "Q3 2024/25" not in q4 and "Q4 2024/25" not in q1
    assert "deterioration" not in q1 and "significantly" not in q1
    assert q1.startswith("At Q1 2025/26 the figure for the year to date was 28.2% against a profiled target of 28.5% "
                         "(Red).")
    assert ("The year to date is slightly lower than at the same point last year (28.2% against 28.6% at Q1 2024/25), "
            "worse than a year ago.") in q1
    # nor is its big-change warning: 28.2% at Q1 against 96.3% at Q4 is the year restarting
    assert "RB01" not in run.feedback["2025/26 Q1"], run.feedback["2025/26 Q1"]


def test_a_year_to_date_percentage_is_not_compared_with_last_years_q4_at_q1(run: Run) -> None:
    text = run.drafts["2025/26 Q1"]["PH01"].commentary
    assert "compared with Q4 2024/25" not in text and "92.6% against" not in text
    assert "The year to date is lower than at the same point last year (88.0% against 94.0% at Q1 2024/25)" in text


def test_a_target_in_force_is_shown_precisely_enough_for_its_rag(run: Run) -> None:
    ws03 = run.drafts["2025/26 Q1"]["WS03"]
    assert ws03.commentary.startswith("At Q1 2025/26 the figure for the year to date was 2.9 against a pro rata target "
                                      "of 2.75 (Red).")
    assert ws03.values[-1] == "11.0 (Q1: 2.75)"


def test_equal_figures_are_the_same_not_about_the_same(run: Run) -> None:
    q1 = run.drafts["2025/26 Q1"]
    assert "At Q1 2025/26 it was the same as at Q4 2024/25 (22)." in q1["RB02"].commentary
    assert "That is the same as in Q1 2024/25 (2)." in q1["CU01"].commentary


def test_small_counts_are_given_as_figures_without_significantly(run: Run) -> None:
    q1, q4 = run.drafts["2025/26 Q1"]["CU01"].commentary, run.drafts["2024/25 Q4"]["CU01"].commentary
    assert "In Q1 2025/26 it fell compared with Q4 2024/25 (2 against 4), an improvement." in q1
    assert "In Q4 2024/25 it rose compared with Q3 2024/25 (4 against 3), a deterioration." in q4
    assert "It is higher than in Q4 2023/24 (4 against 3), worse than a year ago." in q4


def test_a_forecast_of_a_rate_says_it_is_a_rate(run: Run) -> None:
    q1 = run.drafts["2025/26 Q1"]
    assert ("At this pace it is on course for a rate of 588.0 per 10,000 by the year end, against a target of "
            "600.0.") in q1["LC03"].commentary
    assert ("At this pace it is on course for a rate of 2,120.0 per 1,000 by the year end, against a target of "
            "2,000.0.") in q1["LC01"].commentary
    assert "At this pace it is on course for 368 by the year end, against a target of 410." in q1["PH03"].commentary


def test_at_q4_comparators_of_an_earlier_year_are_not_the_latest_complete_year(run: Run) -> None:
    q4 = run.drafts["2024/25 Q4"]
    for iid in ("RB03", "WS01", "WS02", "LC02"):
        assert "In 2023/24, the latest year with comparator figures," in q4[iid].commentary, iid
        assert "latest complete year" not in q4[iid].commentary, iid


def test_at_q4_a_count_without_a_target_gives_its_year_total(run: Run) -> None:
    text = run.drafts["2024/25 Q4"]["PH02"].commentary
    assert "The total for 2024/25 was 1,160, lower than the 1,200 of 2023/24." in text


def test_q1_is_not_said_to_add_to_the_year_to_date_on_its_own(run: Run) -> None:
    q1 = run.drafts["2025/26 Q1"]
    for iid in ("PH03", "WS03", "LC03"):
        assert "on its own added" not in q1[iid].commentary, iid
    assert "Q1 2025/26 added 92, more than the 87 added in Q4 2024/25, an improvement." in q1["PH03"].commentary


def test_one_indicator_keeps_its_decimals_from_quarter_to_quarter(run: Run) -> None:
    # PH03's target of 410 is 102.5 pro rata at Q1: the target in force has its half, the homes stay whole
    ph03 = run.drafts["2025/26 Q1"]["PH03"]
    assert ph03.values == ["No. year to date", "390", "420", "92", "", "", "", "410 (Q1: 102.5)"]
    assert ph03.commentary.startswith("At Q1 2025/26 the figure for the year to date was 92 against a pro rata target "
                                      "of 102.5 (Red).")
    assert not re.search(r"\b\d+\.0\b", ph03.commentary), ph03.commentary


# --- every drafted sentence, audited ---

def _comparator_runs() -> dict[tuple[str, str], tuple[float | None, float | None]]:
    return {(r.iid, r.period.label): (r.values[2], r.values[3]) for r in figures() if r.period.kind == "year"}


RUN = re.compile(r"(increased|decreased) (?:in each year since (\d{4}/\d{2})|from (\d{4}/\d{2}) to (\d{4}/\d{2}))"
                 r"(?:,| \([^)]*\),) (faster|slower) than ([^.;]+)")


@pytest.mark.parametrize("quarter", [q.label for q in CHECKED])
def test_no_faster_than_a_comparator_moving_the_other_way(run: Run, quarter: str) -> None:
    cmp = _comparator_runs()
    q = parse_period(quarter)
    for iid, s in run.drafts[quarter].items():
        for m in RUN.finditer(s.commentary):
            falling = m.group(1) == "decreased"
            since = m.group(2) or m.group(3)
            until = m.group(4) or q.year.step(-1).label
            for index, name in ((0, "statistical neighbours"), (1, "England")):
                if name in m.group(6):
                    a, b = cmp[(iid, since)][index], cmp[(iid, until)][index]
                    assert a is not None and b is not None and (b < a) == falling, (iid, m.group())


@pytest.mark.parametrize("quarter", [q.label for q in CHECKED])
def test_a_lead_is_never_called_a_gap_in_the_same_commentary(run: Run, quarter: str) -> None:
    for iid, s in run.drafts[quarter].items():
        sentences = re.split(r"(?<=\.) ", s.commentary.replace("\n", " "))
        for name in ("the statistical neighbours' average", "England"):
            leads = [x for x in sentences if re.search(rf"[Ll]eads? over [^.]*{re.escape(name)}", x)]
            gaps = [x for x in sentences if "gap" in x and (name in x or "the gap would" in x)]
            if leads and gaps:
                # the projection speaks of this quarter's figure: it must say so
                assert all(re.search(r"At Q[1-4] \d{4}/\d{2}", x) for x in gaps), (iid, gaps)


@pytest.mark.parametrize("quarter", [q.label for q in CHECKED])
def test_every_figure_in_the_drafts_is_in_the_table_or_labelled(run: Run, quarter: str) -> None:
    sections = run.drafts[quarter]
    assert sections
    assert {iid: bad for iid, s in sections.items() if (bad := unlabelled(s.commentary, s.values))} == {}


def test_a_service_late_at_q3_and_a_resubmission_are_in_the_record(run: Run) -> None:
    out = run.district.run("history", "--service", CU)
    assert "2024/25 Q3" in out
    period: Period = parse_period("2024/25 Q2")
    assert period.label in run.district.run("history", "--service", "Waste and Street Scene")


# --- charts that do not exaggerate ---

C = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"
A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"


def _charts(path: Path) -> list[Any]:
    import zipfile

    from lxml import etree

    with zipfile.ZipFile(path) as z:
        return [etree.fromstring(z.read(n)) for n in sorted(z.namelist()) if re.fullmatch(r"word/charts/chart\d+\.xml", n)]


def _title(chart: Any) -> str:
    return "".join(chart.find(f"{C}chart/{C}title").itertext())


@pytest.mark.parametrize("quarter", [q.label for q in CHECKED])
def test_column_charts_start_at_zero_and_each_series_keeps_its_look(run: Run, quarter: str) -> None:
    charts = _charts(run.files[quarter])
    assert charts
    looks: dict[str, set[str]] = {}
    for chart in charts:
        if chart.find(f".//{C}barChart") is not None:
            assert chart.find(f".//{C}valAx/{C}scaling/{C}min").get("val") == "0.0", _title(chart)
        for ser in chart.iter(f"{C}ser"):
            name = ser.find(f"{C}tx//{C}v").text
            line = ser.find(f"{C}spPr/{A}ln/{A}prstDash")
            marker = ser.find(f"{C}marker/{C}symbol")
            if line is not None and marker is not None:
                colour = ser.find(f"{C}spPr/{A}ln/{A}solidFill/{A}srgbClr").get("val")
                key = "England" if name.startswith("England") else "neighbours" if name.startswith("Statistical") \
                    else name
                looks.setdefault(key, set()).add(f"{colour} {line.get('val')} {marker.get('val')}")
            for v in ser.iter(f"{C}v"):
                # cached values rounded as shown: never 13.399999999999999
                assert not re.fullmatch(r"-?\d+\.\d{3,}", v.text or ""), (_title(chart), v.text)
    assert looks["England"] and all(len(v) == 1 for v in looks.values()), looks


def test_month_by_month_only_against_a_year_that_has_months(run: Run) -> None:
    q4 = [_title(c) for c in _charts(run.files["2024/25 Q4"])]
    q1 = [_title(c) for c in _charts(run.files["2025/26 Q1"])]
    # RB03's and WS02's months start in April 2024: at 2024/25 Q4 there is no 2023/24 to set them against
    assert not [t for t in q4 if "month by month" in t], q4
    assert [t for t in q1 if "month by month, 2025/26 against 2024/25" in t]


def test_the_key_speaks_of_the_councils_own_rates(run: Run) -> None:
    from docx import Document

    for q in CHECKED:
        text = "\n".join(p.text for p in Document(str(run.files[q.label])).paragraphs)
        assert "children" not in text
    q1 = "\n".join(p.text for p in Document(str(run.files["2025/26 Q1"])).paragraphs)
    # RB03 (per 1,000) and LC03 (per 10,000) are the number-and-rate exceptions at 2025/26 Q1
    assert "469 (162.8): the number, with the rate per 1,000 or per 10,000 in brackets." in q1


def test_every_file_kpiflow_wrote_for_the_district_is_schema_valid(run: Run) -> None:
    """The five quarters' drafts (a rejected return, a late service, the overview where the template has it),
    issued returns, feedback copies and the catalogue: every part valid against ECMA-376 transitional."""
    from ooxml_schema import validate_package

    home = run.district.home
    written = sorted([*(home / "outbox").rglob("*.docx"), *(home / "outbox").rglob("*.xlsx"),
                      home / "workbook_templates" / "catalogue.xlsx"])
    assert len([p for p in written if p.parent.name == "drafts"]) == 5
    assert {p: validate_package(p) for p in written} == {p: [] for p in written}
