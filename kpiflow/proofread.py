"""Officers' words checked against the figures (PRODUCT.md section 21).

Every rule lives here and reads what kpiflow already worked out for an indicator at a quarter (the
trend facts from ``assess``, the stored figures of every period, the quarter's breakdown, the words
published for the previous quarter); nothing here computes a trend of its own. A paragraph is cut
into sentences, and a sentence into clauses (at ";", ", and", "but", "while" ...), and each clause
is checked for:

- figures (``figure-not-held``): every number written, in the ways people write them (``531``,
  ``1,916``, ``185.6``, ``46%``, ``46.0 per cent``, ``2.5k``, ``£1.2m``, "five hundred and thirty-one"),
  must be one kpiflow shows or holds for the indicator, or the difference or percentage change
  between two of them, within the rounding of what was written ("about", "over", "nearly" widen
  it, on their side). Years, quarters, months, dates, ages, counts of periods, ordinals and labels
  ("Section 17", "CS01") are not figures. A change in a clause that names its comparison ("fell by
  3% on last quarter") must be that comparison's change;
- directions (``direction-contradicts``): a clause naming a comparison (the previous quarter, the
  same quarter last year, last year, a named period, a comparator) and a direction (rose, fell,
  higher, lower, improved, worse, about the same) is checked against the figures compared, with
  Better to be; the gap to a comparator (widened, narrowed) against the computed gap trend; "in
  each year since" against the run of the years. A clause is flagged only when every reasonable
  reading of it (the like-with-like comparison and the plain figures; the number and the rate)
  contradicts it, and never when it speaks of the future or of an intention;
- targets (``target-contradicts``): "met", "achieved", "exceeded", "on target" against an Amber or
  Red RAG (or no target at all), "missed" against Green, "above"/"below" the target and a RAG word
  against the RAG; the previous quarter's RAG when the clause names it, the year-end forecast when
  it speaks of the year end;
- copied words (``copied-words``): a paragraph unchanged from the previous quarter's published
  words for the indicator (kpiflow's own drafted sentences for this quarter excepted);
- placeholders (``placeholder-response``): a service response left empty or still kpiflow's "No
  return received" words.

From Python, as ``kpiflow proofread`` and the tests do::

    ev = evidence(settings, store, catalogue, quarter)        # indicator ID -> Evidence
    check_paragraphs(ev["CS01"], "commentary", ["The rate rose compared with last quarter."])

A draft's paragraphs that are kpiflow's own drafted words for these facts, unchanged, are not checked
again (tests/test_proofread.py checks every sentence kpiflow drafts, for a whole council, as if an
officer had typed it).

Number words are read with text2num's ``alpha2digit`` (a maintained parser of English number words,
"nineteen hundred and thirty-two" included); the rest is regular expressions, where a library
would add nothing.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from kpiflow.fmt import fmt
from kpiflow.model import GREEN, IMPROVED, NO_CHANGE, WORSENED, Figures
from kpiflow.periods import MONTH_NAMES, Period
from kpiflow.problems import DocumentAt, Problem
from kpiflow.trends import Facts, direction, outturn, value_to_date

CODES = ("figure-not-held", "direction-contradicts", "target-contradicts", "copied-words", "placeholder-response")
FIGURE = "figure-not-held"
DIRECTION = "direction-contradicts"
TARGET = "target-contradicts"
COPIED = "copied-words"
PLACEHOLDER = "placeholder-response"
NO_RETURN = "No return received from "
MIN_COPIED_WORDS = 6        # a shorter paragraph ("See above.") says too little to be copied


class _LazyRegex:
    """A regular expression compiled the first time it is used. This module has some forty, and
    compiling them all costs ~13 ms: ``kpiflow validate`` imports it for any return with words in it,
    and most returns' words need only a few (a clause with no digits and no claim word needs none
    of the figures' patterns).

    ``word_start`` is for a pattern every match of which starts at the start of a word, with a
    character of that class (a word character, a digit, or "[a-z]"): said once, up front, the engine passes
    over the rest of each word, and the spaces, with one test instead of trying every alternative
    there. It matches exactly what the pattern alone would (tests/test_proofread.py checks it).

    Once compiled, ``search``, ``match`` ... are the compiled pattern's own methods: a clause is
    checked with some thousand calls of them, each then straight into the regular expression engine."""

    __slots__ = ("_compiled", "_flags", "_source", "_word_start", "findall", "finditer", "match", "search", "split",
                 "sub")

    def __init__(self, source: str, flags: int = 0, word_start: str = "") -> None:
        self._source, self._flags, self._word_start = source, flags, word_start
        self._compiled: re.Pattern[str] | None = None
        self.search: Callable[[str], re.Match[str] | None] = lambda string: self.compiled.search(string)
        self.match: Callable[[str], re.Match[str] | None] = lambda string: self.compiled.match(string)
        self.finditer: Callable[[str], Iterator[re.Match[str]]] = lambda string: self.compiled.finditer(string)
        self.findall: Callable[[str], list[Any]] = lambda string: self.compiled.findall(string)
        self.split: Callable[[str], list[str | Any]] = lambda string: self.compiled.split(string)
        self.sub: Callable[[Callable[[re.Match[str]], str], str], str] = \
            lambda repl, string: self.compiled.sub(repl, string)

    @property
    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            source = rf"\b(?={self._word_start})(?:{self._source})" if self._word_start else self._source
            self._compiled = rx = re.compile(source, self._flags)
            self.search, self.match, self.finditer, self.findall, self.split, self.sub = (
                rx.search, rx.match, rx.finditer, rx.findall, rx.split, rx.sub)
        return self._compiled


@dataclass(frozen=True)
class Evidence:
    """What kpiflow shows or holds for one indicator at one quarter: what words are checked against."""

    facts: Facts
    series: Mapping[Period, Figures]
    breakdown: tuple[tuple[str, float], ...] = ()
    previous_words: tuple[str, ...] = ()       # paragraphs published for the previous quarter
    drafted: tuple[str, ...] = ()              # kpiflow's own drafted paragraphs for this quarter
    tolerance_percent: float = 5.0
    no_change_percent: float = 1.0
    shown: tuple[float, ...] = ()              # every figure the report shows for it: values table, charts
    # outturns already looked up: (period, figure) -> value (a cache, not part of what it is)
    looked_up: dict[tuple[Period, str], float | None] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Finding:
    indicator_id: str
    region: str          # "commentary" or "response"
    paragraph: int       # 1 = the region's first
    code: str
    quote: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def where(self) -> str:
        return f"{self.indicator_id} {self.region}, paragraph {self.paragraph}"

    def line(self) -> str:
        return f'{self.where}  {self.code}  "{self.quote}": {self.message}'

    def problem(self, sheet: str = "", cell: str = "") -> Problem:
        """The finding as a warning: located at the workbook cell given (a return's words), else at
        the region's paragraph in the draft."""
        message = f'{self.where}: "{self.quote}": {self.message}'
        if sheet:
            return Problem("warning", self.code, message, sheet, cell, self.indicator_id)
        return Problem("warning", self.code, message, indicator_id=self.indicator_id,
                       at=DocumentAt(self.indicator_id, f"{self.region}, paragraph {self.paragraph}"))


# -- the words: sentences, clauses, numbers ------------------------------------------------------

_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "no.", "approx.", "c.", "sec.", "cf.", "vs.", "v.", "nos.", "para.")
_SENTENCE_END = _LazyRegex(r"(?<=[.!?])[\"”’)]?\s+(?=[\"“‘(£$]?[A-Z0-9])")
_CLAUSE_BREAK = _LazyRegex(r";|,\s*(?:and|but|while|whereas|although|though|yet)\b|\s(?:but|whereas|while|although|"
                           r"though|however)\s|\s-\s|\s–\s", re.I)


def sentences(paragraph: str) -> list[str]:
    """A paragraph cut into sentences (not after "e.g." or "No.", nor inside "185.6")."""
    out: list[str] = []
    start = 0
    for m in _SENTENCE_END.finditer(paragraph):
        before = paragraph[start:m.start()].rstrip("\"”’)")
        last = before.rsplit(None, 1)[-1].lower() if before.split() else ""
        if last in _ABBREVIATIONS:
            continue
        out.append(paragraph[start:m.start()].strip())
        start = m.end()
    out.append(paragraph[start:].strip())
    return [s for s in out if s]


def _words_to_digits(text: str) -> str:
    """Number words written as digits ("five hundred and thirty-one" -> "531"); one, two and
    ordinals below "third" stay words, as alpha2digit leaves them."""
    if not re.search(r"(?i)\b(?=[a-z])(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
                     r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|"
                     r"ninety|hundred|thousand|million|billion)\b", text):
        return text
    from text_to_num import alpha2digit

    converted: str = alpha2digit(text, "en")
    return converted


