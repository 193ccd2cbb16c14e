# The walk of a tree scan: directories packed into batches, split over worker processes whose
# frames are relayed to the client as they come.
import json
import operator
import os
import stat
import sys
import traceback
import zlib
from array import array

from wacket.remote.helper import OpError
from wacket.remote.ops.tree_hash import _HashCache, file_hash
from wacket.remote.ops.tree_rules import _compile_excludes

DEFAULT_BATCH = 2000
_by_name = operator.attrgetter("name")


def pack_dir(dumps, rel_dir, names, modes, sizes, mtimes, digests, links):
    """One directory's entries as a catalog row: zlib of b"\\x01", JSON [dir, n, {i: hash},
    {i: link target}], a newline, st_modes, sizes and mtimes_ns as little-endian int64 columns,
    then the names joined by NUL. Binary columns cost a fifth of JSON's to encode and to
    compress, and less to read back. Values that do not fit in int64 (an mtime after 2262) get
    the JSON row [dir, names, st_modes, sizes, mtimes_ns, {i: hash}, {i: link}] instead."""
    try:
        cols = array("q", modes)
        cols.extend(sizes)
        cols.extend(mtimes)
    except OverflowError:
        row = dumps([rel_dir, names, modes, sizes, mtimes, digests, links]).encode("ascii")
        return zlib.compress(row, 1)
    if sys.byteorder == "big":
        cols.byteswap()
    head = dumps([rel_dir, len(names), digests, links]).encode("ascii")
    text = "\0".join(names).encode("utf-8", "surrogateescape")
    return zlib.compress(b"".join((b"\x01", head, b"\n", cols.tobytes(), text)), 1)


