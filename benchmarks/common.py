"""Helpers for the benchmark scripts: whole-process timings, best of several runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

KPIFLOW = [sys.executable, "-m", "kpiflow"]


def best_of(cmd: list[str], runs: int = 5, env: dict[str, str] | None = None, ok_codes: tuple[int, ...] = (0,)) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
        times.append(time.perf_counter() - start)
        if proc.returncode not in ok_codes:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-500:]}")
    return min(times)


def best_of_each(cmds: list[list[str]], runs: int = 5) -> list[float]:
    """``best_of`` for several commands whose times are compared, run in turn (a, b, a, b, ...), so that a
    slow spell of the machine falls on all of them alike."""
    times: list[list[float]] = [[] for _ in cmds]
    for _ in range(runs):
        for i, cmd in enumerate(cmds):
            times[i].append(best_of(cmd, runs=1))
    return [min(t) for t in times]


def verdict(name: str, ok: bool, ratio: float, extra: str = "") -> None:
    print(f"bench {name}: {'PASS' if ok else 'FAIL'} ratio={ratio:.2f}{(' ' + extra) if extra else ''}")


def project_root() -> Path:
    return Path(__file__).resolve().parent.parent
