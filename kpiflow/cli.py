"""The kpiflow command line: parse, call one library function, render, exit.

Exit codes: 0 fine, 1 the input has errors, 2 the command could not run.
"""

from __future__ import annotations

import gc
import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from kpiflow.errors import DISK_FULL, KpiflowError, PeriodError, disk_full


def _new_app() -> typer.Typer:
    return typer.Typer(
        help="kpiflow: quarterly performance returns in, Appendix 6(b) exception reports out.\n\n"
             "Every command works on one working folder: the current directory, --home DIR, or KPIFLOW_HOME.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_show_locals=False,
        rich_markup_mode=None,
    )


app = _new_app()
catalogue_app = typer.Typer(help="Check the indicator catalogue.", no_args_is_help=True)
template_app = typer.Typer(help="Check the report template.", no_args_is_help=True)
comparators_app = typer.Typer(help="Statistical-neighbour and England figures from the Department for Education.",
                              no_args_is_help=True)
store_app = typer.Typer(help="The history store: copy it between SQLite and PostgreSQL.", no_args_is_help=True)
app.add_typer(catalogue_app, name="catalogue")
app.add_typer(template_app, name="template")
app.add_typer(comparators_app, name="comparators")
app.add_typer(store_app, name="store")

Home = Annotated[Path | None, typer.Option("--home", help="The working folder (default: KPIFLOW_HOME or the current "
                                           "directory).", show_default=False)]
Quarter = Annotated[str, typer.Option("--quarter", "-q", help='The quarter, e.g. "2017/18 Q2".')]
OptQuarter = Annotated[str | None, typer.Option("--quarter", "-q", help='Only accept returns for this quarter, e.g. '
                                                '"2017/18 Q2".', show_default=False)]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]