class _GroupWalk:
    """One process's share of a grouped walk: listing directories into groups, filling batches."""

    def __init__(self, root, args, root_dev, cache, want_hash):
        self.root = root
        self.rules = _compile_excludes(args.get("exclude"))
        self.want_hash = want_hash
        self.hash_min = args.get("hash_min", 0)
        self.algo = args.get("algo", "sha256")
        self.batch_size = args.get("batch", DEFAULT_BATCH * 5)
        self.one_fs = args.get("one_file_system", False)
        self.compress = args.get("compress", False)
        self.root_dev = root_dev
        self.cache = cache
        self.dumps = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode
        self.errors = []
        self.complete = True  # every directory was listed (cache pruning is safe)
        self.counts = dict.fromkeys(
            ("files", "dirs", "links", "entries", "bytes", "hashed", "hashed_bytes"), 0
        )
        self.groups, self.blobs, self.dirs, self.names, self.hashes = [], [], [], [], []
        self.n_batch = 0
        # Listing a directory by its fd makes each entry's stat an fstatat of one name: the
        # kernel does not resolve the whole path again for every entry.
        self.by_fd = os.scandir in os.supports_fd and hasattr(os, "O_DIRECTORY")
        self.open_flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)

    def list_dir(self, rel_dir):
        """(rel_dir, columns, subdirectories) of one directory, or None when it cannot be
        listed (the error is recorded). The columns: names, st_modes, sizes, mtimes_ns,
        {index: hash}, {index: link target}."""
        full_dir = os.path.join(self.root, rel_dir) if rel_dir else self.root
        dfd = None
        try:
            if self.by_fd:
                no_follow = getattr(os, "O_NOFOLLOW", 0) if rel_dir else 0
                dfd = os.open(full_dir, self.open_flags | no_follow)
                with os.scandir(dfd) as it:
                    entries = sorted(it, key=_by_name)
            else:
                with os.scandir(full_dir) as it:
                    entries = sorted(it, key=_by_name)
        except OSError as exc:
            if dfd is not None:
                os.close(dfd)
            self.errors.append([rel_dir or ".", exc.strerror or str(exc)])
            self.complete = False
            return None
        try:
            if self.rules.for_file == (None, None):
                listing = self._bulk_records(rel_dir, full_dir, entries)
                if listing is not None:
                    return listing
            return self._records(rel_dir, full_dir, entries)
        finally:
            if dfd is not None:
                os.close(dfd)

    def _bulk_records(self, rel_dir, full_dir, entries):
        """_records for the common directory (no rule for files, every entry can be stat'ed):
        the columns are built by comprehensions, then only directories, links, other kinds and
        files to hash are looked at one by one. None when an entry cannot be stat'ed (then
        _records reports it, in order)."""
        try:
            sts = [e.stat(follow_symlinks=False) for e in entries]
        except OSError:
            return None
        names = [e.name for e in entries]
        modes = [st.st_mode for st in sts]
        sizes = [st.st_size for st in sts]
        mtimes = [st.st_mtime_ns for st in sts]
        IFMT, IFREG, IFDIR, IFLNK = 0o170000, stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK
        if self.want_hash:
            hash_min = self.hash_min
            special = [
                i for i, m in enumerate(modes) if m & IFMT != IFREG or sizes[i] >= hash_min
            ]  # fmt: skip
        else:
            special = [i for i, m in enumerate(modes) if m & IFMT != IFREG]
        prefix = rel_dir + "/" if rel_dir else ""
        dir_name_rx, dir_path_rx = self.rules.for_dir
        subdirs, digests, links, drop = [], {}, {}, []
        n_other = n_dirs = n_hashed = n_hashed_bytes = 0
        other_bytes = 0  # sizes of entries that are not counted as files
        for i in special:
            name, fmt, size = names[i], modes[i] & IFMT, sizes[i]
            if fmt == IFREG:
                rel = prefix + name
                digest = self.cache.get(rel, size, mtimes[i], sts[i])
                if digest is None:
                    try:
                        digest = file_hash(os.path.join(full_dir, name), self.algo)
                    except OSError as exc:
                        self.errors.append([rel, exc.strerror or str(exc)])
                        drop.append(i)
                        n_other += 1
                        other_bytes += size
                        continue
                    n_hashed += 1
                    n_hashed_bytes += size
                    self.cache.put(rel, size, mtimes[i], digest, sts[i])
                digests[i] = digest
                continue
            n_other += 1
            other_bytes += size
            if fmt == IFDIR:
                rel = prefix + name
                if (dir_name_rx is not None and dir_name_rx(name)) or (
                    dir_path_rx is not None and dir_path_rx(rel)
                ):
                    drop.append(i)
                    continue
                n_dirs += 1
                if not self.one_fs or sts[i].st_dev == self.root_dev:
                    subdirs.append(rel)
            elif fmt == IFLNK:
                try:
                    links[i] = os.readlink(os.path.join(full_dir, name))
                except OSError:
                    links[i] = ""
        c = self.counts
        c["files"] += len(names) - n_other
        c["dirs"] += n_dirs
        c["links"] += len(links)
        c["bytes"] += sum(sizes) - other_bytes
        c["hashed"] += n_hashed
        c["hashed_bytes"] += n_hashed_bytes
        if drop:  # excluded directories, unreadable files: out of every column
            gone = set(drop)
            keep = [i for i in range(len(names)) if i not in gone]
            at = {old: new for new, old in enumerate(keep)}
            names, modes, sizes, mtimes = (
                [col[i] for i in keep] for col in (names, modes, sizes, mtimes)
            )
            digests = {at[i]: h for i, h in digests.items()}
            links = {at[i]: t for i, t in links.items()}
        return rel_dir, (names, modes, sizes, mtimes, digests, links), subdirs

    def _records(self, rel_dir, full_dir, entries):
        file_name_rx, file_path_rx = self.rules.for_file
        dir_name_rx, dir_path_rx = self.rules.for_dir
        # File type bits by masks, not a function call per entry; an entry's relative path is
        # only built where it is needed (path rules, hashes, errors). Columns, not a list per
        # entry: less to build here and to encode (see `add`).
        IFMT, IFREG, IFDIR, IFLNK = 0o170000, stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK
        want_hash, hash_min, cache, errors = self.want_hash, self.hash_min, self.cache, self.errors
        one_fs, root_dev = self.one_fs, self.root_dev
        join = os.path.join
        prefix = rel_dir + "/" if rel_dir else ""
        subdirs, names, modes, sizes, mtimes, digests, links = [], [], [], [], [], {}, {}
        n_files = n_dirs = n_bytes = n_hashed = n_hashed_bytes = 0
        for entry in entries:
            name = entry.name
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                errors.append([prefix + name, exc.strerror or str(exc)])
                continue
            mode = st.st_mode
            size = st.st_size
            fmt = mode & IFMT
            if fmt == IFREG:
                if (file_name_rx is not None and file_name_rx(name)) or (
                    file_path_rx is not None and file_path_rx(prefix + name)
                ):
                    continue
                if want_hash and size >= hash_min:
                    rel = prefix + name
                    mtime = st.st_mtime_ns
                    digest = cache.get(rel, size, mtime, st)
                    if digest is None:
                        try:
                            digest = file_hash(join(full_dir, name), self.algo)
                        except OSError as exc:
                            errors.append([rel, exc.strerror or str(exc)])
                            continue
                        n_hashed += 1
                        n_hashed_bytes += size
                        cache.put(rel, size, mtime, digest, st)
                    digests[len(names)] = digest
                n_files += 1
                n_bytes += size
            elif fmt == IFDIR:
                if (dir_name_rx is not None and dir_name_rx(name)) or (
                    dir_path_rx is not None and dir_path_rx(prefix + name)
                ):
                    continue
                n_dirs += 1
                if not one_fs or st.st_dev == root_dev:
                    subdirs.append(prefix + name)
            else:
                if (file_name_rx is not None and file_name_rx(name)) or (
                    file_path_rx is not None and file_path_rx(prefix + name)
                ):
                    continue
                if fmt == IFLNK:
                    try:
                        links[len(names)] = os.readlink(join(full_dir, name))
                    except OSError:
                        links[len(names)] = ""
            names.append(name)
            modes.append(mode)
            sizes.append(size)
            mtimes.append(st.st_mtime_ns)
        c = self.counts
        c["files"] += n_files
        c["dirs"] += n_dirs
        c["links"] += len(links)
        c["bytes"] += n_bytes
        c["hashed"] += n_hashed
        c["hashed_bytes"] += n_hashed_bytes
        return rel_dir, (names, modes, sizes, mtimes, digests, links), subdirs

    def add(self, listing, emit):
        """Put one directory's listing into the batch; send the batch when it is full. The
        directory travels as it is stored (pack_dir)."""
        rel_dir, cols, _subdirs = listing
        names, sizes, digests = cols[0], cols[2], cols[4]
        if not names:
            return
        base = self.n_batch
        self.groups.append(len(names))
        self.blobs.append(pack_dir(self.dumps, rel_dir, *cols))
        self.dirs.append(rel_dir)
        # The entries' names, one per line (a newline inside a name as NUL).
        text = "\n".join(names)
        if text.count("\n") != len(names) - 1:
            text = "\n".join(n.replace("\n", "\0") for n in names)
        self.names.append(text)
        self.hashes += [[base + i, h, sizes[i]] for i, h in digests.items()]
        self.n_batch += len(names)
        if self.n_batch >= self.batch_size:
            self.flush(emit)

    def flush(self, emit):
        """Send the batch as bytes: a JSON head (entries per directory, row lengths, hashes,
        length of the directories part), a newline, the directories' rows, their paths joined
        by NUL, then the entries' names (zlib-compressed with `compress`)."""
        if self.groups:
            names = "\n".join(self.names).encode("utf-8", "surrogateescape")
            if self.compress:
                names = zlib.compress(names, 1)
            dirs = "\0".join(self.dirs).encode("utf-8", "surrogateescape")
            head = {"g": self.groups, "b": [len(b) for b in self.blobs], "h": self.hashes}
            head.update(dl=len(dirs), z=self.compress)
            emit(b"".join((self.dumps(head).encode("ascii"), b"\n", *self.blobs, dirs, names)))
            self.counts["entries"] += self.n_batch
            self.groups, self.blobs, self.dirs, self.names, self.hashes = [], [], [], [], []
            self.n_batch = 0

    def walk(self, start, emit):
        """Depth first from `start` (a directory relative to the root), each directory's
        group before those of its subdirectories, names in order."""
        stack = [start]
        while stack:
            listing = self.list_dir(stack.pop())
            if listing is not None:
                stack.extend(reversed(listing[2]))
                self.add(listing, emit)

    def final(self):
        return dict(self.counts, errors=self.errors)


