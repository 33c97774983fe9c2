"""The published web page and open data (kpiflow/report/web.py): the same words as the published .docx,
charts as SVG from the Word charts' specifications, the CSV's figures equal to kpiflow export's, a
data package that frictionless validates, hostile text escaped, and the page in a real browser
(tests/browser.py): axe-core at WCAG 2.2 A and AA, and no sideways scroll at 320 and 1280 px."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import itertools
import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from browser import axe_violations, browser, describe_violations, open_file, screenshot, sideways_scroll
from docx_helpers import body_blocks, table_rows

from kpiflow.catalogue import load_checked_catalogue
from kpiflow.demo import SERVICE, DemoResult, example_return, load_example_history, run_demo
from kpiflow.errors import KpiflowError
from kpiflow.model import Figures
from kpiflow.periods import Period, parse_period
from kpiflow.publish import publish
from kpiflow.report.context import ChartSpec, describe
from kpiflow.report.web import CSV_FIELDS, chart_svg, csv_safe, render_page
from kpiflow.settings import load_settings
from kpiflow.store import SQLiteStore, open_store
from kpiflow.trends import outturn

Q2 = parse_period("2017/18 Q2")
PAGE = "Appendix 6(b) - Exception Reports (Q2 2017-18).html"
DOCX = "Appendix 6(b) - Exception Reports (Q2 2017-18).docx"
SHOTS = Path(os.environ.get("KPIFLOW_SCREENSHOTS", "")) if os.environ.get("KPIFLOW_SCREENSHOTS") else None
LONG_WORD = "W" * 5000
HOSTILE = ('<script>alert("x")</script> Fish & chips, \'single\' and "double" quotes, emoji 🚸👩🏽‍🍼, '
           '{{ council }} and {% if true %}a tag{% endif %}: ' + LONG_WORD)
HOSTILE_COUNCIL = '=Smith & <b>Jones</b> "Borough" 🏛'


# -- reading the page -----------------------------------------------------------------------------

BLOCKS = {"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "th", "td", "caption", "figcaption"}


class Blocks(HTMLParser):
    """The page's text blocks in document order (each paragraph, heading, list item and table cell)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[list[str]] = []
        self.blocks: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in BLOCKS:
            self.stack.append([])

    def handle_endtag(self, tag: str) -> None:
        if tag in BLOCKS and self.stack:
            self.blocks.append(" ".join("".join(self.stack.pop()).split()))

    def handle_data(self, data: str) -> None:
        if self.stack:
            self.stack[-1].append(data)


def page_blocks(html: str) -> Blocks:
    b = Blocks()
    b.feed(html)
    return b


def docx_words(path: Path) -> list[str]:
    """The published .docx's words in order: each paragraph, then each table's cells row by row."""
    out: list[str] = []
    for b in body_blocks(path):
        if isinstance(b, str):
            out.append(" ".join(b.split()))
        else:
            out += [" ".join(c.split()) for row in table_rows(b) for c in row]
    return [w for w in out if w]


def in_order(needles: list[str], haystack: list[str]) -> tuple[int, str]:
    """How many of ``needles`` are found in ``haystack`` in order, and the first that is not."""
    i = 0
    for n, needle in enumerate(needles):
        while i < len(haystack) and haystack[i] != needle:
            i += 1
        if i == len(haystack):
            return n, needle
        i += 1
    return len(needles), ""


# -- the published demo ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    return run_demo(tmp_path_factory.mktemp("web") / "demo", publish=True)


def folder_of(demo: DemoResult) -> Path:
    return demo.home / "outbox" / "published" / "2017-18_Q2"


def test_publish_files_the_page_and_the_data_beside_the_docx_in_the_manifest(demo: DemoResult) -> None:
    folder = folder_of(demo)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    names = [f["name"] for f in manifest["files"]]
    assert {PAGE, "indicators.csv", "datapackage.json", DOCX} <= set(names)
    for f in manifest["files"]:
        assert hashlib.sha256((folder / f["name"]).read_bytes()).hexdigest() == f["sha256"]
    assert not list(demo.home.glob("outbox/published/.*")), "the working folder was left behind"


