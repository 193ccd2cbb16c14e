"""One backup run: lock the set on the target, clone the latest snapshot (`cp -al`), rsync into the
clone, write the manifest, rename both into place; the lock and the run's outcome are recorded on
the target. Nothing here prints: the CLI renders what `run_backup` returns."""

from __future__ import annotations

import os
import signal
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from wacket.backup.prune import prune_locked
from wacket.backup.retention import snapshot_name, snapshot_time
from wacket.backup.sets import BackupSet, DriveRef, Location
from wacket.backup.target import expand_remote, lock_set, resolve_target
from wacket.errors import Exit, UnreachableError, WacketError
from wacket.fleet import Fleet
from wacket.transport import rsync
from wacket.transport.pool import Pool
from wacket.transport.rsync.codes import SSH_FAILED
from wacket.transport.rsync.master import SSHMaster


@dataclass
class RunResult:
    name: str
    snapshot: str = ""
    target: str = ""
    files: int = 0
    bytes: int = 0
    added_files: int = 0
    added_bytes: int = 0
    seconds: float = 0.0
    outcome: str = "ok"  # ok | partial | failed
    message: str = ""
    notes: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)

    def record(self) -> dict:
        return {
            "set": self.name,
            "snapshot": self.snapshot,
            "target": self.target,
            "files": self.files,
            "bytes": self.bytes,
            "added_files": self.added_files,
            "added_bytes": self.added_bytes,
            "seconds": round(self.seconds, 2),
            "outcome": self.outcome,
            "message": self.message,
        }


_T0 = time.monotonic()


def _crash_point(point: str) -> None:
    """Test hooks: WACKET_BACKUP_CRASH=point makes the run die there with SIGKILL (no cleanup);
    WACKET_BACKUP_PAUSE=point:seconds makes it wait there (to test concurrent runs)."""
    if os.environ.get("WACKET_DEBUG"):
        import sys

        sys.stderr.write(f"backup: {point} at {time.monotonic() - _T0:.3f}s\n")
    if os.environ.get("WACKET_BACKUP_CRASH") == point:
        os.kill(os.getpid(), signal.SIGKILL)
    pause = os.environ.get("WACKET_BACKUP_PAUSE", "")
    if pause.startswith(point + ":"):
        time.sleep(float(pause.split(":", 1)[1]))


def _next_name(latest: str | None) -> str:
    now = datetime.now(UTC).replace(microsecond=0)
    if latest:
        floor = snapshot_time(latest) + timedelta(seconds=1)
        if now < floor:
            now = floor
    return snapshot_name(now)


def run_backup(
    pool: Pool,
    fleet: Fleet,
    bset: BackupSet,
    *,
    prune_after: bool = False,
    accept_new: bool = False,
    connect_timeout: float = 10.0,
    note=lambda msg: None,
    allow_empty: bool = False,
    create_target: bool = False,
) -> RunResult:
    """Make one snapshot of `bset`. Raises WacketError when no snapshot could be made.

    Refused before anything is written: a missing source (usage error) and, unless
    `create_target` or a drive: target, a target directory that does not exist. Refused before
    the commit, unless `allow_empty`: a source that lost most of its files (see shrunk())."""
    start = time.monotonic()
    result = RunResult(bset.name)
    target = expand_remote(pool, resolve_target(pool, fleet, bset))
    sources = [expand_remote(pool, s) for s in bset.sources]
    src_host = sources[0].host
    result.target = f"{target.host.name}:{target.path}"
    if not target.host.is_local and not src_host.is_local and target.host.name != src_host.name:
        raise WacketError(
            f"backup {bset.name}: sources on {src_host.name} and target on {target.host.name}: "
            "one of them must be this machine (or both the same host)",
            Exit.USAGE,
        )
    if (target.host.is_local and src_host.is_local) or src_host.name == target.host.name:
        side = "none"
    elif target.host.is_local:
        side = "source"
    else:
        side = "target"
    remote = None if side == "none" else target.host if side == "target" else src_host
    if remote is not None:
        # Host key, auth, reachability: checked (and a new key recorded on --accept-new) the way
        # every session does it, before rsync's ssh could only say "Host key verification failed."
        pool.session(remote).connect()
    _check_sources(pool, bset.name, sources)
    create_target = create_target or isinstance(bset.target, DriveRef)
    master = None
    if remote is not None:
        master = SSHMaster(remote, accept_new=accept_new, connect_timeout=connect_timeout)
    job = _Job(pool, bset, target, sources, side, master, note, accept_new, connect_timeout)
    try:
        return _run_locked(job, result, start, prune_after, allow_empty, create_target)
    finally:
        if master is not None:
            master.close()


