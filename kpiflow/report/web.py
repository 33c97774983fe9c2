"""The report for the public: one accessible web page and the open data beside the Word file.

A second renderer of the report context (``kpiflow.report.context``), never a second report: the
page says what the published .docx says, with the commentary and service responses as ``publish``
read them back from the edited draft. Its charts are the context's chart specifications, the Word
charts', drawn as inline SVG by matplotlib's SVG backend, each with the Word chart's alternative
text and followed by its figures as a table.

The page is rendered by Jinja2 from ``templates/web/page.html.j2`` (shipped in the package; a file
of the same name in the working folder's ``doc_templates/web/`` is used instead), with autoescape
always on and undefined variables an error. It is one file: its stylesheet is inline, it fetches
nothing and needs no JavaScript.

The open data is ``indicators.csv`` (one row per indicator and period in the report, see
``CSV_FIELDS``) and ``datapackage.json``, a Frictionless Data Package that describes it.
jinja2 and matplotlib are imported inside the functions that use them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from kpiflow.errors import KpiflowError
from kpiflow.fmt import exact, fmt_number
from kpiflow.frames import csv_safe
from kpiflow.model import Catalogue
from kpiflow.periods import Period
from kpiflow.report.context import (
    ChartSpec,
    QuarterSnapshot,
    ReportContext,
    paragraphs,
    report_filename,
    report_title,
)
from kpiflow.rules import Assessment
from kpiflow.settings import Settings
from kpiflow.trends import target_in_force

PAGE_TEMPLATE = "page.html.j2"
CSV_NAME = "indicators.csv"
PACKAGE_NAME = "datapackage.json"
TEMPLATES = Path(__file__).parent.parent / "templates" / "web"
OGL = {"name": "OGL-UK-3.0", "title": "Open Government Licence v3.0",
       "path": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"}


def page_filename(quarter: Period) -> str:
    return report_filename(quarter).removesuffix(".docx") + ".html"


# -- charts ---------------------------------------------------------------------------------------

# One look per series, the Word charts' (kpiflow.report.context.SERIES_STYLES): colour, dash and marker, so that
# the lines are told apart in black and white and by readers who do not see colour (WCAG 1.4.1), and England is
# drawn alike on the page, in the .docx and in every chart.
_G_ID = re.compile(r'<g id="[^"]*"')
_SVG_OPEN = re.compile(r"<svg\b[^>]*>")


@dataclass(frozen=True)
class Chart:
    """A chart as the page shows it: the SVG, its alternative text and its figures as a table."""

    id: str
    title: str
    alt: str
    svg: str
    series: tuple[str, ...]
    rows: tuple[tuple[str, tuple[str, ...]], ...]     # (category, one cell per series)


def chart_svg(spec: ChartSpec, chart_id: str, alt: str = "") -> Chart:
    """``spec`` drawn as inline SVG: ``role="img"``, a ``<title>`` and a ``<desc>`` (the Word chart's
    alternative text), no size of its own (the page sizes it), and ids that are unique on the page
    and the same on every run (matplotlib's ids are hashes salted with ``chart_id``)."""
    import matplotlib
    from markupsafe import escape
    from matplotlib.figure import Figure

    from kpiflow.docx.charts import (
        _clean_spec,  # the series the Word chart leaves out, left out here too
        draw_series,
    )
    from kpiflow.report.context import describe

    spec = _clean_spec(spec)
    with matplotlib.rc_context({"svg.hashsalt": chart_id, "svg.fonttype": "none", "text.parse_math": False,
                                "font.size": 9, "axes.spines.top": False, "axes.spines.right": False}), \
            warnings.catch_warnings():
        # text is left to the browser to draw (svg.fonttype none): a glyph matplotlib's own font lacks
        # (an emoji in a council's name) only makes its measure of the text approximate
        warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        fig = Figure(figsize=(6.4, 3.4))
        ax = fig.add_subplot()
        x = draw_series(ax, spec, marker_size=5, line_width=1.8, edge_width=0.5)
        n = len(spec.series)
        ax.set_xticks(x, list(spec.categories))
        if spec.y_title:
            ax.set_ylabel(spec.y_title)
        ax.grid(axis="y", color="#d9d9d9", linewidth=0.6)
        ax.set_axisbelow(True)
        legend_rows = (n + 2) // 3
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=min(n, 3), frameon=False)
        # fixed margins (room for the axis labels and the legend below): a layout pass per chart
        # ("tight") would draw each one two more times
        fig.subplots_adjust(left=0.12, right=0.98, top=0.97, bottom=0.2 + 0.06 * legend_rows)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]                                  # no XML declaration or doctype in HTML
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = svg.replace('<style type="text/css">*{stroke-linejoin: round; stroke-linecap: butt}</style>', "")
    svg = _G_ID.sub("<g", svg)                                     # "figure_1", "axes_1": the same in every chart
    alt = alt or describe(spec)
    t, d = f"{chart_id}-title", f"{chart_id}-desc"

    def opening(m: re.Match[str]) -> str:
        tag = re.sub(r'\s(width|height)="[^"]*"', "", m.group(0))
        return (tag[:-1] + f' role="img" aria-labelledby="{t} {d}" focusable="false">'
                f'<title id="{t}">{escape(spec.title)}</title><desc id="{d}">{escape(alt)}</desc>')

    svg = _SVG_OPEN.sub(opening, svg, count=1)
    rows = tuple((c, tuple(_chart_cell(values[j], spec.number_format) for _, values in spec.series))
                 for j, c in enumerate(spec.categories))
    return Chart(chart_id, spec.title, alt, svg, tuple(name for name, _ in spec.series), rows)


