"""The workbook reader (kpiflow/workbook/read.py): checked against openpyxl on workbooks built here,
and bounded in time and memory whatever a file holds."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import tracemalloc
import zipfile
from pathlib import Path

import openpyxl
import pytest

from kpiflow.model import Catalogue
from kpiflow.problems import ValidationResult
from kpiflow.validate import validate_file
from kpiflow.workbook.read import MAX_CELLS, MAX_STRINGS, RawWorkbook, coord, read_workbook

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RNS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"


def make_xlsx(path: Path, sheets: list[tuple[str, str]], shared: list[str] | None = None, styles: str = "",
              date1904: bool = False) -> Path:
    """A workbook written XML by XML: ``sheets`` are (name, sheetData rows); ``shared`` the inner XML of
    each ``<si>``; ``styles`` the inner XML of styles.xml."""
    ct = ['<?xml version="1.0" encoding="UTF-8"?>',
          '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">',
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>',
          '<Default Extension="xml" ContentType="application/xml"/>',
          '<Override PartName="/xl/workbook.xml" '
          'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>']
    rels = [f'<Relationships xmlns="{PKG}">']
    wb = [f'<workbook xmlns="{NS}" xmlns:r="{RNS}">',
          f'<workbookPr date1904="{int(date1904)}"/>' if date1904 else "", "<sheets>"]
    parts: dict[str, str] = {}
    for i, (name, rows) in enumerate(sheets, start=1):
        parts[f"xl/worksheets/sheet{i}.xml"] = f'<worksheet xmlns="{NS}"><sheetData>{rows}</sheetData></worksheet>'
        ct.append(f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
                  'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>')
        rels.append(f'<Relationship Id="rId{i}" Target="worksheets/sheet{i}.xml" '
                    f'Type="{RNS}/worksheet"/>')
        wb.append(f'<sheet name="{name}" sheetId="{i}" r:id="rId{i}"/>')
    if shared is not None:
        parts["xl/sharedStrings.xml"] = (f'<sst xmlns="{NS}" count="{len(shared)}" uniqueCount="{len(shared)}">'
                                         + "".join(f"<si>{s}</si>" for s in shared) + "</sst>")
        ct.append('<Override PartName="/xl/sharedStrings.xml" '
                  'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>')
        rels.append(f'<Relationship Id="rIdS" Target="sharedStrings.xml" Type="{RNS}/sharedStrings"/>')
    if styles:
        parts["xl/styles.xml"] = f'<styleSheet xmlns="{NS}">{styles}</styleSheet>'
        ct.append('<Override PartName="/xl/styles.xml" '
                  'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>')
        rels.append(f'<Relationship Id="rIdY" Target="styles.xml" Type="{RNS}/styles"/>')
    ct.append("</Types>")
    rels.append("</Relationships>")
    wb.append("</sheets></workbook>")
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "".join(ct))
        zf.writestr("_rels/.rels", f'<Relationships xmlns="{PKG}"><Relationship Id="r1" '
                    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
                    'Target="xl/workbook.xml"/></Relationships>')
        zf.writestr("xl/workbook.xml", "".join(wb))
        zf.writestr("xl/_rels/workbook.xml.rels", "".join(rels))
        for name, xml in parts.items():
            zf.writestr(name, xml)
    return path


# cellXfs 0 General, 1 a date (14), 2 0% (9), 3 0.00% (10), 4 custom 0.0%, 5 custom 0"%" (a literal, not a
# percentage), 6 custom dd/mm/yyyy, 7 custom [$-809]d mmmm yyyy;@, 8 custom 0\% (escaped: a literal)
STYLES = ('<numFmts count="5"><numFmt numFmtId="164" formatCode="0.0%"/><numFmt numFmtId="165" formatCode="0&quot;%&quot;"/>'
          '<numFmt numFmtId="166" formatCode="dd/mm/yyyy"/><numFmt numFmtId="167" formatCode="[$-809]d mmmm yyyy;@"/>'
          '<numFmt numFmtId="168" formatCode="0\\%"/></numFmts>'
          '<fonts count="1"><font/></fonts><fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
          '<borders count="1"><border/></borders>'
          '<cellStyleXfs count="1"><xf numFmtId="0"/></cellStyleXfs>'
          '<cellXfs count="9"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/>'
          '<xf numFmtId="9" applyNumberFormat="1"/><xf numFmtId="10" applyNumberFormat="1"/>'
          '<xf numFmtId="164" applyNumberFormat="1"/><xf numFmtId="165" applyNumberFormat="1"/>'
          '<xf numFmtId="166" applyNumberFormat="1"/><xf numFmtId="167" applyNumberFormat="1"/>'
          '<xf numFmtId="168" applyNumberFormat="1"/></cellXfs>'
          '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>')


def read(path: Path) -> tuple[RawWorkbook | None, ValidationResult]:
    result = ValidationResult(path.name)
    return read_workbook(path, result), result


def ours_and_openpyxl(path: Path) -> list[tuple[str, str, object, object]]:
    """(sheet, cell, kpiflow's value, openpyxl's value) for every cell either reader has a value for."""
    raw, result = read(path)
    assert raw is not None, result.render_text()
    wb = openpyxl.load_workbook(path, data_only=True)
    out = []
    for ws in wb.worksheets:
        sheet = raw.sheets[ws.title]
        theirs = {(c.row, c.column): c.value for row in ws.iter_rows() for c in row if c.value not in (None, "")}
        ours = {(r, c): v for r, row in enumerate(sheet.rows, start=1) for c, v in enumerate(row, start=1)
                if v is not None}
        for r, c in sorted(set(theirs) | set(ours)):
            out.append((ws.title, coord(r, c), ours.get((r, c)), theirs.get((r, c))))
    return out


def same_value(ours: object, theirs: object) -> bool:
    if isinstance(theirs, dt.date) and not isinstance(theirs, dt.datetime):
        theirs = dt.datetime.combine(theirs, dt.time())
    if isinstance(ours, float | int) and isinstance(theirs, float | int) and not isinstance(ours, bool):
        return float(ours) == float(theirs)
    return ours == theirs


def assert_same_as_openpyxl(path: Path) -> None:
    differ = [(s, c, o, t) for s, c, o, t in ours_and_openpyxl(path) if not same_value(o, t)]
    assert differ == []


def test_shared_rich_and_inline_strings_read_as_openpyxl_reads_them(tmp_path: Path) -> None:
    shared = ["<t>plain</t>",
              '<t xml:space="preserve">  spaced  </t>',
              "<r><rPr><b/></rPr><t>bold </t></r><r><t>then plain</t></r>",
              "<t>A &amp; B &lt;c&gt; \u00e9\U0001F642</t>",
              "<t/>"]
    rows = ('<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c>'
            '<c r="D1" t="s"><v>3</v></c><c r="E1" t="s"><v>4</v></c></row>'
            '<row r="2"><c r="A2" t="inlineStr"><is><t>inline</t></is></c>'
            '<c r="B2" t="inlineStr"><is><r><t>rich </t></r><r><rPr><i/></rPr><t>inline</t></r></is></c>'
            '<c r="C2" t="str"><f>"x"&amp;"y"</f><v>xy</v></c><c r="D2" t="b"><v>1</v></c>'
            '<c r="E2" t="e"><v>#DIV/0!</v></c><c r="F2"><v>1.5E3</v></c><c r="G2"><v>-7</v></c></row>'
            # cells without references follow the previous one
            '<row r="3"><c t="inlineStr"><is><t>no ref</t></is></c><c><v>2</v></c></row>')
    assert_same_as_openpyxl(make_xlsx(tmp_path / "s.xlsx", [("S", rows)], shared))


def test_phonetic_runs_do_not_leak_into_text(tmp_path: Path) -> None:
    # Japanese Excel keeps a reading guide (furigana) beside the text: it is not part of the value
    shared = ["<t>\u6771\u4eac</t><rPh sb=\"0\" eb=\"2\"><t>\u30c8\u30a6\u30ad\u30e7\u30a6</t></rPh>"
              '<phoneticPr fontId="1"/>',
              "<r><t>\u5927</t></r><r><t>\u962a</t></r><rPh sb=\"0\" eb=\"1\"><t>\u30aa\u30aa</t></rPh>"]
    rows = ('<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>'
            '<c r="C1" t="inlineStr"><is><t>\u4eac\u90fd</t><rPh sb="0" eb="2"><t>\u30ad\u30e7\u30a6\u30c8</t></rPh>'
            "</is></c></row>")
    path = make_xlsx(tmp_path / "p.xlsx", [("S", rows)], shared)
    raw, _ = read(path)
    assert raw is not None
    assert [raw.sheets["S"].at(ref) for ref in ("A1", "B1", "C1")] == ["\u6771\u4eac", "\u5927\u962a", "\u4eac\u90fd"]
    assert_same_as_openpyxl(path)


def test_excel_escapes_are_decoded(tmp_path: Path) -> None:
    # Excel writes a carriage return as _x000D_, and a typed "_x000D_" as _x005F_x000D_
    shared = ["<t>line one_x000D_\nline two</t>", "<t>tab_x0009_here</t>", "<t>typed _x005F_x000D_ literally</t>",
              "<t>_x00e9_ and _X0041_ and _x12_</t>"]
    rows = ('<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c>'
            '<c r="D1" t="s"><v>3</v></c><c r="E1" t="inlineStr"><is><t>inline_x000A_break</t></is></c></row>')
    raw, _ = read(make_xlsx(tmp_path / "e.xlsx", [("S", rows)], shared))
    assert raw is not None
    s = raw.sheets["S"]
    assert s.at("A1") == "line one\r\nline two"
    assert s.at("B1") == "tab\there"
    assert s.at("C1") == "typed _x000D_ literally"
    assert s.at("D1") == "\u00e9 and _X0041_ and _x12_"   # only _xHHHH_, lower-case x, four hex digits
    assert s.at("E1") == "inline\nbreak"


@pytest.mark.parametrize("date1904", [False, True])
def test_dates_read_as_openpyxl_reads_them_in_both_date_systems(tmp_path: Path, date1904: bool) -> None:
    rows = ('<row r="1"><c r="A1" s="1"><v>45565</v></c><c r="B1" s="6"><v>45565.5</v></c>'
            '<c r="C1" s="7"><v>1</v></c><c r="D1"><v>45565</v></c></row>')
    path = make_xlsx(tmp_path / "d.xlsx", [("S", rows)], styles=STYLES, date1904=date1904)
    assert_same_as_openpyxl(path)
    raw, _ = read(path)
    assert raw is not None
    expected = dt.datetime(2028, 10, 1) if date1904 else dt.datetime(2024, 9, 30)
    assert raw.sheets["S"].at("A1") == expected


def test_t_d_cells_read_as_openpyxl_reads_them(tmp_path: Path) -> None:
    rows = ('<row r="1"><c r="A1" t="d"><v>2024-09-30</v></c><c r="B1" t="d" s="6"><v>2024-09-30T12:30:00</v></c>'
            '<c r="C1" t="d"><v>2024-09-30T12:30:00Z</v></c><c r="D1" t="d"><v>12:30:00</v></c></row>')
    assert_same_as_openpyxl(make_xlsx(tmp_path / "t.xlsx", [("S", rows)], styles=STYLES))


def test_a_number_no_calendar_has_in_a_date_cell_stays_a_number(tmp_path: Path) -> None:
    # Excel shows ##### for these; they are not dates, and not damage either
    rows = '<row r="1"><c r="A1" s="1"><v>1E300</v></c><c r="B1" s="1"><v>-5</v></c></row>'
    raw, _ = read(make_xlsx(tmp_path / "n.xlsx", [("S", rows)], styles=STYLES))
    assert raw is not None
    assert [raw.sheets["S"].at(r) for r in ("A1", "B1")] == [1e300, -5]


def test_percent_formatted_cells_read_as_they_show(tmp_path: Path) -> None:
    rows = ('<row r="1"><c r="A1" s="2"><v>0.06</v></c><c r="B1" s="3"><v>0.875</v></c><c r="C1" s="4"><v>0.07</v></c>'
            '<c r="D1" s="5"><v>6</v></c><c r="E1" s="8"><v>6</v></c><c r="F1" s="2" t="str"><v>6%</v></c>'
            '<c r="G1" s="2"><v>1.5E-1</v></c></row>')
    raw, _ = read(make_xlsx(tmp_path / "p.xlsx", [("S", rows)], styles=STYLES))
    assert raw is not None
    s = raw.sheets["S"]
    # 0.07 * 100 is 7.000000000000001 in binary floating point: read as typed, 7
    assert [s.at(r) for r in ("A1", "B1", "C1", "D1", "E1", "F1", "G1")] == [6, 87.5, 7, 6, 6, "6%", 15]


def test_a_percentage_typed_the_excel_way_is_stored_as_it_shows(filled: Path, tmp_path: Path,
                                                               catalogue: Catalogue) -> None:
    wb = openpyxl.load_workbook(filled)
    wb["Return"]["I7"].value = 0.62        # England for CS01, typed as 62% in Excel
    wb["Return"]["I7"].number_format = "0%"
    out = tmp_path / "pct.xlsx"
    wb.save(out)
    data, result = validate_file(out, catalogue)
    assert result.ok, result.render_text()
    assert data is not None
    assert {r.indicator_id: r.figures.england for r in data.rows}["CS01"] == 62


def test_a_date_typed_where_a_number_belongs_is_quoted_as_the_user_saw_it(filled: Path, tmp_path: Path,
                                                                          catalogue: Catalogue) -> None:
    wb = openpyxl.load_workbook(filled)
    wb["Return"]["F8"].value = dt.datetime(2024, 9, 30)
    wb["Return"]["F8"].number_format = "dd/mm/yyyy"
    wb["Return"]["G7"].value = dt.datetime(2024, 9, 30)
    wb["Return"]["G7"].number_format = "d mmmm yyyy"
    out = tmp_path / "date.xlsx"
    wb.save(out)
    _, result = validate_file(out, catalogue)
    assert result.locations() == [("Return", "G7", "not-a-number"), ("Return", "F8", "not-a-number")]
    assert result.problems[0].message.startswith('"30 September 2024" is not a number.')
    assert result.problems[1].message.startswith('"30/09/2024" is not a number.')
    assert "00:00:00" not in result.render_text()


def return_part(path: Path, sheet: str) -> str:
    with zipfile.ZipFile(path) as zf:
        wb = zf.read("xl/workbook.xml").decode()
        rels = zf.read("xl/_rels/workbook.xml.rels").decode()
    rid = re.search(rf'<sheet [^>]*name="{re.escape(sheet)}"[^>]*r:id="([^"]+)"', wb)
    assert rid is not None
    target = re.search(rf'<Relationship [^>]*Id="{rid[1]}"[^>]*Target="([^"]+)"', rels) or re.search(
        rf'<Relationship [^>]*Target="([^"]+)"[^>]*Id="{rid[1]}"', rels)
    assert target is not None
    return "xl/" + target[1].lstrip("/").removeprefix("xl/")


def with_rows(src: Path, dest: Path, sheet: str, rows: bytes) -> Path:
    """``src`` with ``rows`` added at the end of ``sheet``'s sheetData, written raw as a hostile tool would."""
    part = return_part(src, sheet)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == part:
                data = data.replace(b"</sheetData>", rows + b"</sheetData>") if b"</sheetData>" in data else \
                    data.replace(b"<sheetData/>", b"<sheetData>" + rows + b"</sheetData>")
            zout.writestr(info, data)
    return dest