_MONTHS = r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|" \
          r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
_MONTH = rf"(?:{_MONTHS})\.?"
_PERIOD_WORD = r"(?:years?|yrs?|quarters?|qtrs?|months?|weeks?|days?|periods?|hours?|minutes?|terms?|sessions?)"
# spans that hold digits but no figure: masked before numbers are looked for, in this order
_NOT_FIGURE_PATTERNS = (
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?\b",          # 30 September 2017
    rf"\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b",                    # September 30th, 2017
    rf"\b{_MONTH}\s+\d{{4}}\b",                                                         # Sep 2017
    r"\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b",                                               # 30/09/2017
    r"\b\d{4}-\d{1,2}-\d{1,2}\b",                                                       # 2017-09-30
    r"\b(?:19|20)\d{2}\s*[/-]\s*(?:\d{4}|\d{2})\b",                                     # 2017/18, 2017-09
    r"(?<![\d.,/])\b\d{2}/\d{2}\b(?![/.,]?\d)",                                            # 17/18
    r"\bQ[1-4]\b|\b(?:quarter|qtr)\s+[1-4]\b",                                          # Q2, quarter 2
    r"\b(?:aged?|ages)\s+(?:of\s+|between\s+|from\s+|under\s+|over\s+|up\s+to\s+)?\d+"
    r"(?:\s*(?:-|–|to|and)\s*\d+)?",                                                    # aged 10 to 15
    r"\b\d+\s*(?:-|–|to)\s*\d+\s*(?:yrs?|years?(?:[- ]olds?)?|age\b)",                   # 10-15 yrs, 0-4 age group
    rf"\b\d+\s+(?:out\s+)?of\s+the\s+(?:last|past|previous)\s+\d+\s+{_PERIOD_WORD}\b",      # 12 of the last 13 months
    r"\b\d+\s*(?:-|\s)?(?:yrs?|years?)(?:\s*|-)olds?\b|\b\d+\s+years?\s+of\s+age\b",    # 5 year olds, 18-year-old
    r"\b(?:turn|turns|turned|turning|reach|reaches|reached|reaching)\s+(?:the\s+age\s+of\s+)?\d{1,2}\b(?!\s*%)",
    r"\b(?:under|over|above|below)[- ]\d{1,2}s\b|\b(?:under|over)\s+(?:the\s+)?age\s+(?:of\s+)?\d+",
    r"\b\d{1,2}\s+and\s+(?:over|above|older|under)\b|\b\d{1,2}\s*\+(?!\s*\d)",        # 16 and over, 16+
    r"\bunder\s+1s?\b",
    rf"(?<![\d,.])\b\d+(?:\.\d+)?\s*(?:-|\s)?(?:(?:consecutive|successive|straight|full|financial|reporting|calendar|"
    rf"previous|further|more|working|school|rolling)\s+)?{_PERIOD_WORD}\b",              # 6 months, 45 days
    r"\b\d+(?:st|nd|rd|th)\b",                                                          # 3rd
    r"\bs\.?\d+|\byear\s+\d{1,2}\b(?![.,]\d)|\b(?:section|sec|article|part|chapter|page|paragraph|para|phase|stage|key\s+stage|ks|level|tier|band|"
    r"priority|outcome|step|ward|version|item|figure|table|appendix|annex|schedule|clause|grade|option|group|class|"
    r"room|route|objective|action|recommendation|standard|regulation|rule|principle|theme|indicator)\.?\s*\d+",
    r"\b\d{1,2}(?::\d{2})?\s*(?:am|pm)\b|\b\d{1,2}:\d{2}\b",                             # 9am, 10:30
    r"(?<![\d,.])\b(?:\d+|one|a)\s+in\s+(?:every\s+)?\d+\b(?![,.]?\d|\s*[/-]\s*\d)",                                       # 1 in 5
    r"(?<![\d,.])\b0\d{2,}[\d ]*",                                                       # telephone numbers
)
_NOT_FIGURES = _LazyRegex("|".join(f"(?:{p})" for p in _NOT_FIGURE_PATTERNS), re.I, word_start=r"\w")
_YEAR = _LazyRegex(r"(?<![\d,.])\b(?:19[5-9]\d|20[0-4]\d)\b(?![,.]\d)", word_start=r"\d")
_YEAR_BEFORE = _LazyRegex(r"(?:\b(?:in|since|from|until|till|of|between|during|year|calendar|before|after|early|late|"
                          rf"mid|summer|spring|autumn|winter|end|start|beginning|through|throughout|{_MONTHS})|[(])\s*$",
                          re.I)
_NUMBER = _LazyRegex(
    r"(?<![\w.,/£$€-])(?P<cur>[£$€]\s?)?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?P<scale>\s?(?:k|bn|m|million|thousand|billion)\b)?"
    r"(?P<pct>\s?(?:%|per\s?cent\b|percent\b|percentage\s+points?\b|pp\b|ppts?\b|points?\b))?"
    r"(?![\w])", re.I)
_HEDGE = _LazyRegex(r"(?P<w>about|around|approximately|approx\.?|roughly|some|circa|c\.|close\s+to|nearly|almost|"
                    r"just\s+under|just\s+below|under|below|less\s+than|fewer\s+than|up\s+to|over|just\s+over|above|"
                    r"more\s+than|in\s+excess\s+of|exceeding|at\s+least)\s*$", re.I)
_BELOW_HEDGES = ("nearly", "almost", "just under", "just below", "under", "below", "less than", "fewer than", "up to")
_ABOVE_HEDGES = ("over", "just over", "above", "more than", "in excess of", "exceeding", "at least")
# a number written as a change: "fell by 17", "a fall of 17", "17 fewer than", "up 17"
_CHANGE_BEFORE = _LazyRegex(r"(?:\b(?:by|up|down)|\b(?:increase|decrease|rise|fall|drop|reduction|growth|gain|loss|change|"
                            r"difference|gap|lead|improvement|deterioration|jump)s?(?:\s+of)?)\s+(?:(?:some|about|around|"
                            r"nearly|almost|over|just\s+over|just\s+under|more\s+than|less\s+than|roughly|approximately)"
                            r"\s+)?$", re.I)
_CHANGE_AFTER = _LazyRegex(r"^\s*(?:\([^)]*\)\s*)?(?:per\s+[\d,.]+k?\s+)?"
                           r"(?:(?!(?:is|was|are|were|has|have|had|be|been|being|remains?|stands?|stays?|and|or|but)\b)"
                           r"[a-z']+\s+)?(?:fewer|more|less|lower|higher|extra|additional|up|down|above|below|"
                           r"ahead|behind|short|over|under|better|worse)\b",
                           re.I)


class Written(NamedTuple):
    """A number as written: its value, how precisely it was written, and what kind of number it is.
    (This and the other small records made for every clause are named tuples: a tenth of a frozen
    dataclass's cost to define, and a third of it to make.)"""

    text: str
    value: float
    half_unit: float      # half the last written digit's place: the rounding it allows
    percent: bool         # 46%, 46 per cent
    points: bool          # percentage points
    hedge: str            # "about", "over", "nearly" ... or ""
    change: bool = False  # written as a change ("fell by 17", "17 fewer")


def _before(text: str, at: int, width: int = 40) -> str:
    """The words just before ``at``: what a hedge, a negation or "since" is looked for in."""
    return text[max(0, at - width):at]


def numbers(clause: str, labels: Iterable[str] = ()) -> list[Written]:
    """The figures written in a clause (already in digits), less the spans that are not figures."""
    if not any(map(str.isdigit, clause)):
        return []
    masked = clause
    lowered = clause.lower()
    for label in labels:       # the breakdown's categories ("10-15 yrs") are names, not figures
        if label and label.lower() in lowered and any(map(str.isdigit, label)):
            masked = re.sub(re.escape(label), lambda m: "§" * len(m.group()), masked, flags=re.I)
    masked = _NOT_FIGURES.sub(lambda m: "§" * len(m.group()), masked)
    masked = _YEAR.sub(lambda m: "§" * 4 if _YEAR_BEFORE.search(_before(masked, m.start()))
                       or not masked[:m.start()].strip()
                       else m.group(), masked)
    masked = re.sub(r"^\s*\(?\d{1,2}[.)]\s", lambda m: "§" * len(m.group()), masked)     # a list's "1."
    out: list[Written] = []
    for m in _NUMBER.finditer(masked):
        restated = bool(out) and out[-1].change and bool(re.search(r"\(\s*$", masked[:m.start()]))
        num = m["num"]
        try:
            value = float(num.replace(",", ""))
        except ValueError:
            continue
        decimals = len(num.split(".")[1]) if "." in num else 0
        scale_word = (m["scale"] or "").strip().lower()
        scale = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9}.get(scale_word, 1.0)
        if scale_word == "m" and not m["cur"] and decimals == 0 and not re.match(r"\s?m\b", m["scale"] or ""):
            scale = 1.0
        pct_word = (m["pct"] or "").strip().lower()
        digits = num.replace(",", "").split(".")[0].lstrip("0")
        if decimals:
            half = 0.5 * 10 ** -decimals * scale
        elif scale > 1:
            half = 0.5 * scale
        else:
            zeros = len(digits) - len(digits.rstrip("0")) if digits else 0
            half = 0.5 * 10 ** min(zeros, max(len(digits) - 2, 0)) if value >= 1000 else 0.5
        hedge = _HEDGE.search(_before(masked, m.start()))
        out.append(Written(clause[m.start():m.end()].strip(), value * scale, half,
                           pct_word in ("%", "per cent", "percent", "percent") or pct_word.startswith("per"),
                           pct_word.startswith(("percentage", "pp", "point")),
                           " ".join(hedge["w"].lower().split()) if hedge else "",
                           restated or bool(_CHANGE_BEFORE.search(_before(masked, m.start(), 60))
                                            or _CHANGE_AFTER.match(masked[m.end():]))))
    return out


