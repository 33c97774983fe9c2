"""Plain-English sentences from trend facts, in the register of a council exception report.

Every sentence states only what the facts show; where a fact is missing the sentence is left out.
Every figure a sentence quotes is either in the values table or named for what it is ("for the
year to date", "added in Q1 2025/26", "the statistical neighbours' average (590.0)", "by the year
end"). ``SENTENCES`` lists every sentence kpiflow can write; docs/sentences.md gives an example of
each, and a test renders each example from facts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kpiflow.fmt import fmt, fmt_target, long_date
from kpiflow.periods import parse_period
from kpiflow.rules import PRESETS

if TYPE_CHECKING:
    from kpiflow.rules import Reason, Verdict
    from kpiflow.trends import Facts, Gap

# how the report states each exception rule: the preset registry's words (kpiflow.rules.PRESETS)
RULE_TEXT = {name: preset.text for name, preset in PRESETS.items()}

# Every sentence the drafted commentary can hold, by key: what it says. docs/sentences.md has an
# example of each (a test keeps the two in step).
SENTENCES: dict[str, str] = {
    "no-target": "there is no target, so the indicator is compared with its trend (and comparators)",
    "target": "the figure (or the year to date) against the year's target, with its RAG",
    "target-pro-rata": "the year to date against the year's target pro rata, with its RAG",
    "year-total": "at Q4, a Count with no target: the year's total against the year before's",
    "target-profile": "the figure (or the year to date) against the quarter's profiled target, with its RAG",
    "run": "the yearly outturns have risen (or fallen) every year for two years or more",
    "run-one": "the latest yearly outturn rose (or fell) from the year before",
    "run-comparators": "a comparator moved the other way over the same years: what it did",
    "previous": "the quarter against the previous quarter: values, or a Count's own amounts",
    "previous-same": "the quarter is about the same as the previous quarter",
    "previous-ytd": "a year-to-date percentage against the previous quarter's year to date",
    "previous-ytd-same": "a year-to-date percentage about the same as the previous quarter's",
    "previous-added": "what a year-to-date number or rate added in the quarter against what the quarter before added",
    "previous-added-same": "the quarter added about the same as the quarter before",
    "previous-missing": "there is no figure for the previous quarter of this year to compare with",
    "last-year": "the quarter against the same quarter last year",
    "last-year-same": "the quarter is about the same as the same quarter last year",
    "last-year-ytd": "the year to date against the same point last year",
    "last-year-ytd-same": "the year to date is about the same as at the same point last year",
    "comparators": "the latest complete year against statistical neighbours and England",
    "comparators-older": "the latest year that has comparator figures, when that is not the latest complete year",
    "gap-widened": "the gap to a comparator widened since the year before",
    "gap-narrowed": "the gap to a comparator narrowed since the year before",
    "lead-widened": "the council is better than a comparator and its lead widened since the year before",
    "lead-narrowed": "the council is better than a comparator and its lead narrowed since the year before",
    "gap-crossed": "the council was on the other side of a comparator the year before",
    "forecast": "a Count or year-to-date number or rate: where the pace so far leads by the year end",
    "forecast-no-target": "the same, with no target",
    "forecast-profile": "the same, at the pace so far against a profiled target",
    "projection-reaches": "a Snapshot worse than a comparator and heading towards it: when it would reach it",
    "projection-widening": "a Snapshot worse than a comparator and moving away from it",
    "projection-now": "a projection towards (or away from) a comparator the latest complete year is ahead of: the "
                      "quarter's figure and the comparator's year named, so it never contradicts the lead",
    "projection-too-far": "a Snapshot heading towards a comparator too slowly to reach it within two years",
}

NO_FIGURE = "No figure given."


def no_return_text(service: str, by: dt.date) -> str:
    return f"No return received from {service} by {long_date(by)}."


def _short(label: Any) -> str:
    try:
        return parse_period(label).short
    except ValueError:
        return str(label)


def reason_text(reason: Reason, unit: str, dp: int | None = None) -> str:
    """A verdict's reason in words, from its code and values."""
    v = reason.values

    def n(key: str) -> str:
        return fmt(v.get(key), unit, dp=dp)

    def t(key: str) -> str:
        return fmt_target(v.get(key), unit, dp=dp)

    ytd = " for the year to date" if v.get("basis") == "year to date" else ""
    added = " added in the quarter" if v.get("basis") == "in the quarter" else ""
    same_point = "at the same point last year" if ytd else "the same quarter last year"
    words: dict[str, Callable[[], str]] = {
        "always": lambda: "the catalogue reports this indicator every quarter",
        "never": lambda: "the catalogue never reports this indicator as an exception",
        "no-figure": lambda: f"no figure for {_short(v.get('quarter'))}",
        "below-target": lambda: f"below target ({v.get('rag')}): {n('value')}{ytd} against a target of {t('target')}",
        "worse-than-last-year": lambda: f"worse than {same_point} ({n('value')} against {n('last_year')}{ytd})",
        "worse-than-comparators": lambda: "worse than the statistical neighbours' average and England"
                                          + (f" in {v['year']}" if v.get("year") else "")
                                          + ", and the gap is not narrowing",
        "red": lambda: f"Red: {n('value')}{ytd} against a target of {t('target')}",
        "amber-worsening": lambda: f"Amber and worse than {_short(v.get('previous_period'))} ({n('value')}{added} "
                                   f"against {n('previous')}{ytd})",
        "missed-two-quarters": lambda: f"target missed in {_short(v.get('quarter'))} and "
                                       f"{_short(v.get('previous_period'))}",
        "no-target": lambda: "no target set",
        "no-target-not-worse": lambda: "no target set and not worse than last year",
        "on-target": lambda: "on target",
        "within-rule": lambda: "within the rule",
        "recorded": lambda: str(v.get("text", "")),
    }
    make = words.get(reason.code)
    return make() if make else reason.code


