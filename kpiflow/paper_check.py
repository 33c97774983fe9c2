"""What Cabinet reads is what the store says: an edited draft compared with the quarter rendered afresh from
the store, before it is published.

The draft is rendered again, from the same template, the store as it is now and the day the draft was made,
and both are read as what they show (``kpiflow.docx.paper``): every paragraph outside the marked regions,
every table cell, every chart (its cached values, its embedded workbook, its alternative text) and picture.
The two are aligned in order. Officers' words are theirs: a marked region's paragraphs are never compared,
and a paragraph (or a table, or a picture) the draft has and the store's rendering has not is one an officer
added. Everything else is kpiflow's: a cell, heading, description, line of the key or chart that differs, or
that is gone, is refused, located and naming both ("CS01 values table, 2017/18 Q2: the draft shows 431
(150.6), the store holds 531 (185.6)"). A region that sits under another exception's section (moved, or its
tag changed), and a section pasted twice, are refused too.

The published charts are the store's in any case: each chart part and embedded workbook of the draft is
replaced by the fresh one, and its alternative text by the fresh one (``published_parts``); only formatting
is the draft's.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kpiflow.docx.marks import KINDS, mark_anchor
from kpiflow.problems import Problem
from kpiflow.provenance import Provenance, drafted_hash, made_on
from kpiflow.report.context import QuarterSnapshot
from kpiflow.settings import Settings

WHAT = {"commentary": "commentary", "response": "service response"}
LABEL = {"commentary": "Commentary:", "response": "Service Response:"}
MOST = 25          # differences listed one by one; the rest are counted
PER_CHART = 4      # a chart's figures listed one by one


@dataclass
class PaperCheck:
    """The comparison's problems, and the parts of the published copy that come from the store."""

    problems: list[Problem] = field(default_factory=list)
    parts: dict[str, bytes] = field(default_factory=dict)       # draft part name -> the store's bytes
    drafted: set[str] = field(default_factory=set)              # hashes of the words kpiflow wrote in the draft


def check_paper(settings: Settings, snap: QuarterSnapshot, pkg: Any, made: Provenance, shown: str) -> PaperCheck:
    """Compare the open draft package ``pkg`` with the quarter rendered afresh from ``snap`` (see the module's
    notes). ``shown`` is the draft's path as the messages name it."""
    from kpiflow.docx.package import package_of
    from kpiflow.docx.paper import read_paper
    from kpiflow.report.word import render_draft, template_hash

    out = PaperCheck()
    template = settings.template_path
    if made.template and template.is_file() and made.template != template_hash(template):
        out.problems.append(Problem(
            "error", "stale-draft", f"The report template {template.name} has changed since this draft was made, so "
            "its figures cannot be checked against the store's. Make a fresh draft that keeps your edits: kpiflow "
            f"report --quarter \"{snap.quarter.label}\" --keep-edits \"{shown}\", then publish that."))
        return out
    fresh_bytes = render_draft(settings, snap, today=made_on(made))
    draft = read_paper(pkg)
    out.drafted = set(draft.part.drafted)
    with package_of(fresh_bytes, "the store's rendering.docx") as fresh_pkg:
        fresh = read_paper(fresh_pkg)
        _Comparison(snap, pkg, fresh_pkg, draft, fresh, shown, out).run()
    return out


def _owners(paras: Sequence[Any], descriptions: dict[str, str]) -> list[str]:
    current, found = "", []
    for p in paras:
        current = descriptions.get(" ".join(p.text.split()), current)
        found.append(current)
    return found


def _shown(text: str, quote: bool) -> str:
    if not text:
        return "nothing"
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"\"{text}\"" if quote else text


def _around(draft: str, store: str, room: int = 30) -> tuple[str, str]:
    """Two long texts cut to where they differ (with some words either side), so that a reader sees what
    changed."""
    if len(draft) <= 90 and len(store) <= 90:
        return draft, store
    start = 0
    while start < min(len(draft), len(store)) and draft[start] == store[start]:
        start += 1
    end = 0
    while end < min(len(draft), len(store)) - start and draft[-1 - end] == store[-1 - end]:
        end += 1
    lo = max(0, start - room)

    def cut(text: str) -> str:
        hi = min(len(text), len(text) - end + room)
        return ("..." if lo else "") + text[lo:hi] + ("..." if hi < len(text) else "")
    return cut(draft), cut(store)


def _number(v: float | None) -> str:
    return "no figure" if v is None else f"{v:g}"


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


