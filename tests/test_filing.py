"""File names, temporaries and moves (kpiflow/filing.py): never follow a link kpiflow did not make."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from kpiflow import filing
from kpiflow.filing import part_path, safe_name, safe_name_ending, sha256_file, unique_path, write_new


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file outside the folder kpiflow writes in, which a planted link points at."""
    f = tmp_path / "outside" / "precious.txt"
    f.parent.mkdir()
    f.write_text("precious", encoding="utf-8")
    return f


def test_a_link_planted_at_the_part_name_is_not_followed(tmp_path: Path, outside: Path) -> None:
    dest = tmp_path / "feedback" / "return - feedback.txt"
    dest.parent.mkdir()
    part_path(dest).symlink_to(outside)
    assert write_new(dest, b"feedback")
    assert outside.read_text(encoding="utf-8") == "precious"
    assert dest.read_bytes() == b"feedback" and not dest.is_symlink()
    assert not os.path.lexists(part_path(dest))


def test_a_dangling_link_at_the_destination_counts_as_taken(tmp_path: Path) -> None:
    folder = tmp_path / "drafts"
    folder.mkdir()
    target = tmp_path / "outside" / "made-by-kpiflow.docx"
    (folder / "report.docx").symlink_to(target)
    assert not write_new(folder / "report.docx", b"x")
    assert unique_path(folder, "report.docx") == folder / "report (2).docx"
    assert not target.exists()


def test_a_file_too_large_to_be_a_return_is_not_hashed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sparse = tmp_path / "huge.xlsx"
    with sparse.open("wb") as fh:
        fh.truncate(20 * 1024**3)          # 20 GB, sparse: nothing on disk
    fed = [0]
    real = hashlib.sha256

    class Counting:
        def __init__(self) -> None:
            self.h = real()

        def update(self, data: Any) -> None:
            fed[0] += len(data)
            assert fed[0] < 200 * 1024**2, "hashed far more than any return holds"
            self.h.update(data)

        def hexdigest(self) -> str:
            return self.h.hexdigest()

    monkeypatch.setattr(filing.hashlib, "sha256", Counting)
    assert sha256_file(sparse, max_bytes=100 * 1024**2) is None
    assert fed[0] == 0
    small = tmp_path / "small.xlsx"
    small.write_bytes(b"abc")
    assert sha256_file(small, max_bytes=100) == real(b"abc").hexdigest()


def test_a_long_name_is_cut_before_its_ending() -> None:
    long = "Adult Social Care, Public Health and Wellbeing " * 7
    q2, q3 = safe_name_ending(long, "_2017-18_Q2.xlsx"), safe_name_ending(long, "_2017-18_Q3.xlsx")
    assert q2.endswith("_2017-18_Q2.xlsx") and q3.endswith("_2017-18_Q3.xlsx")
    assert len(q2.encode("utf-8")) <= 120
    assert safe_name_ending("Dept. of ../Fun", "_2017-18_Q2.xlsx") == "Dept. of .._Fun_2017-18_Q2.xlsx"
    assert safe_name_ending("CON", ".xlsx") == safe_name("CON.xlsx")