def _check_sources(pool: Pool, name: str, sources: list[Location]) -> None:
    """A missing source is a mistake in the command or config (like sync's): say so, write
    nothing (rsync would make a "partial" snapshot without it)."""
    for src in sources:
        if not pool.session(src.host).lexists(src.path):
            raise WacketError(f"backup {name}: source {src} does not exist", Exit.USAGE)


# The snapshot guard (like sync's deletion guard): a run whose source has fewer than half the
# files of the last snapshot, and at least SHRINK_MIN fewer (or none left at all), is refused.
SHRINK_MIN = 50


def shrunk(files: int, last_files: int) -> bool:
    if last_files <= 0:
        return False
    return files == 0 or (files * 2 < last_files and last_files - files >= SHRINK_MIN)


@dataclass
class _Job:
    """What one run works with, resolved by run_backup (the transport's and rsync's inputs)."""

    pool: Pool
    bset: BackupSet
    target: Location
    sources: list[Location]
    side: str  # which end rsync reaches over ssh: "none", "source" or "target"
    master: SSHMaster | None
    note: object
    accept_new: bool
    connect_timeout: float


def _run_locked(job, result, start, prune_after, allow_empty, create_target) -> RunResult:
    """Lock the set on its target, transfer into the in-progress snapshot, check, commit."""
    bset, note = job.bset, job.note
    tsess = job.pool.session(job.target.host)
    _crash_point("resolved")
    helper = tsess.helper()
    _crash_point("helper")
    locked = lock_set(helper, bset.root(job.target.path), create_target=create_target)
    root = locked["root"]
    _crash_point("locked")
    if locked.get("stale"):
        from wacket.lock import _describe

        msg = (
            f"{bset.name}: an earlier run ({_describe(locked['stale'])}) died without finishing; "
            "its lock was stale and is taken over, its partial snapshot is reused"
        )
        result.notes.append(msg)
        note(msg)
    outcome, message = "failed", ""
    try:
        begin = helper.call("backup.begin", root=root, clone=True)
        if begin.get("stopped"):
            note(f"{bset.name}: stopped {begin['stopped']} leftover process(es) of the dead run")
        if begin.get("recovered"):
            note(f"{bset.name}: finished the interrupted commit of {begin['recovered']}")
        _crash_point("cloned")
        name = _next_name(begin.get("latest"))  # the time the snapshot was begun
        out, said, changes = _transfer(job, tsess, root, begin)
        _crash_point("after-transfer")
        info = _manifest(job, helper, root, name, begin, out, changes)
        _check_shrink(bset, info, begin, allow_empty)
        if info["files"] == 0:
            result.notes.append(f"{bset.name}: the snapshot has no files (the sources are empty)")
            note(result.notes[-1])
        _crash_point("before-rename")
        helper.call("backup.commit", root=root, name=name)
        _crash_point("committed")
        result.snapshot = name
        result.files = info["files"]
        result.bytes = info["bytes"]
        result.added_files = info["added_files"]
        result.added_bytes = info["added_bytes"]
        problems = _problems(said, out, info)
        outcome = "partial" if problems else "ok"
        message = "; ".join(problems)
        if prune_after and (bset.keep or bset.keep_within is not None) and outcome == "ok":
            decisions = prune_locked(helper, root, bset)
            result.pruned = [d.snapshot for d in decisions if not d.keep]
    except WacketError as exc:
        outcome, message = "failed", str(exc)
        raise
    except BaseException as exc:
        outcome, message = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        try:
            helper.call("backup.unlock", root=root, outcome=outcome, message=message[:500])
        except Exception:
            pass  # the lock dies with the helper anyway
        result.seconds = time.monotonic() - start
        result.outcome = outcome
        result.message = message
    return result


