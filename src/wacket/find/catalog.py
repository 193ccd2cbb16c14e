"""The catalog: one SQLite file per host in the data dir, plus a names file for fast queries.

Layout of ``DATA/find/``:

- ``HOST.db``: tables ``meta`` (key/value), ``dirs`` (id, absolute path as bytes) and ``files``
  (id, dir, name as bytes, type, size, mtime_ns, hash), ``links`` (symlink targets); ``docs``
  (FTS5) and ``docinfo`` when the host was indexed with ``--content``. Paths are stored as the raw bytes of the file name, so
  names with newlines or bytes that are not UTF-8 survive exactly.
- ``HOST.names``: every entry's name, lower-cased, one per line in entry order (a newline
  inside a name is stored as NUL), then each directory's lower-cased path (root included, ending
  in ``/``) once, with the line offsets and each directory's first entry. A substring query is a
  ``find`` over this mapped file (names, then directories): no SQL scan of a million rows.
- ``hosts.json``: the last index attempt per host (when, and why it failed).

A re-index writes a fresh ``HOST.db`` beside the old one and renames it into place, so a failed or
interrupted run (or a host that is down) leaves the previous catalog untouched. Files are 0600.
"""

from __future__ import annotations

import json
import mmap
import os
import sqlite3
import sys
import time
import zlib
from array import array
from itertools import accumulate

from wacket import paths
from wacket.errors import WacketError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from pathlib import Path

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE roots (id INTEGER PRIMARY KEY, path BLOB NOT NULL);
CREATE TABLE dirs (
    first INTEGER PRIMARY KEY,  -- id of the directory's first entry; its n entries follow
    n INTEGER NOT NULL,
    root INTEGER NOT NULL,
    data BLOB NOT NULL          -- the entries' columns (see _columns)
);
CREATE TABLE hashes (id INTEGER PRIMARY KEY, hash TEXT NOT NULL, size INTEGER NOT NULL);
"""
POST_SCHEMA = "CREATE INDEX hashes_hash ON hashes(hash)"
DOCS_SCHEMA = (
    "CREATE VIRTUAL TABLE docs USING fts5(body, tokenize='unicode61 remove_diacritics 2')",
    "CREATE TABLE docinfo (id INTEGER PRIMARY KEY, size INTEGER, mtime INTEGER)",
)
NAMES_MAGIC = b"WKNAMES4"
HEADER = 64  # magic, generation, blob length, count: padded to 64 bytes


def find_dir() -> Path:
    return paths.private_dir(paths.data_dir() / "find")


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def db_path(host: str) -> Path:
    return find_dir() / f"{_safe(host)}.db"


def names_path(host: str) -> Path:
    return find_dir() / f"{_safe(host)}.names"


def _find_root() -> str:
    """find_dir's path, for reading: no directory created, no pathlib (a query's start-up)."""
    return os.path.join(paths.data_root(), "find")


def _existing(host: str, ext: str) -> str:
    """The path of the host's catalog file (db, names) for reading (db_path, names_path)."""
    return os.path.join(_find_root(), f"{_safe(host)}.{ext}")


def fs(text: str) -> bytes:
    return os.fsencode(text)


def unfs(data: bytes) -> str:
    return os.fsdecode(data)


def search_key(path: str) -> str:
    """What the names file holds for a path: lower-cased, newlines as NUL."""
    return path.replace("\n", "\0").lower()


def join_path(directory: str, name: str) -> str:
    return directory + name if directory.endswith("/") else directory + "/" + name


# --- writing -----------------------------------------------------------------------------


def read_groups(batch: bytes) -> tuple[list[tuple[int, bytes]], list[str], str, list]:
    """A grouped tree.scan batch (tree._GroupWalk.flush) as ([(entries, row)] per directory,
    the directories relative to the root, the entries' names one per line, [[index in batch,
    hash, size]])."""
    cut = batch.index(b"\n")
    head = json.loads(batch[:cut])
    pos = cut + 1
    rows = []
    for n, size in zip(head["g"], head["b"], strict=True):
        rows.append((n, batch[pos : pos + size]))
        pos += size
    end = pos + head["dl"]
    dirs = batch[pos:end].decode("utf-8", "surrogateescape").split("\0") if rows else []
    names = zlib.decompress(batch[end:]) if head["z"] else batch[end:]
    return rows, dirs, names.decode("utf-8", "surrogateescape"), head["h"]


