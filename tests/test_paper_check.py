"""What Cabinet reads is what the store says: publish compares the draft's figures with a fresh rendering from
the store (kpiflow/paper_check.py), refuses a difference naming both, and publishes the store's charts."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from publish_helpers import (
    FOLDER,
    QUARTER,
    W,
    body_of,
    corrected_return,
    edit_xml,
    kpiflow,
    no_soffice_env,
    para,
    region,
    rewrite,
    stored_texts,
)

from kpiflow.catalogue import load_checked_catalogue
from kpiflow.demo import DemoResult
from kpiflow.periods import parse_period
from kpiflow.publish import publish
from kpiflow.settings import load_settings
from kpiflow.store import open_store

Q2 = parse_period(QUARTER)
C = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"
WP = "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}"
PUBLISHED_DOCX = "Appendix 6(b) - Exception Reports (Q2 2017-18).docx"


def run(demo: DemoResult, draft: Path) -> tuple[bool, list[str], list[tuple[str, str]], str]:
    """publish as a library call (LibreOffice is not needed to check a draft): ok, lines, (code, message), state."""
    settings = load_settings(demo.home)
    with open_store(settings) as store:
        result = publish(settings, store, load_checked_catalogue(settings), Q2, draft, "clerk")
        state = store.quarter_state(Q2)
    problems = [(p.code, p.message) for p in result.checks.problems] if result.checks else []
    return result.ok, result.lines, problems, state


def refused(demo: DemoResult, draft: Path, code: str) -> list[str]:
    """Publishing ``draft`` is refused with ``code``, and changes nothing; the messages with that code."""
    before = stored_texts(demo)
    ok, lines, problems, state = run(demo, draft)
    print("\n".join(lines))
    assert not ok
    assert state == "open"
    assert not (demo.home / "outbox" / "published" / FOLDER).exists()
    assert stored_texts(demo) == before
    assert any(line.startswith("Nothing was published") for line in lines)
    found = [m for c, m in problems if c == code]
    assert found, problems
    return found


def replace_text(old: str, new: str, count: int = 1):  # type: ignore[no-untyped-def]
    def change(data: bytes) -> bytes:
        text = data.decode("utf-8")
        assert old in text, old
        return text.replace(old, new, count).encode("utf-8")
    return change


def part_of(docx: Path, name: str) -> bytes:
    with zipfile.ZipFile(docx) as zf:
        return zf.read(name)


def canonical(xml: bytes) -> bytes:
    return bytes(etree.tostring(etree.fromstring(xml), method="c14n"))


# -- figures in the text --------------------------------------------------------------------------

def replace_last(old: str, new: str):  # type: ignore[no-untyped-def]
    def change(data: bytes) -> bytes:
        text = data.decode("utf-8")
        assert old in text, old
        at = text.rindex(old)
        return (text[:at] + new + text[at + len(old):]).encode("utf-8")
    return change


def test_a_figure_typed_into_the_overview_is_refused_naming_both(fresh: DemoResult) -> None:
    # the overview ("Performance at a glance") comes first: its CS01 row holds the quarter's figure
    draft = rewrite(fresh.report, fresh.home / "overview.docx",
                    {"word/document.xml": replace_text("531 (185.6)", "431 (150.6)")})
    found = refused(fresh, draft, "figure-changed")
    assert any("CS01" in m and "431 (150.6)" in m and "531 (185.6)" in m for m in found), found


def test_a_figure_typed_into_the_values_table_is_refused_naming_both(fresh: DemoResult) -> None:
    # the values table's is the last place the quarter's figure is printed
    draft = rewrite(fresh.report, fresh.home / "forged.docx",
                    {"word/document.xml": replace_last("531 (185.6)", "431 (150.6)")})
    found = refused(fresh, draft, "figure-changed")
    assert any("CS01 values table, 2017/18 Q2: the draft shows 431 (150.6), the store holds 531 (185.6)" in m
               for m in found), found
    assert all("--keep-edits" in m for m in found)


def test_a_renamed_exception_heading_is_refused(fresh: DemoResult) -> None:
    name = "Number/Rate of children looked after per 10,000"
    draft = rewrite(fresh.report, fresh.home / "renamed.docx",
                    {"word/document.xml": replace_text(name, "Children looked after", 3)})
    found = refused(fresh, draft, "figure-changed")
    assert any("CS01 heading" in m and "Children looked after" in m and name in m for m in found), found


def test_a_changed_line_of_the_key_is_refused(fresh: DemoResult) -> None:
    draft = rewrite(fresh.report, fresh.home / "key.docx",
                    {"word/document.xml": replace_text("A move of less than 1% is No change",
                                                       "A move of less than 10% is No change")})
    found = refused(fresh, draft, "figure-changed")
    assert any(m.startswith("the key:") and "10%" in m and "1%" in m for m in found), found


def test_a_deleted_values_note_is_refused(fresh: DemoResult) -> None:
    def drop_row(root: Any) -> None:     # the officer deletes the first row of CS01's values table
        tables = [t for t in root.iter(f"{W}tbl") if "531 (185.6)" in "".join(t.itertext())
                  and "2016/17" in "".join(t.itertext())]
        rows = tables[0].findall(f"{W}tr")
        tables[0].remove(rows[-1])

    draft = rewrite(fresh.report, fresh.home / "row.docx", {"word/document.xml": edit_xml(drop_row)})
    found = refused(fresh, draft, "figure-changed")
    assert any("531 (185.6)" in m and "leaves out" in m for m in found), found


# -- charts ---------------------------------------------------------------------------------------

def halve(data: bytes) -> bytes:
    return re.sub(rb"<c:v>(\d+(?:\.\d+)?)</c:v>", lambda m: b"<c:v>%g</c:v>" % (float(m[1]) / 2), data)


def drop_alt_text(data: bytes) -> bytes:
    return re.sub(rb' descr="[^"]*"', b"", data)


def test_a_halved_chart_without_alt_text_is_refused_not_described_from_the_forgery(fresh: DemoResult) -> None:
    draft = rewrite(fresh.report, fresh.home / "halved.docx",
                    {"word/charts/chart1.xml": halve, "word/document.xml": drop_alt_text})
    found = refused(fresh, draft, "chart-changed")
    assert any("CS01 chart 1" in m and "Blackpool Council 2016/17: the draft shows 91.5, the store holds 183" in m
               for m in found), found


def test_a_forged_embedded_workbook_is_refused(fresh: DemoResult) -> None:
    def forge(data: bytes) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
            for info in zin.infolist():
                part = zin.read(info)
                if info.filename == "xl/worksheets/sheet1.xml":
                    part = part.replace(b"<v>62.0</v>", b"<v>31.0</v>")
                zout.writestr(info, part)
        return out.getvalue()

    assert b"<v>62.0</v>" in zipfile.ZipFile(io.BytesIO(part_of(fresh.report, "word/embeddings/"
                                                                "Microsoft_Excel_Worksheet1.xlsx"))).read(
        "xl/worksheets/sheet1.xml")
    draft = rewrite(fresh.report, fresh.home / "workbook.docx",
                    {"word/embeddings/Microsoft_Excel_Worksheet1.xlsx": forge})
    found = refused(fresh, draft, "chart-changed")
    assert any("CS01 chart 1" in m and "Edit Data" in m and "the draft shows 31, the store holds 62" in m
               for m in found), found


def test_changed_alternative_text_is_refused(fresh: DemoResult) -> None:
    def lie(data: bytes) -> bytes:
        return re.sub(rb'descr="Line chart: Rate per 10,000: Blackpool Council[^"]*"',
                      b'descr="Line chart: the council is better than England."', data, count=1)

    draft = rewrite(fresh.report, fresh.home / "alt.docx", {"word/document.xml": lie})
    found = refused(fresh, draft, "chart-changed")
    assert any("CS01 chart 1, alternative text: the draft shows \"Line chart: the council is better" in m
               for m in found), found


def test_the_published_charts_and_alt_text_are_the_stores(fresh: DemoResult, tmp_path: Path) -> None:
    """A draft whose charts lost their alternative text, were restyled and whose data workbook is damaged (none
    of which changes a figure it shows) is published with the store's chart parts, data and alternative text."""
    restyled = replace_text('<a:srgbClr val="1F4E79"/>', '<a:srgbClr val="FF0000"/>', 1)
    draft = rewrite(fresh.report, fresh.home / "restyled.docx",
                    {"word/charts/chart1.xml": restyled, "word/document.xml": drop_alt_text,
                     "word/embeddings/Microsoft_Excel_Worksheet1.xlsx": b"not a workbook"})
    r = kpiflow(fresh.home, "publish", "--quarter", QUARTER, "--from", str(draft), env=no_soffice_env(tmp_path / "b"))
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    final = fresh.home / "outbox" / "published" / FOLDER / PUBLISHED_DOCX
    chart = "word/charts/chart1.xml"
    assert canonical(part_of(final, chart)) == canonical(part_of(fresh.report, chart))
    workbook = "word/embeddings/Microsoft_Excel_Worksheet1.xlsx"
    sheets = [zipfile.ZipFile(io.BytesIO(part_of(f, workbook))).read("xl/worksheets/sheet1.xml")
              for f in (final, fresh.report)]
    assert sheets[0] == sheets[1]
    alts = [d.get("descr") for d in etree.fromstring(part_of(final, "word/document.xml")).iter(f"{WP}docPr")]
    made = [d.get("descr") for d in etree.fromstring(part_of(fresh.report, "word/document.xml")).iter(f"{WP}docPr")]
    assert alts == made and all(alts)


