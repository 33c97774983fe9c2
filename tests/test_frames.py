"""The history for analysts: kpiflow.frames.history() and kpiflow export, read back with pandas."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from ees import LAC, write_cla, write_neighbours
from test_cli import kpiflow

from kpiflow.comparators import import_comparators
from kpiflow.frames import COLUMNS, export_history, history, pandas_periods
from kpiflow.model import Figures
from kpiflow.periods import parse_period
from kpiflow.settings import Settings, load_settings
from kpiflow.store import FIGURES, SQLiteStore, Store


@pytest.fixture
def revised(home: Path, store: Store, tmp_path: Path) -> Settings:
    """The example history, then the Department's comparators for CS01 (revising four years) and a
    corrected CS02 figure."""
    store.load_history([("CS02", parse_period("2016/17 Q2"), Figures(number=790))], "correction")
    store.close()
    toml = home / "kpiflow.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('# la_code = ""', 'la_code = "890"'), encoding="utf-8")
    settings = load_settings(home)
    done = import_comparators(settings, write_cla(tmp_path / "cla_la.csv"), "CS01", "rate_per_10000",
                              [("population_type", LAC)], write_neighbours(tmp_path / "SN.csv"))
    assert done.ok
    return settings


def test_history_is_one_tidy_table(revised: Settings) -> None:
    df = history(revised.home)
    assert list(df.columns) == [*COLUMNS[:3], "year", "quarter", "month", *COLUMNS[3:]]
    assert str(df["value"].dtype) == "float64" and str(df["current"].dtype) == "bool"
    assert str(df["submission"].dtype) == "Int64" and str(df["recorded_at"].dt.tz) == "UTC"
    row = df[(df.indicator == "CS01") & (df.period == "2016/17") & (df.figure == "statneigh")]
    assert row[["value", "current", "source"]].values.tolist() == [
        [101.0, False, "example history"],
        [111.4, True, "comparators cla_la.csv; statistical neighbours from SN.csv"]]
    # a value the file confirms (England's 62) is not recorded again
    en = df[(df.indicator == "CS01") & (df.period == "2016/17") & (df.figure == "england")]
    assert en[["value", "current"]].values.tolist() == [[62.0, True]]


def test_financial_year_quarters_are_pandas_periods_named_by_the_year_they_end_in(revised: Settings) -> None:
    df = history(revised.home)
    quarters = df[df.kind == "quarter"].set_index("quarter")
    assert isinstance(quarters.index, pd.PeriodIndex) and quarters.index.freqstr == "Q-MAR"
    q = df[(df.indicator == "CS01") & (df.period == "2017/18 Q1")].iloc[0]
    assert q.quarter == pd.Period("2018Q1", freq="Q-MAR")
    assert (q.quarter.start_time.date().isoformat(), q.quarter.end_time.date().isoformat()) == ("2017-04-01",
                                                                                                "2017-06-30")
    assert q.year == pd.Period("2018", freq="Y-MAR") and pd.isna(q.month)
    m = df[(df.indicator == "CS03") & (df.period == "2017-06")].iloc[0]
    assert (m.kind, m.month, pd.isna(m.quarter), m.year) == ("month", pd.Period("2017-06", "M"), True,
                                                             pd.Period("2018", "Y-MAR"))
    y = df[(df.period == "2016/17")].iloc[0]
    assert y.year.start_time.date().isoformat() == "2016-04-01" and pd.isna(y.quarter)
    assert pandas_periods(parse_period("2017/18 Q2"))[1] == pd.Period("2018Q2", freq="Q-MAR")


def test_the_current_values_are_the_stores_own(revised: Settings) -> None:
    df = history(revised.home)
    current = df[df.current]
    assert not current.duplicated(["indicator", "period", "figure"]).any()
    with SQLiteStore(revised.db_path) as s:
        expected = {(iid, p.label, f): getattr(figs, f) for iid in ("CS01", "CS02", "CS03")
                    for p, figs in s.series(iid).items() for f in FIGURES if getattr(figs, f) is not None}
        revisions = s.revisions(["CS01", "CS02", "CS03"])
    assert {(r.indicator, r.period, r.figure): r.value for r in current.itertuples()} == expected
    # every earlier value the store's audit trail lists as revised is there, not current
    earlier = {(r.indicator, r.period, r.figure, r.value) for r in df[~df.current].itertuples()}
    assert {(r.indicator_id, r.period, r.figure, r.old) for r in revisions} <= earlier
    assert ("CS02", "2016/17 Q2", "number", 781.0) in earlier


def read_back(path: Path, fmt: str) -> pd.DataFrame:
    if fmt == "csv":
        df = pd.read_csv(path, dtype={"submission": "Int64"})
        df["recorded_at"] = pd.to_datetime(df["recorded_at"], utc=True)
    elif fmt == "xlsx":
        df = pd.read_excel(path, sheet_name="History", dtype={"submission": "Int64"})
        assert df.columns[7] == "recorded_at (UTC)"
        df = df.rename(columns={"recorded_at (UTC)": "recorded_at"})
        df["recorded_at"] = pd.to_datetime(df["recorded_at"]).dt.tz_localize("UTC")
    else:
        df = pd.read_parquet(path)
    if fmt != "parquet":
        df["priority"] = ["" if pd.isna(v) else v for v in df["priority"]]     # an empty cell reads back as NaN
    return df


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
def test_the_export_reads_back_with_pandas(revised: Settings, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"history.{fmt}"
    done = export_history(revised, fmt, out)
    expected = history(revised.home)[list(COLUMNS)]
    assert (done.path, done.values, done.indicators) == (out, len(expected), 3)
    got = read_back(out, fmt)
    assert list(got.columns) == list(COLUMNS)
    for col in COLUMNS:
        left, right = got[col].tolist(), expected[col].tolist()
        if col == "recorded_at":
            left, right = [t.isoformat() for t in got[col]], [t.isoformat() for t in expected[col]]
        elif col == "submission":
            left, right = [None if pd.isna(v) else int(v) for v in left], [None if pd.isna(v) else int(v)
                                                                            for v in right]
        assert left == right, col


def test_the_export_and_the_frame_carry_each_indicators_priority(revised: Settings, tmp_path: Path) -> None:
    from dataclasses import replace

    from kpiflow.catalogue import load_catalogue
    from kpiflow.workbook.build import write_catalogue

    catalogue = load_catalogue(revised.catalogue_path)[0]
    given = {"CS01": "Children are safe", "CS02": "Children are safe"}
    write_catalogue(revised.catalogue_path, replace(catalogue, indicators=tuple(
        replace(i, priority=given.get(i.id, "")) for i in catalogue.indicators)))
    df = history(revised.home)
    assert dict(zip(df["indicator"], df["priority"], strict=True)) == {
        i.id: given.get(i.id, "") for i in catalogue.indicators if i.id in set(df["indicator"])}
    out = export_history(revised, "csv", tmp_path / "h.csv").path
    back = read_back(out, "csv")
    assert set(back.loc[back["indicator"] == "CS01", "priority"]) == {"Children are safe"}
    assert set(back.loc[~back["indicator"].isin(given), "priority"]) == {""}


def test_text_that_looks_like_a_formula_stays_text_in_the_workbook(revised: Settings, tmp_path: Path) -> None:
    with SQLiteStore(revised.db_path) as s:
        s.load_history([("CS02", parse_period("2017/18 Q1"), Figures(number=630))], '=HYPERLINK("http://x","y")')
    out = export_history(revised, "xlsx", tmp_path / "h.xlsx").path
    ws = openpyxl.load_workbook(out)["History"]
    cells = [c for row in ws.iter_rows() for c in row if str(c.value).startswith("=HYPERLINK")]
    assert cells and all(c.data_type == "s" for c in cells)


def test_the_export_command(revised: Settings) -> None:
    r = kpiflow("export", home=revised.home)
    assert r.returncode == 0, r.stderr
    [written] = list((revised.outbox / "exports").iterdir())
    assert written.name.startswith("kpiflow-history-") and written.suffix == ".csv"
    assert r.stdout.startswith("Exported ") and str(written) in r.stdout
    again = json.loads(kpiflow("export", "--format", "xlsx", "--json", home=revised.home).stdout)
    assert again["format"] == "xlsx" and again["values"] == len(pd.read_csv(written))
    assert again["revised"] == again["values"] - again["current"] > 0
    kpiflow("export", home=revised.home)
    assert len(list((revised.outbox / "exports").glob("*.csv"))) == 2     # a second export never replaces the first
    r = kpiflow("export", "--format", "csv", "--out", "h.xlsx", home=revised.home)
    assert r.returncode == 2 and "make them agree" in r.stderr
    r = kpiflow("export", "--format", "json", home=revised.home)
    assert r.returncode == 2 and "use csv, xlsx or parquet" in r.stderr
    out = revised.home / "history.parquet"
    assert kpiflow("export", "--out", str(out), home=revised.home).returncode == 0
    assert len(pd.read_parquet(out)) == again["values"]


def test_an_empty_store_exports_the_headings(settings: Settings, tmp_path: Path) -> None:
    with SQLiteStore(settings.db_path):
        pass
    done = export_history(settings, "csv", tmp_path / "empty.csv")
    assert done.values == 0 and "has the column headings only" in done.lines()[0]
    assert list(pd.read_csv(done.path).columns) == list(COLUMNS)
    assert history(settings.home).empty


def test_importing_the_modules_does_not_import_pandas() -> None:
    code = "import sys, kpiflow.comparators, kpiflow.frames; print('pandas' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "False"
