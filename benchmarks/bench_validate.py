"""kpiflow validate on a 50-indicator return, whole process, against a bare openpyxl load of the
same file (PRODUCT.md §14: ratio <= 1.0)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import KPIFLOW, best_of, verdict


def make_return(tmp: Path) -> tuple[Path, Path]:
    from kpiflow.init import init_home
    from kpiflow.issue import issue_returns
    from kpiflow.model import Catalogue, Indicator
    from kpiflow.periods import parse_period
    from kpiflow.settings import load_settings
    from kpiflow.store import open_store
    from kpiflow.workbook.build import fill_return, write_catalogue

    home = tmp / "home"
    init_home(home)
    units = ["Number", "Rate", "Number and rate", "Percentage"]
    inds = tuple(Indicator(f"B{i:02d}", f"Benchmark indicator {i}", "Portfolio", "Service", "High" if i % 2 else "Low",
                           units[i % 4], 10000 if units[i % 4] in ("Rate", "Number and rate") else None,
                           "Quarterly", "Snapshot", None, "Auto") for i in range(50))
    catalogue = Catalogue(inds, {})
    write_catalogue(home / "workbook_templates" / "catalogue.xlsx", catalogue)
    settings = load_settings(home)
    q = parse_period("2017/18 Q2")
    with open_store(settings) as store:
        issued = issue_returns(settings, store, catalogue, q)[0]
    figures: dict[str, dict[str, object]] = {}
    for i, ind in enumerate(inds):
        f: dict[str, object] = {"Service response": f"Response {i} & more"}
        if ind.has_number:
            f["Number"] = 50 + i
        if ind.has_rate:
            f["Rate"] = 10.5 + i
        figures[ind.id] = f
    filled = fill_return(issued, tmp / "return.xlsx", {"Completed by": "Bench"}, figures)
    return home, filled


def main() -> int:
    with tempfile.TemporaryDirectory() as d:
        home, f = make_return(Path(d))
        base = best_of([sys.executable, "-c", f"import openpyxl; openpyxl.load_workbook({str(f)!r})"])
        ours = best_of([*KPIFLOW, "validate", str(f), "--home", str(home)])
    ratio = ours / base
    print(f"bare openpyxl load: {base:.3f} s")
    print(f"kpiflow validate:   {ours:.3f} s")
    verdict("validate", ratio <= 1.0, ratio)
    return 0 if ratio <= 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
