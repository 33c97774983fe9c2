"""Build the shipped example files that kpiflow init copies into a working folder:

    kpiflow/skeleton/workbook_templates/catalogue.xlsx   the example catalogue
    kpiflow/skeleton/doc_templates/appendix_6b.docx      the docxtpl report template

and copy them to the project root, which is itself a working folder. Run with
``.venv/bin/python scripts/make_skeleton.py`` after changing either; a test checks the root
copies match the packaged ones.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kpiflow.demo import EXAMPLE_CATALOGUE  # noqa: E402
from kpiflow.docx.order import order_children  # noqa: E402
from kpiflow.workbook.build import write_catalogue  # noqa: E402

SKELETON = ROOT / "kpiflow" / "skeleton"


def shade(cell, hex_fill: str) -> None:
    tc_pr = cell._tc.get_or_add_tcPr()
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), hex_fill)
    tc_pr.append(shd)


def set_widths(table, widths_cm: list[float]) -> None:
    """Column widths that Word and LibreOffice both honour: the grid and every cell."""
    table.autofit = False
    grid = table._tbl.tblGrid
    for col, w in zip(grid.findall(qn("w:gridCol")), widths_cm, strict=True):
        col.set(qn("w:w"), str(int(w * 567)))
    for row in table.rows:
        for cell, w in zip(row.cells, widths_cm, strict=False):
            cell.width = Cm(w)


def bold_cell(cell, text: str, fill: str | None = "D9E2F3") -> None:
    cell.text = ""
    run = cell.paragraphs[0].add_run(text)
    run.bold = True
    if fill:
        shade(cell, fill)


def rows_stay_whole(table, header_rows: int) -> None:
    """No row split across a page (cantSplit); the first ``header_rows`` rows repeated at the top of
    each page the table runs on to (tblHeader), which also marks them as headers for screen readers."""
    for i, row in enumerate(table.rows):
        tr_pr = row._tr.get_or_add_trPr()
        tr_pr.append(OxmlElement("w:cantSplit"))
        if i < header_rows:
            tr_pr.append(OxmlElement("w:tblHeader"))


def para(doc, text: str = "", style: str | None = None, bold: bool = False):
    p = doc.add_paragraph(style=style)
    if text:
        r = p.add_run(text)
        if bold or style == "Report Label":
            r.bold = True     # otherwise the style decides: an explicit "not bold" would unbold the headings
    return p


def english_uk(doc) -> None:
    """The document's language, which LibreOffice also writes into the PDF."""
    rpr = doc.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:val"), "en-GB")
    lang.set(qn("w:eastAsia"), "en-GB")


def new_page_heading(styles, name: str, base: str, outline_level: int):
    """A heading style of ``base``'s level that starts a new page."""
    st = styles.add_style(name, 1)
    st.base_style = styles[base]
    st.paragraph_format.page_break_before = True
    st.paragraph_format.space_before = Pt(0)
    ppr = st.element.get_or_add_pPr()
    lvl = OxmlElement("w:outlineLvl")
    lvl.set(qn("w:val"), str(outline_level))
    ppr.append(lvl)
    st.next_paragraph_style = styles["Normal"]
    return st


def heading_style(styles, name: str, size: int, page_break: bool = False):
    """A built-in heading (so Word, LibreOffice and the PDF know it is one), styled as the seed's
    plain bold headings."""
    h = styles[name]
    h.font.name = "Arial"
    fonts = h.element.rPr.find(qn("w:rFonts"))
    for attr in ("asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme"):
        # a theme font wins over the named one in Word: the heading would not be Arial there
        fonts.attrib.pop(qn(f"w:{attr}"), None)
    h.font.size = Pt(size)
    h.font.bold = True
    h.font.italic = False
    h.font.color.rgb = RGBColor(0, 0, 0)
    h.paragraph_format.keep_with_next = True
    h.paragraph_format.space_before = Pt(6 if not page_break else 0)
    h.paragraph_format.space_after = Pt(12)
    h.paragraph_format.page_break_before = page_break
    return h


def caption(table, text: str) -> None:
    """The table's caption, which Word and the tagged PDF give a screen reader."""
    cap = OxmlElement("w:tblCaption")
    cap.set(qn("w:val"), text)
    table._tbl.tblPr.append(cap)


def narrow_margins(table, cm: float = 0.1) -> None:
    """Narrower cell margins than Word's 0.19 cm, so that a 7-column table's words fit A4 portrait unbroken."""
    mar = OxmlElement("w:tblCellMar")
    for side in ("left", "right"):
        el = OxmlElement(f"w:{side}")
        el.set(qn("w:w"), str(int(cm * 567)))
        el.set(qn("w:type"), "dxa")
        mar.append(el)
    table._tbl.tblPr.append(mar)


