"""Job locks: two runs of the same job never overlap; the loser is told who holds the lock."""

from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

from wacket import paths
from wacket.errors import LockedError

# The file descriptors of the locks this process holds: wacket.children passes them to the
# run's rsync, so the lock is held for as long as any child of the run is alive.
_HELD: set[int] = set()


def held_fds() -> tuple[int, ...]:
    return tuple(sorted(_HELD))


def _describe(info: dict) -> str:
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("started", 0)))
    return f"pid {info.get('pid', '?')} on {info.get('host', '?')} since {since}"


def _gone(info: dict) -> bool:
    """The holder was a process of this machine that no longer exists."""
    if info.get("host") != paths.hostname() or not isinstance(info.get("pid"), int):
        return False
    try:
        os.kill(info["pid"], 0)
    except ProcessLookupError:
        return True
    except OSError:
        pass
    return False


@contextmanager
def job_lock(name: str, directory: Path | None = None):
    """Hold an exclusive lock for job `name`; raises LockedError (exit 4) if another run has it.

    flock is released by the kernel when the last process holding the file is gone, so a crashed
    run never leaves it stale; its rsync (which inherits the lock) keeps it until it has ended.
    """
    directory = directory or paths.private_dir(paths.data_dir() / "locks")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    lock_path = directory / f"{safe}.lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                info = json.loads(os.pread(fd, 4096, 0) or b"{}")
            except ValueError:
                info = {}
            orphan = (
                " (it has exited; a process it started is still running)" if _gone(info) else ""
            )
            raise LockedError(
                f"{name}: another wacket run holds the lock ({_describe(info)}{orphan}); "
                "try again when it has finished"
            ) from None
        info = {"host": paths.hostname(), "pid": os.getpid(), "started": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        _HELD.add(fd)
        try:
            yield info
        finally:
            _HELD.discard(fd)
        os.ftruncate(fd, 0)
    finally:
        os.close(fd)
