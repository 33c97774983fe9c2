"""Where a draft came from, carried in its custom document properties so that ``publish`` files
only what the store says.

A draft records the quarter it was made for, when, the accepted returns its figures came from (id
and SHA-256 of each), a fingerprint of every figure the report draws on, a short hash of each
marked region's text as kpiflow wrote it (so that ``--keep-edits`` can tell the officer's edits
from kpiflow's own words) and of any text that looks like a template tag but came from the store
(a service may type ``{{ 7*7 }}``; a tag the template left behind is another matter).

This is a guard against mistakes, not against forgery: an officer can change a document's
properties in Word. What guards the figures is ``kpiflow.paper_check``: publish compares the paper
with the quarter rendered afresh from the store, whatever the properties say.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpiflow.assess import Assessment
from kpiflow.errors import KpiflowError
from kpiflow.model import Catalogue
from kpiflow.periods import Period, parse_period
from kpiflow.problems import Problem
from kpiflow.store import Revision, Store, Submission

if TYPE_CHECKING:
    from kpiflow.docx.package import Package
    from kpiflow.settings import Settings

PREFIX = "kpiflow "
VERSION = "1"
HASH_CHARS = 16
MAX_COUNCIL = 255     # what Word keeps of a property's value


def drafted_hash(anchor: str, kind: str, text: str) -> str:
    """The hash kept in a draft's body (``kpiflow.docx.marks.DRAFTED``) of the words kpiflow wrote in the region
    (``anchor``, ``kind``): words no officer wrote, written again from today's store and figures."""
    return short_hash(f"{anchor}:{kind}:{text}")


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_CHARS]


@dataclass(frozen=True)
class Provenance:
    quarter: str                                  # the quarter's label, "2017/18 Q2"
    made_at: str                                  # ISO 8601, UTC
    figures: str                                  # SHA-256 of the figures (``fingerprint``)
    submissions: Mapping[int, str]                # accepted submission id -> its file's SHA-256
    regions: Mapping[tuple[str, str], str] = field(default_factory=dict)   # (anchor, kind) -> short hash
    tag_like: frozenset[str] = frozenset()        # short hashes of tag-like text that came from the store
    council: str = ""                             # the council it was made for ("" in drafts of earlier versions)
    template: str = ""                            # short hash of the report template it was rendered from

    def to_properties(self) -> dict[str, str]:
        from kpiflow.docx.props import chunks

        props = {f"{PREFIX}version": VERSION, f"{PREFIX}quarter": self.quarter, f"{PREFIX}made at": self.made_at,
                 f"{PREFIX}figures": self.figures}
        if self.council:
            props[f"{PREFIX}council"] = self.council[:MAX_COUNCIL]
        if self.template:
            props[f"{PREFIX}template"] = self.template
        for sid, sha in sorted(self.submissions.items()):
            props[f"{PREFIX}submission {sid}"] = sha
        tokens = [f"{anchor}:{kind}:{h}" for (anchor, kind), h in sorted(self.regions.items())]
        for i, value in enumerate(chunks(tokens), start=1):
            props[f"{PREFIX}regions {i}"] = value
        for i, value in enumerate(chunks(sorted(self.tag_like)), start=1):
            props[f"{PREFIX}tag-like text {i}"] = value
        return props

    @classmethod
    def from_properties(cls, props: Mapping[str, str]) -> Provenance | None:
        """The provenance a draft's properties record; None for a document kpiflow did not make."""
        quarter = props.get(f"{PREFIX}quarter", "").strip()
        if not quarter:
            return None
        subs: dict[int, str] = {}
        regions: dict[tuple[str, str], str] = {}
        tag_like: set[str] = set()
        for name, value in props.items():
            if not name.startswith(PREFIX):
                continue
            rest = name[len(PREFIX):]
            if rest.startswith("submission ") and rest[len("submission "):].isdigit():
                subs[int(rest[len("submission "):])] = value.strip()
            elif rest.startswith("regions "):
                for token in value.split():
                    anchor, _, tail = token.partition(":")
                    kind, _, h = tail.partition(":")
                    if anchor and kind and h:
                        regions[(anchor, kind)] = h
            elif rest.startswith("tag-like text "):
                tag_like.update(value.split())
        return cls(quarter, props.get(f"{PREFIX}made at", "").strip(), props.get(f"{PREFIX}figures", "").strip(),
                   subs, regions, frozenset(tag_like), props.get(f"{PREFIX}council", "").strip(),
                   props.get(f"{PREFIX}template", "").strip())

    def other_council(self, council: str) -> bool:
        """Whether the draft records that it was made for a council other than ``council``."""
        return bool(self.council) and self.council != council[:MAX_COUNCIL].strip()


