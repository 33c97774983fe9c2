"""Issuing returns workbooks (kpiflow/issue.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from kpiflow.issue import issue_returns
from kpiflow.model import Catalogue
from kpiflow.periods import parse_period
from kpiflow.settings import Settings
from kpiflow.store import Store


def test_a_long_service_name_keeps_the_quarter_in_the_file_name(settings: Settings, store: Store,
                                                               catalogue: Catalogue) -> None:
    long = "Children's Services, Education, Early Help and Safeguarding Partnership " * 4   # about 300 characters
    renamed = Catalogue(tuple(dataclasses.replace(i, service=long) for i in catalogue.indicators), catalogue.targets)
    q2 = issue_returns(settings, store, renamed, parse_period("2017/18 Q2"))
    q3 = issue_returns(settings, store, renamed, parse_period("2017/18 Q3"))
    assert [p.name[-16:] for p in q2 + q3] == ["_2017-18_Q2.xlsx", "_2017-18_Q3.xlsx"]
    assert all(p.exists() for p in q2 + q3)
    assert all(len(p.name.encode("utf-8")) <= 120 for p in q2 + q3)


def test_issued_workbooks_are_not_written_through_links(settings: Settings, store: Store, catalogue: Catalogue,
                                                        tmp_path: Path) -> None:
    outside = tmp_path / "outside.xlsx"
    outside.write_bytes(b"precious")
    settings.returns_dir.mkdir(parents=True, exist_ok=True)
    (written,) = issue_returns(settings, store, catalogue, parse_period("2017/18 Q2"), "Children's Services")
    written.unlink()
    written.symlink_to(outside)
    issue_returns(settings, store, catalogue, parse_period("2017/18 Q2"), "Children's Services")
    assert outside.read_bytes() == b"precious" and not written.is_symlink()


def test_the_q1_workbook_shows_the_previous_quarter_last_years_q4(settings: Settings, store: Store,
                                                                  catalogue: Catalogue) -> None:
    import openpyxl

    path = issue_returns(settings, store, catalogue, parse_period("2017/18 Q1"), "Children's Services")[0]
    ws = openpyxl.load_workbook(path)["Return"]
    heads = [c.value for c in ws[6]]
    assert "2016/17 Q4" in heads and "2016/17 Q1" in heads
    col = heads.index("2016/17 Q4") + 1
    # CS02 (a Count) held 776 in 2016/17 Q4
    assert ws.cell(row=8, column=col).value == "776"