def _matches(w: Written, candidates: Sequence[float]) -> bool:
    """Whether any candidate (sorted) rounds to what was written, or sits on the hedge's side of it:
    "about 500" is 450 to 550, "over 100" 100 to 125, "nearly 2,000" 1,800 to 2,000 (a round number's
    last figure, within a quarter of it either way; never less than a tenth)."""
    v = w.value
    tol = w.half_unit + 1e-9 * max(1.0, abs(v))
    lo, hi = v - tol, v + tol
    if w.hedge:
        digits = f"{abs(v):.0f}"
        if v and v.is_integer() and 2 * w.half_unit >= 1:
            unit = 10.0 ** (len(digits) - len(digits.rstrip("0")))
            spread = min(max(unit, 0.1 * abs(v)), 0.25 * abs(v))
        else:           # a figure written with decimals is near to what it says: "about 185.6"
            spread = max(2 * w.half_unit, 0.02 * abs(v))
        tiny = 1e-9 * max(1.0, abs(v))
        if w.hedge in _BELOW_HEDGES:
            lo, hi = v - spread, v + tiny
        elif w.hedge in _ABOVE_HEDGES:
            lo, hi = v - tiny, v + spread
        else:
            lo, hi = v - max(tol, spread / 2), v + max(tol, spread / 2)
    i = bisect.bisect_left(candidates, lo)
    return i < len(candidates) and candidates[i] <= hi


# -- what kpiflow holds -------------------------------------------------------------------------

Pair = tuple[float, float, str]          # (now, then, kind): kind "n" number, "r" rate


@dataclass
class Held:
    """Every figure kpiflow shows or holds for the indicator, and the pairs compared, by kind."""

    values: list[float] = field(default_factory=list)          # sorted
    percents: list[float] = field(default_factory=list)        # the tolerance and no-change bands, sorted
    shares: list[float] = field(default_factory=list)          # each breakdown category's share of the total
    comparisons: dict[str, list[Pair]] = field(default_factory=dict)   # named comparison -> pairs
    by_kind: dict[str, set[float]] = field(default_factory=dict)       # the figures paired, number and rate apart
    breakdown: list[float] = field(default_factory=list)
    _diffs: list[float] | None = None
    _changes: list[float] | None = None

    @property
    def diffs(self) -> list[float]:
        """The difference between any two figures of one kind (worked out when first asked for)."""
        if self._diffs is None:
            self._pair_up()
        assert self._diffs is not None
        return self._diffs

    @property
    def changes(self) -> list[float]:
        """The percentage change between any two figures of one kind."""
        if self._changes is None:
            self._pair_up()
        assert self._changes is not None
        return self._changes

    def _pair_up(self) -> None:
        diffs: set[float] = set()
        changes: set[float] = set()
        for values in self.by_kind.values():
            for a, b in _pairs_of(sorted(values)):
                diffs.add(abs(a - b))
                for pc in (_change(a, b), _change(b, a)):
                    if pc is not None:
                        changes.add(pc)
        for a, b in _pairs_of(self.breakdown):
            diffs.add(abs(a - b))
        self._diffs, self._changes = sorted(diffs), sorted(changes)


def _value_at(ev: Evidence, period: Period, figure: str) -> float | None:
    key = (period, figure)
    if key not in ev.looked_up:
        ev.looked_up[key] = outturn(ev.series, period, figure, ev.facts.indicator.measure)
    return ev.looked_up[key]


def _kinds(ev: Evidence) -> list[tuple[str, str]]:
    ind = ev.facts.indicator
    out = []
    if ind.has_number:
        out.append(("number", "n"))
    if ind.has_rate:
        out.append(("rate", "r"))
    return out


def _primary_kind(ev: Evidence) -> str:
    return "r" if ev.facts.indicator.has_rate else "n"


def _pairs_of(values: Sequence[float]) -> Iterable[tuple[float, float]]:
    for i, a in enumerate(values):
        for b in values[i + 1:]:
            yield a, b


def _change(a: float, b: float) -> float | None:
    return abs(a - b) / abs(b) * 100 if b else None


def held(ev: Evidence) -> Held:
    """The figures of every period held, the values table's, targets, comparators, breakdown, the
    rate's base, the forecast and projection; and the pairs each named comparison compares."""
    f, ind = ev.facts, ev.facts.indicator
    p = _primary_kind(ev)
    by_kind: dict[str, set[float]] = {"n": set(), "r": set()}
    plain: set[float] = set()
    numbers_, rates, primary = by_kind["n"], by_kind["r"], by_kind[p]
    for period, figs in ev.series.items():
        paired = period.kind != "month"        # months are held, but not paired: too many to tell apart
        for v, into in ((figs.number, numbers_), (figs.rate, rates), (figs.statneigh, primary),
                        (figs.england, primary)):
            if v is not None:
                plain.add(v)
                if paired:
                    into.add(v)
    for _, shown in (*f.years, *f.quarters):
        if shown is not None:
            for name, kind in (("number", "n"), ("rate", "r"), ("statneigh", p), ("england", p)):
                v = getattr(shown, name)
                if v is not None:
                    by_kind[kind].add(v)
    facts_values = [f.current, f.previous, f.last_year, f.to_date, f.target, f.target_now, f.statneigh, f.england]
    for c in (f.prev_cmp, f.ly_cmp):
        if c is not None:
            facts_values += [c.now, c.then]
    for g in f.gaps:
        facts_values += [g.ours, g.theirs, g.ours_before, g.theirs_before]
    if f.forecast is not None:
        facts_values += [f.forecast.value, f.forecast.target]
    if f.projection is not None:
        facts_values += [f.projection.comparator_value]
    # the year to date at the previous quarter and at the same point last year, for every measure
    for at in (f.quarter.step(-1), f.quarter.same_last_year()):
        facts_values.append(value_to_date(ev.series, at, f.figure, ind.measure))
    facts_values += [v for _, v in f.annual]
    facts_values += [v for vals in f.annual_comparators.values() for _, v in vals]
    for v in facts_values:
        if v is not None:
            by_kind[p].add(v)
    for values in by_kind.values():
        plain |= values
    if ind.rate_per:
        plain.add(ind.rate_per)
    plain |= set(ev.shown)
    breakdown = [n for _, n in ev.breakdown]
    plain |= set(breakdown)
    if breakdown:
        plain.add(sum(breakdown))
    # a category's share of the breakdown's total, or of the quarter's number where they differ
    shares = [n / total * 100 for total in {sum(breakdown), _value_at(ev, f.quarter, "number") or 0.0} if total
              for n in breakdown]
    percents = {ev.tolerance_percent, ev.no_change_percent}
    if ind.tolerance is not None:
        percents.add(ind.tolerance)
    return Held(sorted(plain), sorted(percents), sorted(shares), _comparisons(ev), by_kind, breakdown)


