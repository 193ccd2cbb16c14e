# Two-way sync on one side: prepare the root (trash, temp dir, old trash pruned), stat listed paths
# after a transfer, move deleted or replaced entries into .wacket-trash/<time>-<run>/, conflict
# renames and removal of emptied directories. Nothing here deletes a file: it is moved into the trash.
import calendar
import os
import shutil
import stat
import time

from wacket.remote.atomic import atomic_file
from wacket.remote.helper import OpError, data_dir, op
from wacket.remote.ops.tree import walk_root_stat
from wacket.remote.ops.tree_hash import file_hash
from wacket.remote.ops.tree_rules import _compile_excludes, _excluded

TRASH = ".wacket-trash"
TRASH_TMP = ".tmp"
# A file's ctime this close to the moment it was seen could still be the ctime of a later write
# in the same clock tick (a tick is at most 10 ms; a whole second where a filesystem keeps whole
# seconds, up to two for FAT): such a listing proves nothing about the next write.
RACY_NS = 50000000
RACY_COARSE_NS = 2000000000


def _sig(path):
    """The signature two-way sync keeps of a path, not following symlinks, or None if it is gone:
    ["f", size, mtime_ns, inode, ctime_ns] | ["d"] | ["l", target] | ["o"]."""
    try:
        st = os.lstat(path)
        mode = st.st_mode
        if stat.S_ISREG(mode):
            return ["f", st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]
        if stat.S_ISDIR(mode):
            return ["d"]
        if stat.S_ISLNK(mode):
            return ["l", os.readlink(path)]
    except OSError:
        return None
    return ["o"]


def _racy(sig, seen_ns):
    """Was this file seen so soon after its last change that another write could hide in the
    same tick? (seen_ns: this host's clock before the lstat.)"""
    if sig is None or sig[0] != "f" or sig[4] is None:
        return False
    ctime = sig[4]
    return ctime >= seen_ns - (RACY_COARSE_NS if ctime % 1000000000 == 0 else RACY_NS)


@op("sync.prepare")
def _sync_prepare(args):
    """Resolve `root` to an absolute path (create it if `create`), make the trash and temp dirs,
    prune trash entries older than `trash_days`. Returns {root, host, entries_pruned}."""
    import socket

    # realpath: a root that is a symlink to a directory is that directory
    root = os.path.realpath(os.path.expanduser(args["root"]))
    if not os.path.isdir(root):
        if os.path.lexists(root):
            raise OpError(f"{root}: not a directory", "notdir")
        if args.get("missing_ok"):
            return {"root": root, "host": socket.gethostname(), "pruned": 0, "missing": True}
        if not args.get("create"):
            raise OpError(f"{root}: no such directory", "missing")
        try:
            os.makedirs(root)
        except OSError as exc:
            raise OpError(f"{root}: cannot create: {exc.strerror}", "create") from None
    pruned = 0
    if not args.get("dry_run"):
        tmp = os.path.join(root, TRASH, TRASH_TMP)
        try:
            if not os.path.isdir(tmp):
                os.makedirs(tmp)
        except OSError as exc:
            raise OpError(f"{tmp}: cannot create: {exc.strerror}", "create") from None
        days = args.get("trash_days")
        if days is not None:
            pruned = _prune(os.path.join(root, TRASH), float(days))
    return {"root": root, "host": socket.gethostname(), "pruned": pruned}


def _prune(trash, days):
    cutoff = time.time() - days * 86400
    pruned = 0
    for name in os.listdir(trash):
        path = os.path.join(trash, name)
        if name == TRASH_TMP:
            # rsync temp files left by a killed run
            for tmpname in os.listdir(path):
                p = os.path.join(path, tmpname)
                try:
                    if os.lstat(p).st_mtime < time.time() - 86400:
                        os.unlink(p)
                except OSError:
                    pass
            continue
        try:
            when = calendar.timegm(time.strptime(name[:15], "%Y%m%dT%H%M%S"))
        except ValueError:
            continue
        if when < cutoff:
            shutil.rmtree(path, ignore_errors=True)
            pruned += 1
    return pruned


