"""Shared fixtures: a fresh working folder with the shipped example, real files throughout."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from kpiflow.catalogue import load_checked_catalogue
from kpiflow.demo import SERVICE, fill_example_return, load_example_history
from kpiflow.init import init_home
from kpiflow.issue import issue_returns
from kpiflow.model import Catalogue
from kpiflow.periods import Period, parse_period
from kpiflow.settings import Settings, load_settings
from kpiflow.store import Store

Q2 = parse_period("2017/18 Q2")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    init_home(h, council="Blackpool Council")
    return h


@pytest.fixture
def settings(home: Path) -> Settings:
    return load_settings(home)


@pytest.fixture
def catalogue(settings: Settings) -> Catalogue:
    return load_checked_catalogue(settings)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    with Store(settings.db_path) as s:
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