def _chart_cell(v: float | None, number_format: str) -> str:
    if v is None:
        return "-"
    return f"{v:,.1f}" if number_format == "0.0" else fmt_number(round(v, 1))


# -- the page -------------------------------------------------------------------------------------

def jinja_env(settings: Settings) -> Any:
    """The working folder's ``doc_templates/web/`` first, then the shipped templates; autoescape on
    for every template whatever its name, and an undefined variable an error, not a blank."""
    import jinja2

    loader = jinja2.FileSystemLoader([str(settings.home / "doc_templates" / "web"), str(TEMPLATES)])
    return jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True)


def page_context(context: ReportContext, texts: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    """The report context's variables (those of the Word template), with each exception's words as
    the published .docx has them (``texts``: indicator -> (commentary, response), as ``publish``
    read them back) and its charts' specifications and alternative text (``ex.chart_specs``:
    drawn by ``draw_charts``)."""
    variables = context.template_variables()
    for ex, entry in zip(variables["exceptions"], context.exceptions, strict=True):
        if entry.id in texts:
            commentary, response = texts[entry.id]
            ex["commentary"], ex["response"] = paragraphs(commentary), paragraphs(response)
        ex["section_id"] = f"ex-{_slug(entry.id)}"
        ex["chart_specs"] = [(f"chart-{_slug(entry.id)}-{i + 1}", c.spec, c.alt_text) for i, c in enumerate(entry.charts)]
        ex["chart_list"] = []
    # "Performance at a glance" (section 19), when the context has one: each exception's row links to its section
    if variables.get("overview") is not None:
        for row in (*variables["overview"]["rows"], *(r for g in variables["overview"]["groups"] for r in g["rows"])):
            row["section_id"] = f"ex-{_slug(row['id'])}" if row["exception"] else ""
    variables["lang"] = "en-GB"
    return variables


def draw_charts(context: Mapping[str, Any]) -> dict[str, list[Chart]]:
    """Every exception's charts as SVG, by indicator (pure: no store, so it may run in a thread)."""
    return {ex["id"]: [chart_svg(spec, cid, alt) for cid, spec, alt in ex["chart_specs"]]
            for ex in context["exceptions"]}


def download_links(documents: Sequence[str]) -> list[dict[str, str]]:
    """Links to the ``documents`` beside the page, then to the data."""
    links = []
    for name in documents:
        kind = {".docx": "Word document", ".pdf": "PDF"}.get(Path(name).suffix.lower(), "file")
        links.append({"href": quote(name), "text": f"{name} ({kind})"})
    links.append({"href": quote(CSV_NAME), "text": f"{CSV_NAME}: the figures as open data (CSV)"})
    links.append({"href": quote(PACKAGE_NAME),
                  "text": f"{PACKAGE_NAME}: what the data holds (Frictionless Data Package)"})
    return links


def render_page(settings: Settings, context: Mapping[str, Any]) -> str:
    import jinja2

    try:
        return str(jinja_env(settings).get_template(PAGE_TEMPLATE).render(context))
    except jinja2.TemplateError as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, jinja2.TemplateSyntaxError) else ""
        raise KpiflowError(f"The web page template {PAGE_TEMPLATE}{where} has an error: {exc}. Put it right in "
                           f"doc_templates/web/{PAGE_TEMPLATE}, or remove that file to use the shipped one.") from exc


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


