"""The Appendix 6(b) draft, opened and read as a reader would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from docx import Document
from docx.table import Table
from docx_helpers import body_blocks, chart_parts, table_rows

from kpiflow.demo import DemoResult, example_return, run_demo

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    return run_demo(tmp_path_factory.mktemp("demo") / "demo")


SEED_VALUES = {
    "Number/Rate of children looked after per 10,000":
        ["No. (Rate)", "469 (162.8)", "525 (183.0)", "548 (191.6)", "531 (185.6)", "", "", "No Target Set"],
    "Number of early help assessments":
        ["No.", "New PI", "3,139", "629", "514", "", "", "No Target Set"],
    "Number/ rate of current children in need per 10,000 population (including LAC & CP)":
        ["No. (Rate)", "1,916 (665.0)", "2,118 (738.4)", "1,971 (689.0)", "1,932 (675.4)", "", "", "No Target Set"],
}
BETTER = {"Number/Rate of children looked after per 10,000": "Low", "Number of early help assessments": "High",
          "Number/ rate of current children in need per 10,000 population (including LAC & CP)": "Low"}


def test_the_report_is_where_the_demo_says(demo: DemoResult) -> None:
    assert demo.report.name == "Appendix 6(b) - Exception Reports (Q2 2017-18).docx"
    assert demo.report.parent == demo.home / "outbox" / "drafts"
    assert f"Report: {demo.report}" in demo.lines


def test_running_header(demo: DemoResult) -> None:
    doc = Document(str(demo.report))
    assert doc.sections[0].header.paragraphs[0].text == "Appendix 6(b) - Exception Reports (Q2 2017/18)"


def test_each_exception_has_the_seeds_tables(demo: DemoResult) -> None:
    blocks = body_blocks(demo.report)
    tables = [b for b in blocks if isinstance(b, Table)]
    described = {}
    for i, t in enumerate(tables):
        r = table_rows(t)
        if r[0] == ["Indicator Description", "Better to be?"]:
            described[r[1][0]] = (r[1][1], table_rows(tables[i + 1]))
    assert set(described) == set(SEED_VALUES)
    for name, (better, values) in described.items():
        assert better == BETTER[name]
        assert values[0] == ["", "2015/16", "2016/17", "2017/18", "Target"]
        assert values[1][3:7] == ["Q1", "Q2", "Q3", "Q4"]
        assert values[2] == SEED_VALUES[name]


def test_portfolio_heading_in_capitals_once_and_each_exception_on_a_new_page(demo: DemoResult) -> None:
    doc = Document(str(demo.report))
    def level(style: object) -> int | None:
        while style is not None:
            if style.name.startswith("Heading "):  # type: ignore[attr-defined]
                return int(style.name.split()[1])  # type: ignore[attr-defined]
            style = style.base_style  # type: ignore[attr-defined]
        return None

    headings = [(level(p.style), p.text) for p in doc.paragraphs if level(p.style)]
    # real headings, in order and never empty: the overview (level 1, its parts level 2), the first page's, the
    # portfolio once (level 1), each exception (level 2)
    assert headings[:3] == [(1, "Performance at a glance"), (2, "How many"), (2, "Every indicator")]
    assert headings[5:] == [
        (1, "CABINET SECRETARY FOR RESILIENT COMMUNITIES & CHILDRENS"),
        (2, "Number/Rate of children looked after per 10,000"),
        (2, "Number of early help assessments"),
        (2, "Number/ rate of current children in need per 10,000 population (including LAC & CP)")]
    # each exception starts a new page: at its portfolio's heading where it opens one, else at its own
    starts = [p.text for p in doc.paragraphs if p.style.paragraph_format.page_break_before]
    assert starts == ["CABINET SECRETARY FOR RESILIENT COMMUNITIES & CHILDRENS", "Number of early help assessments",
                      "Number/ rate of current children in need per 10,000 population (including LAC & CP)"]


def test_service_responses_verbatim(demo: DemoResult) -> None:
    texts = [b for b in body_blocks(demo.report) if isinstance(b, str)]
    for figures in example_return()["figures"].values():
        for para in figures["Service response"].split("\n"):
            assert para in texts
    assert "As part of the Children’s Services improvement plan" in "\n".join(texts)
    # each response follows its "Service Response:" label
    assert texts.count("Service Response:") == 3


def test_commentary_is_drafted_from_the_figures(demo: DemoResult) -> None:
    text = "\n".join(b for b in body_blocks(demo.report) if isinstance(b, str))
    assert "At Q2 2017/18 it fell slightly compared with Q1 2017/18 (185.6 against 191.6), an improvement." in text
    assert "It is significantly lower than in Q2 2016/17 (514 against 781), worse than a year ago." in text
    assert "it would reach the statistical neighbours' average (600.0) by Q3 2018/19" in text


def test_breakdown_table(demo: DemoResult) -> None:
    tables = [table_rows(b) for b in body_blocks(demo.report) if isinstance(b, Table)]
    breakdown = [t for t in tables if t[0] == ["Category", "Number"]]
    assert breakdown == [[["Category", "Number"], ["Under 1", "39"], ["1-4 yrs", "71"], ["5-9 yrs", "127"],
                          ["10-15 yrs", "199"], ["16 and over", "89"]]]


def test_native_charts_with_data(demo: DemoResult) -> None:
    charts = chart_parts(demo.report)
    titles = [c.title for c in charts]
    assert all(c.has_workbook for c in charts)
    comparators = [c for c in charts if "statistical neighbours and England" in c.title]
    assert len(comparators) == 2   # CS01 and CS03 have comparators; CS02 has none
    lac = comparators[0]
    assert lac.series_names == ("Blackpool Council", "Statistical neighbours", "England")
    assert lac.categories[-1] == "Q2 2017/18"
    # England publishes whole years: nothing is plotted against the quarter but the council's own figure
    assert lac.values[0][-1] == 185.6 and lac.values[2][-3:] == (60, 62, None)
    assert any("if the trend continues" in t for t in titles)
    assert any("quarter by quarter" in t for t in titles)   # early help: this year against last
    assert any("month by month" in t for t in titles)       # children in need has monthly figures


def test_no_template_tags_left(demo: DemoResult) -> None:
    text = "\n".join(b for b in body_blocks(demo.report) if isinstance(b, str))
    assert "{{" not in text and "{%" not in text


NASTY = 'Costs & <savings> "quoted" \'single\' 😀 =SUM(A1) \u2013 done\r\nSecond line\tafter a tab\n\nThird'


def test_user_text_survives_exactly(home: Path, store: object, catalogue: object, issued: Path,
                                    tmp_path: Path) -> None:
    from kpiflow.pipeline import process_file
    from kpiflow.report.word import render_report
    from kpiflow.settings import load_settings
    from kpiflow.workbook.build import fill_return

    settings = load_settings(home)
    long_text = "Long response. " * 340   # about 5,000 characters
    figures = {
        "CS01": {"Number": 531, "Rate": 185.6, "Commentary": NASTY, "Service response": long_text},
        "CS02": {"Number": 514, "Service response": NASTY},
        "CS03": {"Number": 1932, "Rate": 675.4, "Service response": "-starts with a minus & ends <here>"},
    }
    filled = fill_return(issued, settings.inbox / issued.name, {"Completed by": "A & B <team>"}, figures)
    assert process_file(settings, store, catalogue, filled).status == "accepted"  # type: ignore[arg-type]
    from kpiflow.periods import parse_period

    report = render_report(settings, store, catalogue, parse_period("2017/18 Q2"))  # type: ignore[arg-type]
    texts = [b for b in body_blocks(report) if isinstance(b, str)]
    expected = ['Costs & <savings> "quoted" \'single\' 😀 =SUM(A1) \u2013 done', "Second line\tafter a tab", "Third"]
    start = texts.index(expected[0])
    assert texts[start:start + 3] == expected                     # commentary, as real paragraphs
    assert texts.count(expected[0]) == 2                          # and the CS02 response
    assert long_text.strip() in texts
    assert "-starts with a minus & ends <here>" in texts


def test_image_charts_when_asked(home: Path, store: object, catalogue: object, filled: Path) -> None:
    pytest.importorskip("matplotlib")
    from kpiflow.periods import parse_period
    from kpiflow.pipeline import process_file
    from kpiflow.report.word import render_report
    from kpiflow.settings import load_settings

    toml = home / "kpiflow.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('# charts = "native"', 'charts = "image"'),
                    encoding="utf-8")
    settings = load_settings(home)
    assert settings.charts == "image"
    assert process_file(settings, store, catalogue, filled).status == "accepted"  # type: ignore[arg-type]
    report = render_report(settings, store, catalogue, parse_period("2017/18 Q2"))  # type: ignore[arg-type]
    assert chart_parts(report) == []
    doc = Document(str(report))
    assert len(doc.inline_shapes) == 5   # the same five charts, as pictures


def test_a_quarter_with_no_exceptions_says_so(home: Path, store: object, catalogue: object) -> None:
    from kpiflow.periods import parse_period
    from kpiflow.report.word import render_report
    from kpiflow.settings import load_settings

    # no target is set, so under the "red" rule nothing can be an exception
    toml = home / "kpiflow.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("[rules]", '[rules]\nexception = "red"'), encoding="utf-8")
    report = render_report(load_settings(home), store, catalogue, parse_period("2017/18 Q1"))  # type: ignore[arg-type]
    texts = [b for b in body_blocks(report) if isinstance(b, str)]
    assert "No indicator is an exception this quarter." in texts
    assert "Service Response:" not in texts


def test_a_quarter_with_no_figures_at_all_is_refused(home: Path, store: object) -> None:
    """A mistyped quarter must not give a normal-looking report."""
    drafts = home / "outbox" / "drafts"
    r = subprocess.run([sys.executable, "-m", "kpiflow", "report", "--quarter", "2031/32 Q1", "--home", str(home)],
                       capture_output=True, text=True)
    assert r.returncode == 1, r.stderr
    assert "No figures have been received for Q1 2031/32, so no report was written." in r.stderr
    assert not drafts.exists() or not any(drafts.iterdir())


def test_a_second_draft_never_overwrites_the_first(demo: DemoResult) -> None:
    from kpiflow.catalogue import load_checked_catalogue
    from kpiflow.periods import parse_period
    from kpiflow.report.word import render_report
    from kpiflow.settings import load_settings
    from kpiflow.store import open_store

    settings = load_settings(demo.home)
    before = demo.report.read_bytes()
    with open_store(settings) as store:
        again = render_report(settings, store, load_checked_catalogue(settings), parse_period("2017/18 Q2"))
    assert again.name == "Appendix 6(b) - Exception Reports (Q2 2017-18) (2).docx"
    assert demo.report.read_bytes() == before
    again.unlink()


def test_portfolios_in_catalogue_order_and_no_blank_last_page(tmp_path: Path) -> None:
    """Two portfolios, the second listed first in no way but the catalogue's order; the last
    exception ends the document (no page break after it)."""
    from kpiflow.catalogue import load_checked_catalogue
    from kpiflow.init import init_home
    from kpiflow.model import Catalogue, Figures, Indicator
    from kpiflow.periods import parse_period
    from kpiflow.report.word import render_report
    from kpiflow.settings import load_settings
    from kpiflow.store import open_store
    from kpiflow.workbook.build import write_catalogue

    home = tmp_path / "h"
    init_home(home)
    inds = tuple(Indicator(iid, f"Indicator {iid}", portfolio, "Service", "High", "Number", None, "Quarterly",
                           "Count", None, "Always")
                 for iid, portfolio in (("Z1", "Zebra Portfolio"), ("A1", "Aardvark Portfolio"),
                                        ("Z2", "Zebra Portfolio")))
    write_catalogue(home / "workbook_templates" / "catalogue.xlsx", Catalogue(inds, {}))
    settings = load_settings(home)
    q = parse_period("2017/18 Q2")
    with open_store(settings) as store:
        store.load_history([(i.id, q, Figures(10, None, None, None)) for i in inds], "test")
        report = render_report(settings, store, load_checked_catalogue(settings), q)
    doc = Document(str(report))
    headings = [p.text for p in doc.paragraphs if p.style.name == "Portfolio Heading"]
    assert headings == ["ZEBRA PORTFOLIO", "AARDVARK PORTFOLIO"]
    descriptions = [t for t in body_blocks(report) if isinstance(t, Table) and table_rows(t)[0][0] == "Indicator Description"]
    assert [table_rows(t)[1][0] for t in descriptions] == ["Indicator Z1", "Indicator Z2", "Indicator A1"]
    body = doc.element.body
    last_blocks = [el for el in body if el.tag != f"{W}sectPr"][-3:]
    assert not any(el.findall(f".//{W}br[@{W}type='page']") for el in last_blocks)
    assert not any(el.findall(f".//{W}pageBreakBefore") for el in last_blocks)


def test_the_summary_keeps_capitals_as_in_the_key(demo: DemoResult) -> None:
    """Capitalising a reason must not lower-case the rest ("england", "amber" were printed)."""
    summary = next(table_rows(b) for b in body_blocks(demo.report) if isinstance(b, Table) and table_rows(b)[0][0] == "Indicator")
    reasons = [r[-1] for r in summary[1:]]
    assert reasons[0] == ("Worse than the same quarter last year (185.6 against 173.2); worse than the statistical "
                          "neighbours' average and England in 2016/17, and the gap is not narrowing")
    assert all(r[:1].isupper() and "england" not in r for r in reasons)


def test_table_rows_never_split_and_headers_repeat(demo: DemoResult) -> None:
    doc = Document(str(demo.report))
    tables = {t.rows[0].cells[0].text: t for t in doc.tables}

    def flags(table: Table) -> list[tuple[bool, bool]]:
        out = []
        for row in table.rows:
            tr_pr = row._tr.trPr
            out.append((tr_pr is not None and tr_pr.find(f"{W}cantSplit") is not None,
                        tr_pr is not None and tr_pr.find(f"{W}tblHeader") is not None))
        return out

    assert flags(tables["Indicator"]) == [(True, True)] + [(True, False)] * 3      # the summary, three exceptions
    values = next(t for t in doc.tables if t.rows[0].cells[1].text == "2015/16")
    assert flags(values) == [(True, True), (True, True), (True, False)]
    assert flags(tables["Category"]) == [(True, True)] + [(True, False)] * 5
    assert flags(tables["Indicator Description"]) == [(True, True), (True, False)]


# -- a fresh draft that keeps the officer's edits -------------------------------------------------

def test_keep_edits_carries_the_edited_words_into_a_draft_with_todays_figures(demo: DemoResult,
                                                                              tmp_path: Path) -> None:
    from publish_helpers import (
        QUARTER,
        W_NS,
        copy_demo,
        corrected_return,
        edit_xml,
        kpiflow,
        no_soffice_env,
        para,
        region,
        rewrite,
    )

    from kpiflow.docx.harvest import harvest

    fresh = copy_demo(demo, tmp_path / "demo")
    w = f"{{{W_NS}}}"
    drafts = fresh.home / "outbox" / "drafts"

    def edit(root: object) -> None:
        region(root, "CS01", "commentary").find(f"{w}sdtContent").append(para("An officer's own sentence."))
        content = region(root, "CS02", "response").find(f"{w}sdtContent")
        for p in list(content):
            content.remove(p)
        content.append(para("Rewritten by the officer."))

    edited = rewrite(fresh.report, drafts / "edited.docx", {"word/document.xml": edit_xml(edit)})
    # CS02 recovers: a corrected return makes it no longer an exception
    corrected_return(fresh, {"CS02": {"Number": 900}, "CS03": {"Service response": "A newer response from the "
                                                                                   "service."}}, "corrected.xlsx")
    assert kpiflow(fresh.home, "ingest").returncode == 0
    stale = kpiflow(fresh.home, "publish", "--quarter", QUARTER, "--from", str(edited))
    assert stale.returncode == 1 and "stale-draft" in stale.stdout

    r = kpiflow(fresh.home, "report", "--quarter", QUARTER, "--keep-edits", str(edited))
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    new = Path(r.stdout.split("Draft report: ", 1)[1].splitlines()[0])
    assert "CS01 commentary" in r.stdout                       # what was carried over
    assert "No longer an exception: CS02" in r.stdout           # and what is gone
    h, old = harvest(new), harvest(edited)
    assert h.get("CS01", "commentary") == old.get("CS01", "commentary")
    assert h.get("CS02", "commentary") is None                  # not an exception any more
    assert h.get("CS03", "response") == "A newer response from the service."   # unedited: today's words
    # words carried over stay the officer's: a fresh draft from this one carries them again
    again = kpiflow(fresh.home, "report", "--quarter", QUARTER, "--keep-edits", str(new))
    assert again.returncode == 0 and "to: CS01 commentary" in again.stdout, again.stdout
    published = kpiflow(fresh.home, "publish", "--quarter", QUARTER, "--from", str(new),
                        env=no_soffice_env(tmp_path / "bin"))
    assert published.returncode == 0, published.stdout

    # and the other way: a new exception since the edited draft
    assert kpiflow(fresh.home, "reopen", "--quarter", QUARTER, "--reason", "CS02 again").returncode == 0
    corrected_return(fresh, {"CS02": {"Number": 514}}, "corrected again.xlsx")
    assert kpiflow(fresh.home, "ingest").returncode == 0
    later = kpiflow(fresh.home, "report", "--quarter", QUARTER, "--keep-edits", str(new))
    print(later.stdout)
    assert later.returncode == 0, later.stdout + later.stderr
    assert "New exception: CS02" in later.stdout


def test_keep_edits_refuses_a_draft_for_another_quarter(demo: DemoResult, tmp_path: Path) -> None:
    from publish_helpers import QUARTER, copy_demo, kpiflow

    fresh = copy_demo(demo, tmp_path / "demo")
    r = kpiflow(fresh.home, "report", "--quarter", "2017/18 Q1", "--keep-edits", str(fresh.report))
    print(r.stdout)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "wrong-quarter" in r.stdout and "made for 2017/18 Q2, not 2017/18 Q1" in r.stdout
    assert QUARTER in r.stdout
    assert sorted(p.name for p in (fresh.home / "outbox" / "drafts").iterdir()) == [fresh.report.name]