def reason_texts(verdict: Verdict, unit: str, dp: int | None = None) -> tuple[str, ...]:
    return tuple(reason_text(r, unit, dp) for r in verdict.reasons)


def sentence_case(text: str) -> str:
    """The first letter capitalised and the rest as written ("Amber", "England", "Q2" kept)."""
    return text[:1].upper() + text[1:]


def _subject(f: Facts) -> str:
    if f.indicator.unit == "Percentage":
        return "The percentage"
    return {"rate": "The rate", "number": "The number"}[f.figure]


SMALL_COUNT = 20    # whole numbers under this are given as figures, never "significantly" (2 against 4)


def _size(a: float, b: float, f: Facts) -> str:
    if f.figure == "number" and f.indicator.unit != "Percentage" and float(a).is_integer() \
            and float(b).is_integer() and max(abs(a), abs(b)) < SMALL_COUNT:
        return ""
    change = abs(a - b) / abs(b) * 100 if b else 100.0
    return "slightly " if change < 5 else "significantly " if change >= 20 else ""


def _better(now: float, then: float, f: Facts) -> bool:
    return (now > then) == f.indicator.higher_is_better


CMP_LABEL = {"statistical neighbours": "the statistical neighbours' average", "England": "England"}
CMP_POSSESSIVE = {"statistical neighbours": "the statistical neighbours' average", "England": "England's"}
PROJECTION_LABEL = {"statistical neighbours": "the statistical neighbours' average", "England": "the England figure"}


def _names(names: list[str]) -> str:
    return " and ".join(CMP_LABEL[n] for n in names)


Sentence = tuple[str, str]       # (key in SENTENCES, text)


class Draft:
    """Sentences grouped in paragraphs, each with its key."""

    def __init__(self) -> None:
        self.paragraphs: list[list[Sentence]] = []

    def paragraph(self, sentences: list[Sentence]) -> None:
        if sentences:
            self.paragraphs.append(sentences)

    def texts(self) -> list[str]:
        return [" ".join(text for _, text in para) for para in self.paragraphs]

    def keys(self) -> list[str]:
        return [key for para in self.paragraphs for key, _ in para]