# -- open data ------------------------------------------------------------------------------------

CSV_FIELDS: tuple[tuple[str, str, str], ...] = (
    # (name, Table Schema type, description)
    ("council", "string", "The council that publishes the figures"),
    ("la_code", "string", "The council's three-digit DfE local authority code, where set"),
    ("indicator_id", "string", "The council's stable key for the indicator"),
    ("description", "string", "The indicator as the report names it"),
    ("portfolio", "string", "The Cabinet portfolio the indicator is reported under"),
    ("priority", "string", "The council-plan priority the indicator serves, where the catalogue gives one"),
    ("period", "string", "The period: a financial year (2017/18) or a quarter of it (2017/18 Q2)"),
    ("period_start", "date", "The first day of the period (ISO 8601)"),
    ("period_end", "date", "The last day of the period (ISO 8601)"),
    ("measure", "string", "Snapshot (the value at the period's end), Count (the amount in the period) or "
                          "Cumulative (the year to date)"),
    ("unit", "string", "Number, Rate, Number and rate, or Percentage"),
    ("number", "number", "The number (or percentage); blank where there is none. A year's figure is its outturn "
                         "by the measure: the value at 31 March, or a Count's quarters added up"),
    ("rate", "number", "The rate (e.g. per 10,000 children); blank where there is none"),
    ("target", "number", "The target in force for the period; blank where none is set"),
    ("rag", "string", "Green, Amber or Red against the target (the report quarter only)"),
    ("direction", "string", "Improved, Worsened or No change against the same quarter last year (the report "
                            "quarter only)"),
    ("better_to_be", "string", "High or Low"),
    ("status", "string", "final, or provisional for figures not signed off"),
    ("published", "date", "The date the report was published (ISO 8601)"),
)
_CONSTRAINTS: dict[str, dict[str, Any]] = {
    "rag": {"enum": ["Green", "Amber", "Red"]},
    "direction": {"enum": ["Improved", "Worsened", "No change"]},
    "better_to_be": {"enum": ["High", "Low"]},
    "status": {"enum": ["final", "provisional"]},
    "measure": {"enum": ["Snapshot", "Count", "Cumulative"]},
    "unit": {"enum": ["Number", "Rate", "Number and rate", "Percentage"]},
    "indicator_id": {"required": True},
    "period": {"required": True},
}

# one place for OWASP's CSV-injection rule; kpiflow export applies the same rule to its CSV


def indicator_rows(settings: Settings, catalogue: Catalogue, quarter: Period, assessments: Iterable[Assessment],
                   published: dt.date, provisional: frozenset[str] = frozenset()) -> list[dict[str, str]]:
    """One row per indicator and period of its values table (the two years before, then this
    year's quarters up to the report quarter), every indicator of the quarter in catalogue order.

    Figures are those the values table shows (a year's outturn by the indicator's measure), the
    target is the one in force for the period, and RAG and direction are the report quarter's."""
    rows: list[dict[str, str]] = []
    for a in assessments:
        ind, f = a.indicator, a.facts
        periods: list[tuple[Period, Any]] = [*f.years, *((q, figs) for q, figs in f.quarters if q <= quarter)]
        for p, figs in periods:
            year_target = catalogue.target(ind.id, p.year.label)
            if p.kind == "year":
                target = year_target
            else:
                profile = catalogue.profiles_for(ind.id).get(p.year.label)
                target = target_in_force(year_target, profile, p, ind.measure)[0]
            current = p == quarter
            start = p.quarters()[0].months()[0] if p.kind != "month" else p
            rows.append({
                "council": settings.council, "la_code": settings.la_code, "indicator_id": ind.id,
                "description": ind.name, "portfolio": ind.portfolio, "priority": str(getattr(ind, "priority", "") or ""),
                "period": p.label, "period_start": dt.date(start.calendar_year, start.calendar_month, 1).isoformat(),
                "period_end": p.end_date.isoformat(), "measure": ind.measure.name, "unit": ind.unit,
                "number": exact(figs.number if figs is not None and ind.has_number else None),
                "rate": exact(figs.rate if figs is not None and ind.has_rate else None),
                "target": exact(target),
                "rag": (f.rag or "") if current else "",
                "direction": (f.vs_last_year or "") if current else "",
                "better_to_be": ind.better,
                "status": "provisional" if ind.id in provisional else "final",
                "published": published.isoformat(),
            })
    return rows


