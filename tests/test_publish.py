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
from kpiflow.store import SQLiteStore, open_store

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


# -- provenance, refusals and the command line ----------------------------------------------------

import os  # noqa: E402
import zipfile  # noqa: E402

from publish_helpers import (  # noqa: E402
    FOLDER,
    QUARTER,
    corrected_return,
    kpiflow,
    no_soffice_env,
    stored_texts,
)


def state(demo: DemoResult) -> str:
    with SQLiteStore(load_settings(demo.home).db_path) as store:
        return store.quarter_state(Q2)


def published(demo: DemoResult) -> list[str]:
    """Everything in outbox/published/, hidden working files included."""
    folder = demo.home / "outbox" / "published"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def visible(demo: DemoResult) -> list[str]:
    return [n for n in published(demo) if not n.startswith(".")]


def custom_properties(docx: Path) -> dict[str, str]:
    from lxml import etree

    with zipfile.ZipFile(docx) as zf:
        root = etree.fromstring(zf.read("docProps/custom.xml"))
    ns = "{http://schemas.openxmlformats.org/officeDocument/2006/custom-properties}"
    return {p.get("name"): "".join(p.itertext()) for p in root.iter(f"{ns}property")}


def test_the_draft_carries_its_quarter_submissions_and_figures(fresh: DemoResult) -> None:
    props = custom_properties(fresh.report)
    assert props["kpiflow quarter"] == QUARTER
    with SQLiteStore(load_settings(fresh.home).db_path) as store:
        sub = store.accepted_submission("Children's Services", Q2)
    assert sub is not None
    assert props[f"kpiflow submission {sub.id}"] == sub.sha256
    assert len(props["kpiflow figures"]) == 64
    # Word keeps a custom property's value to 255 characters
    assert all(len(v) <= 255 for v in props.values())


def test_a_draft_for_another_quarter_is_refused_naming_both(fresh: DemoResult) -> None:
    made = kpiflow(fresh.home, "report", "--quarter", "2017/18 Q1")
    assert made.returncode == 0, made.stderr
    q1 = fresh.home / "outbox" / "drafts" / "Appendix 6(b) - Exception Reports (Q1 2017-18).docx"
    before = stored_texts(fresh)
    r = kpiflow(fresh.home, "publish", "--quarter", QUARTER, "--from", str(q1))
    print(r.stdout)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "wrong-quarter" in r.stdout
    assert "made for 2017/18 Q1, not 2017/18 Q2" in r.stdout
    assert "Nothing was published" in r.stdout
    assert stored_texts(fresh) == before and state(fresh) == "open" and published(fresh) == []


def test_a_draft_made_before_a_return_accepted_since_is_refused(fresh: DemoResult) -> None:
    corrected_return(fresh, {"CS01": {"Number": 540, "Rate": 188.7}}, "Children's Services_2017-18_Q2 corrected.xlsx")
    ingested = kpiflow(fresh.home, "ingest")
    assert ingested.returncode == 0, ingested.stdout + ingested.stderr
    before = stored_texts(fresh)
    r = kpiflow(fresh.home, "publish", "--quarter", QUARTER)
    print(r.stdout)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "stale-draft" in r.stdout
    assert "Children's Services_2017-18_Q2 corrected.xlsx" in r.stdout          # the return, by name
    assert "CS01 2017/18 Q2 number 531 -> 540" in r.stdout                     # the figures it changed
    assert "CS01 2017/18 Q2 rate 185.6 -> 188.7" in r.stdout
    assert "--keep-edits" in r.stdout                                          # what to do
    with SQLiteStore(load_settings(fresh.home).db_path) as store:
        received = store.accepted_submission("Children's Services", Q2).received_at  # type: ignore[union-attr]
    assert received.replace("T", " ")[:16] in r.stdout                         # when it arrived
    assert stored_texts(fresh) == before and state(fresh) == "open" and published(fresh) == []


def test_a_file_that_is_not_a_kpiflow_draft_is_refused(fresh: DemoResult, tmp_path: Path) -> None:
    other = tmp_path / "minutes.docx"
    Document().save(str(other))
    r = kpiflow(fresh.home, "publish", "--quarter", QUARTER, "--from", str(other), "--json")
    assert r.returncode == 1, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert [(p["code"], p["severity"]) for p in out["checks"]["problems"]] == [("not-a-draft", "error")]
    assert "minutes.docx" in out["checks"]["problems"][0]["message"]
    text = tmp_path / "notes.docx"
    text.write_text("not a Word document at all", encoding="utf-8")
    r = kpiflow(fresh.home, "publish", "--quarter", QUARTER, "--from", str(text))
    print(r.stdout)
    assert r.returncode == 1 and "not-a-draft" in r.stdout and "Traceback" not in r.stderr
    assert state(fresh) == "open" and published(fresh) == []


