"""Reading a set's snapshots: list them, resolve a snapshot name, diff two, find a path."""

from __future__ import annotations

import gzip
import json
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass

from wacket.backup.sets import BackupSet, Location
from wacket.errors import Exit, WacketError
from wacket.remote.client import HelperError


@dataclass
class Target:
    """A set's directory on its (resolved) target host, with that host's helper."""

    bset: BackupSet
    location: Location
    root: str
    helper: object
    session: object


def open_target(pool, fleet, bset: BackupSet) -> Target:
    from wacket.backup.target import expand_remote, resolve_target

    loc = expand_remote(pool, resolve_target(pool, fleet, bset))
    session = pool.session(loc.host)
    return Target(bset, loc, bset.root(loc.path), session.helper(), session)


def listing(t: Target) -> dict:
    try:
        return t.helper.call("backup.list", root=t.root)
    except HelperError as exc:
        if exc.kind == "missing":
            raise WacketError(
                f"backup {t.bset.name}: no snapshots at {t.location}: {exc}"
            ) from None
        raise


def snapshot_names(t: Target) -> list[str]:
    """The set's snapshots on the target, oldest first."""
    return [s["snapshot"] for s in listing(t)["snapshots"]]


def snapshot_records(t: Target, human: bool) -> list[dict]:
    """`backup list`'s records; `human` (table, plain) shows sizes as 1.2 MiB."""
    from wacket.output import human_bytes

    def size(n):
        return human_bytes(n) if human else n

    return [
        {
            "snapshot": h["snapshot"],
            "files": h.get("files"),
            "added_files": h.get("added_files"),
            "client": h.get("client"),
            "status": "partial" if h.get("rsync_rc") else "ok",
            "added": size(h.get("added_bytes")),
            "total": size(h.get("bytes")),
        }
        for h in listing(t)["snapshots"]
    ]


def resolve_snapshot(names: list[str], ref: str | None) -> str:
    """`latest` (or nothing), a full name, or a unique prefix such as `2026-11-27T18`."""
    if not names:
        raise WacketError("no snapshots yet")
    if ref in (None, "", "latest"):
        return names[-1]
    if ref in names:
        return ref
    hits = [n for n in names if n.startswith(ref)]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise WacketError(f"no snapshot {ref!r} (have {names[0]} .. {names[-1]})", Exit.USAGE)
    raise WacketError(f"snapshot {ref!r} is ambiguous: {', '.join(hits[:5])}", Exit.USAGE)


def looks_like_snapshot(text: str) -> bool:
    import re

    return text == "latest" or bool(re.match(r"^\d{4}-\d\d(-\d\d(T\d{0,6}Z?)?)?$", text))


def read_manifest(t: Target, snapshot: str) -> tuple[dict, list[list]]:
    data = t.session.get_bytes(posixpath.join(t.root, snapshot + ".manifest.gz"))
    lines = gzip.decompress(data).split(b"\n")
    header = json.loads(lines[0])
    entries = [json.loads(line) for line in lines[1:] if line]
    return header, entries


def diff(t: Target, s1: str, s2: str) -> Iterator[dict]:
    """What changed from s1 to s2: added, removed, changed (content), meta (mode/time), type."""
    _, a = read_manifest(t, s1)
    _, b = read_manifest(t, s2)
    old = {e[0]: e for e in a}
    new = {e[0]: e for e in b}
    for path in sorted(set(old) | set(new)):
        x, y = old.get(path), new.get(path)
        if x is None:
            change = "added"
        elif y is None:
            change = "removed"
        elif x[1] != y[1]:
            change = "type"
        elif x[1] == "f" and (x[2] != y[2] or x[5] != y[5]) or x[1] == "l" and x[6] != y[6]:
            change = "changed"
        elif x[4] != y[4] or (x[1] == "f" and x[3] != y[3]):
            change = "meta"
        else:
            continue
        e = y or x
        yield {
            "change": change,
            "path": path,
            "type": e[1],
            "size": e[2] if e[1] == "f" else None,
            "old_size": x[2] if x and x[1] == "f" else None,
        }


def find(t: Target, pattern: str, human: bool = False) -> Iterator[dict]:
    """Every snapshot holding a matching path, with a version number per distinct content;
    `human` (table, plain) shows the mtime as an ISO time."""
    from wacket.timeparse import iso

    versions: dict[str, dict[str, int]] = {}
    for batch in t.helper.stream("backup.find", root=t.root, pattern=pattern):
        for snap, e in batch:
            path, kind = e[0], e[1]
            key = e[5] if kind == "f" else (e[6] if kind == "l" else kind)
            seen = versions.setdefault(path, {})
            if key not in seen:
                seen[key] = len(seen) + 1
            yield {
                "path": path,
                "snapshot": snap,
                "type": kind,
                "size": e[2] if kind == "f" else None,
                "mtime": iso(e[3] / 1e9) if human else e[3] / 1e9,
                "version": seen[key],
                "sha256": e[5],
            }
