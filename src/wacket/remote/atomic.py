"""Crash-safe writes, one way for the helper and the library: write a temporary name in the same
directory, fsync it, rename it over the target, fsync the directory. A crash leaves the old file
or the new one, never half of one. stdlib only, Python >= 3.7 (it is part of the helper)."""

import contextlib
import os
import tempfile

# Every temporary name starts with this: stores that list their directory skip such names.
TMP_PREFIX = ".tmp-"


def fsync_dir(path):
    """Make a rename in `path` durable. Best effort: some filesystems refuse to open or sync a
    directory, and by then the rename itself has happened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path, mode=0o600):
    """A binary file to write `path`'s new content into; it replaces `path` when the block ends
    without an exception, and is removed otherwise."""
    path = os.fspath(path)
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + os.path.basename(path) + ".", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(directory)


def write_atomic(path, data, mode=0o600):
    """Replace `path` with the bytes `data`."""
    with atomic_file(path, mode) as fh:
        fh.write(data)


def adopt(src, path, mode=None):
    """Move a finished file (written under a temporary name in the same filesystem) into place
    the same way; `mode` sets its permissions first, else they are kept."""
    fd = os.open(src, os.O_RDONLY)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(src, path)
    fsync_dir(os.path.dirname(os.fspath(path)) or ".")
