"""kpiflow publish on the demo's draft: the checks, the files, the quarter lock."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from docx import Document

from kpiflow.catalogue import load_checked_catalogue
from kpiflow.demo import DemoResult, run_demo
from kpiflow.periods import parse_period
from kpiflow.publish import publish
from kpiflow.settings import load_settings
from kpiflow.store import open_store

Q2 = parse_period("2017/18 Q2")
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


@pytest.fixture
def demo(tmp_path: Path) -> DemoResult:
    return run_demo(tmp_path / "demo")


def run(demo: DemoResult, draft: Path | None = None) -> tuple[bool, list[str], str]:
    settings = load_settings(demo.home)
    with open_store(settings) as store:
        result = publish(settings, store, load_checked_catalogue(settings), Q2, draft, "clerk")
        state = store.quarter_state(Q2)
    return result.ok, result.lines, state


def edited(demo: DemoResult, change: object) -> Path:
    doc = Document(str(demo.report))
    change(doc)  # type: ignore[operator]
    out = demo.report.with_name("edited.docx")
    doc.save(str(out))
    return out


def test_publish_files_the_report_with_a_manifest_and_closes_the_quarter(demo: DemoResult) -> None:
    ok, lines, state = run(demo)
    assert ok, lines
    assert state == "published"
    folder = demo.home / "outbox" / "published" / "2017-18_Q2"
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["quarter"] == "2017/18 Q2" and manifest["published_by"] == "clerk"
    assert [i["id"] for i in manifest["indicators"]] == ["CS01", "CS02", "CS03"]
    assert manifest["submissions"][0]["file"] == demo.filled.name
    for f in manifest["files"]:
        assert hashlib.sha256((folder / f["name"]).read_bytes()).hexdigest() == f["sha256"]
    names = {f["name"] for f in manifest["files"]}
    assert "Appendix 6(b) - Exception Reports (Q2 2017-18).docx" in names
    if shutil.which("soffice"):
        assert "Appendix 6(b) - Exception Reports (Q2 2017-18).pdf" in names
    else:
        assert any("LibreOffice" in line for line in lines)


def test_an_unrendered_tag_stops_publishing(demo: DemoResult) -> None:
    draft = edited(demo, lambda d: d.add_paragraph("{{ ex.description }}"))
    ok, lines, state = run(demo, draft)
    assert not ok and state == "open"
    assert any("unrendered template tag '{{ ex.description }}'" in line for line in lines)
    assert not (demo.home / "outbox" / "published" / "2017-18_Q2").exists()


def test_an_exception_without_a_service_response_stops_publishing(demo: DemoResult) -> None:
    def blank_early_help(doc: object) -> None:
        from docx.text.paragraph import Paragraph

        body = doc.element.body  # type: ignore[attr-defined]
        paras = [Paragraph(p, doc) for p in body.iter(f"{W}p")]  # type: ignore[arg-type]
        for p in paras:
            if p.text.startswith(("Data collection continues", "The development of the Early Help Hub")):
                for run in p.runs:
                    run.text = ""

    ok, lines, _ = run(demo, edited(demo, blank_early_help))
    assert not ok
    assert any(line.strip().startswith("CS02 (Number of early help assessments) has no service response")
               for line in lines)


def test_tracked_changes_stop_publishing(demo: DemoResult) -> None:
    from docx.oxml import parse_xml

    def track(doc: object) -> None:
        p = doc.paragraphs[-1]._p  # type: ignore[attr-defined]
        p.append(parse_xml('<w:ins xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
                           'w:id="1" w:author="Officer" w:date="2017-10-20T10:00:00Z"><w:r><w:t>new</w:t></w:r>'
                           "</w:ins>"))

    ok, lines, _ = run(demo, edited(demo, track))
    assert not ok and any("tracked change" in line for line in lines)


def test_a_published_quarter_can_be_reopened(demo: DemoResult) -> None:
    import subprocess
    import sys

    assert run(demo)[0]
    r = subprocess.run([sys.executable, "-m", "kpiflow", "reopen", "--quarter", "2017/18 Q2", "--by", "J Smith",
                        "--reason", "CS01 corrected", "--home", str(demo.home)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with open_store(load_settings(demo.home)) as store:
        assert store.quarter_state(Q2) == "open"
        assert store.quarter_events(Q2)[-1]["by"] == "J Smith"


def test_statuses_are_frozen_when_published(demo: DemoResult) -> None:
    from kpiflow.assess import assess
    from kpiflow.model import Figures

    assert run(demo)[0]
    settings = load_settings(demo.home)
    catalogue = load_checked_catalogue(settings)
    with open_store(settings) as store:
        before = {a.indicator.id: (a.verdict.exception, a.verdict.reasons) for a in assess(settings, store, catalogue, Q2)}
        # a revision after publishing would make CS02 no longer an exception...
        store.load_history([("CS02", Q2, Figures(900, None, None, None))], "late correction")
        after = {a.indicator.id: (a.verdict.exception, a.verdict.reasons) for a in assess(settings, store, catalogue, Q2)}
        # ...but what the published report said stands
        assert after == before and after["CS02"][0]
        store.record_quarter_event(Q2, "reopened", "clerk", "corrections")
        reopened = {a.indicator.id: a.verdict.exception for a in assess(settings, store, catalogue, Q2)}
        assert reopened["CS02"] is False