def test_an_officers_own_paragraph_outside_the_regions_is_theirs(fresh: DemoResult, tmp_path: Path) -> None:
    def add(root: Any) -> None:
        body = body_of(root)
        body.insert(3, para("A note the officer added for Cabinet, with a figure of their own: 12."))

    draft = rewrite(fresh.report, fresh.home / "note.docx", {"word/document.xml": edit_xml(add)})
    ok, lines, _problems, state = run(fresh, draft)
    assert ok, lines
    assert state == "published"


# -- whose words sit where ------------------------------------------------------------------------

def test_response_tags_swapped_in_the_developer_tab_are_refused(fresh: DemoResult) -> None:
    def swap(root: Any) -> None:
        a = region(root, "CS01", "response").find(f"{W}sdtPr/{W}tag")
        b = region(root, "CS02", "response").find(f"{W}sdtPr/{W}tag")
        va, vb = a.get(f"{W}val"), b.get(f"{W}val")
        a.set(f"{W}val", vb)
        b.set(f"{W}val", va)

    draft = rewrite(fresh.report, fresh.home / "tags.docx", {"word/document.xml": edit_xml(swap)})
    found = refused(fresh, draft, "region-moved")
    assert any(m.startswith("CS02 (") and "under CS01" in m for m in found), found


