# Tree scanning for sync, backup verify and find: one remote process walks a tree and streams
# batches of entries back (the tree.scan op); the walk itself is tree_walk.py, the hash cache
# tree_hash.py, exclude rules tree_rules.py.
import os
import stat

from wacket.remote.helper import OpError, op
from wacket.remote.ops.tree_hash import _HashCache, file_hash
from wacket.remote.ops.tree_rules import _compile_excludes
from wacket.remote.ops.tree_walk import DEFAULT_BATCH, _by_name, _GroupWalk, _parallel_walk


def walk_root_stat(root):
    """The lstat of a walk's root, or the op's error: missing, or not a directory."""
    try:
        st = os.lstat(root)
    except OSError as exc:
        raise OpError(f"{root}: {exc.strerror}", "missing") from None
    if not stat.S_ISDIR(st.st_mode):
        raise OpError(f"{root}: not a directory", "notdir")
    return st


def _scan_start(root, args, want_hash):
    """Check the root of a scan and open its hash cache: (root's device, cache)."""
    st = walk_root_stat(root)
    cache = _HashCache(
        args.get("cache") if want_hash else None,
        by_inode=args.get("cache_inode", False),
        prune=args.get("cache_prune", False),
    )
    return st.st_dev, cache


@op("tree.scan")
def _tree_scan(args):
    """Walk `root`; stream batches of [rel, type, size, mtime_ns, mode, hash, link].

    type: f file, d dir, l symlink, o other. hash: hex digest for regular files when `hash` is true
    and size >= `hash_min` (else null). Unreadable entries come back as errors, not failures:
    {"errors": [[rel, message], ...]} in the final value.
    `cache_inode` reuses a hash when only the name changed (same inode, size, mtime);
    `cache_prune` drops cache entries of files this scan did not see.
    With `groups` true (wacket find) each batch is instead bytes (see _GroupWalk.flush): each
    directory's entries as one catalog row (pack_dir), the directories, the entries' names and
    [[index in batch, hash, size], ...]: the receiver stores each row as it comes, without
    decoding an entry (and the compressing is done where the walk runs, in parallel with
    `workers`; with `compress` the names are zlib-compressed too, for slow links). The final
    value then also counts "links" and "entries".
    """
    root = os.path.expanduser(args["root"])
    emit = args["_emit"]
    rules = _compile_excludes(args.get("exclude"))
    want_hash = args.get("hash", False)
    hash_min = args.get("hash_min", 0)
    algo = args.get("algo", "sha256")
    batch_size = args.get("batch", DEFAULT_BATCH)
    if args.get("groups"):
        return _tree_scan_groups(args, emit)
    one_fs = args.get("one_file_system", False)
    root_dev, cache = _scan_start(root, args, want_hash)
    batch = []
    errors = []
    n_files = n_dirs = n_bytes = n_hashed = n_hashed_bytes = 0
    file_name_rx, file_path_rx = rules.for_file
    dir_name_rx, dir_path_rx = rules.for_dir
    S_ISDIR, S_ISREG, S_ISLNK, S_IMODE = stat.S_ISDIR, stat.S_ISREG, stat.S_ISLNK, stat.S_IMODE
    stack = [""]
    complete = True  # every directory was listed (cache pruning is safe)
    while stack:
        rel_dir = stack.pop()
        full_dir = os.path.join(root, rel_dir) if rel_dir else root
        try:
            with os.scandir(full_dir) as it:
                entries = sorted(it, key=_by_name)
        except OSError as exc:
            errors.append([rel_dir or ".", exc.strerror or str(exc)])
            complete = False
            continue
        prefix = rel_dir + "/" if rel_dir else ""
        subdirs = []
        for entry in entries:
            name = entry.name
            rel = prefix + name
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                errors.append([rel, exc.strerror or str(exc)])
                continue
            mode = st.st_mode
            is_dir = S_ISDIR(mode)
            if is_dir:
                if (dir_name_rx is not None and dir_name_rx(name)) or (
                    dir_path_rx is not None and dir_path_rx(rel)
                ):
                    continue
            elif (file_name_rx is not None and file_name_rx(name)) or (
                file_path_rx is not None and file_path_rx(rel)
            ):
                continue
            digest = None
            link = None
            size = st.st_size
            if S_ISREG(mode):
                kind = "f"
                n_files += 1
                n_bytes += size
                if want_hash and size >= hash_min:
                    digest = cache.get(rel, size, st.st_mtime_ns, st)
                    if digest is None:
                        try:
                            digest = file_hash(entry.path, algo)
                        except OSError as exc:
                            errors.append([rel, exc.strerror or str(exc)])
                            continue
                        n_hashed += 1
                        n_hashed_bytes += size
                        cache.put(rel, size, st.st_mtime_ns, digest, st)
            elif is_dir:
                kind = "d"
                n_dirs += 1
                if not one_fs or st.st_dev == root_dev:
                    subdirs.append(rel)
            elif S_ISLNK(mode):
                kind = "l"
                try:
                    link = os.readlink(entry.path)
                except OSError:
                    link = ""
            else:
                kind = "o"
            batch.append([rel, kind, size, st.st_mtime_ns, S_IMODE(mode), digest, link])
            if len(batch) >= batch_size:
                emit(batch)
                batch = []
        stack.extend(reversed(subdirs))
    counts = {
        "files": n_files,
        "dirs": n_dirs,
        "bytes": n_bytes,
        "hashed": n_hashed,
        "hashed_bytes": n_hashed_bytes,
    }
    if batch:
        emit(batch)
    cache.close(complete)
    counts["errors"] = errors
    return counts


def _tree_scan_groups(args, emit):
    """tree.scan with `groups`: the same walk (order, excludes, hash cache, errors), each
    directory's entries sent as one catalog row (see tree.scan). With `workers` above 1 (0: one
    per CPU, at most 4) the subtrees are walked by that many forked processes at once; the
    stream keeps the single walk's order."""
    root = os.path.expanduser(args["root"])
    want_hash = args.get("hash", False)
    root_dev, cache = _scan_start(root, args, want_hash)
    walk = _GroupWalk(root, args, root_dev, cache, want_hash)
    workers = args.get("workers", 1)
    if workers == 0:
        workers = min(4, os.cpu_count() or 1)
    if workers > 1 and hasattr(os, "fork"):
        _parallel_walk(walk, workers, emit, args)
    else:
        walk.walk("", emit)
        walk.flush(emit)
    cache.close(walk.complete)
    return walk.final()
