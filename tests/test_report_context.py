"""The report as data (kpiflow/report/context.py) and the one read of a quarter it is made from
(kpiflow/report/gather.py): every figure the paper shows is in the context, as printed and as a
number; the quarter is read, assessed and its accepted returns fetched once per command."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from docx_helpers import body_blocks, table_rows

from kpiflow.catalogue import load_checked_catalogue
from kpiflow.demo import DemoResult
from kpiflow.periods import parse_period
from kpiflow.report.context import (
    ReportContext,
    build_context,
    describe,
    sample_snapshot,
)
from kpiflow.report.gather import gather
from kpiflow.settings import load_settings
from kpiflow.store import Store, open_store

Q2 = parse_period("2017/18 Q2")
TODAY = dt.date(2017, 10, 14)


def _context(demo: DemoResult, **kw: Any) -> ReportContext:
    settings = load_settings(demo.home)
    catalogue = load_checked_catalogue(settings)
    with open_store(settings) as store:
        snap = gather(settings, store, catalogue, Q2)
    return build_context(snap, settings.council, settings.rules, TODAY, **kw)


def test_the_context_holds_every_figure_as_printed_and_as_a_number(fresh: DemoResult) -> None:
    ctx = _context(fresh)
    assert [e.id for e in ctx.exceptions] == ["CS01", "CS02", "CS03"]
    cs01 = ctx.exceptions[0]
    v = cs01.values
    assert [c.period for c in v.cells] == ["2015/16", "2016/17", "2017/18 Q1", "2017/18 Q2", "2017/18 Q3",
                                           "2017/18 Q4"]
    # what the paper prints, and the numbers behind it
    for c in v.cells[:4]:
        assert c.number is not None and c.rate is not None
        assert c.text == f"{c.number:,.0f} ({c.rate:.1f})"
    assert [c.text for c in v.cells[4:]] == ["", ""] and v.cells[4].number is None
    assert (v.target, v.target_value, v.target_in_force) == ("No Target Set", None, None)
    # each chart: its series' values and its alternative text
    assert cs01.charts and all(ch.alt_text == describe(ch.spec) for ch in cs01.charts)
    assert all(any(x is not None for _, values in ch.spec.series for x in values) for ch in cs01.charts)
    assert [s.id for s in ctx.summary] == ["CS01", "CS02", "CS03"] and ctx.key
    with pytest.raises(dataclasses.FrozenInstanceError):
        cs01.rag = "Green"  # type: ignore[misc]


def test_the_word_draft_prints_what_the_context_holds(fresh: DemoResult) -> None:
    ctx = _context(fresh)
    tables = [table_rows(b) for b in body_blocks(fresh.report) if not isinstance(b, str)]
    for e in ctx.exceptions:
        row = [e.values.row_label, *(c.text for c in e.values.cells), e.values.target]
        assert row in [r for t in tables for r in t], e.id
    summary = next(t for t in tables if t[0][0] == "Indicator")
    assert len(summary) == len(ctx.summary) + 1


def test_kept_words_replace_the_stored_ones_and_are_marked_as_kept(fresh: DemoResult) -> None:
    ctx = _context(fresh, kept={("CS02", "commentary"): "Our own words.\n\nSecond paragraph."})
    cs02 = next(e for e in ctx.exceptions if e.id == "CS02")
    assert (cs02.commentary, cs02.commentary_kept, cs02.commentary_drafted) == (
        ("Our own words.", "Second paragraph."), True, False)
    assert not cs02.response_kept
    other = next(e for e in _context(fresh).exceptions if e.id == "CS02")
    assert cs02.response == other.response


def test_the_template_checks_sample_is_a_real_context() -> None:
    ctx = build_context(sample_snapshot(), "Council", load_settings_rules(), TODAY, charts=False)
    variables = ctx.template_variables()
    assert variables["exceptions"][0]["breakdown"] == [{"category": "Under 1", "number": "1"}]
    assert variables["outstanding"][0]["indicators"] == "CS02"
    assert variables["summary"][0]["id"] == "CS01"


def load_settings_rules() -> Any:
    from kpiflow.settings import Rules

    return Rules()


def _count(monkeypatch: pytest.MonkeyPatch, target: Any, name: str) -> list[int]:
    calls = [0]
    original = getattr(target, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, counted)
    return calls


def test_keep_edits_assesses_the_quarter_once(fresh: DemoResult, monkeypatch: pytest.MonkeyPatch) -> None:
    import kpiflow.report.gather as gathering
    from kpiflow.report import make_report

    assessed = _count(monkeypatch, gathering, "assess")
    fetched = _count(monkeypatch, Store, "accepted_submission")
    result = make_report(load_settings(fresh.home), Q2, keep_edits=fresh.report)
    assert result.ok and assessed[0] == 1
    assert fetched[0] == 1                 # the demo has one service: its accepted return, read once


def test_publish_reads_the_quarter_once_before_its_last_look_under_the_lock(
        fresh: DemoResult, monkeypatch: pytest.MonkeyPatch) -> None:
    import kpiflow.report.gather as gathering
    from kpiflow.publish import publish

    assessed = _count(monkeypatch, gathering, "assess")
    fetched = _count(monkeypatch, Store, "accepted_submission")
    settings = load_settings(fresh.home)
    with open_store(settings) as store:
        result = publish(settings, store, load_checked_catalogue(settings), Q2, fresh.report, "clerk")
    assert result.ok, result.lines
    # once for the checks and the manifest, and once more under the store's write lock, where a
    # return accepted while the files were built is looked for
    assert (assessed[0], fetched[0]) == (2, 2)


def test_status_reads_no_words(fresh: DemoResult, monkeypatch: pytest.MonkeyPatch) -> None:
    from kpiflow.status import status

    texts = _count(monkeypatch, Store, "texts")
    got = status(load_settings(fresh.home), Q2)
    assert [a.indicator.id for a in got.exceptions] == ["CS01", "CS02", "CS03"] and texts[0] == 0


def test_a_snapshot_is_not_taken_inside_a_transaction(fresh: DemoResult) -> None:
    from kpiflow.errors import KpiflowError

    settings = load_settings(fresh.home)
    catalogue = load_checked_catalogue(settings)
    with open_store(settings) as store, store.transaction():
        with pytest.raises(KpiflowError):
            gather(settings, store, catalogue, Q2)
        assert gather(settings, store, catalogue, Q2, snapshot=False).has_figures


