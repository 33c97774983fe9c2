"""Every file kpiflow writes follows the umask: on a shared drive (umask 002) the whole group can
open and replace what kpiflow wrote, issued workbooks included."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")

RUN = r"""
import os, sys
from pathlib import Path
os.umask(0o002)
home = Path(sys.argv[1])

def kpiflow(*args):
    # in this process, which has the umask: as kpiflow.cli.main runs a command
    from kpiflow.cli import main
    sys.argv = ["kpiflow", *args, "--home", str(home)]
    try:
        main()
    except SystemExit as exc:
        print(" ".join(args[:1]), exc.code, file=sys.stderr)
        return exc.code
    return 0

assert kpiflow("demo") == 0
import openpyxl
issued = next((home / "outbox" / "returns").glob("*.xlsx"))
wb = openpyxl.load_workbook(home / "inbox" / "processed" / issued.name)
wb["Return"]["F7"].value = "n/a"
wb.save(home / "inbox" / "bad.xlsx")
assert kpiflow("ingest") == 1                              # rejected: .txt and a marked-up copy
assert kpiflow("issue", "--quarter", "2017/18 Q3") == 0
assert kpiflow("report", "--quarter", "2017/18 Q2") == 0   # the demo published Q2; reopen and publish again
assert kpiflow("reopen", "--quarter", "2017/18 Q2", "--reason", "again") == 0
assert kpiflow("publish", "--quarter", "2017/18 Q2") == 0
"""


def test_every_file_kpiflow_writes_follows_the_umask(tmp_path: Path) -> None:
    home = tmp_path / "home"
    r = subprocess.run([sys.executable, "-c", RUN, str(home)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    modes = {}
    for p in [home, *home.rglob("*")]:
        st = p.lstat()
        if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
            modes[p.relative_to(tmp_path).as_posix()] = stat.S_IMODE(st.st_mode)
    wrong = {p: oct(m) for p, m in modes.items() if m != (0o775 if (tmp_path / p).is_dir() else 0o664)}
    assert wrong == {}
    names = set(modes)
    for expected in ("home/kpiflow.db", "home/outbox/returns/Children's Services_2017-18_Q3.xlsx",
                     "home/outbox/feedback/bad - feedback.xlsx", "home/outbox/published/2017-18_Q2/manifest.json"):
        assert expected in names, sorted(names)