class Writer:
    """Build a host's new catalog beside the old one; `commit()` swaps it in atomically.

    Entries are numbered 1, 2, ... in walk order (the order of the names file). A directory's
    entries arrive together from tree.scan, so they are stored as one compressed row of `dirs`,
    keyed by the number of the first one: a million entries are a few thousand SQLite rows.
    """

    def __init__(self, host: str):
        self.host = host
        self.final = db_path(host)
        self.tmp = self.final.with_name(f"{self.final.name}.new-{os.getpid()}")
        _remove_leftovers(self.final)
        _remove_leftovers(names_path(host))
        self.tmp.unlink(missing_ok=True)
        fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        self.conn = sqlite3.connect(self.tmp, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=OFF")
        self.conn.execute("PRAGMA synchronous=OFF")
        self.conn.execute("PRAGMA page_size=8192")
        self.conn.executescript(SCHEMA)
        self.conn.execute("BEGIN")
        self.keys: list[str] = []  # names of entries (add_batch) not yet in the names file
        self.names = NamesWriter(host)  # the names file, written as the entries come
        self.next_id = 1
        self.counts = {"entries": 0, "files": 0, "dirs": 0, "links": 0, "bytes": 0, "hashed": 0}
        self._root_id = 0
        self._prefix = ""
        self._group: list = []
        self._group_parent: str | None = None
        self._group_first = 1
        self._pending: list[tuple] = []

    def add_root(self, root: str) -> None:
        """Start a root (an absolute path on the host); its entries follow via `add_batch`."""
        self._flush()
        self._flush_keys()
        self._root_id += 1
        self.conn.execute("INSERT INTO roots VALUES (?,?)", (self._root_id, fs(root)))
        self._prefix = root if root.endswith("/") else root + "/"

    def add_batch(self, batch: list) -> None:
        """Entries from tree.scan of the current root: [rel, type, size, mtime_ns, mode, hash,
        link]."""
        keys = self.keys
        group = self._group
        parent = self._group_parent
        hashes = []
        files = dirs = links = nbytes = 0
        nid = self.next_id
        for item in batch:
            rel = item[0]
            cut = rel.rfind("/")
            p = rel[:cut] if cut >= 0 else ""
            if p != parent:
                if group:
                    self._group = group
                    self._flush()
                    group = self._group
                parent = self._group_parent = p
                self._group_first = nid
            group.append(item)
            keys.append(rel[cut + 1 :])
            kind = item[1]
            if kind == "f":
                files += 1
                nbytes += item[2]
                if item[5] is not None:
                    hashes.append((nid, item[5], item[2]))
            elif kind == "d":
                dirs += 1
            elif kind == "l":
                links += 1
            nid += 1
        self._group = group
        self.counts["entries"] += nid - self.next_id
        self.next_id = nid
        c = self.counts
        c["files"] += files
        c["dirs"] += dirs
        c["links"] += links
        c["bytes"] += nbytes
        c["hashed"] += len(hashes)
        if hashes:
            self.conn.executemany("INSERT INTO hashes VALUES (?,?,?)", hashes)

    def add_groups(self, batch: bytes) -> None:
        """A tree.scan batch sent with `groups` (read_groups): each directory's entries as one
        catalog row, stored as it comes (no entry is decoded here), and the entries' names."""
        self._flush()
        self._flush_keys()
        nid = self.next_id
        pending = self._pending
        rid = self._root_id
        add_dir, prefix = self.names.add_dir, self._prefix
        rows, parents, names, hashes = read_groups(batch)
        for (n, blob), parent in zip(rows, parents, strict=True):
            pending.append((nid, n, rid, blob))
            add_dir(prefix + parent + "/" if parent else prefix, nid - 1)
            nid += n
        if rows:
            self.names.add(names)
        if hashes:
            base = self.next_id
            self.conn.executemany(
                "INSERT INTO hashes VALUES (?,?,?)", [(base + i, h, sz) for i, h, sz in hashes]
            )
            self.counts["hashed"] += len(hashes)
        self.counts["entries"] += nid - self.next_id
        self.next_id = nid
        if len(pending) >= 200:
            self.conn.executemany("INSERT INTO dirs VALUES (?,?,?,?)", pending)
            self._pending = []

    def add_counts(self, final: dict) -> None:
        """Totals from the final value of a grouped tree.scan (its entries are not decoded)."""
        for key in ("files", "dirs", "links", "bytes"):
            self.counts[key] += final.get(key, 0)

    def _flush_keys(self) -> None:
        if self.keys:
            self.names.add(_join_keys(self.keys))
            self.keys = []

    def _flush(self) -> None:
        if self._group:
            parent = self._group_parent or ""
            cut = len(parent) + 1 if parent else 0
            items = self._group
            group = [
                parent,
                [it[0][cut:] for it in items],
                [_TYPE_BITS.get(it[1], 0) | it[4] for it in items],
                [it[2] for it in items],
                [it[3] for it in items],
                {i: it[5] for i, it in enumerate(items) if it[5] is not None},
                {i: it[6] for i, it in enumerate(items) if it[6] is not None},
            ]
            data = json.dumps(group, ensure_ascii=True, separators=(",", ":"))
            self.names.add_dir(self._prefix + parent + "/" if parent else self._prefix,
                               self._group_first - 1)  # fmt: skip
            self._pending.append(
                (
                    self._group_first,
                    len(self._group),
                    self._root_id,
                    zlib.compress(data.encode(), 1),
                )
            )
            self._group = []
            if len(self._pending) >= 200:
                self.conn.executemany("INSERT INTO dirs VALUES (?,?,?,?)", self._pending)
                self._pending = []
        self._group_parent = None

    def set_meta(self, meta: dict) -> None:
        self.conn.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?,?)",
            [(k, json.dumps(v)) for k, v in meta.items()],
        )

    def commit(self, meta: dict) -> None:
        self._flush()
        self._flush_keys()
        if self._pending:
            self.conn.executemany("INSERT INTO dirs VALUES (?,?,?,?)", self._pending)
            self._pending = []
        generation = os.urandom(8).hex()
        self.conn.execute(POST_SCHEMA)
        meta = dict(meta, host=self.host, generation=generation, **self.counts)
        self.set_meta(meta)
        self.conn.execute("COMMIT")
        self.conn.close()
        self.names.finish(generation)
        os.replace(self.tmp, self.final)
        from wacket.fsutil import fsync_dir  # here: a query, which never writes, does without it

        fsync_dir(self.final.parent)

    def abort(self) -> None:
        try:
            self.conn.close()
        finally:
            self.tmp.unlink(missing_ok=True)
            self.names.abort()