def test_response_boxes_swapped_between_sections_are_refused(fresh: DemoResult) -> None:
    def swap(root: Any) -> None:
        a, b = region(root, "CS01", "response"), region(root, "CS02", "response")
        la, lb = a.getprevious(), b.getprevious()          # the "Service Response:" labels with their bookmarks
        pa, pb = a.getparent(), b.getparent()
        ia, ib = pa.index(la), pb.index(lb)
        for el in (la, a, lb, b):
            el.getparent().remove(el)
        pb.insert(ib - 2, la)
        pb.insert(ib - 1, a)
        pa.insert(ia, lb)
        pa.insert(ia + 1, b)

    draft = rewrite(fresh.report, fresh.home / "boxes.docx", {"word/document.xml": edit_xml(swap)})
    found = refused(fresh, draft, "region-moved")
    assert any(m.startswith("CS01 (") for m in found) and any(m.startswith("CS02 (") for m in found), found


def test_a_section_pasted_twice_as_plain_text_is_refused(fresh: DemoResult) -> None:
    name = "Number/Rate of children looked after per 10,000"

    def paste(root: Any) -> None:
        body = body_of(root)
        last = body[len(body) - 1]       # before the section properties
        for text in (name, "Indicator Description\tBetter to be?", f"{name}\tLow", "Service Response:",
                     "A different response, pasted as plain text."):
            last.addprevious(para(text))

    draft = rewrite(fresh.report, fresh.home / "pasted.docx", {"word/document.xml": edit_xml(paste)})
    found = refused(fresh, draft, "section-duplicated")
    assert any(m.startswith("CS01 (") for m in found), found


