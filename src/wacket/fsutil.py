"""Crash-safe file writes: temporary name, fsync, rename; personal data is 0600."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from wacket.errors import ConfigError


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data` so a crash leaves either the old or the new file, never half."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
