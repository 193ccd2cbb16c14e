# Backup ops: one run on the target: begin (recover, clone the last snapshot), the manifest of
# what changed, commit (renames that make the snapshot complete).
import json
import os
import shutil
import stat
import subprocess
import time
import zlib

from wacket.remote.atomic import fsync_dir
from wacket.remote.helper import OpError, op
from wacket.remote.ops.backup_lock import _require_lock
from wacket.remote.ops.backup_scan import _entry_for, _hash_entries, _scan_entries, _threads
from wacket.remote.ops.backup_store import (
    _MANIFEST_DAMAGE,
    MANIFEST_FORMAT,
    SNAP_RE,
    _entry_line,
    _gzip_member,
    _manifest_path,
    _read_header,
    _read_json,
    _read_manifest,
    _root,
    _snapshots,
    _split_manifest,
    _write_json,
    _write_raw,
)


def _recover(root):
    """Finish a commit that was interrupted between its two renames."""
    info = _read_json(os.path.join(root, ".inprogress.json"), {}) or {}
    name = info.get("committing")
    inprog = os.path.join(root, ".inprogress")
    if name and os.path.isdir(inprog) and os.path.exists(_manifest_path(root, name)):
        if not os.path.exists(os.path.join(root, name)):
            os.rename(inprog, os.path.join(root, name))
            fsync_dir(root)
            os.unlink(os.path.join(root, ".inprogress.json"))
            return name
    # A manifest whose snapshot directory never arrived describes nothing: drop it.
    for entry in os.listdir(root):
        if entry.endswith(".manifest.gz") and SNAP_RE.match(entry[: -len(".manifest.gz")]):
            if not os.path.isdir(os.path.join(root, entry[: -len(".manifest.gz")])):
                os.unlink(os.path.join(root, entry))
    return None


def _stop_orphans(inprog, wait=10.0):
    """A run that was killed can leave its rsync receiver behind on this machine, still writing
    into .inprogress. We hold the lock, so any process working in there is an orphan: stop it
    before the next rsync starts (Linux /proc; elsewhere nothing to do)."""
    import signal

    if not os.path.isdir("/proc"):
        return 0
    real = os.path.realpath(inprog)
    me = os.getpid()
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if cwd == real or cwd.startswith(real + "/"):
            found.append(int(pid))
    for pid in found:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.time() + wait
    alive = list(found)
    while alive and time.time() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if os.path.exists(f"/proc/{p}") and not _zombie(p)]
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return len(found)


def _zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


@op("backup.begin")
def _backup_begin(args):
    """Prepare ROOT/.inprogress: reuse an interrupted one, else clone the latest snapshot with
    `cp -al` (hard links: cheap, and rsync then only rewrites what changed), else start empty."""
    root = _root(args)
    _require_lock(root)
    recovered = _recover(root)
    snaps = _snapshots(root)
    latest = snaps[-1] if snaps else None
    inprog = os.path.join(root, ".inprogress")
    state_path = os.path.join(root, ".inprogress.json")
    reuse = os.path.isdir(inprog)
    cloned = False
    base = latest
    stopped = _stop_orphans(inprog) if reuse else 0
    if reuse:
        info = _read_json(state_path, {}) or {}
        if info.get("base") in snaps:
            base = info.get("base")
    else:
        if latest and args.get("clone", True):
            _write_json(state_path, {"base": latest, "cloned": True, "started": time.time()})
            if _clone(os.path.join(root, latest), inprog, _threads()):
                cloned = True
            else:
                # No GNU cp (BSD, busybox): fall back to rsync --link-dest alone.
                if os.path.isdir(inprog):
                    shutil.rmtree(inprog, ignore_errors=True)
        if not cloned:
            os.mkdir(inprog, 0o700)
        _write_json(state_path, {"base": latest, "cloned": cloned, "started": time.time()})
    return {
        "root": root,
        "inprogress": inprog,
        "latest": latest,
        "base": base,
        "reuse": reuse,
        "cloned": cloned,
        "recovered": recovered,
        "snapshots": snaps,
        "latest_files": (_read_header(_manifest_path(root, latest)) or {}).get("files", 0)
        if latest
        else 0,
        "stopped": stopped,
    }


def _cp_group(calls):
    return all(subprocess.run(argv, capture_output=True).returncode == 0 for argv in calls)


