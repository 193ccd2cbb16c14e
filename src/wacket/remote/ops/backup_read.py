# Backup ops that read snapshots: list, find, verify, and what a restore would overwrite.
import errno
import hashlib
import os
import random
import stat

from wacket.remote.helper import OpError, op
from wacket.remote.ops.backup_scan import _map_chunked, _scan_entries, _threads
from wacket.remote.ops.backup_store import (
    _MANIFEST_DAMAGE,
    _manifest_path,
    _read_header,
    _read_json,
    _read_manifest,
    _root,
    _snapshots,
)


@op("backup.list")
def _backup_list(args):
    root = _root(args)
    if not os.path.isdir(root):
        raise OpError(f"{root}: no backups there", "missing")
    out = []
    for snap in _snapshots(root):
        header = _read_header(_manifest_path(root, snap)) or {}
        header["snapshot"] = snap
        out.append(header)
    return {
        "root": root,
        "snapshots": out,
        "inprogress": os.path.isdir(os.path.join(root, ".inprogress")),
        "state": _read_json(os.path.join(root, ".state.json"), {}),
    }


@op("backup.find")
def _backup_find(args):
    """Stream [snapshot, entry] for entries whose path matches `pattern` (fnmatch on the whole
    path or on the name; a pattern without wildcards matches as a substring)."""
    import fnmatch

    root = _root(args)
    pattern = args["pattern"]
    wild = any(c in pattern for c in "*?[")
    snaps = args.get("snapshots") or _snapshots(root)
    count = 0
    for snap in snaps:
        try:
            _hdr, entries = _read_manifest(_manifest_path(root, snap))
        except _MANIFEST_DAMAGE:
            continue
        batch = []
        for e in entries:
            rel = e[0]
            if wild:
                hit = fnmatch.fnmatchcase(rel, pattern) or fnmatch.fnmatchcase(
                    rel.rsplit("/", 1)[-1], pattern
                )
            else:
                hit = pattern in rel
            if hit:
                batch.append([snap, e])
                count += 1
        if batch:
            args["_emit"](batch)
    return {"matches": count}


def _check_file(full, size, seen):
    """(problem, detail, digest, key) for one manifest file entry: one open, no separate lstat."""
    try:
        fd = os.open(full, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return "missing", "", None, None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "type", "not a file", None, None
        return "unreadable", exc.strerror or str(exc), None, None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return "type", "not a file", None, None
        if st.st_size != size:
            return "changed", f"size {st.st_size:d}, manifest says {size:d}", None, None
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if key in seen:
            return None, "", seen[key], None
        h = hashlib.sha256()
        while True:
            block = os.read(fd, 1 << 20)
            if not block:
                break
            h.update(block)
        return None, "", h.hexdigest(), key
    except OSError as exc:
        return "unreadable", exc.strerror or str(exc), None, None
    finally:
        os.close(fd)


@op("backup.verify")
def _backup_verify(args):
    """Re-hash snapshots against their manifests; stream problems as
    {snapshot, path, problem, detail}. problem: missing, changed, type, unreadable, manifest, and
    with `extra` also extra (on disk, not in the manifest). A file hard-linked into several
    snapshots is read once per call."""
    from concurrent.futures import ThreadPoolExecutor

    root = _root(args)
    snaps = args.get("snapshots") or []
    sample = float(args.get("sample") or 100.0)
    rng = random.Random(args.get("seed"))
    emit = args["_emit"]
    seen = {}
    totals = {"snapshots": 0, "files": 0, "checked": 0, "bytes": 0, "problems": 0, "extra": 0}
    pool = ThreadPoolExecutor(int(args.get("threads") or _threads()))
    try:
        for snap in snaps:
            top = os.path.join(root, snap)
            totals["snapshots"] += 1
            try:
                _hdr, entries = _read_manifest(_manifest_path(root, snap))
            except _MANIFEST_DAMAGE as exc:
                emit([{"snapshot": snap, "path": "", "problem": "manifest", "detail": str(exc)}])
                totals["problems"] += 1
                continue
            problems = []

            def problem(rel, kind, detail="", _snap=snap, _problems=problems):
                _problems.append(
                    {"snapshot": _snap, "path": rel, "problem": kind, "detail": detail}
                )

            files = []
            for e in entries:
                kind = e[1]
                if kind == "f":
                    totals["files"] += 1
                    if sample < 100.0 and rng.random() * 100.0 >= sample:
                        continue
                    files.append(e)
                    continue
                full = os.path.join(top, e[0])
                try:
                    st = os.lstat(full)
                except OSError:
                    problem(e[0], "missing")
                    continue
                if kind == "d" and not stat.S_ISDIR(st.st_mode):
                    problem(e[0], "type", "not a directory")
                elif kind == "l":
                    if not stat.S_ISLNK(st.st_mode):
                        problem(e[0], "type", "not a symlink")
                    elif os.readlink(full) != e[6]:
                        problem(e[0], "changed", "symlink target")
            results = _map_chunked(
                pool, lambda e, _top=top: _check_file(os.path.join(_top, e[0]), e[2], seen), files
            )
            for i, (kind, detail, digest, key) in enumerate(results):
                e = files[i]
                totals["checked"] += 1
                if kind:
                    problem(e[0], kind, detail)
                    continue
                if key is not None:
                    seen[key] = digest
                    totals["bytes"] += e[2]
                if digest != e[5]:
                    problem(e[0], "changed", "content")
            if sample >= 100.0 and args.get("extra"):
                known = set(e[0] for e in entries)
                for e in _scan_entries(top, []):
                    if e[0] not in known:
                        totals["extra"] += 1
                        problem(e[0], "extra")
            totals["problems"] += sum(1 for p in problems if p["problem"] != "extra")
            if problems:
                emit(problems)
    finally:
        pool.shutdown()
    return totals


@op("backup.existing")
def _backup_existing(args):
    """Which of `paths` (relative to `root`) exist and are not directories."""
    root = os.path.expanduser(args["root"])
    if args.get("mkdir") and not os.path.isdir(root):
        try:
            os.makedirs(root, 0o700)
        except OSError as exc:  # a destination under a file, on a read-only mount...
            raise OpError(f"{root}: cannot create: {exc.strerror}", "notdir") from None
    out = []
    for rel in args["paths"]:
        full = os.path.join(root, rel) if rel else root
        try:
            st = os.lstat(full)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            out.append(rel)
    return out