def _comparisons(ev: Evidence) -> dict[str, list[Pair]]:
    """The pairs each named comparison can mean: the like-with-like one kpiflow makes, and the plain
    figures of the periods, number and rate."""
    f = ev.facts
    p = _primary_kind(ev)
    q = f.quarter
    out: dict[str, list[Pair]] = {"previous": [], "last_year": [], "same_quarter": [], "target": []}
    if f.prev_cmp and f.prev_cmp.now is not None and f.prev_cmp.then is not None:
        out["previous"].append((f.prev_cmp.now, f.prev_cmp.then, p))
    if f.ly_cmp and f.ly_cmp.now is not None and f.ly_cmp.then is not None:
        out["same_quarter"].append((f.ly_cmp.now, f.ly_cmp.then, p))
    for figure, kind in _kinds(ev):
        now = _value_at(ev, q, figure)
        if now is None:
            continue
        for key, then_period in (("previous", q.step(-1)), ("same_quarter", q.same_last_year()),
                                 ("last_year", q.year.step(-1))):
            then = _value_at(ev, then_period, figure)
            if then is not None:
                out[key].append((now, then, kind))
    out["last_year"] += out["same_quarter"]
    if f.target_now is not None:
        for now in (f.to_date, f.current):
            if now is not None:
                out["target"].append((now, f.target_now, p))
    if f.target is not None and f.current is not None:
        out["target"].append((f.current, f.target, p))
    if f.forecast is not None and f.forecast.target is not None:
        out["target"].append((f.forecast.value, f.forecast.target, p))
    for g in f.gaps:
        key = "england" if g.comparator == "England" else "statneigh"
        pairs = [(g.ours, g.theirs, p)]
        if f.current is not None:
            pairs.append((f.current, g.theirs, p))
        if g.ours_before is not None and g.theirs_before is not None:
            pairs.append((g.ours_before, g.theirs_before, p))
            pairs.append((abs(g.ours - g.theirs), abs(g.ours_before - g.theirs_before), p))
        out[key] = pairs
    return out


def _period_pairs(ev: Evidence, period: Period) -> list[Pair]:
    """The quarter's figures against a named period's, number and rate."""
    f = ev.facts
    out: list[Pair] = []
    for figure, kind in _kinds(ev):
        then = _value_at(ev, period, figure)
        if period.kind == "month" and then is None and period == period.quarter.months()[-1]:
            then = _value_at(ev, period.quarter, figure)
        if then is None:
            continue
        to_date = f.to_date if figure == f.figure and period.kind == "year" else None
        for now in {_value_at(ev, f.quarter, figure), to_date}:
            if now is not None:
                out.append((now, then, kind))
    return out


def _between_pairs(ev: Evidence, start: Period, end: Period) -> list[Pair]:
    """One named period's figures against another's ("from 2022/23 to 2023/24")."""
    out: list[Pair] = []
    for figure, kind in _kinds(ev):
        a, b = _value_at(ev, start, figure), _value_at(ev, end, figure)
        if a is not None and b is not None:
            out.append((b, a, kind))
    return out


# -- the comparisons a clause names -------------------------------------------------------------

_PREVIOUS = _LazyRegex(r"\b(?:last|previous|preceding|prior)\s+quarter\b|\bquarter\s+before\b|\bprevious\s+period\b|"
                       r"\bquarter[- ]on[- ]quarter\b|\bon\s+the\s+quarter\b|\bprevious\s+quarter'?s\b", re.I)
_SAME_QUARTER = _LazyRegex(r"\bsame\s+(?:quarter|period|point|time)\s+(?:of\s+|in\s+)?(?:last|the\s+previous|the\s+prior|"
                           r"a)\s+year(?:\s+(?:ago|earlier|before))?|\b(?:a|one)\s+year\s+(?:ago|earlier|before)\b|"
                           r"\bthis\s+time\s+last\s+year\b|\b(?:12|twelve)\s+months\s+(?:ago|earlier|before)\b", re.I)
_LAST_YEAR = _LazyRegex(r"\b(?:last|previous|the\s+prior)\s+year\b|\bthe\s+year\s+before\b", re.I)
_ENGLAND = _LazyRegex(r"\bengland\b|\bnational(?:ly)?\b", re.I)
_NEIGHBOURS = _LazyRegex(r"\bneighbours?\b|\bsimilar\s+(?:councils|authorities|areas)\b|\bcomparator\s+"
                         r"(?:councils|authorities|group)\b|\bcomparable\s+(?:councils|authorities)\b", re.I)
_BOTH_COMPARATORS = _LazyRegex(r"\bcomparators\b", re.I)
_TARGET = _LazyRegex(r"\btargets?\b", re.I)
_RUN = _LazyRegex(r"\b(?:each|every)\s+year\b|\byear[- ]on[- ]year\b|\b(?:consecutive|successive)\s+years?\b", re.I)
_Q_LABEL = _LazyRegex(r"\bQ([1-4])(?:\s*,?\s*(\d{4})\s*[/-]\s*(\d{2}|\d{4}))?\b|\b(\d{4})\s*[/-]\s*(\d{2}|\d{4})\s*,?\s*"
                      r"Q([1-4])\b|\bquarter\s+([1-4])\b", re.I, word_start=r"\w")
_Y_LABEL = _LazyRegex(r"(?<![\d/])\b(\d{4})\s*[/-]\s*(\d{2}|\d{4})\b(?!\s*,?\s*Q[1-4])(?![/-]\d)", re.I, word_start=r"\d")
_DATE = _LazyRegex(rf"\b(?:\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?)?({_MONTH})\s+(\d{{4}})\b", re.I, word_start=r"\w")
_SINCE = _LazyRegex(r"\bsince\s*$", re.I)
_FROM_TO = _LazyRegex(r"\bfrom\s+(?P<a>[£$]?\d[\d,]*(?:\.\d+)?%?)\s+(?:\S+\s+){0,5}?to\s+(?P<b>[£$]?\d[\d,]*(?:\.\d+)?%?)",
                      re.I)


class Named(NamedTuple):
    """A comparison a clause names: which, the periods it means, where it is named."""

    key: str        # previous | last_year | same_quarter | period | between | england | statneigh | target | current
    label: str
    period: Period | None = None
    since: bool = False
    at: int = 0                      # where in the clause it is named
    start: Period | None = None      # "from 2022/23 to 2023/24": the earlier period ("between")


def _fy_of(y1: str, y2: str) -> int | None:
    start, end = int(y1), int(y2)
    if (len(y2) == 2 and end == (start + 1) % 100) or (len(y2) == 4 and end == start + 1):
        return start
    return None


def _periods_named(clause: str, quarter: Period) -> list[tuple[int, int, Period]]:
    """Every quarter, year and month named in the clause, with where it is."""
    from kpiflow.periods import month

    out: list[tuple[int, int, Period]] = []
    taken: list[tuple[int, int]] = []
    for m in _Q_LABEL.finditer(clause):
        n = int(m[1] or m[6] or m[7])
        y1, y2 = (m[2], m[3]) if m[1] else (m[4], m[5]) if m[6] else (None, None)
        if y1 and y2:
            fy = _fy_of(y1, y2)
            if fy is None:
                continue
            period = Period("quarter", fy, n)
        else:
            period = Period("quarter", quarter.fy if n <= quarter.n else quarter.fy - 1, n)
        taken.append(m.span())
        out.append((m.start(), m.end(), period))
    for m in _Y_LABEL.finditer(clause):
        fy = _fy_of(m[1], m[2])
        if fy is None or any(a <= m.start() < b for a, b in taken):
            continue
        out.append((m.start(), m.end(), Period("year", fy)))
    for m in _DATE.finditer(clause):
        word = m[1].lower().rstrip(".")
        idx = next((i for i, full in enumerate(MONTH_NAMES, start=1) if full.startswith(word[:3])), None)
        if idx is not None:
            out.append((m.start(), m.end(), month(int(m[2]), idx)))
    return sorted(out, key=lambda x: x[0])


def named_comparisons(clause: str, quarter: Period) -> list[Named]:
    """The comparisons a clause names, in the order it names them."""
    out: list[Named] = []
    low = clause.lower()
    # each pattern is tried only where a word it needs is present: most clauses name nothing
    for rx, key, label, needs in (
            (_PREVIOUS, "previous", "the previous quarter", ("quarter", "period")),
            (_SAME_QUARTER, "same_quarter", "the same quarter last year", ("year", "months")),
            (_ENGLAND, "england", "England", ("england", "national")),
            (_NEIGHBOURS, "statneigh", "the statistical neighbours' average", ("neighbour", "similar", "compar")),
            (_TARGET, "target", "the target", ("target",))):
        if any(w in low for w in needs):
            out += [Named(key, label, at=m.start()) for m in rx.finditer(clause)]
    if "year" in low and not _SAME_QUARTER.search(clause):
        out += [Named("last_year", "last year", at=m.start()) for m in _LAST_YEAR.finditer(clause)]
    if "comparators" in low:
        for m in _BOTH_COMPARATORS.finditer(clause):
            out += [Named("england", "England", at=m.start()),
                    Named("statneigh", "the statistical neighbours' average", at=m.start())]
    periods = _periods_named(clause, quarter) if any(map(str.isdigit, clause)) or "quarter" in low else []
    skip: set[int] = set()
    this_year = any(period == quarter.year for _, _, period in periods)
    for i, (a, b, period) in enumerate(periods):
        if i in skip:
            continue
        nxt = periods[i + 1] if i + 1 < len(periods) else None
        if nxt is not None and re.search(r"\bfrom\s*$", _before(clause, a), re.I) and re.fullmatch(r"\s+to\s+", clause[b:nxt[0]]):
            out.append(Named("between", f"{period.short} to {nxt[2].short}", nxt[2], at=a, start=period))
            skip.add(i + 1)
            continue
        named = _period_named(period, quarter, bool(_SINCE.search(_before(clause, a))))
        if named.key == "period" and period.kind == "year" and this_year:
            # "the total for 2024/25 was higher than in 2023/24": this year's against that year's
            out.append(Named("between", f"{period.short} to {quarter.year.short}", quarter.year, at=a, start=period))
            continue
        out.append(Named(named.key, named.label, named.period, named.since, a))
    return sorted((n for n in out if n.key != "current"), key=lambda n: n.at)


