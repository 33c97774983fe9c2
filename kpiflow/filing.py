"""File names, moves and locks: nothing received is ever deleted or overwritten.

Every name kpiflow writes under goes through :func:`safe_name`, so a name taken from a workbook
or from a received file can never leave its folder or trip over Windows device names. Files are
placed with ``os.link`` (which refuses to replace an existing file) and written through a hidden
``.part`` file, so a process killed part-way never leaves a half-written file under a real name.

A link kpiflow did not make is never followed: temporaries are created with ``O_EXCL`` and
``O_NOFOLLOW`` (a link planted at a temporary's name is removed, not written through), a name
taken by a link, even a dangling one, counts as taken, and every file is created with mode 0666
so that it follows the umask like any other program's files.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import stat
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kpiflow.settings import Settings

_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
# Windows device names, with or without an extension (and COM¹ etc., which Windows also reserves)
_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
             *(f"{p}{d}" for p in ("COM", "LPT") for d in "0123456789¹²³")}


def _clean_chars(text: str) -> str:
    out = []
    for ch in unicodedata.normalize("NFC", text):
        cat = unicodedata.category(ch)
        if cat == "Cf":            # invisible format characters (e.g. right-to-left override) could disguise a name
            continue
        out.append("_" if cat in ("Cc", "Cs") else ch)   # Cs: bytes that were not UTF-8 (surrogate escapes)
    return "".join(out)


def _fit(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` bytes of UTF-8, on a character boundary."""
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[:limit].decode("utf-8", "ignore")


def safe_name(name: str, default: str = "file", limit: int = 120) -> str:
    """A file name that cannot leave its folder or upset Windows: the last path component only,
    no separators, control characters, ``..`` or reserved device names, at most ``limit`` bytes
    of UTF-8 (the extension kept)."""
    base = _clean_chars(str(name)).replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).strip(" .")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    suffix = _fit(suffix, 10).strip(" .")
    if stem.split(".")[0].strip(" ").upper() in _RESERVED:
        stem = "_" + stem
    room = max(1, limit - len(suffix.encode("utf-8")) - 1) if suffix else limit
    stem = _fit(stem, room).strip(" .") or default
    return f"{stem}.{suffix}" if suffix else stem


def safe_name_ending(stem: str, ending: str, limit: int = 120) -> str:
    """``safe_name(stem + ending)``, where a long ``stem`` is cut rather than ``ending`` (e.g. a
    service name before ``_2017-18_Q2.xlsx``: two quarters must never share a name)."""
    tail = _UNSAFE.sub("_", _clean_chars(ending))
    head = _UNSAFE.sub("_", _clean_chars(stem))
    head = _fit(head, max(1, limit - len(tail.encode("utf-8"))))
    return safe_name(head + tail, limit=limit)


def unique_path(folder: Path, name: str, taken: Callable[[Path], bool] | None = None) -> Path:
    """``folder/name``, or ``name (2)``, ``name (3)``... if that is taken (on disk, or by ``taken``:
    e.g. a name already promised to another file but not written yet)."""
    folder.mkdir(parents=True, exist_ok=True)
    name = safe_name(name)
    candidate = folder / name
    stem, suffix = candidate.stem, candidate.suffix
    n = 2
    while os.path.lexists(candidate) or (taken is not None and taken(candidate)):
        candidate = folder / f"{stem} ({n}){suffix}"
        n += 1
    return candidate


def part_path(dest: Path) -> Path:
    """The hidden name a file is written under before it appears as ``dest``."""
    return dest.with_name(f".{dest.name}.part")


_NEW_FILE = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


def create_new(path: Path) -> int:
    """Create ``path`` for writing, mode 0666 less the umask; FileExistsError if anything, even
    a dangling link, has the name. Returns the open descriptor."""
    return os.open(path, _NEW_FILE, 0o666)


def _create_part(part: Path) -> int:
    """Create a hidden .part file, clearing what is in the way: one left by a process that was
    stopped, or a link someone planted there (the link is removed, never followed)."""
    for _ in range(3):
        try:
            return create_new(part)
        except FileExistsError:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(part)
    return create_new(part)


