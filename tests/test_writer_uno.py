"""Edits an officer makes to the draft in LibreOffice Writer are read back and published.

Writer is driven by tests/uno_client.py (``writer-edit``) under the system Python that has
python3-uno; it edits the bookmarked regions through the text API, as typing in Writer does, and
saves the draft as .docx. Writer drops the content-control tags on save, so everything here is read
back by bookmark: each region starts at its point bookmark and runs to the next label, table,
chart or mark.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from docx import Document
from helpers import uno, uno_available

from kpiflow.catalogue import load_checked_catalogue
from kpiflow.demo import DemoResult, example_return, run_demo
from kpiflow.docx.harvest import harvest
from kpiflow.periods import parse_period
from kpiflow.publish import publish
from kpiflow.settings import load_settings
from kpiflow.store import open_store

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
Q2 = parse_period("2017/18 Q2")
NEW_RESPONSE = 'Early Help Hub launched 1 November & fully staffed 👍\nA second paragraph <with> "quotes"'
ADDED = " Officers added this sentence."
# each exception's heading (the overview's links go to it), commentary and response
MARKS = [f"kpiflow_{iid}_{kind}" for iid in ("CS01", "CS02", "CS03") for kind in ("section", "commentary", "response")]


pytestmark = pytest.mark.skipif(not uno_available(),
                                reason="needs LibreOffice (soffice) and a system python3 with python3-uno")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    return run_demo(tmp_path_factory.mktemp("writer") / "demo")


@pytest.fixture(scope="module")
def edited_in_writer(demo: DemoResult) -> tuple[Path, dict[str, Any]]:
    """The demo's draft with CS02's response retyped and a sentence added to CS01's commentary in
    Writer, saved as .docx."""
    saved = demo.report.with_name("edited in Writer.docx")
    drafted = harvest(demo.report)
    size = {key: len(text.split("\n")) for key, text in drafted.texts.items()}
    result = uno("writer-edit", {"src": demo.report, "out": saved, "edits": [
        {"bookmark": "kpiflow_CS02_response", "op": "replace", "text": NEW_RESPONSE,
         "paragraphs": size[("CS02", "response")]},
        {"bookmark": "kpiflow_CS01_commentary", "op": "append", "text": ADDED,
         "paragraphs": size[("CS01", "commentary")]},
    ]})
    assert saved.is_file()
    return saved, result


def test_writer_keeps_every_mark(edited_in_writer: tuple[Path, dict[str, Any]]) -> None:
    _, result = edited_in_writer
    for seen in (result["bookmarks"], result["reloaded"]):
        assert [b for b in seen if not b.startswith("kpiflow_d_")] == MARKS
        # and the hashes of the words kpiflow wrote in each of the six regions, beside their marks
        assert len([b for b in seen if b.startswith("kpiflow_d_")]) == 6


def test_the_writer_edits_are_read_back_by_bookmark(demo: DemoResult,
                                                    edited_in_writer: tuple[Path, dict[str, Any]]) -> None:
    saved, _ = edited_in_writer
    drafted, h = harvest(demo.report), harvest(saved)
    assert set(h.via.values()) == {"bookmark"}          # Writer dropped every content-control tag
    assert h.get("CS02", "response") == NEW_RESPONSE
    assert h.get("CS01", "commentary") == drafted.texts[("CS01", "commentary")] + ADDED
    for key in drafted.texts.keys() - {("CS02", "response"), ("CS01", "commentary")}:
        assert h.texts[key] == drafted.texts[key], key
    # the new response is two real paragraphs, not one paragraph with a line break
    paras = Document(str(saved)).paragraphs
    first = next(i for i, p in enumerate(paras) if p.text.startswith("Early Help Hub launched"))
    assert [p.text for p in paras[first:first + 2]] == NEW_RESPONSE.split("\n")
    assert [br for p in paras[first:first + 2] for br in p._p.iter(f"{W}br")] == []


def test_publish_stores_the_writer_edits_exactly(demo: DemoResult,
                                                 edited_in_writer: tuple[Path, dict[str, Any]]) -> None:
    saved, _ = edited_in_writer
    settings = load_settings(demo.home)
    returned = example_return()["figures"]
    with open_store(settings) as store:
        result = publish(settings, store, load_checked_catalogue(settings), Q2, saved, "clerk")
        assert result.ok, result.lines
        stored = {iid: store.texts(iid, Q2) for iid in ("CS01", "CS02", "CS03")}
    assert stored["CS02"] is not None and stored["CS02"][1] == NEW_RESPONSE
    assert stored["CS01"] is not None and stored["CS01"][0] == harvest(demo.report).texts[("CS01", "commentary")] + ADDED
    for iid in ("CS01", "CS03"):
        text = stored[iid]
        assert text is not None and text[1] == returned[iid]["Service response"], iid


def test_a_draft_saved_in_writer_twice_keeps_whole_regions(edited_in_writer: tuple[Path, dict[str, Any]]) -> None:
    saved, _ = edited_in_writer
    again = saved.with_name("saved in Writer again.docx")
    uno("writer-edit", {"src": saved, "out": again, "edits": []})
    assert harvest(again).texts == harvest(saved).texts


def test_charts_that_lost_their_alt_text_in_writer_get_it_back_from_what_they_show(
        demo: DemoResult, edited_in_writer: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    from kpiflow.docx.a11y import restore_chart_alt_text
    from kpiflow.pdf import figure_alt_texts

    saved, _ = edited_in_writer
    assert figure_alt_texts(saved) == [""] * 5          # LibreOffice 7.4 drops a chart's descr on save
    fixed = tmp_path / "fixed.docx"
    assert restore_chart_alt_text(saved, fixed) == 5
    # the same words kpiflow wrote when it drew the charts: title and latest figures, read from each chart
    assert figure_alt_texts(fixed) == figure_alt_texts(demo.report)


def _custom_properties(docx: Path) -> dict[str, str]:
    import zipfile

    from lxml import etree

    with zipfile.ZipFile(docx) as zf:
        root = etree.fromstring(zf.read("docProps/custom.xml"))
    ns = "{http://schemas.openxmlformats.org/officeDocument/2006/custom-properties}"
    return {p.get("name"): "".join(p.itertext()) for p in root.iter(f"{ns}property")}


def test_the_drafts_provenance_survives_a_save_by_writer(demo: DemoResult,
                                                         edited_in_writer: tuple[Path, dict[str, Any]]) -> None:
    saved, _ = edited_in_writer
    made = _custom_properties(demo.report)
    assert made["kpiflow quarter"] == "2017/18 Q2" and any(k.startswith("kpiflow submission ") for k in made)
    assert {k: v for k, v in _custom_properties(saved).items() if k.startswith("kpiflow")} == made
    again = saved.with_name("saved in Writer a third time.docx")
    uno("writer-edit", {"src": saved, "out": again, "edits": []})
    assert {k: v for k, v in _custom_properties(again).items() if k.startswith("kpiflow")} == made
