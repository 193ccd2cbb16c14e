"""The helper as sent: its modules joined into one stdlib-only script.

Each module of the helper (helper.py, atomic.py, ops/*.py) is a real module that imports what it
uses, so editors, ruff and local callers read it like any other. On the far side they share one
namespace: each module comes after the modules it imports, the imports between them are cut, and
main() is called at the end. A name defined at the top of two modules would silently shadow the
other there, so that is refused here (and by a test)."""

from __future__ import annotations

import ast
from importlib import resources

PACKAGE = "wacket.remote"
# The local half (client.py sends the helper, payload.py builds it) is not part of it.
_LOCAL = {"__init__.py", "client.py", "payload.py"}


def _sources() -> dict[str, str]:
    """Module name -> source, for every module of the helper."""
    pkg = resources.files(PACKAGE)
    found = {}
    for folder, prefix in ((pkg, PACKAGE), (pkg.joinpath("ops"), PACKAGE + ".ops")):
        for entry in folder.iterdir():
            if entry.name.endswith(".py") and entry.name not in _LOCAL:
                found[prefix + "." + entry.name[:-3]] = entry.read_text(encoding="utf-8")
    return found


def _is_own(module: str | None) -> bool:
    return module is not None and (module == "wacket" or module.startswith("wacket."))


class _Module:
    """One module's source, the helper modules it imports and the lines of those imports."""

    def __init__(self, name: str, source: str):
        self.name = name
        self.source = source
        self.deps: set[str] = set()
        self.cut: set[int] = set()
        self.defines: set[str] = set()
        tree = ast.parse(source, name)
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and _is_own(node.module):
                self.deps.add(node.module)
                self.cut.update(range(node.lineno, node.end_lineno + 1))
            elif isinstance(node, ast.FunctionDef | ast.ClassDef):
                self.defines.add(node.name)
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                self.defines.update(t.id for t in targets if isinstance(t, ast.Name))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and node.lineno not in self.cut:
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if _is_own(getattr(node, "module", None)) or any(map(_is_own, names)):
                    raise ValueError(
                        f"{name}:{node.lineno}: only top-level `from wacket.remote..."
                        " import name` can be joined into the helper"
                    )

    def body(self) -> str:
        lines = self.source.splitlines(keepends=True)
        kept = (line for n, line in enumerate(lines, 1) if n not in self.cut)
        return "# --- " + self.name + "\n" + "".join(kept)


def _ordered(modules: dict[str, _Module]) -> list[_Module]:
    """Each module after the ones it imports (ties by name, so the payload's hash is stable)."""
    done: list[_Module] = []
    placed: set[str] = set()
    while len(done) < len(modules):
        ready = sorted(n for n, m in modules.items() if n not in placed and m.deps <= placed | {n})
        if not ready:
            raise ValueError("the helper's modules import each other in a cycle")
        for n in ready[:1]:
            done.append(modules[n])
            placed.add(n)
    return done


def build() -> bytes:
    return join(_sources())


def join(sources: dict[str, str]) -> bytes:
    """The script made of `sources` (module name -> source); ValueError if they cannot share one
    namespace."""
    modules = {name: _Module(name, src) for name, src in sources.items()}
    for m in modules.values():
        unknown = m.deps - modules.keys()
        if unknown:
            raise ValueError(f"{m.name} imports {sorted(unknown)}, which the helper does not ship")
    owner: dict[str, str] = {}
    for m in sorted(modules.values(), key=lambda m: m.name):
        for name in m.defines:
            if name in owner:
                raise ValueError(f"{name} is defined by both {owner[name]} and {m.name}")
            owner[name] = m.name
    text = "\n".join(m.body() for m in _ordered(modules)) + "\nmain()\n"
    return text.encode("utf-8")
