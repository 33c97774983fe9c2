"""kpiflow proofread: officers' words checked against the figures (PRODUCT.md section 21).

The corpus (tests/fixtures/proofread/corpus.csv) holds sentences written the ways officers write them
about the demo (Q2 2017/18) and the Northmoor council fixture (2025/26 Q2), each with the findings
worked out by hand (see its README); every false one must be found and no true one flagged."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from council import CATALOGUE, COUNCIL, figures

from kpiflow import proofread as pr
from kpiflow.catalogue import load_checked_catalogue
from kpiflow.init import init_home
from kpiflow.model import Figures
from kpiflow.periods import Period, parse_period
from kpiflow.settings import load_settings
from kpiflow.store import open_store
from kpiflow.workbook.build import write_catalogue

FIXTURES = Path(__file__).parent / "fixtures" / "proofread"
QUARTERS = {"demo": parse_period("2017/18 Q2"), "council": parse_period("2025/26 Q2")}


@dataclass(frozen=True)
class Case:
    id: str
    fixture: str
    indicator: str
    region: str
    text: str
    expected: frozenset[str]
    why: str


def corpus() -> list[Case]:
    with (FIXTURES / "corpus.csv").open(encoding="utf-8", newline="") as fh:
        return [Case(r["id"], r["fixture"], r["indicator"], r["region"], r["text"], frozenset(r["expected"].split()),
                     r["why"]) for r in csv.DictReader(fh)]


def _publish_previous(store: Any, fixture: str, quarter: Period) -> None:
    """The previous quarter's words as published: what copied words are checked against."""
    previous = quarter.step(-1)
    with (FIXTURES / "published.csv").open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["fixture"] == fixture:
                store.set_text(r["indicator"], previous, r["commentary"], r["response"], "published report (test)")
    store.record_quarter_event(previous, "published", "test", "{}")


def council_home(root: Path) -> Path:
    """The Northmoor council's catalogue and every figure its services send, in a store."""
    home = root / "council"
    init_home(home, council=COUNCIL)
    write_catalogue(home / "workbook_templates" / "catalogue.xlsx", CATALOGUE)
    with open_store(load_settings(home)) as store:
        store.load_history([(r.iid, r.period, Figures(*r.values)) for r in figures()], "council fixture")
    return home