def test_the_page_has_the_words_of_the_published_docx_in_the_same_order(demo: DemoResult) -> None:
    folder = folder_of(demo)
    words = docx_words(folder / DOCX)
    page = page_blocks((folder / PAGE).read_text(encoding="utf-8"))
    found, missing = in_order(words, page.blocks)
    assert found == len(words), f"{missing!r} (item {found} of the .docx) is not on the page in order"
    assert len(words) > 60
    # the parts the brief names are all there
    assert "Service Response:" in page.blocks and "Key" in page.blocks and "Category" in page.blocks


def test_the_page_is_one_self_contained_semantic_file(demo: DemoResult) -> None:
    html = (folder_of(demo) / PAGE).read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and '<html lang="en-GB">' in html
    page = page_blocks(html)
    assert page.tags.count("h1") == 1 and page.tags.count("title") >= 1
    levels = [int(t[1]) for t in page.tags if re.fullmatch(r"h[1-6]", t)]
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels)), levels   # headings never skip a level
    assert 'href="#main"' in html and 'id="main"' in html                     # the skip link and its target
    assert "<script" not in html and "javascript:" not in html
    # nothing fetched: no stylesheet, image, font, frame or script from anywhere
    assert not re.search(r'<(link|img|iframe|object|embed|source|audio|video)\b', html)
    assert not re.search(r'\bsrc=|@import|url\((?!#)', html)   # clip paths refer to the page itself
    assert html.count("<caption") == html.count("<table")
    assert 'scope="col"' in html and 'scope="row"' in html and 'scope="colgroup"' in html
    assert "@media print" in html
    # links to the Word file, the PDF (where LibreOffice made one) and the data
    hrefs = re.findall(r'href="([^"#][^"]*)"', html)
    assert "Appendix%206%28b%29%20-%20Exception%20Reports%20%28Q2%202017-18%29.docx" in hrefs
    assert {"indicators.csv", "datapackage.json"} <= set(hrefs)
    if shutil.which("soffice"):
        assert any(h.endswith(".pdf") for h in hrefs)


def test_rag_and_direction_are_in_words_as_well_as_colour(demo: DemoResult) -> None:
    html = (folder_of(demo) / PAGE).read_text(encoding="utf-8")
    cells = re.findall(r'<td class="rag rag-[a-z-]+">([^<]*)</td>', html)
    assert cells and all(c in ("Green", "Amber", "Red", "No target", "No figure") for c in cells)
    directions = re.findall(r'<td class="dir dir-[a-z-]+">(?:<span aria-hidden="true">.</span> )?([^<]*)</td>', html)
    assert directions and all(d in ("Improved", "Worsened", "No change", "-") for d in directions)


def test_each_chart_is_the_word_charts_svg_with_its_alternative_text_and_a_table(demo: DemoResult) -> None:
    from docx_helpers import chart_parts

    folder = folder_of(demo)
    html = (folder / PAGE).read_text(encoding="utf-8")
    svgs = re.findall(r"<svg\b.*?</svg>", html, flags=re.S)
    word = chart_parts(folder / DOCX)
    assert len(svgs) == len(word) > 0
    for svg, chart in zip(svgs, word, strict=True):
        assert 'role="img"' in svg
        title = re.search(r'<title id="([^"]+)">([^<]*)</title>', svg)
        desc = re.search(r'<desc id="([^"]+)">([^<]*)</desc>', svg)
        assert title and desc and f'aria-labelledby="{title.group(1)} {desc.group(1)}"' in svg
        assert title.group(2) == chart.title
        assert desc.group(2).startswith(("Line chart: ", "Column chart: ")) and "Latest figures: " in desc.group(2)
    # the alternative text is the Word chart's, as the published .docx has it
    from docx import Document

    alts = [d.get("descr") for d in Document(str(folder / DOCX)).element.body.iter(
        "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}docPr")]
    descs = [re.search(r"<desc[^>]*>([^<]*)</desc>", s).group(1).replace("&#39;", "'") for s in svgs]  # type: ignore[union-attr]
    assert descs == alts
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "an id is used twice on the page"
    assert html.count('<table class="chart-data">') == len(svgs)


