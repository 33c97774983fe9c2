"""The annotated feedback copy, opened with openpyxl as a service manager would open it in Excel."""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from ooxml_schema import validate_bytes

from kpiflow.model import Catalogue
from kpiflow.pipeline import process_file
from kpiflow.problems import ValidationResult
from kpiflow.settings import Settings
from kpiflow.store import Store
from kpiflow.validate import validate_file
from kpiflow.workbook.annotate import ERROR_FILL, WARNING_FILL, annotated
from kpiflow.workbook.read import read_workbook


def annotate_into(src: Path, result: ValidationResult, folder: Path, name: str) -> Path:
    out = folder / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(annotated(src, result))
    return out


def test_problem_cells_are_red_with_comments_and_listed_first(filled: Path, catalogue: Catalogue, tmp_path: Path,
                                                              edit: Callable[..., Path]) -> None:
    bad = edit(filled, {"Return!F7": "n/a", "Return!J8": "Word " * 1000, "Return!A9": "ZZ9"})
    before = bad.read_bytes()
    _, result = validate_file(bad, catalogue)
    out = annotate_into(bad, result, tmp_path / "fb", "return - feedback.xlsx")
    assert bad.read_bytes() == before
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[0] == "Problems"
    ws = wb["Return"]
    assert ws["F7"].fill.fgColor.rgb.endswith(ERROR_FILL)
    assert "not-a-number" in ws["F7"].comment.text and '"n/a" is not a number' in ws["F7"].comment.text
    assert not ws["J8"].fill.fgColor.rgb.endswith(ERROR_FILL)   # a warning is amber, not red
    assert "long-text" in ws["J8"].comment.text
    problems = wb["Problems"]
    rows = [[c.value for c in r] for r in problems.iter_rows(min_row=4)]
    assert [r[0] for r in rows] == [p.location for p in result.problems]
    link = problems["A4"].hyperlink
    assert link is not None and link.location == "'Return'!F7"
    # the copy keeps the original's protection and data validation
    assert ws.protection.sheet and len(ws.data_validations.dataValidation) > 0
    assert ws["A7"].protection.locked and not ws["F7"].protection.locked


def test_a_clean_return_gets_a_copy_saying_so(filled: Path, catalogue: Catalogue, tmp_path: Path) -> None:
    _, result = validate_file(filled, catalogue)
    out = annotate_into(filled, result, tmp_path, "r - feedback.xlsx")
    assert openpyxl.load_workbook(out)["Problems"]["A4"].value == "No problems found."


def test_annotated_copies_of_returns_with_the_same_name_never_clash(settings: Settings, store: Store,
                                                                    catalogue: Catalogue, filled: Path,
                                                                    edit: Callable[..., Path]) -> None:
    copies = []
    for value in ("n/a", "none"):
        bad = edit(filled, {"Return!F7": value}, "r.xlsx")
        shutil.copyfile(bad, settings.inbox / bad.name)
        copies.append(process_file(settings, store, catalogue, settings.inbox / bad.name).feedback[-1])
    assert [p.suffix for p in copies] == [".xlsx", ".xlsx"]
    assert copies[0] != copies[1] and all(p.exists() for p in copies)
    assert [f'"{v}" is not a number' in openpyxl.load_workbook(p)["Return"]["F7"].comment.text
            for p, v in zip(copies, ("n/a", "none"), strict=True)] == [True, True]


# --- the copy is made part by part (PRODUCT.md section 7): everything the original holds is kept ---

def _parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def _sheet_part(data: bytes, sheet: str) -> str:
    """The part a sheet's cells are in, as the workbook's relationships say."""
    parts = _parts(data)
    rid = re.search(rf'<(?:x:)?sheet [^>]*name="{sheet}"[^>]*r:id="(\w+)"', parts["xl/workbook.xml"].decode())
    assert rid is not None
    target = re.search(rf'Target="([^"]+)" Id="{rid[1]}"|Id="{rid[1]}"[^>]*Target="([^"]+)"',
                       parts["xl/_rels/workbook.xml.rels"].decode())
    assert target is not None
    return "xl/" + (target[1] or target[2]).lstrip("/").removeprefix("xl/")


