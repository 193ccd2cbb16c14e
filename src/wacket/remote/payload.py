"""The helper as sent: its modules joined into one stdlib-only script.

Each module of the helper (helper.py, atomic.py, ops/*.py) is a real module that imports what it
uses, so editors, ruff and local callers read it like any other. On the far side they share one
namespace: each module comes after the modules it imports, the imports between them are cut, and
main() is called at the end.

Joining runs at every start of a command that talks to a host, so it reads lines, not syntax
trees (parsing the 6k lines would cost ~100 ms). What makes a join sound is checked once, by the
tests, through `problems()`: a name defined at the top of two modules (it would silently shadow
the other there), an import of wacket that is not a top-level `from wacket.remote... import`."""

from __future__ import annotations

from importlib import resources

PACKAGE = "wacket.remote"
# The local half (client.py sends the helper, payload.py builds it) is not part of it.
_LOCAL = {"__init__.py", "client.py", "payload.py"}


def sources() -> dict[str, str]:
    """Module name -> source, for every module of the helper."""
    pkg = resources.files(PACKAGE)
    found = {}
    for folder, prefix in ((pkg, PACKAGE), (pkg.joinpath("ops"), PACKAGE + ".ops")):
        for entry in folder.iterdir():
            if entry.name.endswith(".py") and entry.name not in _LOCAL:
                found[prefix + "." + entry.name[:-3]] = entry.read_text(encoding="utf-8")
    return found


class _Module:
    """One module's lines, the helper modules it imports and its lines without those imports."""

    def __init__(self, name: str, source: str):
        self.name = name
        self.deps: set[str] = set()
        kept: list[str] = []
        lines = iter(source.splitlines(keepends=True))
        for line in lines:
            if line.startswith("from wacket"):
                self.deps.add(line.split()[1])
                if "(" in line:
                    while ")" not in line:
                        line = next(lines)
                continue
            kept.append(line)
        self.body = "# --- " + name + "\n" + "".join(kept)


def _ordered(modules: dict[str, _Module]) -> list[_Module]:
    """Each module after the ones it imports (ties by name, so the payload's hash is stable)."""
    done: list[_Module] = []
    placed: set[str] = set()
    while len(done) < len(modules):
        ready = [n for n in sorted(modules) if n not in placed and modules[n].deps <= placed]
        if not ready:
            raise ValueError("the helper's modules import each other in a cycle")
        done.append(modules[ready[0]])
        placed.add(ready[0])
    return done


def build() -> bytes:
    return join(sources())


def join(modules_source: dict[str, str]) -> bytes:
    """The script made of `modules_source` (module name -> source)."""
    modules = {name: _Module(name, src) for name, src in modules_source.items()}
    for m in modules.values():
        unknown = m.deps - modules.keys()
        if unknown:
            raise ValueError(f"{m.name} imports {sorted(unknown)}, which the helper does not ship")
    return ("\n".join(m.body for m in _ordered(modules)) + "\nmain()\n").encode("utf-8")


def problems(modules_source: dict[str, str]) -> list[str]:
    """What would make joining `modules_source` unsound (empty when it is sound)."""
    import ast

    found: list[str] = []
    owner: dict[str, str] = {}
    for name in sorted(modules_source):
        tree = ast.parse(modules_source[name], name)
        for defined in map(_defined, tree.body):
            for n in defined:
                if owner.setdefault(n, name) != name:
                    found.append(f"{n} is defined by both {owner[n]} and {name}")
        found += _uncuttable(name, modules_source[name], tree)
    return found


def _defined(node) -> list[str]:
    """The names a top-level statement binds by def, class or assignment."""
    import ast

    if isinstance(node, ast.FunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return [t.id for t in targets if isinstance(t, ast.Name)]
    return []


def _uncuttable(name: str, source: str, tree) -> list[str]:
    """Imports of wacket the line-based join would miss, and lines it would cut that are not
    imports."""
    import ast

    starts = {n.lineno for n in tree.body if isinstance(n, ast.ImportFrom) and n.col_offset == 0}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            own = any(a.name.split(".")[0] == "wacket" for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            own = (node.module or "").split(".")[0] == "wacket" and node.lineno not in starts
        else:
            own = False
        if own:
            found.append(
                f"{name}:{node.lineno}: only top-level `from wacket.remote... import name`"
                " can be joined into the helper"
            )
    for number, line in enumerate(source.splitlines(), 1):
        if line.startswith("from wacket") and number not in starts:
            found.append(f"{name}:{number}: a line joining would cut as an import")
    return found
