"""Shared fixtures: a fresh working folder with the shipped example, real files throughout.

Tests marked ``backends`` (store, pipeline, concurrency, and some watch tests) run once per store,
with ids ``sqlite`` and ``postgresql``: the PostgreSQL run gets a database of its own on a real,
throwaway server that the session starts (tests/pg_server.py) and stops, and is skipped, saying how
to install it, where PostgreSQL is not installed.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from pg_server import INSTALL_HINT, PgServer, start_server

from kpiflow.catalogue import load_checked_catalogue
from kpiflow.demo import SERVICE, fill_example_return, load_example_history
from kpiflow.init import init_home
from kpiflow.issue import issue_returns
from kpiflow.model import Catalogue
from kpiflow.periods import Period, parse_period
from kpiflow.settings import Settings, load_settings
from kpiflow.store import Store, open_store

Q2 = parse_period("2017/18 Q2")
BACKENDS = ("sqlite", "postgresql")

# a store URL in the developer's environment must not send the tests to a real server
os.environ.pop("KPIFLOW_DATABASE_URL", None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backends: run once on SQLite and once on PostgreSQL (ids sqlite, "
                                       "postgresql)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    given = any("backend" in str(m.args[0]) for m in metafunc.definition.iter_markers("parametrize"))
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("backends") and not given:
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A real PostgreSQL server for the session, on a Unix socket in a temporary folder."""
    server = start_server()
    if server is None:
        pytest.skip(INSTALL_HINT)
    try:
        yield server
    finally:
        server.close()


_databases = itertools.count(1)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """Which store the working folder uses: "sqlite" unless the test is marked ``backends``."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def make_home(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Iterator[Callable[[str], Path]]:
    """Lay out a working folder ``tmp_path/name``; on PostgreSQL, with a database of its own."""
    made: list[Path] = []

    def make(name: str) -> Path:
        h = tmp_path / name
        init_home(h, council="Blackpool Council")
        if backend == "postgresql":
            server: PgServer = request.getfixturevalue("pg_server")
            db = f"kpiflow_test_{os.getpid()}_{next(_databases)}"
            url = server.create_database(db)
            request.addfinalizer(lambda: server.drop_database(db))
            with (h / "kpiflow.toml").open("a", encoding="utf-8") as fh:
                fh.write(f'\n[store]\nurl = "{url}"\n')
        made.append(h)
        return h

    yield make
    if backend == "postgresql":
        for h in made:
            assert not (h / "kpiflow.db").exists(), f"a store URL is set, yet {h}/kpiflow.db was written"


@pytest.fixture
def home(make_home: Callable[[str], Path]) -> Path:
    return make_home("home")


@pytest.fixture
def settings(home: Path) -> Settings:
    return load_settings(home)


@pytest.fixture
def catalogue(settings: Settings) -> Catalogue:
    return load_checked_catalogue(settings)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    with open_store(settings) as s:
        load_example_history(s)
        yield s


@pytest.fixture
def quarter() -> Period:
    return Q2


@pytest.fixture
def issued(settings: Settings, store: Store, catalogue: Catalogue) -> Path:
    return issue_returns(settings, store, catalogue, Q2, SERVICE)[0]


@pytest.fixture
def filled(issued: Path, tmp_path: Path) -> Path:
    """The example return, filled in as the service would, outside the inbox."""
    return fill_example_return(issued, tmp_path / "filled" / issued.name)


@pytest.fixture
def edit(tmp_path: Path) -> Callable[..., Path]:
    """Copy a workbook with cells changed, as a careless user (ignoring protection) would."""
    counter = iter(range(1000))

    def _edit(src: Path, changes: dict[str, Any], name: str | None = None,
              delete_sheet: str | None = None) -> Path:
        wb = openpyxl.load_workbook(src)
        for ref, value in changes.items():
            sheet, cell = ref.split("!")
            wb[sheet][cell].value = value
        if delete_sheet:
            del wb[delete_sheet]
        out = tmp_path / "edited" / f"{next(counter)}" / (name or src.name)
        out.parent.mkdir(parents=True)
        wb.save(out)
        return out

    return _edit


@pytest.fixture(autouse=True)
def _every_problem_code_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """A problem raised anywhere in a test with a code missing from the registry fails that test."""
    from kpiflow.problems import CODES, Problem, ValidationResult

    original = ValidationResult.add

    def add(self: ValidationResult, problem: Problem) -> None:
        assert problem.code in CODES, f"problem code {problem.code!r} is not in kpiflow.problems.CODES"
        original(self, problem)

    monkeypatch.setattr(ValidationResult, "add", add)


@pytest.fixture(scope="module")
def demo_src(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The demo run once per test module: draft made, quarter open."""
    from kpiflow.demo import run_demo

    return run_demo(tmp_path_factory.mktemp("demo-src") / "demo")


@pytest.fixture
def fresh(demo_src: Any, tmp_path: Path) -> Any:
    """A working folder of its own, as the demo left it: the draft made, the quarter open."""
    from publish_helpers import copy_demo

    return copy_demo(demo_src, tmp_path / "demo")