def _clone(src, dst, workers):
    """`cp -al src dst`, split over `workers` cp processes by second-level subtrees (link(2) is
    the whole cost; two processes do it about 1.3x faster here). False if cp failed."""
    jobs = []  # (dst dir, src path)
    fix = []
    try:
        os.mkdir(dst, 0o700)
        fix.append((src, dst))
        for name in sorted(os.listdir(src)):
            sp = os.path.join(src, name)
            dp = os.path.join(dst, name)
            if os.path.isdir(sp) and not os.path.islink(sp):
                os.mkdir(dp, 0o700)
                fix.append((sp, dp))
                for child in sorted(os.listdir(sp)):
                    jobs.append((dp, os.path.join(sp, child)))
            else:
                jobs.append((dst, sp))
        groups = [[] for _ in range(max(1, workers))]
        for i, job in enumerate(jobs):
            groups[i % len(groups)].append(job)
        calls = []
        for group in groups:
            by_dir = {}
            for d, sp in group:
                by_dir.setdefault(d, []).append(sp)
            argvs = []
            for d, paths in sorted(by_dir.items()):
                for i in range(0, len(paths), 500):
                    argvs.append(["cp", "-al", "--"] + paths[i : i + 500] + [d + "/"])
            calls.append(argvs)
        if len(calls) == 1 or len(jobs) < 2:
            ok = _cp_group([c for group in calls for c in group])
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(len(calls)) as pool:
                ok = all(pool.map(_cp_group, calls))
        if not ok:
            return False
        for sp, dp in reversed(fix):
            st = os.lstat(sp)
            try:
                os.chown(dp, st.st_uid, st.st_gid)
            except OSError:
                pass
            os.chmod(dp, stat.S_IMODE(st.st_mode))
            os.utime(dp, ns=(st.st_atime_ns, st.st_mtime_ns))
        return True
    except OSError:
        return False


def _unshare_attr_changes(inprog, base_dir, base_map, attr_only):
    """rsync changed only the attributes of these files: with a `cp -al` clone the inode is shared
    with the base snapshot, so give the new snapshot its own copy and put the base's attributes back."""
    fixed = 0
    for rel in attr_only:
        full = os.path.join(inprog, rel)
        old = os.path.join(base_dir, rel)
        try:
            st = os.lstat(full)
            ost = os.lstat(old)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (ost.st_dev, ost.st_ino):
            continue
        parent = os.path.dirname(full)
        pst = os.lstat(parent)
        tmp = os.path.join(parent, ".wacket-unshare.tmp")
        shutil.copyfile(full, tmp)
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        try:
            os.chown(tmp, st.st_uid, st.st_gid)
        except OSError:
            pass
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(tmp, full)
        os.utime(parent, ns=(pst.st_atime_ns, pst.st_mtime_ns))
        prev = base_map.get(rel)
        if prev is not None and prev[1] == "f":
            try:
                os.chmod(old, prev[4])
                os.utime(old, ns=(prev[3], prev[3]))
            except OSError:
                pass
        fixed += 1
    return fixed


def _delta_manifest(root, inprog, base, base_dir, changes, errors):
    """(header totals, body member) for a clone of `base` plus rsync's itemized `changes`.

    Untouched entries are copied from the base manifest as raw lines (only their path is decoded);
    with no change at all the base's compressed body is reused as is."""
    from json.decoder import scanstring

    with open(_manifest_path(root, base), "rb") as fh:
        raw = fh.read()
    base_header, body = _split_manifest(raw)
    if base_header is None:
        return None
    totals = {k: base_header.get(k, 0) for k in ("files", "dirs", "entries", "bytes")}
    deleted = set()
    touched = set()
    attr_only = set()
    for code, rel in changes:
        rel = rel.rstrip("/")
        if not rel or rel == ".":
            continue
        if code.startswith("*deleting"):
            deleted.add(rel)
        else:
            touched.add(rel)
            if code[:2] == ".f":
                attr_only.add(rel)
        parent = os.path.dirname(rel)
        while parent:
            touched.add(parent)
            parent = os.path.dirname(parent)
    if not deleted and not touched:
        totals.update(added_files=0, added_bytes=0, hashed=0, unshared=0)
        return totals, body
    lines = zlib.decompress(body, 31).split(b"\n")
    kept = []
    old = {}

    def gone(rel):
        if rel in deleted:
            return True
        parent = os.path.dirname(rel)
        while parent:
            if parent in deleted:
                return True
            parent = os.path.dirname(parent)
        return False

    def drop(e):
        totals["entries"] -= 1
        if e[1] == "f":
            totals["files"] -= 1
            totals["bytes"] -= e[2]
        elif e[1] == "d":
            totals["dirs"] -= 1

    for line in lines:
        if not line:
            continue
        rel = scanstring(line.decode("ascii"), 2)[0]
        if rel in touched or (deleted and gone(rel)):
            e = json.loads(line.decode("ascii"))
            old[rel] = e
            drop(e)
            continue
        kept.append((rel, line))
    base_map = dict((k, v) for k, v in old.items() if k in attr_only)
    unshared = _unshare_attr_changes(inprog, base_dir, base_map, sorted(attr_only))
    fresh = []
    for rel in touched:
        try:
            e = _entry_for(os.path.join(inprog, rel), rel)
        except OSError:
            continue
        prev = old.get(rel)
        if (
            rel in attr_only
            and e[1] == "f"
            and prev is not None
            and prev[1] == "f"
            and prev[2] == e[2]
            and prev[3] == e[3]
        ):
            e[5] = prev[5]
        fresh.append(e)
    hashed = _hash_entries(inprog, fresh, errors)
    for e in fresh:
        totals["entries"] += 1
        if e[1] == "f":
            totals["files"] += 1
            totals["bytes"] += e[2]
        elif e[1] == "d":
            totals["dirs"] += 1
        kept.append((e[0], _entry_line(e)))
    kept.sort(key=lambda x: x[0])
    body = _gzip_member(b"".join(line + b"\n" for _rel, line in kept))
    totals.update(added_files=hashed[0], added_bytes=hashed[1], hashed=hashed[0], unshared=unshared)
    return totals, body


