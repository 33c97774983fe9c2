"""Failures of a run, as opposed to problems found in the input (see problems.py)."""

from __future__ import annotations


class KpiflowError(Exception):
    """A command could not run: the CLI prints the message and exits 2."""

    exit_code = 2


class NoFiguresError(KpiflowError):
    """There is nothing to report: no figure at all for the quarter (most often a mistyped quarter).
    An input problem, so the CLI exits 1."""

    exit_code = 1


class SettingsError(KpiflowError):
    """kpiflow.toml is unreadable or has an unknown key or a bad value."""


class HomeError(KpiflowError):
    """The working folder is missing or not laid out as kpiflow expects."""


class PeriodError(ValueError):
    """A text or cell value is not a period kpiflow understands."""


class StoreUnavailable(KpiflowError):
    """The store's server cannot be reached, or the connection to it was lost: nothing half-done
    is kept, and what was being done can be tried again."""
