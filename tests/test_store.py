"""The history store: migrations, the audit trail, revisions and quarter locks, read back through
the library and the CLI; every test on SQLite and on PostgreSQL (ids sqlite, postgresql)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from helpers import run_kpiflow
from pg_server import PgServer

import kpiflow.store.base as store_base
import kpiflow.store.migrations as store_migrations
from kpiflow.demo import SERVICE, load_example_history
from kpiflow.errors import KpiflowError
from kpiflow.model import Catalogue, Figures
from kpiflow.periods import Period, parse_period
from kpiflow.pipeline import process_file
from kpiflow.settings import Settings, load_settings
from kpiflow.store import MIGRATIONS, SQLiteStore, Store, open_store

pytestmark = pytest.mark.backends


def kpiflow(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``kpiflow ARGS --home HOME`` in this process (tests/helpers.py)."""
    return run_kpiflow(*args, "--home", str(home))


def drop(src: Path, settings: Settings, name: str | None = None) -> Path:
    dest = settings.inbox / (name or src.name)
    shutil.copyfile(src, dest)
    return dest


def scalar(store: Store, sql: str, *args: object) -> object:
    return store.query(sql, args)[0][0]


# -- migrations ---------------------------------------------------------------------------------

def test_a_new_store_records_every_migration(settings: Settings) -> None:
    with open_store(settings) as s:
        rows = s.query("SELECT version, name FROM schema_migrations ORDER BY version")
        assert [tuple(r) for r in rows] == [(i, name) for i, (name, _) in enumerate(MIGRATIONS, start=1)]
        assert s.schema_version() == len(MIGRATIONS) >= 2
    with open_store(settings) as s:   # opening again applies nothing twice
        assert scalar(s, "SELECT COUNT(*) FROM schema_migrations") == len(MIGRATIONS)


def test_a_store_at_schema_1_is_migrated_and_keeps_everything(monkeypatch: pytest.MonkeyPatch,
                                                              make_home: Callable[[str], Path],
                                                              catalogue: Catalogue, filled: Path) -> None:
    settings = load_settings(make_home("old"))
    with monkeypatch.context() as m:
        m.setattr(store_migrations, "MIGRATIONS", MIGRATIONS[:1])    # the kpiflow that shipped schema 1
        with open_store(settings) as s:
            load_example_history(s)
            s.query("INSERT INTO submissions (file_name, sha256, service, quarter, completed_by, received_at, "
                    "outcome, errors, kept_as) VALUES ('old.xlsx', ?, ?, '2017/18 Q1', 'someone', "
                    "'2017-07-20T09:00:00+00:00', 'rejected', 1, 'inbox/rejected/old.xlsx')", ("ab" * 32, SERVICE))
            assert s.schema_version() == 1
            assert "claim" not in s.columns("submissions")
            history = s.series("CS01")
    with open_store(settings) as s:
        assert s.schema_version() == len(MIGRATIONS)
        assert {"claim", "feedback"} <= set(s.columns("submissions"))
        assert {"submissions_claim", "submissions_kept_as", "submissions_feedback"} <= s.indexes("submissions")
        assert s.series("CS01") == history
        [sub] = s.submissions()
        assert (sub.file_name, sub.outcome, sub.completed_by, sub.claim, sub.feedback) == (
            "old.xlsx", "rejected", "someone", None, "")
    # and the migrated store takes returns as a new one does
    with open_store(settings) as s:
        out = process_file(settings, s, catalogue, drop(filled, settings))
        assert out.status == "accepted"
        assert [x.outcome for x in s.submissions()] == ["rejected", "accepted"]


def test_a_store_from_a_newer_kpiflow_is_refused(home: Path, settings: Settings) -> None:
    with open_store(settings) as s:
        s.query("INSERT INTO schema_migrations VALUES (?, 'from the future', '2030-01-01')", (len(MIGRATIONS) + 1,))
    with pytest.raises(KpiflowError, match=r"newer kpiflow .*Upgrade kpiflow"):
        open_store(settings)
    r = kpiflow(home, "history")
    assert r.returncode == 2
    assert r.stderr.startswith("Error: ") and "Upgrade kpiflow" in r.stderr and "Traceback" not in r.stderr