def _period_named(period: Period, quarter: Period, since: bool) -> Named:
    if period.kind == "month" and period.quarter == quarter and period == quarter.months()[-1]:
        return Named("current", "")
    if period == quarter or (period.kind == "year" and period == quarter.year):
        return Named("current", "")
    if period.kind == "quarter" and period == quarter.step(-1):
        return Named("previous", period.short, period)
    if period.kind == "quarter" and period == quarter.same_last_year():
        return Named("same_quarter", period.short, period)
    if period > quarter:
        return Named("current", "")     # a later period is the future: nothing to check it against
    return Named("period", period.short, period, since)


# -- claims: directions and targets -------------------------------------------------------------

_FUTURE = _LazyRegex(r"\b(?:would|will|could|might|may|should|shall|if|expected|expects?|forecasts?|projected|"
                     r"projections?|predicted|likely|aims?|aiming|plans?|planned|intends?|intended|on\s+course|"
                     r"on\s+track|going\s+to|set\s+to|trajectory|anticipated?|hope[sd]?|ambition|want|needs?\s+to|"
                     r"seeks?\s+to|strive|working\s+to|in\s+order\s+to)\b|(?<!continued\s)(?<!continues\s)"
                     r"(?<!continue\s)\bto\s+(?:reduce|increase|improve|lower|raise|bring|cut|grow|meet|achieve)\b",
                     re.I, word_start="[a-z]")
_NEGATION = _LazyRegex(r"\b(?:not|never|no\s+longer|n't|neither|nor|without|failed\s+to|fails\s+to)\s+(?:\w+\s+){0,2}$",
                       re.I)
_NO_BEFORE = _LazyRegex(r"\bno\s+$", re.I)
_UP = r"rose|risen|rises|rising|increased|increases|increasing|increase|grew|grown|growing|growth|climbed|climbing|" \
      r"jumped|went\s+up|gone\s+up|rise|(?:is|was|are|were|been)\s+up|up\s+(?=from|by|on|again|slightly|sharply|" \
      r"significantly|[£$]?\d)"
_DOWN = r"fell|fallen|falls|falling|fall|decreased|decreases|decreasing|decrease|declined|declines|declining|" \
        r"decline|dropped|drops|dropping|drop|reduced|reduction|reducing|lowered|went\s+down|gone\s+down|" \
        r"(?:is|was|are|were|been)\s+down|down\s+(?=from|by|on|again|slightly|sharply|significantly|[£$]?\d)"
_ABOVE = r"higher|above|greater|exceeds|exceeded|more(?!\s+(?:than\s+)?[£$]?\d)(?=\s+than)"
_BELOW = r"lower|below|fewer(?!\s+(?:than\s+)?[£$]?\d)(?=\s+than)|less(?!\s+(?:than\s+)?[£$]?\d)(?=\s+than)"
_GOOD = r"improved|improvement|improvements|improving|improves|better"
_BAD = r"worse|worsened|worsening|deteriorated|deterioration|deteriorating|poorer"
_SAME = r"(?:remained|remains|stayed|stays|held)\s+(?:broadly\s+|largely\s+|fairly\s+|relatively\s+)?" \
        r"(?:stable|steady|the\s+same|level|unchanged|static|flat|similar)|unchanged|no\s+(?:real\s+|significant\s+)?" \
        r"change|(?:about|broadly|much|roughly|largely|more\s+or\s+less)\s+the\s+same|stable|steady|level\s+with|" \
        r"similar\s+to|in\s+line\s+with|static|flat"
_CLAIMS = _LazyRegex(rf"\b(?:(?P<same>{_SAME})|(?P<up>{_UP})|(?P<down>{_DOWN})|(?P<above>{_ABOVE})|(?P<below>{_BELOW})|"
                     rf"(?P<good>{_GOOD})|(?P<bad>{_BAD}))\b", re.I, word_start="[a-z]")
_GAP = _LazyRegex(r"\b(?:gaps?|leads?|difference)\b", re.I)
_WIDEN = _LazyRegex(r"\b(?:widen\w*|wider|grown|grew|grow\w*|increased|increasing|larger|bigger)\b", re.I)
_NARROW = _LazyRegex(r"\b(?:narrow\w*|clos(?:ed|ing)|reduced|reducing|smaller|shrunk|shrinking|fallen|fell|decreased)\b",
                     re.I)
_BEFORE_TARGET = r"\s+(?:the\s+|its\s+|our\s+|their\s+|a\s+|this\s+quarter'?s\s+)?(?:\S+\s+){0,2}?targets?\b"
_MET = _LazyRegex(rf"\b(?:met|meets|achieved|achieves|exceeded|exceeds|exceeding|surpassed|surpasses|beaten|beat|beats|"
                  rf"hit|hits)\b|\bon\s+target\b|\bahead\s+of{_BEFORE_TARGET}|\bbetter\s+than{_BEFORE_TARGET}|"
                  rf"\bwithin{_BEFORE_TARGET}", re.I)
_MISSED = _LazyRegex(rf"\b(?:missed|misses|missing|miss)\b|\boff\s+target\b|\bbehind{_BEFORE_TARGET}|"
                     rf"\bshort\s+of{_BEFORE_TARGET}|\bworse\s+than{_BEFORE_TARGET}", re.I)
_MET_BASE = _LazyRegex(r"\b(?:meet|achieve|exceed|hit|beat|reach)\b", re.I)
_ON_COURSE = _LazyRegex(r"\b(?:on\s+course|on\s+track|expected|set|likely|forecast|projected|due|going)\s+to\s+$", re.I)
_TARGET_SIDE = _LazyRegex(r"\b(?P<side>above|below|over|under|higher\s+than|lower\s+than)\s+(?:the\s+|its\s+|our\s+|a\s+)?"
                          r"(?:\S+\s+){0,2}?target", re.I)
_TOLERANCE_WORDS = _LazyRegex(r"\b(?:tolerance|band|margin|within)\b", re.I)
# a RAG word as a rating ("is Amber", "rated Red", "(Green)"), not "Green Flag" or "Red Cross"
_RAG_WORD = _LazyRegex(r"(?:\b(?:rated|rating|is|are|was|were|remains|remain|stays|stay|status|RAG|as|now|at|of)\s*:?\s+|\()"
                       r"(Green|Amber|Red)\b|\b(Green|Amber|Red)\s+(?:rating|status|RAG)\b|^\s*(Green|Amber|Red)\s*:")
_NO_TARGET = _LazyRegex(r"\bno\s+target|\btarget\s+(?:has\s+)?not\s+(?:been\s+)?set|\bnot\s+(?:been\s+)?set\s+a\s+"
                        r"target|\bno\s+(?:\w+\s+)?targets?\b", re.I)
_YEAR_END = _LazyRegex(r"\byear[- ]end\b|\bend\s+of\s+the\s+year\b|\bby\s+(?:the\s+end\s+of\s+)?march\b|"
                       r"\bfor\s+the\s+(?:whole\s+|full\s+)?year\b(?!\s+(?:to\s+date|so\s+far))|\bby\s+31\s+march\b", re.I)


class Claim(NamedTuple):
    word: str
    kind: str            # up | down | above | below | good | bad | same
    negated: bool
    at: int = 0


_CLAIM_STARTS = frozenset(re.findall(r"\w+", """rose risen rises rising increased increases increasing increase grew grown growing growth climbed
climbing jumped went gone rise is was are were been up fell fallen falls falling fall decreased decreases decreasing decrease
declined declines declining decline dropped drops dropping drop reduced reduction reducing lowered down higher above greater
exceeds exceeded more lower below fewer less improved improvement improvements improving improves better worse worsened
worsening deteriorated deterioration deteriorating poorer remained remains stayed stays held unchanged no about broadly much
roughly largely stable steady level similar in static flat same change line"""))
_WORD = _LazyRegex(r"[a-z]+")


# a direction word said of something else: the service's own work ("we have improved our processes",
# "the service has increased capacity"), or a verb with an object that is not the figure
_ACTOR = _LazyRegex(r"\b(?:we|our\s+(?:team|staff|service|officers|partners)|the\s+(?:service|team|council|department|"
                    r"board|partnership)|partners|staff|officers)\s+(?:\w+\s+){0,3}$", re.I)