def peak_bytes_reading(path: Path) -> tuple[int, ValidationResult]:
    tracemalloc.start()
    try:
        result = ValidationResult(path.name)
        read_workbook(path, result)
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(("sheet", "ref"), [("Return", "XFD20000"), ("Guidance", "XFD20000"),
                                            ("kpiflow", "XFD20000"), ("Return", "XFD1048576"),
                                            ("Supporting data", "A1048576")])
def test_a_cell_typed_far_out_is_refused_at_its_cell_in_flat_memory(filled: Path, tmp_path: Path,
                                                                     catalogue: Catalogue, sheet: str,
                                                                     ref: str) -> None:
    row = int(re.sub(r"[A-Z]", "", ref))
    far = with_rows(filled, tmp_path / "far.xlsx", sheet,
                    b'<row r="%d"><c r="%s" t="inlineStr"><is><t>x</t></is></c></row>' % (row, ref.encode()))
    peak, result = peak_bytes_reading(far)
    assert [(p.sheet, p.cell) for p in result.problems] == [(sheet, ref)]
    assert result.problems[0].code in ("far-cell", "too-many-rows")
    assert f"{sheet}!{ref}" == result.problems[0].location
    baseline, ok = peak_bytes_reading(filled)
    assert ok.problems == []
    assert peak < baseline + 2_000_000, (peak, baseline)
    data, through_validate = validate_file(far, catalogue)
    assert data is None and through_validate.locations() == result.locations()