def test_the_copy_keeps_every_part_value_and_setting_of_the_original(filled: Path, catalogue: Catalogue,
                                                                     edit: Callable[..., Path]) -> None:
    bad = edit(filled, {"Return!F7": "n/a", "Return!J8": "Word " * 1000})
    received = bad.read_bytes()
    _, result = validate_file(bad, catalogue)
    data = annotated(bad, result)
    assert bad.read_bytes() == received
    before, after = _parts(received), _parts(data)
    changed = {n for n in before if after.get(n) != before[n]}
    assert set(before) <= set(after)
    assert changed == {"[Content_Types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml",
                       _sheet_part(received, "Return")}
    assert validate_bytes(data, "feedback.xlsx") == []
    # every value of every sheet reads back the same, kpiflow's reader and openpyxl alike
    r0, r1 = read_workbook(bad, ValidationResult("r")), read_workbook(_saved(data, bad.parent), ValidationResult("r"))
    assert r0 is not None and r1 is not None
    assert list(r1.sheets) == ["Problems", *r0.sheets]
    assert all(r1.sheets[n].cells == s.cells and r1.sheets[n].state == s.state for n, s in r0.sheets.items())
    wb0, wb1 = openpyxl.load_workbook(bad), openpyxl.load_workbook(io.BytesIO(data))
    for ws0 in wb0.worksheets:
        ws1 = wb1[ws0.title]
        assert (ws1.protection.sheet, ws1.print_title_rows, ws1.sheet_state) == (
            ws0.protection.sheet, ws0.print_title_rows, ws0.sheet_state), ws0.title
        assert [(str(d.sqref), d.type, d.formula1, d.prompt) for d in ws1.data_validations.dataValidation] == [
            (str(d.sqref), d.type, d.formula1, d.prompt) for d in ws0.data_validations.dataValidation]
        for row0, row1 in zip(ws0.iter_rows(), ws1.iter_rows(), strict=True):
            assert [(c.value, c.number_format, c.protection.locked, c.font.b) for c in row1] == [
                (c.value, c.number_format, c.protection.locked, c.font.b) for c in row0]
    assert wb0["Return"].print_title_rows == "$6:$6"     # the names scoped to a sheet moved with it
    # the marked cells keep their format and gain the fill; only the Problems sheet is selected
    assert wb1["Return"]["F7"].fill.fgColor.rgb.endswith(ERROR_FILL) and not wb0["Return"]["F7"].fill.fgColor.rgb.endswith(
        ERROR_FILL)
    assert wb1["Return"]["J8"].fill.fgColor.rgb.endswith(WARNING_FILL)
    assert wb1.active.title == "Problems"
    assert [bool(ws.sheet_view.tabSelected) for ws in wb1.worksheets] == [True] + [False] * len(wb0.worksheets)


def _saved(data: bytes, folder: Path, name: str = "copy.xlsx") -> Path:
    out = folder / name
    out.write_bytes(data)
    return out


def test_a_cell_the_sheet_does_not_hold_is_added_marked(filled: Path) -> None:
    result = ValidationResult("r.xlsx")
    result.error("not-a-number", "Far down.", "Return", "Z300")
    result.warning("long-text", "Beside the table.", "Return", "AB7")
    result.error("not-a-number", "First of its row.", "Return", "A299")
    data = annotated(filled, result)
    assert validate_bytes(data, "feedback.xlsx") == []
    ws = openpyxl.load_workbook(io.BytesIO(data))["Return"]
    for ref, fill, text in (("Z300", ERROR_FILL, "Far down."), ("AB7", WARNING_FILL, "Beside the table."),
                            ("A299", ERROR_FILL, "First of its row.")):
        assert ws[ref].fill.fgColor.rgb.endswith(fill) and text in ws[ref].comment.text, ref
    assert ws["A7"].value == "CS01" and ws["Z300"].value is None


