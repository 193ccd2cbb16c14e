"""The clipboard code shared with the remote helper, run in-process for the local machine.

The ring store, the backends and kind detection are written once, stdlib-only, in
wacket/remote/ops/clip_*.py: the helper runs those modules on other hosts, and this module calls
the very same modules here (for the local hub and this machine's clipboard) without starting a process.
"""

from __future__ import annotations

from wacket import paths
from wacket.errors import Exit, WacketError, kind_exit
from wacket.remote.helper import OPS
from wacket.remote.helper import OpError as HelperOpError
from wacket.remote.ops import clip_msg, clip_ring, clip_system

# Imported for the ops they register (what call() runs).
_OP_MODULES = (clip_msg, clip_ring, clip_system)


def kind_code(kind: str) -> Exit:
    """A clip op's error kind as an exit code (errors.HELPER_KINDS). The clip ops' "busy" is a
    clipboard that kept changing while read, a failure (1), not gpio's line in use (4): the op
    should send a kind of its own for it."""
    return Exit.PARTIAL if kind == "busy" else kind_exit(kind)


class OpError(WacketError):
    """A clip op's failure when it runs in-process (the helper reports it as data instead)."""

    def __init__(self, message: str, kind: str = "error"):
        self.kind = kind
        super().__init__(message, kind_code(kind))


def call(op: str, **args):
    """Run a clip op in this process, as the helper would run it elsewhere (its error as ours)."""
    paths.data_dir()  # created private and checked, as every command here finds it
    args["_emit"] = [].append
    try:
        return OPS[op](args)
    except HelperOpError as exc:
        raise OpError(str(exc), exc.kind) from None