def _transfer(job: _Job, tsess, root: str, begin: dict):
    """rsync the sources into the in-progress snapshot; (its result, outcome, change list).
    Raises when rsync did not end OK or PARTIAL (a lost end is UnreachableError)."""
    base = begin.get("base")
    link_dest = f"{root}/{base}" if base and not begin.get("cloned") else None
    argv = rsync.backup_args(
        job.sources,
        Location(job.target.host, begin["inprogress"]),
        exclude=job.bset.exclude,
        link_dest=link_dest,
        one_file_system=job.bset.one_file_system,
        accept_new=job.accept_new,
        connect_timeout=job.connect_timeout,
        remote_side=job.side,
        control_path=job.master.path if job.master is not None else None,
    )
    changes: list[list[str]] = []  # [itemize code, relative name]
    on_item = lambda item: changes.append(rsync.change(item))  # noqa: E731
    if job.side == "none" and not job.target.host.is_local:
        out = rsync.run_remote(tsess, argv, on_item)
    else:
        out = rsync.run(argv, on_item, on_first_line=lambda: _crash_point("transfer"),
                        missing="rsync is not installed here (apt-get install rsync)")  # fmt: skip
    said = rsync.outcome(out.rc, "backup")
    if said not in (rsync.Outcome.OK, rsync.Outcome.PARTIAL):
        why = f"backup {job.bset.name}: {rsync.describe(out.rc, out.stderr_text)}"
        # The other end was lost: ssh said so (255), or rsync's socket or stream broke (the
        # status then depends on where it broke) and the target no longer answers.
        side = job.side
        if side != "none" and (
            out.rc == SSH_FAILED
            or (side == "target" and said is rsync.Outcome.LINK and not tsess.still_connected())
        ):
            lost = job.target.host if side == "target" else job.sources[0].host
            raise UnreachableError(lost.name, "lost", why)
        raise WacketError(why)
    return out, said, changes


def _manifest(job: _Job, helper, root: str, name: str, begin: dict, out, changes) -> dict:
    """Write the snapshot's manifest: from rsync's change list when the snapshot is a clean
    clone of the last one and rsync saw everything, else by scanning the snapshot."""
    delta = begin.get("cloned") and not begin.get("reuse") and out.rc == 0 and out.complete
    return helper.call(
        "backup.manifest",
        root=root,
        name=name,
        base=begin.get("base"),
        mode="delta" if delta else "scan",
        changes=changes if delta else [],
        header={
            "set": job.bset.name,
            "client": socket.gethostname(),
            "sources": [str(s) for s in job.sources],
            "rsync_rc": out.rc,
        },
    )


def _check_shrink(bset: BackupSet, info: dict, begin: dict, allow_empty: bool) -> None:
    last_files = begin.get("latest_files") or 0
    if not allow_empty and shrunk(info["files"], last_files):
        raise WacketError(
            f"backup {bset.name}: the sources have {info['files']} files, the last snapshot "
            f"{begin['latest']} has {last_files}; no snapshot was made. Check the sources (an empty or "
            "unmounted source), then re-run with --allow-empty if this is right"
        )


def _problems(said, out, info: dict) -> list[str]:
    """Why a committed snapshot is partial: rsync's PARTIAL status, files that were not hashed."""
    problems = []
    if said is rsync.Outcome.PARTIAL:
        problems.append(rsync.describe(out.rc, out.stderr_text))
    if info.get("errors"):
        first = info["errors"][0]
        problems.append(
            f"{len(info['errors'])} file(s) could not be hashed, e.g. {first[0]}: {first[1]}"
        )
    return problems
