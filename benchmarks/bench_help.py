"""kpiflow --help must answer in under 0.3 s: heavy libraries are imported only where used."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import KPIFLOW, best_of, verdict


def main() -> int:
    base = best_of([sys.executable, "-c", "pass"])
    ours = best_of([*KPIFLOW, "--help"])
    print(f"python -c pass: {base:.3f} s")
    print(f"kpiflow --help: {ours:.3f} s (bar: < 0.3 s)")
    verdict("help", ours < 0.3, ours / base, f"seconds={ours:.3f}")
    return 0 if ours < 0.3 else 1


if __name__ == "__main__":
    sys.exit(main())