def _remove_leftovers(final: Path) -> None:
    """Drop `FINAL.new-PID` files of runs that died (their process is gone)."""
    for p in final.parent.glob(final.name + ".new-*"):
        try:
            pid = int(p.name.rsplit("-", 1)[1])
            os.kill(pid, 0)
        except ProcessLookupError:
            p.unlink(missing_ok=True)
        except (ValueError, PermissionError):
            continue


_TYPE_BITS = {"f": 0o100000, "d": 0o040000, "l": 0o120000}  # st_mode type bits by letter
_TYPE_OF = {v: k for k, v in _TYPE_BITS.items()}


def _columns(data: bytes, with_numbers: bool = True):
    """A `dirs` row as (dir, names, st_modes, sizes, mtimes_ns, {"index": hash}, {"index": link
    target}), the numbers left out (None) unless `with_numbers`; a list of [rel, ...] rows for a
    catalog of an earlier wacket.

    A row is zlib of either b"\\x01", JSON [dir, n, {i: hash}, {i: link}], a newline, the three
    number columns as little-endian int64, then the names joined by NUL (tree.py's pack_dir), or
    JSON [dir, names, st_modes, sizes, mtimes_ns, {i: hash}, {i: link}] (numbers beyond int64,
    Writer.add_batch)."""
    raw = zlib.decompress(data)
    if raw[:1] != b"\x01":
        group = json.loads(raw)
        return tuple(group) if group and isinstance(group[0], str) else group
    end = raw.index(b"\n")
    parent, n, digests, links = json.loads(raw[1:end])
    at = end + 1 + 24 * n
    names = raw[at:].decode("utf-8", "surrogateescape").split("\0")
    if not with_numbers:
        return parent, names, None, None, None, digests, links
    cols = array("q")
    cols.frombytes(raw[end + 1 : at])
    if sys.byteorder == "big":
        cols.byteswap()
    return parent, names, cols[:n], cols[n : 2 * n], cols[2 * n :], digests, links


