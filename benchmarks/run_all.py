"""make bench: run every benchmarks/bench_*.py, print a summary, exit 1 if any bar is missed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).resolve().parent
    rows = []
    for script in sorted(here.glob("bench_*.py")):
        print(f"== {script.name}", flush=True)
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
        print(proc.stdout, end="")
        if proc.returncode not in (0, 1):
            print(proc.stderr, end="")
        # a script may report more than one result (bench_watch: SQLite, then PostgreSQL beside it)
        results = [ln for ln in proc.stdout.splitlines() if ln.startswith("bench ")]
        rows += [(script.stem, ln) for ln in results] or [
            (script.stem, f"bench {script.stem}: FAIL (no result: exit {proc.returncode})")]
    print("\nsummary")
    for _, line in rows:
        print(f"  {line}")
    # SKIP: a run that needs something not installed here (PostgreSQL), and says how to install it
    return 0 if rows and all(": PASS" in line or ": SKIP" in line for _, line in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
