"""``kpiflow report --keep-edits EDITED.docx``: the officer's edited words, read out of an earlier
draft to be carried into a fresh one made from today's figures.

The words are read by indicator, as publish reads them back (content controls, or the bookmarks
LibreOffice keeps). Only what the officer changed is carried: a region whose text is still what
kpiflow wrote (its hash is in the draft's properties) takes today's words instead, so drafted
commentary quoting old figures is drafted again. The words kpiflow wrote are known as its own by a hash kept
in the body too (``kpiflow.docx.marks.DRAFTED``), so they are written again from today's store even from a
draft whose properties were removed (Word's Document Inspector does that). A draft for another quarter or
another council, one whose regions are marked twice, or a file with no marked regions at all is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kpiflow.docx.marks import mark_anchor
from kpiflow.model import Indicator
from kpiflow.periods import Period
from kpiflow.problems import Problem, ValidationResult
from kpiflow.provenance import drafted_hash, other_council, read_provenance, short_hash

WHAT = {"commentary": "commentary", "response": "service response"}


@dataclass
class KeptEdits:
    checks: ValidationResult
    texts: dict[tuple[str, str], str] = field(default_factory=dict)   # (ID anchor, kind) -> the edited words
    found: set[str] = field(default_factory=set)                      # ID anchors with regions in the draft

    def summary(self, exceptions: list[Indicator], name: str, indicators: tuple[Indicator, ...] = ()) -> list[str]:
        """Which edits were carried over, and which exceptions are new or gone since ``name``."""
        now = {mark_anchor(i.id): i for i in exceptions}
        known = {mark_anchor(i.id): f"{i.id} {i.name}" for i in indicators}
        carried = [f"{now[a].id} {WHAT[kind]}" for a, kind in sorted(self.texts) if a in now]
        lines = [f"Carried over the edits made in {name} to: {', '.join(carried)}" if carried else
                 f"No marked words had been edited in {name}: the new draft has today's words throughout."]
        lines += [f"New exception: {i.id} {i.name} (not in {name}: its words are today's)"
                  for a, i in now.items() if a not in self.found]
        lines += [f"No longer an exception: {known.get(a, a)} (its words in {name} are not carried over)"
                  for a in sorted(self.found - set(now))]
        return lines


def kept_edits(draft: Path, quarter: Period, council: str = "") -> KeptEdits:
    """The words an officer edited in ``draft``, or the problems that stop them being carried. ``council``: the
    working folder's; a draft that records another is refused."""
    from kpiflow.docx.harvest import MAX_REGION_CHARS, long_regions, paragraphs_of, regions
    from kpiflow.docx.package import MAIN, Refused, open_package

    out = KeptEdits(ValidationResult(draft.name))
    try:
        with open_package(draft) as pkg:
            made = read_provenance(pkg)
            if made is not None and made.quarter != quarter.label:
                out.checks.error("wrong-quarter", f"{draft.name} was made for {made.quarter}, not {quarter.label}: "
                                 f"its words belong to {made.quarter}. Keep the edits of a draft made for "
                                 f"{quarter.label}.", cell=draft.name)
                return out
            if made is not None and council and made.other_council(council):
                out.checks.add(other_council(draft.name, made.council, council))
                return out
            part = paragraphs_of(pkg.xml(MAIN))
            marks = regions(part)
    except Refused as exc:
        out.checks.error(exc.code, exc.message, cell=exc.part)
        return out
    if not marks.texts:
        out.checks.error("not-a-draft", f"{draft.name} has no marked commentary or service response: it is not a "
                         "draft kpiflow made, so there are no edits to carry over.")
        return out
    for (key, kind), at in sorted(marks.duplicates.items()):
        out.checks.add(Problem("error", "duplicate-region", f"{key}: its {WHAT.get(kind, kind)} is marked "
                               f"{'twice' if len(at) == 2 else f'{len(at)} times'} (paragraphs "
                               f"{', '.join(str(i + 1) for i in at)}), so which words are {key}'s is ambiguous. "
                               "Delete the copy and try again.", sheet=key, cell=f"paragraph {at[0] + 1}",
                               indicator_id=key))
    for key, kind, chars in long_regions(marks):
        out.checks.add(Problem("error", "region-too-long", f"{key}: its {WHAT.get(kind, kind)} is {chars:,} characters "
                               f"long, more than a report can hold ({MAX_REGION_CHARS:,}). Shorten it to a few "
                               "paragraphs and try again.", sheet=key, indicator_id=key))
    if not out.checks.ok:
        return out
    recorded = made.regions if made is not None else {}
    for (key, kind), text in marks.texts.items():
        anchor = mark_anchor(key)
        out.found.add(anchor)
        if recorded.get((anchor, kind)) != short_hash(text) and drafted_hash(anchor, kind, text) not in part.drafted:
            out.texts[(anchor, kind)] = text
    return out