def test_a_database_that_is_not_a_kpiflow_store_is_refused_and_left_alone(backend: str, settings: Settings) -> None:
    if backend == "postgresql":
        import psycopg

        with psycopg.connect(settings.store_url, autocommit=True) as conn:
            conn.execute("CREATE TABLE customers (id INTEGER)")
        with pytest.raises(KpiflowError, match="not a kpiflow store"):
            open_store(settings)
        with psycopg.connect(settings.store_url, autocommit=True) as conn:
            assert [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")] == [
                "customers"]
        return
    junk = settings.db_path
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(KpiflowError, match="not a kpiflow store"):
        open_store(settings)
    other = settings.home / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(KpiflowError, match="not a kpiflow store"):
        SQLiteStore(other)
    conn = sqlite3.connect(other)
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["customers"]
    conn.close()


def test_a_migration_is_applied_whole_or_not_at_all(make_home: Callable[[str], Path],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(make_home("h"))
    open_store(settings).close()
    broken = ("broken", """
        CREATE TABLE notes (text TEXT);
        INSERT INTO notes VALUES ('a; b');
        INSERT INTO no_such_table VALUES (1);
    """)
    monkeypatch.setattr(store_migrations, "MIGRATIONS", [*MIGRATIONS, broken])
    with pytest.raises(KpiflowError):
        open_store(settings)
    monkeypatch.setattr(store_migrations, "MIGRATIONS", MIGRATIONS)
    with open_store(settings) as s:
        assert s.schema_version() == len(MIGRATIONS)
        assert "notes" not in s.tables()
    # a ";" inside a string does not split the statement
    fixed = ("notes", "CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('a; b');")
    monkeypatch.setattr(store_migrations, "MIGRATIONS", [*MIGRATIONS, fixed])
    with open_store(settings) as s:
        assert scalar(s, "SELECT text FROM notes") == "a; b"


MIGRATE_TOGETHER = r'''
import sys, time
from pathlib import Path
from kpiflow.settings import load_settings
from kpiflow.store import open_store

ready, go, home = sys.argv[1:4]
settings = load_settings(home)
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.001)
with open_store(settings) as s:
    print(s.schema_version())
'''


def test_processes_starting_together_on_a_new_store_migrate_it_once(tmp_path: Path, settings: Settings) -> None:
    script, go = tmp_path / "open.py", tmp_path / "go"
    script.write_text(MIGRATE_TOGETHER, encoding="utf-8")
    ready = [tmp_path / f"ready-{i}" for i in range(6)]
    procs = [subprocess.Popen([sys.executable, str(script), str(r), str(go), str(settings.home)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in ready]
    try:
        assert wait_for_files(ready)
        go.touch()
        results = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [(p.returncode, out.strip()) for p, (out, _) in zip(procs, results, strict=True)] == [
        (0, str(len(MIGRATIONS)))] * len(procs), [err for _, err in results]
    with open_store(settings) as s:
        rows = s.query("SELECT version, name FROM schema_migrations ORDER BY version")
        assert [tuple(r) for r in rows] == [(i, name) for i, (name, _) in enumerate(MIGRATIONS, start=1)]


def wait_for_files(paths: list[Path], timeout: float = 60) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if all(p.exists() for p in paths):
            return True
        time.sleep(0.01)
    return False


def test_transactions_nest_as_savepoints(settings: Settings) -> None:
    with open_store(settings) as s:
        def count() -> int:
            return int(scalar(s, "SELECT COUNT(*) FROM issued"))  # type: ignore[call-overload]

        q = parse_period("2017/18 Q2")
        with s.transaction():
            s.record_issue("A", q, "a.xlsx")
            with pytest.raises(RuntimeError), s.transaction():
                s.record_issue("B", q, "b.xlsx")
                raise RuntimeError
            assert count() == 1                  # only the inner part was undone
        assert count() == 1
        with pytest.raises(RuntimeError), s.transaction():
            s.record_issue("C", q, "c.xlsx")     # commits nothing on its own inside the outer
            raise RuntimeError
        assert count() == 1
        assert not s.in_transaction


@contextmanager
def another_writer(backend: str, settings: Settings) -> Iterator[None]:
    """Another process in the middle of a change."""
    if backend == "postgresql":
        import psycopg

        from kpiflow.store.postgres import WRITE_LOCK

        with psycopg.connect(settings.store_url, autocommit=True) as conn:
            conn.execute("BEGIN")
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            yield
            conn.execute("ROLLBACK")
        return
    other = sqlite3.connect(settings.db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_store_kept_busy_by_another_process_is_a_clear_error_not_a_traceback(
        backend: str, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    open_store(settings).close()
    monkeypatch.setattr(store_base, "BUSY_TIMEOUT_SECONDS", 0.2)
    with another_writer(backend, settings), open_store(settings) as s:   # opening and reading do not wait for it
        assert s.submissions() == []
        with pytest.raises(KpiflowError, match="is busy"):
            s.record_issue("A", parse_period("2017/18 Q2"), "a.xlsx")
        assert not s.in_transaction


# -- the audit trail ----------------------------------------------------------------------------

def test_every_submission_is_kept_with_its_file_hash_and_outcome(settings: Settings, store: Store,
                                                                 catalogue: Catalogue, filled: Path, quarter: Period,
                                                                 edit: Callable[..., Path]) -> None:
    corrected = edit(filled, {"Return!F7": 530, "Return!G7": 185.3, "About!B4": "A Corrector"}, "corrected.xlsx")
    bad = edit(filled, {"Return!F7": "n/a"}, "bad.xlsx")
    for src in (filled, bad, filled, corrected):
        process_file(settings, store, catalogue, drop(src, settings))
    subs = store.submissions(SERVICE)
    assert [(s.file_name, s.outcome) for s in subs] == [
        (filled.name, "accepted"), ("bad.xlsx", "rejected"), (filled.name, "duplicate"),
        ("corrected.xlsx", "accepted")]
    assert [s.sha256 for s in subs] == [hashlib.sha256(p.read_bytes()).hexdigest()
                                        for p in (filled, bad, filled, corrected)]
    assert all((s.service, s.quarter) == (SERVICE, quarter.label) for s in subs)
    assert [s.completed_by for s in subs] == ["Children's Services performance lead"] * 3 + ["A Corrector"]
    assert all(s.received_at and s.claim for s in subs)
    # each kept under its own name, the bytes it was received as, with its own feedback
    kept = [settings.home / s.kept_as for s in subs]
    assert len(set(kept)) == 4
    assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in kept] == [s.sha256 for s in subs]
    assert kept[1].parent == settings.rejected and {p.parent for p in kept[::2]} == {settings.processed}
    feedback = [(settings.home / s.feedback).read_text(encoding="utf-8") for s in subs]
    assert ["ACCEPTED" in feedback[0], "REJECTED" in feedback[1], "ALREADY RECEIVED" in feedback[2]] == [True] * 3
    # the earlier accepted return is superseded, not removed; the newest is the one used
    assert subs[0].superseded_by == subs[3].id and subs[3].superseded_by is None
    newest = store.accepted_submission(SERVICE, quarter)
    assert newest is not None and newest.id == subs[3].id
    assert store.series("CS01")[quarter].number == 530
    # both in the audit trail the CLI prints
    r = kpiflow(settings.home, "history", "--service", SERVICE)
    lines = [line for line in r.stdout.splitlines() if line.startswith("#")]
    assert len(lines) == 4
    assert f"superseded by #{subs[3].id}" in lines[0] and "duplicate" in lines[2] and "corrected.xlsx" in lines[3]
    # and the quarter's status reports the newest accepted return
    r = kpiflow(settings.home, "status", "--quarter", quarter.label, "--json")
    [row] = json.loads(r.stdout)["services"]
    assert (row["state"], row["file_name"], row["completed_by"], row["received_at"]) == (
        "accepted", "corrected.xlsx", "A Corrector", subs[3].received_at)


def test_a_revision_keeps_who_changed_what_and_when(settings: Settings, store: Store, catalogue: Catalogue,
                                                    filled: Path, quarter: Period,
                                                    edit: Callable[..., Path]) -> None:
    process_file(settings, store, catalogue, drop(filled, settings))
    sept = parse_period("2017-07")
    before = store.series("CS03")[sept]
    # the next return corrects a month of an earlier period in its supporting data
    corrected = edit(filled, {"Supporting data!C4": 1978, "Supporting data!D4": 691.5,
                              "About!B4": "J Smith"}, "corrected.xlsx")
    process_file(settings, store, catalogue, drop(corrected, settings))
    revs = store.revisions(["CS03"])
    assert [(r.period, r.figure, r.old, r.new, r.by, r.source) for r in revs] == [
        ("2017-07", "number", before.number, 1978, "J Smith", "return corrected.xlsx"),
        ("2017-07", "rate", before.rate, 691.5, "J Smith", "return corrected.xlsx")]
    sub = store.accepted_submission(SERVICE, quarter)
    assert sub is not None and all(r.submission_id == sub.id and r.recorded_at == sub.received_at for r in revs)
    assert (store.series("CS03")[sept].number, store.series("CS03")[sept].rate) == (1978, 691.5)
    # an unchanged figure sent again is not a revision
    assert store.load_history([("CS03", sept, Figures(1978, 691.5, None, None))], "resent") == 0
    assert len(store.revisions(["CS03"])) == 2
    r = kpiflow(settings.home, "history", "--indicator", "CS03")
    assert r.returncode == 0
    assert "CS03 2017-07 number: 1977 -> 1978 (return corrected.xlsx, completed by J Smith)" in r.stdout
    # the report reads every indicator's series at once: the same figures, the revision included
    ids = [i.id for i in catalogue.indicators]
    together = store.all_series([*ids, "NOT-HELD"])
    assert together["CS03"][sept] == Figures(1978, 691.5, before.statneigh, before.england)
    assert together == {**{iid: store.series(iid) for iid in ids}, "NOT-HELD": {}}


def test_a_published_quarter_is_closed_until_reopened_and_the_reopening_is_recorded(
        settings: Settings, store: Store, catalogue: Catalogue, filled: Path, quarter: Period) -> None:
    with pytest.raises(KpiflowError, match="not published"):
        store.record_quarter_event(quarter, "reopened", "J Smith", "nothing to reopen")
    store.record_quarter_event(quarter, "published", "clerk", "")
    refused = process_file(settings, store, catalogue, drop(filled, settings))
    assert refused.status == "rejected"
    assert "kpiflow reopen" in refused.problems.errors[0].message
    assert store.series("CS01").get(quarter) is None
    r = kpiflow(settings.home, "reopen", "--quarter", quarter.label, "--by", "J Smith", "--reason",
                "CS01 figure corrected")
    assert r.returncode == 0, r.stderr
    assert [(e["event"], e["by"], e["detail"]) for e in store.quarter_events(quarter)] == [
        ("published", "clerk", ""), ("reopened", "J Smith", "CS01 figure corrected")]
    assert all(e["at"] for e in store.quarter_events(quarter))
    assert store.quarter_state(quarter) == "open"
    accepted = process_file(settings, store, catalogue, drop(filled, settings, "again.xlsx"))
    assert accepted.status == "accepted"
    assert [s.outcome for s in store.submissions()] == ["rejected", "accepted"]


# -- the database file ----------------------------------------------------------------------------

ONLY_SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@ONLY_SQLITE
def test_an_emptied_store_in_a_folder_with_history_is_refused(home: Path, settings: Settings, store: Store,
                                                              catalogue: Catalogue, filled: Path) -> None:
    assert process_file(settings, store, catalogue, drop(filled, settings)).status == "accepted"
    store.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{settings.db_path}{suffix}").unlink(missing_ok=True)
    settings.db_path.write_bytes(b"")          # a failed copy or restore
    for command in (["history"], ["ingest"], ["status", "--quarter", "2017/18 Q2"]):
        r = kpiflow(home, *command)
        assert r.returncode == 2, (command, r.stdout, r.stderr)
        assert "kpiflow.db is empty (0 bytes), but this folder has history (1 received file in inbox/processed" \
               in r.stderr and "Restore kpiflow.db from a backup" in r.stderr
    assert settings.db_path.stat().st_size == 0


@ONLY_SQLITE
def test_an_empty_store_file_in_a_folder_without_history_is_a_new_store(home: Path, settings: Settings) -> None:
    settings.db_path.write_bytes(b"")
    r = kpiflow(home, "history")
    assert r.returncode == 0, r.stderr
    with SQLiteStore(settings.db_path) as s:
        assert s.schema_version() == len(MIGRATIONS)


NOBODY = 65534


def as_nobody(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KPIFLOW_HOME"} | {"COLUMNS": "200", "HOME": str(home)}
    return subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--",
                           sys.executable, "-m", "kpiflow", *args, "--home", str(home)],
                          capture_output=True, text=True, env=env, timeout=120, cwd=home)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="runs kpiflow as another user: needs root and setpriv")
def test_a_read_only_store_says_what_to_fix(tmp_path: Path) -> None:
    import tempfile

    from kpiflow.init import init_home

    can_run = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--",
                              sys.executable, "-c", "import kpiflow.cli"], capture_output=True, timeout=60, cwd="/")
    if can_run.returncode != 0:
        pytest.skip("the user nobody cannot run kpiflow from this checkout (it is in a folder only its owner can "
                    "read, e.g. a clone under a 0700 temporary folder)")

    # outside pytest's own 0700 temporary folder, so that another user can reach it
    base = Path(tempfile.mkdtemp(prefix="kpiflow-ro-"))
    try:
        base.chmod(0o755)
        home = base / "home"
        init_home(home, council="Blackpool Council")
        with SQLiteStore(home / "kpiflow.db") as s:
            load_example_history(s)
        for p in [base, *base.rglob("*")]:
            os.chown(p, NOBODY, NOBODY)
        db = home / "kpiflow.db"
        db.chmod(0o444)
        r = as_nobody(home, "history")
        assert r.returncode == 2, r.stdout + r.stderr
        assert r.stderr.startswith("Error: kpiflow.db is read-only") and "chmod ug+w kpiflow.db*" in r.stderr
        assert "Traceback" not in r.stderr
        # an older run left a read-only -shm behind: fixing kpiflow.db alone is not enough, and the message says so
        db.chmod(0o664)
        shm = home / "kpiflow.db-shm"
        shm.write_bytes(b"")
        os.chown(shm, NOBODY, NOBODY)
        shm.chmod(0o444)
        r = as_nobody(home, "history")
        assert r.returncode == 2 and r.stderr.startswith("Error: kpiflow.db-shm is read-only"), r.stderr
        shm.chmod(0o664)
        r = as_nobody(home, "history")
        assert r.returncode == 0, r.stderr
        home.chmod(0o555)
        r = as_nobody(home, "history")
        assert r.returncode == 2 and f"The folder {home} is read-only" in r.stderr, r.stderr
    finally:
        base.chmod(0o755)
        (base / "home").chmod(0o755)
        shutil.rmtree(base)