_OBJECT_AFTER = _LazyRegex(r"^\s+(?:the|its|our|their|a|an|this|these|those)\s+(?!(?:number|numbers|rate|rates|figure|"
                           r"percentage|proportion|total|level|outturn)\b)", re.I)


def claims(clause: str) -> list[Claim]:
    """The directions a clause states, each with where it is and whether it is negated."""
    if _CLAIM_STARTS.isdisjoint(_WORD.findall(clause.lower())):
        return []
    out = []
    for m in _CLAIMS.finditer(clause):
        kind = next(k for k, v in m.groupdict().items() if v)
        before = _before(clause, m.start())
        if _ACTOR.search(before) or (kind in ("up", "down", "good", "bad") and _OBJECT_AFTER.match(clause[m.end():])):
            continue
        negated = bool(_NEGATION.search(before) or _NO_BEFORE.search(before))
        if kind == "same" and re.match(r"no\s", m.group(), re.I):
            negated = bool(_NEGATION.search(before))
        out.append(Claim(" ".join(m.group().split()), kind, negated, m.start()))
    return out


def _holds(c: Claim, now: float, then: float, high: bool, no_change: float) -> bool:
    s = (now > then) - (now < then)
    good = s != 0 and (s > 0) == high
    kind = {"above": "up", "below": "down"}.get(c.kind, c.kind)
    if kind == "up":
        ok = s > 0
    elif kind == "down":
        ok = s < 0
    elif kind == "good":
        ok = good
    elif kind == "bad":
        ok = s != 0 and not good
    else:
        ok = direction(now, then, high, no_change) == NO_CHANGE
    return ok != c.negated


def _said(c: Claim) -> str:
    return f"not {c.word}" if c.negated else c.word


def _shown(ev: Evidence, v: float, kind: str) -> str:
    unit = ev.facts.indicator.unit
    return fmt(v, unit, "rate" if kind == "r" else "number", dp=None if kind == "r" else ev.facts.dp)


def _actual(ev: Evidence, now: float, then: float, kind: str) -> str:
    high = ev.facts.indicator.higher_is_better
    d = direction(now, then, high, ev.no_change_percent)
    move = "higher" if now > then else "lower" if now < then else "the same"
    verdicts: dict[str, str] = {IMPROVED: ", an improvement", WORSENED: ", a deterioration", NO_CHANGE: ", about the same"}
    verdict = verdicts.get(d or "", "")
    return f"{move} ({_shown(ev, now, kind)} against {_shown(ev, then, kind)}{verdict})"


def _readings(ev: Evidence, h: Held, n: Named, clause: str) -> list[Pair]:
    if n.key in ("previous", "same_quarter", "last_year", "england", "statneigh"):
        pairs = list(h.comparisons.get(n.key, []))
        if n.key in ("england", "statneigh"):
            pairs = _comparator_readings(ev, n.key, clause) or pairs[:2]
        elif n.period is not None:
            pairs += _period_pairs(ev, n.period)
    elif n.key == "period" and n.period is not None:
        pairs = _period_pairs(ev, n.period)
    elif n.key == "between" and n.period is not None and n.start is not None:
        pairs = _between_pairs(ev, n.start, n.period)
    else:
        return []
    wants_rate = re.search(r"\brates?\b", clause, re.I)
    wants_number = re.search(r"\b(?:number|total|count)\b", clause, re.I)
    if ev.facts.indicator.unit == "Number and rate" and bool(wants_rate) != bool(wants_number):
        pairs = [x for x in pairs if x[2] == ("r" if wants_rate else "n")] or pairs
    return pairs


def _comparator_readings(ev: Evidence, key: str, clause: str) -> list[Pair]:
    """The council against a comparator: in a year the clause names, else in the latest year with
    both figures and at the quarter."""
    f = ev.facts
    p = _primary_kind(ev)
    name = "England" if key == "england" else "statistical neighbours"
    years = [m for m in _Y_LABEL.finditer(clause) if _fy_of(m[1], m[2]) is not None]
    if years:
        out: list[Pair] = []
        for m in years:
            y = Period("year", _fy_of(m[1], m[2]) or 0)
            ours = dict(f.annual).get(y)
            theirs = dict(f.annual_comparators.get(name, ())).get(y)
            if ours is not None and theirs is not None:
                out.append((ours, theirs, p))
        return out
    gap = next((g for g in f.gaps if g.comparator == name), None)
    if gap is None:
        return []
    out = [(gap.ours, gap.theirs, p)]
    if f.current is not None:
        out.append((f.current, gap.theirs, p))
    return out


def _direction_findings(ev: Evidence, h: Held, clause: str, named_in: Callable[[], list[Named]]) -> list[str]:
    """Why the clause's direction contradicts the figures; empty when it does not (or says nothing checkable)."""
    f = ev.facts
    high = f.indicator.higher_is_better
    found = claims(clause)
    gap = _GAP.search(clause)
    if (not found and not gap) or _FUTURE.search(clause):
        return []
    named = named_in()
    out: list[str] = []
    # the gap to a comparator
    if gap and (_WIDEN.search(clause) or _NARROW.search(clause)):
        said = "widening" if _WIDEN.search(clause) else "narrowing"
        negated = bool(_NEGATION.search(_before(clause, (_WIDEN.search(clause) or _NARROW.search(clause)).start())))  # type: ignore[union-attr]
        names = [n for n in named if n.key in ("england", "statneigh")]
        trends = [f.gap_trend.get("England" if n.key == "england" else "statistical neighbours") for n in names] \
            if names else list(f.gap_trend.values())
        trends = [t for t in trends if t]
        if trends and all((t == said) == negated for t in trends):
            out.append(f"the sentence says the gap is {'not ' if negated else ''}{said}, but kpiflow's figures show it "
                       f"{' and '.join(sorted(set(trends)))}")
        return out
    if not found:
        return out
    # "in each year since 2015/16"
    if _RUN.search(clause) and len(f.annual) >= 2:
        since = next((n.period for n in named if n.key == "period" and n.period is not None and n.period.kind == "year"),
                     None)
        for c in found:
            if c.kind not in ("up", "down", "above", "below"):
                continue
            rising = c.kind in ("up", "above")
            run = f.run
            ok = run is not None and run.rising == rising and (since is None or run.since <= since)
            if ok == c.negated:
                what = "no unbroken run of years" if run is None else (
                    f"it has {'risen' if run.rising else 'fallen'} in each year since {run.since.label}")
                out.append(f'the sentence says it {"did not " if c.negated else ""}{c.word} each year'
                           f'{f" since {since.label}" if since else ""}, but kpiflow\'s figures show {what}')
        return out
    comparisons = [n for n in named if n.key != "target"]
    for c in found:
        # a direction belongs to the comparison named next after it ("fell compared with Q1"), else
        # the one named last before it ("compared with Q1, it fell")
        after = [n for n in comparisons if n.at > c.at]
        before = [n for n in comparisons if n.at < c.at]
        n = after[0] if after else before[-1] if before else None
        if n is None:
            continue
        comparator = n.key in ("england", "statneigh")
        if comparator and (c.kind not in ("above", "below", "good", "bad") or c.word.lower().startswith("improv")):
            continue
        pairs = _readings(ev, h, n, clause)
        if pairs and not any(_holds(c, now, then, high, ev.no_change_percent) for now, then, _ in pairs):
            now, then, kind = pairs[0]
            out.append(f'the sentence says "{_said(c)}" against {n.label}, but the figures are '
                       f"{_actual(ev, now, then, kind)}")
    # "fell from 548 to 531": the figures written must move the way the words say
    for m in _FROM_TO.finditer(clause):
        a, b = (float(x.strip("£$%").replace(",", "")) for x in (m["a"], m["b"]))
        movers = [c for c in found if c.kind in ("up", "down")]
        for c in movers:
            if (b > a) != (c.kind == "up") and a != b and not c.negated:
                out.append(f'the sentence says "{c.word}" but the figures it gives go from {m["a"]} to {m["b"]}')
                break
    return out