def dir_items(data: bytes, only: list[int] | None = None) -> list:
    """A `dirs` row's entries (or only those at the positions `only`, in that order) as [rel,
    type, size, mtime_ns, mode, hash, link] (rel: the path relative to the root, mode: the
    permission bits)."""
    group = _columns(data)
    if isinstance(group, list):  # rows of an earlier wacket, read as they are
        return group if only is None else [group[k] for k in only]
    parent, names, modes, sizes, mtimes, digests, links = group
    kind = _TYPE_OF.get
    if only is None:
        items = [
            [n, kind(m & 0o170000, "o"), s, t, m & 0o7777, None, None]
            for n, m, s, t in zip(names, modes, sizes, mtimes, strict=True)
        ]
        for i, h in digests.items():
            items[int(i)][5] = h
        for i, target in links.items():
            items[int(i)][6] = target
    else:
        items = [
            [names[k], kind(modes[k] & 0o170000, "o"), sizes[k], mtimes[k], modes[k] & 0o7777,
             digests.get(str(k)), links.get(str(k))]
            for k in only
        ]  # fmt: skip
    if parent:
        prefix = parent + "/"
        for item in items:
            item[0] = prefix + item[0]
    return items


def _entry(eid: int, root: str, prefix: str, item: list) -> tuple:
    rel, kind, size, mtime, _mode, digest, link = item
    return (eid, root, prefix + rel, kind, size, mtime, digest, link)


def _join_keys(names: list[str]) -> str:
    keys = "\n".join(names)
    if keys.count("\n") != max(0, len(names) - 1):
        # Some names hold newlines: store those as NUL so only record ends are newlines.
        keys = "\n".join(p.replace("\n", "\0") for p in names)
    return keys


def _dir_and_names(data: bytes) -> tuple[str, list[str]]:
    """A `dirs` row's directory (relative to the root) and its entries' names."""
    group = _columns(data, with_numbers=False)
    if isinstance(group, tuple):
        return group[0], group[1]
    rels = [item[0] for item in group]  # rows of an earlier wacket: relative paths
    return (rels[0].rpartition("/")[0] if rels else ""), [r.rpartition("/")[2] for r in rels]