def _target_sentences(f: Facts, p: Callable[[float | None], str]) -> list[Sentence]:
    ind = f.indicator
    if f.target_now is None:
        if f.target is not None:
            return []
        basis = "the general trend of performance"
        names = [n for n, v in (("our statistical neighbours", f.statneigh), ("England", f.england)) if v is not None]
        if names:
            basis += " and with " + " and ".join(names)
        out: list[Sentence] = [("no-target", f"There is no target set for this indicator, so it is compared instead "
                                              f"with {basis}.")]
        if ind.measure.adds_up(f.figure) and f.quarter.n == 4 and f.to_date is not None:
            # the year has ended: its total is in no column of the values table, so say it
            before = dict(f.annual).get(f.quarter.year.step(-1))
            total = f"The total for {f.quarter.year.label} was {p(f.to_date)}"
            if before is None or p(before) == p(f.to_date):
                out.append(("year-total", f"{total}." if before is None else f"{total}, the same as in "
                                          f"{f.quarter.year.step(-1).label}."))
            else:
                word = "higher" if f.to_date > before else "lower"
                out.append(("year-total", f"{total}, {word} than the {p(before)} of {f.quarter.year.step(-1).label}."))
        return out
    if f.rag is None or f.to_date is None:
        return []
    subject = ind.measure.target_subject(f.quarter.n == 4)
    key, kind = {"pro rata": ("target-pro-rata", "a pro rata target"),
                 "profile": ("target-profile", "a profiled target")}.get(f.target_basis, ("target", "a target"))
    target = fmt_target(f.target_now, ind.unit, dp=f.dp)
    return [(key, f"At {f.quarter.short} {subject} was {p(f.to_date)} against {kind} of {target} ({f.rag}).")]


def _run_sentences(f: Facts, p: Callable[[float | None], str]) -> list[Sentence]:
    if f.run is None:
        return []
    verb = "increased" if f.run.rising else "decreased"
    faster, other_way = _comparator_runs(f)
    tail = f", faster than {' and '.join(faster)}" if faster else ""
    if f.run.years >= 2:
        out = [("run", f"{_subject(f)} has {verb} in each year since {f.run.since.label}{tail}.")]
    else:
        out = [("run-one", f"{_subject(f)} {verb} from {f.run.since.label} to {f.run.until.label}{tail}.")]
    if other_way:
        # a comparator that moved the other way is neither outpaced nor outpacing: say what it did
        moved = "fell" if f.run.rising else "rose"
        parts = [f"{CMP_POSSESSIVE[name]} {moved if i == 0 else ''}".rstrip() + f" from {p(a)} to {p(b)}"
                 for i, (name, a, b) in enumerate(other_way)]
        out.append(("run-comparators", f"Over the same years {' and '.join(parts)}."))
    return out


def _previous_sentences(f: Facts, p: Callable[[float | None], str]) -> list[Sentence]:
    cmp = f.prev_cmp
    if cmp is None or f.current is None:
        return []
    q, pq = f.quarter.short, cmp.period.short
    if cmp.now is None or cmp.then is None or cmp.direction is None:
        if f.quarter.n > 1 and dict(f.quarters).get(cmp.period) is None:
            return [("previous-missing", f"There is no figure for {pq} to compare with.")]
        return []
    now, then = cmp.now, cmp.then
    equal = p(now) == p(then)      # figures that read the same are "the same", never "about the same"
    judgement = "an improvement" if _better(now, then, f) else "a deterioration"
    if cmp.basis == "in the quarter":
        # at Q1 the year to date is the quarter's own: it is not "added to" anything
        added = f"{q} added {p(now)}" if f.quarter.n == 1 else f"{q} on its own added {p(now)} to the year to date"
        if equal:
            return [("previous-added-same", f"{added}, the same as in {pq}.")]
        if cmp.direction == "No change":
            return [("previous-added-same", f"{added}, about the same as the {p(then)} added in {pq}.")]
        word = "more" if now > then else "less"
        return [("previous-added", f"{added}, {word} than the {p(then)} added in {pq}, {judgement}.")]
    if cmp.basis == "year to date":
        if equal:
            return [("previous-ytd-same", f"At {q} the figure for the year to date was the same as at {pq} "
                                          f"({p(now)}).")]
        if cmp.direction == "No change":
            return [("previous-ytd-same", f"At {q} the figure for the year to date was about the same as at {pq} "
                                          f"({p(now)} against {p(then)}).")]
        verb = "rose" if now > then else "fell"
        return [("previous-ytd", f"At {q} the figure for the year to date {verb} {_size(now, then, f)}compared with "
                                 f"{pq} ({p(now)} against {p(then)}), {judgement}.")]
    at = f.indicator.measure.at
    if equal:
        return [("previous-same", f"{at} {q} it was the same as {at.lower()} {pq} ({p(now)}).")]
    if cmp.direction == "No change":
        return [("previous-same", f"{at} {q} it was about the same as {at.lower()} {pq} ({p(now)} against {p(then)}).")]
    verb = "rose" if now > then else "fell"
    return [("previous", f"{at} {q} it {verb} {_size(now, then, f)}compared with {pq} ({p(now)} against {p(then)}), "
                         f"{judgement}.")]