def _target_findings(ev: Evidence, clause: str, named_in: Callable[[], list[Named]]) -> list[str]:
    if "arget" not in clause and "Green" not in clause and "Amber" not in clause and "Red" not in clause:
        return []
    named = named_in()
    f = ev.facts
    high = f.indicator.higher_is_better
    out: list[str] = []
    rag, when = f.rag, f.quarter.short
    if any(n.key == "previous" for n in named):
        rag, when = f.previous_rag, f.quarter.step(-1).short
    elif any(n.key in ("last_year", "same_quarter", "period") for n in named):
        rag = None
    for m in _RAG_WORD.finditer(clause):
        word = m[1] or m[2] or m[3]
        if rag is not None and word != rag and not _NEGATION.search(_before(clause, m.start())) and not _FUTURE.search(clause):
            out.append(f'the sentence says {word}, but the RAG at {when} is {rag}')
    if not _TARGET.search(clause):
        return out
    met, missed = _MET.search(clause), _MISSED.search(clause)
    side = _TARGET_SIDE.search(clause)
    if not (met or missed or side or _MET_BASE.search(clause)):
        return out
    claim_met: bool | None = None
    word = ""
    said = met or missed
    course = False          # "on course to meet the target": the year-end forecast is what it says
    base = _MET_BASE.search(clause) if said is None else None
    if said is not None:
        word = said.group()
        negated = bool(_NEGATION.search(_before(clause, said.start())))
        claim_met = bool(met) != negated
    elif base is not None:
        before = _before(clause, base.start())
        heading = _ON_COURSE.search(before)
        if heading is not None:
            course = True
            word = clause[max(0, base.start() - len(before) + heading.start()):base.end()]
            claim_met = not _NEGATION.search(_before(clause, base.start() - len(before) + heading.start()))
        elif (neg := _NEGATION.search(before)) is not None:          # "did not meet", "failed to achieve"
            word, claim_met = (before[neg.start():] + base.group()).strip(), False
        else:
            return out                          # "working to meet the target": an intention
    elif side:
        word = side.group()
        above = side["side"].lower().startswith(("above", "over", "higher"))
        claim_met = above == high
        if _NEGATION.search(_before(clause, side.start())):
            claim_met = not claim_met
    if f.target is None and f.target_now is None:
        if not _NO_TARGET.search(clause) and f.current is not None:
            out.append(f'the sentence says "{word}", but there is no target set for {f.indicator.id} in '
                       f"{f.quarter.year.label}")
        return out
    if course or _YEAR_END.search(clause) or (base is None and _FUTURE.search(clause)):
        fc = f.forecast
        if fc is None or fc.target is None or not (course or _YEAR_END.search(clause) or "year" in clause.lower()):
            return out
        on_course = (fc.value >= fc.target) if high else (fc.value <= fc.target)
        if on_course != claim_met:
            shown = f"{_shown(ev, fc.value, _primary_kind(ev))} against {_shown(ev, fc.target, _primary_kind(ev))}"
            out.append(f'the sentence says "{word}" by the year end, but at this pace the year end would be {shown}')
        return out
    if rag is None:
        return out
    if claim_met != (rag == GREEN):
        detail = ""
        if when == f.quarter.short and f.to_date is not None and f.target_now is not None:
            p = _primary_kind(ev)
            detail = f" ({_shown(ev, f.to_date, p)} against a target of {_shown(ev, f.target_now, p)})"
        out.append(f'the sentence says "{word}", but the RAG at {when} is {rag}{detail}')
    return out


# -- checking ---------------------------------------------------------------------------------------

def _named_pairs(ev: Evidence, h: Held, named: list[Named]) -> list[Pair]:
    """The pairs of figures the comparisons a clause names compare: what a change it gives must be."""
    out: list[Pair] = []
    for n in named:
        if n.key in ("previous", "same_quarter", "last_year", "target", "england", "statneigh"):
            out += h.comparisons.get(n.key, [])
            if n.period is not None:
                out += _period_pairs(ev, n.period)
        elif n.key == "period" and n.period is not None:
            out += _period_pairs(ev, n.period)
        elif n.key == "between" and n.period is not None and n.start is not None:
            out += _between_pairs(ev, n.start, n.period)
    return out


def _figure_findings(ev: Evidence, h: Held, clause: str, named: Callable[[], list[Named]]) -> list[tuple[str, str]]:
    written = numbers(clause, [c for c, _ in ev.breakdown])
    if not written:
        return []
    out = []
    change_pairs = _named_pairs(ev, h, named()) if any(w.percent or w.points or w.change for w in written) else []
    for w in written:
        if w.percent and not w.points:
            percentage = ev.facts.indicator.unit == "Percentage"
            if percentage and not w.change and _matches(w, h.values):
                continue
            if _TOLERANCE_WORDS.search(clause) and _matches(w, h.percents):
                continue
            if change_pairs:
                named_changes = sorted(c for a, b, _ in change_pairs for c in (_change(a, b),) if c is not None)
                named_points = sorted(abs(a - b) for a, b, _ in change_pairs) if percentage else []
                if _matches(w, named_changes) or _matches(w, named_points):
                    continue
            elif _matches(w, h.changes) or _matches(w, h.shares) or (percentage and _matches(w, h.diffs)) or (
                    percentage and _matches(w, h.values)):
                continue
        elif w.points:
            if _matches(w, sorted(abs(a - b) for a, b, _ in change_pairs) if change_pairs else h.diffs):
                continue
        else:
            if _matches(w, h.values):
                continue
            if w.change:
                diffs = sorted(abs(a - b) for a, b, _ in change_pairs) if change_pairs else h.diffs
                if _matches(w, diffs):
                    continue
        out.append((w.text, f'"{w.text}" is not a figure kpiflow holds for {ev.facts.indicator.id}. Check it against the '
                            "values table, or say what it counts."))
    return out


def _normal(text: str) -> str:
    return " ".join(text.casefold().split())


def check_paragraphs(ev: Evidence, region: str, paragraphs: Sequence[str], placeholders: bool = True,
                     h: Held | None = None) -> list[Finding]:
    """Every finding in one region's paragraphs (``region`` is "commentary" or "response")."""
    h = h or held(ev)
    iid = ev.facts.indicator.id
    out: list[Finding] = []
    texts = [p for p in paragraphs if p.strip()]
    if placeholders and region == "response" and not texts:
        out.append(Finding(iid, region, 1, PLACEHOLDER, "", "The service response is empty. Enter what the service "
                           "is doing about it: publish refuses a draft without one."))
    previous = {_normal(p) for p in ev.previous_words if len(p.split()) >= MIN_COPIED_WORDS}
    drafted = {_normal(p) for p in ev.drafted}
    for i, para in enumerate(texts, start=1):
        if placeholders and region == "response" and para.strip().startswith(NO_RETURN):
            out.append(Finding(iid, region, i, PLACEHOLDER, para.strip(), "This is still kpiflow's placeholder for a "
                               "missing return. Replace it with the service's response before publishing."))
            continue
        if _normal(para) in drafted:
            continue        # kpiflow's own sentences, drafted from these very facts: true as they stand
        if _normal(para) in previous:
            out.append(Finding(iid, region, i, COPIED, para.strip(), f"This paragraph is word for word what was "
                               f"published for {ev.facts.quarter.step(-1).short}. Check it still holds for "
                               f"{ev.facts.quarter.short} and bring it up to date."))
        for sentence in sentences(para):
            out += _check_sentence(ev, h, iid, region, i, sentence)
    return out


_ANY_CLAIM = _LazyRegex(r"\b(?:targets?|gaps?|leads?|Green|Amber|Red)\b")


def _check_sentence(ev: Evidence, h: Held, iid: str, region: str, i: int, sentence: str) -> list[Finding]:
    out: list[Finding] = []
    digits = _words_to_digits(sentence)
    if not any(map(str.isdigit, digits)) and _CLAIM_STARTS.isdisjoint(_WORD.findall(digits.lower())) \
            and not _ANY_CLAIM.search(digits):
        return out          # no figure, no direction, no target: nothing to check
    seen: set[tuple[str, str]] = set()
    for clause in _clauses(digits):
        # the comparisons the clause names, worked out only for a check that gets as far as needing them
        named = functools.cache(functools.partial(named_comparisons, clause, ev.facts.quarter))
        for _, message in _figure_findings(ev, h, clause, named):
            if (FIGURE, message) not in seen:
                seen.add((FIGURE, message))
                out.append(Finding(iid, region, i, FIGURE, sentence, message))
        for why in _direction_findings(ev, h, clause, named):
            if (DIRECTION, why) not in seen:
                seen.add((DIRECTION, why))
                out.append(Finding(iid, region, i, DIRECTION, sentence, f"{why[0].upper()}{why[1:]}. Correct the "
                                   "direction, or name the comparison that was meant."))
        for why in _target_findings(ev, clause, named):
            if (TARGET, why) not in seen:
                seen.add((TARGET, why))
                out.append(Finding(iid, region, i, TARGET, sentence, f"{why[0].upper()}{why[1:]}. Say how it stands "
                                   "against its target as the values table shows it."))
    return out


def _clauses(sentence: str) -> list[str]:
    """A sentence cut where a new comparison may start; a clause with no comparison of its own
    keeps the one before it ("fell compared with Q1, an improvement")."""
    parts = [p for p in _CLAUSE_BREAK.split(sentence) if p and p.strip()]
    return parts or [sentence]