class NamesWriter:
    """The names file, written as the entries arrive: a header, the entries' lower-cased names
    joined by newlines, then the directories' lower-cased paths (root included, each ending in
    `/` and a newline), then the line offsets of both and each directory's first entry (with
    sentinels). It becomes the host's names file only in `finish`."""

    def __init__(self, host: str):
        self.final = names_path(host)
        self.tmp = self.final.with_name(f"{self.final.name}.new-{os.getpid()}")
        fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self.fh = os.fdopen(fd, "wb")
        self.fh.write(b" " * HEADER)
        self.offsets = array("Q")
        self.end = -1  # where the names written so far end (-1: nothing yet)
        self.dirs: list[str] = []
        self.firsts = array("Q")

    def add(self, text: str) -> None:
        """The next entries' names, one per line (a newline inside a name as NUL)."""
        blob = text.lower().encode("utf-8", "surrogateescape")
        start = self.end + 1
        if start:
            self.fh.write(b"\n")
        self.fh.write(blob)
        # Line starts, computed at C speed; the last value is where the next piece starts.
        self.offsets.extend(
            accumulate(map((1).__add__, map(len, blob.split(b"\n"))), initial=start)
        )
        self.offsets.pop()
        self.end = start + len(blob)

    def add_dir(self, path: str, first: int) -> None:
        """A directory (its path with the root, ending in /) whose entries start at record
        `first` (0-based) and run to the next directory's first."""
        self.dirs.append(path)
        self.firsts.append(first)

    def finish(self, generation: str) -> None:
        length = max(self.end, 0)
        count = len(self.offsets)
        self.offsets.append(length + 1)  # the sentinel: one past the end of the last line
        dirs = "".join(search_key(d) + "\n" for d in self.dirs).encode("utf-8", "surrogateescape")
        doffsets = array("Q", [0])
        if self.dirs:
            doffsets.extend(accumulate(map((1).__add__, map(len, dirs[:-1].split(b"\n")))))
        self.firsts.append(count)
        code = "I" if max(length, len(dirs), count) < 2**32 - 2 else "Q"
        fh = self.fh
        fh.write(b"\0" * ((-length) % 8))
        fh.write(dirs)
        fh.write(b"\0" * ((-len(dirs)) % 8))
        for values in (self.offsets, doffsets, self.firsts):
            fh.write((array("I", values) if code == "I" else values).tobytes())
        header = b"%s %s %d %d %d %d %s" % (
            NAMES_MAGIC, generation.encode(), length, count, len(dirs), len(self.dirs),
            code.encode(),
        )  # fmt: skip
        fh.seek(0)
        fh.write(header.ljust(HEADER, b" "))
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()
        os.replace(self.tmp, self.final)

    def abort(self) -> None:
        self.fh.close()
        self.tmp.unlink(missing_ok=True)


# --- reading -----------------------------------------------------------------------------


class Catalog:
    """One host's catalog, opened read-only. (A plain class: the dataclasses module would cost
    the query command's start-up a few milliseconds.)"""

    __slots__ = ("host", "path", "meta", "_conn", "_names", "_roots")

    def __init__(self, host: str, path: str | Path, meta: dict | None = None):
        self.host = host
        self.path = path
        self.meta: dict = {} if meta is None else meta
        self._conn: sqlite3.Connection | None = None
        self._names: Names | None = None
        self._roots: dict | None = None

    def __repr__(self) -> str:
        return f"Catalog({self.host!r}, {str(self.path)!r})"

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = sqlite3.connect(paths.ro_uri(self.path), uri=True)
        return self._conn

    @property
    def indexed_at(self) -> float:
        return float(self.meta.get("indexed_at", 0))

    @property
    def count(self) -> int:
        return int(self.meta.get("entries", 0))

    @property
    def has_docs(self) -> bool:
        return bool(self.meta.get("content"))

    def names(self) -> Names:
        if self._names is None:
            generation = self.meta.get("generation")
            try:
                self._names = Names.open(_existing(self.host, "names"), generation)
            except (OSError, ValueError):
                self._names = None
            if self._names is None:  # missing, older or from another generation: rebuild it
                out = NamesWriter(self.host)
                prefixes = {
                    rid: p if p.endswith("/") else p + "/" for rid, p in self.roots().items()
                }
                rows = self.conn.execute("SELECT first, root, data FROM dirs ORDER BY first")
                for first, rid, data in rows:
                    parent, names = _dir_and_names(data)
                    prefix = prefixes[rid]
                    out.add_dir(prefix + parent + "/" if parent else prefix, first - 1)
                    out.add(_join_keys(names))
                out.finish(generation)
                self._names = Names.open(names_path(self.host), generation)
                if self._names is None:
                    raise WacketError(f"{self.host}: cannot build the names index")
        return self._names

    def roots(self) -> dict[int, str]:
        if self._roots is None:
            self._roots = {
                rid: unfs(p) for rid, p in self.conn.execute("SELECT id, path FROM roots")
            }
        return self._roots

    def entries(self, ids: list[int] | None = None, keep=None):
        """Entries as (id, root, path, type, size, mtime_ns, hash, link), ascending id; only
        `ids` (ascending) when given; `keep(item)` filters on the raw tree.scan item."""
        roots = self.roots()
        prefixes = {rid: (p if p.endswith("/") else p + "/") for rid, p in roots.items()}
        if ids is not None and not ids:
            return
        if ids is None:
            cur = self.conn.execute("SELECT first, n, root, data FROM dirs ORDER BY first")
            for first, _n, rid, data in cur:
                prefix = prefixes[rid]
                for k, item in enumerate(dir_items(data)):
                    if keep is None or keep(item):
                        yield _entry(first + k, roots[rid], prefix, item)
            return
        conn = self.conn
        if len(ids) <= 64:  # a few hits: look each one's directory up
            rows = []
            for i in ids:
                if rows and rows[-1][0] <= i < rows[-1][0] + rows[-1][1]:
                    continue
                row = conn.execute(
                    "SELECT first, n, root, data FROM dirs WHERE first <= ? "
                    "ORDER BY first DESC LIMIT 1",
                    (i,),
                ).fetchone()
                if row is not None:
                    rows.append(row)
        else:  # many: find the directories holding them, fetch those in one query
            from bisect import bisect_right

            firsts = [f for (f,) in conn.execute("SELECT first FROM dirs ORDER BY first")]
            needed = sorted({firsts[bisect_right(firsts, i) - 1] for i in ids if i >= 1})
            rows = conn.execute(
                "SELECT first, n, root, data FROM dirs WHERE first IN "
                "(SELECT value FROM json_each(?)) ORDER BY first",
                (json.dumps(needed),),
            ).fetchall()
        pos = 0
        for first, n, rid, data in rows:
            wanted = []
            while pos < len(ids) and ids[pos] < first + n:
                if ids[pos] >= first:
                    wanted.append(ids[pos] - first)
                pos += 1
            if not wanted:
                continue
            prefix = prefixes[rid]
            for k, item in zip(wanted, dir_items(data, wanted), strict=True):
                if keep is None or keep(item):
                    yield _entry(first + k, roots[rid], prefix, item)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._names is not None:
            self._names.close()
            self._names = None