def test_the_sheet_s_own_comments_are_kept_beside_kpiflow_s(filled: Path, tmp_path: Path) -> None:
    """A comment of the service's own stays; one on a problem cell gives way to kpiflow's."""
    from openpyxl.comments import Comment

    wb = openpyxl.load_workbook(filled)
    wb["Return"]["B7"].comment = Comment("Checked with the team", "Ann")
    wb["Return"]["F7"].comment = Comment("Our own note on F7", "Ann")
    wb["About"]["B2"].comment = Comment("On another sheet", "Ann")
    own = tmp_path / "own.xlsx"
    wb.save(own)
    result = ValidationResult(own.name)
    result.error("not-a-number", "Enter the number.", "Return", "F7")
    result.warning("long-text", "Shorten it.", "Return", "J8")
    data = annotated(own, result)
    assert validate_bytes(data, "feedback.xlsx") == []
    out = openpyxl.load_workbook(io.BytesIO(data))
    ws = out["Return"]
    assert (ws["B7"].comment.text, ws["B7"].comment.author) == ("Checked with the team", "Ann")
    assert "Enter the number." in ws["F7"].comment.text and "Our own note" not in ws["F7"].comment.text
    assert "Shorten it." in ws["J8"].comment.text and ws["F7"].comment.author == "kpiflow"
    assert out["About"]["B2"].comment.text == "On another sheet"
    vml = [v for n, v in _parts(data).items() if n.endswith(".vml") and re.search(rb"Row>7</", v)]
    assert len(vml) == 1 and vml[0].count(b'ObjectType="Note"') == 3     # B7, F7 (its own shape), J8


def test_a_copy_of_a_copy_gets_a_problems_sheet_of_its_own(filled: Path, catalogue: Catalogue,
                                                           edit: Callable[..., Path], tmp_path: Path) -> None:
    bad = edit(filled, {"Return!F7": "n/a"})
    _, result = validate_file(bad, catalogue)
    again = _saved(annotated(bad, result), tmp_path)
    data = annotated(again, result)
    assert validate_bytes(data, "feedback.xlsx") == []
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames[:2] == ["Problems (2)", "Problems"]
    assert wb["Problems (2)"]["A4"].hyperlink.location == "'Return'!F7"
    assert [c.value for c in wb["Problems"]["A"]] == [c.value for c in wb["Problems (2)"]["A"]]


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_a_return_saved_by_libreoffice_is_marked_and_the_copy_opens_in_libreoffice(
        filled: Path, catalogue: Catalogue, edit: Callable[..., Path], tmp_path: Path) -> None:
    """LibreOffice writes shared strings, its own styles and names; the copy of its file opens in
    openpyxl and, converted by LibreOffice, shows the Problems sheet first."""
    from kpiflow.pdf import convert

    bad = edit(filled, {"Return!F7": "n/a"})
    saved = convert(bad, tmp_path / "lo", "xlsx:Calc MS Excel 2007 XML")
    _, result = validate_file(saved, catalogue)
    assert ("Return", "F7", "not-a-number") in result.locations()
    copy = _saved(annotated(saved, result), tmp_path, "lo copy.xlsx")
    assert validate_bytes(copy.read_bytes(), copy.name) == []
    wb = openpyxl.load_workbook(copy)
    assert wb.sheetnames[0] == "Problems" and wb["Return"]["F7"].fill.fgColor.rgb.endswith(ERROR_FILL)
    assert "not-a-number" in wb["Return"]["F7"].comment.text and wb["Return"]["F7"].value == "n/a"
    csv_text = convert(copy, tmp_path / "csv", "csv").read_text(encoding="utf-8")
    assert "Return!F7" in csv_text and "not-a-number" in csv_text


INGEST_PROBE = """
import sys
from kpiflow.cli import app
try:
    app(args=["ingest", *sys.argv[1:]], standalone_mode=False)
except BaseException:
    pass
print("openpyxl" in sys.modules)
"""


def test_ingest_makes_the_copy_without_openpyxl_and_keeps_the_original_as_received(
        settings: Settings, filled: Path, edit: Callable[..., Path]) -> None:
    import subprocess
    import sys

    bad = edit(filled, {"Return!F7": "n/a"}, "bad.xlsx")
    (settings.inbox / bad.name).write_bytes(bad.read_bytes())
    r = subprocess.run([sys.executable, "-c", INGEST_PROBE, "--home", str(settings.home)], capture_output=True,
                       text=True, check=True, cwd=settings.home, timeout=120)
    assert r.stdout.strip().splitlines()[-1] == "False"
    assert (settings.rejected / bad.name).read_bytes() == bad.read_bytes()
    copy = next(p for p in (settings.home / "outbox" / "feedback").iterdir() if p.suffix == ".xlsx")
    assert '"n/a" is not a number' in openpyxl.load_workbook(copy)["Return"]["F7"].comment.text


