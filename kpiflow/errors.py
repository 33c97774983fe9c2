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


DISK_FULL = ("the disk is full, so kpiflow could not finish writing (nothing half-written is kept). Free some "
             "space on the disk that holds the working folder (or the store's server), then run this again.")


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the disk is full: ENOSPC or EDQUOT from the system,
    SQLITE_FULL from SQLite, or PostgreSQL's disk_full (53100)."""
    import errno

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            return True
        if getattr(current, "sqlite_errorcode", None) == 13:     # SQLITE_FULL
            return True
        if "database or disk is full" in str(current) or getattr(current, "sqlstate", None) == "53100":
            return True
        current = current.__cause__ or current.__context__
    return False


def failure(exc: BaseException) -> str:
    """What went wrong, for a message: the disk being full said plainly, otherwise the exception."""
    return DISK_FULL if disk_full(exc) else f"{type(exc).__name__}: {exc}"
