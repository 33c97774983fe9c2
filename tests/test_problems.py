"""The problem-code registry: every code documented, every code used is registered."""

from __future__ import annotations

import ast
from pathlib import Path

from kpiflow.problems import CODES, ValidationResult, codes_markdown

ROOT = Path(__file__).resolve().parent.parent


def codes_in_source() -> dict[str, str]:
    """Codes passed as literals to ``.error``/``.warning``/``Problem`` anywhere in the package."""
    found: dict[str, str] = {}
    for path in (ROOT / "kpiflow").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
            pos = {"error": 0, "warning": 0, "Problem": 1}.get(name)
            if pos is not None and len(node.args) > pos:
                arg = node.args[pos]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value not in ("error", "warning"):
                    found[arg.value] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return found


def test_every_code_the_package_uses_is_registered() -> None:
    used = codes_in_source()
    assert len(used) > 20
    missing = {c: where for c, where in used.items() if c not in CODES}
    assert missing == {}


def test_every_registered_code_has_a_title_and_a_fix_in_plain_words() -> None:
    for code, c in CODES.items():
        assert code == code.lower() and " " not in code
        assert c.title and c.title[0].isupper() and not c.title.endswith(".")
        assert c.fix.endswith(".")


def test_the_docs_list_every_code_as_the_registry_says() -> None:
    assert (ROOT / "docs" / "problems.md").read_text(encoding="utf-8") == codes_markdown()
    assert "docs/problems.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_an_unregistered_code_fails_a_test() -> None:
    import pytest

    with pytest.raises(AssertionError, match=r"not in kpiflow\.problems\.CODES"):
        ValidationResult("x").error("made-up-code", "message")


def test_every_code_the_draft_checks_name_is_registered() -> None:
    import re

    from kpiflow.problems import DRAFT_CHECKS

    named = {c for text in DRAFT_CHECKS for c in re.findall(r"`([a-z-]+)`", text)}
    assert named and named <= set(CODES), named - set(CODES)