def create_temp(folder: Path, suffix: str = ".tmp") -> Path:
    """A new, empty, hidden file in ``folder`` under a name no one could have planted a link at.
    Unlike ``tempfile.mkstemp`` (0600) its mode follows the umask, so the file can be renamed into
    a shared folder as it is."""
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        path = folder / f".{secrets.token_hex(8)}{suffix}"
        try:
            os.close(create_new(path))
        except FileExistsError:
            continue
        return path


def place(src: Path, dest: Path) -> bool:
    """Give ``src`` the exact name ``dest`` without ever replacing a file, then remove ``src``.

    Returns False (and leaves ``src``) if ``dest`` is another file. If ``dest`` already is ``src``
    (a process was stopped between the two steps) only ``src`` is removed."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except FileExistsError:
        if not os.path.samefile(src, dest):
            return False
    except OSError:
        # no hard links here (another file system, or one without them): copy through a .part file
        if os.path.lexists(dest):
            return False
        part = part_path(dest)
        with src.open("rb") as fh, os.fdopen(_create_part(part), "wb") as out:
            shutil.copyfileobj(fh, out)
        shutil.copystat(src, part)
        if os.path.lexists(dest):
            part.unlink()
            return False
        os.replace(part, dest)
    src.unlink()
    return True


def write_new(dest: Path, data: bytes) -> bool:
    """Write ``dest`` all at once, never replacing a file: written as a hidden .part file first,
    so it appears whole or not at all. Returns False if ``dest`` already existed."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    if os.path.lexists(dest):
        part.unlink(missing_ok=True)   # left by a process stopped after writing dest
        return False
    with os.fdopen(_create_part(part), "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(part, dest)
    except FileExistsError:
        part.unlink()
        return False
    except OSError:
        if os.path.lexists(dest):
            part.unlink()
            return False
        os.replace(part, dest)
        return True
    part.unlink()
    return True


def sha256_file(path: Path, max_bytes: int | None = None) -> str | None:
    """The file's SHA-256; None, without reading it, if it is larger than ``max_bytes`` (a 20 GB
    file would take a minute to hash only to be refused)."""
    with path.open("rb") as fh:
        if max_bytes is not None and os.fstat(fh.fileno()).st_size > max_bytes:
            return None
        h = hashlib.sha256()
        seen = 0
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            seen += len(chunk)
            if max_bytes is not None and seen > max_bytes:
                return None     # it grew while being read
            h.update(chunk)
    return h.hexdigest()


class FileLock:
    """An exclusive advisory lock (``flock``) on one open file. The operating system drops it when
    the process ends, however it ends, so a file whose lock can be taken is not being worked on.

    Where ``flock`` is unavailable (Windows, or a file system without it) the lock is a no-op."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd

    def holds(self, path: Path) -> bool:
        """True if ``path`` still names the locked file (not removed, not replaced)."""
        if self.fd is None:
            return path.exists()
        try:
            a, b = os.fstat(self.fd), os.lstat(path)
        except FileNotFoundError:
            return False
        return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)    # closing the file drops the lock
            self.fd = None


def _flock(fd: int) -> bool | None:
    """True if locked, False if another process holds it, None if this system cannot lock."""
    if sys.platform == "win32":
        return None
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return None
    return True


def try_lock(path: Path) -> FileLock | None:
    """Lock ``path`` if no other process has it; None if it is missing or held elsewhere."""
    if sys.platform == "win32":
        return FileLock(None) if path.is_file() else None
    fd: int | None = None
    # never through a link, and never waiting on a named pipe
    extra = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    for flags in (os.O_RDWR, os.O_RDONLY):    # read-write where allowed: NFS locks need it
        try:
            fd = os.open(path, flags | extra)
            break
        except PermissionError:
            continue
        except (FileNotFoundError, IsADirectoryError, OSError):
            return None     # gone, a folder, or a link (ELOOP)
    if fd is None:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    got = _flock(fd)
    if got is False:
        os.close(fd)
        return None
    lock = FileLock(fd)
    if got is None:
        lock.release()
        lock = FileLock(None)
    if not lock.holds(path):
        lock.release()
        return None
    return lock


def create_locked(path: Path) -> tuple[FileLock, int]:
    """Create ``path`` (which must not exist) and lock it before anyone can see it written.
    Returns the lock and the open descriptor to write through (closed by ``release``)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
    _flock(fd)
    return FileLock(fd), fd


def lock_created(path: Path) -> FileLock | None:
    """Open ``path``, creating it if it is missing (never through a link), and lock it; None if
    another process holds it. The caller checks that ``path`` still names the file it locked."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0), 0o666)
    got = _flock(fd)
    if got is False:
        os.close(fd)
        return None
    return FileLock(fd)


def discard_abandoned(path: Path) -> bool:
    """Remove a kpiflow .part file that no live process is writing. Returns True if removed."""
    lock = try_lock(path)
    if lock is None:
        return False
    try:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    finally:
        lock.release()
    return True


# Excel saves by writing the new workbook to a temporary file named with eight hex digits and
# no extension, then renaming it over the original: taking that file would break the save.
_EXCEL_SAVE_TEMP = re.compile(r"[0-9A-Fa-f]{8}")
_SYSTEM_FILES = ("thumbs.db", "desktop.ini")


def ignored(path: Path) -> bool:
    """Office lock and temp files, hidden and system files: never returns, never rejected."""
    name = path.name
    lower = name.lower()
    return (name.startswith(("~$", ".")) or lower.endswith(".tmp") or lower in _SYSTEM_FILES
            or bool(_EXCEL_SAVE_TEMP.fullmatch(name)))


def lock_names(name: str) -> tuple[str, ...]:
    """The lock files an office suite keeps beside an open workbook ``name``: Office's ``~$name``
    (for a long name Office drops its first two characters instead) and LibreOffice's
    ``.~lock.name#``. A lock file of another workbook can match the short form: that delays a
    file, never loses it."""
    return f"~${name}", f"~${name[2:]}", f".~lock.{name}#"


def locked_by_office(path: Path) -> bool:
    """True while an office suite says the workbook is still open."""
    return any((path.parent / n).exists() for n in lock_names(path.name))


def _hidden(st: os.stat_result) -> bool:
    # Windows marks Office lock files and other clutter hidden; elsewhere this is always 0
    return bool(getattr(st, "st_file_attributes", 0) & getattr(stat, "FILE_ATTRIBUTE_HIDDEN", 0))


def kind_of(path: Path) -> str:
    """What ``path`` is, without following a link: "file" (a regular file), "link", "folder",
    "fifo", "device", "socket", "other", or "missing"."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "socket" if stat.S_ISSOCK(mode) else "other"


NOT_A_FILE = {
    "link": "a symbolic link, which kpiflow never follows: put the workbook itself here, not a link to it",
    "folder": "a folder, not a file",
    "fifo": "a named pipe (FIFO), not a file: save the workbook as a file",
    "device": "a device, not a file",
    "socket": "a socket, not a file",
    "other": "not a regular file",
    "missing": "no longer there: another kpiflow process (e.g. the watcher) may have taken it first",
}


def scan_inbox(folder: Path, others: list[tuple[Path, str]] | None = None,
               ) -> tuple[list[tuple[Path, os.stat_result]], set[str]]:
    """Candidate files in ``folder`` (oldest first) and the casefolded names of everything there.

    A file that disappears while the folder is read (another process took it) is left out.
    ``others`` collects what is left out for being no regular file (links, pipes, devices: not
    folders), as (path, kind of :func:`kind_of`), so that a caller can say so.
    """
    candidates: list[tuple[Path, os.stat_result]] = []
    names: set[str] = set()
    with os.scandir(folder) as it:
        for entry in it:
            names.add(entry.name.casefold())
            path = Path(entry.path)
            if ignored(path):
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    if others is not None and not entry.is_dir(follow_symlinks=False):
                        others.append((path, kind_of(path)))
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if not _hidden(st):
                candidates.append((path, st))
    candidates.sort(key=lambda c: (c[1].st_mtime_ns, c[0].name))
    return candidates, names


def waiting_files(settings: Settings, others: list[tuple[Path, str]] | None = None) -> list[Path]:
    """Files waiting in the inbox, oldest first: everything except folders and the files
    ``ignored`` names. Anything that is not a workbook is included, so that it is rejected with
    feedback rather than silently left. Links, pipes and devices are not: see ``scan_inbox``."""
    if not settings.inbox.is_dir():
        return []
    return [p for p, _ in scan_inbox(settings.inbox, others)[0]]
