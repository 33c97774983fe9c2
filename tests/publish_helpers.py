"""Helpers for the publish tests: a fresh copy of the demo's working folder for each test, the real
command line, and drafts changed part by part as an editor (or an attacker) would change them."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from lxml import etree

from kpiflow.demo import DemoResult, example_return, fill_example_return

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W = f"{{{W_NS}}}"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
QUARTER = "2017/18 Q2"
FOLDER = "2017-18_Q2"


def copy_demo(src: DemoResult, dest: Path) -> DemoResult:
    """The demo's working folder copied to ``dest``, with its paths moved along."""
    shutil.copytree(src.home, dest)

    def moved(p: Path) -> Path:
        return dest / p.relative_to(src.home)

    return replace(src, home=dest, issued=moved(src.issued), filled=moved(src.filled), report=moved(src.report))


def cli_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **extra}
    env.pop("KPIFLOW_HOME", None)
    return env


def kpiflow(home: Path, *args: str, env: dict[str, str] | None = None, timeout: float | None = None,
            preexec_fn: Callable[[], Any] | None = None) -> subprocess.CompletedProcess[str]:
    """``kpiflow ARGS --home HOME``, as a user runs it: in this process (tests/helpers.py), or in a
    process of its own where a test needs a time limit or ``preexec_fn`` (a hang, a signal)."""
    if timeout is None and preexec_fn is None:
        from helpers import run_kpiflow

        given: dict[str, str | None] = {**(env or cli_env()), "KPIFLOW_HOME": None}
        return run_kpiflow(*args, "--home", str(home), env=given)
    return subprocess.run([sys.executable, "-m", "kpiflow", *args, "--home", str(home)], capture_output=True,
                          text=True, env=env or cli_env(), timeout=timeout or 180, preexec_fn=preexec_fn)


def fake_soffice(folder: Path, script: str) -> dict[str, str]:
    """An environment whose PATH finds a fake ``soffice`` (a shell script) before any real one."""
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / "soffice"
    exe.write_text("#!/bin/sh\n" + script + "\n", encoding="utf-8")
    exe.chmod(0o755)
    return cli_env(PATH=f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")


def no_soffice_env(tmp: Path) -> dict[str, str]:
    """An environment in which LibreOffice cannot be found: PATH holds only this Python's folder."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "python3").symlink_to(sys.executable)
    return cli_env(PATH=str(tmp))


def rewrite(src: Path, dest: Path, changes: dict[str, bytes | Callable[[bytes], bytes] | None],
            add: dict[str, bytes] | None = None) -> Path:
    """A copy of the package ``src`` with parts replaced (bytes), changed (a function of the old
    bytes), removed (None) or added."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename in changes:
                change = changes[info.filename]
                if change is None:
                    continue
                data = change(data) if callable(change) else change
            zout.writestr(info.filename, data)
        for name, data in (add or {}).items():
            zout.writestr(name, data)
    return dest


def edit_xml(change: Callable[[Any], None]) -> Callable[[bytes], bytes]:
    """A part change made through lxml: ``change(root)`` edits the tree in place."""
    def run(data: bytes) -> bytes:
        root = etree.fromstring(data)
        change(root)
        return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True))
    return run


def region(root: Any, iid: str, kind: str) -> Any:
    """The content control of an exception's commentary or response."""
    for sdt in root.iter(f"{W}sdt"):
        tag = sdt.find(f"{W}sdtPr/{W}tag")
        if tag is not None and tag.get(f"{W}val") == f"kpiflow:{iid}:{kind}":
            return sdt
    raise AssertionError(f"no region {iid} {kind}")


def para(text: str, extra: str = "") -> Any:
    return etree.fromstring(f'<w:p xmlns:w="{W_NS}" xmlns:r="{R_NS}">{extra}<w:r><w:t xml:space="preserve">{text}'
                            "</w:t></w:r></w:p>")


def frag(xml: str) -> Any:
    """One element written with the w: and r: prefixes."""
    return etree.fromstring(f'<root xmlns:w="{W_NS}" xmlns:r="{R_NS}">{xml}</root>')[0]


def body_of(root: Any) -> Any:
    return root.find(f"{W}body")


def deep_copy(el: Any) -> Any:
    return copy.deepcopy(el)


def corrected_return(demo: DemoResult, figures: dict[str, dict[str, Any]], name: str) -> Path:
    """The example return with some figures changed, dropped into the inbox under ``name``."""
    d = example_return()
    merged = {iid: {**row, **figures.get(iid, {})} for iid, row in d["figures"].items()}
    import datetime as dt

    from kpiflow.workbook.build import fill_return

    about = dict(d["about"])
    about["Date completed"] = dt.datetime.fromisoformat(about["Date completed"])
    out = demo.home / "inbox" / name
    fill_return(demo.issued, out, about, merged, d["support"], d["breakdown"])
    return out


__all__ = [
    "FOLDER",
    "PKG_RELS",
    "QUARTER",
    "R_NS",
    "W_NS",
    "W",
    "body_of",
    "cli_env",
    "copy_demo",
    "corrected_return",
    "deep_copy",
    "edit_xml",
    "fake_soffice",
    "fill_example_return",
    "frag",
    "kpiflow",
    "no_soffice_env",
    "para",
    "region",
    "rewrite",
]


def stored_texts(demo: Any) -> dict[str, tuple[str, str] | None]:
    """The commentary and response the store holds for each of the demo's indicators at Q2."""
    from kpiflow.periods import parse_period
    from kpiflow.settings import load_settings
    from kpiflow.store import open_store

    with open_store(load_settings(demo.home)) as store:
        return {iid: store.texts(iid, parse_period(QUARTER)) for iid in ("CS01", "CS02", "CS03")}