def made_on(made: Provenance | None) -> dt.date:
    """The day, here, the draft was made: the day its report date and "not received by" dates name (the draft
    wrote them in local time; ``made_at`` is UTC). Today for a draft with no properties."""
    if made is None:
        return dt.date.today()
    try:
        at = dt.datetime.fromisoformat(made.made_at)
    except ValueError:
        return dt.date.today()
    return at.astimezone().date() if at.tzinfo else at.date()


def read_provenance(pkg: Any) -> Provenance | None:
    """The provenance recorded in an open package's custom properties (``kpiflow.docx.package``)."""
    from kpiflow.docx.props import CUSTOM_PART, RT_CUSTOM, read_properties

    targets = [t for _, kind, t, external in pkg.relationships("") if kind == RT_CUSTOM and not external]
    name = targets[0] if targets else CUSTOM_PART
    if not pkg.has(name):
        return None
    return Provenance.from_properties(read_properties(pkg.xml(name)))


def fingerprint(assessments: Iterable[Assessment], quarter: Period) -> str:
    """SHA-256 of every figure of every indicator for periods ending by the quarter's end: what the
    report's tables, charts and verdicts are drawn from."""
    h = hashlib.sha256()
    # a period ends by the quarter's end when its last month does; sorted by the periods' own order, keyed once
    # each (the same order, and so the same hash, as sorting the periods themselves)
    end = quarter.fy * 12 + quarter.end_fiscal_month
    for a in assessments:
        rows = [[p.label, f.number, f.rate, f.statneigh, f.england]
                for p, f in sorted(a.series.items(), key=lambda item: item[0]._key())
                if p.fy * 12 + p.end_fiscal_month <= end]
        h.update(json.dumps([a.indicator.id, rows], separators=(",", ":")).encode("utf-8"))
    return h.hexdigest()


def accepted(store: Store, catalogue: Catalogue, quarter: Period) -> dict[int, Submission]:
    """The accepted (not superseded) return of each service for the quarter, by submission id."""
    out: dict[int, Submission] = {}
    for service in catalogue.services:
        s = store.accepted_submission(service, quarter)
        if s is not None:
            out[s.id] = s
    return out


def _when(iso: str) -> str:
    """A moment in full, to the second ("2017-10-14 02:46:07 UTC"): two returns and a draft made within the same
    minute must still read in the right order."""
    if not iso:
        return "an unknown time"
    try:
        at = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso.replace("T", " ")[:19] + " UTC"
    if at.tzinfo is not None:
        at = at.astimezone(dt.UTC)
    return at.strftime("%Y-%m-%d %H:%M:%S") + " UTC"


def _instant(iso: str) -> dt.datetime | None:
    try:
        at = dt.datetime.fromisoformat(iso)
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def has_marks(draft: Path) -> bool:
    """Whether a document holds kpiflow's marked regions (a draft kpiflow made, whatever its properties say)."""
    from kpiflow.docx.harvest import paragraphs_of, regions
    from kpiflow.docx.package import MAIN, Refused, open_package

    try:
        with open_package(draft) as pkg:
            return bool(regions(paragraphs_of(pkg.xml(MAIN))).texts)
    except Refused:
        return False


def properties_removed(draft: Path, quarter: Period, shown: str) -> Problem:
    """A draft with kpiflow's marks but none of its properties: most likely stripped by Word's Document Inspector."""
    return Problem("error", "properties-removed",
                   f"{draft.name} has kpiflow's marked commentary and service responses, but not the document "
                   "properties that say which quarter, council and returns it was made from. Word's Document "
                   "Inspector removes them (File > Info > Check for Issues > Inspect Document > Document Properties "
                   "and Personal Information), so kpiflow cannot tell whether its figures are today's. Make a fresh "
                   f"draft that keeps your edits: kpiflow report --quarter \"{quarter.label}\" --keep-edits "
                   f"\"{shown}\", and publish that (without running the Document Inspector on it).",
                   cell=draft.name)


def other_council(name: str, made_for: str, council: str) -> Problem:
    return Problem("error", "other-council",
                   f"{name} was made for {made_for}, not {council}: its figures and words are another council's. "
                   f"Use a draft made in this working folder (kpiflow report makes one).", cell=name)


def _num(v: float | None) -> str:
    return "blank" if v is None else f"{v:g}"


def _changes(store: Store, catalogue: Catalogue, keep: Callable[[Revision], bool]) -> list[str]:
    ids = [i.id for i in catalogue.indicators]
    return [f"{r.indicator_id} {r.period} {r.figure} {_num(r.old)} -> {_num(r.new)}"
            for r in store.revisions(ids) if keep(r)]


def _listed(items: list[str], most: int = 12) -> str:
    if len(items) <= most:
        return ", ".join(items)
    return ", ".join(items[:most]) + f" and {len(items) - most} more"