def check_texts(ev: Evidence, commentary: Sequence[str], response: Sequence[str],
                placeholders: bool = True) -> list[Finding]:
    """Every finding in an exception's commentary and service response, in that order."""
    h = held(ev)
    return [*check_paragraphs(ev, "commentary", commentary, placeholders, h),
            *check_paragraphs(ev, "response", response, placeholders, h)]


def paragraphs_of_text(text: str) -> list[str]:
    """Stored or typed words as paragraphs: one per line, blank lines dropped."""
    return [line for line in text.replace("\r\n", "\n").split("\n") if line.strip()]


# -- a quarter: the draft's words, or a return's ----------------------------------------------------

def published_words(store: Any, iid: str, quarter: Period) -> tuple[str, ...]:
    """The paragraphs published for ``quarter`` (commentary and response), if it was published."""
    if not any(e["event"] == "published" for e in store.quarter_events(quarter)):
        return ()
    texts = store.texts(iid, quarter)
    if not texts:
        return ()
    return tuple(p for t in texts for p in paragraphs_of_text(t))


def evidence(settings: Any, store: Any, catalogue: Any, quarter: Period,
             assessments: Iterable[Any] | None = None) -> dict[str, Evidence]:
    """The evidence for every indicator of the quarter: ``assess``'s facts, the store's figures and
    breakdown, and what the report context shows (its values table and the charts' figures)."""
    from kpiflow.assess import assess
    from kpiflow.narrative import draft_commentary
    from kpiflow.report.context import chart_specs, values_table

    found = list(assessments) if assessments is not None else assess(settings, store, catalogue, quarter)
    r = settings.rules
    previous = quarter.step(-1)
    out: dict[str, Evidence] = {}
    for a in found:
        iid = a.indicator.id
        drafted = tuple(draft_commentary(a.facts)) if a.facts.current is not None else ()
        table = values_table(a)
        shown = [v for c in table.cells for v in (c.number, c.rate) if v is not None]
        shown += [v for v in (table.target_value, table.target_in_force) if v is not None]
        pr = a.facts.projection
        if pr is not None and pr.outlook == "reaches":
            # the one chart series not among the figures above: the projection's trend line
            shown += [v for spec in chart_specs(a, settings.council) for _, values in spec.series for v in values
                      if v is not None]
        out[iid] = Evidence(a.facts, a.series, tuple(store.breakdown(iid, quarter)),
                            published_words(store, iid, previous), drafted, r.tolerance_percent, r.no_change_percent,
                            tuple(shown))
    return out


def region_paragraphs(draft: Any, exceptions: Iterable[str]) -> dict[tuple[str, str], list[str]]:
    """Each exception's commentary and response paragraphs as the draft holds them (the read-back of
    ``kpiflow.docx.harvest``: by content-control tag, or the bookmark LibreOffice keeps). ``draft``
    is the .docx, or its package already open (``kpiflow.docx.package.open_package``)."""
    from kpiflow.docx.harvest import paragraphs_of, read_document, regions
    from kpiflow.docx.marks import mark_anchor
    from kpiflow.docx.xml import W

    # a table ends a region and is never part of one: what is inside a table (most of a report:
    # the values and description tables) need not be parsed or walked, only the table itself seen
    # (read_document leaves the contents out where it can tell tables apart in the part's text;
    # any table it could not is emptied here)
    root = read_document(draft, tables=False)
    for table in list(root.iter(f"{W}tbl")):
        for child in list(table):
            table.remove(child)
    found = regions(paragraphs_of(root))
    out: dict[tuple[str, str], list[str]] = {}
    for iid in exceptions:
        for kind in ("commentary", "response"):
            paras = found.paragraphs.get((iid, kind))
            if paras is None:
                paras = found.paragraphs.get((mark_anchor(iid), kind))
            if paras is not None:
                out[(iid, kind)] = paras
    return out


@dataclass
class ProofreadResult:
    """What ``kpiflow proofread`` found in a draft."""

    quarter: str
    draft: str
    findings: list[Finding] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)      # the exceptions whose words were read
    missing: list[str] = field(default_factory=list)      # exceptions whose words the draft does not hold

    def to_dict(self) -> dict[str, Any]:
        return {"quarter": self.quarter, "draft": self.draft, "checked": self.checked, "missing": self.missing,
                "findings": [{"number": i, **f.to_dict()} for i, f in enumerate(self.findings, start=1)]}

    def lines(self) -> list[str]:
        out = [f"Proofreading {self.draft} against the figures for {self.quarter}"]
        out += [f"  {i}. {f.line()}" for i, f in enumerate(self.findings, start=1)]
        if self.missing:
            out.append("  Not checked (their words are not marked in the draft): " + ", ".join(self.missing))
        n = len(self.findings)
        out.append(f"{n} finding{'s' * (n != 1)} in the words of {len(self.checked)} exception"
                   f"{'s' * (len(self.checked) != 1)}." if n else
                   f"No findings: the words of {len(self.checked)} exception{'s' * (len(self.checked) != 1)} agree "
                   "with the figures.")
        return out


def proofread_draft(settings: Any, store: Any, catalogue: Any, quarter: Period, draft: Any,
                    assessments: list[Any] | None = None) -> ProofreadResult:
    """The findings in a draft's commentary and service responses, exception by exception."""
    from kpiflow.assess import assess

    found = assessments if assessments is not None else assess(settings, store, catalogue, quarter)
    exceptions = [a for a in found if a.verdict.exception]
    ev = evidence(settings, store, catalogue, quarter, exceptions)
    words = region_paragraphs(draft, [a.indicator.id for a in exceptions])
    result = ProofreadResult(quarter.label, getattr(draft, "path", draft).name)   # a path, or an open package
    for a in exceptions:
        iid = a.indicator.id
        commentary, response = words.get((iid, "commentary")), words.get((iid, "response"))
        if commentary is None and response is None:
            result.missing.append(iid)
            continue
        result.checked.append(iid)
        result.findings += check_texts(ev[iid], commentary or [], response or [])
    return result


def proofread_quarter(settings: Any, quarter: Period, draft: Any = None) -> ProofreadResult:
    """``kpiflow proofread``: the draft publish would take (the newest for the quarter, or the one
    named), its officers' words against the store's figures (see ``kpiflow.proofread``)."""
    from kpiflow.catalogue import load_checked_catalogue
    from kpiflow.docx.package import Refused
    from kpiflow.errors import KpiflowError
    from kpiflow.provenance import open_newest_draft
    from kpiflow.store import open_store

    catalogue = load_checked_catalogue(settings)
    # the draft is opened once (its directory checked), its properties and its words read from that
    pkg = open_newest_draft(settings, quarter) if draft is None else _open_named_draft(draft, quarter)
    with pkg, open_store(settings) as store:
        try:
            return proofread_draft(settings, store, catalogue, quarter, pkg)
        except Refused as exc:
            raise KpiflowError(exc.message) from exc


def _open_named_draft(path: Any, quarter: Period) -> Any:
    """The draft named with --from, opened (``kpiflow.docx.package.open_package``), if kpiflow made it
    for ``quarter``."""
    from kpiflow.docx.package import Refused, open_package
    from kpiflow.errors import KpiflowError
    from kpiflow.provenance import read_provenance

    if not path.is_file():
        raise KpiflowError(f"There is no file {path}. Name the edited draft with --from, or leave it out to read "
                           "the newest draft in outbox/drafts/.")
    try:
        pkg = open_package(path)
    except Refused:
        pkg = None
    made = None
    if pkg is not None:
        try:
            made = read_provenance(pkg)
        except Refused:
            pass
        finally:
            if made is None or made.quarter != quarter.label:
                pkg.close()
    if made is None:
        raise KpiflowError(f"{path.name} is not a draft kpiflow made (it records no quarter), or it could not be "
                           "read safely. Proofread the draft kpiflow report wrote into outbox/drafts/, edited in Word "
                           "or LibreOffice.")
    if made.quarter != quarter.label:
        raise KpiflowError(f"{path.name} was made for {made.quarter}, not {quarter.label}. Proofread it with "
                           f"--quarter \"{made.quarter}\", or name the draft made for {quarter.label}.")
    return pkg


def check_return_words(facts: Facts, series: Mapping[Period, Figures], commentary: str, response: str,
                       breakdown: Sequence[tuple[str, float]], previous_words: Sequence[str],
                       tolerance_percent: float, no_change_percent: float) -> list[Finding]:
    """The checks on a return's own commentary and service response at ingest (no placeholders:
    those are kpiflow's words, never a return's)."""
    ev = Evidence(facts, series, tuple(breakdown), tuple(previous_words), (), tolerance_percent, no_change_percent)
    return check_texts(ev, paragraphs_of_text(commentary), paragraphs_of_text(response), placeholders=False)


PublishedWords = Callable[[str, Period], Sequence[str]]
