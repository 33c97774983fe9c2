"""kpiflow comparators import: the Department's tidy CSV and neighbour list in, comparators stored as
revisions; every problem with the files located, nothing stored when there is an error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from ees import (
    ENGLAND_BY_YEAR,
    HEADER,
    LABELS,
    LAC,
    SN_MEANS,
    STARTING,
    cla_rows,
    write_cla,
    write_csv,
    write_neighbours,
)
from test_cli import kpiflow

from kpiflow.comparators import ComparatorImport, import_comparators, parse_value
from kpiflow.errors import KpiflowError
from kpiflow.fmt import column_letter
from kpiflow.periods import parse_period
from kpiflow.settings import Settings, load_settings
from kpiflow.store import SQLiteStore, Store

LAC_ONLY = [("population_type", LAC)]
SOURCE = "comparators cla_la.csv; statistical neighbours from SN.csv"


@pytest.fixture
def council(home: Path, store: Store) -> Settings:
    """The test working folder with the example history and la_code set to Blackpool's 890."""
    store.close()
    toml = home / "kpiflow.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('# la_code = ""', 'la_code = "890"'), encoding="utf-8")
    return load_settings(home)


@pytest.fixture
def cla(tmp_path: Path) -> Path:
    return write_cla(tmp_path / "files" / "cla_la.csv")


@pytest.fixture
def sn(tmp_path: Path) -> Path:
    return write_neighbours(tmp_path / "files" / "SN.csv")


def run(settings: Settings, file: Path, column: str = "rate_per_10000", where: list[tuple[str, str]] | None = None,
        neighbours: Path | None = None, indicator: str = "CS01") -> ComparatorImport:
    return import_comparators(settings, file, indicator, column, LAC_ONLY if where is None else where, neighbours)


def stored(settings: Settings, iid: str = "CS01") -> dict[str, tuple[float | None, float | None]]:
    with SQLiteStore(settings.db_path) as s:
        return {p.label: (f.statneigh, f.england) for p, f in s.series(iid).items() if p.kind == "year"}


def observations(settings: Settings) -> int:
    with SQLiteStore(settings.db_path) as s:
        return int(s.conn.execute("SELECT COUNT(*) FROM observations").fetchone()[0])


def test_england_and_the_neighbours_mean_are_stored_for_every_year(council: Settings, cla: Path, sn: Path) -> None:
    done = run(council, cla, neighbours=sn)
    assert done.ok, done.lines()
    assert [y.period for y in done.years] == list(LABELS.values())
    assert {y.period: y.statneigh for y in done.years} == SN_MEANS
    assert {y.period: y.england for y in done.years} == ENGLAND_BY_YEAR
    assert done.council is not None and done.council.label == "Blackpool (890)"
    assert [n.code for n in done.neighbours][:4] == ["805", "806", "807", "810"]
    assert done.neighbours[3].name == "Kingston upon Hull, City of"     # quoted, with its comma
    held = stored(council)
    for label, mean in SN_MEANS.items():
        assert held[label] == (mean, ENGLAND_BY_YEAR[label])


def test_earlier_comparators_are_kept_as_revisions_with_the_file_as_source(council: Settings, cla: Path,
                                                                          sn: Path) -> None:
    run(council, cla, neighbours=sn)
    with SQLiteStore(council.db_path) as s:
        revs = [r for r in s.revisions(["CS01"]) if r.figure == "statneigh"]
    assert [(r.period, r.old, r.new, r.source) for r in revs] == [
        ("2013/14", 93.0, 103.0, SOURCE), ("2014/15", 95.0, 104.6, SOURCE), ("2015/16", 97.0, 108.6, SOURCE),
        ("2016/17", 101.0, 111.4, SOURCE)]
    h = kpiflow("history", "--indicator", "CS01", home=council.home)
    assert "revision" in h.stdout and "2016/17 statneigh: 101 -> 111.4 (comparators cla_la.csv" in h.stdout


def test_a_second_import_of_the_same_file_changes_nothing(council: Settings, cla: Path, sn: Path) -> None:
    assert run(council, cla, neighbours=sn).written == 5
    before = observations(council)
    again = run(council, cla, neighbours=sn)
    assert again.ok and again.written == 0 and observations(council) == before
    assert not any(y.changed for y in again.years)
    assert "0 changed, 5 as kpiflow already held them" in again.lines()[-1]