# -- another council, stripped properties ---------------------------------------------------------

def set_council(demo: DemoResult, council: str) -> None:
    toml = demo.home / "kpiflow.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('council = "Blackpool Council"', f'council = "{council}"'),
                    encoding="utf-8")


def test_a_draft_made_for_another_council_is_refused_by_publish_and_keep_edits(fresh: DemoResult) -> None:
    set_council(fresh, "Eastbridge District Council")
    r = kpiflow(fresh.home, "publish", "--quarter", QUARTER, "--from", str(fresh.report))
    print(r.stdout)
    assert r.returncode == 1 and "other-council" in r.stdout
    assert "made for Blackpool Council, not Eastbridge District Council" in r.stdout
    k = kpiflow(fresh.home, "report", "--quarter", QUARTER, "--keep-edits", str(fresh.report))
    print(k.stdout)
    assert k.returncode == 1 and "other-council" in k.stdout
    assert sorted(p.name for p in (fresh.home / "outbox" / "drafts").iterdir()) == [fresh.report.name]


def strip_properties(src: Path, dest: Path) -> Path:
    """What Word's Document Inspector leaves: no custom properties part, no relationship to it."""
    def rels(data: bytes) -> bytes:
        return re.sub(rb'<Relationship [^>]*custom-properties"[^>]*/>', b"", data)

    def types(data: bytes) -> bytes:
        return re.sub(rb'<Override PartName="/docProps/custom.xml"[^>]*/>', b"", data)

    return rewrite(src, dest, {"docProps/custom.xml": None, "_rels/.rels": rels, "[Content_Types].xml": types})


def test_a_draft_whose_properties_were_stripped_names_the_cause(fresh: DemoResult) -> None:
    draft = strip_properties(fresh.report, fresh.home / "inspected.docx")
    found = refused(fresh, draft, "properties-removed")
    assert "Document Inspector" in found[0] and "--keep-edits" in found[0]


def test_keep_edits_on_a_stripped_draft_drafts_kpiflows_own_words_again(fresh: DemoResult) -> None:
    def edit(root: Any) -> None:
        content = region(root, "CS02", "response").find(f"{W}sdtContent")
        for p in list(content):
            content.remove(p)
        content.append(para("The officer's own response."))

    edited = rewrite(fresh.report, fresh.home / "edited.docx", {"word/document.xml": edit_xml(edit)})
    draft = strip_properties(edited, fresh.home / "inspected.docx")
    r = kpiflow(fresh.home, "report", "--quarter", QUARTER, "--keep-edits", str(draft))
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    # the commentary kpiflow drafted from the figures is not carried, nor are the services' own responses as
    # kpiflow wrote them; the officer's response is
    assert "Carried over the edits made in inspected.docx to: CS02 service response\n" in r.stdout
    new = Path(r.stdout.split("Draft report: ", 1)[1].splitlines()[0])
    from kpiflow.docx.harvest import harvest

    assert harvest(new).get("CS02", "response") == "The officer's own response."


# -- kpiflow's words after reopen -----------------------------------------------------------------

def commentary_of(docx: Path, iid: str) -> str:
    from kpiflow.docx.harvest import harvest

    return harvest(docx).get(iid, "commentary") or ""


def test_after_reopen_a_fresh_draft_drafts_kpiflows_words_from_todays_figures(fresh: DemoResult,
                                                                              tmp_path: Path) -> None:
    before = stored_texts(fresh)
    old = commentary_of(fresh.report, "CS01")
    assert "185.6" in old
    env = no_soffice_env(tmp_path / "bin")
    assert kpiflow(fresh.home, "publish", "--quarter", QUARTER, env=env).returncode == 0
    # kpiflow's own drafted commentary is not stored as an officer's words
    assert [t[0] if t else "" for t in stored_texts(fresh).values()] == [t[0] if t else "" for t in before.values()]
    assert kpiflow(fresh.home, "reopen", "--quarter", QUARTER, "--reason", "a correction").returncode == 0
    corrected_return(fresh, {"CS01": {"Number": 560, "Rate": 195.7}}, "corrected.xlsx")
    assert kpiflow(fresh.home, "ingest").returncode == 0
    r = kpiflow(fresh.home, "report", "--quarter", QUARTER)
    assert r.returncode == 0, r.stdout + r.stderr
    new = Path(r.stdout.split("Draft report: ", 1)[1].splitlines()[0])
    now = commentary_of(new, "CS01")
    assert "195.7" in now and "185.6" not in now, now


