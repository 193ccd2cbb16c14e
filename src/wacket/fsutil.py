"""Files the user names, read and written crash-safely (temporary name, fsync, rename); 0600."""

from __future__ import annotations

import os
from pathlib import Path

from wacket.errors import ConfigError

# One crash-safe write serves the helper and the library: wacket/remote/atomic.py (stdlib-only).
from wacket.remote.atomic import adopt, fsync_dir
from wacket.remote.atomic import write_atomic as atomic_write

__all__ = [
    "adopt",
    "atomic_write",
    "fsync_dir",
    "open_input",
    "open_output",
    "user_path_error",
    "write_output",
]


def user_path_error(path, exc: OSError, doing: str) -> ConfigError:
    """A path the user named cannot be read or written: their mistake, so one line and exit 2."""
    return ConfigError(f"{os.fsdecode(path)}: cannot {doing}: {exc.strerror or exc}")


def write_output(path, data: bytes, mode: int = 0o600) -> None:
    """atomic_write to a path the user named (an output file of a command)."""
    try:
        atomic_write(Path(path), data, mode)
    except OSError as exc:
        raise user_path_error(path, exc, "write") from None


def open_output(path, mode: int = 0o600, append: bool = False):
    """A binary file object writing to a path the user named (streamed: too big for one write)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    try:
        return os.fdopen(os.open(path, flags, mode), "ab" if append else "wb")
    except OSError as exc:
        raise user_path_error(path, exc, "write") from None


def open_input(path, **text):
    """A path the user named, opened to read (text if `text` options are given)."""
    try:
        return open(path, "r" if text else "rb", **text)  # noqa: SIM115
    except OSError as exc:
        raise user_path_error(path, exc, "read") from None
