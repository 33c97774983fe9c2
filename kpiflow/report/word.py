"""Render the Appendix 6(b) draft from doc_templates/appendix_6b.docx with docxtpl: the Word
renderer of the report context (``kpiflow.report.context``).

The template holds the layout (a council restyles it in Word); the context holds everything the
report says. This module adds what only Word has (marked regions for the officer's words, native
charts, bookmarks), renders, records the draft's provenance in its custom properties and writes
it. Autoescape is always on and the Jinja environment is strict, so a typo in the template is an
error, not a blank. The Word XML it inserts is made by ``kpiflow.docx.render``.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kpiflow.docx.a11y import set_properties
from kpiflow.docx.ids import numbers
from kpiflow.docx.marks import mark_anchor
from kpiflow.docx.render import (
    add_chart,
    marked_block,
    new_block,
    number_drawings,
    open_template,
    retarget_section_links,
    save_draft,
    section_bookmark,
    section_link,
)
from kpiflow.errors import KpiflowError, NoFiguresError
from kpiflow.filing import part_path, unique_path, write_new
from kpiflow.model import Catalogue
from kpiflow.periods import Period
from kpiflow.report.context import (
    QuarterSnapshot,
    ReportContext,
    build_context,
    report_filename,
    report_title,
)
from kpiflow.report.gather import gather
from kpiflow.settings import Settings
from kpiflow.store import Store


def jinja_env() -> Any:
    import jinja2

    return jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=True)


def template_variables(context: ReportContext, tpl: Any = None, chart_mode: str = "native") -> dict[str, Any]:
    """The template's variables: the context's, and with a template (``tpl``) each exception's
    Word parts: its bookmark anchor, the bookmark at its heading, its marked commentary and
    response, and its charts; and each overview row's ID, linked to its exception's heading."""
    out = context.template_variables()
    if out["overview"] is not None:
        rows = [*out["overview"]["rows"], *(r for g in out["overview"]["groups"] for r in g["rows"])]
        for r in rows:
            r["link"] = section_link(r["id"], r["id"] if r["exception"] else None)
    for entry, ex in zip(context.exceptions, out["exceptions"], strict=True):
        ex["anchor"] = mark_anchor(entry.id)
        ex["section_mark"] = section_bookmark(tpl, entry.id) if tpl else ""
        ex["commentary_block"] = marked_block(tpl, entry.id, "commentary", list(entry.commentary)) if tpl else ""
        ex["response_block"] = marked_block(tpl, entry.id, "response", list(entry.response)) if tpl else ""
        charts: Any = ""
        if tpl is not None and entry.charts:
            charts = new_block(tpl)
            for chart in entry.charts:
                add_chart(charts, chart.spec, chart_mode)
        ex["charts"] = charts
    return out


def kept_by_id(kept: Mapping[tuple[str, str], str], catalogue: Catalogue) -> dict[tuple[str, str], str]:
    """Kept edits, read by bookmark anchor from a draft, by indicator ID instead."""
    ids = {mark_anchor(i.id): i.id for i in catalogue.indicators}
    return {(ids[anchor], kind): text for (anchor, kind), text in kept.items() if anchor in ids}


def render_report(settings: Settings, store: Store, catalogue: Catalogue, quarter: Period,
                  template: Path | None = None, out: Path | None = None,
                  kept: Mapping[tuple[str, str], str] | None = None, today: dt.date | None = None,
                  snapshot: QuarterSnapshot | None = None) -> Path:
    """Write the draft report and return its path (a new name if a draft already exists).

    ``kept`` gives words to use instead of the store's, by (the indicator ID as a bookmark holds
    it, "commentary" or "response"): an officer's edits carried over from an earlier draft.
    ``snapshot`` is the quarter as already read (see ``kpiflow.report.gather``). The draft records
    where it came from in its document properties (see ``kpiflow.provenance``), and is written
    under a hidden name first, so that a full disk or a kill never leaves part of a draft under
    its name."""
    template = template or settings.template_path
    snap = snapshot or gather(settings, store, catalogue, quarter)
    if not snap.has_figures:
        raise NoFiguresError(f"No figures have been received for {quarter.short}, so no report was written. Check "
                             f'the quarter: kpiflow status --quarter "{quarter.label}" shows which returns are in.')
    data = render_draft(settings, snap, template, kept, today)
    return _write_aside(data, out or settings.drafts_dir / report_filename(quarter), replace=out is not None)


def render_draft(settings: Settings, snap: QuarterSnapshot, template: Path | None = None,
                 kept: Mapping[tuple[str, str], str] | None = None, today: dt.date | None = None) -> bytes:
    """The draft for a quarter already read, as the bytes of a .docx: what ``render_report`` writes, and what
    ``publish`` compares an edited draft with (rendered afresh, with ``today`` the day the draft was made)."""
    from jinja2 import TemplateError

    template = template or settings.template_path
    if not template.exists():
        raise KpiflowError(f"The report template {template} is missing. Run kpiflow init to get the shipped one.")
    quarter = snap.quarter
    context = build_context(snap, settings.council, settings.rules, today or dt.date.today(),
                            kept_by_id(kept or {}, snap.catalogue), group_by=settings.group_by if settings.overview else None)
    try:
        tpl = open_template(template)
        tpl.render(template_variables(context, tpl, settings.charts), jinja_env=jinja_env(), autoescape=True)
        number_drawings(tpl)
        retarget_section_links(tpl.docx)
        set_properties(tpl.docx, report_title(quarter), settings.council)
    except TemplateError as exc:
        raise KpiflowError(f"The report template {template.name} has an error: {exc}. "
                           "Run kpiflow template check to find it.") from exc
    _record_provenance(tpl, snap, set(kept or ()), context, settings.council, template_hash(template))
    buf = io.BytesIO()
    save_draft(tpl, buf)
    return buf.getvalue()


def template_hash(template: Path) -> str:
    """A short hash of the report template a draft is rendered from (recorded in the draft)."""
    import hashlib

    from kpiflow.provenance import HASH_CHARS

    return hashlib.sha256(template.read_bytes()).hexdigest()[:HASH_CHARS]


def _record_provenance(tpl: Any, snap: QuarterSnapshot, kept: set[tuple[str, str]], context: ReportContext,
                       council: str, template: str = "") -> None:
    """The draft's custom properties: its quarter, returns and figures, and hashes of the words
    kpiflow put in it (each marked region, and any text from the store that looks like a template
    tag). A region holding words ``kept`` from an earlier draft gets no hash: they are the
    officer's, and a later --keep-edits carries them again. Each region whose words kpiflow wrote also gets a
    bookmark holding their hash beside its mark, in the body, where it outlives the properties
    (``drafted_marks``)."""
    from kpiflow.docx.harvest import paragraphs_of, regions
    from kpiflow.docx.props import set_properties
    from kpiflow.provenance import Provenance, fingerprint, short_hash

    document = tpl.docx
    # the regions' words: a table without a mark holds none of them, and is passed over
    marks = regions(paragraphs_of(document.element, unmarked_tables=False))
    drafted_marks(document, marks.texts, context, kept)
    texts = _tag_candidates(document.element)
    for rel in document.part.rels.values():
        if rel.reltype.endswith(("/header", "/footer")) and not rel.is_external:
            texts += _tag_candidates(rel.target_part.element)
    made = Provenance(
        quarter=snap.quarter.label,
        made_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        figures=fingerprint(snap.assessments, snap.quarter),
        submissions={sid: s.sha256 for sid, s in snap.accepted.items()},
        regions={(mark_anchor(iid), kind): short_hash(text) for (iid, kind), text in marks.texts.items()
                 if (mark_anchor(iid), kind) not in kept},
        tag_like=_tag_hashes(texts), council=council,
        template=template)
    set_properties(document.part.package, made.to_properties())


def _tag_hashes(texts: list[str]) -> frozenset[str]:
    """The short hashes of the tag-like text in ``texts``."""
    if not texts:
        return frozenset()
    from kpiflow.docx.checks import TEMPLATE_TAG
    from kpiflow.provenance import short_hash

    return frozenset(short_hash(tag) for text in texts for tag in TEMPLATE_TAG.findall(text))


def _tag_candidates(root: Any) -> list[str]:
    """The paragraphs' texts of a part where any of its text could hold a template tag (a ``{``), else none."""
    from lxml import etree

    from kpiflow.docx.harvest import paragraphs_of
    from kpiflow.docx.xml import NS

    # compiled: python-docx's elements' own xpath() takes no namespace map
    if not etree.XPath("boolean(.//w:t[contains(., '{')])", namespaces={"w": NS["w"]})(root):
        return []
    return [p.text for p in paragraphs_of(root).paras]


