"""File names and moves: nothing received is ever deleted or overwritten."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

_UNSAFE = re.compile(r'[\x00-\x1f<>:"/\\|?*]')
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def safe_name(name: str, default: str = "file", limit: int = 120) -> str:
    """A file name that cannot leave its folder or upset Windows: no separators, no ``..``,
    no reserved device names, bounded length (the suffix kept)."""
    base = Path(str(name).replace("\\", "/")).name
    base = _UNSAFE.sub("_", base).strip(" .")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    if stem.split(".")[0].upper() in _RESERVED:
        stem = "_" + stem
    suffix = suffix[:10]
    stem = stem[: max(1, limit - len(suffix) - 1)] or default
    return f"{stem}.{suffix}" if suffix else stem


def unique_path(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name (2)``, ``name (3)``... if that is taken."""
    folder.mkdir(parents=True, exist_ok=True)
    name = safe_name(name)
    candidate = folder / name
    stem, suffix = candidate.stem, candidate.suffix
    n = 2
    while candidate.exists():
        candidate = folder / f"{stem} ({n}){suffix}"
        n += 1
    return candidate


def move_unique(src: Path, folder: Path, name: str | None = None) -> Path:
    """Move ``src`` into ``folder`` under a name no other file has. Never overwrites."""
    while True:
        dest = unique_path(folder, name or src.name)
        try:
            # link + unlink refuses to replace an existing file, unlike rename
            os.link(src, dest)
        except FileExistsError:
            continue
        except OSError:
            if dest.exists():
                continue
            shutil.copy2(src, dest)
        src.unlink()
        return dest


def write_unique(folder: Path, name: str, data: bytes) -> Path:
    while True:
        dest = unique_path(folder, name)
        try:
            with dest.open("xb") as fh:
                fh.write(data)
            return dest
        except FileExistsError:
            continue


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