@op("backup.manifest")
def _backup_manifest(args):
    """Write ROOT/.inprogress.manifest.gz for ROOT/.inprogress.

    mode "delta": the in-progress tree is the base snapshot's clone plus exactly the changes rsync
    itemized (`changes`: [[code, rel], ...]); entries of untouched files are carried over from the
    base manifest. mode "scan": walk the tree; hashes are carried forward from the base manifest
    for files whose size and mtime match (rsync's own quick check), everything else is hashed.
    """
    root = _root(args)
    _require_lock(root)
    inprog = os.path.join(root, ".inprogress")
    base = args.get("base")
    mode = args.get("mode", "scan")
    errors = []
    base_dir = os.path.join(root, base) if base else None
    done = None
    if mode == "delta" and base:
        try:
            done = _delta_manifest(root, inprog, base, base_dir, args.get("changes") or [], errors)
        except _MANIFEST_DAMAGE:
            done = None
    if done is not None:
        totals, body = done
    else:
        mode = "scan"
        base_map = {}
        if base:
            try:
                _hdr, base_entries = _read_manifest(_manifest_path(root, base))
                for e in base_entries:
                    base_map[e[0]] = e
            except _MANIFEST_DAMAGE:
                base_map = {}
        result = _scan_entries(inprog, errors)
        for e in result:
            prev = base_map.get(e[0])
            if (
                e[1] == "f"
                and prev is not None
                and prev[1] == "f"
                and prev[2] == e[2]
                and prev[3] == e[3]
            ):
                e[5] = prev[5]
        result.sort(key=lambda e: e[0])
        hashed = _hash_entries(inprog, result, errors)
        totals = {"files": 0, "dirs": 0, "entries": len(result), "bytes": 0}
        for e in result:
            if e[1] == "f":
                totals["files"] += 1
                totals["bytes"] += e[2]
            elif e[1] == "d":
                totals["dirs"] += 1
        totals.update(added_files=hashed[0], added_bytes=hashed[1], hashed=hashed[0], unshared=0)
        body = _gzip_member(b"".join(_entry_line(e) + b"\n" for e in result))
    header = dict(args.get("header") or {})
    header.update(
        {
            "wacket_backup_manifest": MANIFEST_FORMAT,
            "snapshot": args["name"],
            "base": base,
            "files": totals["files"],
            "dirs": totals["dirs"],
            "entries": totals["entries"],
            "bytes": totals["bytes"],
            "added_files": totals["added_files"],
            "added_bytes": totals["added_bytes"],
            "manifest_mode": mode,
            "finished": time.time(),
        }
    )
    _write_raw(os.path.join(root, ".inprogress.manifest.gz"), header, body)
    totals["mode"] = mode
    totals["errors"] = errors[:100]
    return totals


@op("backup.commit")
def _backup_commit(args):
    """Rename the in-progress snapshot and its manifest into place under `name`."""
    root = _root(args)
    _require_lock(root)
    name = args["name"]
    if not SNAP_RE.match(name):
        raise OpError(f"bad snapshot name {name!r}", "internal")
    inprog = os.path.join(root, ".inprogress")
    final = os.path.join(root, name)
    if os.path.exists(final) or os.path.exists(_manifest_path(root, name)):
        raise OpError(f"{final} already exists", "exists")
    # The directory keeps the time of the run, not of the clone.
    state = os.path.join(root, ".inprogress.json")
    info = _read_json(state, {}) or {}
    info["committing"] = name
    _write_json(state, info)
    fsync_dir(root)
    os.rename(os.path.join(root, ".inprogress.manifest.gz"), _manifest_path(root, name))
    os.rename(inprog, final)
    fsync_dir(root)
    os.unlink(state)
    return {"snapshot": name, "path": final}
