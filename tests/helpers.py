"""Helpers shared by several test modules (pytest puts this folder on sys.path)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from kpiflow.demo import EXAMPLE_CATALOGUE, example_history, example_return
from kpiflow.model import Figures
from kpiflow.periods import Period, parse_period
from kpiflow.settings import Rules
from kpiflow.trends import Facts, facts

Q2 = parse_period("2017/18 Q2")


def seed_series(iid: str) -> dict[Period, Figures]:
    """The shipped history of one indicator plus the example Q2 2017/18 return, as the store holds them."""
    series = {p: f for i, p, f in example_history() if i == iid}
    ret = example_return()
    row = ret["figures"][iid]
    series[Q2] = Figures(row.get("Number"), row.get("Rate"), row.get("Statistical neighbours"), row.get("England"))
    for i, label, number, rate, sn, en in ret["support"]:
        if i == iid:
            series[parse_period(label)] = Figures(number, rate, sn, en)
    return series


def seed_facts(iid: str) -> Facts:
    """Facts for one of the shipped example's indicators at Q2 2017/18, with the example return in."""
    ind = EXAMPLE_CATALOGUE.get(iid)
    assert ind is not None
    r = Rules()
    return facts(ind, seed_series(iid), Q2, {"2017/18": None}, r.tolerance_percent, r.no_change_percent,
                 r.projection_points)


# LibreOffice driven through UNO: tests/uno_client.py runs under Debian's python3, which has python3-uno
SYSTEM_PYTHON = "/usr/bin/python3"
CLIENT = Path(__file__).with_name("uno_client.py")


def clean_env() -> dict[str, str]:
    """The environment without the virtual environment's Python settings."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


def uno_available() -> bool:
    if shutil.which("soffice") is None or not Path(SYSTEM_PYTHON).exists():
        return False
    try:
        return subprocess.run([SYSTEM_PYTHON, "-c", "import uno"], capture_output=True, timeout=30,
                              env=clean_env()).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def uno(command: str, args: dict[str, Any], status: int = 0) -> dict[str, Any]:
    """Run one uno_client command and return its JSON result, checking its exit status."""
    args = {"timeout": 120, **{k: str(v) if isinstance(v, Path) else v for k, v in args.items()}}
    proc = subprocess.run([SYSTEM_PYTHON, str(CLIENT), command, json.dumps(args)], capture_output=True, text=True,
                          timeout=180, env=clean_env())
    assert proc.returncode == status, f"uno_client {command} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def run_kpiflow(*args: str, home: Path | None = None, cwd: Path | None = None,
                env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess[str]:
    """kpiflow run in this process as ``kpiflow.cli.main`` runs it (a failure is ``Error: ...`` and
    exit 2, never a traceback), with Typer's CliRunner capturing stdout and stderr apart. Returns
    what ``subprocess.run`` would, so a test can switch between the two. Use a subprocess only
    where start-up, exit codes of a real process or signals are the point."""
    import sys

    from typer.testing import CliRunner

    from kpiflow.cli import main

    env = {"COLUMNS": "200", "NO_COLOR": "1", "KPIFLOW_HOME": str(home) if home else None, **(env or {})}
    argv, where = sys.argv, os.getcwd()
    code = 0
    with CliRunner().isolation(env=env) as (out, err, _):
        sys.argv = ["kpiflow", *args]
        try:
            os.chdir(cwd or home or where)
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv = argv
            os.chdir(where)
        stdout, stderr = out.getvalue().decode("utf-8", "replace"), err.getvalue().decode("utf-8", "replace")
    return subprocess.CompletedProcess(["kpiflow", *args], code, stdout, stderr)