def _parallel_walk(walk, workers, emit, args):
    """The grouped walk by `workers` forked processes, in the single walk's order.

    This process lists the top levels until there are enough subtrees to share, then children
    take subtrees from a pipe as they become free (one big subtree does not hold up the rest)
    and stream each subtree's batches back in frames; the batches are passed on, already
    encoded, in depth-first order, subtree by subtree."""
    import struct

    # Units in depth-first order: ("done", listing or None, errors) for a directory listed here,
    # ("task", rel) for a subtree a child walks.
    listed = {}
    level = [""]
    for _depth in range(4):
        nxt = []
        for rel in level:
            before = len(walk.errors)
            listing = walk.list_dir(rel)
            listed[rel] = (listing, walk.errors[before:])
            del walk.errors[before:]
            if listing is not None:
                nxt.extend(listing[2])
        level = nxt
        if not level or len(level) >= 8 * workers:
            break
    units = []

    def order(rel):
        listing, errors = listed[rel]
        units.append(("done", listing, errors))
        for sub in listing[2] if listing is not None else ():
            if sub in listed:
                order(sub)
            else:
                units.append(("task", sub))

    order("")
    tasks = [i for i, u in enumerate(units) if u[0] == "task"]
    if tasks:
        # Subtrees are handed out through a pipe, 4 bytes each; what does not fit in the pipe
        # now is written while the batches are relayed (a root with 100,000 subdirectories).
        task_r, task_w = os.pipe()
        os.set_blocking(task_w, False)
        feed = [task_w, _feed(task_w, b"".join(struct.pack("<I", i) for i in tasks))]
        children = {}
        try:
            for _ in range(min(workers, len(tasks))):
                out_r, out_w = os.pipe()
                try:
                    pid = os.fork()
                except OSError:  # no more processes allowed: walk with those there are
                    os.close(out_r)
                    os.close(out_w)
                    break
                if pid == 0:
                    code = 1
                    try:
                        os.close(out_r)
                        os.close(task_w)
                        _walk_child(walk, units, task_r, out_w, args)
                        code = 0
                    except BaseException:
                        traceback.print_exc()
                    finally:
                        os._exit(code)
                os.close(out_w)
                children[out_r] = pid
            if children:
                os.close(task_r)
                task_r = None
                if not feed[1]:
                    os.close(task_w)
                    feed[0] = None
                _relay(walk, units, children, emit, feed)
                return
        finally:
            for fd in (task_r, feed[0]):
                if fd is not None:
                    os.close(fd)
            for fd, pid in children.items():
                try:
                    os.close(fd)
                except OSError:
                    pass
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
                try:
                    os.waitpid(pid, 0)
                except OSError:
                    pass
    # No subtree to share, or no process could be started: walk it all here, in order.
    for unit in units:
        if unit[0] == "task":
            walk.walk(unit[1], emit)
            continue
        if unit[1] is not None:
            walk.add(unit[1], emit)
        walk.errors += unit[2]
    walk.flush(emit)


