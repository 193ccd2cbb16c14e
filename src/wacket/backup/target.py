"""A set's target: where it resolves to (a drive label becomes a host and path) and its lock.

Shared by a run (snapshots), prune and the readers (catalog), so none of them imports another
for these."""

from __future__ import annotations

import os
import socket
import time

from wacket.backup.drives import resolve
from wacket.backup.sets import BackupSet, DriveRef, Location
from wacket.errors import Exit, LockedError, WacketError
from wacket.fleet import Fleet
from wacket.remote.client import HelperError
from wacket.transport.pool import Pool


def holder() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}


def resolve_target(pool: Pool, fleet: Fleet, bset: BackupSet) -> Location:
    if isinstance(bset.target, DriveRef):
        return resolve(pool, fleet, bset.target)
    return bset.target


def expand_remote(pool: Pool, loc: Location) -> Location:
    """rsync with protected args does not expand `~`: ask the host for its home."""
    if loc.host.is_local or not loc.path.startswith("~"):
        return loc
    home = pool.session(loc.host).run(["sh", "-c", 'printf %s "$HOME"']).stdout
    return Location(loc.host, os.fsdecode(home) + loc.path[1:])


def lock_set(helper, root: str, create: bool = True, create_target: bool = True) -> dict:
    """Take the set's lock on the target; LockedError (exit 4) names the holder. With
    `create_target` false, the target (the set's parent directory) must exist already."""
    try:
        return helper.call(
            "backup.lock", root=root, holder=holder(), create=create, create_target=create_target
        )
    except HelperError as exc:
        if exc.kind == "locked":
            raise LockedError(str(exc)) from None
        if exc.kind == "no-target":
            raise WacketError(
                f"{exc}: a backup target is not created implicitly (is its drive mounted?); "
                "create it, or run again with --create-target",
                Exit.USAGE,
            ) from None
        raise
