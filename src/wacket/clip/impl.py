"""The clipboard code shared with the remote helper, loaded in-process for the local machine.

The ring store, the backends and kind detection are written once, stdlib-only, in
wacket/remote/ops/clip.py: the helper runs that source on other hosts, and this module runs the very
same source here (for the local hub and this machine's clipboard) without starting a process.
"""

from __future__ import annotations

import functools
import types
from importlib import resources

from wacket.errors import Exit, WacketError, kind_exit


def kind_code(kind: str) -> Exit:
    """A clip op's error kind as an exit code (errors.HELPER_KINDS). The clip ops' "busy" is a
    clipboard that kept changing while read, a failure (1), not gpio's line in use (4): the op
    should send a kind of its own for it."""
    return Exit.PARTIAL if kind == "busy" else kind_exit(kind)


class OpError(WacketError):
    """Raised by the shared code when it runs in-process (the helper reports it as data)."""

    def __init__(self, message: str, kind: str = "error"):
        self.kind = kind
        super().__init__(message, kind_code(kind))


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