def _feed(fd, data):
    """Write what the non-blocking pipe `fd` takes now, in whole 4-byte units (writes of at
    most PIPE_BUF bytes are all or nothing); returns the rest."""
    while data:
        try:
            os.write(fd, data[:4096])
        except BlockingIOError:
            break
        data = data[4096:]
    return data


_FRAME = (
    "<BII"  # kind (0 batch, 1 end of a subtree: its errors, 2 the child's totals), unit, length
)


def _walk_child(walk, units, task_r, out_w, args):
    """In a forked child: walk subtrees taken from `task_r`, write frames to `out_w`."""
    import marshal
    import struct

    cache = _HashCache(
        args.get("cache") if walk.want_hash else None,
        by_inode=args.get("cache_inode", False),
        prune=args.get("cache_prune", False),
    )
    walk.cache = cache
    walk.errors = []
    walk.complete = True
    for k in walk.counts:
        walk.counts[k] = 0

    def frame(kind, unit, data):
        data = b"%s%s" % (struct.pack(_FRAME, kind, unit, len(data)), data)
        while data:
            data = data[os.write(out_w, data) :]

    while True:
        b = os.read(task_r, 4)
        if len(b) < 4:
            break
        unit = struct.unpack("<I", b)[0]

        def send_batch(data, _unit=unit):
            frame(0, _unit, data)

        walk.walk(units[unit][1], send_batch)
        walk.flush(send_batch)
        frame(1, unit, marshal.dumps(walk.errors))
        walk.errors = []
    totals = {"counts": walk.counts, "complete": walk.complete}
    if cache.conn is not None:
        totals.update(cache.totals())
        cache.conn.close()
    frame(2, 0, marshal.dumps(totals))


