"""Problems found in an input file: values, not exceptions.

A Problem is located (sheet and cell, or the sheet, or the file), carries a stable code and a
message that tells the person filling in the workbook what to do. A ValidationResult holds them
all and renders as text or JSON; workbook/annotate.py renders it into a workbook.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    severity: Severity
    code: str
    message: str
    sheet: str = ""
    cell: str = ""
    indicator_id: str = ""

    @property
    def location(self) -> str:
        if self.sheet and self.cell:
            return f"{self.sheet}!{self.cell}"
        return self.sheet or "file"

    def render(self) -> str:
        prefix = f"{self.indicator_id}: " if self.indicator_id else ""
        return f"{self.location}  {self.severity}  {self.code}  {prefix}{self.message}"


MAX_PROBLEMS = 200   # past this a workbook is plainly the wrong one; listing more helps nobody


@dataclass
class ValidationResult:
    """Everything found in one file (the first MAX_PROBLEMS of it, and a count of the rest)."""

    source: str
    problems: list[Problem] = field(default_factory=list)
    omitted: int = 0
    omitted_errors: int = 0

    def add(self, problem: Problem) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            self.omitted += 1
            self.omitted_errors += problem.severity == "error"
            return
        self.problems.append(problem)

    def error(self, code: str, message: str, sheet: str = "", cell: str = "", indicator_id: str = "") -> None:
        self.add(Problem("error", code, message, sheet, cell, indicator_id))

    def warning(self, code: str, message: str, sheet: str = "", cell: str = "", indicator_id: str = "") -> None:
        self.add(Problem("warning", code, message, sheet, cell, indicator_id))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors and not self.omitted_errors

    def locations(self) -> list[tuple[str, str, str]]:
        """(sheet, cell, code) triples, the shape tests and callers compare against."""
        return [(p.sheet, p.cell, p.code) for p in self.problems]

    def summary(self) -> str:
        if not self.problems:
            return f"{self.source}: no problems found"
        e = len(self.errors) + self.omitted_errors
        w = len(self.warnings) + self.omitted - self.omitted_errors
        return f"{self.source}: {e} error{'s' * (e != 1)}, {w} warning{'s' * (w != 1)}"

    def render_text(self) -> str:
        lines = [p.render() for p in self.problems]
        if self.omitted:
            lines.append(f"... and {self.omitted} more problem{'s' * (self.omitted != 1)}")
        lines.append(self.summary())
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.source,
            "ok": self.ok,
            "errors": len(self.errors) + self.omitted_errors,
            "warnings": len(self.warnings) + self.omitted - self.omitted_errors,
            "omitted": self.omitted,
            "problems": [{**asdict(p), "location": p.location} for p in self.problems],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)