def test_a_suppressed_neighbour_is_left_out_of_the_mean_and_said_so(council: Settings, cla: Path, sn: Path) -> None:
    done = run(council, cla, neighbours=sn)
    y = {y.period: y for y in done.years}["2014/15"]
    # Torbay's "c": the mean of the other nine is 941 / 9, never 941 / 10 with a zero
    assert (y.statneigh, y.neighbours_used, y.left_out) == (104.6, 9, ('Torbay (880): suppressed ("c")',))
    warnings = [p for p in done.result.warnings if p.code == "suppressed-value"]
    assert [(p.sheet, p.cell) for p in warnings] == [("cla_la.csv", f"K{torbay_row('2015', LAC)}")]
    assert "left out of the statistical neighbours' average for 2014/15" in warnings[0].message
    assert "  2014/15: England 60; statistical neighbours 104.6 (was 95), mean of 9 of 10 (left out: Torbay (880): " \
           'suppressed ("c"))' in done.lines()


def torbay_row(tp: str, measure: str) -> int:
    """Torbay's row for a year and measure, as Excel numbers the CSV (the header is row 1)."""
    rows = cla_rows()
    return 2 + next(i for i, r in enumerate(rows) if r.get("old_la_code") == "880" and r["time_period"] == tp
                    and r["population_type"] == measure)


def test_a_suppressed_england_figure_is_skipped_not_stored_as_zero(council: Settings, cla: Path, sn: Path) -> None:
    done = run(council, cla, where=[("population_type", STARTING)], neighbours=sn)
    assert done.ok
    y = {y.period: y for y in done.years}
    assert y["2015/16"].england is None and y["2014/15"].england == 26
    assert stored(council)["2015/16"][1] == 60.0        # the figure held before is still the current one
    assert any(p.code == "suppressed-value" and "England's rate_per_10000 for 2015/16" in p.message
               for p in done.result.warnings)
    # Sefton's "z" in every year: the mean is of the other nine
    assert {v.neighbours_used for v in done.years} == {9}


def test_columns_are_found_by_name_in_any_order_with_or_without_a_byte_order_mark(council: Settings, tmp_path: Path,
                                                                                  sn: Path) -> None:
    other = write_cla(tmp_path / "other.csv", header=list(reversed(HEADER)), bom=False)
    assert other.read_bytes()[:3] != b"\xef\xbb\xbf"
    done = run(council, other, neighbours=sn)
    assert done.ok and {y.period: y.statneigh for y in done.years} == SN_MEANS


def test_rows_still_not_unique_are_refused_naming_the_filter_columns(council: Settings, cla: Path, sn: Path) -> None:
    before = observations(council)
    done = run(council, cla, where=[], neighbours=sn)
    assert not done.ok and observations(council) == before
    [p] = done.result.errors
    assert p.code == "not-unique" and "population_type" in p.message
    assert "rate_per_10000" not in p.message and "number" not in p.message.replace("Pick one", "")
    assert f'--where population_type="{LAC}"' in p.message


def test_a_second_filter_column_that_still_varies_is_named(council: Settings, tmp_path: Path, sn: Path) -> None:
    rows = []
    for r in cla_rows():
        rows += [{**r, "characteristic": "Total"}, {**r, "characteristic": "Male", "rate_per_10000": "1"}]
    f = write_csv(tmp_path / "two-filters.csv", [*HEADER[:5], "characteristic", *HEADER[5:]], rows)
    done = run(council, f, neighbours=sn)
    [p] = done.result.errors
    assert p.code == "not-unique" and "characteristic" in p.message and "population_type" not in p.message
    assert p.cell.startswith("F")                       # the characteristic column
    both = run(council, f, where=[*LAC_ONLY, ("characteristic", "Total")], neighbours=sn)
    assert both.ok and {y.period: y.statneigh for y in both.years} == SN_MEANS