def test_chart_svg_draws_each_series_its_own_way_and_the_same_every_time() -> None:
    spec = ChartSpec("Rate per 10,000: A & B", ("2015/16", "2016/17", "2017/18"),
                     (("Ours", (1.0, 2.0, 3.0)), ("Statistical neighbours", (2.0, None, 2.5)), ("England", (1.5, 1.5, 1.6))),
                     "line", "Rate", "0.0")
    one, again, other = chart_svg(spec, "c-1"), chart_svg(spec, "c-1"), chart_svg(spec, "c-2")
    assert one.svg == again.svg                          # no date, no random ids
    assert one.alt == describe(spec) and "<title" in one.svg and "A &amp; B" in one.svg
    assert not re.search(r"<svg[^>]*\s(width|height)=", one.svg)   # the page sizes it
    ids_one = set(re.findall(r'\bid="([^"]+)"', one.svg))
    assert not ids_one & set(re.findall(r'\bid="([^"]+)"', other.svg))
    dashes = {m for m in re.findall(r"stroke-dasharray: ([^;\"]+)", one.svg)}
    assert len(dashes) >= 2                              # dashed and dotted, beside the solid line
    colours = set(re.findall(r"stroke: (#[0-9a-f]{6})", one.svg)) & {"#1d4f91", "#b04a00", "#2e6b30"}
    assert len(colours) == 3
    assert len(set(re.findall(r'<path id="(m[0-9a-f]+)"', one.svg))) >= 3    # a marker shape per series
    assert one.rows[1] == ("2016/17", ("2.0", "-", "1.5"))


# -- open data ------------------------------------------------------------------------------------

def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_indicators_csv_has_the_columns_and_the_figures_of_kpiflow_export(demo: DemoResult, tmp_path: Path) -> None:
    from kpiflow.frames import export_history

    rows = read_csv(folder_of(demo) / "indicators.csv")
    assert list(rows[0]) == [name for name, _, _ in CSV_FIELDS]
    out = tmp_path / "history.csv"
    export_history(load_settings(demo.home), "csv", out)
    with out.open(encoding="utf-8-sig", newline="") as fh:
        exported = {(r["indicator"], r["period"], r["figure"]): float(r["value"])
                    for r in csv.DictReader(fh) if r["current"] == "True"}
    def series(iid: str) -> dict[Period, Figures]:
        out: dict[Period, dict[str, float]] = {}
        for (i, period, figure), v in exported.items():
            if i == iid:
                out.setdefault(parse_period(period), {})[figure] = v
        return {p: Figures(**v) for p, v in out.items()}

    catalogue = load_checked_catalogue(load_settings(demo.home))
    checked = derived = 0
    for r in rows:
        assert dt.date.fromisoformat(r["period_start"]) < dt.date.fromisoformat(r["period_end"])
        for figure in ("number", "rate"):
            key = (r["indicator_id"], r["period"], figure)
            if key in exported:
                assert r[figure] != "" and float(r[figure]) == exported[key], key
                checked += 1
            elif r[figure]:
                # a period kpiflow was not sent a figure for: its outturn by the measure from the figures
                # export has (a Count's year is its quarters added up; a monthly Snapshot's quarter its last month)
                measure = catalogue.get(r["indicator_id"]).measure  # type: ignore[union-attr]
                expected = outturn(series(r["indicator_id"]), parse_period(r["period"]), figure, measure)
                assert expected is not None and float(r[figure]) == pytest.approx(expected), key
                derived += 1
    assert checked >= 15 and derived >= 1
    periods = {(r["indicator_id"], r["period"]) for r in rows}
    assert ("CS01", "2017/18 Q2") in periods and ("CS01", "2015/16") in periods
    q2 = next(r for r in rows if (r["indicator_id"], r["period"]) == ("CS01", "2017/18 Q2"))
    assert (q2["period_start"], q2["period_end"], q2["direction"], q2["status"]) == \
        ("2017-07-01", "2017-09-30", "Worsened", "final")
    assert q2["council"] == "Blackpool Council" and q2["better_to_be"] == "Low"


