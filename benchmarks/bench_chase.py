"""kpiflow chase --send for 60 services against a local SMTP server (aiosmtpd): >= 20 messages/s.

Whole process, best of three, each run on a fresh copy of a working folder with 60 services, each
owed an overdue chase with its issued workbook attached. The baseline, measured in the same run, is
bare smtplib sending the same number of messages of the same size over one connection.
"""

from __future__ import annotations

import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import KPIFLOW, verdict

SERVICES = 60
BAR = 20.0      # messages a second


def _controller(received: list[int]) -> Any:
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(len(envelope.original_content))
            return "250 OK"

    class Local(Controller):  # type: ignore[misc]
        def _trigger_server(self) -> None:
            self.port = self.server.sockets[0].getsockname()[1]
            super()._trigger_server()

    c = Local(Handler(), hostname="127.0.0.1", port=0)
    c.start()
    return c


def _home(root: Path, port: int) -> Path:
    from kpiflow.init import init_home
    from kpiflow.issue import issue
    from kpiflow.model import Catalogue, Contact, Indicator
    from kpiflow.periods import parse_period
    from kpiflow.settings import load_settings
    from kpiflow.workbook.build import write_catalogue

    home = root / "home"
    init_home(home, "Bench Council")
    names = [f"Service {i:02d}" for i in range(SERVICES)]
    inds = tuple(Indicator(f"S{i:02d}", f"Indicator {i}", "Portfolio", n, "High", "Number", None, "Quarterly",
                           "Snapshot", None, "Auto") for i, n in enumerate(names))
    contacts = {n: Contact(n, f"Contact {i}", (f"contact{i}@bench.example",), f"Approver {i}",
                           (f"approver{i}@bench.example",)) for i, n in enumerate(names)}
    write_catalogue(home / "workbook_templates" / "catalogue.xlsx", Catalogue(inds, contacts=contacts,
                                                                              has_services_sheet=True))
    with (home / "kpiflow.toml").open("a", encoding="utf-8") as fh:
        fh.write(f'\n[mail]\nfrom = "performance@bench.example"\nhost = "127.0.0.1"\nport = {port}\n'
                 "starttls = false\n")
    issue(load_settings(home), parse_period("2025/26 Q2"))
    return home


def _baseline(port: int, size: int) -> float:
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        for i in range(SERVICES):
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = "p@bench.example", f"c{i}@bench.example", f"Bench {i}"
            msg.set_content("x" * size)
            smtp.send_message(msg)
    return time.perf_counter() - start


def main() -> int:
    received: list[int] = []
    c = _controller(received)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            template = _home(Path(tmp) / "template", c.port)
            times = []
            for run in range(3):
                home = Path(tmp) / f"run{run}"
                shutil.copytree(template, home)
                received.clear()
                start = time.perf_counter()
                p = subprocess.run([*KPIFLOW, "chase", "--home", str(home), "--quarter", "2025/26 Q2", "--on",
                                    "2025-10-23", "--send"], capture_output=True, text=True)
                times.append(time.perf_counter() - start)
                if p.returncode != 0 or len(received) != SERVICES:
                    print(p.stdout[-800:], p.stderr[-800:])
                    print(f"bench chase: FAIL (exit {p.returncode}, {len(received)} of {SERVICES} messages received)")
                    return 1
            size = sum(received) // len(received)
            base = min(_baseline(c.port, size) for _ in range(3))
    finally:
        c.stop()
    ours = min(times)
    rate = SERVICES / ours
    print(f"bare smtplib, {SERVICES} messages of {size} bytes: {base:.3f} s ({SERVICES / base:.0f} messages/s)")
    print(f"kpiflow chase --send, {SERVICES} services, whole process: {ours:.3f} s ({rate:.1f} messages/s; "
          f"bar: >= {BAR:g})")
    verdict("chase", rate >= BAR, ours / base, f"messages_per_second={rate:.1f}")
    return 0 if rate >= BAR else 1


if __name__ == "__main__":
    sys.exit(main())
