# Two-way sync on one side: prepare the root (trash, temp dir, old trash pruned), stat listed paths
# after a transfer, move deleted or replaced entries into .wacket-trash/<time>/, conflict renames and
# removal of emptied directories. Nothing here deletes a file: it is moved into the trash.
import calendar
import os
import shutil
import stat
import time

TRASH = ".wacket-trash"
TRASH_TMP = ".tmp"


def _sig(path):
    """[kind, size, mtime_ns, mode, link] of a path (not following symlinks), or None."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    mode = st.st_mode
    link = None
    if stat.S_ISREG(mode):
        kind = "f"
    elif stat.S_ISDIR(mode):
        kind = "d"
    elif stat.S_ISLNK(mode):
        kind = "l"
        try:
            link = os.readlink(path)
        except OSError:
            link = ""
    else:
        kind = "o"
    return [kind, st.st_size, st.st_mtime_ns, stat.S_IMODE(mode), link]


@op("sync.prepare")
def _sync_prepare(args):
    """Resolve `root` to an absolute path (create it if `create`), make the trash and temp dirs,
    prune trash entries older than `trash_days`. Returns {root, host, entries_pruned}."""
    import socket

    root = os.path.abspath(os.path.expanduser(args["root"]))
    if not os.path.isdir(root):
        if os.path.lexists(root):
            raise OpError("%s: not a directory" % root, "notdir")
        if not args.get("create"):
            raise OpError("%s: no such directory" % root, "missing")
        try:
            os.makedirs(root)
        except OSError as exc:
            raise OpError("%s: cannot create: %s" % (root, exc.strerror), "create")
    pruned = 0
    if not args.get("dry_run"):
        tmp = os.path.join(root, TRASH, TRASH_TMP)
        try:
            if not os.path.isdir(tmp):
                os.makedirs(tmp)
        except OSError as exc:
            raise OpError("%s: cannot create: %s" % (tmp, exc.strerror), "create")
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
    root = os.path.expanduser(args["root"])
    return [_sig(os.path.join(root, rel)) for rel in args["paths"]]


def _same(sig, expect):
    if sig is None or expect is None:
        return sig is None and expect is None
    if sig[0] != expect[0]:
        return False
    if sig[0] == "f":
        return sig[1] == expect[1] and sig[2] == expect[2]
    if sig[0] == "l":
        return sig[4] == expect[4]
    return True


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
                dest = os.path.join(base, rel) + ".%d" % n
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
            skipped.append([rel, "%s exists" % new])
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
