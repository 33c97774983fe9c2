"""LibreOffice Calc as a user's spreadsheet: typing into an issued return through UNO, saving it as
.xlsx and reading it back; and opening the annotated feedback copy.

Calc is driven by tests/uno_client.py under the system Python that has python3-uno; each call
starts its own soffice with its own profile.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from helpers import uno, uno_available

from kpiflow.model import Catalogue, Figures, ReturnRow
from kpiflow.periods import parse_period
from kpiflow.validate import validate_file
from kpiflow.workbook.annotate import annotated

SHEETS = ["Guidance", "About", "Return", "Supporting data", "Breakdown", "kpiflow"]


pytestmark = pytest.mark.skipif(not uno_available(),
                                reason="needs LibreOffice (soffice) and a system python3 with python3-uno")


RESPONSE_7 = 'Fewer children coming into care & more leaving: the "edge of care" team\'s work, <5% re-entries 👍'
RESPONSE_8 = "The Early Help Hub will collect partnership-wide activity from Q3."
RESPONSE_9 = "Thresholds re-launched with partners.\nEvery child protection plan reviewed."
TYPED: list[tuple[str, str, object]] = [
    ("About", "B4", "Sam O'Neill"),
    ("About", "B5", "sam.oneill@example.gov.uk"),
    ("Return", "F7", 531), ("Return", "G7", 185.6), ("Return", "H7", 102), ("Return", "I7", 62),
    ("Return", "K7", RESPONSE_7),
    ("Return", "F8", 514), ("Return", "K8", RESPONSE_8),
    ("Return", "F9", 1932), ("Return", "G9", 675.4), ("Return", "K9", RESPONSE_9),
]
# pre-filled or not asked for: CS02 has no rate, so G8 is locked as well
LOCKED: list[tuple[str, str, object]] = [
    ("Return", "A7", "CS99"), ("Return", "E7", 100), ("Return", "G8", 12.5), ("About", "B1", "Adult Services"),
]


def _validation_cell_count(ws: Any) -> int:
    return sum(r.size["rows"] * r.size["columns"] for dv in ws.data_validations.dataValidation
               for r in dv.sqref.ranges)


def _validation_at(ws: Any, ref: str) -> Any:
    found = [dv for dv in ws.data_validations.dataValidation if ref in dv.sqref]
    assert len(found) == 1, f"{ws.title}!{ref} has {len(found)} data validations"
    return found[0]


@pytest.fixture
def typed_in_calc(issued: Path, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """The issued return with the input cells typed in Calc, and typing into locked cells tried."""
    out = tmp_path / "calc" / issued.name
    result = uno("calc-fill", {"src": issued, "out": out, "cells": [*TYPED, *LOCKED]}, status=1)
    assert out.exists()
    return out, result


def test_a_return_typed_in_calc_reads_back_exactly(typed_in_calc: tuple[Path, dict[str, Any]],
                                                    catalogue: Catalogue) -> None:
    saved, result = typed_in_calc
    assert [(t["sheet"], t["cell"], t["value"]) for t in result["typed"]] == TYPED
    assert [(t["sheet"], t["cell"], t["value"]) for t in result["refused"]] == LOCKED

    data, check = validate_file(saved, catalogue)
    assert check.ok, check.render_text()
    assert data is not None
    assert (data.service, data.completed_by, data.email) == ("Children's Services", "Sam O'Neill",
                                                            "sam.oneill@example.gov.uk")
    assert data.rows == [
        # the Comparator year, pre-filled as text, is still 2016/17 after Calc saved it (not a date)
        ReturnRow("CS01", 7, Figures(531, 185.6, 102, 62), "", RESPONSE_7, comparator_year=parse_period("2016/17")),
        ReturnRow("CS02", 8, Figures(514, None, None, None), "", RESPONSE_8),
        ReturnRow("CS03", 9, Figures(1932, 675.4, None, None), "", RESPONSE_9),
    ]
    ws = openpyxl.load_workbook(saved)["Return"]
    # numbers stay numbers, and the refused cells keep what was issued
    assert [ws[ref].value for ref in ("F7", "G7", "F9", "G9")] == [531, 185.6, 1932, 675.4]
    assert all(isinstance(ws[ref].value, int | float) for ref in ("F7", "G7", "H7", "I7", "F8", "F9", "G9"))
    assert (ws["A7"].value, ws["E7"].value, ws["G8"].value) == ("CS01", "No Target Set", None)


def test_calc_keeps_protection_validation_and_the_hidden_sheet(issued: Path,
                                                               typed_in_calc: tuple[Path, dict[str, Any]]) -> None:
    saved, _ = typed_in_calc
    seen = uno("calc-inspect", {"src": saved, "protected": SHEETS, "count_validation": SHEETS[1:5],
                                "cells": [["Return", "F7"], ["Return", "K7"], ["Return", "A7"], ["Return", "E7"],
                                          ["Return", "G8"], ["About", "B4"], ["About", "B1"]]})
    assert seen["sheets"] == [{"name": n, "visible": n != "kpiflow"} for n in SHEETS]
    assert seen["protected"] == dict.fromkeys(SHEETS, True)
    issued_wb = openpyxl.load_workbook(issued)
    assert seen["validation_cells"] == {n: _validation_cell_count(issued_wb[n]) for n in SHEETS[1:5]}
    cells = seen["cells"]
    f7, k7 = cells["Return!F7"], cells["Return!K7"]
    assert (f7["type"], f7["value"], f7["locked"]) == ("VALUE", 531, False)
    assert f7["validation"]["type"] == "DECIMAL"
    assert (f7["validation"]["operator"], f7["validation"]["formula1"]) == ("GREATER_EQUAL", "0")
    assert (k7["type"], k7["string"], k7["locked"]) == ("TEXT", RESPONSE_7, False)
    assert (k7["validation"]["type"], k7["validation"]["formula1"]) == ("TEXT_LEN", "10000")
    for c in (f7, k7, cells["About!B4"]):
        assert c["validation"]["show_input_message"] and c["validation"]["input_message"]
    assert cells["About!B4"]["validation"]["type"] == "TEXT_LEN"
    for ref in ("Return!A7", "Return!E7", "Return!G8", "About!B1"):
        assert cells[ref]["locked"] and cells[ref]["validation"] is None, ref

    wb = openpyxl.load_workbook(saved)
    assert wb.sheetnames == SHEETS
    assert [wb[n].sheet_state for n in SHEETS] == ["visible"] * 5 + ["hidden"]
    assert all(wb[n].protection.sheet for n in SHEETS)
    ws = wb["Return"]
    assert not ws["F7"].protection.locked and not ws["K7"].protection.locked
    assert ws["A7"].protection.locked and ws["E7"].protection.locked and ws["G8"].protection.locked
    f7_dv, k7_dv = _validation_at(ws, "F7"), _validation_at(ws, "K7")
    assert (f7_dv.type, f7_dv.operator, f7_dv.formula1) == ("decimal", "greaterThanOrEqual", "0")
    assert (k7_dv.type, k7_dv.operator, k7_dv.formula1) == ("textLength", "lessThanOrEqual", "10000")
    for dv in (f7_dv, k7_dv):
        assert dv.showInputMessage and dv.prompt and dv.showErrorMessage
    assert f7_dv.prompt == _validation_at(issued_wb["Return"], "F7").prompt
    for n in SHEETS[1:5]:
        assert _validation_cell_count(wb[n]) == _validation_cell_count(issued_wb[n]), n


def test_the_feedback_copy_opens_in_calc(filled: Path, edit: Callable[..., Path], catalogue: Catalogue,
                                         tmp_path: Path) -> None:
    bad = edit(filled, {"Return!F7": "n/a"})
    _, result = validate_file(bad, catalogue)
    assert ("Return", "F7", "not-a-number") in result.locations()
    feedback = tmp_path / "feedback" / bad.name
    feedback.parent.mkdir()
    feedback.write_bytes(annotated(bad, result))

    seen = uno("calc-inspect", {"src": feedback, "protected": ["Return"],
                                "cells": [["Return", "F7"], ["Return", "A7"], ["Problems", "A4"]]})
    assert [s["name"] for s in seen["sheets"]] == ["Problems", *SHEETS]
    assert [s["name"] for s in seen["sheets"] if not s["visible"]] == ["kpiflow"]
    assert seen["protected"] == {"Return": True}
    f7 = seen["cells"]["Return!F7"]
    assert (f7["type"], f7["string"]) == ("TEXT", "n/a")
    assert "not-a-number" in f7["comment"]
    assert seen["cells"]["Return!A7"]["string"] == "CS01"
    assert seen["cells"]["Problems!A4"]["string"] == "Return!F7"
