"""Ingest: one shared process_file for ingest and watch; real files, a real SQLite store."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from kpiflow.catalogue import Catalogue
from kpiflow.periods import Period, parse_period
from kpiflow.pipeline import ingest, process_file
from kpiflow.settings import Settings
from kpiflow.store import Store


def drop(src: Path, settings: Settings, name: str | None = None) -> Path:
    dest = settings.inbox / (name or src.name)
    shutil.copyfile(src, dest)
    return dest


def count(store: Store, table: str) -> int:
    return int(store.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_an_accepted_return_is_stored_moved_and_fed_back(settings: Settings, store: Store, catalogue: Catalogue,
                                                         filled: Path, quarter: Period) -> None:
    dropped = drop(filled, settings)
    outcome = process_file(settings, store, catalogue, dropped)
    assert outcome.status == "accepted"
    assert not dropped.exists()
    assert outcome.kept_as == settings.processed / filled.name
    assert outcome.kept_as.read_bytes() == filled.read_bytes()
    series = store.series("CS01")
    assert (series[quarter].number, series[quarter].rate) == (531, 185.6)
    assert store.series("CS03")[parse_period("2017-09")].rate == 675.4
    assert store.breakdown("CS01", quarter)[0] == ("Under 1", 39)
    assert store.texts("CS02", quarter) is not None
    sub = store.accepted_submission("Children's Services", quarter)
    assert sub is not None and sub.completed_by == "Children's Services performance lead"
    assert len(sub.sha256) == 64
    text = outcome.feedback[0].read_text(encoding="utf-8")
    assert "ACCEPTED" in text and outcome.feedback[0].parent == settings.feedback_dir


def test_a_rejected_return_changes_nothing_in_the_store(settings: Settings, store: Store, catalogue: Catalogue,
                                                        filled: Path, edit: Callable[..., Path]) -> None:
    before = (count(store, "observations"), count(store, "texts"), count(store, "breakdowns"))
    dropped = drop(edit(filled, {"Return!F7": "n/a"}), settings)
    outcome = process_file(settings, store, catalogue, dropped)
    assert outcome.status == "rejected"
    assert (settings.rejected / filled.name).exists()
    assert (count(store, "observations"), count(store, "texts"), count(store, "breakdowns")) == before
    feedback = outcome.feedback[0].read_text(encoding="utf-8")
    assert "REJECTED" in feedback and "Return!F7" in feedback
    assert [s.outcome for s in store.submissions()] == ["rejected"]


def test_the_same_file_twice_is_stored_once(settings: Settings, store: Store, catalogue: Catalogue,
                                            filled: Path) -> None:
    first = process_file(settings, store, catalogue, drop(filled, settings))
    n = count(store, "observations")
    second = process_file(settings, store, catalogue, drop(filled, settings))
    assert (first.status, second.status) == ("accepted", "duplicate")
    assert count(store, "observations") == n
    # both originals kept, neither overwritten
    assert {p.name for p in settings.processed.iterdir()} == {filled.name, f"{filled.stem} (2).xlsx"}
    assert len(list(settings.feedback_dir.iterdir())) == 2


def test_a_later_return_supersedes_and_revises(settings: Settings, store: Store, catalogue: Catalogue,
                                               filled: Path, quarter: Period, edit: Callable[..., Path]) -> None:
    process_file(settings, store, catalogue, drop(filled, settings))
    corrected = edit(filled, {"Return!F7": 530, "Return!G7": 185.3,
                              "Supporting data!C4": 1978, "Supporting data!D4": 691.5})
    out = process_file(settings, store, catalogue, drop(corrected, settings, "corrected.xlsx"))
    assert out.status == "accepted"
    subs = store.submissions("Children's Services", quarter)
    assert subs[0].superseded_by == subs[1].id and subs[1].superseded_by is None
    assert store.series("CS01")[quarter].number == 530
    revs = store.revisions(["CS01", "CS03"])
    assert {(r.indicator_id, r.period, r.figure, r.old, r.new) for r in revs} == {
        ("CS01", "2017/18 Q2", "number", 531, 530), ("CS01", "2017/18 Q2", "rate", 185.6, 185.3),
        ("CS03", "2017-07", "number", 1977, 1978), ("CS03", "2017-07", "rate", 691.2, 691.5)}
    assert all(r.source == "return corrected.xlsx" for r in revs)


def test_ingest_finishes_files_left_in_the_working_folder(settings: Settings, store: Store, catalogue: Catalogue,
                                                          filled: Path) -> None:
    # a process killed after claiming a file leaves it in inbox/.working; the next run finishes it
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    left = settings.work_dir / f"20171016-123--{filled.name}"
    shutil.copyfile(filled, left)
    outcomes = ingest(settings, store, catalogue, [])
    assert [(o.file, o.status) for o in outcomes] == [(filled.name, "accepted")]
    assert not any(settings.work_dir.iterdir())


def test_a_claimed_file_is_not_taken_twice(settings: Settings, store: Store, catalogue: Catalogue,
                                           filled: Path) -> None:
    dropped = drop(filled, settings)
    from kpiflow.pipeline import claim

    assert claim(settings, dropped) is not None
    assert claim(settings, dropped) is None
    assert process_file(settings, store, catalogue, dropped).status == "skipped"


def test_a_published_quarter_refuses_returns(settings: Settings, store: Store, catalogue: Catalogue,
                                             filled: Path, quarter: Period) -> None:
    store.record_quarter_event(quarter, "published", "clerk", "")
    out = process_file(settings, store, catalogue, drop(filled, settings))
    assert out.status == "rejected"
    assert out.problems.locations() == [("About", "", "quarter-published")]
    assert "kpiflow reopen" in out.problems.problems[0].message


def test_file_names_cannot_escape_their_folders() -> None:
    from kpiflow.files import safe_name

    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("C:\\Windows\\evil.xlsx") == "evil.xlsx"
    assert safe_name("CON.xlsx") == "_CON.xlsx"
    assert safe_name("..") == "file"
    assert len(safe_name("x" * 500 + ".xlsx")) <= 120