def test_the_data_package_validates_with_frictionless(demo: DemoResult) -> None:
    frictionless = pytest.importorskip("frictionless")

    path = folder_of(demo) / "datapackage.json"
    report = frictionless.validate(str(path))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    package = json.loads(path.read_text(encoding="utf-8"))
    assert package["licenses"][0]["name"] == "OGL-UK-3.0"
    assert package["sources"] == [{"title": "Blackpool Council"}]
    fields = {f["name"]: f["type"] for f in package["resources"][0]["schema"]["fields"]}
    assert (fields["number"], fields["period_start"], fields["published"], fields["council"]) == \
        ("number", "date", "date", "string")


@pytest.mark.parametrize(("text", "safe"), [
    ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"), ("+1+1", "'+1+1"), ("-5", "-5"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("Fish & chips", "Fish & chips"), ("-2.5e3", "-2.5e3"), ("- note", "'- note"),
])
def test_csv_cells_are_never_formulas(text: str, safe: str) -> None:
    assert csv_safe(text) == safe


# -- hostile text and the working folder's own template -------------------------------------------

@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo with hostile words in the return (commentary, service response, a breakdown
    category) and in the council's name, published. Returns the published folder."""
    from kpiflow.init import init_home
    from kpiflow.issue import issue_returns
    from kpiflow.pipeline import ingest
    from kpiflow.report.word import render_report
    from kpiflow.workbook.build import fill_return

    home = tmp_path_factory.mktemp("hostile") / "home"
    init_home(home, council=HOSTILE_COUNCIL)
    settings = load_settings(home)
    catalogue = load_checked_catalogue(settings)
    d = example_return()
    d["figures"]["CS01"]["Commentary"] = HOSTILE
    d["figures"]["CS01"]["Service response"] = HOSTILE + " (response)"
    d["breakdown"][0][2] = "<b>Under 1</b> & {{ x }}"
    about = dict(d["about"])
    about["Date completed"] = dt.datetime.fromisoformat(about["Date completed"])
    with SQLiteStore(settings.db_path) as store:
        load_example_history(store)
        issued = issue_returns(settings, store, catalogue, Q2, SERVICE)[0]
        filled = fill_return(issued, settings.inbox / issued.name, about, d["figures"], d["support"], d["breakdown"])
        [outcome] = ingest(settings, store, catalogue, [filled], Q2)
        assert outcome.line().find("accepted") >= 0, outcome.line()
        report = render_report(settings, store, catalogue, Q2)
        done = publish(settings, store, catalogue, Q2, report, "clerk")
    assert done.ok, done.lines
    assert done.folder is not None
    return done.folder


def test_hostile_text_is_escaped_and_shown_as_typed(hostile: Path) -> None:
    html = (hostile / PAGE).read_text(encoding="utf-8")
    assert "<script" not in html and "<b>" not in html
    page = page_blocks(html)
    assert HOSTILE in page.blocks and HOSTILE + " (response)" in page.blocks
    assert "<b>Under 1</b> & {{ x }}" in page.blocks
    assert page.blocks.count(HOSTILE_COUNCIL) >= 2         # printed as it is, never run as a tag or a formula
    # and the words are the published .docx's
    words = docx_words(hostile / DOCX)
    found, missing = in_order(words, page.blocks)
    assert found == len(words), missing[:200]
    # the CSV keeps a council name beginning with "=" from becoming a formula
    rows = read_csv(hostile / "indicators.csv")
    assert {r["council"] for r in rows} == {"'" + HOSTILE_COUNCIL}


