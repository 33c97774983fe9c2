"""kpiflow proofread of a 60-exception draft, whole process, against kpiflow report for the same
quarter (bar: proofread <= 0.5x report). The draft is bench_report's: each exception's commentary is
kpiflow's (what a report drafts where the return gives none), and each service response is an
officer's two paragraphs with figures, a comparison, dates and the future; every tenth exception's
commentary is the officer's own instead (three paragraphs of figures and comparisons)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_report import N, make_home
from common import KPIFLOW, best_of, verdict

COMMENTARY = (
    "The rate fell to {rate} per 10,000 at 30 September 2017, compared with {prev} at the end of June.\n"
    "It is higher than at Q2 2016/17; the number of children aged 10 to 15 rose by 12.\n"
    "In 2016/17, the latest complete year, the rate was above the statistical neighbours' average and England.")
RESPONSE = ("Response for {iid}: we are acting & monitoring, and have met partners 3 times since April 2017.\n"
            "The rate of {rate} per 10,000 is higher than last quarter ({prev}); we expect it to fall by the year "
            "end, in line with the plan agreed in 2016/17.")


def officer_words(home: Path) -> None:
    from kpiflow.periods import parse_period
    from kpiflow.settings import load_settings
    from kpiflow.store import open_store

    q = parse_period("2017/18 Q2")
    with open_store(load_settings(home)) as store:
        for i in range(N):
            iid = f"B{i:02d}"
            series = store.series(iid)
            now, before = series[q.months()[-1]], series[q.months()[0].step(-1)]
            words = dict(rate=now.rate, prev=before.rate, iid=iid)
            store.set_text(iid, q, COMMENTARY.format(**words) if i % 10 == 0 else "", RESPONSE.format(**words),
                           "benchmark")


def main() -> int:
    with tempfile.TemporaryDirectory() as d:
        home = make_home(Path(d), 2)
        officer_words(home)
        # both commands run from compiled bytecode, as an installed kpiflow does (kept in a folder of the
        # run's own, so that an environment that writes none, PYTHONDONTWRITEBYTECODE, times imports alike)
        env = {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(Path(d) / "pycache")}
        report = best_of([*KPIFLOW, "report", "--quarter", "2017/18 Q2", "--home", str(home)], runs=1, env=env)
        # then each in turn, so that a slow spell of the machine falls on both alike
        times: dict[str, list[float]] = {"report": [report], "proofread": []}
        for _ in range(3):
            for command in ("report", "proofread"):
                times[command].append(best_of([*KPIFLOW, command, "--quarter", "2017/18 Q2", "--home", str(home)], runs=1,
                                              env=env))
        report, proofread = min(times["report"]), min(times["proofread"])
    ratio = proofread / report
    print(f"kpiflow report, {N} exceptions: {report:.2f} s")
    print(f"kpiflow proofread of that draft: {proofread:.2f} s  ratio {ratio:.2f} (bar <= 0.5)")
    ok = ratio <= 0.5
    verdict("proofread", ok, ratio, f"seconds={proofread:.2f} report={report:.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