def table_text(table, style: str) -> None:
    for row in table.rows:
        for cell in row.cells:
            for p in cell.paragraphs:
                p.style = style


def overview_section(doc, style: str) -> None:
    """"Performance at a glance" (PRODUCT.md section 19): the counts, then every indicator, by group."""
    para(doc, "{%p if overview %}")
    para(doc, "Performance at a glance", "Heading 1")
    para(doc, "All {{ overview.council.indicators }} indicators at {{ quarter_short }}, by "
              "{{ overview.group_label | lower }}. RAG is against the target in force at the quarter; the direction "
              "is against the same quarter last year; the year-end forecast, for a count or a year-to-date number or "
              "rate, is the year to date at the pace so far against the year's target: On track (meets or beats "
              "it), At risk (worse, within the tolerance) or Off track (worse beyond it). An indicator reported as an "
              "exception links to its report.")
    para(doc, "How many", "Heading 2")
    for heads, keys, widths, what in (
            (("Indicators", "Green", "Amber", "Red", "No target", "No figure"),
             ("indicators", "green", "amber", "red", "no_target", "no_figure"), [5.0] + [2.0] * 6,
             "How many indicators are Green, Amber and Red, for the council and by group"),
            (("Improved", "Worsened", "No change"), ("improved", "worsened", "no_change"), [5.0] + [4.0] * 3,
             "How many indicators improved or worsened against the same quarter last year, for the council and by "
             "group")):
        t = doc.add_table(rows=4, cols=len(heads) + 1)
        t.style = "Table Grid"
        set_widths(t, widths)
        narrow_margins(t)
        for cell, text in zip(t.rows[0].cells, ("{{ overview.group_label }}", *heads), strict=True):
            bold_cell(cell, text)
        bold_cell(t.rows[1].cells[0], "Council", None)
        for cell, k in zip(t.rows[1].cells[1:], keys, strict=True):
            cell.text = "{{ overview.council." + k + " }}"
        t.rows[2].cells[0].text = "{%tr for g in overview.groups %}"
        t.rows[3].cells[0].text = "{{ g.name }}"
        for cell, k in zip(t.rows[3].cells[1:], keys, strict=True):
            cell.text = "{{ g." + k + " }}"
        t.add_row().cells[0].text = "{%tr endfor %}"
        rows_stay_whole(t, 1)
        table_text(t, style)
        caption(t, what)
        para(doc)
    para(doc, "Every indicator", "Heading 2")
    heads = ("Indicator ID and description", "Latest figure", "Period", "Target in force", "RAG",
             "Against the same quarter last year", "Year-end forecast")
    t = doc.add_table(rows=6, cols=len(heads))
    t.style = "Table Grid"
    set_widths(t, [4.6, 2.3, 2.1, 2.0, 1.7, 2.3, 2.0])
    narrow_margins(t)
    for cell, text in zip(t.rows[0].cells, heads, strict=True):
        bold_cell(cell, text)
    t.rows[1].cells[0].text = "{%tr for g in overview.groups %}"
    group = t.rows[2].cells[0].merge(t.rows[2].cells[-1])
    bold_cell(group, "{{ g.name }}", "F2F2F2")
    t.rows[3].cells[0].text = "{%tr for o in g.rows %}"
    for cell, text in zip(t.rows[4].cells, ("{{r o.link }}: {{ o.description }}", "{{ o.figure }}",
                                            "{{ o.period }}", "{{ o.target }}", "{% cellbg o.rag_fill %}{{ o.rag }}",
                                            "{{ o.last_year_symbol }} {{ o.vs_last_year }}", "{{ o.forecast }}"),
                          strict=True):
        cell.text = text
    t.rows[5].cells[0].text = "{%tr endfor %}"
    t.add_row().cells[0].text = "{%tr endfor %}"
    rows_stay_whole(t, 1)
    table_text(t, style)
    caption(t, "Every indicator: its latest figure, target, RAG, direction and year-end forecast")
    para(doc, "{%p endif %}")