@op("sync.stat")
def _sync_stat(args):
    """What a transfer left: each path's signature (null if gone) and the content hash of the
    files listed in `hash` (those just written here), for the pair's new state. A file whose ctime
    is still within a clock tick is waited out once (at most RACY_NS), so its signature will show
    any later write; one that still cannot be (a coarse clock) gets a null ctime, which the next
    run checks by content. A file that moved while it was hashed gets no hash."""
    root = os.path.expanduser(args["root"])
    paths = args["paths"]
    want = set(args.get("hash") or ())
    first = time.time_ns()
    sigs = [_sig(os.path.join(root, rel)) for rel in paths]
    late = [s[4] for i, s in enumerate(sigs) if paths[i] in want and _racy(s, first)]
    if late:
        time.sleep(max(0, max(late) + RACY_NS - time.time_ns()) / 1e9)
    hashes = {}
    for i, rel in enumerate(paths):
        full = os.path.join(root, rel)
        seen = first
        if rel in want and sigs[i] is not None and sigs[i][0] == "f":
            seen = time.time_ns()
            before = _sig(full)
            try:
                digest = file_hash(full)
            except OSError:
                digest = None
            sigs[i] = _sig(full)
            if digest is not None and sigs[i] == before:
                hashes[rel] = digest
        if _racy(sigs[i], seen):
            sigs[i][4] = None
    return {"sigs": sigs, "hashes": hashes}


def _same(sig, expect):
    """Is the path as the scan saw it? A file also by inode and ctime, where the scan had them."""
    if sig is None or expect is None:
        return sig is None and expect is None
    if sig[0] != expect[0]:
        return False
    if sig[0] == "f":
        known = range(3, min(len(expect), 5))
        return sig[1:3] == expect[1:3] and all(expect[i] in (None, sig[i]) for i in known)
    return sig[1:] == expect[1:]


@op("sync.trash")
def _sync_trash(args):
    """Move [rel, expected sig] entries into .wacket-trash/<stamp>/rel; an entry that changed since
    the scan is left alone (and reported), so a fresh edit is never thrown away."""
    root = os.path.expanduser(args["root"])
    base = os.path.join(root, TRASH, args["stamp"])
    moved, skipped = [], []
    for rel, expect in args["items"]:
        src = os.path.join(root, rel)
        sig = _sig(src)
        if sig is None:
            skipped.append([rel, "gone"])
            continue
        if expect is not None and not _same(sig, expect):
            skipped.append([rel, "changed since the scan"])
            continue
        dest = os.path.join(base, rel)
        try:
            parent = os.path.dirname(dest)
            if not os.path.isdir(parent):
                os.makedirs(parent)
            n = 1
            while os.path.lexists(dest):
                dest = os.path.join(base, rel) + f".{n}"
                n += 1
            os.rename(src, dest)
            moved.append(rel)
        except OSError as exc:
            skipped.append([rel, exc.strerror or str(exc)])
    return {"moved": moved, "skipped": skipped}


@op("sync.rename")
def _sync_rename(args):
    """Conflict renames: [rel, new_rel, expected sig]; never over an existing name."""
    root = os.path.expanduser(args["root"])
    done, skipped = [], []
    for rel, new, expect in args["items"]:
        src, dst = os.path.join(root, rel), os.path.join(root, new)
        sig = _sig(src)
        if sig is None or (expect is not None and not _same(sig, expect)):
            skipped.append([rel, "changed since the scan"])
            continue
        if os.path.lexists(dst):
            skipped.append([rel, f"{new} exists"])
            continue
        try:
            os.rename(src, dst)
            done.append(rel)
        except OSError as exc:
            skipped.append([rel, exc.strerror or str(exc)])
    return {"done": done, "skipped": skipped}


@op("sync.rmdirs")
def _sync_rmdirs(args):
    """Remove directories that are empty now (deepest first); a non-empty one stays."""
    root = os.path.expanduser(args["root"])
    removed, kept = [], []
    for rel in sorted(args["paths"], key=lambda r: r.count("/"), reverse=True):
        try:
            os.rmdir(os.path.join(root, rel))
            removed.append(rel)
        except OSError:
            kept.append(rel)
    return {"removed": removed, "kept": kept}


# Side-cached listings: the last listing this side agreed on with the client (the pair's state for
# this side), under a generation token. A scan that is given the token the client expects sends only
# the entries that differ from it; any mismatch (another client, a crash between writes) sends the
# whole listing, as the first scan of a pair does.
_LISTINGS = {}
_WALKS = {}  # token -> (listing, errors) of a sync.walk not yet used by sync.scan


def _cache_path(key):
    d = os.path.join(data_dir(), "sync-cache")
    if not os.path.isdir(d):
        os.makedirs(d, 0o700)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
    return os.path.join(d, safe + ".pickle")


def _emit_pairs(emit, items, batch_size=2000):
    batch = []
    for rel, sig in items:
        batch.append([rel, list(sig) if sig is not None else None])
        if len(batch) >= batch_size:
            emit(batch)
            batch = []
    if batch:
        emit(batch)


