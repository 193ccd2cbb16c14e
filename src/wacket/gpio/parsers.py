"""Parsers of `gpioinfo`/`gpioget` output (libgpiod v1 and v2) and of sysfs files.

They are written once, stdlib-only, in wacket/remote/ops/gpio*.py, where the device side uses them;
this module loads that same source in-process so the client and the tests use the very same code.
"""

from __future__ import annotations

import functools
import types
from importlib import resources
from typing import Any

from wacket.errors import WacketError


class _OpError(WacketError):
    def __init__(self, message: str, kind: str = "error"):
        self.kind = kind
        super().__init__(message)


@functools.cache
def module() -> types.ModuleType:
    """The device-side GPIO source as a module (its ops registered in its own OPS dict)."""
    from wacket import paths

    ops_dir = resources.files("wacket.remote.ops")
    parts = sorted(e.name for e in ops_dir.iterdir() if e.name.startswith("gpio"))
    source = "\n".join(ops_dir.joinpath(name).read_text() for name in parts)
    mod = types.ModuleType("wacket.gpio._device")
    ops: dict[str, Any] = {}

    def op(name):
        def deco(fn):
            ops[name] = fn
            return fn

        return deco

    mod.__dict__.update(op=op, OpError=_OpError, data_dir=lambda: str(paths.data_dir()), OPS=ops)
    exec(compile(source, "wacket/remote/ops/gpio*.py", "exec"), mod.__dict__)
    return mod


def parse_gpioinfo(text: str) -> list[dict]:
    """Lines of `gpioinfo` output, v1 (`unused input active-high`) or v2 (`input consumer=...`)."""
    return module().gpio_parse_gpioinfo(text)


def parse_gpioget(text: str) -> list[int]:
    """Values of `gpioget` output: v1 `1 0`, v2 `"GPIO17"=active` or `--numeric` `1`."""
    return module().gpio_parse_gpioget(text)


def tools_version(text: str) -> tuple[int, int] | None:
    return module().gpio_tools_version(text)


def parse_sysfs_chip(files: dict[str, str]) -> dict:
    return module().gpio_parse_sysfs_chip(files)


def parse_sysfs_line(files: dict[str, str]) -> dict:
    return module().gpio_parse_sysfs_line(files)


def sysfs_number(chips: dict[str, dict], chip: str, offset: int) -> int:
    return module().gpio_sysfs_number(chips, chip, offset)