def build_template(path: Path) -> None:
    doc = Document()
    sec = doc.sections[0]
    sec.orientation = WD_ORIENT.PORTRAIT
    sec.page_width, sec.page_height = Cm(21.0), Cm(29.7)
    for side in ("left_margin", "right_margin"):
        setattr(sec, side, Cm(2.0))
    sec.top_margin, sec.bottom_margin = Cm(2.0), Cm(2.0)

    styles = doc.styles
    normal = styles["Normal"]
    normal.font.name = "Arial"
    normal.font.size = Pt(11)
    normal.paragraph_format.space_after = Pt(6)
    english_uk(doc)
    heading_style(styles, "Heading 1", 12)
    heading_style(styles, "Heading 2", 11)
    # the headings that open an exception's page: the break is in the style, since LibreOffice
    # writes a direct "page break before" back as a break inside the paragraph above it
    portfolio = new_page_heading(styles, "Portfolio Heading", "Heading 1", 0)
    exception = new_page_heading(styles, "Exception Heading", "Heading 2", 1)
    label = styles.add_style("Report Label", 1)
    label.base_style = normal
    label.font.bold = True
    label.paragraph_format.keep_with_next = True
    label.paragraph_format.space_before = Pt(12)
    note = styles.add_style("Table Note", 1)
    note.base_style = normal
    note.font.size = Pt(9)
    note.font.italic = True
    note.paragraph_format.space_before = Pt(3)
    table_text = styles.add_style("Table Text", 1)
    table_text.base_style = normal
    table_text.font.size = Pt(9)
    table_text.paragraph_format.space_after = Pt(0)
    styles["Title"].font.size = Pt(18)
    styles["Title"].font.color.rgb = RGBColor(0x1F, 0x4E, 0x79)

    header = sec.header.paragraphs[0]
    header.text = "Appendix 6(b) - Exception Reports ({{ quarter_short }})"
    header.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    footer = sec.footer.paragraphs[0]
    footer.text = "{{ council }}"
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER

    # first page: title, the rule, the list of exceptions and the key
    para(doc, "{{ title }}", "Title")
    para(doc, "{{ council }}", bold=True)
    para(doc, "This appendix reports the indicators that are exceptions at {{ quarter_short }}. Under the "
              "council's rule, {{ rule_text }}.")
    para(doc, "{%p if outstanding %}")
    para(doc, "Returns not in", "Heading 1")
    para(doc, "These services' returns for {{ quarter_short }} were not in when this draft was made "
              "({{ report_date }}). Their indicators have no figures for the quarter, so they could not be judged "
              "against the rule: whether any of them is an exception is not known. Those the council reports every "
              "quarter are in this report, marked as having no return:")
    para(doc, "{%p for o in outstanding %}")
    para(doc, "{{ o.text }}", "List Bullet")
    para(doc, "{%p endfor %}")
    para(doc, "{%p endif %}")
    overview_section(doc, table_text.name)
    para(doc, "{%p if summary %}")
    para(doc, "Exceptions this quarter ({{ exception_count }})", "Heading 1")
    t = doc.add_table(rows=3, cols=5)
    t.style = "Table Grid"
    set_widths(t, [5.0, 2.7, 2.8, 2.2, 4.3])
    for cell, text in zip(t.rows[0].cells, ("Indicator", "Against last quarter", "Against the same quarter last year",
                                            "Against target", "Why it is reported"), strict=True):
        bold_cell(cell, text)
    t.rows[1].cells[0].text = "{%tr for s in summary %}"
    for cell, text in zip(t.rows[2].cells, ("{{ s.id }}: {{ s.description }}",
                                            "{{ s.previous_symbol }} {{ s.vs_previous }}",
                                            "{{ s.last_year_symbol }} {{ s.vs_last_year }}",
                                            "{% cellbg s.rag_fill %}{{ s.rag }}", "{{ s.reason }}"), strict=True):
        cell.text = text
    t.add_row().cells[0].text = "{%tr endfor %}"
    rows_stay_whole(t, 1)
    para(doc, "{%p else %}")
    para(doc, "No indicator is an exception this quarter.")
    para(doc, "{%p endif %}")
    para(doc, "Key", "Heading 1")
    for line in (
        "No Target Set: the council has not set a target for the indicator for the year, so it is compared with "
        "its own trend, statistical neighbours and England.",
        "New PI: a new performance indicator, with no figure for that year.",
        "{%p if rate_key %}",
        "{{ rate_key }}",
        "{%p endif %}",
        "-: no figure for that period (for example, a return not received).",
        "2,400 (Q2: 1,200): the target for the year, with the target in force at the quarter in brackets: the "
        "year's target pro rata for a year-to-date figure, or from the year's profile.",
        "Year to date: a figure that runs from 1 April to the end of the quarter. A year's figure is the position at "
        "31 March, the total of its quarters, or the whole year to date, as the note under each table says.",
        "\u25b2 Improved, \u25bc Worsened, \u25ba No change: the direction of travel against the quarter before and "
        "against the same quarter last year. \u25b2 always means better, whether it is better for the indicator "
        "to be high or low. A move of less than {{ no_change_percent }}% is No change.",
        "Green (green shading): target met or beaten. Amber (yellow shading): worse than target by no more than "
        "the tolerance ({{ tolerance_percent }}% unless the catalogue sets another). Red (pink shading): worse than "
        "target by more than the tolerance. No target: no target is set, so there is no colour. No figure: no "
        "figure was received for the quarter, so it cannot be judged.",
        "Charts: the indicator against statistical neighbours and England; month by month (or quarter by quarter) "
        "against the year before; and, where the trend heads towards a comparator, the straight-line projection.",
    ):
        para(doc, line)

    # one section per exception, each starting on a new page: under its portfolio's heading (level
    # 1, the first in the portfolio only) and its own (level 2)
    para(doc, "{%p for ex in exceptions %}")
    para(doc, "{%p if ex.portfolio_heading %}")
    para(doc, "{{ ex.portfolio_heading }}", portfolio.name)
    para(doc, "{{r ex.section_mark }}{{ ex.description }}", "Heading 2")
    para(doc, "{%p else %}")
    para(doc, "{{r ex.section_mark }}{{ ex.description }}", exception.name)
    para(doc, "{%p endif %}")
    t1 = doc.add_table(rows=2, cols=2)
    t1.style = "Table Grid"
    bold_cell(t1.cell(0, 0), "Indicator Description")
    bold_cell(t1.cell(0, 1), "Better to be?")
    t1.cell(1, 0).text = "{{ ex.description }}"
    t1.cell(1, 1).text = "{{ ex.better }}"
    set_widths(t1, [13.5, 3.5])
    rows_stay_whole(t1, 1)
    para(doc)
    t2 = doc.add_table(rows=3, cols=8)
    t2.style = "Table Grid"
    set_widths(t2, [2.2, 2.4, 2.4, 1.9, 1.9, 1.9, 1.9, 2.4])
    t2.alignment = WD_TABLE_ALIGNMENT.CENTER
    top = t2.rows[0].cells
    bold_cell(top[0], "")
    bold_cell(top[1], "{{ ex.years[0] }}")
    bold_cell(top[2], "{{ ex.years[1] }}")
    merged = top[3].merge(top[6])
    bold_cell(merged, "{{ ex.this_year }}")
    bold_cell(top[7], "Target")
    mid = t2.rows[1].cells
    for i, cell in enumerate(mid):
        bold_cell(cell, f"Q{i - 2}" if 3 <= i <= 6 else "")
    last = t2.rows[2].cells
    last[0].text = "{{ ex.row_label }}"
    for i in range(6):
        last[i + 1].text = "{{ ex.cells[" + str(i) + "] }}"
    last[7].text = "{{ ex.target }}"
    for row in t2.rows:
        for p in row.cells:
            for pp in p.paragraphs:
                pp.alignment = WD_ALIGN_PARAGRAPH.CENTER
    rows_stay_whole(t2, 2)
    para(doc, "{{ ex.values_note }}", "Table Note")
    para(doc, "{{p ex.commentary_block }}")
    para(doc, "{%p if ex.charts %}")
    para(doc, "{{p ex.charts }}")
    para(doc, "{%p endif %}")
    para(doc, "{{p ex.response_block }}")
    para(doc, "{%p if ex.breakdown %}")
    para(doc, "{{ ex.breakdown_title }}", "Report Label")
    t3 = doc.add_table(rows=3, cols=2)
    t3.style = "Table Grid"
    set_widths(t3, [6.0, 3.0])
    bold_cell(t3.cell(0, 0), "Category")
    bold_cell(t3.cell(0, 1), "Number")
    t3.cell(1, 0).text = "{%tr for b in ex.breakdown %}"
    t3.cell(2, 0).text = "{{ b.category }}"
    t3.cell(2, 1).text = "{{ b.number }}"
    t3.add_row().cells[0].text = "{%tr endfor %}"
    rows_stay_whole(t3, 1)
    para(doc, "{%p endif %}")
    para(doc, "{%p endfor %}")
    # python-docx's default settings have a zoom without the percentage the schema requires
    doc.settings.element.find(qn("w:zoom")).set(qn("w:percent"), "100")
    for part in (doc.element, doc.styles.element, sec.header._element, sec.footer._element):
        order_children(part)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))


def main() -> None:
    cat = SKELETON / "workbook_templates" / "catalogue.xlsx"
    tpl = SKELETON / "doc_templates" / "appendix_6b.docx"
    write_catalogue(cat, EXAMPLE_CATALOGUE)
    build_template(tpl)
    for src in (cat, tpl, SKELETON / "doc_templates" / "README.md"):
        dest = ROOT / src.relative_to(SKELETON)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        print(f"wrote {src.relative_to(ROOT)} and {dest.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
