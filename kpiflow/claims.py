"""Who holds which file, message or lock: claims, held until released or until the holder dies.

A :class:`Claim` is taken without waiting (``None`` if another process has it) and dropped by the
operating system or the database however the process holding it ends, so a thing whose claim can
be taken is not being worked on. There are two kinds of :class:`Claims`, picked by
:func:`claims_for` from the store:

- :class:`FileClaims` (SQLite): ``flock`` on the file itself, or on a lock file for something
  that is not a file. It holds on one machine: file locks on SMB or NFS shares do not hold
  across hosts, and neither does SQLite.
- :class:`DatabaseClaims` (PostgreSQL): a session advisory lock in the database, keyed by name
  (``Store.try_claim``), so it holds across every host sharing the store. It lapses with a lost
  connection, so :meth:`Claim.held` is asked before the claim is relied on.

Files in the working folder are claimed with :meth:`Claims.file`; anything else (a queued
email message before it is sent, the one publish at a time) by name with :meth:`Claims.named`:
``claims.named(message_claim(42))``, ``claims.named(PUBLISH)``.
"""

from __future__ import annotations

import contextlib
import hashlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

from kpiflow.filing import FileLock, lock_created, safe_name, try_lock

if TYPE_CHECKING:
    from kpiflow.settings import Settings

#: the name of the claim that lets one publish run at a time
PUBLISH = "publish"


def message_claim(message_id: int | str) -> str:
    """The name a queued outgoing message is claimed under before it is sent."""
    return f"message {message_id}"


class Claim(Protocol):
    """One claim, held until released (or until the process holding it ends)."""

    def held(self) -> bool:
        """True while this process still holds the claim (a claim in the database lapses with a
        lost connection, and is taken again here if no other process has taken it meanwhile)."""
        ...

    def release(self) -> None:
        """Drop the claim; releasing twice does nothing."""
        ...


class ClaimingStore(Protocol):
    """What claims need of a store (``kpiflow.store.Store``): whether it takes claims, and taking one."""

    @property
    def claims_in_database(self) -> bool: ...

    def try_claim(self, name: str) -> Claim | None: ...


class FileClaim:
    """A claim held as ``flock`` on one open file. Given ``path``, the file is a lock file of
    kpiflow's own, removed when the claim is dropped: while still locked, so a process that opened
    it meanwhile finds, once it has the lock, that the name no longer leads to it, and tries again."""

    def __init__(self, lock: FileLock, path: Path | None = None) -> None:
        self.lock = lock
        self.path = path
        self._released = False

    def held(self) -> bool:
        return not self._released    # the operating system drops a flock only with the process

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        try:
            if self.path is not None and self.lock.holds(self.path):
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
        finally:
            self.lock.release()


class Claims(ABC):
    """Where claims are taken: see the module's notes."""

    #: True where a claim holds across hosts sharing the working folder, not just on one machine
    across_hosts: ClassVar[bool]

    @abstractmethod
    def file(self, path: Path) -> Claim | None:
        """Claim the file at ``path``; None if another process holds it (or it is gone, for a file
        lock). ``path`` names the file the same way from every host (see :func:`claim_name`)."""

    @abstractmethod
    def named(self, name: str) -> Claim | None:
        """Claim something that is not a file, by name; None if another process holds it."""


class FileClaims(Claims):
    """Claims as file locks, on one machine. Named claims lock a file in ``folder``."""

    across_hosts = False

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def file(self, path: Path) -> FileClaim | None:
        lock = try_lock(path)
        return FileClaim(lock) if lock is not None else None

    def named(self, name: str) -> FileClaim | None:
        self.folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:16]
        path = self.folder / f"{safe_name(name, limit=60)}-{digest}.lock"
        for _ in range(10):
            got = lock_created(path)
            if got is None:
                return None           # held by another process
            if got.holds(path):
                return FileClaim(got, path)
            got.release()             # removed by its last holder between opening and locking: again
        return None


class DatabaseClaims(Claims):
    """Claims as advisory locks in the store's database, across hosts."""

    across_hosts = True

    def __init__(self, settings: Settings, store: ClaimingStore) -> None:
        self.settings = settings
        self.store = store

    def file(self, path: Path) -> Claim | None:
        return self.store.try_claim(claim_name(self.settings, path))

    def named(self, name: str) -> Claim | None:
        # a NUL never occurs in a file's name, so a named claim never shares a key with a file's
        return self.store.try_claim(f"\x00{name}")


def claim_name(settings: Settings, path: Path) -> str:
    """The name a file is claimed under in the database: its place in the working folder (the same
    from every host, whatever the share is mounted as), case-folded for Windows shares."""
    try:
        rel = path.relative_to(settings.home).as_posix()
    except ValueError:
        rel = f"file {path.resolve()}"   # given on the command line from elsewhere: this host's own
    return rel.casefold()


def claims_for(settings: Settings, store: ClaimingStore | None) -> Claims:
    """Claims in the database where the store takes them there (PostgreSQL), else file locks."""
    if store is not None and store.claims_in_database:
        return DatabaseClaims(settings, store)
    return FileClaims(lock_folder(settings))


def lock_folder(settings: Settings) -> Path:
    """Where the lock files of named claims are kept on one machine."""
    return settings.home / ".kpiflow-locks"
