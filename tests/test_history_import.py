"""kpiflow history import and template (kpiflow/history_import.py), and history --indicator: real CSV
and xlsx files, a real store (SQLite and PostgreSQL: ids sqlite, postgresql), the command line in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from kpiflow.cli import app
from kpiflow.history_import import HEADERS, MAX_FILE_BYTES, import_history
from kpiflow.model import Figures
from kpiflow.periods import parse_period
from kpiflow.settings import Settings
from kpiflow.store import Store, open_store

pytestmark = pytest.mark.backends

HEAD = "Indicator ID,Period,Number,Rate,Statistical neighbours,England,Source\n"


def run(home: Path, *args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, [*args, "--home", str(home)])
    return r.exit_code, r.output


def run_process(home: Path, *args: str) -> tuple[int, str]:
    """Through kpiflow's entry point, where a failure of the run becomes "Error: ..." and exit 2."""
    env = {k: v for k, v in os.environ.items() if k != "KPIFLOW_HOME"}
    r = subprocess.run([sys.executable, "-m", "kpiflow", *args, "--home", str(home)], capture_output=True, text=True,
                       env=env, timeout=120)
    return r.returncode, r.stdout + r.stderr


def write(tmp_path: Path, text: str, name: str = "history.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def count(settings: Settings) -> int:
    with open_store(settings) as s:
        return int(s.query("SELECT COUNT(*) FROM observations")[0][0])


def test_a_tidy_csv_is_stored_with_the_file_as_source_and_a_second_import_is_a_duplicate(
        settings: Settings, tmp_path: Path) -> None:
    f = write(tmp_path, HEAD + "CS01,2022/23,420,146.8,90.5,70,SSDA903 2023\n"
                               "cs01,2023/24,441,153.1,93,71,\n"
                               "CS02,2023/24 Q1,820,,,,\n"
                               "CS03,2024-03,2118,738.4,,,\n")
    code, out = run(settings.home, "history", "import", str(f))
    assert code == 0, out
    assert "4 rows for 3 indicators; 4 stored" in out
    with open_store(settings) as s:
        series = s.series("CS01")
        assert series[parse_period("2022/23")].statneigh == 90.5
        assert series[parse_period("2023/24")].number == 441      # IDs matched ignoring case
        assert s.series("CS03")[parse_period("2024-03")].rate == 738.4
        sources = {r["period"]: r["source"] for r in s.observation_rows() if r["indicator_id"] == "CS01"}
    assert sources == {"2022/23": "history import history.csv: SSDA903 2023", "2023/24": "history import history.csv"}
    n = count(settings)
    code, out = run(settings.home, "history", "import", str(f))
    assert code == 0 and "already imported" in out and "nothing was stored again" in out
    assert count(settings) == n
    code, out = run(settings.home, "history", "import", str(f), "--json")
    doc = json.loads(out)
    assert doc["duplicate"] is True and doc["stored"] is False and doc["written"] == 0
    code, out = run(settings.home, "history")
    assert code == 0 and "import #1 " in out and "history.csv: 4 rows, 4 stored (sha256 " in out


def test_a_figure_that_differs_from_the_store_is_a_revision_with_the_file_as_source(
        settings: Settings, store: Store, tmp_path: Path) -> None:
    store.close()
    f = write(tmp_path, HEAD + "CS01,2016/17,526,183.3,,,corrected\n")
    done = import_history(settings, f)
    assert done.ok and done.written == 1
    with open_store(settings) as s:
        revs = {(r.period, r.figure, r.old, r.new, r.source) for r in s.revisions(["CS01"])}
    assert ("2016/17", "number", 525, 526, "history import history.csv: corrected") in revs
    code, out = run(settings.home, "history", "--indicator", "cs01")
    assert code == 0
    assert "  2016/17: number 526, rate 183.3, statistical neighbours 101, England 62 (history import history.csv: " \
           "corrected" in out
    assert "revision" in out and "2016/17 number: 525 -> 526" in out


def test_history_indicator_lists_the_figures_held_even_without_revisions(settings: Settings, store: Store) -> None:
    store.close()
    code, out = run(settings.home, "history", "--indicator", "CS02")
    assert code == 0
    assert "No history yet." not in out
    assert "Figures held for CS02: 5 periods" in out
    assert "  2016/17 Q1: number 820 (example history, " in out
    code, out = run_process(settings.home, "history", "--indicator", "XX99")
    assert code == 2 and '"XX99" is not an indicator in the catalogue' in out
    # the command is still a command as well as a group
    assert run(settings.home, "history")[0] == 0
    assert run(settings.home, "history", "--service", "Children's Services")[0] == 0


def test_every_problem_is_located_and_nothing_is_stored(settings: Settings, tmp_path: Path) -> None:
    f = write(tmp_path, HEAD +
              "CS01,2022/23,420,146.8,90.5,70,\n"        # row 2: fine
              "XX01,2022/23,1,,,,\n"                     # 3: unknown indicator
              "CS01,2022/23 Q5,1,,,,\n"                  # 4: bad period
              "CS01,2021/22,-4,146.8,,,\n"               # 5: negative
              "CS01,2020/21,inf,146.8,,,\n"              # 6: infinity
              "CS02,2021/22,85%,,,,\n"                   # 7: a percentage as text
              "CS02,2020/21,10,5,,,\n"                   # 8: a rate for a number indicator
              "CS01,2019/20,420,14680,,,\n"              # 9: a rate above its base
              "CS01,2022/23,421,147.1,,,\n"              # 10: a second row for the period
              "CS01,2030/31,1,1,,,\n"                    # 11: a period not over yet
              ",2022/23,5,,,,\n"                         # 12: no indicator
              "CS03,2018/19,2000,900,,,\n"               # 13 and 14: a rate that does not fit its number
              "CS03,2019/20,2000,700,,,\n")
    before = count(settings)
    code, out = run(settings.home, "history", "import", str(f), "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["stored"] is False
    assert [(p["location"], p["code"]) for p in doc["problems"]] == [
        ("history.csv!A3", "unknown-indicator"),
        ("history.csv!B4", "bad-period"),
        ("history.csv!C5", "negative-value"),
        ("history.csv!C6", "not-a-number"),
        ("history.csv!C7", "not-a-number"),
        ("history.csv!D8", "unexpected-figure"),
        ("history.csv!D9", "out-of-range"),
        ("history.csv!B10", "duplicate-period"),
        ("history.csv!B11", "future-period"),
        ("history.csv!A12", "missing-value"),
        ("history.csv!D14", "rate-inconsistent"),
    ]
    assert "Type 85, without the % sign" in doc["problems"][4]["message"]
    assert count(settings) == before
    code, out = run(settings.home, "history", "import", str(f))
    assert code == 1 and "Nothing was stored" in out and "history.csv!B4  error  bad-period" in out


def test_a_missing_heading_and_a_file_that_is_not_a_table_are_refused(settings: Settings, tmp_path: Path) -> None:
    f = write(tmp_path, "Indicator ID,Period,Number,Rate,England\nCS01,2022/23,1,1,1\n")
    done = import_history(settings, f)
    assert done.result.locations() == [("history.csv", "1:1", "missing-header")]
    assert '"Statistical neighbours"' in done.result.problems[0].message
    z = tmp_path / "fake.csv"
    z.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    assert [p.code for p in import_history(settings, z).result.problems] == ["not-csv"]


def test_a_file_over_256_mb_is_refused_before_it_is_read(settings: Settings, tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    with big.open("wb") as fh:
        fh.write(HEAD.encode())
        fh.truncate(MAX_FILE_BYTES + 1)      # sparse: nothing of it is ever read
    code, out = run(settings.home, "history", "import", str(big))
    assert code == 1 and "file-too-large" in out


def test_a_long_csv_is_read_in_bounded_memory(settings: Settings, tmp_path: Path) -> None:
    """One line 200 MB long (no newline) is refused at its line; the process stays under 300 MB."""
    f = tmp_path / "one-line.csv"
    with f.open("wb") as fh:
        fh.write(HEAD.encode())
        chunk = b"9" * (1 << 20)
        for _ in range(200):
            fh.write(chunk)
    script = ("import json, sys; from pathlib import Path; from kpiflow.settings import load_settings; "
              "from kpiflow.history_import import import_history; "
              f"d = import_history(load_settings(Path({str(settings.home)!r})), Path({str(f)!r})); "
              # VmHWM: this program's own peak (ru_maxrss would count the pytest process it was forked from)
              "hwm = [int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM')][0]; "
              "print(json.dumps([d.result.locations(), hwm]))")
    env = {k: v for k, v in os.environ.items() if k != "KPIFLOW_HOME"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    locations, peak_kb = json.loads(proc.stdout)
    assert [tuple(x) for x in locations] == [("one-line.csv", "A2", "too-many-rows")]
    assert 0 < peak_kb < 300 * 1024


def test_the_template_is_a_formula_free_workbook_that_imports_once_filled(settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "history.xlsx"
    code, text = run(settings.home, "history", "template", "--out", str(out))
    assert code == 0 and str(out) in text
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["History", "Indicators", "Guidance"]
    ws = wb["History"]
    assert [c.value for c in ws[1]] == [*HEADERS, "Source"]
    assert [r[0] for r in wb["Indicators"].iter_rows(min_row=2, values_only=True)] == ["CS01", "CS02", "CS03"]
    assert not any(isinstance(c.value, str) and c.value.startswith("=") and c.data_type == "f"
                   for sheet in wb for row in sheet.iter_rows() for c in row)
    # an empty template imports nothing, and says so
    done = import_history(settings, out)
    assert not done.ok and [p.code for p in done.result.problems] == ["missing-value"]
    for r, row in enumerate((("CS02", "2015/16", 3001, None, None, None, "=cmd|' /C calc'!A0"),
                             ("CS02", "2014/15", "n/a", None, None, None, None)), start=2):
        for c, v in enumerate(row, start=1):
            ws.cell(row=r, column=c, value=v)
    ws.cell(row=2, column=7).data_type = "s"
    wb.save(out)
    done = import_history(settings, out)
    assert done.result.locations() == [("History", "C3", "not-a-number")]
    ws.delete_rows(3)
    wb.save(out)
    done = import_history(settings, out)
    assert done.ok and done.written == 1
    with open_store(settings) as s:
        src = [r["source"] for r in s.observation_rows() if r["period"] == "2015/16" and r["indicator_id"] == "CS02"]
    assert src == ["history import history.xlsx: =cmd|' /C calc'!A0"]    # kept as text, never run
    # the template is not written over
    code, text = run_process(settings.home, "history", "template", "--out", str(out))
    assert code == 2 and "exists already" in text


def test_the_template_filled_and_saved_by_libreoffice_imports_as_xlsx_and_as_csv(settings: Settings,
                                                                                 tmp_path: Path) -> None:
    from helpers import uno, uno_available

    if not uno_available():
        pytest.skip("needs LibreOffice (soffice) and a system python3 with python3-uno")
    template = tmp_path / "template.xlsx"
    assert run(settings.home, "history", "template", "--out", str(template))[0] == 0
    cells = [["History", "A2", "CS01"], ["History", "B2", "2012/13"], ["History", "C2", 430],
             ["History", "D2", 149.3], ["History", "E2", 91.5], ["History", "F2", 60],
             ["History", "G2", "Council archive, 2013"],
             ["History", "A3", "CS02"], ["History", "B3", "2012/13 Q4"], ["History", "C3", 700]]
    xlsx = tmp_path / "calc" / "history.xlsx"
    uno("calc-fill", {"src": template, "out": xlsx, "cells": cells})
    done = import_history(settings, xlsx)
    assert done.ok, done.result.render_text()
    assert [(r.indicator_id, r.period.label, r.figures, r.source) for r in done.rows] == [
        ("CS01", "2012/13", Figures(430, 149.3, 91.5, 60),
         "history import history.xlsx: Council archive, 2013"),
        ("CS02", "2012/13 Q4", Figures(700), "history import history.xlsx")]
    csv_file = tmp_path / "calc" / "history.csv"
    uno("calc-fill", {"src": template, "out": csv_file, "cells": cells, "filter": "Text - txt - csv (StarCalc)"})
    first = csv_file.read_text(encoding="utf-8", errors="replace").splitlines()[0]
    assert first.startswith("Indicator ID,Period,Number,Rate")
    again = import_history(settings, csv_file)
    # the same figures as the workbook gave: stored once, so the CSV adds nothing
    assert again.ok and again.written == 0 and len(again.rows) == 2, again.result.render_text()


def test_store_copy_carries_the_record_of_each_import(settings: Settings, tmp_path: Path) -> None:
    f = write(tmp_path, HEAD + "CS02,2012/13,3050,,,,\n")
    done = import_history(settings, f)
    assert done.ok and done.stored
    code, out = run(settings.home, "store", "copy", "--to", f"sqlite:{tmp_path / 'copy.db'}")
    assert code == 0, out
    from kpiflow.store import SQLiteStore

    with SQLiteStore(tmp_path / "copy.db") as copy:
        earlier = copy.history_import(done.sha256)
    assert earlier is not None and earlier["file_name"] == "history.csv" and earlier["rows_written"] == 1