class Names:
    """The mapped names file (see NamesWriter). Record i is entry i+1's lower-cased name;
    directory d's line is its lower-cased path with the root, ending in /; `firsts[d]` is the
    record its entries start at (a sentinel `count` ends the last)."""

    def __init__(self, fh, mm, length: int, count: int, dirs_len: int, ndirs: int, code: str):
        self._fh = fh
        self.mm = mm
        self.count = count
        self.ndirs = ndirs
        self.base = HEADER
        self.end = HEADER + length  # where the names end
        self.dbase = HEADER + length + ((-length) % 8)
        self.dend = self.dbase + dirs_len
        size = array(code).itemsize
        at = self.dbase + dirs_len + ((-dirs_len) % 8)
        self._views = []
        if len(mm) < at + (count + 2 * ndirs + 3) * size:
            raise ValueError("names file shorter than its header says")  # truncated: rebuilt
        for name, n in (("offsets", count + 1), ("doffsets", ndirs + 1), ("firsts", ndirs + 1)):
            view = memoryview(mm)[at : at + n * size].cast(code)
            self._views.append(view)
            setattr(self, name, view)
            at += n * size
        ends = (self.offsets[count], self.doffsets[ndirs], self.firsts[ndirs])
        if ends != (length + 1, dirs_len, count):  # the sentinels NamesWriter.finish wrote
            self.close()
            raise ValueError("names file does not match its header")  # garbled: rebuilt

    @classmethod
    def open(cls, path: Path, generation: str | None) -> Names | None:
        fh = open(path, "rb")  # noqa: SIM115 - kept open with the map
        parts = fh.read(HEADER).split()
        if len(parts) != 7 or parts[0] != NAMES_MAGIC or parts[1].decode() != generation:
            fh.close()
            return None
        try:
            length, count, dirs_len, ndirs = (int(x) for x in parts[2:6])
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            fh.close()
            raise
        try:
            return cls(fh, mm, length, count, dirs_len, ndirs, parts[6].decode())
        except ValueError:
            mm.close()
            fh.close()
            raise

    def record(self, i: int) -> bytes:
        """Record i (0-based): the entry's name, lower-cased UTF-8 (surrogate escapes), NUL for
        newline."""
        return self.mm[self.base + self.offsets[i] : self.base + self.offsets[i + 1] - 1]

    def dirline(self, d: int) -> bytes:
        return self.mm[self.dbase + self.doffsets[d] : self.dbase + self.doffsets[d + 1] - 1]

    def dir_of(self, i: int) -> int:
        from bisect import bisect_right

        return bisect_right(self.firsts, i, 0, self.ndirs) - 1

    def full(self, i: int) -> bytes:
        """Record i's whole lower-cased path (its directory's line, then its name)."""
        return self.dirline(self.dir_of(i)) + self.record(i)

    def text(self) -> bytes:
        return self.mm[self.base : self.end]

    def close(self) -> None:
        try:
            for view in self._views:
                view.release()
            self.mm.close()
        except BufferError:
            pass
        self._fh.close()