def test_the_councils_own_figure_is_shown_where_it_differs_from_the_store(council: Settings, cla: Path) -> None:
    done = run(council, cla)
    differ = [(y.period, y.council, y.held) for y in done.years if y.differs]
    # 2015/16: 163 in the file is kpiflow's 162.8 rounded, so they agree
    assert differ == [("2014/15", 160.0, 158.0)]
    assert "  2014/15: the file has 160, kpiflow holds 158 (rate)" in done.lines()
    assert "No neighbour list given (--neighbours SN.csv): England's figures only." in done.lines()
    assert stored(council)["2013/14"] == (93.0, 60.0)   # no neighbour list: the neighbours' figure is untouched


def test_six_digit_financial_years(council: Settings, tmp_path: Path, sn: Path) -> None:
    rows = [{**r, "time_period": f"{int(r['time_period']) - 1}{r['time_period'][2:]}", "time_identifier":
             "Financial year"} for r in cla_rows()]
    assert rows[0]["time_period"] == "201314"
    done = run(council, write_csv(tmp_path / "fy.csv", HEADER, rows), neighbours=sn)
    assert done.ok and {y.period: y.statneigh for y in done.years} == SN_MEANS


def test_six_digit_academic_years_are_taken_with_a_warning(council: Settings, tmp_path: Path) -> None:
    rows = [{**r, "time_period": f"{int(r['time_period']) - 1}{r['time_period'][2:]}", "time_identifier":
             "Academic year"} for r in cla_rows()]
    done = run(council, write_csv(tmp_path / "ay.csv", HEADER, rows))
    assert done.ok and [y.period for y in done.years] == list(LABELS.values())
    assert [p.code for p in done.result.warnings] == ["academic-year"]


@pytest.mark.parametrize("identifier", ["Calendar year", "Academic year"])
def test_a_four_digit_year_that_does_not_end_in_march_is_refused(council: Settings, tmp_path: Path,
                                                                 identifier: str) -> None:
    before = observations(council)
    done = run(council, write_cla(tmp_path / "cal.csv", identifier=identifier))
    assert [(p.sheet, p.cell, p.code) for p in done.result.errors] == [("cal.csv", "B2", "not-financial-year")]
    assert f'time_identifier is "{identifier}"' in done.result.errors[0].message
    assert observations(council) == before


def test_one_year_can_be_refreshed_alone(council: Settings, cla: Path, sn: Path) -> None:
    done = run(council, cla, where=[*LAC_ONLY, ("time_period", "2018")], neighbours=sn)
    assert [(y.period, y.statneigh, y.england) for y in done.years] == [("2017/18", 114.2, 64.0)]
    assert stored(council)["2016/17"] == (101.0, 62.0)


def test_an_unknown_council_code_is_refused(council: Settings, cla: Path) -> None:
    toml = council.home / "kpiflow.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('la_code = "890"', 'la_code = "999"'), encoding="utf-8")
    done = run(load_settings(council.home), cla)
    [p] = done.result.errors
    assert (p.sheet, p.code) == ("cla_la.csv", "unknown-council") and "999" in p.message


def test_a_missing_column_is_refused_and_the_columns_listed(council: Settings, cla: Path) -> None:
    done = run(council, cla, column="rate_per_1000")
    [p] = done.result.errors
    assert p.code == "missing-column" and '"rate_per_1000"' in p.message and "rate_per_10000" in p.message
    gone = write_cla(cla.with_name("no-level.csv"), header=[h for h in HEADER if h != "geographic_level"])
    assert [p.code for p in run(council, gone).result.errors] == ["missing-column"]


def test_a_filter_value_not_in_the_file_lists_the_values_it_has(council: Settings, cla: Path) -> None:
    [p] = run(council, cla, where=[("population_type", "Children in care")]).result.errors
    assert p.code == "no-matching-rows" and f'"{LAC}"' in p.message and f'"{STARTING}"' in p.message


def test_a_count_column_for_a_rate_indicator_is_refused(council: Settings, cla: Path) -> None:
    [p] = run(council, cla, column="number").result.errors
    assert p.code == "figure-mismatch" and "rate" in p.message


