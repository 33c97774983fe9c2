"""kpiflow publish with the web page and the open data, whole process, for 60 exceptions with
every chart, against the same publish of the .docx and .pdf alone (kpiflow.report.web's files left out).
Bar (PRODUCT.md section 14): <= 1.15x.

Each run publishes a fresh copy of the same working folder and draft (publishing closes the
quarter). Without LibreOffice both publish the .docx alone; the result says so.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_report import make_home
from common import KPIFLOW, verdict

RUNS = 2
WITHOUT_WEB = r'''
import sys
from pathlib import Path
import kpiflow.report.web as web

class _Nothing:
    def __init__(self, *args, **kwargs): pass
    def start(self): pass
    def write(self, folder, documents): return []

web.PublicFiles = _Nothing
from kpiflow.cli import main
sys.argv = ["kpiflow", *sys.argv[1:]]
main()
'''


def publish_once(template: Path, root: Path, n: int, with_web: bool) -> float:
    home = root / f"run-{n}-{'web' if with_web else 'docx'}"
    shutil.copytree(template, home)
    args = ["publish", "--quarter", "2017/18 Q2", "--home", str(home)]
    cmd = [*KPIFLOW, *args] if with_web else [sys.executable, "-c", WITHOUT_WEB, *args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"publish failed ({proc.returncode}): {proc.stdout[-800:]}{proc.stderr[-800:]}")
    published = home / "outbox" / "published" / "2017-18_Q2"
    names = {p.name for p in published.iterdir()}
    assert ("indicators.csv" in names) == with_web, names
    shutil.rmtree(home)
    return took


def main() -> int:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        home = make_home(root, 2)
        proc = subprocess.run([*KPIFLOW, "report", "--quarter", "2017/18 Q2", "--home", str(home)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"report failed: {proc.stdout[-800:]}{proc.stderr[-800:]}")
        web, alone = [], []
        for n in range(RUNS):      # interleaved, so that a busy machine weighs on both alike
            alone.append(publish_once(home, root, n, with_web=False))
            web.append(publish_once(home, root, n, with_web=True))
    best_web, best_alone = min(web), min(alone)
    ratio = best_web / best_alone
    pdf = "" if shutil.which("soffice") else " (no LibreOffice here: the .docx alone, no PDF)"
    print(f"kpiflow publish, 60 exceptions, .docx and .pdf alone: {best_alone:.2f} s{pdf}")
    print(f"the same with the web page, indicators.csv and datapackage.json: {best_web:.2f} s  ratio {ratio:.2f} "
          "(bar <= 1.15)")
    ok = ratio <= 1.15
    verdict("publish_web", ok, ratio, f"seconds={best_web:.2f} alone={best_alone:.2f}{pdf}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