# -- messages -------------------------------------------------------------------------------------

def custom(docx: Path) -> bytes:
    return part_of(docx, "docProps/custom.xml")


def test_a_stale_draft_says_its_times_in_full_and_never_before_a_return_it_followed(fresh: DemoResult) -> None:
    # properties copied from another draft: the submission recorded is not the one accepted, though the return
    # arrived before this draft was made
    def forge(data: bytes) -> bytes:
        return re.sub(rb'(name="kpiflow submission \d+"><vt:lpwstr>)[0-9a-f]+', rb"\g<1>" + b"0" * 64, data)

    draft = rewrite(fresh.report, fresh.home / "copied.docx", {"docProps/custom.xml": forge})
    found = refused(fresh, draft, "stale-draft")
    assert "before the return" not in found[0], found
    assert re.search(r"made on \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", found[0]), found
    assert re.search(r"received on \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", found[0]), found


def test_a_changed_fingerprint_does_not_claim_figures_were_added(fresh: DemoResult) -> None:
    def forge(data: bytes) -> bytes:
        return re.sub(rb'(name="kpiflow figures"><vt:lpwstr>)[0-9a-f]+', rb"\g<1>" + b"a" * 64, data)

    draft = rewrite(fresh.report, fresh.home / "figures.docx", {"docProps/custom.xml": forge})
    found = refused(fresh, draft, "stale-draft")
    assert "figures were added" not in found[0], found


def test_the_draft_records_its_council(fresh: DemoResult) -> None:
    assert b'name="kpiflow council"><vt:lpwstr>Blackpool Council<' in custom(fresh.report)


def test_a_draft_made_from_another_template_is_stale_not_a_flood_of_differences(fresh: DemoResult) -> None:
    template = load_settings(fresh.home).template_path
    changed = rewrite(template, template.with_name("changed.docx"),
                      {"word/document.xml": replace_text("This appendix reports", "This appendix lists")})
    changed.replace(template)
    found = refused(fresh, fresh.report, "stale-draft")
    assert len(found) == 1 and "template" in found[0] and "--keep-edits" in found[0], found


# -- properties copied by hand from a fresh draft (File > Properties) -------------------------------

def with_properties_of(src: Path, donor: Path, dest: Path) -> Path:
    return rewrite(src, dest, {"docProps/custom.xml": part_of(donor, "docProps/custom.xml")})


def test_a_stale_draft_with_a_fresh_drafts_properties_is_refused_by_its_figures(fresh: DemoResult) -> None:
    old = fresh.report
    corrected_return(fresh, {"CS01": {"Number": 540, "Rate": 188.7}}, "corrected.xlsx")
    assert kpiflow(fresh.home, "ingest").returncode == 0
    r = kpiflow(fresh.home, "report", "--quarter", QUARTER)
    assert r.returncode == 0, r.stdout + r.stderr
    new = Path(r.stdout.split("Draft report: ", 1)[1].splitlines()[0])
    forged = with_properties_of(old, new, fresh.home / "forged.docx")
    found = refused(fresh, forged, "figure-changed")
    assert any("CS01 values table, 2017/18 Q2: the draft shows 531 (185.6), the store holds 540 (188.7)" in m
               for m in found), found


def test_another_quarters_draft_with_this_quarters_properties_is_refused(fresh: DemoResult) -> None:
    r = kpiflow(fresh.home, "report", "--quarter", "2017/18 Q1")
    assert r.returncode == 0, r.stdout + r.stderr
    q1 = Path(r.stdout.split("Draft report: ", 1)[1].splitlines()[0])

    def respond(root: Any) -> None:      # the officer writes every response, as for a real paper
        for tag in root.iter(f"{W}tag"):
            if tag.get(f"{W}val", "").endswith(":response"):
                content = tag.getparent().getparent().find(f"{W}sdtContent")
                for p in list(content):
                    content.remove(p)
                content.append(para("A response."))

    answered = rewrite(q1, fresh.home / "answered.docx", {"word/document.xml": edit_xml(respond)})
    forged = with_properties_of(answered, fresh.report, fresh.home / "forged.docx")
    found = refused(fresh, forged, "figure-changed")
    assert any("Q1 2017/18" in m and "Q2 2017/18" in m for m in found), found