def test_a_value_that_is_neither_a_number_nor_a_symbol_is_located(council: Settings, tmp_path: Path) -> None:
    rows = cla_rows()
    i = next(i for i, r in enumerate(rows) if r.get("old_la_code") == "890" and r["time_period"] == "2016"
             and r["population_type"] == LAC)
    rows[i]["rate_per_10000"] = "16e"
    done = run(council, write_csv(tmp_path / "typo.csv", HEADER, rows))
    assert [(p.cell, p.code) for p in done.result.errors] == [(f"K{i + 2}", "not-a-number")]


def test_the_neighbour_list_by_name_with_trailing_spaces(council: Settings, cla: Path, tmp_path: Path) -> None:
    by_name = write_neighbours(tmp_path / "SN-names.csv", by_name=True)
    assert "Kingston upon Hull, City of ," in by_name.read_text(encoding="utf-8-sig").replace('"', "")
    done = run(council, cla, neighbours=by_name)
    assert done.ok and {y.period: y.statneigh for y in done.years} == SN_MEANS


def test_a_neighbour_that_cannot_be_found_is_located(council: Settings, cla: Path, tmp_path: Path) -> None:
    bad = write_neighbours(tmp_path / "SN-bad.csv", by_name=True, overrides={4: "Kingston-upon-Hull "})
    done = run(council, cla, neighbours=bad)
    assert [(p.sheet, p.cell, p.code) for p in done.result.errors] == [("SN-bad.csv", "I2", "unknown-neighbour")]
    twice = write_neighbours(tmp_path / "SN-twice.csv", overrides={7: "805", 9: "890"})
    done = run(council, cla, neighbours=twice)
    assert [(p.cell, p.code) for p in done.result.errors] == [("O2", "unknown-neighbour"), ("S2", "unknown-neighbour")]
    assert "the same council as SN_1" in done.result.errors[0].message
    assert "the council itself" in done.result.errors[1].message
    blank = write_neighbours(tmp_path / "SN-blank.csv", overrides={10: ""})
    done = run(council, cla, neighbours=blank)
    assert done.ok and [p.code for p in done.result.warnings if p.sheet == "SN-blank.csv"] == ["missing-neighbour"]
    assert {y.neighbours_used for y in done.years} <= {8, 9}


def test_the_council_missing_from_the_neighbour_list(council: Settings, cla: Path, tmp_path: Path) -> None:
    rows = [r for r in cla_rows() if r.get("old_la_code") != "999"]
    sn_file = write_csv(tmp_path / "SN-other.csv", ["old_la_code", "la_name", *[f"SN_{n}" for n in range(1, 11)]],
                        [{"old_la_code": "805", "la_name": "Hartlepool", **{f"SN_{n}": "890" for n in range(1, 11)}}])
    assert rows
    [p] = run(council, cla, neighbours=sn_file).result.errors
    assert (p.sheet, p.code) == ("SN-other.csv", "unknown-council")


def test_a_workbook_given_as_the_file_is_refused(council: Settings, tmp_path: Path) -> None:
    wb = tmp_path / "cla.csv"
    wb.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    [p] = run(council, wb).result.errors
    assert p.code == "not-csv" and "Excel workbook" in p.message


def test_failures_of_the_run_are_errors_not_problems(council: Settings, cla: Path, settings: Settings) -> None:
    with pytest.raises(KpiflowError, match=r"la_code is not set in .*kpiflow\.toml: add the line la_code = \"890\""):
        import_comparators(settings, cla, "CS01", "rate_per_10000")
    with pytest.raises(KpiflowError, match=r'"CS09" is not an indicator in the catalogue\. Use one of: CS01'):
        import_comparators(council, cla, "CS09", "rate_per_10000")
    with pytest.raises(KpiflowError, match="no such file"):
        import_comparators(council, cla.with_name("nope.csv"), "CS01", "rate_per_10000")