def _last_year_sentences(f: Facts, p: Callable[[float | None], str]) -> list[Sentence]:
    cmp = f.ly_cmp
    if cmp is None or cmp.now is None or cmp.then is None or cmp.direction is None:
        return []
    now, then, ly = cmp.now, cmp.then, cmp.period.short
    word = "higher" if now > then else "lower"
    judgement = "better" if _better(now, then, f) else "worse"
    equal = p(now) == p(then)
    if cmp.basis == "year to date":
        if cmp.direction == "No change":
            about = "the same" if equal else "about the same"
            return [("last-year-ytd-same", f"The year to date is {about} as at the same point last year "
                                           f"({p(then)} at {ly}).")]
        return [("last-year-ytd", f"The year to date is {_size(now, then, f)}{word} than at the same point last year "
                                  f"({p(now)} against {p(then)} at {ly}), {judgement} than a year ago.")]
    at = f.indicator.measure.at.lower()
    if cmp.direction == "No change":
        about = "the same" if equal else "about the same"
        return [("last-year-same", f"That is {about} as {at} {ly} ({p(then)}).")]
    return [("last-year", f"It is {_size(now, then, f)}{word} than {at} {ly} ({p(now)} against {p(then)}), {judgement} "
                          "than a year ago.")]


def _position(g: Gap, ours: float, theirs: float) -> str:
    return "above" if ours > theirs else "below" if ours < theirs else "level with"


def _comparator_sentences(f: Facts, p: Callable[[float | None], str]) -> list[Sentence]:
    if not f.gaps:
        return []
    first = f.gaps[0]
    by_position: dict[str, list[Gap]] = {}
    for g in f.gaps:
        by_position.setdefault(_position(g, g.ours, g.theirs), []).append(g)
    clauses = [f"{pos} " + " and ".join(f"{CMP_LABEL[g.comparator]} ({p(g.theirs)})" for g in gs)
               for pos, gs in by_position.items()]
    # at Q4 the quarter's own year has just ended: an older year's comparators are not the latest complete year's
    latest = first.year == (f.quarter.year if f.quarter.n == 4 else f.quarter.year.step(-1))
    key, which = ("comparators", "the latest complete year") if latest else \
        ("comparators-older", "the latest year with comparator figures")
    out: list[Sentence] = [(key, f"In {first.year.label}, {which}, {_subject(f).lower()} was {p(first.ours)}: "
                                 f"{' and '.join(clauses)}.")]
    for trend, verb in (("widening", "widened"), ("narrowing", "narrowed")):
        # behind a comparator it is a gap; ahead of it, a lead (a widening gap when ahead is good news)
        for worse, noun in ((True, "gap"), (False, "lead")):
            names = [g.comparator for g in f.gaps if g.trend == trend and g.worse == worse]
            if names:
                since = next(g.before for g in f.gaps if g.trend == trend and g.before is not None)
                nouns = f"The {noun}s" if len(names) > 1 else f"The {noun}"
                have = "have" if len(names) > 1 else "has"
                joiner = "to" if worse else "over"
                key = f"gap-{verb}" if worse else f"lead-{verb}"
                out.append((key, f"{nouns} {joiner} {_names(names)} {have} {verb} since {since.label}."))
    crossed = [g for g in f.gaps if g.trend == "crossed" and g.ours_before is not None and g.theirs_before is not None]
    if crossed:
        groups: dict[str, list[Gap]] = {}
        for g in crossed:
            groups.setdefault(_position(g, g.ours_before or 0.0, g.theirs_before or 0.0), []).append(g)
        parts = [f"{pos} " + " and ".join(f"{CMP_LABEL[g.comparator]} ({p(g.theirs_before)})" for g in gs)
                 for pos, gs in groups.items()]
        before = crossed[0].before
        assert before is not None
        out.append(("gap-crossed", f"In {before.label} it was {' and '.join(parts)}."))
    return out


