"""The kpiflow command line: parse, call one library function, render, exit.

Exit codes: 0 fine, 1 the input has errors, 2 the command could not run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from kpiflow.errors import KpiflowError, PeriodError

app = typer.Typer(
    help="kpiflow: quarterly performance returns in, Appendix 6(b) exception reports out.\n\n"
         "Every command works on one working folder: the current directory, --home DIR, or KPIFLOW_HOME.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)
catalogue_app = typer.Typer(help="Check the indicator catalogue.", no_args_is_help=True)
template_app = typer.Typer(help="Check the report template.", no_args_is_help=True)
app.add_typer(catalogue_app, name="catalogue")
app.add_typer(template_app, name="template")

Home = Annotated[Path | None, typer.Option("--home", help="The working folder (default: KPIFLOW_HOME or the current "
                                           "directory).", show_default=False)]
Quarter = Annotated[str, typer.Option("--quarter", "-q", help='The quarter, e.g. "2017/18 Q2".')]
OptQuarter = Annotated[str | None, typer.Option("--quarter", "-q", help='Only accept returns for this quarter, e.g. '
                                                '"2017/18 Q2".', show_default=False)]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
Debug = Annotated[bool, typer.Option("--debug", help="Show the full traceback when a command fails.")]

_debug = False


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
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


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


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
    typer.echo(f"Working folder ready: {home}")
    for p in created:
        typer.echo(f"  created {p.relative_to(home)}")


@catalogue_app.command("check")
def catalogue_check(home: Home = None, as_json: Json = False) -> None:
    """Check workbook_templates/catalogue.xlsx: every problem located at its cell.

    Example: kpiflow catalogue check
    """
    from kpiflow.actions import check_catalogue

    catalogue, result = check_catalogue(_settings(home))
    if as_json:
        _print_json({**result.to_dict(), "indicators": len(catalogue.indicators)})
    else:
        for p in result.problems:
            typer.echo(p.render())
        typer.echo(f"{result.source}: {len(catalogue.indicators)} indicators, {len(catalogue.services)} service{'s' * (len(catalogue.services) != 1)}, "
                   f"{len(result.errors)} errors, {len(result.warnings)} warnings")
    raise typer.Exit(0 if result.ok else 1)


@app.command()
def issue(quarter: Quarter, service: Annotated[str | None, typer.Option(help="Only this service.")] = None,
          home: Home = None) -> None:
    """Write the returns workbook for each service (or one) into outbox/returns/.

    Example: kpiflow issue --quarter "2017/18 Q2" --service "Children's Services"
    """
    from kpiflow.actions import issue_returns, load_checked_catalogue, open_store

    settings = _settings(home)
    q = _quarter(quarter)
    catalogue = load_checked_catalogue(settings)
    with open_store(settings) as store:
        for path in issue_returns(settings, store, catalogue, q, service):
            typer.echo(f"Issued {path.relative_to(settings.home)}")


@app.command()
def validate(files: Annotated[list[Path], typer.Argument(help="Returns workbooks to check.")],
             quarter: OptQuarter = None, home: Home = None, as_json: Json = False) -> None:
    """Check returns workbooks without storing anything. Exit 1 if any has errors.

    Example: kpiflow validate "inbox/Children's Services_2017-18_Q2.xlsx"
    """
    from kpiflow.actions import load_checked_catalogue
    from kpiflow.validate import validate_file

    missing = [f for f in files if not f.is_file()]
    if missing:
        fail(f"no such file: {missing[0]}")
    q = _quarter(quarter) if quarter else None
    settings = _settings(home)
    catalogue = load_checked_catalogue(settings)
    if settings.db_path.exists():
        from kpiflow.store import Store
        from kpiflow.validate import History

        with Store(settings.db_path) as store:
            history = History(store.series, settings.rules)
            results = [validate_file(f, catalogue, q, history=history)[1] for f in files]
    else:
        results = [validate_file(f, catalogue, q)[1] for f in files]
    if as_json:
        _print_json(results[0].to_dict() if len(results) == 1 else [r.to_dict() for r in results])
    else:
        for r in results:
            typer.echo(r.render_text())
    raise typer.Exit(0 if all(r.ok for r in results) else 1)


@app.command()
def ingest(files: Annotated[list[Path] | None, typer.Argument(help="Returns to ingest (default: everything "
                                                                   "waiting in inbox/).", show_default=False)] = None,
           quarter: OptQuarter = None, home: Home = None, as_json: Json = False) -> None:
    """Validate and store returns; move each original to inbox/processed/ or inbox/rejected/ and
    write its feedback to outbox/feedback/. Exit 1 if any was rejected.

    Example: kpiflow ingest
    """
    from kpiflow.actions import load_checked_catalogue, open_store
    from kpiflow.pipeline import ingest as run_ingest
    from kpiflow.watch import waiting_files

    settings = _settings(home)
    q = _quarter(quarter) if quarter else None
    paths = list(files or [])
    missing = [f for f in paths if not f.is_file()]
    if missing:
        fail(f"no such file: {missing[0]}")
    catalogue = load_checked_catalogue(settings)
    with open_store(settings) as store:
        if not files:
            paths = waiting_files(settings)
        outcomes = run_ingest(settings, store, catalogue, [p.resolve() for p in paths], q)
    if as_json:
        _print_json([{"file": o.file, "status": o.status, "kept_as": str(o.kept_as or ""),
                      "feedback": [str(p) for p in o.feedback], **o.problems.to_dict()} for o in outcomes])
    else:
        if not outcomes:
            typer.echo("Nothing to ingest.")
        for o in outcomes:
            typer.echo(o.line())
            for p in o.problems.problems:
                typer.echo(f"  {p.render()}")
    raise typer.Exit(1 if any(o.status == "rejected" for o in outcomes) else 0)


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
    from kpiflow.actions import load_checked_catalogue
    from kpiflow.watch import Watcher

    settings = _settings(home)
    catalogue = load_checked_catalogue(settings)
    w = Watcher(settings, catalogue, settle=settle, rescan=rescan, polling=polling, poll_interval=poll_interval,
                log=typer.echo)
    w.run(once=once)


@app.command()
def status(quarter: Quarter, home: Home = None, as_json: Json = False) -> None:
    """Per service: issued, received (when, by whom), accepted, rejected (why), missing; and the
    exceptions so far.

    Example: kpiflow status --quarter "2017/18 Q2"
    """
    from kpiflow.actions import load_checked_catalogue, open_store, quarter_status
    from kpiflow.analysis import assess
    from kpiflow.narrative import reason_texts

    settings = _settings(home)
    q = _quarter(quarter)
    catalogue = load_checked_catalogue(settings)
    with open_store(settings) as store:
        rows = quarter_status(store, catalogue, q)
        exceptions = [a for a in assess(settings, store, catalogue, q) if a.verdict.exception]
        state = store.quarter_state(q)
    if as_json:
        _print_json({"quarter": q.label, "state": state, "services": [r.__dict__ for r in rows],
                     "exceptions": [{"id": a.indicator.id, "reasons": [r.to_dict() for r in a.verdict.reasons]} for a in exceptions]})
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"{q.short} ({state})", title_justify="left")
    for col in ("Service", "Issued", "Status", "Received", "Completed by", "File", "Notes"):
        table.add_column(col, overflow="fold")
    for r in rows:
        # names and notes come from workbooks: shown as text, never read as console markup
        table.add_row(*(Text(v) for v in (r.service, r.issued[:10] or "-", r.state,
                                          r.received_at.replace("T", " ")[:16] or "-", r.completed_by or "-",
                                          r.file_name or "-", r.detail or "")))
    Console(highlight=False).print(table)
    typer.echo(f"Exceptions so far: {len(exceptions)}")
    for a in exceptions:
        typer.echo(f"  {a.indicator.id} {a.indicator.name}: {'; '.join(reason_texts(a.verdict, a.indicator.unit))}")


@app.command()
def history(service: Annotated[str | None, typer.Option(help="Only this service's submissions.")] = None,
            indicator: Annotated[str | None, typer.Option(help="Revisions of this indicator's figures.")] = None,
            home: Home = None, as_json: Json = False) -> None:
    """The audit trail: every submission (accepted, rejected, duplicate, superseded) and every
    revision of a figure.

    Example: kpiflow history --service "Children's Services"
    """
    from kpiflow.actions import load_checked_catalogue, open_store
    from kpiflow.fmt import fmt_number

    settings = _settings(home)
    catalogue = load_checked_catalogue(settings)
    with open_store(settings) as store:
        subs = store.submissions(service) if not indicator else []
        ids = [indicator] if indicator else [i.id for i in (catalogue.for_service(service) if service
                                                             else catalogue.indicators)]
        revisions = store.revisions(ids)
    if as_json:
        _print_json({"submissions": [s.__dict__ for s in subs], "revisions": [r.__dict__ for r in revisions]})
        return
    for s in subs:
        extra = f", superseded by #{s.superseded_by}" if s.superseded_by else ""
        typer.echo(f"#{s.id} {s.received_at} {s.service or '?'} {s.quarter or '?'} {s.outcome}{extra}: {s.file_name} "
                   f"(completed by {s.completed_by or 'unknown'}, sha256 {s.sha256[:12]})")
    for r in revisions:
        who = f", completed by {r.by}" if r.by else ""
        old, new = (fmt_number(v) if v is not None else "blank" for v in (r.old, r.new))
        typer.echo(f"revision {r.recorded_at} {r.indicator_id} {r.period} {r.figure}: {old} -> {new} ({r.source}{who})")
    if not subs and not revisions:
        typer.echo("No history yet.")


@app.command()
def explain(quarter: Quarter, indicator: Annotated[str | None, typer.Option(help="Only this indicator.")] = None,
            home: Home = None, as_json: Json = False) -> None:
    """Why each indicator is, or is not, an exception: its facts and the rule's verdict.

    Example: kpiflow explain --quarter "2017/18 Q2" --indicator CS02
    """
    from kpiflow.actions import load_checked_catalogue, open_store
    from kpiflow.analysis import assess
    from kpiflow.fmt import fmt
    from kpiflow.narrative import reason_texts

    settings = _settings(home)
    q = _quarter(quarter)
    catalogue = load_checked_catalogue(settings)
    if indicator and catalogue.get(indicator) is None:
        fail(f'"{indicator}" is not an indicator in the catalogue')
    with open_store(settings) as store:
        results = assess(settings, store, catalogue, q, [indicator] if indicator else None)
    if as_json:
        _print_json([{"id": a.indicator.id, "exception": a.verdict.exception, "reasons": [r.to_dict() for r in a.verdict.reasons],
                      "current": a.facts.current, "previous": a.facts.previous, "last_year": a.facts.last_year,
                      "target": a.facts.target, "rag": a.facts.rag, "vs_previous": a.facts.vs_previous,
                      "vs_last_year": a.facts.vs_last_year, "statistical_neighbours": a.facts.statneigh,
                      "england": a.facts.england, "gap_trend": a.facts.gap_trend,
                      "projection": a.facts.projection.reaches.label if a.facts.projection
                      and a.facts.projection.reaches else None} for a in results])
        return
    for a in results:
        f, unit = a.facts, a.indicator.unit
        verdict = "exception" if a.verdict.exception else "not an exception"
        typer.echo(f"{a.indicator.id} {a.indicator.name}")
        typer.echo(f"  {verdict}: {'; '.join(reason_texts(a.verdict, unit))}")
        typer.echo(f"  {q.short}: {fmt(f.current, unit)}; {f.previous_period.short}: {fmt(f.previous, unit)} "
                   f"({f.vs_previous or '-'}); {f.last_year_period.short}: {fmt(f.last_year, unit)} "
                   f"({f.vs_last_year or '-'})")
        typer.echo(f"  target: {fmt(f.target, unit) if f.target is not None else 'No Target Set'}"
                   f"{f' ({f.rag})' if f.rag else ''}; statistical neighbours: {fmt(f.statneigh, unit)}; "
                   f"England: {fmt(f.england, unit)}")
        if f.projection is not None:
            pr = f.projection
            typer.echo("  projection: " + (f"reaches {pr.comparator} by {pr.reaches.quarter.short}" if pr.reaches
                                           else f"none ({pr.note})"))


@app.command()
def report(quarter: Quarter, home: Home = None,
           pdf: Annotated[bool, typer.Option("--pdf", help="Also convert it to PDF with LibreOffice.")] = False) -> None:
    """Write the draft Appendix 6(b) into outbox/drafts/ for the policy officer to edit in Word.

    Example: kpiflow report --quarter "2017/18 Q2"
    """
    from kpiflow.actions import load_checked_catalogue, open_store
    from kpiflow.report import render_report

    settings = _settings(home)
    q = _quarter(quarter)
    catalogue = load_checked_catalogue(settings)
    with open_store(settings) as store:
        path = render_report(settings, store, catalogue, q)
    typer.echo(f"Draft report: {path}")
    if pdf:
        from kpiflow.pdf import PdfUnavailable, to_pdf

        try:
            typer.echo(f"PDF: {to_pdf(path, path.parent)}")
        except PdfUnavailable as exc:
            typer.echo(str(exc), err=True)


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
    typer.echo(result.render_text())
    raise typer.Exit(0 if result.ok else 1)


@app.command()
def publish(quarter: Quarter, from_: Annotated[Path | None, typer.Option("--from", help="The edited draft (default: "
                                                                          "the newest in outbox/drafts/).")] = None,
            home: Home = None, by: Annotated[str, typer.Option(help="Who is publishing.")] = "") -> None:
    """Check the edited draft, file the final .docx and .pdf with manifest.json in
    outbox/published/, and close the quarter to further returns.

    Example: kpiflow publish --quarter "2017/18 Q2"
    """
    from kpiflow.actions import load_checked_catalogue, open_store
    from kpiflow.publish import publish as run_publish

    settings = _settings(home)
    q = _quarter(quarter)
    catalogue = load_checked_catalogue(settings)
    with open_store(settings) as store:
        result = run_publish(settings, store, catalogue, q, from_, by)
    for line in result.lines:
        typer.echo(line)
    raise typer.Exit(0 if result.ok else 1)


@app.command()
def reopen(quarter: Quarter, reason: Annotated[str, typer.Option(help="Why it is reopened.")],
           by: Annotated[str, typer.Option(help="Who reopens it.")] = "", home: Home = None) -> None:
    """Reopen a published quarter so that returns for it are accepted again.

    Example: kpiflow reopen --quarter "2017/18 Q2" --by "J Smith" --reason "CS01 figure corrected"
    """
    from kpiflow.actions import open_store

    settings = _settings(home)
    q = _quarter(quarter)
    with open_store(settings) as store:
        if store.quarter_state(q) != "published":
            fail(f"{q.short} is not published, so there is nothing to reopen", 1)
        store.record_quarter_event(q, "reopened", by or _whoami(), reason)
    typer.echo(f"{q.short} reopened: returns for it are accepted again.")


def _whoami() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


@app.command()
def demo(home: Annotated[Path | None, typer.Option("--home", help="The folder to run the demo in (default: demo/ "
                                                   "in the current directory). It is started afresh.")] = None) -> None:
    """Run the whole quarter on the shipped example: load history, issue, fill in as the service
    would, ingest, report. Prints where the report is.

    Example: kpiflow demo --home /tmp/kpiflow-demo
    """
    from kpiflow.demo import run_demo

    result = run_demo((home or Path.cwd() / "demo").expanduser().resolve())
    for line in result.lines:
        typer.echo(line)


def main() -> None:
    """Entry point: turns failures into ``Error: ...`` and exit 2, never a traceback."""
    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
    try:
        code = app(standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except KpiflowError as exc:
        if debug:
            raise
        typer.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("Stopped.", err=True)
        sys.exit(130)
    except Exception as exc:
        # usage errors (typer vendors click in newer releases, so match by behaviour)
        if hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            sys.exit(2)
        if debug:
            raise
        typer.echo(f"Error: kpiflow failed unexpectedly ({type(exc).__name__}: {exc}). Run again with --debug for "
                   "details.", err=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
