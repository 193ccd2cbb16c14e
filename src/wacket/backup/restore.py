"""`backup restore`: copy a snapshot, or paths in it, back out with rsync (modes and times kept).

Existing files at the destination are never overwritten unless asked: they are listed first and
the restore stops; rsync also runs with --ignore-existing to close the race.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from wacket.backup.catalog import Target, read_manifest
from wacket.backup.sets import Location
from wacket.errors import Exit, WacketError
from wacket.transport import rsync


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
    argv = rsync.restore_args(plan.sources, thost, dest, overwrite=overwrite, accept_new=accept_new,
                              connect_timeout=connect_timeout, remote_side=side)  # fmt: skip
    if side == "none" and not dest.host.is_local:
        out = rsync.run_remote(dsess, argv)
    else:
        out = rsync.run(argv, missing="rsync is not installed here (apt-get install rsync)")
    if out.rc != 0:  # a restore is whole or it failed: every code but 0 (see codes.py)
        raise WacketError(f"restore: {rsync.describe(out.rc, out.stderr_text)}")
    return {
        "snapshot": plan.snapshot,
        "to": str(dest),
        "files": plan.files,
        "bytes": plan.bytes,
        "overwritten": len(existing),
    }


def restore_items(pool, fleet, t: Target, items: list[str], dest: str, **options) -> dict:
    """`backup restore`: ITEMS are [SNAPSHOT] [PATH...] (default: the latest snapshot, all of
    it), restored into DEST (PATH or HOST:PATH) by `restore` with `options`, under a journal
    entry "backup restore NAME"."""
    from wacket import jobrun
    from wacket.backup import catalog, sets

    names = catalog.snapshot_names(t)
    items = list(items)
    ref = items.pop(0) if items and catalog.looks_like_snapshot(items[0]) else None
    snap = catalog.resolve_snapshot(names, ref)
    plan = plan_restore(t, snap, items)
    where = sets.parse_location(fleet, dest, "destination")
    name = t.bset.name
    with jobrun.run(f"backup restore {name}", sorted({t.location.host.name, where.host.name})) as e:
        res = restore(pool, t, plan, where, **options)
        e.summary = f"{name}: {snap} -> {where}: {res['files']} files"
    return res
