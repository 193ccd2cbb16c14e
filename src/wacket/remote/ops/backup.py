# Backup ops: run on the machine that holds the backup target (stdlib only, Python >= 3.7).
#
# Layout of one backup set on the target (ROOT = TARGET/NAME):
#   ROOT/2026-11-27T183000Z/               a complete snapshot: a plain directory tree
#   ROOT/2026-11-27T183000Z.manifest.gz    its manifest (header line, then one JSON array per entry)
#   ROOT/.inprogress/                      the snapshot being written (never listed, never pruned)
#   ROOT/.inprogress.json                  what the in-progress snapshot was cloned from / is committing
#   ROOT/.inprogress.manifest.gz           its manifest, before the rename
#   ROOT/.lock                             flock + holder (host, pid, start time) of the running job
#   ROOT/.state.json                       outcome of the last runs (prune refuses after a failure)
# A snapshot is complete when both the directory and the manifest exist under the snapshot's name.
import errno
import fcntl
import gzip
import hashlib
import json
import os
import random
import re
import shutil
import stat
import subprocess
import time
import zlib

from wacket.remote.atomic import atomic_file, fsync_dir, write_atomic
from wacket.remote.helper import OPS, OpError, lstat_entry, op
from wacket.remote.ops.tree import file_hash

SNAP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d{6}Z$")
MANIFEST_FORMAT = 1
_LOCKS = {}


def _root(args):
    return os.path.abspath(os.path.expanduser(args["root"]))


def _read_json(path, default=None):
    try:
        with open(path, "rb") as fh:
            return json.loads(fh.read().decode("utf-8", "surrogateescape"))
    except (OSError, ValueError):
        return default


def _write_json(path, value):
    write_atomic(path, json.dumps(value, ensure_ascii=True).encode("ascii"))


def _snapshots(root):
    """Complete snapshots (directory and manifest both present), oldest first."""
    try:
        names = os.listdir(root)
    except OSError:
        return []
    have = set(names)
    out = []
    for name in names:
        if SNAP_RE.match(name) and (name + ".manifest.gz") in have:
            if os.path.isdir(os.path.join(root, name)):
                out.append(name)
    return sorted(out)


def _manifest_path(root, snap):
    return os.path.join(root, snap + ".manifest.gz")


def _read_header(path):
    try:
        with gzip.open(path, "rb") as fh:
            line = fh.readline()
        return json.loads(line.decode("utf-8", "surrogateescape"))
    except _MANIFEST_DAMAGE:
        return None


# What reading a damaged manifest (truncated, garbled) raises: gzip's and zlib's errors, JSON's,
# and those of an entry of the wrong shape
_MANIFEST_DAMAGE = (OSError, ValueError, EOFError, zlib.error, IndexError, TypeError, KeyError)


def _read_manifest(path):
    """(header, list of entries [rel, type, size, mtime_ns, mode, sha256, link])."""
    with gzip.open(path, "rb") as fh:
        data = fh.read()
    lines = data.split(b"\n")
    header = json.loads(lines[0].decode("utf-8", "surrogateescape"))
    entries = []
    loads = json.loads
    for line in lines[1:]:
        if line:
            entry = loads(line.decode("utf-8", "surrogateescape"))
            if not isinstance(entry, list) or not entry or not isinstance(entry[0], str):
                raise ValueError(f"{path}: an entry of the wrong shape")
            entries.append(entry)
    if not isinstance(header, dict):
        raise ValueError(f"{path}: a header of the wrong shape")
    return header, entries