def test_the_working_folders_template_is_used_and_a_broken_one_publishes_nothing(fresh: DemoResult) -> None:
    from kpiflow.report.web import TEMPLATES

    settings = load_settings(fresh.home)
    mine = fresh.home / "doc_templates" / "web"
    mine.mkdir(parents=True)
    shipped = (TEMPLATES / "page.html.j2").read_text(encoding="utf-8")
    (mine / "page.html.j2").write_text(shipped.replace("<h1>", "<p>Our own template</p>\n<h1>"), encoding="utf-8")
    ctx = {"lang": "en-GB"}
    with pytest.raises(KpiflowError, match=r"web page template page.html.j2 has an error.*doc_templates/web"):
        render_page(settings, ctx)           # an undefined variable is an error, never a blank
    (mine / "page.html.j2").write_text(shipped.replace("{% endfor %}\n</main>", "{% endfor %\n</main>"),
                                       encoding="utf-8")
    with open_store(settings) as store:
        done = None
        with pytest.raises(KpiflowError, match="web page template"):
            done = publish(settings, store, load_checked_catalogue(settings), Q2, fresh.report, "clerk")
        assert done is None and store.quarter_state(Q2) == "open"
    assert not (fresh.home / "outbox" / "published" / "2017-18_Q2").exists()
    assert not list((fresh.home / "outbox" / "published").glob(".*"))
    (mine / "page.html.j2").write_text(shipped.replace("<h1>", "<p>Our own template</p>\n<h1>"), encoding="utf-8")
    with open_store(settings) as store:
        done = publish(settings, store, load_checked_catalogue(settings), Q2, fresh.report, "clerk")
    assert done.ok and done.folder is not None
    assert "<p>Our own template</p>" in (done.folder / PAGE).read_text(encoding="utf-8")


# -- in a real browser ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def council_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The council fixture (tests/council.py) run to 2025/26 Q1, with a service's return not in, and
    that quarter published."""
    from council import start, steps

    c = start(tmp_path_factory.mktemp("council") / "home")
    for _, q in steps(c):
        if q == parse_period("2025/26 Q1"):
            c.run("publish", "--quarter", q.label)
            return next((c.home / "outbox" / "published" / q.file_label).glob("*.html"))
    raise AssertionError("the council fixture never reached 2025/26 Q1")


def check_in_browser(page: Path, name: str, tmp_path: Path) -> None:
    with browser(1280) as driver:
        for width in (320, 1280):
            from browser import set_width

            set_width(driver, width)
            open_file(driver, page)
            scroll, client = sideways_scroll(driver)
            assert scroll <= client, f"{name} at {width} px scrolls sideways: {scroll} > {client}"
            violations = axe_violations(driver)
            assert not violations, describe_violations(violations)
            assert driver.execute_script("return document.scripts.length") == 0
            shot = screenshot(driver, (SHOTS or tmp_path) / f"{name}-{width}.png")
            assert shot.stat().st_size > 10_000


def test_the_demo_page_passes_axe_and_reflows_at_320_px(demo: DemoResult, tmp_path: Path) -> None:
    check_in_browser(folder_of(demo) / PAGE, "demo", tmp_path)


def test_the_council_page_passes_axe_and_reflows_at_320_px(council_page: Path, tmp_path: Path) -> None:
    html = council_page.read_text(encoding="utf-8")
    assert "Returns not in" in html and "<svg" in html
    check_in_browser(council_page, "council", tmp_path)


def test_the_hostile_page_runs_nothing_and_reflows_at_320_px(hostile: Path, tmp_path: Path) -> None:
    check_in_browser(hostile / PAGE, "hostile", tmp_path)


def test_the_print_stylesheet_starts_each_exception_on_a_new_page(demo: DemoResult, tmp_path: Path) -> None:
    with browser(1280) as driver:
        open_file(driver, folder_of(demo) / PAGE)
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        shown = driver.execute_script(
            "return [getComputedStyle(document.querySelector('section.exception:not(:first-of-type)')).breakBefore,"
            " getComputedStyle(document.querySelector('.downloads')).display];")
        assert shown == ["page", "none"]
        pdf = driver.execute_cdp_cmd("Page.printToPDF", {"printBackground": True})
        assert len(io.BytesIO(__import__("base64").b64decode(pdf["data"])).getvalue()) > 10_000
