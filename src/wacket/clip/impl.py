"""The clipboard code shared with the remote helper, loaded in-process for the local machine.

The ring store, the backends and kind detection are written once, stdlib-only, in
wacket/remote/ops/clip.py: the helper runs that source on other hosts, and this module runs the very
same source here (for the local hub and this machine's clipboard) without starting a process.
"""

from __future__ import annotations

import functools
import types
from importlib import resources

from wacket.errors import Exit, WacketError

# Helper error kinds -> exit codes of the commands.
KIND_CODES = {
    "usage": Exit.USAGE,
    "range": Exit.USAGE,
    "locked": Exit.LOCKED,
}


class OpError(WacketError):
    """Raised by the shared code when it runs in-process (the helper reports it as data)."""

    def __init__(self, message: str, kind: str = "error"):
        self.kind = kind
        super().__init__(message, KIND_CODES.get(kind, Exit.PARTIAL))


@functools.cache
def module() -> types.ModuleType:
    from wacket import paths

    source = resources.files("wacket.remote.ops").joinpath("clip.py").read_text()
    mod = types.ModuleType("wacket.clip._shared")
    mod.__dict__.update(
        op=lambda name: lambda fn: _register(mod, name, fn),
        OpError=OpError,
        data_dir=lambda: str(paths.data_dir()),
        OPS={},
    )
    exec(compile(source, "wacket/remote/ops/clip.py", "exec"), mod.__dict__)
    return mod


def _register(mod, name, fn):
    mod.OPS[name] = fn
    return fn


def call(op: str, **args):
    """Run a clip op in this process, as the helper would run it elsewhere."""
    items: list = []
    args["_emit"] = items.append
    return module().OPS[op](args)