def _gzip_member(data):

    c = zlib.compressobj(1, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def _split_manifest(raw):
    """(header dict, body bytes still compressed): the header is a gzip member of its own, so a
    manifest whose entries did not change reuses the previous body without decompressing it."""

    d = zlib.decompressobj(31)
    head = d.decompress(raw)
    while not d.eof and d.unconsumed_tail:
        head += d.decompress(d.unconsumed_tail)
    if not d.eof:
        return None, None
    line = head.split(b"\n", 1)[0]
    if head.count(b"\n") != 1 or not head.endswith(b"\n"):
        return None, None  # an old single-member manifest: no reusable body
    return json.loads(line.decode("utf-8", "surrogateescape")), d.unused_data


def _write_raw(path, header, body_member):
    head = _gzip_member((json.dumps(header, ensure_ascii=True) + "\n").encode("ascii"))
    with atomic_file(path) as fh:
        fh.write(head)
        fh.write(body_member)


def _entry_line(e):
    return json.dumps(e, ensure_ascii=True, separators=(",", ":")).encode("ascii")


# --- lock -------------------------------------------------------------------------------------


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


# --- a run: begin, manifest, commit ----------------------------------------------------------


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


def _entry_for(full, rel, st=None):
    kind, size, mtime, mode, link = lstat_entry(full, st)
    return [rel, kind, size if kind == "f" else 0, mtime, mode, None, link]


def _scan_entries(top, errors):
    """All entries under `top` via the shared tree.scan walker (no hashing there)."""
    out = []

    def collect(batch):
        for item in batch:
            rel, kind, size, mtime, mode, _digest, link = item
            out.append([rel, kind, size if kind == "f" else 0, mtime, mode, None, link])

    result = OPS["tree.scan"]({"root": top, "_emit": collect, "hash": False})
    for err in result.get("errors") or []:
        errors.append(err)
    return out


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


def _hash_entries(top, entries, errors):
    todo = [e for e in entries if e[1] == "f" and e[5] is None]
    digests = _hash_many([os.path.join(top, e[0]) for e in todo], _threads())
    hashed = [0, 0]
    for i, e in enumerate(todo):
        digest = digests[i]
        if isinstance(digest, OSError):
            errors.append([e[0], str(digest)])
            continue
        e[5] = digest
        hashed[0] += 1
        hashed[1] += e[2]
    return hashed


def _threads():
    return max(2, min(4, os.cpu_count() or 2))


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


# --- reading: list, find, verify -------------------------------------------------------------


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


def _map_chunked(pool, fn, items, chunk=256):
    """pool.map in chunks: one future per file costs more than hashing a small file."""

    def run(part):
        return [fn(x) for x in part]

    parts = [items[i : i + chunk] for i in range(0, len(items), chunk)]
    out = []
    for res in pool.map(run, parts):
        out.extend(res)
    return out


def _hash_many(paths, threads):
    """sha256 of many files: hashlib releases the GIL, so a few threads keep the disk busy."""
    if threads <= 1 or len(paths) < 64:
        out = []
        for p in paths:
            try:
                out.append(file_hash(p))
            except OSError as exc:
                out.append(OSError(exc.strerror or str(exc)))
        return out
    from concurrent.futures import ThreadPoolExecutor

    def one(p):
        try:
            return file_hash(p)
        except OSError as exc:
            return OSError(exc.strerror or str(exc))

    with ThreadPoolExecutor(threads) as pool:
        return _map_chunked(pool, one, paths)


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


# --- prune ------------------------------------------------------------------------------------


@op("backup.delete")
def _backup_delete(args):
    """Delete snapshots (lock held): the directory is first renamed away from its snapshot name,
    then the manifest goes, then the tree, so a half-deleted snapshot never looks complete."""
    root = _root(args)
    _require_lock(root)
    snaps = _snapshots(root)
    done = []
    for name in args["names"]:
        if name not in snaps:
            continue
        if name == snaps[-1]:
            raise OpError(f"refusing to delete the newest snapshot {name}", "refused")
        doomed = os.path.join(root, ".deleting-" + name)
        os.rename(os.path.join(root, name), doomed)
        os.unlink(_manifest_path(root, name))
        fsync_dir(root)
        res = subprocess.run(["rm", "-rf", "--", doomed], stderr=subprocess.PIPE)
        if res.returncode != 0 and os.path.exists(doomed):
            shutil.rmtree(doomed, ignore_errors=True)
        done.append(name)
    for entry in os.listdir(root):
        if entry.startswith(".deleting-"):
            shutil.rmtree(os.path.join(root, entry), ignore_errors=True)
    return {"deleted": done}


# --- restore support, drives -----------------------------------------------------------------


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


@op("backup.drives")
def _backup_drives(args):
    """Mounted block-device filesystems with a label or UUID (findmnt, else /proc/mounts+blkid)."""
    out = []
    try:
        res = subprocess.run(
            ["findmnt", "-J", "-b", "-o", "SOURCE,TARGET,FSTYPE,LABEL,UUID,SIZE,AVAIL"],
            capture_output=True,
            timeout=30,
        )
        data = json.loads(res.stdout.decode("utf-8", "surrogateescape") or "{}")
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        raise OpError(f"findmnt failed: {exc}", "findmnt") from None
    stack = list(data.get("filesystems") or [])
    while stack:
        fs = stack.pop(0)
        stack.extend(fs.get("children") or [])
        source = fs.get("source") or ""
        if not source.startswith("/dev/"):
            continue
        label, uuid = fs.get("label"), fs.get("uuid")
        if not label and not uuid:
            probe = _blkid(source)
            label, uuid = probe.get("LABEL"), probe.get("UUID")
        if not label and not uuid:
            continue
        dev = os.path.basename(os.path.realpath(source.split("[")[0]))
        removable = _sys_flag(dev, "removable")
        out.append(
            {
                "source": source,
                "mountpoint": fs.get("target"),
                "fstype": fs.get("fstype"),
                "label": label,
                "uuid": uuid,
                "size": _int(fs.get("size")),
                "free": _int(fs.get("avail")),
                "removable": removable,
                "loop": dev.startswith("loop"),
            }
        )
    return out


def _int(v):
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _blkid(dev):
    try:
        res = subprocess.run(["blkid", "-o", "export", dev], capture_output=True)
    except OSError:
        return {}
    out = {}
    for line in res.stdout.decode("utf-8", "replace").splitlines():
        k, _, v = line.partition("=")
        out[k] = v
    return out


def _sys_flag(dev, flag):
    base = re.sub(r"p?\d+$", "", dev) if not dev.startswith("loop") else dev
    for name in (dev, base):
        try:
            with open(f"/sys/block/{name}/{flag}") as fh:
                return fh.read().strip() == "1"
        except OSError:
            continue
    return False