def test_too_many_cells_are_refused_without_keeping_them(filled: Path, tmp_path: Path) -> None:
    cells = b"".join(b'<row r="%d">' % r + b"".join(b'<c r="%s"><v>1</v></c>' % coord(r, c).encode()
                                                     for c in range(1, 101)) + b"</row>"
                     for r in range(100, 100 + MAX_CELLS // 100 + 1))
    big = with_rows(filled, tmp_path / "cells.xlsx", "Supporting data", cells)
    peak, result = peak_bytes_reading(big)
    assert result.locations() == [("Supporting data", "", "too-many-cells")]
    assert peak < 60_000_000


def test_shared_strings_are_capped(tmp_path: Path) -> None:
    shared = [f"<t>{i:x}</t>" for i in range(MAX_STRINGS + 1)]     # all different: no ratio limit trips first
    path = make_xlsx(tmp_path / "sst.xlsx", [("S", '<row r="1"><c r="A1" t="s"><v>0</v></c></row>')], shared)
    raw, result = read(path)
    assert raw is None
    assert result.locations() == [("", "", "too-many-strings")]


@pytest.mark.parametrize(("rows", "shared"), [
    ('<row r="1"><c r="A1" t="s"><v>7</v></c></row>', ["<t>only one</t>"]),    # no such shared string
    ('<row r="1"><c r="A1"><v>twelve</v></c></row>', None),                      # not a number
    ('<row r="1"><c r="A1"><v>1</v></c>', None),                                 # cut short
    ('<row r="1"><c r="A1" t="d"><v>last Tuesday</v></c></row>', None),          # not a date
    ('<row r="0"><c r="A0"><v>1</v></c></row>', None),                           # no row 0
    ('<row r="1"><c r="A1"><v>inf</v></c></row>', None),                         # not a number Excel writes
])
def test_a_damaged_workbook_is_a_problem_not_a_traceback(tmp_path: Path, rows: str, shared: list[str] | None) -> None:
    raw, result = read(make_xlsx(tmp_path / "bad.xlsx", [("S", rows)], shared, styles=STYLES))
    assert raw is None
    assert [p.code for p in result.problems] == ["corrupt-file"]


def test_a_bug_in_kpiflow_is_not_reported_as_a_damaged_file(filled: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kpiflow.workbook.read as reader

    def broken(letters: str) -> int:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(reader, "_col_number", broken)
    with pytest.raises(ZeroDivisionError):
        read_workbook(filled, ValidationResult("x"))


def test_a_file_far_larger_than_a_return_is_refused_before_it_is_read(tmp_path: Path) -> None:
    sparse = tmp_path / "huge.xlsx"
    with sparse.open("wb") as fh:
        fh.truncate(20 * 1024**3)     # 20 GB of nothing: sparse, so it costs no disk
    raw, result = read(sparse)
    assert raw is None and result.locations() == [("", "", "file-too-large")]


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_a_copy_saved_by_libreoffice_reads_as_openpyxl_reads_it(filled: Path, tmp_path: Path) -> None:
    src = tmp_path / "in" / "return.xlsx"
    src.parent.mkdir()
    wb = openpyxl.load_workbook(filled)
    wb["Return"]["I7"].value = 0.62
    wb["Return"]["I7"].number_format = "0%"
    wb.save(src)
    out = tmp_path / "out"
    profile = (tmp_path / "profile").as_uri()
    subprocess.run(["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", "xlsx",
                    "--outdir", str(out), str(src)], check=True, capture_output=True, timeout=180)
    saved = out / "return.xlsx"
    pairs = ours_and_openpyxl(saved)
    differ = [(s, c, o, t) for s, c, o, t in pairs if not same_value(o, t)]
    # the one difference is the percentage, which kpiflow reads as it shows
    assert differ == [("Return", "I7", 62, 0.62)]
    assert len(pairs) > 100


def test_a_zip_of_countless_members_is_refused_before_its_directory_is_loaded(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    many = tmp_path / "many.xlsx"
    with zipfile.ZipFile(many, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        for i in range(20_000):
            zf.writestr(f"xl/media/{i}.bin", b"")
    loaded: list[str] = []
    real = zipfile.ZipFile.__init__

    def spy(self: zipfile.ZipFile, file: object, *args: object, **kw: object) -> None:
        loaded.append(str(file))
        real(self, file, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(zipfile.ZipFile, "__init__", spy)
    raw, result = read(many)
    assert raw is None and result.locations() == [("", "", "file-too-large")]
    assert loaded == []