# -- PostgreSQL: lost connections, an unreachable server ---------------------------------------

ONLY_POSTGRESQL = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


@ONLY_POSTGRESQL
@pytest.mark.parametrize("how", ["connection-cut", "server-restart"])
def test_a_connection_lost_mid_ingest_leaves_the_return_absent_and_the_file_is_retried(
        how: str, settings: Settings, store: Store, catalogue: Catalogue, filled: Path, quarter: Period,
        pg_server: PgServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from kpiflow.errors import StoreUnavailable
    from kpiflow.pipeline import ingest, pending

    dropped = drop(filled, settings)
    before = scalar(store, "SELECT COUNT(*) FROM observations")
    real = store_base.Store._breakdown
    cut: list[bool] = []

    def cut_midway(self: Store, *args: object, **kwargs: object) -> None:
        if not cut:    # the figures are written; the transaction is not committed
            cut.append(True)
            if how == "server-restart":
                pg_server.restart()
            else:
                db = urlsplit(settings.store_url).path.lstrip("/")
                pg_server.psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}' "
                               "AND pid <> pg_backend_pid()")
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store_base.Store, "_breakdown", cut_midway)
    with pytest.raises(StoreUnavailable, match=r"lost the connection .*nothing of the change in hand was stored"):
        process_file(settings, store, catalogue, dropped)
    # nothing of the return, and the file waits in the working folder
    assert store.submissions() == []             # the store reconnects by itself
    assert scalar(store, "SELECT COUNT(*) FROM observations") == before
    [waiting] = pending(settings, store)
    # the next run finishes it, once
    assert [(o.file, o.status) for o in ingest(settings, store, catalogue, [])] == [(filled.name, "accepted")]
    assert [s.outcome for s in store.submissions()] == ["accepted"]
    assert store.series("CS01")[quarter].number == 531
    assert not waiting.exists() and pending(settings, store) == []


