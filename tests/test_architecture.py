"""The house rules, checked from the source: no import cycles (function-level imports
count: none may dodge one), dependencies point down the layers, and ruff is clean."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cpython_static"

# Layer of each top-level part; an import may only go to the same layer or a lower one.
LAYERS = {
    "cli": 4,
    "series": 3,
    "upstream": 3,
    "build": 2,
    "verify": 2,
    "runtime": 1,
    "versions": 1,
    "core": 0,
    "__init__": 0,
    "__main__": 5,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(name: str, path: Path) -> set[str]:
    """Every cpython_static module ``name`` imports, anywhere in its source."""
    is_pkg = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("cpython_static")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_pkg else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("cpython_static"):
                continue
            for alias in node.names:  # `from pkg import module` imports the module
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in MODULES else target)
    found.discard(name)
    return {m for m in found if m in MODULES}


GRAPH = {name: imports_of(name, path) for name, path in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def layer(name: str) -> int:
    part = name.split(".")[1] if "." in name else "__init__"
    return LAYERS[part]


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    assert cycles(GRAPH) == []


def test_dependencies_point_down():
    upward = sorted(
        f"{m} -> {t}"
        for m, ts in GRAPH.items()
        for t in ts
        if layer(t) > layer(m) and not t.startswith("cpython_static.core")
    )
    assert upward == []


def test_nothing_imports_the_command_line():
    users = sorted(
        m
        for m, ts in GRAPH.items()
        for t in ts
        if t.startswith("cpython_static.cli")
        and not m.startswith("cpython_static.cli")
        and m != "cpython_static.__main__"
    )
    assert users == []


def test_runtime_code_stands_alone():
    """What runs inside the built interpreter imports nothing of the project."""
    assert {m: ts for m, ts in GRAPH.items() if m.startswith("cpython_static.runtime") and ts} == {}


@pytest.mark.skipif(
    shutil.which("ruff") is None
    and subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True).returncode != 0,
    reason="ruff is not installed (pip install -e '.[test]')",
)
@pytest.mark.parametrize("command", [["check"], ["format", "--check"]])
def test_ruff(command):
    res = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "cpython_static", "tests"], cwd=ROOT, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
