"""Problems found in an input file: values, not exceptions.

A Problem is located (a workbook's sheet and cell, or the sheet; a document's section and
paragraph, or its part; or the file), carries a stable code and a
message that tells the person filling in the workbook what to do. A ValidationResult holds them
all and renders as text or JSON; workbook/annotate.py renders it into a workbook.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class ProblemCode:
    title: str
    fix: str


# Every code kpiflow can report, with what it means and how to put it right. docs/problems.md is
# rendered from this table (a test checks both), and a problem with a code not listed here fails the tests.
CODES: dict[str, ProblemCode] = {
    # the file itself
    "not-xlsx": ProblemCode("The file is not an Excel workbook (.xlsx)",
                            "Save it from Excel as an Excel Workbook (.xlsx) and send that."),
    "corrupt-file": ProblemCode("The workbook is damaged or cut short",
                                "Open it in Excel, save it again, and send the saved copy."),
    "unreadable-file": ProblemCode("The file could not be read", "Check it is not open elsewhere, then send it again."),
    "file-too-large": ProblemCode("The workbook is far larger than a return can be",
                                  "Start again from the workbook you were issued."),
    "macros-not-accepted": ProblemCode("The workbook contains macros",
                                       "Save it as an Excel Workbook (.xlsx), not .xlsm, and send that."),
    "unsafe-file": ProblemCode("The workbook contains XML a spreadsheet never needs",
                               "Start again from the workbook you were issued."),
    "too-many-rows": ProblemCode("A sheet has far more rows or cells than a return can have",
                                 "Delete what was pasted below or beside the table, or start again from the issued "
                                 "workbook."),
    "far-cell": ProblemCode("Something is typed far outside the table (e.g. at XFD20000)",
                            "Delete it (Ctrl+End in Excel goes to the last cell in use) and send the workbook again."),
    "too-many-cells": ProblemCode("The workbook has far more filled cells than a return can have",
                                  "Delete what was pasted below or beside the tables, or start again from the issued "
                                  "workbook."),
    "too-many-strings": ProblemCode("The workbook holds far more different texts than a return can have",
                                    "Start again from the workbook you were issued."),
    "no-annotated-copy": ProblemCode("The marked-up copy of the workbook could not be made",
                                     "Nothing to fix in the return: the .txt feedback lists every problem."),
    # sheets, headers and labels
    "missing-sheet": ProblemCode("A sheet the workbook needs is missing", "Use the workbook you were issued; do not "
                                 "rename or delete its sheets."),
    "missing-header": ProblemCode("A column heading is missing", "Put the heading back as it was issued."),
    "missing-label": ProblemCode("A label on the About sheet is missing", "Use the workbook you were issued."),
    "locked-cell-changed": ProblemCode("A cell filled in for you was changed",
                                       "Put it back as issued, or start again from the issued workbook."),
    "row-moved": ProblemCode("A row no longer holds what was issued: a row was inserted, deleted or moved",
                             "Put the rows back as they were, or start again from the issued workbook."),
    # which return this is
    "unknown-service": ProblemCode("The service is not in the catalogue", "Use the workbook issued to your service."),
    "wrong-service": ProblemCode("The workbook or row belongs to another service",
                                 "Use the workbook issued to your service."),
    "unknown-quarter": ProblemCode("The quarter is not one kpiflow can read", "Use the workbook issued for this quarter."),
    "wrong-quarter": ProblemCode("The return, or the draft report, is for another quarter",
                                 "Use the workbook issued for this quarter, or the draft made for it."),
    "quarter-published": ProblemCode("The quarter has been published and is closed",
                                     "If it must change, the performance team reopens it (kpiflow reopen)."),
    # indicators and figures
    "unknown-indicator": ProblemCode("An indicator ID is not in the catalogue", "Use the IDs in the issued workbook."),
    "duplicate-indicator": ProblemCode("An indicator appears twice (IDs are matched ignoring case)",
                                       "Keep one row per indicator."),
    # the catalogue's Services sheet and the About sheet's contact details (section 18)
    "bad-address": ProblemCode("An email address kpiflow cannot use",
                               "Give plain addresses like name@council.gov.uk, separated by ; where there are several."),
    "no-service-row": ProblemCode("A service in Indicators has no row on the Services sheet",
                                  "Add its row: contact, approver and their email addresses."),
    "duplicate-service": ProblemCode("Two Services rows for one service", "Keep one row per service."),
    "signoff-not-valid": ProblemCode("The About sheet's sign-off cannot be taken as the approver's",
                                     "Have the service's Approver (as the catalogue names them) fill in Signed off by "
                                     "and Date signed off, on or after Date completed; or ask the performance team to "
                                     "record the sign-off."),
    "not-signed-off": ProblemCode("Figures in the report are not signed off by their approver",
                                  "Record the sign-off with kpiflow signoff, or publish with --provisional."),
    "duplicate-target": ProblemCode("Two Targets rows for one indicator and year", "Keep one row per indicator and "
                                    "year."),
    "missing-indicator": ProblemCode("An indicator is missing from the return", "Use the issued workbook, which lists "
                                     "every indicator."),
    "missing-value": ProblemCode("Something that must be filled in is blank",
                                 "Fill it in, or for a figure explain in Commentary why there is none."),
    "not-a-number": ProblemCode("Text where a number belongs", "Enter the number, or leave it blank and explain why."),
    "negative-value": ProblemCode("A figure is below zero", "Enter the figure as zero or more."),
    "out-of-range": ProblemCode("A percentage outside 0-100", "Enter a percentage between 0 and 100."),
    "bad-value": ProblemCode("A value is not one of those allowed", "Use one of the values the message lists."),
    "bad-period": ProblemCode("A period kpiflow cannot read", "Write it as 2017/18, 2017/18 Q2 or Sep 2017."),
    "future-period": ProblemCode("A period after the return's quarter", "Check the period."),
    "formula-error": ProblemCode("A formula shows an error such as #DIV/0!", "Type the figure in, not a formula."),
    "formula-no-value": ProblemCode("A formula that has no saved result", "Open the workbook in Excel, save it and "
                                    "send it again, or type the figure in."),
    "months-disagree": ProblemCode("Monthly figures in Supporting data disagree with the quarter's figure",
                                   "Make the quarter agree with its last month (the sum of its months for a count), "
                                   "or correct the months."),
    "bad-comparator-year": ProblemCode("A Comparator year that is not a year, is after the return's year, or is "
                                       "far in the past", "Enter the financial year the comparator figures were "
                                       "published for, e.g. 2024/25."),
    "percentage-as-fraction": ProblemCode("A percentage typed as a fraction (0.85 for 85%)",
                                          "Enter the percentage from 0 to 100: 85, not 0.85."),
    "duplicate-period": ProblemCode("Two rows of a history table for one indicator and period",
                                    "Keep one row per indicator and period."),
    "unexpected-figure": ProblemCode("A figure the indicator does not have (a rate for a number, or the reverse)",
                                     "Put the figure in the column its unit says, and leave the other blank."),
    "rate-inconsistent": ProblemCode("A rate does not fit its number", "Check the number and the rate, and what the "
                                     "rate is per."),
    "big-change": ProblemCode("A figure moved by more than half since the last comparable period",
                              "Check it, and explain the change in Commentary."),
    "missing-response": ProblemCode("An exception has no service response",
                                    "Say what the service is doing about it in Service response."),
    "long-text": ProblemCode("Text too long to print well", "Consider shortening it."),
    # accessibility of a draft or template (the Public Sector Bodies Accessibility Regulations)
    "no-title": ProblemCode("The document has no title", "Set it in File > Properties, or make the draft again."),
    "wrong-language": ProblemCode("The document's language is not English (UK)",
                                  "Set the Normal style's language to English (UK)."),
    "missing-alt-text": ProblemCode("A picture or chart has no alternative text",
                                    "Add alt text saying what it shows and its latest figures."),
    "empty-heading": ProblemCode("A heading with no text", "Delete it, or give the paragraph the Normal style."),
    "heading-skipped": ProblemCode("A heading skips a level", "Use the next heading level down."),
    "table-no-header": ProblemCode("A table has no header row",
                                   "Mark its first row to repeat as a header row on each page."),
    # the Department for Education's files (kpiflow comparators import)
    "oversized-file": ProblemCode("The file is far larger than a comparator file can be",
                                  "Check it is the right file, or download the file for the measure you need."),
    "no-rows": ProblemCode("The file has no rows of figures (or is empty)",
                           "Download the file again and import it as it comes."),
    "duplicate-column": ProblemCode("Two columns have the same name",
                                    "Delete or rename one, or download the file again."),
    "too-many-csv-rows": ProblemCode("More rows match than kpiflow reads from one file",
                                     "Pick one measure with --where, or download the file for fewer years or places."),
    "impossible-figure": ProblemCode("A figure is infinite or far larger than any statistic",
                                     "Correct the file or download it again."),
    "above-base": ProblemCode("A rate is above its base (e.g. over 10,000 per 10,000)",
                              "Check --column names the rate the indicator is compared by, or correct the file."),
    "not-csv": ProblemCode("The file is not a CSV table",
                           "Download the CSV file from Explore Education Statistics and import it as it comes."),
    "missing-column": ProblemCode("A column the import needs is missing",
                                  "Name one of the file's columns (the message lists them), or use the file as "
                                  "downloaded."),
    "no-matching-rows": ProblemCode("No row has the value a --where filter asks for",
                                    "Use one of the values the message lists, spelt as in the file."),
    "not-financial-year": ProblemCode("The file's years are not years ending 31 March",
                                      "Import the Department's file by reporting year or financial year."),
    "academic-year": ProblemCode("The file's years are academic years (September to August)",
                                 "Check the measure is comparable with the indicator's financial-year figures."),
    "not-unique": ProblemCode("More than one row for a council and year",
                              "Pick one measure with --where for each column the message names."),
    "unknown-council": ProblemCode("The council's code (la_code) is not in the file",
                                   "Check la_code in kpiflow.toml, and that the file holds local authority figures."),
    "unknown-neighbour": ProblemCode("A statistical neighbour is not a code or name kpiflow can find, or is named twice",
                                     "Correct it in the neighbour list."),
    "missing-neighbour": ProblemCode("The neighbour list names fewer than ten neighbours for the council",
                                     "Check it is the Department's full list: the average is of those it names."),
    "suppressed-value": ProblemCode("A figure is suppressed in the published file (c, x, z, .. or low)",
                                    "Nothing to fix: it is skipped, never stored as zero, and the output says so."),
    "no-figure": ProblemCode("A statistical neighbour has no rows in the file",
                             "Check the file covers every council: the average is of the others."),
    "figure-mismatch": ProblemCode("The column holds another figure than the one the indicator is compared by",
                                   "Name with --column the file's column for the indicator's rate where it has one, "
                                   "else for its number."),
    # draft reports given to publish (and to report --keep-edits)
    "not-a-draft": ProblemCode("The file is not a draft report kpiflow made",
                               "Publish the draft kpiflow report wrote into outbox/drafts/, edited in Word or "
                               "LibreOffice."),
    "damaged-draft": ProblemCode("The document is damaged, or built in a way Word never writes",
                                 "Open it in Word or LibreOffice, save it as a Word document (.docx) and use the "
                                 "saved copy."),
    "oversized-part": ProblemCode("The document, or a part of it, is far larger than a report can be",
                                  "Use the draft kpiflow made, or make it again with kpiflow report."),
    "stale-draft": ProblemCode("The draft was made before a return, or a figure, that has changed since",
                               "Make a fresh draft that keeps the edits: kpiflow report --keep-edits, then publish "
                               "that."),
    "unrendered-tag": ProblemCode("A template tag was left in the draft", "Remove it, or make the draft again."),
    "tracked-change": ProblemCode("A tracked change is not yet accepted or rejected",
                                  "Accept or reject it in Word (Review > Accept / Reject)."),
    "open-comment": ProblemCode("A comment is still in the document", "Resolve and delete it."),
    "missing-region": ProblemCode("An exception's marked commentary or service response is gone",
                                  "Make the draft again with kpiflow report --keep-edits and check the edits came "
                                  "across."),
    "missing-exception": ProblemCode("An exception is not in the draft", "Make the draft again with kpiflow report."),
    "region-too-long": ProblemCode("An exception's commentary or service response is far longer than a report can hold",
                                   "Shorten it to a few paragraphs."),
    "too-many-properties": ProblemCode("The document has far more custom properties than a report has",
                                       "Remove the ones added in File > Properties > Custom, or make the draft again."),
    "duplicate-region": ProblemCode("An exception's commentary or service response is marked more than once",
                                    "Delete the copy, keeping the text under the exception's own label."),
    "figure-changed": ProblemCode("A figure, heading, description or line of the key in the draft is not what the "
                                  "store holds (or is gone)",
                                  "Only the marked commentary and service responses are the officer's: make a fresh "
                                  "draft that keeps the edits (kpiflow report --keep-edits) and publish that."),
    "chart-changed": ProblemCode("A chart's figures, its data (Edit Data) or its alternative text are not the "
                                 "store's, or a chart is gone or added",
                                 "Make a fresh draft that keeps the edits (kpiflow report --keep-edits) and publish "
                                 "that."),
    "region-moved": ProblemCode("An exception's marked commentary or service response sits under another exception "
                                "(moved, or its tag changed)",
                                "Put it back under its own exception's label, or make a fresh draft with kpiflow "
                                "report --keep-edits."),
    "section-duplicated": ProblemCode("An exception's section is in the draft twice (pasted again as plain text)",
                                      "Delete the copy and publish again."),
    "other-council": ProblemCode("The draft was made for another council", "Use a draft made in this working "
                                 "folder: kpiflow report makes one."),
    "properties-removed": ProblemCode("The draft's document properties were removed (Word's Document Inspector "
                                      "does that)",
                                      "Make a fresh draft that keeps the edits: kpiflow report --keep-edits, then "
                                      "publish that."),
    "macro-content": ProblemCode("The document contains macros or other active content",
                                 "Save it from Word as a Word Document (.docx), which leaves them out."),
    "external-link": ProblemCode("The document links content from outside itself",
                                 "Insert the picture or object into the document, or delete it."),
    "unsafe-field": ProblemCode("A field would run a command or fetch content from outside the document",
                                "Delete the field (Alt+F9 in Word shows field codes)."),
    # officers' words checked against the figures (kpiflow proofread, publish and ingest: warnings)
    "figure-not-held": ProblemCode("A figure in the words is not one kpiflow shows or holds for the indicator",
                                   "Check it against the values table (its periods, target, comparators, breakdown "
                                   "and forecast), or say what else it counts."),
    "direction-contradicts": ProblemCode("The words say it moved one way against a comparison, the figures the other",
                                         "Correct the direction (Better to be says which way is an improvement), or "
                                         "name the comparison that was meant."),
    "target-contradicts": ProblemCode("The words say the target was met (or missed) and the RAG says otherwise",
                                      "Say how it stands against its target as the values table shows it."),
    "copied-words": ProblemCode("A paragraph is word for word what was published for the previous quarter",
                                "Check it still holds for this quarter and bring it up to date."),
    "placeholder-response": ProblemCode("A service response is empty or still kpiflow's \"No return received\" words",
                                        "Replace it with the service's response before publishing."),
    # report templates
    "not-docx": ProblemCode("The template is not a Word document (.docx)", "Save it from Word as a .docx."),
    "template-syntax": ProblemCode("A template tag is broken", "Fix the tag the message quotes."),
    "unknown-variable": ProblemCode("A template uses a variable kpiflow does not provide",
                                    "Use the variables listed in doc_templates/README.md."),
}


def codes_markdown() -> str:
    """docs/problems.md: every problem code, what it means and how to fix it."""
    lines = ["# Problem codes", "",
             "Every problem kpiflow reports carries one of these codes (in the text and `--json` output, and in",
             "the feedback workbook). Codes are stable: scripts may match on them.", "",
             "| code | what it means | how to fix it |", "|---|---|---|"]
    lines += [f"| `{code}` | {c.title} | {c.fix} |" for code, c in CODES.items()]
    lines += ["", "## The checks `kpiflow publish` makes of a draft", ""] + [f"{i}. {text}" for i, text in
                                                                            enumerate(DRAFT_CHECKS, start=1)]
    return "\n".join(lines) + "\n"


# What publish checks of an edited draft, in the order it checks them (docs/problems.md lists them).
DRAFT_CHECKS: tuple[str, ...] = (
    "The file is a Word package that is safe to open: sizes checked before anything is inflated "
    "(`oversized-part`, `damaged-draft`).",
    "It is a draft kpiflow made (`not-a-draft`; `properties-removed` when its marks are there but Word's Document "
    "Inspector removed its properties), for this quarter (`wrong-quarter`) and this council (`other-council`), "
    "from the returns accepted for the quarter now and the figures the store holds now (`stale-draft`, naming "
    "each return, when it was received and the figures it changed, times in full to the second).",
    "Nothing active or fetched from outside (`macro-content`, `external-link`, `unsafe-field`); no template tag left "
    "(`unrendered-tag`), tracked change (`tracked-change`, every kind in every part) or comment (`open-comment`).",
    "Each exception's commentary and service response is marked once (`missing-region`, `duplicate-region`, "
    "`missing-exception`) and the response is written (`missing-response`).",
    "Every region sits under its own exception: a commentary or response moved into another exception's section, or "
    "whose tag was changed in the Developer tab, is refused (`region-moved`); so is a section pasted again as plain "
    "text (`section-duplicated`).",
    "Every figure on the paper is the store's: the quarter is rendered afresh from the store (with the same template, "
    "as on the day the draft was made) and compared in order with the draft. The values tables, the summary, each "
    "exception's heading and description, the key, the running header and footer and every other paragraph "
    "kpiflow wrote outside the marked regions must read as the store's rendering (`figure-changed`, naming both: \"CS01 values table, 2017/18 Q2: "
    "the draft shows 431 (150.6), the store holds 531 (185.6)\"); each chart's cached figures, its embedded "
    "workbook (Edit Data) and its alternative text likewise (`chart-changed`). Officers' words in the marked "
    "regions, and paragraphs, tables or pictures they add, are theirs and are not compared.",
    "The document is accessible as it will be published (`no-title`, `wrong-language`, `empty-heading`, "
    "`heading-skipped`, `table-no-header`, `missing-alt-text`).",
    "What is published: the draft's formatting and the officers' words, with the store's charts (chart parts, "
    "embedded workbooks and alternative text replaced by the fresh rendering's). Words kpiflow wrote (drafted "
    "from the figures, or a service's from the store) and nobody changed (each such region carries a bookmark with "
    "their hash, which outlives the properties) are not stored as an officer's: a later draft, or --keep-edits, "
    "writes them again from that day's store and figures.",
)


@dataclass(frozen=True)
class CellAt:
    """A place in a workbook (or table): the sheet, and the cell where known (``F7``)."""

    sheet: str
    cell: str = ""

    @property
    def text(self) -> str:
        return f"{self.sheet}!{self.cell}" if self.cell else self.sheet


@dataclass(frozen=True)
class DocumentAt:
    """A place in a Word document: the section it is in (an exception's ID, a part of the package
    such as ``header``, or the document's name) and, within it, the paragraph(s) (``paragraph 12``)
    or the package part (``word/header1.xml``)."""

    section: str = ""
    place: str = ""

    @property
    def text(self) -> str:
        if self.section and self.place:
            return f"{self.section}!{self.place}"
        return self.section or self.place or "file"


@dataclass(frozen=True)
class FileAt:
    """The file as a whole."""

    @property
    def text(self) -> str:
        return "file"


Location = CellAt | DocumentAt | FileAt
_KINDS: dict[type, str] = {CellAt: "cell", DocumentAt: "document", FileAt: "file"}


@dataclass(frozen=True)
class Problem:
    """One problem. Located either by ``at`` or, as most checks of a workbook do, by ``sheet`` and
    ``cell`` (a :class:`CellAt`); given ``at``, ``sheet`` and ``cell`` are filled in from it, so a
    reader of either sees the same place."""

    severity: Severity
    code: str
    message: str
    sheet: str = ""
    cell: str = ""
    indicator_id: str = ""
    at: Location | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.at is None:
            at: Location = CellAt(self.sheet, self.cell) if self.sheet else (
                DocumentAt(place=self.cell) if self.cell else FileAt())
            object.__setattr__(self, "at", at)
        elif isinstance(self.at, CellAt):
            object.__setattr__(self, "sheet", self.at.sheet)
            object.__setattr__(self, "cell", self.at.cell)
        elif isinstance(self.at, DocumentAt):
            object.__setattr__(self, "sheet", self.at.section)
            object.__setattr__(self, "cell", self.at.place)

    @property
    def where(self) -> Location:
        assert self.at is not None   # set in __post_init__
        return self.at

    @property
    def location(self) -> str:
        return self.where.text

    def render(self) -> str:
        prefix = f"{self.indicator_id}: " if self.indicator_id else ""
        return f"{self.location}  {self.severity}  {self.code}  {prefix}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        """The problem as JSON: its fields, the location as printed, and what kind of place that is
        (``cell``, ``document`` or ``file``)."""
        return {"severity": self.severity, "code": self.code, "message": self.message, "sheet": self.sheet,
                "cell": self.cell, "indicator_id": self.indicator_id, "location": self.location,
                "located": _KINDS[type(self.where)]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Problem:
        """The problem ``to_dict`` made (or one stored before ``located`` was recorded)."""
        sheet, cell = str(data.get("sheet", "")), str(data.get("cell", ""))
        located = data.get("located")
        at: Location | None = (DocumentAt(sheet, cell) if located == "document" else
                               FileAt() if located == "file" else CellAt(sheet, cell) if located == "cell" else None)
        return cls(data["severity"], data["code"], data["message"], sheet, cell, str(data.get("indicator_id", "")),
                   at=at)


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

    def error(self, code: str, message: str, sheet: str = "", cell: str = "", indicator_id: str = "", *,
              at: Location | None = None) -> None:
        self.add(Problem("error", code, message, sheet, cell, indicator_id, at))

    def warning(self, code: str, message: str, sheet: str = "", cell: str = "", indicator_id: str = "", *,
              at: Location | None = None) -> None:
        self.add(Problem("warning", code, message, sheet, cell, indicator_id, at))

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
            "problems": [p.to_dict() for p in self.problems],
        }