@pytest.mark.parametrize(("url", "names"), [
    ("postgresql://kpiflow:s3cret-pw@127.0.0.1:9/kpiflow", "127.0.0.1:9"),
    ("postgresql://kpiflow:s3cret-pw@127.0.0.1:notaport/kpiflow", "127.0.0.1:notaport"),
    ("postgresql://kpiflow@/kpiflow?host=/nonexistent/socket&password=s3cret-pw", "/nonexistent/socket"),
    ("mysql://kpiflow:s3cret-pw@dbhost/kpiflow", "mysql://kpiflow:***@dbhost/kpiflow"),
])
def test_postgresql_unreachable_or_a_bad_url_is_exit_2_naming_the_host_never_the_password(
        tmp_path: Path, url: str, names: str) -> None:
    from kpiflow.init import init_home

    home = tmp_path / "home"
    init_home(home)
    for args in (["history"], ["ingest"], ["watch", "--once"], ["status", "--quarter", "2017/18 Q2"]):
        r = run_kpiflow(*args, "--home", str(home), env={"KPIFLOW_DATABASE_URL": url})
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.startswith("Error: ") and names in r.stderr, r.stderr
        assert "s3cret" not in r.stdout + r.stderr and "Traceback" not in r.stderr
    assert not (home / "kpiflow.db").exists()