def _rewritten(src: Path, out: Path, change: Callable[[str, bytes], bytes]) -> Path:
    """A copy of the package at ``src`` with each part put through ``change(name, data)``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info, change(info.filename, zin.read(info)))
    return out


def _prefixed(name: str, data: bytes) -> bytes:
    """SpreadsheetML with the main namespace under the prefix ``x:``, as the Open XML SDK writes it."""
    if not name.startswith("xl/") or not name.endswith(".xml") or b'xmlns="' + MAIN_NS not in data:
        return data
    data = data.replace(b'xmlns="' + MAIN_NS + b'"', b'xmlns:x="' + MAIN_NS + b'"')
    return re.sub(rb"<(/?)([A-Za-z][\w.]*)(?=[\s/>])", rb"<\1x:\2", data)


MAIN_NS = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def test_a_workbook_written_with_a_namespace_prefix_is_marked_in_kind(filled: Path, catalogue: Catalogue,
                                                                      edit: Callable[..., Path], tmp_path: Path) -> None:
    bad = edit(filled, {"Return!F7": "n/a"})
    prefixed = _rewritten(bad, tmp_path / "prefixed.xlsx", _prefixed)
    assert b"<x:sheetData>" in _parts(prefixed.read_bytes())[_sheet_part(prefixed.read_bytes(), "Return")]
    _, result = validate_file(prefixed, catalogue)
    assert ("Return", "F7", "not-a-number") in result.locations()
    data = annotated(prefixed, result)
    assert validate_bytes(data, "feedback.xlsx") == []
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames[0] == "Problems" and wb["Return"]["F7"].fill.fgColor.rgb.endswith(ERROR_FILL)
    assert "not-a-number" in wb["Return"]["F7"].comment.text and wb["Return"]["A7"].value == "CS01"
    assert b"<x:c " in _parts(data)[_sheet_part(data, "Return")] and b"<c " not in _parts(data)[_sheet_part(data,
                                                                                                              "Return")]


def test_added_cells_and_rows_go_in_their_places(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Return"
    ws["A1"], ws["C1"], ws["A5"] = "a", "c", "five"
    src = tmp_path / "small.xlsx"
    wb.save(src)
    result = ValidationResult(src.name)
    for ref in ("B1", "A3", "D9", "B5"):
        result.error("not-a-number", f"At {ref}.", "Return", ref)
    data = annotated(src, result)
    assert validate_bytes(data, "feedback.xlsx") == []
    sheet = _parts(data)[_sheet_part(data, "Return")].decode()
    assert re.findall(r'<c r="([A-Z]+\d+)"', sheet) == ["A1", "B1", "C1", "A3", "A5", "B5", "D9"]
    out = openpyxl.load_workbook(io.BytesIO(data))["Return"]
    assert [out[r].value for r in ("A1", "C1", "A5")] == ["a", "c", "five"]
    assert all(out[r].fill.fgColor.rgb.endswith(ERROR_FILL) and f"At {r}." in out[r].comment.text
               for r in ("B1", "A3", "D9", "B5"))


def test_a_part_too_large_to_mark_up_leaves_the_txt_feedback(settings: Settings, store: Store, catalogue: Catalogue,
                                                             filled: Path, edit: Callable[..., Path],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from kpiflow.workbook import annotate

    bad = edit(filled, {"Return!F7": "n/a"}, "big.xlsx")
    _, result = validate_file(bad, catalogue)
    monkeypatch.setattr(annotate, "MAX_EDITED_PART", 1000)
    with pytest.raises(annotate.CannotAnnotate, match="too large"):
        annotated(bad, result)
    shutil.copyfile(bad, settings.inbox / bad.name)
    out = process_file(settings, store, catalogue, settings.inbox / bad.name)
    assert out.status == "rejected" and [p.suffix for p in out.feedback] == [".txt"]
    assert ("", "", "no-annotated-copy") in out.problems.locations()


def test_a_strict_open_xml_workbook_is_not_marked_up_half_way(filled: Path, tmp_path: Path) -> None:
    """Strict SpreadsheetML has namespaces of its own: kpiflow will not add a transitional sheet to it."""
    from kpiflow.workbook.annotate import CannotAnnotate

    strict = _rewritten(filled, tmp_path / "strict.xlsx", lambda name, data: data.replace(
        MAIN_NS, b"http://purl.oclc.org/ooxml/spreadsheetml/main") if name == "xl/workbook.xml" else data)
    result = ValidationResult(strict.name)
    result.error("not-a-number", "Enter the number.", "Return", "F7")
    with pytest.raises(CannotAnnotate, match="not transitional"):
        annotated(strict, result)