def _outlook_sentences(f: Facts, p: Callable[[float | None], str]) -> list[Sentence]:
    fc = f.forecast
    if fc is not None:
        value = p(fc.value)
        if f.figure == "rate" and f.indicator.rate_per:
            # a rate's forecast is a rate, never to be read as a count ("on course for 588.0" people)
            value = f"a rate of {value} per {f.indicator.rate_per:,.0f}"
        if fc.target is None:
            return [("forecast-no-target", f"At this pace it is on course for {value} by the year end.")]
        if fc.basis == "profile":
            return [("forecast-profile", f"If the rest of the year keeps to the profile as closely as the year so far, "
                                         f"it is on course for {value} by the year end, against a target of "
                                         f"{p(fc.target)}.")]
        return [("forecast", f"At this pace it is on course for {value} by the year end, against a target of "
                             f"{p(fc.target)}.")]
    pr = f.projection
    if pr is None or not pr.outlook:
        return []
    span = f"{len(pr.points)} {'months' if pr.points[-1][0].kind == 'month' else 'quarters'}"
    who = PROJECTION_LABEL[pr.comparator]
    lead = f"If the trend of the last {span} were to continue,"
    latest = next((g for g in f.gaps if g.comparator == pr.comparator), None)
    if latest is not None and not latest.worse and f.current is not None:
        # the comparator paragraph calls this comparator a lead (the latest complete year); the projection
        # speaks of this quarter's figure: say which period each compares, so the two cannot contradict
        side = "above" if f.current > pr.comparator_value else "below"
        now = (f"At {f.quarter.short} {_subject(f).lower()} ({p(f.current)}) was {side} {CMP_LABEL[pr.comparator]} "
               f"for {latest.year.label} ({p(pr.comparator_value)}): if the trend of the last {span} were to continue,")
        if pr.outlook == "reaches" and pr.reaches is not None:
            return [("projection-now", f"{now} it would be back to it by {pr.reaches.quarter.short}.")]
        if pr.outlook == "widening":
            return [("projection-now", f"{now} the gap would keep widening.")]
        if pr.outlook == "too far":
            return [("projection-now", f"{now} it would take more than two years to be back to it.")]
        return []
    if pr.outlook == "reaches" and pr.reaches is not None:
        return [("projection-reaches", f"{lead} it would reach {who} ({p(pr.comparator_value)}) by "
                                       f"{pr.reaches.quarter.short}.")]
    if pr.outlook == "widening":
        return [("projection-widening", f"{lead} the gap to {who} would keep widening.")]
    if pr.outlook == "too far":
        return [("projection-too-far", f"{lead} it would take more than two years to reach {who} "
                                       f"({p(pr.comparator_value)}).")]
    return []


def draft(f: Facts) -> Draft:
    """The drafted commentary for an indicator, sentence by sentence."""
    unit = f.indicator.unit

    def p(v: float | None) -> str:
        return fmt(v, unit, dp=f.dp)

    d = Draft()
    d.paragraph(_target_sentences(f, p) + _run_sentences(f, p))
    if f.current is not None:
        d.paragraph(_previous_sentences(f, p) + _last_year_sentences(f, p))
        d.paragraph(_comparator_sentences(f, p))
        d.paragraph(_outlook_sentences(f, p))
    return d


def draft_commentary(f: Facts) -> list[str]:
    """Paragraphs of drafted commentary for an indicator, for a policy officer to edit."""
    return draft(f).texts()


def _comparator_runs(f: Facts) -> tuple[list[str], list[tuple[str, float, float]]]:
    """Over the run of years: the comparators that moved the same way as the council but less (the council moved
    faster than them, said only when every comparator that moved the same way did), and those that moved the other
    way, with their figures at the run's start and end."""
    if f.run is None:
        return [], []
    ours = dict(f.annual)
    start, end = ours.get(f.run.since), ours.get(f.run.until)
    if not start or end is None:
        return [], []
    our_change = (end - start) / start
    slower: list[str] = []
    same_way = 0
    other_way: list[tuple[str, float, float]] = []
    for name, values in f.annual_comparators.items():
        d = dict(values)
        a, b = d.get(f.run.since), d.get(f.run.until)
        if not a or b is None:
            continue
        theirs = (b - a) / a
        if theirs == 0 or (theirs > 0) != (our_change > 0):
            if theirs != 0:
                other_way.append((name, a, b))
            continue
        same_way += 1
        if abs(theirs) < abs(our_change):
            slower.append("our statistical neighbours" if name == "statistical neighbours" else "England")
    return (slower if slower and len(slower) == same_way else []), other_way