# -- kpiflow store copy -------------------------------------------------------------------------

def report_text(path: Path) -> list[str]:
    from docx import Document

    doc = Document(str(path))
    return [p.text for p in doc.paragraphs] + [c.text for t in doc.tables for row in t.rows for c in row.cells]


def everything(s: Store, catalogue: Catalogue, quarter: Period) -> dict[str, object]:
    ids = [i.id for i in catalogue.indicators]
    return {"submissions": s.submissions(), "series": {i: s.series(i) for i in ids}, "revisions": s.revisions(ids),
            "events": s.quarter_events(quarter), "state": s.quarter_state(quarter), "issued": s.issued(quarter),
            "texts": {i: s.texts(i, quarter) for i in ids}, "breakdown": {i: s.breakdown(i, quarter) for i in ids},
            "tables": {t: s.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in store_migrations.HISTORY_TABLES}}


def test_store_copy_moves_the_whole_history_to_the_other_kind_of_store_checked_row_for_row(
        backend: str, settings: Settings, store: Store, catalogue: Catalogue, filled: Path, quarter: Period,
        edit: Callable[..., Path], pg_server: PgServer, tmp_path: Path) -> None:
    from kpiflow.report.word import render_report

    # a quarter's worth of history: accepted, rejected, duplicate, superseded, a revision, words edited
    # at publish, published and reopened (unicode and quotes in the words)
    corrected = edit(filled, {"Return!F7": 530, "Supporting data!C4": 1978, "About!B4": "Zoë O'Brien"},
                     "corrected.xlsx")
    for src in (filled, edit(filled, {"Return!F7": "n/a"}, "bad.xlsx"), filled, corrected):
        process_file(settings, store, catalogue, drop(src, settings))
    store.set_text("CS01", quarter, "Edited \u201ccommentary\u201d & <more>", "Response\nover two lines", "report")
    store.record_quarter_event(quarter, "published", "clerk", json.dumps({"statuses": "frozen"}))
    store.record_quarter_event(quarter, "reopened", "J Smith", "CS01 corrected")
    before = everything(store, catalogue, quarter)

    if backend == "sqlite":      # SQLite to PostgreSQL
        to = pg_server.create_database(f"kpiflow_copy_{os.getpid()}_{tmp_path.name[-20:]}".replace("-", "_"))
        dest_toml = f'[store]\nurl = "{to}"\n'
    else:                         # and back from PostgreSQL to SQLite
        to = str(tmp_path / "copy" / "kpiflow.db")
        dest_toml = f'[store]\nurl = "sqlite:{to}"\n'
    r = kpiflow(settings.home, "store", "copy", "--to", to, "--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["checked"] is True and result["rows"] == before["tables"]

    dest_home = tmp_path / "dest"
    shutil.copytree(settings.home, dest_home, ignore=shutil.ignore_patterns("kpiflow.db*"))
    (dest_home / "kpiflow.toml").write_text(f'council = "{settings.council}"\n{dest_toml}', encoding="utf-8")
    dest_settings = load_settings(dest_home)
    with open_store(dest_settings) as dest:
        assert dest.kind != store.kind
        assert everything(dest, catalogue, quarter) == before
        # the same report text from either
        assert report_text(render_report(dest_settings, dest, catalogue, quarter)) == report_text(
            render_report(settings, store, catalogue, quarter))
        # and the copy takes new returns, numbering on after the copied rows
        again = process_file(dest_settings, dest, catalogue, drop(edit(filled, {"About!B4": "Later"}, "later.xlsx"),
                                                                    dest_settings))
        assert again.status == "accepted"
        assert again.submission_id == max(s.id for s in before["submissions"]) + 1  # type: ignore[attr-defined]
    # a store that holds a history is never copied into
    r = kpiflow(settings.home, "store", "copy", "--to", to)
    assert r.returncode == 2 and "already holds a history" in r.stderr and "nothing was copied" in r.stderr
    r = kpiflow(settings.home, "store", "copy", "--to", settings.store_url or str(settings.db_path))
    assert r.returncode == 2 and "own store" in r.stderr


def test_a_copy_that_does_not_match_its_original_is_not_kept(settings: Settings, store: Store, catalogue: Catalogue,
                                                            filled: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import kpiflow.store.copy as copy_module

    process_file(settings, store, catalogue, drop(filled, settings))
    real = copy_module._insert

    def slightly_off(dest: Store, table: str, cols: list[str], rows: list[tuple[object, ...]]) -> None:
        if table == "observations" and rows:
            i = cols.index("rate")
            rows = [(*rows[0][:i], 1.0000000001 + float(rows[0][i] or 0), *rows[0][i + 1:]), *rows[1:]]
        real(dest, table, cols, rows)  # type: ignore[arg-type]

    monkeypatch.setattr(copy_module, "_insert", slightly_off)
    target = tmp_path / "copy.db"
    with pytest.raises(KpiflowError, match=r"the copy of observations row \d+ differs in rate; nothing was copied"):
        copy_module.copy_history(settings, str(target))
    with SQLiteStore(target) as dest:       # the destination is left empty, ready for another try
        assert all(scalar(dest, f"SELECT COUNT(*) FROM {t}") == 0 for t in store_migrations.HISTORY_TABLES)
    monkeypatch.setattr(copy_module, "_insert", real)
    assert copy_module.copy_history(settings, str(target)).rows["submissions"] == 1