class _Comparison:
    def __init__(self, snap: QuarterSnapshot, pkg: Any, fresh_pkg: Any, draft: Any, fresh: Any, shown: str,
                 out: PaperCheck) -> None:
        self.snap, self.pkg, self.fresh_pkg, self.draft, self.fresh, self.out = snap, pkg, fresh_pkg, draft, fresh, out
        self.entries = {a.indicator.id: a for a in snap.exceptions}
        self.descriptions = {" ".join(a.indicator.name.split()): a.indicator.id for a in snap.exceptions}
        self.fresh_owner = _owners(fresh.part.paras, self.descriptions)
        self.draft_owner = _owners(draft.part.paras, self.descriptions)
        self.redo = (f"Figures, headings, descriptions, charts and the key are the store's: only the marked "
                     f"commentary and service responses are yours to change. Make a fresh draft that keeps your "
                     f"edits (kpiflow report --quarter \"{snap.quarter.label}\" --keep-edits \"{shown}\") and "
                     "publish that.")
        self.labels = self._labels()
        self.draft_items = self._in_store_order(draft.items)
        self.differences: list[Problem] = []
        self.charts_seen: dict[str, int] = {}
        self.targets: tuple[dict[str, str], dict[str, str]] | None = None

    # -- where each of the store's items is ---------------------------------------------------------

    def _section(self, item: Any, owner: list[str]) -> str:
        return owner[item.para] if 0 <= item.para < len(owner) else ""

    def _labels(self) -> list[str]:
        """A name for each item of the fresh rendering: "CS01 values table, 2017/18 Q2", "the key"."""
        from kpiflow.docx.harvest import BOUNDARY_STYLES

        items, owner = self.fresh.items, self.fresh_owner
        tables: dict[int, list[Any]] = {}
        for it in items:
            if it.kind == "cell":
                tables.setdefault(it.table, []).append(it)
        names: dict[tuple[int, int, int], str] = {}
        for t, cells in tables.items():
            section = next((self._section(c, owner) for c in cells if c.para >= 0), "")
            rows: dict[int, list[Any]] = {}
            for c in cells:
                rows.setdefault(c.row, []).append(c)
            a = self.entries.get(section)
            values = None
            if a is not None:
                from kpiflow.report.context import values_table

                values = values_table(a)
            texts = {c.text for c in cells}
            heads = {c.col: c.text for c in rows.get(0, [])}
            for r, row in rows.items():
                first = row[0].text if row else ""
                for c in row:
                    if values is not None and [x.text for x in row] == [
                            " ".join(s.split()) for s in (values.row_label, *(v.text for v in values.cells),
                                                          values.target)]:
                        what = "row label" if c.col == 0 else (
                            values.cells[c.col - 1].period if c.col <= len(values.cells) else "target")
                        name = f"{section} values table, {what}"
                    elif values is not None and a is not None and " ".join(a.indicator.name.split()) in texts:
                        name = f"{section} description table"
                    elif section and values is not None and any(
                            x.text == " ".join(v.text.split()) for v in values.cells for x in row):
                        name = f"{section} values table, heading"
                    elif section:
                        name = f"{section} table {t + 1}, row {r + 1}"
                    else:
                        rid = first.split(":", 1)[0] if ":" in first and first.split(":", 1)[0] in self.entries \
                            else ""
                        col = heads.get(c.col, "")
                        name = (f"summary table, {rid}" + (f", {col}" if col else "")) if rid else \
                            f"table {t + 1} of the first page, row {r + 1}"
                    names[(t, c.row, c.col)] = name
        out: list[str] = []
        heading = ""
        for it in items:
            section = self._section(it, owner)
            if it.kind == "cell":
                out.append(names[(it.table, it.row, it.col)])
                continue
            if it.kind == "p" and (it.style in BOUNDARY_STYLES or it.style.lower().startswith("heading")):
                heading = it.text
            if it.kind in ("chart", "picture"):
                out.append(f"{section} chart" if section else "chart")
            elif section and it.text == " ".join(self.entries[section].indicator.name.split()):
                out.append(f"{section} heading")
            elif section:
                out.append(f"{section} section")
            elif heading == "Key" and it.text != "Key":
                out.append("the key")
            else:
                out.append(f"the first page{f' ({heading})' if heading and heading != it.text else ''}")
        return out

    def _in_store_order(self, items: list[Any]) -> list[Any]:
        """The draft's items with its exceptions' sections in the order the store's rendering has them (an
        officer may move a whole section: each is compared with its own); within a section, as they are."""
        rank: dict[str, int] = {}
        for owner in self.fresh_owner:
            rank.setdefault(owner, len(rank))
        keyed, last = [], ""
        for it in items:
            last = self._section(it, self.draft_owner) if it.para >= 0 else last
            keyed.append((rank.get(last, len(rank)), it))
        return [it for _, it in sorted(keyed, key=lambda pair: pair[0])]

    # -- the comparison -----------------------------------------------------------------------------

    def run(self) -> None:
        self._regions()
        self._duplicates()
        self._headers()
        fresh, draft = self.fresh.items, self.draft_items
        matcher = difflib.SequenceMatcher(None, [i.key() for i in fresh], [i.key() for i in draft], autojunk=False)
        ops = matcher.get_opcodes()
        kpiflow_tables = {draft[j].table for tag, i1, i2, j1, j2 in ops if tag == "equal"
                          for j in range(j1, j2) if draft[j].kind == "cell"}
        for tag, i1, i2, j1, j2 in ops:
            if tag == "equal":
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                    if fresh[i].kind in ("chart", "picture"):
                        self._drawing(i, fresh[i], draft[j])
                continue
            self._block(list(range(i1, i2)), list(range(j1, j2)), kpiflow_tables)
        if len(self.differences) > MOST:
            more = len(self.differences) - MOST
            self.differences = [*self.differences[:MOST], Problem(
                "error", "figure-changed", f"... and {more} more difference(s) between the draft and the store. "
                f"{self.redo}")]
        self.out.problems += self.differences
        if not self.out.problems:
            from kpiflow.docx.package import MAIN
            from kpiflow.docx.paper import serialise

            self.out.parts[MAIN] = serialise(self.draft.root)

    def _differs(self, label: str, draft: str, store: str, code: str = "figure-changed", quote: bool = False,
                 section: str = "") -> None:
        draft, store = _around(draft, store)
        self.differences.append(Problem(
            "error", code, f"{label}: the draft shows {_shown(draft, quote)}, the store holds {_shown(store, quote)}. "
            f"{self.redo}", sheet=section, cell=label, indicator_id=section))

    def _block(self, fi: list[int], dj: list[int], kpiflow_tables: set[int]) -> None:
        """Items that differ between the store's rendering (``fi``) and the draft's (``dj``)."""
        fresh, draft = self.fresh.items, self.draft_items
        left = list(dj)
        for i in fi:
            f = fresh[i]
            same_kind = [j for j in left if draft[j].kind == f.kind and (
                f.kind != "cell" or (draft[j].row, draft[j].col) == (f.row, f.col))]
            j = max(same_kind, key=lambda j: difflib.SequenceMatcher(None, f.text, draft[j].text).ratio(),
                    default=None)
            label, section = self.labels[i], self._section(f, self.fresh_owner)
            if j is None:
                what = {"chart": "a chart", "picture": "a picture"}.get(f.kind, _shown(f.text, f.kind == "p"))
                self.differences.append(Problem(
                    "error", "chart-changed" if f.kind == "chart" else "figure-changed",
                    f"{label}: the draft leaves out {what}, which the store's report has. {self.redo}",
                    sheet=section, cell=label, indicator_id=section))
                continue
            left.remove(j)
            if f.kind in ("chart", "picture"):
                self._drawing(i, f, draft[j])
            else:
                self._differs(label, draft[j].text, f.text, quote=f.kind == "p", section=section)
        for j in left:
            d = draft[j]
            section = self._section(d, self.draft_owner)
            where = f"{section or 'the first page'}, paragraph {d.para + 1}"
            if d.kind == "chart":
                self.differences.append(Problem(
                    "error", "chart-changed", f"{where}: the draft has a chart the store's report does not: its "
                    f"figures cannot be checked. Delete it. {self.redo}", sheet=section, cell=f"paragraph {d.para + 1}",
                    indicator_id=section))
            elif d.kind == "cell" and d.table in kpiflow_tables:
                self.differences.append(Problem(
                    "error", "figure-changed", f"{where}: a cell kpiflow's table does not have, holding "
                    f"{_shown(d.text, True)}. Delete it. {self.redo}", sheet=section,
                    cell=f"paragraph {d.para + 1}", indicator_id=section))
            # anything else (a paragraph, a table or a picture of the officer's own) is the officer's

    def _drawing(self, i: int, f: Any, d: Any) -> None:
        from kpiflow.docx.paper import chart_data, chart_for_draft, main_targets, picture_part
        from kpiflow.docx.xml import q

        section = self._section(f, self.fresh_owner)
        n = self.charts_seen[section] = self.charts_seen.get(section, 0) + 1
        label = f"{section + ' ' if section else ''}chart {n}"
        f_pr, d_pr = f.element.find(q("wp:docPr")), d.element.find(q("wp:docPr"))
        alt = (f_pr.get("descr") or "") if f_pr is not None else ""
        if f.kind != d.kind:
            self.differences.append(Problem(
                "error", "chart-changed", f"{label}: the draft has a {d.kind} where the store's report has a "
                f"{f.kind}. {self.redo}", sheet=section, cell=label, indicator_id=section))
            return
        said = (d_pr.get("descr") or "").strip() if d_pr is not None else ""
        if said and " ".join(said.split()) != " ".join(alt.split()):
            self._differs(f"{label}, alternative text", said, alt, "chart-changed", True, section)
        if d_pr is not None and alt:
            d_pr.set("descr", alt)
        if not self.targets:
            self.targets = (main_targets(self.fresh_pkg), main_targets(self.pkg))
        ours, theirs_at = self.targets
        if f.kind == "picture":
            src, dest = picture_part(self.fresh_pkg, f, ours), picture_part(self.pkg, d, theirs_at)
            if src and dest:
                self.out.parts[dest] = self.fresh_pkg.read(src)
            return
        mine, theirs = chart_data(self.fresh_pkg, f, ours), chart_data(self.pkg, d, theirs_at)
        if mine is None:
            return
        if theirs is None:
            self.differences.append(Problem(
                "error", "chart-changed", f"{label}: the chart's part is missing from the draft. {self.redo}",
                sheet=section, cell=label, indicator_id=section))
            return
        self._chart(f"{label} ({mine.spec.title})" if mine.spec.title else label, mine, theirs, section)
        self.out.parts[theirs.part] = chart_for_draft(self.fresh_pkg.read(mine.part), theirs.workbook_rid)
        if theirs.workbook_part and mine.workbook_part:
            self.out.parts[theirs.workbook_part] = self.fresh_pkg.read(mine.workbook_part)

    def _chart(self, label: str, mine: Any, theirs: Any, section: str) -> None:
        s, d = mine.spec, theirs.spec
        if norm_text(d.title) != norm_text(s.title):
            self._differs(f"{label}, title", d.title, s.title, "chart-changed", True, section)
        if tuple(d.categories) != tuple(s.categories):
            self._differs(f"{label}, categories", ", ".join(d.categories), ", ".join(s.categories),
                          "chart-changed", section=section)
        names = [n for n, _ in s.series]
        if [n for n, _ in d.series] != names:
            self._differs(f"{label}, series", ", ".join(n for n, _ in d.series), ", ".join(names), "chart-changed",
                          section=section)
        differ = [(f"{label}, {name} {s.categories[k] if k < len(s.categories) else k + 1}", g, v)
                  for (name, values), (_, given) in zip(s.series, d.series, strict=False)
                  for k, (v, g) in enumerate(zip(values, given, strict=False)) if not _same(v, g)]
        for where, g, v in differ[:PER_CHART]:
            self._differs(where, _number(g), _number(v), "chart-changed", section=section)
        if len(differ) > PER_CHART:
            self.differences.append(Problem(
                "error", "chart-changed", f"{label}: {len(differ) - PER_CHART} more of its figures are not the "
                f"store's. {self.redo}", sheet=section, cell=label, indicator_id=section))
        if theirs.workbook is not None and mine.workbook is not None:
            cells = []
            for ref in sorted(set(mine.workbook) | set(theirs.workbook), key=_cell_order):
                v, g = mine.workbook.get(ref), theirs.workbook.get(ref)
                if isinstance(v, float) or isinstance(g, float):
                    ok = isinstance(v, float) and isinstance(g, float) and _same(v, g)
                else:
                    ok = norm_text(str(v or "")) == norm_text(str(g or ""))
                if not ok:
                    cells.append((ref, _number(g) if isinstance(g, float) else str(g or ""),
                                  _number(v) if isinstance(v, float) else str(v or "")))
            for ref, g_text, v_text in cells[:PER_CHART]:
                self._differs(f"{label}, its data (Edit Data) cell {ref}", g_text, v_text, "chart-changed",
                              section=section)
            if len(cells) > PER_CHART:
                self.differences.append(Problem(
                    "error", "chart-changed", f"{label}: {len(cells) - PER_CHART} more cells of its data (Edit Data) "
                    f"are not the store's. {self.redo}", sheet=section, cell=label, indicator_id=section))

    def _headers(self) -> None:
        """The running headers and footers kpiflow wrote (the title and quarter) are in the draft's."""
        def texts(pkg: Any) -> list[tuple[str, str]]:
            from kpiflow.docx.harvest import paragraphs_of

            found = []
            for name, kind in pkg.text_parts():
                if kind in ("header", "footer"):
                    found += [(kind, norm_text(p.text)) for p in paragraphs_of(pkg.xml(name)).paras if p.text.strip()]
            return found

        theirs = texts(self.pkg)
        for kind, text in texts(self.fresh_pkg):
            if (kind, text) not in theirs:
                shown = [t for k, t in theirs if k == kind]
                self._differs(f"the running {kind}", " / ".join(shown), text, quote=True)

    # -- whose words sit where ----------------------------------------------------------------------

    def _regions(self) -> None:
        """Each marked region, and its mark, under its own exception's section."""
        part, marks, owner = self.draft.part, self.draft.marks, self.draft_owner
        ids = {mark_anchor(i): i for i in self.entries} | {i: i for i in self.entries}
        for key in sorted(set(marks.indices) | set(part.controls) | set(part.bookmarks)):
            iid = ids.get(key[0])
            if iid is None:
                continue
            places = [*(i for i in part.controls.get(key, []) if i is not None),
                      *(i for k, found in part.bookmarks.items() if ids.get(k[0]) == iid and k[1] == key[1]
                        for i in found if i is not None),
                      *marks.indices.get(key, [])]
            wrong = sorted({i for i in places if i < len(owner) and owner[i] != iid})
            if not wrong:
                continue
            at = wrong[0]
            under = owner[at]
            name = self.entries[iid].indicator.name
            where = f"under {under} ({self.entries[under].indicator.name})" if under else "before the first exception"
            self.out.problems.append(Problem(
                "error", "region-moved",
                f"{iid} ({name}): its marked {WHAT[key[1]]} sits {where}, at paragraph {at + 1}. A region moved into "
                f"another exception's section, or its tag changed (Developer > Properties), makes it unclear whose "
                f"words these are. Put it back under {iid}'s own \"{LABEL[key[1]]}\" label (or make a fresh draft "
                "with kpiflow report --keep-edits) and publish again.",
                sheet=iid, cell=f"paragraph {at + 1}", indicator_id=iid))

    def _duplicates(self) -> None:
        """A section pasted again (as plain text, without its marks): its description is there more often than
        in the store's rendering."""
        def count(paper: Any) -> dict[str, list[int]]:
            found: dict[str, list[int]] = {}
            for p in paper.part.paras:
                iid = self.descriptions.get(" ".join(p.text.split()))
                if iid is not None:     # inside a region too: a pasted copy runs on from the region above it
                    found.setdefault(iid, []).append(p.index)
            return found

        ours, theirs = count(self.fresh), count(self.draft)
        for iid, at in theirs.items():
            if len(at) > len(ours.get(iid, [])):
                listed = ", ".join(str(i + 1) for i in at)
                self.out.problems.append(Problem(
                    "error", "section-duplicated",
                    f"{iid} ({self.entries[iid].indicator.name}) is in the draft more often than once: its "
                    f"description is at paragraphs {listed}, {len(at) - len(ours.get(iid, []))} more time(s) than "
                    "the store's report has it. A section pasted twice makes it unclear which words are "
                    f"{iid}'s. Delete the copy and publish again.",
                    sheet=iid, cell=f"paragraph {at[-1] + 1}", indicator_id=iid))


def norm_text(text: str) -> str:
    return " ".join(text.split())


def _cell_order(ref: str) -> tuple[int, str]:
    letters = "".join(ch for ch in ref if ch.isalpha())
    digits = "".join(ch for ch in ref if ch.isdigit())
    return (int(digits) if digits else 0, letters)


def kpiflows_words(drafted: set[str], iid: str, kind: str, text: str) -> bool:
    """Whether ``text``, read from a region, is the words kpiflow wrote there and no officer changed."""
    return drafted_hash(mark_anchor(iid), kind, text) in drafted


__all__ = ["KINDS", "PaperCheck", "check_paper", "kpiflows_words", "made_on"]