def csv_text(rows: Iterable[Mapping[str, str]]) -> str:
    """The rows as CSV (UTF-8, a header row, CRLF line ends as RFC 4180 has them), text cells made safe."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([name for name, _, _ in CSV_FIELDS])
    for r in rows:
        writer.writerow([csv_safe(r[name]) if kind == "string" else r[name] for name, kind, _ in CSV_FIELDS])
    return buf.getvalue()


def data_package(settings: Settings, quarter: Period, published: dt.date) -> dict[str, Any]:
    """The Frictionless Data Package describing ``indicators.csv``."""
    fields = [{"name": name, "type": kind, "description": text, **({"format": "%Y-%m-%d"} if kind == "date" else {}),
               **({"constraints": _CONSTRAINTS[name]} if name in _CONSTRAINTS else {})}
              for name, kind, text in CSV_FIELDS]
    slug = re.sub(r"[^a-z0-9]+", "-", f"{settings.council} performance {quarter.file_label}".lower()).strip("-")
    return {
        "name": slug,
        "title": f"{settings.council}: performance indicators, {quarter.short}",
        "description": f"The figures behind {report_title(quarter)}: every indicator of {quarter.short} with "
                       "the two years before it and this year's quarters so far, as the report shows them.",
        "licenses": [OGL],
        "sources": [{"title": settings.council}],
        "contributors": [{"title": settings.council, "role": "publisher"}],
        "created": dt.datetime.combine(published, dt.time(), dt.UTC).isoformat().replace("+00:00", "Z"),
        "resources": [{
            "name": "indicators",
            "path": CSV_NAME,
            "profile": "tabular-data-resource",
            "title": "Performance indicators",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "licenses": [OGL],
            "dialect": {"delimiter": ",", "lineTerminator": "\r\n", "header": True},
            "schema": {"fields": fields, "primaryKey": ["indicator_id", "period"], "missingValues": [""]},
        }],
    }


# -- all of it, into the publishing folder --------------------------------------------------------

class PublicFiles:
    """The page, ``indicators.csv`` and ``datapackage.json`` for a quarter being published.

    Made in three steps so that publish can draw the charts while LibreOffice makes the PDF: the
    store is read here (in the caller's thread: a store connection stays in its thread), ``start``
    draws the charts in a thread of its own, and ``write`` puts the three files into publish's
    working folder, linking the documents that were filed beside them."""

    def __init__(self, settings: Settings, snapshot: QuarterSnapshot, texts: Mapping[str, tuple[str, str]],
                 made_on: dt.date, published: dt.date | None = None) -> None:
        from kpiflow.report.context import build_context

        published = published or dt.date.today()
        quarter = snapshot.quarter
        self.settings, self.quarter = settings, quarter
        # the quarter publish read (with its words and breakdowns): the page reads the store no more
        report = build_context(snapshot, settings.council, settings.rules, made_on,
                               group_by=settings.group_by if settings.overview else None)
        self.context = page_context(report, texts)
        self.csv = csv_text(indicator_rows(settings, snapshot.catalogue, quarter, list(snapshot.assessments),
                                           published))
        self.package = json.dumps(data_package(settings, quarter, published), indent=2, ensure_ascii=False) + "\n"
        self._charts: Future[dict[str, list[Chart]]] | None = None

    def start(self) -> None:
        """Start drawing the charts in the background."""
        pool = ThreadPoolExecutor(1, thread_name_prefix="kpiflow-charts")
        self._charts = pool.submit(draw_charts, self.context)
        pool.shutdown(wait=False)

    def write(self, folder: Path, documents: Sequence[str]) -> list[Path]:
        """Write the three files into ``folder`` and return their paths."""
        charts = self._charts.result() if self._charts is not None else draw_charts(self.context)
        for ex in self.context["exceptions"]:
            ex["chart_list"] = charts[ex["id"]]
        page = render_page(self.settings, {**self.context, "links": download_links(documents)})
        out = [folder / page_filename(self.quarter), folder / CSV_NAME, folder / PACKAGE_NAME]
        for path, text in zip(out, (page, self.csv, self.package), strict=True):
            with path.open("x", encoding="utf-8", newline="") as fh:
                fh.write(text)
        return out