def test_the_default_draft_is_the_newest_made_for_the_quarter_whatever_its_name(fresh: DemoResult) -> None:
    from publish_helpers import edit_xml, para, region, rewrite

    def add_line(root: object) -> None:
        content = region(root, "CS02", "response").find(
            "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}sdtContent")
        content.append(para("Saved under a name of the officer's choosing."))

    drafts = fresh.home / "outbox" / "drafts"
    edited_draft = rewrite(fresh.report, drafts / "Q1 edited in Writer.docx", {"word/document.xml": edit_xml(add_line)})
    os.utime(edited_draft, (os.path.getmtime(fresh.report) + 60,) * 2)
    # a newer draft made for another quarter is not the one
    assert kpiflow(fresh.home, "report", "--quarter", "2017/18 Q1").returncode == 0
    q1 = drafts / "Appendix 6(b) - Exception Reports (Q1 2017-18).docx"
    os.utime(q1, (os.path.getmtime(fresh.report) + 120,) * 2)
    r = kpiflow(fresh.home, "publish", "--quarter", QUARTER, env=no_soffice_env(fresh.home.parent / "bin"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Checking Q1 edited in Writer.docx" in r.stdout
    stored = stored_texts(fresh)["CS02"]
    assert stored is not None and stored[1].endswith("Saved under a name of the officer's choosing.")


def test_publish_json_is_the_librarys_result(fresh: DemoResult) -> None:
    from publish_helpers import edit_xml, para, rewrite

    def tag(root: object) -> None:
        body = root.find("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}body")  # type: ignore[attr-defined]
        body.insert(len(body) - 1, para("{{ ex.description }}"))

    bad = rewrite(fresh.report, fresh.home / "bad.docx", {"word/document.xml": edit_xml(tag)})
    r = kpiflow(fresh.home, "publish", "--quarter", QUARTER, "--from", str(bad), "--json")
    assert r.returncode == 1
    settings = load_settings(fresh.home)
    with SQLiteStore(settings.db_path) as store:
        result = publish(settings, store, load_checked_catalogue(settings), Q2, bad, "clerk")
    assert json.loads(r.stdout) == json.loads(json.dumps(result.to_dict(), default=str))
    problem = result.to_dict()["checks"]["problems"][0]
    assert problem["code"] == "unrendered-tag" and problem["cell"].startswith("paragraph ")


def test_an_already_published_quarter_is_refused_until_reopened(fresh: DemoResult) -> None:
    env = no_soffice_env(fresh.home.parent / "bin")
    assert kpiflow(fresh.home, "publish", "--quarter", QUARTER, env=env).returncode == 0
    before = stored_texts(fresh)
    r = kpiflow(fresh.home, "publish", "--quarter", QUARTER, env=env)
    print(r.stdout)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "quarter-published" in r.stdout and "kpiflow reopen" in r.stdout
    assert visible(fresh) == [FOLDER] and stored_texts(fresh) == before
    assert kpiflow(fresh.home, "reopen", "--quarter", QUARTER, "--reason", "CS01 corrected").returncode == 0
    again = kpiflow(fresh.home, "publish", "--quarter", QUARTER, env=env)
    assert again.returncode == 0, again.stdout
    assert visible(fresh) == [FOLDER, f"{FOLDER} (2)"]


def test_text_typed_by_a_service_that_looks_like_a_template_tag_is_published(fresh: DemoResult) -> None:
    corrected_return(fresh, {"CS02": {"Service response": "Targets for {{ 7*7 }} sites, {% not a tag %} either"},
                             "CS01": {"Commentary": "Ages {# 0-4 #} and up"}},
                     "Children's Services_2017-18_Q2 again.xlsx")
    assert kpiflow(fresh.home, "ingest").returncode == 0
    assert kpiflow(fresh.home, "report", "--quarter", QUARTER).returncode == 0
    r = kpiflow(fresh.home, "publish", "--quarter", QUARTER, env=no_soffice_env(fresh.home.parent / "bin"))
    assert r.returncode == 0, r.stdout + r.stderr
    stored = stored_texts(fresh)["CS02"]
    assert stored is not None and stored[1] == "Targets for {{ 7*7 }} sites, {% not a tag %} either"


def test_the_demo_publishes_and_says_where_the_files_are(tmp_path: Path) -> None:
    home = tmp_path / "d"
    r = kpiflow(home, "demo", env=no_soffice_env(tmp_path / "bin"))
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    draft = home / "outbox" / "drafts" / "Appendix 6(b) - Exception Reports (Q2 2017-18).docx"
    folder = home / "outbox" / "published" / FOLDER
    assert f"Report: {draft}" in r.stdout
    assert f"Published: {folder}" in r.stdout
    assert "LibreOffice (soffice) is not installed" in r.stdout and "the .docx alone" in r.stdout
    assert sorted(p.name for p in folder.iterdir()) == ["Appendix 6(b) - Exception Reports (Q2 2017-18).docx",
                                                        "Appendix 6(b) - Exception Reports (Q2 2017-18).html",
                                                        "datapackage.json", "indicators.csv", "manifest.json"]