def _walk(root, rules):
    """{rel: sig} of everything under root but the trash, and [[rel, error]] for what could not
    be read. The same walk as tree.scan (same exclude rules, symlinks not followed), lean: two-way
    sync needs only kind, size, mtime, inode and ctime (what no tool can set back: a rewrite that
    keeps size and mtime still moves them) and link target, at 100,000 entries per run. Each directory
    is listed through its fd where the system allows, so an entry's stat is an fstatat of one
    name (the kernel does not resolve the whole path again for every entry)."""
    listing = {}
    errors = []
    S_ISREG, S_ISDIR, S_ISLNK = stat.S_ISREG, stat.S_ISDIR, stat.S_ISLNK
    by_fd = os.scandir in os.supports_fd and hasattr(os, "O_DIRECTORY")
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
    stack = [("", root)]
    while stack:
        rel_dir, full = stack.pop()
        dfd = None
        try:
            if by_fd:
                dfd = os.open(full, flags | (getattr(os, "O_NOFOLLOW", 0) if rel_dir else 0))
                it = os.scandir(dfd)
            else:
                it = os.scandir(full)
        except OSError as exc:
            if dfd is not None:
                os.close(dfd)
            errors.append([rel_dir.rstrip("/") or ".", exc.strerror or str(exc)])
            continue
        try:
            with it:
                for entry in it:
                    name = entry.name
                    if not rel_dir and name == TRASH:
                        continue
                    rel = rel_dir + name
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError as exc:
                        errors.append([rel, exc.strerror or str(exc)])
                        continue
                    mode = st.st_mode
                    if rules and _excluded(rules, rel, name, S_ISDIR(mode)):
                        continue
                    if S_ISREG(mode):
                        listing[rel] = ("f", st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)
                    elif S_ISDIR(mode):
                        listing[rel] = ("d",)
                        stack.append((rel + "/", os.path.join(full, name)))
                    elif S_ISLNK(mode):
                        try:
                            listing[rel] = ("l", os.readlink(os.path.join(full, name)))
                        except OSError as exc:
                            errors.append([rel, exc.strerror or str(exc)])
        finally:
            if dfd is not None:
                os.close(dfd)
    return listing, errors


def _walk_root(args):
    """(listing, errors, the time the walk started)."""
    root = os.path.expanduser(args["root"])
    walk_root_stat(root)
    rules = _compile_excludes([p for p in args.get("exclude") or [] if p != "/" + TRASH])
    started = time.time_ns()
    return _walk(root, rules) + (started,)


@op("sync.walk")
def _sync_walk(args):
    """Walk `root` now and keep the listing under `token` for a sync.scan that names it in
    `walked`: a side walks while the other side is still connecting, before the pair (and so
    the key of its cached listing) is known."""
    walked = _walk_root(args)
    _WALKS[args["token"]] = walked
    return {"count": len(walked[0]), "errors": len(walked[1])}


@op("sync.scan")
def _sync_scan(args):
    """Walk `root`; stream [rel, sig] pairs: every entry ("full"), or only the differences from
    the cached listing of generation `gen` ("diff", sig null = gone).
    sig: ["f", size, mtime_ns, inode, ctime_ns] | ["d"] | ["l", target]. Unreadable entries come
    back as errors; `racy` names the files sent that changed too close to the walk to be trusted
    as unchanged next time (see _racy)."""
    import pickle

    key = args["key"]
    walked = _WALKS.pop(args["walked"], None) if args.get("walked") else None
    listing, errors, started = walked if walked is not None else _walk_root(args)
    _LISTINGS[key] = listing
    old = None
    if args.get("gen"):
        try:
            with open(_cache_path(key), "rb") as fh:
                cached = pickle.load(fh)
            if isinstance(cached, dict) and cached.get("gen") == args["gen"]:
                old = cached["entries"]
        except Exception:  # a missing or damaged cache only costs a full listing
            old = None
    emit = args["_emit"]
    if old is None:
        sent = listing.items()
        mode = "full"
    else:
        mode = "diff"
        sent = []
        if old != listing:
            sent = [(rel, sig) for rel, sig in listing.items() if old.get(rel) != sig]
            sent += [(rel, None) for rel in old if rel not in listing]
    _emit_pairs(emit, sent)
    racy = [rel for rel, sig in sent if _racy(sig, started)]
    return {"mode": mode, "count": len(listing), "errors": errors, "racy": racy}


@op("sync.commit")
def _sync_commit(args):
    """Make the cached listing the pair's new state for this side: the last scan plus `changes`
    ([rel, sig or null]), saved under generation `gen`."""
    import pickle

    key = args["key"]
    listing = _LISTINGS.get(key)
    if listing is None:
        raise OpError(f"no scan of {key} in this session", "state")
    for rel, sig in args["changes"]:
        if sig is None:
            listing.pop(rel, None)
        else:
            listing[rel] = tuple(sig)
    path = _cache_path(key)
    with atomic_file(path) as fh:
        pickle.dump({"gen": args["gen"], "entries": listing}, fh, protocol=4)
    return {"count": len(listing)}
