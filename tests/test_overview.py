"""Performance at a glance (PRODUCT.md section 19) on Eastbridge District Council at 2025/26 Q1 with Leisure and
Communities late: the rows, forecast states and counts against the table worked out by hand in
tests/fixtures/district/README.md ("Performance at a glance"), by portfolio and by priority; the Word section as
printed (a real heading, header row marked and repeated, RAG in words and shading, links to each exception's heading);
``status --json`` from the same code; ``overview = false``; a council's template without the section."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from district import INDICATORS, LC, Q1_2025, District, start, steps
from docx_helpers import body_blocks, table_rows

from kpiflow.catalogue import load_checked_catalogue
from kpiflow.docx.xml import q
from kpiflow.report.context import ReportContext, build_context
from kpiflow.report.gather import gather
from kpiflow.settings import load_settings
from kpiflow.store import open_store

# ID: figure, period, target in force, RAG, against last year, forecast, exception (the README's table)
Y, P = "Q1 2025/26, year to date", "Q1 2025/26"
ROWS = {
    "RB01": ("28.2%", Y, "28.5%", "Red", "Worsened", "-", True),
    "RB02": ("22", P, "20", "Red", "Worsened", "-", True),
    "RB03": ("4,220 (105.5)", P, "No Target Set", "No target", "Improved", "-", True),
    "CU01": ("2", P, "3", "Green", "No change", "On track", True),
    "CU02": ("75.0%", P, "80.0%", "Red", "Worsened", "-", False),
    "PH01": ("88.0%", Y, "90.0%", "Amber", "Worsened", "-", True),
    "PH02": ("310", P, "No Target Set", "No target", "Worsened", "-", True),
    "PH03": ("92", Y, "102.5", "Red", "Worsened", "Off track", True),
    "WS01": ("51.0%", P, "50.0%", "Green", "Improved", "-", False),
    "WS02": ("390 (3.9)", P, "4.0", "Green", "Improved", "On track", False),
    "WS03": ("2.9", Y, "2.75", "Red", "Worsened", "Off track", True),
    "LC01": ("No figure", P, "500.0", "No figure", "-", "-", False),
    "LC02": ("No figure", P, "No Target Set", "No figure", "-", "-", False),
    "LC03": ("No figure", P, "150.0", "No figure", "-", "-", False),
}
# indicators, Green, Amber, Red, No target, No figure, Improved, Worsened, No change
COUNCIL = (14, 3, 1, 5, 2, 3, 3, 7, 1)
BY_PORTFOLIO = {
    "Finance and Resources": (5, 1, 0, 3, 1, 0, 1, 3, 1),
    "Growth and Place": (6, 2, 1, 2, 1, 0, 2, 4, 0),
    "Communities and Wellbeing": (3, 0, 0, 0, 0, 3, 0, 0, 0),
}
BY_PRIORITY = {
    "A thriving local economy": (4, 0, 1, 2, 1, 0, 0, 4, 0),
    "A council that works well": (3, 1, 0, 2, 0, 0, 0, 2, 1),
    "Healthy, safe communities": (4, 0, 0, 0, 1, 3, 1, 0, 0),
    "A clean and green district": (3, 2, 0, 1, 0, 0, 2, 1, 0),
}
NAMES = {i.id: i.name for i in INDICATORS}
WORDS = ("Green", "Amber", "Red", "No target", "No figure", "Improved", "Worsened", "No change")
COUNT_HEADS = ["Indicators", "Green", "Amber", "Red", "No target", "No figure", "Improved", "Worsened", "No change"]


@dataclass
class Run:
    district: District
    by_portfolio: Path
    by_priority: Path
    exceptions_only: Path
    status: dict[str, object]


def _set(home: Path, key: str, value: str) -> None:
    toml = home / "kpiflow.toml"
    text = re.sub(rf"(?m)^#? ?{key} = .*$", f"{key} = {value}", toml.read_text(encoding="utf-8"))
    toml.write_text(text, encoding="utf-8")


def _draft(d: District) -> Path:
    out = d.run("report", "--quarter", Q1_2025.label)
    return Path(out.split("Draft report: ", 1)[1].splitlines()[0].strip())


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    d = start(tmp_path_factory.mktemp("overview") / "home")
    for _ in steps(d, late_at_q1=LC):
        pass
    status = json.loads(d.run("status", "--quarter", Q1_2025.label, "--json"))
    by_portfolio = _draft(d)
    _set(d.home, "group_by", '"priority"')
    by_priority = _draft(d)
    _set(d.home, "overview", "false")
    exceptions_only = _draft(d)
    _set(d.home, "overview", "true")
    _set(d.home, "group_by", '"portfolio"')
    return Run(d, by_portfolio, by_priority, exceptions_only, status)


def _context(run: Run, group_by: str | None = "portfolio") -> ReportContext:
    settings = load_settings(run.district.home)
    catalogue = load_checked_catalogue(settings)
    with open_store(settings) as store:
        snap = gather(settings, store, catalogue, Q1_2025)
    return build_context(snap, settings.council, settings.rules, dt.date(2025, 7, 14), charts=False, group_by=group_by)


def _counts(c: object) -> tuple[int, ...]:
    from kpiflow.report.context import Counts

    assert isinstance(c, Counts)
    return (c.indicators, *(c.of(w) for w in WORDS))


def test_every_row_and_forecast_state_is_the_hand_worked_one(run: Run) -> None:
    ov = _context(run).overview
    assert ov is not None
    got = {r.id: (r.figure, r.period, r.target, r.rag, r.vs_last_year, r.forecast, r.exception) for r in ov.rows}
    assert got == ROWS
    # Never indicators and indicators with no figure are in the table too: every indicator, once
    assert [r.id for r in ov.rows] == list(ROWS)


def test_the_counts_by_portfolio_and_by_priority_are_the_hand_worked_ones(run: Run) -> None:
    for group_by, expected in (("portfolio", BY_PORTFOLIO), ("priority", BY_PRIORITY)):
        ov = _context(run, group_by).overview
        assert ov is not None
        assert _counts(ov.council) == COUNCIL
        assert {g.name: _counts(g.counts) for g in ov.groups} == expected
        assert [g.name for g in ov.groups] == list(expected)      # catalogue order
        assert {r.id: r.group for r in ov.rows} == {r.id: g.name for g in ov.groups for r in g.rows}


def test_no_overview_when_it_is_switched_off(run: Run) -> None:
    assert _context(run, None).overview is None
    texts = [b for b in body_blocks(run.exceptions_only) if isinstance(b, str)]
    assert "Performance at a glance" not in texts
    # the exceptions-only appendix is otherwise the same: every exception still has its section
    assert sum(t.startswith("Service Response:") for t in texts) == 8


def _tables(path: Path) -> list[list[list[str]]]:
    from docx.table import Table

    return [table_rows(b) for b in body_blocks(path) if isinstance(b, Table)]


@pytest.mark.parametrize(("which", "label", "groups"), [("by_portfolio", "Portfolio", BY_PORTFOLIO),
                                                        ("by_priority", "Priority", BY_PRIORITY)])
def test_the_draft_prints_the_counts_and_every_indicator(run: Run, which: str, label: str,
                                                         groups: dict[str, tuple[int, ...]]) -> None:
    path: Path = getattr(run, which)
    texts = [b for b in body_blocks(path) if isinstance(b, str)]
    assert "Performance at a glance" in texts
    assert texts.index("Performance at a glance") < texts.index("Exceptions this quarter (8)")
    tables = _tables(path)
    # two tables of counts: RAG (with how many indicators), then direction
    rag, direction = (t for t in tables if t[0][0] == label)
    assert [rag[0], direction[0]] == [[label, *COUNT_HEADS[:6]], [label, *COUNT_HEADS[6:]]]
    counts = [[*r, *d[1:]] for r, d in zip(rag, direction, strict=True)]
    assert counts[1] == ["Council", *map(str, COUNCIL)]
    assert {r[0]: tuple(int(x) for x in r[1:]) for r in counts[2:]} == groups
    every = next(t for t in tables if t[0][0] == "Indicator ID and description")
    assert every[0] == ["Indicator ID and description", "Latest figure", "Period", "Target in force", "RAG",
                        "Against the same quarter last year", "Year-end forecast"]
    seen: dict[str, list[str]] = {}
    group = ""
    for row in every[1:]:
        if len(row) == 1:       # a group's heading row, spanning the table
            group = row[0]
            assert group in groups
            continue
        iid = row[0].split(":")[0]
        seen[iid] = row
        assert row[0].endswith(NAMES[iid])
        figure, period, target, rag, ly, forecast, _ = ROWS[iid]
        symbol = {"Improved": "\u25b2 ", "Worsened": "\u25bc ", "No change": "\u25ba "}.get(ly, " ")
        assert row[1:] == [figure, period, target, rag, f"{symbol}{ly}", forecast], iid
    assert sorted(seen) == sorted(ROWS)


def test_the_table_is_accessible_and_each_exception_row_links_to_its_heading(run: Run) -> None:
    from docx import Document

    doc = Document(str(run.by_portfolio))
    body = doc.element.body
    table = next(t for t in doc.tables if t.rows[0].cells[0].text == "Indicator ID and description")
    rows = table._tbl.findall(q("w:tr"))
    # the header row is marked (and so repeated on every page the table runs to); no row splits across pages
    assert rows[0].find(q("w:trPr")).find(q("w:tblHeader")) is not None
    assert all(r.find(q("w:trPr")).find(q("w:cantSplit")) is not None for r in rows)
    assert sum(r.find(q("w:trPr")).find(q("w:tblHeader")) is not None for r in rows) == 1
    # RAG in words, and shaded as the key says
    fills = {"Green": "C6EFCE", "Amber": "FFEB9C", "Red": "FFC7CE"}
    for r in table.rows[1:]:
        cells = r.cells
        if cells[0]._tc is cells[-1]._tc:
            continue
        rag = cells[4].text
        shd = cells[4]._tc.tcPr.find(q("w:shd"))
        assert shd.get(q("w:fill")) == fills.get(rag, "FFFFFF"), rag
    # each exception's ID links to a bookmark at its heading; other rows have no link
    marks = {b.get(q("w:name")): b for b in body.iter(q("w:bookmarkStart"))}
    links = {h.get(q("w:anchor")): "".join(t.text or "" for t in h.iter(q("w:t")))
             for h in table._tbl.iter(q("w:hyperlink"))}
    exceptions = {iid for iid, row in ROWS.items() if row[6]}
    assert links == {f"kpiflow_{iid}_section": iid for iid in exceptions}
    headings = {}
    for p in body.iter(q("w:p")):
        for b in p.iter(q("w:bookmarkStart")):
            headings[b.get(q("w:name"))] = p
    for iid in exceptions:
        p = headings[f"kpiflow_{iid}_section"]
        style = p.find(q("w:pPr")).find(q("w:pStyle")).get(q("w:val"))
        assert style in ("Heading2", "ExceptionHeading"), (iid, style)
        assert "".join(t.text or "" for t in p.iter(q("w:t"))) == NAMES[iid]
    assert len(marks) == len(set(marks))


def test_status_json_gives_the_same_standing_as_the_overview_and_the_exception_pages(run: Run) -> None:
    ctx = _context(run)
    assert ctx.overview is not None
    status = {i["id"]: i for i in run.status["indicators"]}  # type: ignore[attr-defined]
    assert set(status) == set(ROWS)
    for r in ctx.overview.rows:
        s = status[r.id]
        assert (s["rag"], s["vs_last_year"] or "-", s["forecast"]) == (r.rag, r.vs_last_year, r.forecast), r.id
    for e in ctx.exceptions:
        assert status[e.id]["rag"] == e.rag
    # and the forecasts' figures, where section 9 makes one
    assert status["PH03"]["forecast_value"] == 368 and status["PH03"]["forecast_target"] == 410
    assert status["LC01"]["forecast_value"] is None


def test_a_template_without_the_section_still_renders(run: Run, tmp_path: Path) -> None:
    """A council's restyled template from before the overview: no overview, no heading bookmarks; the draft
    renders, and a link (from a template that has the table but not the bookmarks) falls back to the commentary."""
    from docx import Document

    home = run.district.home
    shipped = home / "doc_templates" / "appendix_6b.docx"
    doc = Document(str(shipped))
    paras = list(doc.element.body.iter(q("w:p")))

    def text(p: object) -> str:
        return "".join(t.text or "" for t in p.iter(q("w:t")))  # type: ignore[attr-defined]

    # take out the section markers only: the bookmarks at the headings go; the overview's table stays
    for p in paras:
        for t in p.iter(q("w:t")):
            if "{{r ex.section_mark }}" in (t.text or ""):
                t.text = (t.text or "").replace("{{r ex.section_mark }}", "")
    no_marks = tmp_path / "no_marks.docx"
    doc.save(str(no_marks))
    # and a template without the section at all
    doc = Document(str(no_marks))
    body = doc.element.body
    inside = False
    for p in list(body):
        if p.tag == q("w:p") and text(p) == "{%p if overview %}":
            inside = True
        if inside:
            body.remove(p)
            if p.tag == q("w:p") and text(p) == "{%p endif %}":
                break
    old = tmp_path / "old.docx"
    doc.save(str(old))
    settings = load_settings(home)
    catalogue = load_checked_catalogue(settings)
    from kpiflow.report.word import render_report

    with open_store(settings) as store:
        drawn = render_report(settings, store, catalogue, Q1_2025, template=old, out=tmp_path / "old-out.docx")
        linked = render_report(settings, store, catalogue, Q1_2025, template=no_marks, out=tmp_path / "nm-out.docx")
    texts = [b for b in body_blocks(drawn) if isinstance(b, str)]
    assert "Performance at a glance" not in texts and "Exceptions this quarter (8)" in texts
    d = Document(str(linked)).element.body
    names = {b.get(q("w:name")) for b in d.iter(q("w:bookmarkStart"))}
    anchors = {h.get(q("w:anchor")) for h in d.iter(q("w:hyperlink"))}
    assert anchors == {f"kpiflow_{iid}_commentary" for iid, row in ROWS.items() if row[6]}
    assert anchors <= names


def test_the_template_check_knows_the_section(tmp_path: Path) -> None:
    from docx import Document

    from kpiflow.template_check import check_template

    shipped = Path(__file__).parent.parent / "doc_templates" / "appendix_6b.docx"
    assert check_template(shipped).ok
    doc = Document(str(shipped))
    doc.add_paragraph("{%p if overview %}")
    doc.add_paragraph("{{ overview.council.blue }}")
    doc.add_paragraph("{%p endif %}")
    bad = tmp_path / "bad.docx"
    doc.save(str(bad))
    result = check_template(bad)
    assert not result.ok
    assert any("blue" in p.message for p in result.problems)


@pytest.mark.skipif(__import__("shutil").which("soffice") is None, reason="LibreOffice is not installed")
def test_the_links_work_in_the_pdf(run: Run, tmp_path: Path) -> None:
    """Each exception's row is a link annotation over its ID going to the page that starts with its heading, and
    the tagged PDF's /Link element refers to it (LibreOffice 7.4 tags the links but writes no annotation)."""
    import pypdf

    from kpiflow.pdf import to_pdf

    pdf = to_pdf(run.by_portfolio, tmp_path, "Title")
    reader = pypdf.PdfReader(str(pdf))
    named = {}
    for number, page in enumerate(reader.pages):
        for a in page.get("/Annots") or []:
            a = a.get_object()
            if a.get("/Subtype") == "/Link":
                target = reader.get_page_number(a["/A"]["/D"][0].get_object())
                words = page.extract_text()
                x0, y0, x1, y1 = (float(v) for v in a["/Rect"])
                assert x1 > x0 and y1 > y0 and number < target
                named[len(named)] = (words, reader.pages[target].extract_text())
    exceptions = [iid for iid, row in ROWS.items() if row[6]]
    assert len(named) == len(exceptions)
    for i, iid in enumerate(exceptions):
        _, target_text = named[i]
        assert NAMES[iid].split("(")[0].strip() in " ".join(target_text.split()), iid
    assert reader.trailer["/Root"]["/StructTreeRoot"] is not None


