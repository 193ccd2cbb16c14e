# Content hashes of a tree: file_hash, and a per-tree SQLite cache on that machine that reuses a
# hash while size and mtime are unchanged, so a re-scan only hashes what changed (tree.hash op).
import hashlib
import os
import sqlite3
import time

from wacket.remote.helper import data_dir, op


def file_hash(path, algo="sha256"):
    h = hashlib.new(algo)
    with open(path, "rb") as fh:
        while True:
            block = fh.read(1 << 20)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


class _HashCache:
    """(directory, name, size, mtime_ns) -> hash, kept in wacket's data dir on the scanned
    machine and read one directory at a time: one query per directory that has files to hash,
    not one per file; a run that finds nothing changed writes nothing.

    With `by_inode`, a file whose path is new but whose (device, inode, size, mtime) is known (a
    rename or a move) keeps its hash. With `prune`, rows of files this scan did not see are
    dropped: a directory's as it is read, and at the end those of directories that no longer
    hold a file to hash (only after a complete scan).
    """

    SCHEMA = (
        "CREATE TABLE IF NOT EXISTS f (dir BLOB, name BLOB, size INT, mtime INT, hash TEXT,"
        " dev INT, ino INT, PRIMARY KEY (dir, name)) WITHOUT ROWID",
        "CREATE INDEX IF NOT EXISTS f_ino ON f (dev, ino)",
        "CREATE TABLE IF NOT EXISTS d (dir BLOB PRIMARY KEY) WITHOUT ROWID",
    )

    def __init__(self, name, by_inode=False, prune=False):
        self.conn = None
        self.by_inode = by_inode
        self.prune = prune
        self.new = []  # rows to write: (dir, name, size, mtime, hash, dev, ino)
        self.gone = []  # (dir, name) of rows whose file was not seen
        self.dirs = set()  # directories read
        self._dir = None  # the directory being read: its key, rows and names seen
        self._rows = {}
        self._seen = set()
        if not name:
            return
        d = os.path.join(data_dir(), "scan-cache")
        if not os.path.isdir(d):
            os.makedirs(d, 0o700)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        self.path = os.path.join(d, safe + ".sqlite")
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            if not _damaged(exc):
                raise
            self._set_aside()
            self._open()

    def _open(self):
        path = self.path
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # paths and hashes: 0600
        if os.stat(path).st_mode & 0o077:
            os.chmod(path, 0o600)
        self.conn = sqlite3.connect(path, timeout=30)
        try:
            with self.conn:
                for stmt in self.SCHEMA:
                    self.conn.execute(stmt)
                self._upgrade()
        except BaseException:
            self.conn.close()
            self.conn = None
            raise

    def _set_aside(self):
        """A damaged cache (truncated, garbled) is renamed aside: it only saves hashing."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        for suffix in ("", "-wal", "-shm", "-journal"):
            if os.path.exists(self.path + suffix):
                os.replace(self.path + suffix, f"{self.path}.damaged-{stamp}{suffix}")

    def _upgrade(self):
        """Rows of the earlier layout (whole path -> hash) into this one, so no file is hashed
        again; its inode table is dropped (a rename then costs one hash)."""
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master")}
        if "h" in tables:
            rows = []
            for path, size, mtime, digest in self.conn.execute("SELECT * FROM h"):
                d, _, n = bytes(path).rpartition(b"/")
                rows.append((d, n, size, mtime, digest, None, None))
            self.conn.executemany("INSERT OR REPLACE INTO f VALUES (?,?,?,?,?,?,?)", rows)
            self.conn.executemany("INSERT OR IGNORE INTO d VALUES (?)", {(r[0],) for r in rows})
            self.conn.execute("DROP TABLE h")
        if "hi" in tables:
            self.conn.execute("DROP TABLE hi")

    def _enter(self, dkey):
        """Finish the directory being read (its unseen rows are gone) and read `dkey`'s."""
        self.finish_dir()
        self._dir = dkey
        self.dirs.add(dkey)
        try:
            self._rows = {
                r[0]: r[1:]
                for r in self.conn.execute(
                    "SELECT name, size, mtime, hash, dev, ino FROM f WHERE dir = ?", (dkey,)
                )
            }
        except sqlite3.DatabaseError as exc:
            if not _damaged(exc):
                raise
            self._set_aside()  # this scan hashes without a cache; the next starts a new one
            self._rows = {}
        self._seen = set()

    def finish_dir(self):
        if self._dir is not None and self.prune:
            self.gone.extend((self._dir, n) for n in self._rows if n not in self._seen)
        self._dir = None
        self._rows = {}

    def get(self, rel, size, mtime, st=None):
        if self.conn is None:
            return None
        d, _, n = os.fsencode(rel).rpartition(b"/")
        if d != self._dir:
            self._enter(d)
            if self.conn is None:
                return None
        self._seen.add(n)
        row = self._rows.get(n)
        if row is not None and row[0] == size and row[1] == mtime:
            if self.by_inode and st is not None and row[3:] != (st.st_dev, st.st_ino):
                self.new.append((d, n, size, mtime, row[2], st.st_dev, st.st_ino))
            return row[2]
        if self.by_inode and st is not None:
            try:
                olds = self.conn.execute(
                    "SELECT size, mtime, hash FROM f WHERE dev = ? AND ino = ?",
                    (st.st_dev, st.st_ino),
                ).fetchall()
            except sqlite3.DatabaseError as exc:
                if not _damaged(exc):
                    raise
                self._set_aside()
                return None
            for old in olds:
                if old[0] == size and old[1] == mtime:
                    self.new.append((d, n, size, mtime, old[2], st.st_dev, st.st_ino))
                    return old[2]
        return None

    def put(self, rel, size, mtime, digest, st=None):
        if self.conn is not None:
            d, _, n = os.fsencode(rel).rpartition(b"/")
            inode = (st.st_dev, st.st_ino) if self.by_inode and st is not None else (None, None)
            self.new.append((d, n, size, mtime, digest) + inode)

    def merge(self, other):
        """What another process's cache (its `totals()`) found, to be written by this one."""
        self.new.extend(tuple(r) for r in other["new"])
        self.gone.extend(tuple(r) for r in other["gone"])
        self.dirs.update(other["dirs"])

    def totals(self):
        self.finish_dir()
        return {"new": self.new, "gone": self.gone, "dirs": list(self.dirs)}

    def close(self, complete=True):
        if self.conn is None:
            return
        self.finish_dir()
        try:
            self._write(complete)
        except sqlite3.DatabaseError as exc:
            if not _damaged(exc):
                raise
            self._set_aside()
            return
        self.conn.close()

    def _write(self, complete):
        with self.conn:
            if self.new:
                self.conn.executemany("INSERT OR REPLACE INTO f VALUES (?,?,?,?,?,?,?)", self.new)
                self.conn.executemany(
                    "INSERT OR IGNORE INTO d VALUES (?)", {(r[0],) for r in self.new}
                )
            if self.prune and self.gone:
                self.conn.executemany("DELETE FROM f WHERE dir = ? AND name = ?", self.gone)
            if self.prune and complete:
                known = [r[0] for r in self.conn.execute("SELECT dir FROM d")]
                vanished = [(k,) for k in known if k not in self.dirs]
                self.conn.executemany("DELETE FROM f WHERE dir = ?", vanished)
                self.conn.executemany("DELETE FROM d WHERE dir = ?", vanished)


def _damaged(exc):
    """A damaged database file (SQLite's CORRUPT or NOTADB are plain DatabaseErrors; busy,
    locked, full and I/O errors are OperationalErrors)."""
    return type(exc) is sqlite3.DatabaseError


@op("tree.hash")
def _tree_hash(args):
    """Hash the given relative paths under `root`: {rel: hex or null if missing/unreadable}."""
    root = os.path.expanduser(args["root"])
    algo = args.get("algo", "sha256")
    out = {}
    for rel in args["paths"]:
        try:
            out[rel] = file_hash(os.path.join(root, rel), algo)
        except OSError:
            out[rel] = None
    return out
