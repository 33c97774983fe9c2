"""The records every stage shares, and the words they may hold.

Stages import these downwards only: the workbook reader, the validator, the store, the trend core
and the report all speak in these types, and this module imports nothing of kpiflow's but periods
and measures (what each measure kind means).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from kpiflow.measures import MEASURE_NAMES, MeasureKind, kind_for
from kpiflow.periods import Period

Unit = Literal["Number", "Rate", "Number and rate", "Percentage"]
Frequency = Literal["Monthly", "Quarterly"]
ExceptionMode = Literal["Auto", "Always", "Never"]
FigureName = Literal["number", "rate", "statneigh", "england"]
RAG = Literal["Green", "Amber", "Red"]
Direction = Literal["Improved", "Worsened", "No change"]
Outcome = Literal["accepted", "rejected", "duplicate", "skipped"]

UNITS: tuple[Unit, ...] = ("Number", "Rate", "Number and rate", "Percentage")
MEASURES: tuple[str, ...] = MEASURE_NAMES
FREQUENCIES: tuple[Frequency, ...] = ("Monthly", "Quarterly")
EXCEPTION_MODES: tuple[ExceptionMode, ...] = ("Auto", "Always", "Never")
FIGURES: tuple[FigureName, ...] = ("number", "rate", "statneigh", "england")

GREEN: RAG = "Green"
AMBER: RAG = "Amber"
RED: RAG = "Red"
IMPROVED: Direction = "Improved"
WORSENED: Direction = "Worsened"
NO_CHANGE: Direction = "No change"


@dataclass(frozen=True)
class Figures:
    """The four figures a period can have; any may be missing."""

    number: float | None = None
    rate: float | None = None
    statneigh: float | None = None
    england: float | None = None

    def is_empty(self) -> bool:
        return all(v is None for v in (self.number, self.rate, self.statneigh, self.england))


Series = Mapping[Period, Figures]


@dataclass(frozen=True)
class Indicator:
    id: str
    name: str
    portfolio: str
    service: str
    better: str            # "High" or "Low"
    unit: str
    rate_per: float | None
    frequency: str
    measure: MeasureKind     # what the figures mean (kpiflow.measures); a catalogue name is fitted to the unit
    tolerance: float | None  # None: the settings default
    exception: str = "Auto"
    accumulates: bool = False  # a Cumulative percentage that builds up through the year (catalogue: Accumulates)
    priority: str = ""         # the council-plan priority it serves (catalogue: Priority); "" when not given

    def __post_init__(self) -> None:
        # the kind follows from the Measure, the Unit and Accumulates together (a Cumulative
        # percentage is not a running total), so it is fitted here whatever the caller passed
        kind = kind_for(self.measure, self.unit, self.accumulates)
        object.__setattr__(self, "measure", kind)
        object.__setattr__(self, "accumulates", kind.accumulates)

    @property
    def has_number(self) -> bool:
        return self.unit in ("Number", "Number and rate", "Percentage")

    @property
    def has_rate(self) -> bool:
        return self.unit in ("Rate", "Number and rate")

    @property
    def primary(self) -> str:
        """Which figure trends and rules compare: the rate where there is one."""
        return "rate" if self.has_rate else "number"

    @property
    def higher_is_better(self) -> bool:
        return self.better == "High"


Profile = tuple[float | None, float | None, float | None, float | None]
"""A year's profiled targets for Q1-Q4: each the target for the figure reported at that quarter."""


@dataclass(frozen=True)
class Contact:
    """A service's row on the catalogue's Services sheet: who is reminded, who signs off, who is
    told when a return is very late. Each address list is already checked."""

    service: str
    contact: str = ""
    emails: tuple[str, ...] = ()
    approver: str = ""
    approver_emails: tuple[str, ...] = ()
    escalate_to: str = ""
    escalation_emails: tuple[str, ...] = ()