def test_the_web_page_shows_the_same_overview(run: Run) -> None:
    """The page (kpiflow.report.web) renders the same context: the counts and every row in words, each exception's
    row linking to its section, header cells with scope, a caption per table."""
    from html.parser import HTMLParser

    from kpiflow.report.web import page_context, render_page

    ctx = _context(run)
    variables = {**page_context(ctx, {}), "links": []}
    html = render_page(load_settings(run.district.home), variables)

    class Rows(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tables: list[list[list[str]]] = []
            self.captions: list[str] = []
            self.scoped = 0
            self.cell: list[str] | None = None
            self.row: list[str] = []
            self.links: dict[str, str] = {}
            self.href = ""
            self.ids: set[str] = set()
            self.in_caption = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = dict(attrs)
            if a.get("id"):
                self.ids.add(str(a["id"]))
            if tag == "table":
                self.tables.append([])
            elif tag == "tr":
                self.row = []
            elif tag in ("td", "th"):
                self.cell = []
                self.scoped += tag == "th" and "scope" in a
            elif tag == "a":
                self.href = str(a.get("href") or "")
            elif tag == "caption":
                self.in_caption = True
                self.captions.append("")

        def handle_endtag(self, tag: str) -> None:
            if tag in ("td", "th") and self.cell is not None:
                self.row.append(" ".join("".join(self.cell).split()))
                self.cell = None
            elif tag == "tr" and self.tables:
                self.tables[-1].append(self.row)
            elif tag == "caption":
                self.in_caption = False

        def handle_data(self, data: str) -> None:
            if self.cell is not None:
                self.cell.append(data)
                if self.href:
                    self.links[data] = self.href
                    self.href = ""
            if self.in_caption:
                self.captions[-1] += data

    p = Rows()
    p.feed(html)
    every = next(t for t in p.tables if t and t[0][0] == "Indicator ID and description")
    rows = {r[0].split(":")[0]: r[1:] for r in every[1:] if len(r) == 7}
    for iid, (figure, period, target, rag, ly, forecast, _) in ROWS.items():
        symbol = {"Improved": "\u25b2 ", "Worsened": "\u25bc ", "No change": "\u25ba "}.get(ly, "")
        assert rows[iid] == [figure, period, target, rag, f"{symbol}{ly}", forecast], iid
    exceptions = [iid for iid, row in ROWS.items() if row[6]]
    assert {k: v for k, v in p.links.items() if k in ROWS} == {iid: f"#ex-{iid}" for iid in exceptions}
    assert all(f"ex-{iid}" in p.ids for iid in exceptions)
    rag, direction = (t for t in p.tables if t and t[0][0] == "Portfolio")
    assert rag[1] == ["Council", *map(str, COUNCIL[:6])] and direction[1] == ["Council", *map(str, COUNCIL[6:])]
    assert any(c.startswith("Every indicator at Q1 2025/26") for c in p.captions)
