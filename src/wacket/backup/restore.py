"""`backup restore`: copy a snapshot, or paths in it, back out with rsync (modes and times kept).

Existing files at the destination are never overwritten unless asked: they are listed first and
the restore stops; rsync also runs with --ignore-existing to close the race.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from wacket.backup import rsyncrun
from wacket.backup.catalog import Target, read_manifest
from wacket.backup.sets import Location
from wacket.errors import Exit, WacketError
from wacket.transport import rsync as rsync_args


@dataclass
class RestorePlan:
    snapshot: str
    sources: list[str]  # absolute paths on the target host
    dest_paths: list[str]  # non-directory entries, relative to the destination
    files: int
    bytes: int


def plan_restore(t: Target, snapshot: str, paths: list[str]) -> RestorePlan:
    _, entries = read_manifest(t, snapshot)
    top = posixpath.join(t.root, snapshot)
    by_path = {e[0]: e for e in entries}
    sources: list[str] = []
    dest_paths: list[str] = []
    files = size = 0
    if not paths:
        sources.append(top + "/")
        chosen = [(e, e[0]) for e in entries]
    else:
        chosen = []
        for raw in paths:
            rel = raw.strip("/")
            if rel not in by_path:
                raise WacketError(
                    f"{rel!r} is not in snapshot {snapshot} (see `wacket backup find`)", Exit.USAGE
                )
            sources.append(posixpath.join(top, rel))
            base = posixpath.basename(rel)
            prefix = rel + "/"
            chosen.append((by_path[rel], base))
            if by_path[rel][1] == "d":
                for e in entries:
                    if e[0].startswith(prefix):
                        chosen.append((e, base + "/" + e[0][len(prefix) :]))
    for e, dest_rel in chosen:
        if e[1] != "d":
            dest_paths.append(dest_rel)
        if e[1] == "f":
            files += 1
            size += e[2]
    return RestorePlan(snapshot, sources, dest_paths, files, size)


def restore(
    pool,
    t: Target,
    plan: RestorePlan,
    dest: Location,
    *,
    overwrite: bool = False,
    accept_new: bool = False,
    connect_timeout: float = 10.0,
) -> dict:
    dsess = pool.session(dest.host)
    existing = dsess.helper().call(
        "backup.existing", root=dest.path, paths=plan.dest_paths, mkdir=True
    )
    if existing and not overwrite:
        shown = ", ".join(repr(p) for p in existing[:5])
        more = f" and {len(existing) - 5} more" if len(existing) > 5 else ""
        raise WacketError(
            f"not overwriting {len(existing)} existing file(s) in {dest}: {shown}{more}; "
            "restore elsewhere with --to, or pass --overwrite"
        )
    thost = t.location.host
    if thost.is_local and dest.host.is_local or thost.name == dest.host.name:
        side = "none"
    elif dest.host.is_local:
        side = "source"
    elif thost.is_local:
        side = "target"
    else:
        raise WacketError(
            f"restore from {thost.name} to {dest.host.name}: one side must be this machine "
            "(or both the same host)",
            Exit.USAGE,
        )
    argv = ["rsync", "-a", "-s", "--numeric-ids", "--modify-window=-1", "--out-format=%i %n"]
    if not overwrite:
        argv.append("--ignore-existing")
    if side != "none":
        remote = dest.host if side == "target" else thost
        argv += [
            "-e",
            rsync_args.rsh(remote, accept_new=accept_new, connect_timeout=int(connect_timeout)),
        ]
    for src in plan.sources:
        argv.append(rsync_args.remote_spec(thost, src) if side == "source" else src)
    dpath = dest.path.rstrip("/") + "/"
    argv.append(rsync_args.remote_spec(dest.host, dpath) if side == "target" else dpath)
    if side == "none" and not dest.host.is_local:
        out = rsyncrun.run_remote(dsess, argv)
    else:
        out = rsyncrun.run_local(argv)
    if out.rc != 0:
        raise WacketError(f"restore: {rsyncrun.describe_failure(out)}")
    return {
        "snapshot": plan.snapshot,
        "to": str(dest),
        "files": plan.files,
        "bytes": plan.bytes,
        "overwritten": len(existing),
    }