@dataclass(frozen=True)
class Catalogue:
    indicators: tuple[Indicator, ...]
    targets: dict[tuple[str, str], float | None] = field(default_factory=dict)
    profiles: dict[tuple[str, str], Profile] = field(default_factory=dict)
    contacts: dict[str, Contact] = field(default_factory=dict)     # service -> its Services row
    has_services_sheet: bool = False

    def get(self, indicator_id: str) -> Indicator | None:
        """The indicator with this ID, matched ignoring case and surrounding spaces."""
        key = indicator_id.strip().casefold()
        for ind in self.indicators:
            if ind.id.casefold() == key:
                return ind
        return None

    def target(self, indicator_id: str, year_label: str) -> float | None:
        return self.targets.get((indicator_id, year_label))

    def targets_for(self, indicator_id: str) -> dict[str, float | None]:
        """Year label -> target for one indicator."""
        return {y: t for (iid, y), t in self.targets.items() if iid == indicator_id}

    def profiles_for(self, indicator_id: str) -> dict[str, Profile]:
        """Year label -> the Q1-Q4 profile, for the years that have one."""
        return {y: p for (iid, y), p in self.profiles.items() if iid == indicator_id}

    @property
    def services(self) -> list[str]:
        return list(dict.fromkeys(i.service for i in self.indicators))

    @property
    def portfolios(self) -> list[str]:
        return list(dict.fromkeys(i.portfolio for i in self.indicators))

    @property
    def priorities(self) -> list[str]:
        """The priorities given, in catalogue order ("" not among them)."""
        return list(dict.fromkeys(i.priority for i in self.indicators if i.priority))

    def for_service(self, service: str) -> list[Indicator]:
        key = service.strip().casefold()
        return [i for i in self.indicators if i.service.casefold() == key]

    def service_name(self, text: str) -> str | None:
        """The catalogue's spelling of a service name given in any case."""
        key = " ".join(text.split()).casefold()
        for s in self.services:
            if s.casefold() == key:
                return s
        return None


def default_comparator_year(quarter: Period) -> Period:
    """The year a return asks comparators for unless the service says otherwise: the previous
    financial year (at 2025/26 Q2, 2024/25), the latest for which they are usually published."""
    return quarter.year.step(-1)


@dataclass(frozen=True)
class ReturnRow:
    indicator_id: str
    row: int
    figures: Figures
    commentary: str
    response: str
    cells: dict[str, str] = field(default_factory=dict, compare=False)   # header -> "F7"
    # the year the row's comparators were published for (the Return sheet's Comparator year)
    comparator_year: Period | None = None

    def observations(self, quarter: Period) -> list[tuple[Period, Figures]]:
        """Where the row's figures are filed: the council's against the quarter, the comparators
        (published for whole years) against the year they are for, never against the quarter."""
        own = Figures(self.figures.number, self.figures.rate)
        theirs = Figures(statneigh=self.figures.statneigh, england=self.figures.england)
        if theirs.is_empty():
            return [(quarter, own)]
        year = self.comparator_year or default_comparator_year(quarter)
        return [(quarter, own), (year, theirs)]


@dataclass(frozen=True)
class SupportRow:
    indicator_id: str
    row: int
    period: Period
    figures: Figures


@dataclass(frozen=True)
class BreakdownRow:
    indicator_id: str
    row: int
    period: Period
    category: str
    number: float


@dataclass
class ReturnData:
    """A return as kpiflow understands it. Only stored when its ValidationResult has no errors."""

    service: str = ""
    quarter: Period | None = None
    completed_by: str = ""
    email: str = ""
    date_completed: str = ""
    signed_off_by: str = ""            # About: attested sign-off (section 18)
    date_signed_off: str = ""          # ISO date where it was a date, else as typed
    rows: list[ReturnRow] = field(default_factory=list)
    support: list[SupportRow] = field(default_factory=list)
    breakdown: list[BreakdownRow] = field(default_factory=list)
    # the read-only history columns the workbook was issued with (checked against, never stored)
    issued_history: list[SupportRow] = field(default_factory=list)


@dataclass(frozen=True)
class Submission:
    """A return as the store recorded it (kpiflow.store): who sent which file, and what became of it."""

    id: int
    file_name: str
    sha256: str
    service: str
    quarter: str
    completed_by: str
    email: str
    received_at: str
    outcome: str
    errors: int
    warnings: int
    problems: list[dict[str, Any]]
    kept_as: str
    superseded_by: int | None
    feedback: str = ""
    claim: str | None = None
