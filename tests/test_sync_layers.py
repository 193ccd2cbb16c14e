"""sync/ is a library: it never imports cli/, and its modules form no import cycle (imports inside
functions count: they are edges all the same, only later)."""

from __future__ import annotations

import ast
from pathlib import Path

import wacket

SRC = Path(wacket.__file__).resolve().parent.parent


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, known: set[str]) -> set[str]:
    """The wacket modules `path` imports anywhere in it (`from pkg import mod` names the module)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                out.add(sub if sub in known else node.module)
    return {m for m in out if m in known}


def _graph() -> dict[str, set[str]]:
    files = {_module(p): p for p in (SRC / "wacket").rglob("*.py")}
    return {m: _imports(p, set(files)) - {m} for m, p in files.items()}


def _sync(m: str) -> bool:
    return m == "wacket.sync" or m.startswith("wacket.sync.") or m == "wacket.cli.sync"


def test_sync_library_never_imports_cli():
    graph = _graph()
    edges = [(m, d) for m, deps in graph.items() if m.startswith("wacket.sync") for d in deps]
    assert [e for e in edges if e[1].startswith("wacket.cli")] == []


def test_no_import_cycle_through_sync():
    graph = _graph()

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            m = todo.pop()
            if m == goal:
                return True
            if m not in seen:
                seen.add(m)
                todo.extend(graph.get(m, ()))
        return False

    cycles = [(m, d) for m in graph if _sync(m) for d in graph[m] if reaches(d, m)]
    assert cycles == []
