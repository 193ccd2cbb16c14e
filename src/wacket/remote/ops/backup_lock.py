# Backup ops: the lock of a backup set (flock + holder of the running job).
import errno
import fcntl
import json
import os
import time

from wacket.remote.helper import OpError, op
from wacket.remote.ops.backup_store import _read_json, _root, _write_json

_LOCKS = {}


def _describe_holder(info):
    started = info.get("started")
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)) if started else "?"
    return "pid {} on {} since {}".format(info.get("pid", "?"), info.get("host", "?"), when)


@op("backup.lock")
def _backup_lock(args):
    """Take the set's lock for the life of this helper process (flock: a dead holder frees it).

    Returns {"root": absolute root, "stale": holder info left by a run that died, or null}.
    """
    root = _root(args)
    if args.get("create", True):
        target = os.path.dirname(root)
        if not args.get("create_target", True) and not os.path.isdir(target):
            # Like rsnapshot's no_create_root: an unmounted drive's mount point must not
            # become a backup on the system disk.
            raise OpError(f"{target}: no such directory", "no-target")
        try:
            os.makedirs(root, 0o700)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise OpError(f"{root}: cannot create: {exc.strerror}", "target") from None
    elif not os.path.isdir(root):
        raise OpError(f"{root}: no backups there", "missing")
    if root in _LOCKS:
        return {"root": root, "stale": None}
    path = os.path.join(root, ".lock")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise OpError(f"{path}: {exc.strerror}", "target") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (BlockingIOError, OSError):
        try:
            info = json.loads(os.pread(fd, 4096, 0).decode("utf-8", "replace") or "{}")
        except ValueError:
            info = {}
        os.close(fd)
        raise OpError(
            f"another wacket run holds the lock of {root} ({_describe_holder(info)}); try again when it has finished",
            "locked",
        ) from None
    stale = None
    try:
        old = os.pread(fd, 4096, 0)
        if old.strip():
            stale = json.loads(old.decode("utf-8", "replace"))
    except ValueError:
        stale = {"pid": "?", "host": "?"}
    holder = dict(args.get("holder") or {})
    holder["helper_pid"] = os.getpid()
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(holder).encode("ascii"), 0)
    os.fsync(fd)
    _LOCKS[root] = fd
    return {"root": root, "stale": stale}


@op("backup.unlock")
def _backup_unlock(args):
    """Record the run's outcome in .state.json (if given) and release the lock."""
    root = _root(args)
    outcome = args.get("outcome")
    if outcome:
        path = os.path.join(root, ".state.json")
        state = _read_json(path, {}) or {}
        now = time.time()
        state["last_" + ("ok" if outcome != "failed" else "failed")] = now
        state["last_outcome"] = outcome
        state["last_message"] = args.get("message", "")
        state["last_time"] = now
        _write_json(path, state)
    fd = _LOCKS.pop(root, None)
    if fd is not None:
        os.ftruncate(fd, 0)
        os.close(fd)
    return True


def _require_lock(root):
    if root not in _LOCKS:
        raise OpError(f"{root}: lock not held", "internal")
