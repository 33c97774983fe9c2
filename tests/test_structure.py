"""The shape of the package: stages import downwards only, and the pure core touches no files."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "kpiflow"


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """Every kpiflow module and the kpiflow modules it imports anywhere: at the top, inside
    functions, and under TYPE_CHECKING alike."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                # "from package import module" depends on that module; any other name, on ``base``
                subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules]
                targets = subs + ([base] if len(subs) < len(node.names) else [])
            for t in targets:
                if t in modules and t != name:
                    deps.add(t)
        graph[name] = deps
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for d in graph[todo.pop()]:
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return seen


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for d in sorted(graph[n]):
            if state.get(d) == 1:
                return [*stack[stack.index(d):], d]
            if d not in state and (found := visit(d)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (found := visit(n)):
            return found
    return None


def test_the_import_graph_has_no_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_a_cycle_is_found_when_there_is_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


IO_STAGES = ("kpiflow.store", "kpiflow.workbook", "kpiflow.validate", "kpiflow.crosscheck", "kpiflow.pipeline",
             "kpiflow.filing", "kpiflow.watch", "kpiflow.report", "kpiflow.docx", "kpiflow.publish",
             "kpiflow.catalogue", "kpiflow.settings", "kpiflow.cli", "kpiflow.assess", "kpiflow.pdf")


@pytest.mark.parametrize("core", ["kpiflow.trends", "kpiflow.rules", "kpiflow.narrative", "kpiflow.periods", "kpiflow.measures",
                                  "kpiflow.model", "kpiflow.fmt"])
def test_the_pure_core_imports_no_io_stage(core: str) -> None:
    bad = sorted(m for m in reachable(import_graph(), core) if m.startswith(IO_STAGES))
    assert bad == [], f"{core} reaches {bad}"


def test_the_store_imports_neither_the_validator_nor_the_workbook_reader() -> None:
    graph = import_graph()
    stores = [m for m in graph if m == "kpiflow.store" or m.startswith("kpiflow.store.")]
    for s in stores:
        bad = sorted(m for m in reachable(graph, s) if m.startswith(("kpiflow.validate", "kpiflow.workbook")))
        assert bad == [], f"{s} reaches {bad}"


# the words only kpiflow/measures.py and kpiflow/rules.py may decide by
KIND_NAMES = {"Snapshot", "Count", "Cumulative", "Percentage"}
PRESET_NAMES = {"below-target-or-worse-than-last-year", "red", "red-or-amber-worsening", "missed-two-quarters"}
OWNERS = {"kpiflow.measures": KIND_NAMES, "kpiflow.rules": PRESET_NAMES}


def _strings(node: ast.AST) -> set[str]:
    """The string constants a comparison operand is made of (a name, or a tuple, list or set of them)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return {s for e in node.elts for s in _strings(e)}
    return set()


def decisions_by_name(source: str, names: set[str], keys: set[str] | None = None) -> list[tuple[int, str]]:
    """Where ``source`` decides by comparing with one of ``names`` (==, !=, in, not in, a match case)
    or looks one of ``keys`` (default: ``names``) up in a dict literal keyed by it: (line, name)."""
    keys = names if keys is None else keys
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            for operand in (node.left, *node.comparators):
                found += [(node.lineno, s) for s in sorted(_strings(operand) & names)]
        elif isinstance(node, ast.MatchValue):
            found += [(node.lineno, s) for s in sorted(_strings(node.value) & names)]
        elif isinstance(node, ast.Dict):
            found += [(node.lineno, s) for k in node.keys if k is not None for s in sorted(_strings(k) & keys)]
    return found


def test_only_the_measures_and_preset_modules_decide_by_a_kinds_or_presets_name() -> None:
    bad: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        if name in OWNERS:
            continue
        # "Percentage" is also a unit, which the catalogue and the formats may ask about; the
        # kind names and preset names are what must not be compared with outside their owners.
        # Two reason codes share a preset's name ("red", "missed-two-quarters"): the words for
        # reason codes are a dict keyed by code, so preset names are looked for in comparisons only
        kinds = KIND_NAMES - {"Percentage"}
        bad += [f"{name}:{line} {word!r}"
                for line, word in decisions_by_name(path.read_text(encoding="utf-8"), kinds | PRESET_NAMES, kinds)]
    assert bad == []


def test_the_scan_finds_a_decision_by_name() -> None:
    assert decisions_by_name('if ind.measure == "Count":\n    pass\n', KIND_NAMES) == [(1, "Count")]
    assert decisions_by_name('x = m in ("Count", "Cumulative")\n', KIND_NAMES) == [(1, "Count"), (1, "Cumulative")]
    assert decisions_by_name('NOTES = {"Snapshot": "..."}\n', KIND_NAMES) == [(1, "Snapshot")]
    assert decisions_by_name('match rule:\n    case "red":\n        pass\n', PRESET_NAMES) == [(2, "red")]
    assert decisions_by_name('Indicator("CS01", "Snapshot")\n', KIND_NAMES) == []
WORD_LIBRARIES = ("docx", "docxtpl", "openpyxl", "lxml", "jinja2")


def test_the_report_context_imports_no_store_and_no_word_library() -> None:
    graph = import_graph()
    assert "kpiflow.report.context" in graph, "kpiflow/report/context.py is missing"
    bad = sorted(m for m in reachable(graph, "kpiflow.report.context")
                 if m.startswith(("kpiflow.store", "kpiflow.docx", "kpiflow.workbook", "kpiflow.report.word",
                                  "kpiflow.report.gather", "kpiflow.assess", "kpiflow.pipeline")))
    assert bad == [], f"kpiflow.report.context reaches {bad}"
    for node in ast.walk(ast.parse((PACKAGE / "report" / "context.py").read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        assert not [n for n in names if n.split(".")[0] in WORD_LIBRARIES], names