@pytest.fixture(scope="module")
def homes(demo_src: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from publish_helpers import copy_demo

    root = tmp_path_factory.mktemp("proofread")
    return {"demo": copy_demo(demo_src, root / "demo").home, "council": council_home(root)}


@pytest.fixture(scope="module")
def evidence(homes: dict[str, Path]) -> dict[str, dict[str, pr.Evidence]]:
    out = {}
    for fixture, home in homes.items():
        settings = load_settings(home)
        with open_store(settings) as store:
            _publish_previous(store, fixture, QUARTERS[fixture])
            out[fixture] = pr.evidence(settings, store, load_checked_catalogue(settings), QUARTERS[fixture])
    return out


def test_corpus_is_big_enough() -> None:
    cases = corpus()
    true = [c for c in cases if not c.expected]
    false = [c for c in cases if c.expected]
    assert len(true) >= 60 and len(false) >= 40
    assert len({c.id for c in cases}) == len(cases)
    for code in (pr.FIGURE, pr.DIRECTION, pr.TARGET, pr.COPIED, pr.PLACEHOLDER):
        assert any(code in c.expected for c in false), code
    assert {c.fixture for c in cases} == {"demo", "council"}


def test_corpus_recall_and_precision(evidence: dict[str, dict[str, pr.Evidence]]) -> None:
    """Every finding expected is found (recall 100%) and nothing else (precision 100%)."""
    missed, wrong = [], []
    expected_total = found_right = flagged = 0
    for c in corpus():
        found = pr.check_paragraphs(evidence[c.fixture][c.indicator], c.region, [c.text])
        codes = {f.code for f in found}
        assert all(f.indicator_id == c.indicator and f.region == c.region and f.paragraph == 1 for f in found)
        expected_total += len(c.expected)
        found_right += len(c.expected & codes)
        flagged += len(codes)
        if c.expected - codes:
            missed.append(f"{c.id}: {c.text} -- expected {sorted(c.expected - codes)}")
        if codes - c.expected:
            wrong.append(f"{c.id}: {c.text} -- " + "; ".join(f.message for f in found if f.code not in c.expected))
    assert not missed and not wrong, "\n".join(["missed:", *missed, "flagged wrongly:", *wrong])
    assert found_right == expected_total == flagged


def test_kpiflow_own_sentences_are_never_flagged(evidence: dict[str, dict[str, pr.Evidence]],
                                                 homes: dict[str, Path]) -> None:
    """Every sentence kpiflow drafts, for every indicator of the council in six quarters and the demo,
    agrees with the figures it was drafted from (which is why a draft's unchanged drafted paragraphs
    need no checking)."""
    from kpiflow.narrative import draft_commentary

    checked = 0
    for fixture, quarters in (("council", ("2024/25 Q1", "2024/25 Q2", "2024/25 Q3", "2024/25 Q4", "2025/26 Q1",
                                           "2025/26 Q2")), ("demo", ("2017/18 Q1", "2017/18 Q2"))):
        settings = load_settings(homes[fixture])
        with open_store(settings) as store:
            catalogue = load_checked_catalogue(settings)
            for q in quarters:
                for iid, ev in pr.evidence(settings, store, catalogue, parse_period(q)).items():
                    if ev.facts.current is None:
                        continue
                    paras = draft_commentary(ev.facts)
                    checked += len(paras)
                    # checked as if an officer had typed them (a draft's own unchanged words are not checked)
                    found = pr.check_paragraphs(replace(ev, drafted=(), previous_words=()), "commentary", paras)
                    assert not found, f"{q} {iid}: " + "; ".join(f.line() for f in found)
    assert checked > 300


# -- the ways people write numbers, and what is not a figure ---------------------------------------

@pytest.mark.parametrize(("text", "values"), [
    ("There were 531 children.", [531]),
    ("In 2015/16 there were 1,916 children in need.", [1916]),
    ("The rate was 185.6 per 10,000.", [185.6, 10000]),
    ("46% were seen in time, 46.0 per cent of them.", [46, 46.0]),
    ("About 2.5k assessments, costing £1.2m.", [2500, 1_200_000]),
    ("Five hundred and thirty-one children; nineteen hundred and thirty-two in need.", [531, 1932]),
    ("Fell by 1.9 percentage points.", [1.9]),
])
def test_numbers_are_read_the_ways_people_write_them(text: str, values: list[float]) -> None:
    assert [w.value for w in pr.numbers(pr._words_to_digits(text))] == pytest.approx(values)


@pytest.mark.parametrize("text", [
    "In 2017 and since 2015/16, at Q2 2017/18 and in quarter 3.",
    "At 30 September 2017, on 30/09/2017, by September 30th 2017, from Sep 2017 and 2017-09-30.",
    "Children aged 10 to 15, 16 and over, under-18s, 5-9 yrs, 18-year-olds; 21 will turn 18.",
    "Over the last 6 months, for 3 consecutive years, within 45 days and two quarters in a row.",
    "Section 17 and Sec 47 plans, Key Stage 2, Year 6, CS01 and the 3rd quarter.",
    "Ring 01253 477477 at 9am or 10:30.",
])
def test_years_dates_ages_periods_and_labels_are_not_figures(text: str) -> None:
    found = [w.text for w in pr.numbers(pr._words_to_digits(text))]
    assert found == ([] if "will turn" not in text else ["21"])


def test_rounding_to_the_precision_written() -> None:
    exact, one_dp = pr.numbers("531 and 185.6 and 186 and 2,000 and nearly 2,000 and over 500")[:2], None
    assert one_dp is None and [w.half_unit for w in exact] == [0.5, 0.05]
    ws = pr.numbers("186 and 2,000 and nearly 2,000 and over 500 and 1,900")
    assert pr._matches(ws[0], [185.6]) and not pr._matches(ws[0], [185.0])
    assert not pr._matches(ws[1], [1932.0])            # a plain 2,000 says two significant figures at least
    assert pr._matches(ws[2], [1932.0]) and not pr._matches(ws[2], [2010.0])   # nearly: below it
    assert pr._matches(ws[3], [514.0]) and not pr._matches(ws[3], [480.0])     # over: above it
    assert pr._matches(ws[4], [1932.0])                # 1,900 to the nearest hundred


# -- the command, publish and ingest -----------------------------------------------------------------

def _edited(draft: Path, dest: Path, words: dict[tuple[str, str], list[tuple[int, str]]]) -> Path:
    """A copy of the draft with paragraphs of marked regions replaced (index) or added (index -1)."""
    from publish_helpers import W, edit_xml, para, region, rewrite

    def change(root: Any) -> None:
        for (iid, kind), edits in words.items():
            content = region(root, iid, kind).find(f"{W}sdtContent")
            paras = content.findall(f"{W}p")
            for index, text in edits:
                if index < 0:
                    content.append(para(text))
                else:
                    content.replace(paras[index], para(text))

    return rewrite(draft, dest, {"word/document.xml": edit_xml(change)})


EDITS = {("CS01", "commentary"): [(1, "The rate rose compared with last quarter, to 185.6 per 10,000.")],
         ("CS02", "commentary"): [(-1, "The target for early help assessments has been met.")],
         ("CS03", "response"): [(-1, "No return received from Children's Services by 16 October 2017.")]}
# worked out by hand: the demo's drafted words are true; the CS01 response (the council's words) gives two
# figures kpiflow does not hold
EXPECTED = [("CS01", "commentary", 2, pr.DIRECTION), ("CS01", "response", 1, pr.FIGURE),
            ("CS01", "response", 2, pr.FIGURE), ("CS02", "commentary", 4, pr.TARGET),
            ("CS03", "response", 3, pr.PLACEHOLDER)]


def _where(findings: list[dict[str, Any]]) -> list[tuple[str, str, int, str]]:
    return [(f["indicator_id"], f["region"], f["paragraph"], f["code"]) for f in findings]


def test_proofread_a_draft_an_officer_edited(fresh: Any, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kpiflow.cli import app
    from kpiflow.proofread import proofread_quarter

    quarter = "2017/18 Q2"
    drafts = fresh.home / "outbox" / "drafts"
    untouched = CliRunner().invoke(app, ["proofread", "--quarter", quarter, "--home", str(fresh.home), "--json"])
    assert untouched.exit_code == 0
    assert _where(json.loads(untouched.output)["findings"]) == [f for f in EXPECTED if f[0] == "CS01" and
                                                                f[1] == "response"]
    edited = _edited(fresh.report, drafts / "edited.docx", EDITS)
    r = CliRunner().invoke(app, ["proofread", "--quarter", quarter, "--from", str(edited), "--home", str(fresh.home),
                                 "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out == proofread_quarter(load_settings(fresh.home), parse_period(quarter), edited).to_dict()
    assert _where(out["findings"]) == EXPECTED
    assert [f["number"] for f in out["findings"]] == [1, 2, 3, 4, 5]
    assert out["findings"][0]["quote"] == "The rate rose compared with last quarter, to 185.6 per 10,000."
    assert out["checked"] == ["CS01", "CS02", "CS03"]
    text = CliRunner().invoke(app, ["proofread", "--quarter", quarter, "--from", str(edited), "--home",
                                    str(fresh.home)])
    assert text.exit_code == 0
    assert "  1. CS01 commentary, paragraph 2  direction-contradicts  \"The rate rose compared with last quarter" \
        in text.output
    assert "5 findings in the words of 3 exceptions." in text.output
    strict = CliRunner().invoke(app, ["proofread", "--quarter", quarter, "--from", str(edited), "--home",
                                      str(fresh.home), "--strict"])
    assert strict.exit_code == 1


def test_proofread_exits_2_when_it_cannot_run(fresh: Any, tmp_path: Path) -> None:
    from publish_helpers import kpiflow

    r = kpiflow(fresh.home, "proofread", "--quarter", "2017/18 Q1")
    assert r.returncode == 2 and r.stderr.startswith("Error: There is no draft made for 2017/18 Q1")
    notes = tmp_path / "notes.docx"
    notes.write_text("not a Word document", encoding="utf-8")
    r = kpiflow(fresh.home, "proofread", "--quarter", "2017/18 Q2", "--from", str(notes))
    assert r.returncode == 2 and "is not a draft kpiflow made" in r.stderr and "Traceback" not in r.stderr
    r = kpiflow(fresh.home, "proofread", "--quarter", "2017/18 Q1", "--from", str(fresh.report))
    assert r.returncode == 2 and "was made for 2017/18 Q2, not 2017/18 Q1" in r.stderr


def test_publish_prints_the_findings_and_strict_refuses(fresh: Any) -> None:
    from publish_helpers import kpiflow, no_soffice_env

    edited = _edited(fresh.report, fresh.home / "outbox" / "drafts" / "edited.docx", EDITS)
    env = no_soffice_env(fresh.home.parent / "bin")
    refused = kpiflow(fresh.home, "publish", "--quarter", "2017/18 Q2", "--from", str(edited), "--strict", "--json",
                      env=env)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    out = json.loads(refused.stdout)
    assert not out["ok"] and out["folder"] is None and out["stored"] == []
    assert [(p["indicator_id"], p["code"], p["severity"]) for p in out["checks"]["problems"]] == [
        (iid, code, "error") for iid, _, _, code in EXPECTED]
    assert "--strict: 5 findings in the officers' words" in out["lines"][-1]
    with open_store(load_settings(fresh.home)) as store:
        assert store.quarter_state(parse_period("2017/18 Q2")) == "open"
    done = kpiflow(fresh.home, "publish", "--quarter", "2017/18 Q2", "--from", str(edited), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "  warning: CS01 commentary, paragraph 2: \"The rate rose compared with last quarter" in done.stdout
    assert done.stdout.count("  warning: ") == 5
    assert done.stdout.index("warning:") < done.stdout.index("Published:")


def test_ingest_checks_a_returns_own_words(settings: Any, store: Any, catalogue: Any, filled: Path,
                                           edit: Any, quarter: Period) -> None:
    """Warnings in the return's feedback, at the cells holding the words; the return is accepted."""
    from kpiflow.pipeline import process_file

    # the service response published for Q1, which the return repeats word for word for CS02
    store.set_text("CS02", quarter.step(-1), "", "The development of the Early Help Hub (as part of the Improvement "
                   "Plan) will see a more robust system developed.", "published report (test)")
    store.record_quarter_event(quarter.step(-1), "published", "clerk", "{}")
    bad = edit(filled, {"Return!J7": "The rate rose to 195.6 compared with last quarter."})
    dropped = settings.inbox / bad.name
    dropped.write_bytes(bad.read_bytes())
    out = process_file(settings, store, catalogue, dropped)
    assert out.status == "accepted"
    assert [x for x in out.problems.locations() if x[2] in pr.CODES] == [
        ("Return", "J7", pr.FIGURE), ("Return", "J7", pr.DIRECTION),
        ("Return", "K7", pr.FIGURE), ("Return", "K7", pr.FIGURE), ("Return", "K8", pr.COPIED)]
    assert all(p.severity == "warning" for p in out.problems.problems)
    txt = next(p for p in out.feedback if p.suffix == ".txt").read_text(encoding="utf-8")
    assert 'Return!J7  warning  figure-not-held  CS01: CS01 commentary, paragraph 1: "The rate rose to 195.6' in txt
    assert "Return!K8  warning  copied-words" in txt


LAZY_PROBE = """
import kpiflow.proofread as pr
lazy = [v for v in vars(pr).values() if isinstance(v, pr._LazyRegex)]
print(len(lazy), sum(v._compiled is not None for v in lazy))
"""


def test_patterns_are_compiled_when_first_used_and_every_one_compiles() -> None:
    """``kpiflow validate`` imports this module for any return with words: importing it compiles
    none of its patterns (they cost ~13 ms), and each one, compiled, is a valid expression."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", LAZY_PROBE], capture_output=True, text=True, check=True)
    count, compiled = map(int, r.stdout.split())
    assert count >= 40 and compiled == 0
    for name, value in vars(pr).items():
        if isinstance(value, pr._LazyRegex):
            assert value.compiled.pattern, name
    assert pr._NUMBER.search("up to 531 children") is not None and pr._CLAUSE_BREAK.split("a; b") == ["a", " b"]


TRICKY = ["£1.2m in 2017/18 (Q2), 30 September 2017", "Sept 2017: 12 of the last 13 months; aged 10 to 15",
          "'Section 17' and s.47, 1 in 5; 0161 234 5678 at 9am", "ſeptember, KQ2 (Kelvin sign), 5-year-olds",
          "it rose, not fell: “unchanged” at 46%", "(Green) rated Red; no change", "x£12 ÷3 —rose— _fell_ 2017-09-30"]


def test_a_pattern_said_to_start_at_a_word_matches_exactly_what_it_would_alone() -> None:
    """``word_start`` only lets the engine pass over the inside of words: over every sentence of the
    corpus and the published words, and some written to catch a pattern that starts elsewhere, each
    such pattern finds the same spans as its plain expression."""
    import re

    texts = [*TRICKY, *(c.text for c in corpus())]
    with (FIXTURES / "published.csv").open(encoding="utf-8", newline="") as fh:
        texts += [r[k] for r in csv.DictReader(fh) for k in ("commentary", "response")]
    said = {name: v for name, v in vars(pr).items() if isinstance(v, pr._LazyRegex) and v._word_start}
    assert {"_NOT_FIGURES", "_CLAIMS", "_FUTURE"} <= set(said)
    for name, rx in said.items():
        plain = re.compile(rx._source, rx._flags)
        for text in texts:
            assert [m.span() for m in rx.finditer(text)] == [m.span() for m in plain.finditer(text)], (name, text)
    # and a pattern that can start with "£" would be told apart
    money = pr._LazyRegex(r"£?\d+", 0, word_start=r"\w")
    assert [m.group() for m in money.finditer("£12")] != [m.group() for m in re.finditer(r"£?\d+", "£12")]


def test_proofread_opens_the_draft_once_through_its_size_checks(fresh: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import zipfile

    import kpiflow.docx.package as package
    from kpiflow.proofread import proofread_quarter

    draft = fresh.home / "outbox" / "drafts" / fresh.report.name
    opened: list[str] = []
    checked = package.open_package
    real_zip = zipfile.ZipFile

    class Counted(real_zip):  # type: ignore[valid-type,misc]
        def __init__(self, file: Any, *args: Any, **kwargs: Any) -> None:
            if isinstance(file, Path) and file.name.endswith(".docx"):
                opened.append("zip")
            super().__init__(file, *args, **kwargs)

    def counted_package(path: Path) -> Any:
        opened.append("open_package")
        return checked(path)

    monkeypatch.setattr(zipfile, "ZipFile", Counted)
    monkeypatch.setattr(package, "open_package", counted_package)
    for named in (None, draft):
        opened.clear()
        result = proofread_quarter(load_settings(fresh.home), parse_period("2017/18 Q2"), named)
        assert result.checked == ["CS01", "CS02", "CS03"] and result.draft == draft.name
        assert opened == ["open_package", "zip"], named


def test_a_draft_damaged_inside_is_refused_with_what_to_do(fresh: Any, tmp_path: Path) -> None:
    from publish_helpers import kpiflow, rewrite

    broken = rewrite(fresh.report, tmp_path / "broken.docx", {"word/document.xml": lambda b: b[: len(b) // 2]})
    r = kpiflow(fresh.home, "proofread", "--quarter", "2017/18 Q2", "--from", str(broken))
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.startswith("Error: broken.docx is damaged or built in a way Word never writes: its part "
                               "word/document.xml cannot be read"), r.stderr
    assert "save it again as a Word document (.docx)" in r.stderr and "unexpectedly" not in r.stderr