def drafted_marks(document: Any, texts: Mapping[tuple[str, str], str], context: ReportContext,
                  kept: set[tuple[str, str]]) -> None:
    """Beside the mark of each region holding words kpiflow wrote (a commentary drafted from the figures, the
    "no return" words, a service's words from the store: anything but an officer's words kept from an earlier
    draft), a point bookmark with their hash (``kpiflow.provenance.drafted_hash``), which outlives the
    properties."""
    from kpiflow.docx.marks import bookmark_name, drafted_bookmark
    from kpiflow.docx.render import point_bookmark
    from kpiflow.docx.xml import W
    from kpiflow.provenance import drafted_hash

    ids = numbers(document.part.package)
    labels = {el.get(f"{W}name"): el for el in document.element.body.iter(f"{W}bookmarkStart")}
    for e in context.exceptions:
        # words kept from an officer's earlier draft are the officer's; the rest kpiflow wrote (drafted from the
        # figures, or the service's words from the store)
        drafted = {"commentary": not e.commentary_kept, "response": not e.response_kept}
        for kind, ours in drafted.items():
            text = texts.get((e.id, kind), "")
            start = labels.get(bookmark_name(e.id, kind))
            anchor = mark_anchor(e.id)
            if not ours or not text or start is None or (anchor, kind) in kept:
                continue
            mark, end = point_bookmark(drafted_bookmark(drafted_hash(anchor, kind, text)), ids.next_annotation())
            start.addnext(mark)
            mark.addnext(end)


def _write_aside(data: bytes, dest: Path, replace: bool = False) -> Path:
    """Write ``data`` under a hidden name beside ``dest``, then give it ``dest`` (or, unless
    ``replace``, the next free name): never a part-written file under a real name."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    while True:
        if not replace:
            dest = unique_path(dest.parent, dest.name)
        part = part_path(dest)
        try:
            if replace:
                with part.open("wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(part, dest)
                return dest
            if write_new(dest, data):
                return dest
        except OSError as exc:
            part.unlink(missing_ok=True)
            raise KpiflowError(f"The draft could not be written ({exc.strerror or exc}: {dest}). Nothing was written "
                               "under its name. Make room (or fix the folder's permissions) and run kpiflow report "
                               "again.") from exc
