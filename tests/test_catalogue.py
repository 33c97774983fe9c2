from __future__ import annotations

from pathlib import Path

import openpyxl

from kpiflow.catalogue import load_catalogue
from kpiflow.demo import EXAMPLE_CATALOGUE
from kpiflow.settings import Settings


def test_the_shipped_catalogue_is_the_seeds_three_indicators(settings: Settings) -> None:
    catalogue, result = load_catalogue(settings.catalogue_path)
    assert result.problems == []
    assert catalogue == EXAMPLE_CATALOGUE
    cs01 = catalogue.get("CS01")
    assert cs01 is not None and (cs01.unit, cs01.rate_per, cs01.better, cs01.measure) == (
        "Number and rate", 10000, "Low", "Snapshot")
    assert catalogue.portfolios == ["Cabinet Secretary for Resilient Communities & Childrens"]
    assert catalogue.target("CS01", "2017/18") is None


def test_catalogue_problems_are_located(settings: Settings, tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(settings.catalogue_path)
    ws = wb["Indicators"]
    ws["E2"] = "Medium"          # Better to be
    ws["A4"] = "CS01"            # duplicate ID
    ws["G3"] = "lots"            # Rate per
    wb["Targets"].append(["CS09", "2017/18", 5])
    wb["Targets"].append(["CS02", "2017-18 Q9", 5])
    bad = tmp_path / "catalogue.xlsx"
    wb.save(bad)
    _, result = load_catalogue(bad)
    assert result.locations() == [
        ("Indicators", "E2", "bad-value"),
        ("Indicators", "G3", "not-a-number"),
        ("Indicators", "A4", "duplicate-indicator"),
        ("Targets", "A4", "unknown-indicator"),     # CS03's row was overwritten, so its target is orphaned
        ("Targets", "A5", "unknown-indicator"),
        ("Targets", "B6", "bad-period"),
    ]