def _read_meta(cat: Catalog) -> dict:
    return {k: json.loads(v) for k, v in cat.conn.execute("SELECT key, value FROM meta")}


def open_catalog(host: str) -> Catalog | None:
    p = _existing(host, "db")
    if not os.path.exists(p):
        return None
    cat = Catalog(host, p)
    try:
        cat.meta = _read_meta(cat)
        cat.conn.execute("SELECT count(*) FROM dirs").fetchone()
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
        if not set_aside_if_damaged(cat, exc, schema_too=True):
            cat.close()
            raise WacketError(f"{p}: unreadable catalog ({exc})") from None
        return None
    return cat


def set_aside_if_damaged(cat: Catalog, exc: BaseException, schema_too: bool = False) -> bool:
    """Whether `exc` says the catalog's file is damaged; if so it is closed and set aside, as if
    never indexed (the next index rebuilds it). Damage may show only when a query reads the
    page it hit, so readers call this too, and go on without that host."""
    from wacket import sqlitedb

    if not sqlitedb.is_damage(exc, schema_too=schema_too):
        return False
    cat.close()
    sqlitedb.set_aside(cat.path, f"run `wacket find index {cat.host}` to rebuild it")
    return True


def _catalog_files() -> list[str]:
    d = _find_root()
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, n) for n in os.listdir(d) if n.endswith(".db"))


def catalog_hosts() -> list[str]:
    """Hosts with a catalog, by the names the catalogs record."""
    out = []
    for p in _catalog_files():
        try:
            conn = sqlite3.connect(paths.ro_uri(p), uri=True)
            try:
                row = conn.execute("SELECT value FROM meta WHERE key = 'host'").fetchone()
            finally:
                conn.close()
        except sqlite3.DatabaseError:
            continue
        if row:
            out.append(json.loads(row[0]))
    return out


def open_catalogs(hosts: list[str] | None = None) -> list[Catalog]:
    """The catalogs of `hosts`, or every readable one (each file opened once)."""
    if hosts is not None:
        return [cat for cat in map(open_catalog, hosts) if cat is not None]
    out = []
    for p in _catalog_files():
        cat = Catalog("", p)
        try:
            cat.meta = _read_meta(cat)
        except sqlite3.DatabaseError:
            cat.close()
            continue
        if cat.meta.get("host"):
            cat.host = cat.meta["host"]
            out.append(cat)
        else:
            cat.close()
    return out


# --- the last attempt per host -----------------------------------------------------------


def status_path() -> Path:
    return find_dir() / "hosts.json"


def load_status() -> dict:
    try:
        return json.loads(status_path().read_text())
    except (OSError, ValueError):
        return {}


def record_attempt(host: str, error: str | None) -> None:
    from wacket.fsutil import atomic_write

    status = load_status()
    entry = status.setdefault(host, {})
    entry["last_attempt"] = time.time()
    entry["last_error"] = error
    if error is None:
        entry["last_ok"] = entry["last_attempt"]
    atomic_write(status_path(), json.dumps(status, indent=1, sort_keys=True).encode(), 0o600)
