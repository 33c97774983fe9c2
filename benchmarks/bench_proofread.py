"""kpiflow proofread of a 60-exception draft, whole process, against kpiflow report for the same
quarter (bar: proofread <= 0.5x report). Each exception's words are an officer's: four paragraphs of
commentary with figures, comparisons and a target claim, and a two-paragraph service response."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_report import N, make_home
from common import KPIFLOW, best_of, verdict

COMMENTARY = (
    "The rate fell to {rate} per 10,000 at 30 September 2017, compared with {prev} at the end of June, an "
    "improvement on last quarter.\n"
    "It is higher than at Q2 2016/17, worse than a year ago; the number of children aged 10 to 15 rose by 12.\n"
    "In 2016/17, the latest complete year, the rate was above the statistical neighbours' average and England, and "
    "the gap has widened since 2015/16.\n"
    "There is no target for this indicator, so it is compared with the trend of the last 6 months.")
RESPONSE = ("Response for {iid}: we are acting & monitoring, and have met partners 3 times since April 2017.\n"
            "The service expects around {rate} by the year end, in line with the plan agreed in 2016/17.")


def officer_words(home: Path) -> None:
    from kpiflow.periods import parse_period
    from kpiflow.settings import load_settings
    from kpiflow.store import open_store

    q = parse_period("2017/18 Q2")
    with open_store(load_settings(home)) as store:
        for i in range(N):
            iid = f"B{i:02d}"
            now, before = store.series(iid)[q.months()[-1]], store.series(iid)[q.months()[0].step(-1)]
            store.set_text(iid, q, COMMENTARY.format(rate=now.rate, prev=before.rate),
                           RESPONSE.format(iid=iid, rate=now.rate), "benchmark")


def main() -> int:
    with tempfile.TemporaryDirectory() as d:
        home = make_home(Path(d), 2)
        officer_words(home)
        report = best_of([*KPIFLOW, "report", "--quarter", "2017/18 Q2", "--home", str(home)], runs=3)
        proofread = best_of([*KPIFLOW, "proofread", "--quarter", "2017/18 Q2", "--home", str(home)], runs=3)
    ratio = proofread / report
    print(f"kpiflow report, {N} exceptions: {report:.2f} s")
    print(f"kpiflow proofread of that draft: {proofread:.2f} s  ratio {ratio:.2f} (bar <= 0.5)")
    ok = ratio <= 0.5
    verdict("proofread", ok, ratio, f"seconds={proofread:.2f} report={report:.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