def test_the_command_line(council: Settings, cla: Path, sn: Path, tmp_path: Path) -> None:
    twin = tmp_path / "twin"
    shutil.copytree(council.home, twin)
    args = ["comparators", "import", str(cla), "--indicator", "CS01", "--column", "rate_per_10000",
            "--where", f"population_type={LAC}", "--neighbours", str(sn)]
    r = kpiflow(*args, "--json", home=council.home)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == run(load_settings(twin), cla, neighbours=sn).to_dict()
    r = kpiflow(*args, home=council.home)
    assert r.returncode == 0 and "Stored comparators for 5 years: 0 changed" in r.stdout
    bad = kpiflow(*args[:-4], home=council.home)                       # no --where: two measures
    assert bad.returncode == 1 and "not-unique" in bad.stdout and "Nothing was stored" in bad.stdout
    assert kpiflow(*args[:3], "--indicator", "CS09", "--column", "x", home=council.home).returncode == 2
    r = kpiflow(*args[:7], "--where", "population_type", home=council.home)
    assert r.returncode == 2 and "--where population_type: give a column and a value" in r.stderr
    (council.home / "kpiflow.toml").write_text('council = "Blackpool Council"\n', encoding="utf-8")
    r = kpiflow(*args, home=council.home)
    assert r.returncode == 2 and r.stderr.startswith("Error: la_code is not set in") and "Traceback" not in r.stderr


def test_helpers() -> None:
    assert [column_letter(i + 1) for i in (0, 10, 25, 26, 701, 702)] == ["A", "K", "Z", "AA", "ZZ", "AAA"]
    assert [parse_value(v) for v in ("62", " 183.5 ", "c", "X", "..", "low", "z", "", "1,234", "16e", "-")] == [
        ("number", 62.0), ("number", 183.5), ("suppressed", None), ("suppressed", None), ("suppressed", None),
        ("suppressed", None), ("suppressed", None), ("blank", None), ("number", 1234.0), ("bad", None),
        ("bad", None)]


def test_the_report_shows_the_imported_comparators(council: Settings, cla: Path, sn: Path) -> None:
    """The quarter's figures without the comparators services used to type in: the report takes
    them from the import (the latest year published before the quarter, 2016/17)."""
    from docx import Document
    from docx.text.paragraph import Paragraph
    from docx_helpers import chart_parts
    from test_report import W

    from kpiflow.demo import example_breakdown, example_history, example_return
    from kpiflow.model import Figures

    Path(council.db_path).unlink()
    for extra in ("-wal", "-shm"):
        Path(str(council.db_path) + extra).unlink(missing_ok=True)
    ret = example_return()
    q2 = parse_period("2017/18 Q2")
    rows = [(i, p, Figures(f.number, f.rate)) for i, p, f in example_history()]
    rows += [(i, q2, Figures(v.get("Number"), v.get("Rate"))) for i, v in ret["figures"].items()]
    rows += [(i, parse_period(p), Figures(n, r)) for i, p, n, r, _sn, _en in ret["support"]]
    with SQLiteStore(council.db_path) as s:
        s.load_history(rows, "example history without comparators", example_breakdown())
    r = kpiflow("comparators", "import", str(cla), "--indicator", "CS01", "--column", "rate_per_10000", "--where",
                f"population_type={LAC}", "--neighbours", str(sn), home=council.home)
    assert r.returncode == 0, r.stdout + r.stderr
    r = kpiflow("report", "--quarter", "2017/18 Q2", home=council.home)
    assert r.returncode == 0, r.stderr
    path = Path(r.stdout.split("Draft report: ", 1)[1].strip())
    doc = Document(str(path))
    # every paragraph, those inside the marked commentary regions (content controls) too
    text = "\n".join(Paragraph(p, doc).text for p in doc.element.body.iter(f"{W}p"))
    # comparators are published for whole years: set against the latest complete year's outturn
    assert "In 2016/17, the latest complete year, the rate was 183.0: above the statistical neighbours' " \
           "average (111.4) and England (62.0)." in text
    [lac] = [c for c in chart_parts(path) if "statistical neighbours and England" in c.title]
    assert lac.series_names == ("Blackpool Council", "Statistical neighbours", "England")
    assert lac.categories == ("2013/14", "2014/15", "2015/16", "2016/17", "Q2 2017/18")
    # comparators are annual: nothing is plotted for them at the part year
    assert lac.values[1] == (103.0, 104.6, 108.6, 111.4, None)
    assert lac.values[2] == (60, 60, 60, 62, None)

