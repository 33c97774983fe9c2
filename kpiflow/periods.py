"""UK local-government financial-year periods: April to March.

Canonical labels: ``2017/18`` (year), ``2017/18 Q2`` (quarter; Q1 = April-June), ``2017-09``
(month). ``parse_period`` also accepts ``Q2 2017/18``, ``2017-18 Q2``, ``2017/2018 Q2``,
``Sep 2017``, ``September 2017`` and dates (taken as their month).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import ClassVar, Literal

from kpiflow.errors import PeriodError

Kind = Literal["year", "quarter", "month"]

MONTH_NAMES = ["january", "february", "march", "april", "may", "june", "july", "august",
               "september", "october", "november", "december"]
_KIND_RANK = {"month": 0, "quarter": 1, "year": 2}
_LIMITS = {"year": (0, 0), "quarter": (1, 4), "month": (1, 12)}


@dataclass(frozen=True)
class Period:
    """A financial year, quarter or month. ``fy`` is the year the financial year starts in;
    ``n`` is the quarter (1-4) or the month counted from April (1-12)."""

    kind: Kind
    fy: int
    n: int = 0
    # worked out once for each period (periods are dictionary keys and sorted everywhere): the fiscal month it
    # ends in, its place in the order, its hash
    # (set on each instance in __post_init__; not fields, so not compared, copied or printed as such)
    _end: ClassVar[int]
    _k: ClassVar[tuple[int, int]]
    _h: ClassVar[int]

    def __post_init__(self) -> None:
        limit = _LIMITS.get(self.kind)
        if limit is None or not limit[0] <= self.n <= limit[1]:
            raise PeriodError(f"{self.kind} number {self.n} is out of range")
        end = 12 if self.kind == "year" else self.n * 3 if self.kind == "quarter" else self.n
        object.__setattr__(self, "_end", end)
        object.__setattr__(self, "_k", (self.fy * 12 + end, _KIND_RANK[self.kind]))
        object.__setattr__(self, "_h", hash((self.kind, self.fy, self.n)))

    # ordering: by the month the period ends in, shorter periods first (which also tells any two periods apart)
    def _key(self) -> tuple[int, int]:
        return self._k

    def __hash__(self) -> int:
        return self._h

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Period:
            return NotImplemented
        return self._k == other._k

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Period):
            return NotImplemented
        return self._k < other._k

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Period):
            return NotImplemented
        return self._k <= other._k

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Period):
            return NotImplemented
        return self._k > other._k

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Period):
            return NotImplemented
        return self._k >= other._k

    @property
    def end_fiscal_month(self) -> int:
        return self._end

    @property
    def calendar_year(self) -> int:
        """Calendar year of the period's last month."""
        return self.fy + (1 if self.end_fiscal_month >= 10 else 0)

    @property
    def calendar_month(self) -> int:
        """Calendar month (1-12) of the period's last month."""
        return (self.end_fiscal_month + 2) % 12 + 1

    @property
    def end_date(self) -> dt.date:
        first_next = dt.date(self.calendar_year + self.calendar_month // 12, self.calendar_month % 12 + 1, 1)
        return first_next - dt.timedelta(days=1)

    @cached_property
    def year_label(self) -> str:
        return f"{self.fy}/{(self.fy + 1) % 100:02d}"

    @cached_property
    def label(self) -> str:
        """The canonical form, used in storage and on the command line."""
        if self.kind == "year":
            return self.year_label
        if self.kind == "quarter":
            return f"{self.year_label} Q{self.n}"
        return f"{self.calendar_year}-{self.calendar_month:02d}"

    @cached_property
    def short(self) -> str:
        """The form the report prints: ``Q2 2017/18``, ``Sep 2017``, ``2017/18``."""
        if self.kind == "quarter":
            return f"Q{self.n} {self.year_label}"
        if self.kind == "month":
            return f"{MONTH_NAMES[self.calendar_month - 1][:3].title()} {self.calendar_year}"
        return self.year_label

    @property
    def file_label(self) -> str:
        """A form safe in file names: ``2017-18_Q2``."""
        return self.label.replace("/", "-").replace(" ", "_")

    def __str__(self) -> str:
        return self.label

    @property
    def year(self) -> Period:
        return _period("year", self.fy)

    @property
    def quarter(self) -> Period:
        if self.kind == "year":
            raise PeriodError("a year has no single quarter")
        if self.kind == "quarter":
            return self
        return _period("quarter", self.fy, (self.n - 1) // 3 + 1)

    def quarters(self) -> list[Period]:
        return list(_quarters(self))

    def months(self) -> list[Period]:
        return list(_months(self))

    def step(self, k: int = 1) -> Period:
        """The period k steps later (earlier when k < 0), of the same kind."""
        if self.kind == "year":
            return _period("year", self.fy + k)
        size = 4 if self.kind == "quarter" else 12
        idx = self.fy * size + (self.n - 1) + k
        return _period(self.kind, idx // size, idx % size + 1)

    def same_last_year(self) -> Period:
        return _period(self.kind, self.fy - 1, self.n)


# a quarter's report asks for the same few periods thousands of times: each is made once (a period is immutable)
@lru_cache(maxsize=65536)
def _period(kind: Kind, fy: int, n: int = 0) -> Period:
    return Period(kind, fy, n)


@lru_cache(maxsize=4096)
def _quarters(p: Period) -> tuple[Period, ...]:
    if p.kind == "year":
        return tuple(_period("quarter", p.fy, q) for q in range(1, 5))
    return (p.quarter,)


@lru_cache(maxsize=4096)
def _months(p: Period) -> tuple[Period, ...]:
    if p.kind == "year":
        return tuple(_period("month", p.fy, m) for m in range(1, 13))
    if p.kind == "quarter":
        return tuple(_period("month", p.fy, m) for m in range(p.n * 3 - 2, p.n * 3 + 1))
    return (p,)


def year(fy: int) -> Period:
    return _period("year", fy)


def quarter(fy: int, n: int) -> Period:
    return _period("quarter", fy, n)


def month(calendar_year: int, calendar_month: int) -> Period:
    if not 1 <= calendar_month <= 12:
        raise PeriodError(f"month {calendar_month} is out of range")
    fiscal = (calendar_month - 4) % 12 + 1
    fy = calendar_year if calendar_month >= 4 else calendar_year - 1
    return _period("month", fy, fiscal)


_YEAR = r"(?P<y1>\d{4})\s*[/-]\s*(?P<y2>\d{2}|\d{4})"
# a year alone must be written 2017/18 or 2017/2018 (or 2017-2018): 2017-09 is a month
_RE_YEAR = re.compile(r"^(?P<y1>\d{4})\s*(?:/\s*(?P<y2>\d{2}|\d{4})|-\s*(?P<y4>\d{4}))$")
_RE_Q_AFTER = re.compile(rf"^{_YEAR}\s*,?\s*Q(?P<q>[1-4])$", re.I)
_RE_Q_BEFORE = re.compile(rf"^Q(?P<q>[1-4])\s*,?\s*{_YEAR}$", re.I)
_RE_ISO_MONTH = re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})$")
_RE_NAMED_MONTH = re.compile(r"^(?P<name>[A-Za-z]+)\.?\s+(?P<y>\d{4})$")


def _fy(y1: str, y2: str, text: str) -> int:
    start = int(y1)
    end = int(y2)
    expected = (start + 1) % 100 if len(y2) == 2 else start + 1
    if end != expected:
        raise PeriodError(
            f'"{text}" is not a financial year: the second year must follow the first (e.g. {start}/'
            f"{(start + 1) % 100:02d})"
        )
    return start


def parse_period(value: object) -> Period:
    """Parse any accepted form; raise PeriodError with a plain-English message otherwise."""
    if isinstance(value, Period):
        return value
    if isinstance(value, dt.datetime | dt.date):
        return month(value.year, value.month)
    if value is None:
        raise PeriodError("no period was given")
    return _parse_text(str(value))


@lru_cache(maxsize=8192)
def _parse_text(value: str) -> Period:
    # stored periods repeat across every indicator and every read of the store
    text = " ".join(value.split())
    if not text:
        raise PeriodError("no period was given")
    if m := _RE_YEAR.match(text):
        return year(_fy(m["y1"], m["y2"] or m["y4"], text))
    if m := (_RE_Q_AFTER.match(text) or _RE_Q_BEFORE.match(text)):
        return quarter(_fy(m["y1"], m["y2"], text), int(m["q"]))
    if (m := _RE_ISO_MONTH.match(text)) and 1 <= int(m["m"]) <= 12:
        return month(int(m["y"]), int(m["m"]))
    if m := _RE_NAMED_MONTH.match(text):
        name = m["name"].lower()
        for i, full in enumerate(MONTH_NAMES, start=1):
            if name == full or (len(name) >= 3 and full.startswith(name)):
                return month(int(m["y"]), i)
    raise PeriodError(
        f'"{text}" is not a period kpiflow understands. Use a year like 2017/18, a quarter like '
        f"2017/18 Q2, or a month like 2017-09"
    )


def parse_quarter(value: object) -> Period:
    p = parse_period(value)
    if p.kind != "quarter":
        raise PeriodError(f'"{value}" is a {p.kind}, not a quarter. Give a quarter like 2017/18 Q2')
    return p