def _relay(walk, units, children, emit, feed):
    """Pass the children's batches on in unit order; merge their errors, totals and cache.
    `feed` is [task pipe, subtrees not written to it yet]: written as the pipe drains, the pipe
    closed (and None) once all are in."""
    import marshal
    import select
    import struct

    head = struct.calcsize(_FRAME)
    n_children = len(children)
    pending = {fd: b"" for fd in children}
    batches = {}  # unit -> encoded batches not sent yet
    ended = {}  # unit -> its errors, once its child finished it
    totals = []
    cur = 0
    while cur < len(units) or pending:
        while cur < len(units):
            unit = units[cur]
            if unit[0] == "done":
                if unit[1] is not None:
                    walk.add(unit[1], emit)
                walk.errors += unit[2]
                cur += 1
                continue
            walk.flush(emit)
            for data in batches.pop(cur, ()):
                emit(data)
            if cur not in ended:
                break
            walk.errors += ended.pop(cur)
            cur += 1
        else:
            walk.flush(emit)
        if not pending:
            break
        writing = [feed[0]] if feed[0] is not None else []
        readable, writable, _ = select.select(list(pending), writing, [])
        if writable:
            feed[1] = _feed(feed[0], feed[1])
            if not feed[1]:
                os.close(feed[0])
                feed[0] = None
        for fd in readable:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                if pending.pop(fd):
                    raise OpError("a walker process stopped half way through a frame")
                os.close(fd)
                os.waitpid(children.pop(fd), 0)
                continue
            buf = pending[fd] + chunk
            pos = 0
            while len(buf) - pos >= head:
                kind, unit, size = struct.unpack_from(_FRAME, buf, pos)
                if len(buf) - pos - head < size:
                    break
                data = buf[pos + head : pos + head + size]
                pos += head + size
                if kind == 0:
                    batches.setdefault(unit, []).append(data)
                elif kind == 1:
                    ended[unit] = marshal.loads(data)
                else:
                    totals.append(marshal.loads(data))
            pending[fd] = buf[pos:]
    if len(totals) != n_children or cur < len(units):
        raise OpError("a walker process stopped before the end of its work")
    for t in totals:
        for k, v in t["counts"].items():
            walk.counts[k] += v
        walk.complete = walk.complete and t["complete"]
        if walk.cache.conn is not None and "new" in t:
            walk.cache.merge(t)