def stale_problems(made: Provenance, draft_name: str, store: Store, catalogue: Catalogue, quarter: Period,
                   assessments: Iterable[Assessment], draft_path: str = "",
                   now: Mapping[int, Submission] | None = None) -> list[Problem]:
    """A problem for each return accepted for the quarter since the draft was made (naming it,
    when it arrived and the figures it changed), or one for figures changed otherwise. ``now``:
    the accepted returns by submission id, where they have been read already."""
    redo = (f"Make a fresh draft that keeps your edits: kpiflow report --quarter \"{quarter.label}\" "
            f"--keep-edits \"{draft_path or draft_name}\", then publish that.")
    made_when = _when(made.made_at)
    out: list[Problem] = []
    now = accepted(store, catalogue, quarter) if now is None else now
    for sid, sub in sorted(now.items()):
        if made.submissions.get(sid) == sub.sha256:
            continue
        def by_it(r: Revision, sid: int = sid) -> bool:
            return r.submission_id == sid

        changed = _changes(store, catalogue, by_it)
        services = {i.id for i in catalogue.indicators if i.service == sub.service}
        what = f"it changed {_listed(changed)}" if changed else (
            f"its figures (for {_listed(sorted(services))}) are not in this draft" if services
            else "its figures are not in this draft")
        made_at, received = _instant(made.made_at), _instant(sub.received_at)
        if made_at is not None and received is not None and received <= made_at:
            # received before the draft was made, yet not among its returns (accepted later, or the properties
            # were copied from another draft): "before" would not be true
            how = (f"{draft_name} (made on {made_when}) was not made from the return {sub.file_name} from "
                   f"{sub.service} (received on {_when(sub.received_at)}), which is the one accepted for the "
                   "quarter now")
        else:
            how = (f"{draft_name} was made on {made_when}, before the return {sub.file_name} from {sub.service} "
                   f"was received on {_when(sub.received_at)} and accepted")
        out.append(Problem("error", "stale-draft", f"{how}: {what}. {redo}", sheet=sub.service, cell=sub.file_name))
    if not out and fingerprint(assessments, quarter) != made.figures:
        changed = _changes(store, catalogue, lambda r: r.recorded_at >= made.made_at and parse_period(
            r.period).end_date <= quarter.end_date)
        what = f": {_listed(changed)}" if changed else (
            " (no return's figure has changed: comparator figures, history or the catalogue's targets loaded since "
            "change what the report says)")
        out.append(Problem("error", "stale-draft", f"The figures for {quarter.label} have changed since "
                           f"{draft_name} was made on {made_when}{what}. {redo}"))
    return out


# -- which draft (publish, proofread) --------------------------------------------------------------

def draft_provenance(draft: Path) -> Provenance | None:
    """What a draft's properties say about where it came from; None if it is not a kpiflow draft
    (or cannot be read safely)."""
    from kpiflow.docx.package import Refused, open_package

    try:
        with open_package(draft) as pkg:
            return read_provenance(pkg)
    except Refused:
        return None


def newest_draft(settings: Settings, quarter: Period) -> Path:
    """The newest .docx in outbox/drafts/ made for ``quarter`` (by its properties), whatever its name.
    Drafts are looked at newest first, so that only the one returned is usually opened."""
    with open_newest_draft(settings, quarter) as pkg:
        return pkg.path


def open_newest_draft(settings: Settings, quarter: Period) -> Package:
    """``newest_draft``, left open (``kpiflow.docx.package.open_package``: its directory checked), for a
    caller that reads its parts next: the draft is opened once, not once to find it and again to read it."""
    from kpiflow.docx.package import Refused, open_package

    folder = settings.drafts_dir
    candidates: list[tuple[float, str, Path]] = []
    if folder.is_dir():
        for p in folder.iterdir():
            if p.suffix.lower() != ".docx" or p.name.startswith((".", "~$")) or p.is_symlink() or not p.is_file():
                continue
            candidates.append((p.stat().st_mtime, p.name, p))
    for _, _, p in sorted(candidates, reverse=True):
        try:
            pkg = open_package(p)
        except Refused:
            continue
        try:
            made = read_provenance(pkg)
        except Refused:
            made = None
        except BaseException:
            pkg.close()
            raise
        if made is not None and made.quarter == quarter.label:
            return pkg
        pkg.close()
    others = len(candidates)
    more = f" ({others} other .docx file(s) there were made for other quarters or not by kpiflow)" if others else ""
    raise KpiflowError(f"There is no draft made for {quarter.label} in {folder}{more}. Run kpiflow report "
                       f"--quarter \"{quarter.label}\" first, or name the edited draft with --from.")
