"""A throwaway PostgreSQL server for the tests and the benchmarks (Debian's ``postgresql`` package).

``initdb`` refuses to run as root, so as root the cluster is made and run as the ``postgres``
system user (``runuser``); otherwise as whoever runs the tests. The server listens only on a Unix
socket in its own temporary folder (``listen_addresses = ''``), with durability switched off:
nothing in it outlives the run.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

INSTALL_HINT = ("PostgreSQL is not installed: apt-get install postgresql (or make system-deps, as root) to run "
                "the PostgreSQL tests")


def find_bindir() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian keeps it out of PATH), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
                   if p.split("/")[4].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PgServer:
    """One running throwaway cluster. ``url(db)`` is a libpq URL for a database on it."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        # short: a Unix socket path must fit in 107 bytes
        self.root = Path(tempfile.mkdtemp(prefix="kpg-", dir="/tmp"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.log = self.root / "server.log"
        self.user = "kpiflow"
        self._as: list[str] = []
        if os.geteuid() == 0:
            run_as = _system_user()
            self._as = ["runuser", "-u", run_as, "--"]
            pw = pwd.getpwnam(run_as)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self.socket_dir.mkdir()
        if self._as:
            pw = pwd.getpwnam(self._as[2])
            os.chown(self.socket_dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.root, 0o755)
        os.chmod(self.socket_dir, 0o777)
        self._run("initdb", "-D", str(self.data), "-U", self.user, "-A", "trust", "-E", "UTF8", "--locale=C",
                  "--no-sync")
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as fh:
            fh.write(f"\nlisten_addresses = ''\nunix_socket_directories = '{self.socket_dir}'\n"
                     "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 100\n")
        self.start()

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self._as, str(self.bindir / tool), *args], capture_output=True, text=True,
                              check=check, timeout=120, cwd=self.root)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def restart(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", mode, "-w", "-t", "60", "restart")

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://{self.user}@/{db}?host={self.socket_dir}"

    def psql(self, sql: str, db: str = "postgres") -> str:
        out = subprocess.run([str(self.bindir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                              "-h", str(self.socket_dir), "-U", self.user, "-d", db, "-c", sql],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr}")
        return out.stdout.strip()

    def create_database(self, name: str) -> str:
        self.psql(f'CREATE DATABASE "{name}" TEMPLATE template0 STRATEGY FILE_COPY')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with contextlib.suppress(RuntimeError):
            self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def _system_user() -> str:
    """The user to run the cluster as when the tests run as root: ``postgres`` (made by Debian's
    package), else a ``kpiflow-pg`` user made here."""
    for name in ("postgres", "kpiflow-pg"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "kpiflow-pg"],
                   check=True, capture_output=True)
    return "kpiflow-pg"


def start_server() -> PgServer | None:
    """A running throwaway server, or None where PostgreSQL is not installed."""
    bindir = find_bindir()
    if bindir is None:
        return None
    return PgServer(bindir)


def wait_until(predicate: object, timeout: float = 30) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if callable(predicate) and predicate():
            return True
        time.sleep(0.05)
    return False
