"""kpiflow proofread: officers' words checked against the figures (PRODUCT.md section 21).

The corpus (tests/fixtures/proofread/corpus.csv) holds sentences written the ways officers write them
about the demo (Q2 2017/18) and the Northmoor council fixture (2025/26 Q2), each with the findings
worked out by hand (see its README); every false one must be found and no true one flagged."""

from __future__ import annotations

import csv
from dataclasses import dataclass
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
    agrees with the figures it was drafted from."""
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
                    found = pr.check_paragraphs(ev, "commentary", paras)
                    assert not found, f"{q} {iid}: " + "; ".join(f.line() for f in found)
    assert checked > 300