# what a terminal would act on rather than show: escape sequences (colours, cursor moves, titles,
# OSC 8 links), other control characters, and the marks that reorder text (right-to-left overrides)
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]?|\x9b[0-?]*[ -/]*[@-~]")
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` as it may reach a terminal: everything a terminal would act on taken out (line
    breaks and tabs kept). Every line kpiflow prints goes through here: names, notes and file names
    come from workbooks and CSV files that anyone can write."""
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


def one_document() -> None:
    """For a command that reads or writes one quarter's document and ends: the cycle collector off. Its
    objects hold no reference cycles worth collecting before the process ends (a report's peak memory is the
    same either way), and the collector's passes over them cost a report a tenth of its time. Commands that
    go through many files (ingest, watch) keep it, and so does a program running commands in-process."""
    if _Options.whole_process:
        gc.disable()


def echo(message: object = "", err: bool = False) -> None:
    typer.echo(printable(str(message)), err=err)


class _PrintableFile:
    """A text stream that passes what is written through :func:`printable` (for click's usage errors)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return int(self.stream.write(printable(text)))

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class _Options:
    """Options for every command, given before it (``kpiflow --debug ingest``)."""

    debug = False
    whole_process = False     # the command is the process (``main``), not called from a program


@app.callback()
def _every_command(debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of a failure "
                                                       "(before the command: kpiflow --debug ingest).")] = False) -> None:
    _Options.debug = debug

def fail(message: str, code: int = 2) -> NoReturn:
    echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


def _settings(home: Path | None) -> Any:
    from kpiflow.settings import load_settings

    return load_settings(home)


def _quarter(text: str) -> Any:
    from kpiflow.periods import parse_quarter

    try:
        return parse_quarter(text)
    except PeriodError as exc:
        fail(f"--quarter: {exc}")


def _render(data: Any, as_json: bool) -> None:
    """A result's ``to_dict()`` as JSON, or its lines as text."""
    if as_json:
        echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        for line in data:
            echo(line)


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="The folder to lay out (created if missing).")],
    council: Annotated[str, typer.Option(help="The council's name, for the report.")] = "Example Council",
) -> None:
    """Create a working folder: inbox/, outbox/, a commented kpiflow.toml and the example catalogue
    and report template to adapt.

    Example: kpiflow init ~/kpiflow --council "Blackpool Council"
    """
    from kpiflow.init import init_home

    home = directory.expanduser().resolve()
    created = init_home(home, council)
    echo(f"Working folder ready: {home}")
    for p in created:
        echo(f"  created {p.relative_to(home)}")


@catalogue_app.command("check")
def catalogue_check(home: Home = None, as_json: Json = False) -> None:
    """Check workbook_templates/catalogue.xlsx: every problem located at its cell.

    Example: kpiflow catalogue check
    """
    from kpiflow.catalogue import check_catalogue

    check = check_catalogue(_settings(home))
    _render(check.to_dict() if as_json else check.lines(), as_json)
    raise typer.Exit(0 if check.result.ok else 1)


@app.command()
def issue(quarter: Quarter, service: Annotated[str | None, typer.Option(help="Only this service.")] = None,
          home: Home = None) -> None:
    """Write the returns workbook for each service (or one) into outbox/returns/.

    Example: kpiflow issue --quarter "2017/18 Q2" --service "Children's Services"
    """
    from kpiflow.issue import issue as run_issue

    settings = _settings(home)
    for path in run_issue(settings, _quarter(quarter), service):
        echo(f"Issued {path.relative_to(settings.home)}")


@app.command()
def validate(files: Annotated[list[Path], typer.Argument(help="Returns workbooks to check.")],
             quarter: OptQuarter = None, home: Home = None, as_json: Json = False) -> None:
    """Check returns workbooks without storing anything. Exit 1 if any has errors.

    Example: kpiflow validate "inbox/Children's Services_2017-18_Q2.xlsx"
    """
    from kpiflow.pipeline import validate_returns

    checked = validate_returns(_settings(home), files, _quarter(quarter) if quarter else None)
    _render(checked.to_dict() if as_json else [r.render_text() for r in checked.results], as_json)
    raise typer.Exit(0 if checked.ok else 1)


@app.command()
def ingest(files: Annotated[list[Path] | None, typer.Argument(help="Returns to ingest (default: everything "
                                                                   "waiting in inbox/).", show_default=False)] = None,
           quarter: OptQuarter = None, home: Home = None, as_json: Json = False) -> None:
    """Validate and store returns; move each original to inbox/processed/ or inbox/rejected/ and
    write its feedback to outbox/feedback/. Exit 1 if any was rejected.

    Example: kpiflow ingest
    """
    from kpiflow.pipeline import ingest_returns

    done = ingest_returns(_settings(home), files, _quarter(quarter) if quarter else None)
    _render(done.to_dict() if as_json else done.lines(), as_json)
    raise typer.Exit(0 if done.ok else 1)


@app.command()
def watch(
    home: Home = None,
    once: Annotated[bool, typer.Option("--once", help="Process what is waiting, then exit.")] = False,
    polling: Annotated[bool, typer.Option("--polling", help="Poll the folder (for network shares).")] = False,
    poll_interval: Annotated[float, typer.Option("--poll-interval", help="Seconds between polls.")] = 1.0,
    settle: Annotated[float | None, typer.Option("--settle", help="Seconds a file must be still.")] = None,
    rescan: Annotated[float | None, typer.Option("--rescan", help="Seconds between full rescans.")] = None,
) -> None:
    """Watch inbox/ and process each return once it has finished arriving. Ctrl-C stops it.

    Example: kpiflow watch --polling
    """
    from kpiflow.catalogue import load_checked_catalogue
    from kpiflow.watch import Watcher

    settings = _settings(home)
    catalogue = load_checked_catalogue(settings)
    w = Watcher(settings, catalogue, settle=settle, rescan=rescan, polling=polling, poll_interval=poll_interval,
                log=echo)
    w.run(once=once)


@app.command()
def status(quarter: Quarter, home: Home = None, as_json: Json = False) -> None:
    """Per service: issued, received (when, by whom), accepted, rejected (why), missing; and the
    exceptions so far.

    Example: kpiflow status --quarter "2017/18 Q2"
    """
    from kpiflow.status import status as quarter_status

    st = quarter_status(_settings(home), _quarter(quarter))
    if as_json:
        _render(st.to_dict(), True)
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"{st.quarter.short} ({st.state})", title_justify="left")
    for col in ("Service", "Issued", "Status", "Received", "Completed by", "File", "Notes", "Due", "Last message",
                "Sign-off"):
        table.add_column(col, overflow="fold")
    for r in st.services:
        # names and notes come from workbooks: shown as text, never read as console markup
        table.add_row(*(Text(printable(v)) for v in (r.service, r.issued[:10] or "-", r.state,
                                          r.received_at.replace("T", " ")[:16] or "-", r.completed_by or "-",
                                          r.file_name or "-", r.detail or "", *_cycle_cells(r))))
    Console(highlight=False).print(table)
    _render(st.exception_lines(), False)


@app.command()
def chase(quarter: Quarter,
          on: Annotated[str | None, typer.Option("--on", help="As of this date, YYYY-MM-DD (default: today). Moves "
                                                 "only the calendar: what counts as received is what the store holds "
                                                 "now.", show_default=False)] = None,
          send: Annotated[bool, typer.Option("--send", help="Send the messages by SMTP ([mail] in kpiflow.toml; "
                                             "the password from KPIFLOW_SMTP_PASSWORD).")] = False,
          eml: Annotated[bool, typer.Option("--eml", help="Write them as .eml files into outbox/chase/<quarter>/ "
                                            "instead (not recorded as sent).")] = False,
          home: Home = None, as_json: Json = False) -> None:
    """The message due to each service: a reminder before the due date, a chase (cc the approver),
    an escalation, or a sign-off request to the approver. Without --send or --eml it prints what
    it would send. Each stage is sent to a service once, ever. --quarter latest: the latest
    quarter that has ended (for a daily timer). Exit 1 if the mail server fails.

    Example: kpiflow chase --quarter "2025/26 Q2" --on 2025-10-22 --send
    """
    import datetime as dt

    from kpiflow.cycle import chase as run_chase

    if send and eml:
        fail("--send and --eml: choose one.")
    day = None
    if on is not None:
        try:
            day = dt.date.fromisoformat(on.strip())
        except ValueError:
            fail(f"--on: {on!r} is not a date. Give it as YYYY-MM-DD, e.g. --on 2025-10-22.")
    from kpiflow.cycle import latest_quarter

    q = latest_quarter(day or dt.date.today()) if quarter.strip().lower() == "latest" else _quarter(quarter)
    result = run_chase(_settings(home), q, day, "send" if send else "eml" if eml else "dry-run")
    _render(result.to_dict() if as_json else result.lines(), as_json)
    raise typer.Exit(0 if result.ok else 1)


@app.command()
def signoff(quarter: Quarter, service: Annotated[str, typer.Option("--service", help="The service whose return is "
                                                                   "signed off.")],
            by: Annotated[str, typer.Option("--by", help="Who made the decision (the approver, or whoever did), as "
                                            "it is to be recorded.")],
            note: Annotated[str, typer.Option("--note", help="A note for the audit trail (needed with "
                                              "--send-back: what the service must change).")] = "",
            send_back: Annotated[bool, typer.Option("--send-back", help="Send the return back to the service "
                                                    "instead: it then counts as rejected, and they are told why.")]
            = False,
            home: Home = None, as_json: Json = False) -> None:
    """Record the approver's sign-off of a service's accepted return for the quarter (with
    [cycle] signoff = true, its figures count only then), or send it back with --send-back.
    Exit 1 if the quarter is published or nothing is accepted.

    Example: kpiflow signoff --quarter "2025/26 Q2" --service Housing --by "A Patel" --note "Agreed by email"
    """
    from kpiflow.cycle import sign_off

    result = sign_off(_settings(home), _quarter(quarter), service, by, note, send_back)
    _render(result.to_dict() if as_json else result.lines(), as_json)


def _cycle_cells(r: Any) -> tuple[str, str, str]:
    """Due date and days to go, last message, sign-off: the status table's returns-cycle columns."""
    import datetime as dt

    due = dt.date.fromisoformat(r.due).strftime("%a %d %b %Y") if r.due else "-"
    if r.days_to_go is not None:
        n = r.days_to_go
        due += (f" ({n} working day{'s' * (n != 1)} to go)" if n > 0 else " (due today)" if n == 0
                else f" ({-n} working day{'s' * (n != -1)} overdue)")
    m = r.last_message
    last = f"{m['stage']} {str(m['at'])[:16].replace('T', ' ')} to {', '.join(m['to'])}" if m else "-"
    s = r.signoff
    so = (f"{'signed off' if s['event'] == 'signed-off' else 'sent back'} by {s['by']} {s['at'][:10]} ({s['how']})"
          if s else "-")
    return due, last, so


history_app = typer.Typer(invoke_without_command=True, no_args_is_help=False)
app.add_typer(history_app, name="history")


@history_app.callback()
def history(ctx: typer.Context,
            service: Annotated[str | None, typer.Option(help="Only this service's submissions.")] = None,
            indicator: Annotated[str | None, typer.Option(help="The figures held for this indicator, and their "
                                                          "revisions.")] = None,
            home: Home = None, as_json: Json = False) -> None:
    """The audit trail: every submission (accepted, rejected, duplicate, superseded) and every
    revision of a figure; with --indicator, every figure held for it. Subcommands: import (back
    figures from a table) and template (the table to fill in).

    Example: kpiflow history --indicator CS01
    """
    if ctx.invoked_subcommand is not None:
        return
    from kpiflow.status import audit_trail

    trail = audit_trail(_settings(home), service, indicator)
    _render(trail.to_dict() if as_json else trail.lines(), as_json)


@history_app.command("import")
def history_import(
    file: Annotated[Path, typer.Argument(help="The table of back figures: a .csv, or an .xlsx with the table on its "
                                         "first sheet (kpiflow history template writes one).")],
    home: Home = None, as_json: Json = False,
) -> None:
    """Store a council's back figures from a tidy table (Indicator ID, Period, Number, Rate,
    Statistical neighbours, England, and optional Source), checked like a return: every problem
    located at its row and column, and nothing stored if anything is wrong. The figures are kept
    as revisions with the file as their source; the same file imported twice is recognised.
    Exit 1 if the file has errors.

    Example: kpiflow history import history.csv
    """
    from kpiflow.history_import import import_history

    done = import_history(_settings(home), file)
    _render(done.to_dict() if as_json else done.lines(), as_json)
    raise typer.Exit(0 if done.ok else 1)


@history_app.command("template")
def history_template(
    out: Annotated[Path | None, typer.Option("--out", help="The workbook to write (default: "
                                             "workbook_templates/history_import.xlsx).", show_default=False)] = None,
    home: Home = None,
) -> None:
    """Write the history import table as an Excel workbook, headed and with one example row per
    indicator in the catalogue, to fill in and give to kpiflow history import. For a CSV instead,
    save its History sheet from Excel as "CSV UTF-8 (Comma delimited)", or write the same headings
    as the first line of a CSV file.

    Example: kpiflow history template --out history.xlsx
    """
    from kpiflow.history_import import write_template

    path = write_template(_settings(home), out)
    typer.echo(f"Template written: {path}")


@app.command()
def explain(quarter: Quarter, indicator: Annotated[str | None, typer.Option(help="Only this indicator.")] = None,
            home: Home = None, as_json: Json = False) -> None:
    """Why each indicator is, or is not, an exception: its facts and the rule's verdict.

    Example: kpiflow explain --quarter "2017/18 Q2" --indicator CS02
    """
    from kpiflow.assess import explain as run_explain

    found = run_explain(_settings(home), _quarter(quarter), indicator)
    _render(found.to_dict() if as_json else found.lines(), as_json)


@app.command()
def report(quarter: Quarter, home: Home = None,
           pdf: Annotated[bool, typer.Option("--pdf", help="Also convert it to PDF with LibreOffice.")] = False,
           keep_edits: Annotated[Path | None, typer.Option(
               "--keep-edits", help="An edited draft whose commentary and service responses to carry over into the "
               "fresh draft, by indicator.", show_default=False)] = None,
           as_json: Json = False) -> None:
    """Write the draft Appendix 6(b) into outbox/drafts/ for the policy officer to edit in Word.
    With --keep-edits, a fresh draft from today's figures keeps the words the officer edited in an
    earlier one, and says which exceptions are new or gone. Exit 1 if that draft is refused.

    Example: kpiflow report --quarter "2017/18 Q2" --keep-edits "outbox/drafts/edited.docx"
    """
    one_document()
    from kpiflow.report import make_report

    q = _quarter(quarter)
    result = make_report(_settings(home), q, keep_edits)
    if pdf and result.path is not None:
        from kpiflow.pdf import PdfUnavailable, to_pdf
        from kpiflow.report import report_title

        try:
            result.lines.append(f"PDF: {to_pdf(result.path, result.path.parent, title=report_title(q))}")
        except PdfUnavailable as exc:
            echo(str(exc), err=True)
    _render(result.to_dict() if as_json else result.lines, as_json)
    raise typer.Exit(0 if result.ok else 1)


@template_app.command("check")
def template_check(docx: Annotated[Path | None, typer.Argument(help="The template (default: "
                                                                "doc_templates/appendix_6b.docx).")] = None,
                   home: Home = None) -> None:
    """Report unknown variables and broken tags in a report template.

    Example: kpiflow template check doc_templates/appendix_6b.docx
    """
    from kpiflow.template_check import check_template

    settings = _settings(home)
    path = docx or settings.template_path
    if not path.is_file():
        fail(f"no such file: {path}")
    result = check_template(path)
    echo(result.render_text())
    raise typer.Exit(0 if result.ok else 1)


@app.command()
def publish(quarter: Quarter, from_: Annotated[Path | None, typer.Option("--from", help="The edited draft (default: "
                                                                          "the newest in outbox/drafts/ made for the "
                                                                          "quarter).")] = None,
            home: Home = None, by: Annotated[str, typer.Option(help="Who is publishing.")] = "",
            provisional: Annotated[bool, typer.Option("--provisional", help="Publish even though some figures are "
                                                      "not signed off: the paper keeps their Provisional marks.")]
            = False,
            strict: Annotated[bool, typer.Option("--strict", help="Refuse the draft if kpiflow proofread finds "
                                                 "anything in the officers' words.")] = False,
            as_json: Json = False) -> None:
    """Check the edited draft, file the final .docx and .pdf with manifest.json in
    outbox/published/, and close the quarter to further returns. Exit 1 if the draft is refused.
    The officers' words are proofread against the figures first (warnings; --strict refuses).

    Example: kpiflow publish --quarter "2017/18 Q2"
    """
    one_document()
    from kpiflow.publish import publish_quarter

    result = publish_quarter(_settings(home), _quarter(quarter), from_, by, provisional, strict)
    _render(result.to_dict() if as_json else result.lines, as_json)
    raise typer.Exit(0 if result.ok else 1)


@app.command()
def proofread(quarter: Quarter,
              from_: Annotated[Path | None, typer.Option("--from", help="The edited draft (default: the newest in "
                                                         "outbox/drafts/ made for the quarter).")] = None,
              strict: Annotated[bool, typer.Option("--strict", help="Exit 1 if there are any findings.")] = False,
              home: Home = None, as_json: Json = False) -> None:
    """Check the officers' words in the draft (each exception's commentary and service response)
    against the figures: a figure kpiflow does not hold, a direction or a target the figures
    contradict, a paragraph copied from last quarter, a placeholder left in. Exit 0 with or without
    findings, 1 with --strict and findings, 2 if it cannot run.

    Example: kpiflow proofread --quarter "2017/18 Q2" --from "outbox/drafts/edited.docx" --strict
    """
    one_document()
    from kpiflow.proofread import proofread_quarter

    result = proofread_quarter(_settings(home), _quarter(quarter), from_)
    _render(result.to_dict() if as_json else result.lines(), as_json)
    raise typer.Exit(1 if strict and result.findings else 0)


@app.command()
def reopen(quarter: Quarter, reason: Annotated[str, typer.Option(help="Why it is reopened.")],
           by: Annotated[str, typer.Option(help="Who reopens it.")] = "", home: Home = None) -> None:
    """Reopen a published quarter so that returns for it are accepted again.

    Example: kpiflow reopen --quarter "2017/18 Q2" --by "J Smith" --reason "CS01 figure corrected"
    """
    from kpiflow.publish import NotPublished
    from kpiflow.publish import reopen as run_reopen

    q = _quarter(quarter)
    try:
        run_reopen(_settings(home), q, reason, by)
    except NotPublished as exc:
        fail(str(exc), 1)
    echo(f"{q.short} reopened: returns for it are accepted again.")


@comparators_app.command("import")
def comparators_import(
    file: Annotated[Path, typer.Argument(help="The Department's tidy CSV (Explore Education Statistics layout).")],
    indicator: Annotated[str, typer.Option("--indicator", help="The catalogue indicator the comparators are for.")],
    column: Annotated[str, typer.Option("--column", help="The file's column holding the figure, e.g. "
                                        "rate_per_10000.")],
    where: Annotated[list[str] | None, typer.Option("--where", help="COLUMN=VALUE: only rows with this value "
                                                     "(repeat for each filter column).", show_default=False)] = None,
    neighbours: Annotated[Path | None, typer.Option("--neighbours", help="The statistical neighbour list (CSV: "
                                                    "old_la_code, SN_1 ... SN_10).", show_default=False)] = None,
    home: Home = None, as_json: Json = False,
) -> None:
    """Store England's figure and the statistical neighbours' average for each year in the file as
    the indicator's comparators (the council is la_code in kpiflow.toml). Exit 1 if the file has
    errors: nothing is stored then.

    Example: kpiflow comparators import cla_la.csv --indicator CS01 --column rate_per_10000 --where population_type="Children looked after on 31 March each year" --neighbours SN.csv
    """
    from kpiflow.comparators import import_comparators

    pairs: list[tuple[str, str]] = []
    for item in where or []:
        col, eq, value = item.partition("=")
        if not eq or not col.strip():
            fail(f'--where {item}: give a column and a value, e.g. --where population_type="Children looked after '
                 'on 31 March each year"')
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        pairs.append((col.strip(), value))
    done = import_comparators(_settings(home), file, indicator, column, pairs, neighbours)
    _render(done.to_dict() if as_json else done.lines(), as_json)
    raise typer.Exit(0 if done.ok else 1)


@app.command("export")
def export(
    format_: Annotated[str | None, typer.Option("--format", help="csv, xlsx or parquet (default: from --out, "
                                                "else csv).", show_default=False)] = None,
    out: Annotated[Path | None, typer.Option("--out", help="The file to write (default: a new file in "
                                             "outbox/exports/).", show_default=False)] = None,
    home: Home = None, as_json: Json = False,
) -> None:
    """Write the whole history as one tidy table for analysts: indicator, period, figure, value,
    whether it is current or since revised, source, recorded at, submission.

    Example: kpiflow export --format parquet --out history.parquet
    """
    from kpiflow.frames import export_history

    done = export_history(_settings(home), format_, out)
    _render(done.to_dict() if as_json else done.lines(), as_json)


@store_app.command("copy")
def store_copy(to: Annotated[str, typer.Option("--to", help="The empty store to copy into: postgresql://user@host/"
                                                "database, or sqlite:PATH (or a plain path) for a SQLite file.")],
               home: Home = None, as_json: Json = False) -> None:
    """Copy the whole history (submissions, figures and their revisions, words, quarter events)
    into a new, empty store, and check the copy row for row. The working folder's own store is
    left as it is.

    Example: kpiflow store copy --to postgresql://kpiflow@dbhost/kpiflow
    """
    from kpiflow.store.copy import copy_history

    result = copy_history(_settings(home), to)
    _render(result.to_dict() if as_json else result.lines(), as_json)


@app.command()
def demo(home: Annotated[Path | None, typer.Option("--home", help="The folder to run the demo in (default: demo/ "
                                                   "in the current directory). It is started afresh.")] = None) -> None:
    """Run the whole quarter on the shipped example: load history, issue, fill in as the service
    would, ingest, report, publish. Prints where the draft and the published files are.

    Example: kpiflow demo --home /tmp/kpiflow-demo
    """
    from kpiflow.demo import run_demo

    result = run_demo((home or Path.cwd() / "demo").expanduser().resolve(), publish=True)
    for line in result.lines:
        echo(line)


def app_for(args: list[str]) -> typer.Typer:
    """The app to run for the command line ``args``: where they name one of the top-level commands, an app of
    that command alone under the same name, options and help (typer works out every command's parameters
    before it runs one, a tenth of a report's start); otherwise the whole app."""
    at = 0
    while at < len(args) and args[at] == "--debug":
        at += 1
    if at == len(args):
        return app
    for info in app.registered_commands:
        if info.callback is not None and (info.name or info.callback.__name__.replace("_", "-")) == args[at]:
            one = _new_app()
            one.registered_callback = app.registered_callback
            one.registered_commands = [info]
            return one
    return app


def main() -> None:
    """Entry point: turns failures into ``Error: ...`` and exit 2, never a traceback."""
    collecting = gc.isenabled()
    _Options.whole_process = True
    try:
        _main()
    finally:
        _Options.whole_process = False
        if collecting:
            gc.enable()     # a program that called main() keeps its collector


def _main() -> None:
    _Options.debug = False
    try:
        code = app_for(sys.argv[1:])(standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except KpiflowError as exc:
        if _Options.debug:
            raise
        echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        echo("Stopped.", err=True)
        sys.exit(130)
    except Exception as exc:
        # usage errors (typer vendors click in newer releases, so match by behaviour)
        if hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):
            exc.show(file=_PrintableFile(sys.stderr))
            sys.exit(2)
        if _Options.debug:
            raise
        if disk_full(exc):
            echo(f"Error: {DISK_FULL[0].upper()}{DISK_FULL[1:]}", err=True)
            sys.exit(2)
        echo(f"Error: kpiflow failed unexpectedly ({type(exc).__name__}: {exc}). Run again with --debug for "
                   "details.", err=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