def test_a_changed_running_header_is_refused(fresh: DemoResult) -> None:
    draft = rewrite(fresh.report, fresh.home / "header.docx",
                    {"word/header1.xml": replace_text("(Q2 2017/18)", "(Q3 2017/18)")})
    found = refused(fresh, draft, "figure-changed")
    assert any(m.startswith("the running header:") and "Q3 2017/18" in m and "Q2 2017/18" in m for m in found), found


def test_a_whole_section_moved_elsewhere_is_still_the_stores(fresh: DemoResult) -> None:
    """An officer may reorder the exceptions: each section is compared with its own."""
    def move(root: Any) -> None:
        body = body_of(root)
        heads = {}
        for i, el in enumerate(body):
            text = "".join(el.itertext()).strip() if el.tag == f"{W}p" else ""
            for iid, name in (("CS02", "Number of early help assessments"),
                              ("CS03", "Number/ rate of current children in need per 10,000 population "
                                       "(including LAC & CP)")):
                if text == name and iid not in heads:
                    heads[iid] = i
        section = list(body)[heads["CS03"]:len(body) - 1]       # CS03 to the end, before the section properties
        for el in section:
            body.remove(el)
        at = heads["CS02"]
        for k, el in enumerate(section):
            body.insert(at + k, el)

    draft = rewrite(fresh.report, fresh.home / "moved.docx", {"word/document.xml": edit_xml(move)})
    ok, lines, _problems, state = run(fresh, draft)
    assert ok, lines
    assert state == "published"


def test_after_reopen_and_a_comparator_import_the_drafted_words_quote_the_new_comparators(fresh: DemoResult,
                                                                                          tmp_path: Path) -> None:
    from ees import LAC, write_cla, write_neighbours

    assert "statistical neighbours' average (102.0)" in commentary_of(fresh.report, "CS01")
    assert kpiflow(fresh.home, "publish", "--quarter", QUARTER, env=no_soffice_env(tmp_path / "bin")).returncode == 0
    assert kpiflow(fresh.home, "reopen", "--quarter", QUARTER, "--reason", "new comparators").returncode == 0
    toml = fresh.home / "kpiflow.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('# la_code = ""', 'la_code = "890"'), encoding="utf-8")
    cla, sn = write_cla(tmp_path / "files" / "cla_la.csv"), write_neighbours(tmp_path / "files" / "SN.csv")
    imported = kpiflow(fresh.home, "comparators", "import", str(cla), "--indicator", "CS01", "--column",
                       "rate_per_10000", "--where", f"population_type={LAC}", "--neighbours", str(sn))
    assert imported.returncode == 0, imported.stdout + imported.stderr
    published = fresh.home / "outbox" / "published" / FOLDER / PUBLISHED_DOCX
    for args in ((), ("--keep-edits", str(published))):
        r = kpiflow(fresh.home, "report", "--quarter", QUARTER, *args)
        assert r.returncode == 0, r.stdout + r.stderr
        new = Path(r.stdout.split("Draft report: ", 1)[1].splitlines()[0])
        words = commentary_of(new, "CS01")
        assert "(102.0)" not in words and "(111.4)" in words, (args, words)


def test_the_day_a_draft_was_made_is_the_local_day_it_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """The draft names its report date in local time; its properties record UTC. Publish's web page and its fresh
    rendering both take the day from here, so neither says the day before for a draft made after midnight in
    summer."""
    import datetime as dt
    import time

    from kpiflow.provenance import Provenance, made_on

    monkeypatch.setenv("TZ", "Europe/London")
    time.tzset()
    try:
        made = Provenance("2025/26 Q1", "2025-06-30T23:30:00+00:00", "", {})
        assert made_on(made) == dt.date(2025, 7, 1)
        assert made_on(None) == dt.date.today()
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
