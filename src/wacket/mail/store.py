"""The archive on disk: one Maildir per folder, each distinct message stored once (hard links),
and one SQLite database (index.sqlite) with the per-folder state, UID maps and the search index.

Layout under `$WACKET_DATA/mail/`:
    index.sqlite                      state + UID maps + FTS5 index
    ACCOUNT/FOLDER/PATH/{cur,new,tmp} a Maildir per folder (names made safe on every OS)

Crash safety: a batch of messages is written to tmp/, made durable (syncfs, or fsync per file),
renamed into cur/ (the directory fsynced), and only then the database transaction that records
them and advances the folder's highest UID commits. A run killed anywhere leaves at worst files
the database does not know yet; the next run finds them by name (the content hash) and records
them instead of storing them twice.
"""

from __future__ import annotations

import os
import sqlite3
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from wacket import paths
from wacket.fsutil import fsync_dir
from wacket.mail.digest import content_hash

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,        -- sha256 of the message, line ends normalised
    message_id TEXT,
    size INTEGER NOT NULL,
    date REAL,
    sender TEXT, recipients TEXT, subject TEXT
);
CREATE INDEX IF NOT EXISTS messages_mid ON messages(message_id);
CREATE INDEX IF NOT EXISTS messages_date ON messages(date);
CREATE TABLE IF NOT EXISTS folders (
    account TEXT NOT NULL, folder TEXT NOT NULL, dir TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL DEFAULT 0, uidnext INTEGER NOT NULL DEFAULT 0,
    highest_uid INTEGER NOT NULL DEFAULT 0, modseq INTEGER NOT NULL DEFAULT 0,
    last_archived REAL,
    PRIMARY KEY (account, folder)
);
CREATE TABLE IF NOT EXISTS files (
    account TEXT NOT NULL, folder TEXT NOT NULL, msg INTEGER NOT NULL,
    name TEXT NOT NULL, flags TEXT NOT NULL DEFAULT '', added REAL,
    PRIMARY KEY (account, folder, msg)
);
CREATE INDEX IF NOT EXISTS files_msg ON files(msg);
CREATE TABLE IF NOT EXISTS uids (
    account TEXT NOT NULL, folder TEXT NOT NULL, uidvalidity INTEGER NOT NULL, uid INTEGER NOT NULL,
    msg INTEGER NOT NULL, size INTEGER, internaldate REAL,
    PRIMARY KEY (account, folder, uidvalidity, uid)
);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(
    subject, sender, recipients, body, content='', tokenize='unicode61 remove_diacritics 2'
);
"""

IMAP_TO_MAILDIR = {
    b"\\draft": "D",
    b"\\flagged": "F",
    b"$forwarded": "P",
    b"\\answered": "R",
    b"\\seen": "S",
    b"\\deleted": "T",
}
MAILDIR_TO_IMAP = {v: k.decode().replace("\\d", "\\D").replace("\\f", "\\F") for k, v in
                   IMAP_TO_MAILDIR.items()}  # fmt: skip
MAILDIR_TO_IMAP.update({"D": "\\Draft", "F": "\\Flagged", "P": "$Forwarded", "R": "\\Answered",
                        "S": "\\Seen", "T": "\\Deleted"})  # fmt: skip


def maildir_flags(imap_flags) -> str:
    out = set()
    for f in imap_flags or ():
        key = f.lower() if isinstance(f, bytes) else f.encode().lower()
        letter = IMAP_TO_MAILDIR.get(key)
        if letter:
            out.add(letter)
    return "".join(sorted(out))


def imap_flags(letters: str) -> list[str]:
    return [MAILDIR_TO_IMAP[c] for c in letters if c in MAILDIR_TO_IMAP]


# -- names safe on every OS -----------------------------------------------------------------------

_RESERVED = (
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(10)} | {f"lpt{i}" for i in range(10)}
)
_UNSAFE = set('<>:"/\\|?*%')


def safe_component(name: str) -> str:
    """One folder name component as a file name valid on Linux, macOS and Windows (reversible)."""
    name = unicodedata.normalize("NFC", name)
    out = []
    for ch in name:
        if ch in _UNSAFE or ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("".join(f"%{b:02X}" for b in ch.encode()))
        else:
            out.append(ch)
    text = "".join(out)
    if not text:
        return "%"
    if text[0] == ".":
        text = "%2E" + text[1:]
    if text[-1] in " .":
        text = text[:-1] + f"%{ord(text[-1]):02X}"
    base = text.split(".")[0].lower()
    if base in _RESERVED or text in ("cur", "new", "tmp"):
        text = f"%{ord(text[0]):02X}" + text[1:]
    return text


def folder_dir(account: str, folder: str, delimiter: str = "/") -> str:
    parts = [p for p in folder.split(delimiter)] if delimiter else [folder]
    return "/".join([safe_component(account)] + [safe_component(p) for p in parts])


# -- durability -------------------------------------------------------------------------------------

_syncfs = None


def sync_files(paths_: list[Path]) -> None:
    """Make the data of these files durable: one syncfs() on Linux, else fsync each."""
    global _syncfs
    if not paths_:
        return
    if _syncfs is None:
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            _syncfs = libc.syncfs
        except (OSError, AttributeError):
            _syncfs = False
    if _syncfs:
        fd = os.open(paths_[0], os.O_RDONLY)
        try:
            if _syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    for p in paths_:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- the store --------------------------------------------------------------------------------------


def root() -> Path:
    return paths.private_dir(paths.data_dir() / "mail")


class Store:
    def __init__(self, base: Path | None = None):
        self.root = Path(base) if base else root()
        paths.private_dir(self.root)
        db = self.root / "index.sqlite"
        from wacket import sqlitedb

        try:
            lost = self._open(db)
        except sqlitedb.OPEN_ERRORS as exc:
            if not sqlitedb.is_damage(exc, schema_too=True):
                raise
            sqlitedb.set_aside(db, "the index is rebuilt from the Maildirs")
            lost = self._open(db)
        if lost:
            from wacket.mail.rebuild import maildirs, rebuild

            if maildirs(self.root):
                import sys

                n = rebuild(self)
                print(f"wacket: warning: {db}: no index of the archive's {n} messages;"
                      " rebuilt it from the Maildirs", file=sys.stderr)  # fmt: skip
        # damage the checks above could not see ends the run in one line; the next rebuilds
        self.db.aside = (db, "the index is rebuilt from the Maildirs")

    def _open(self, db: Path) -> bool:
        """Open (or create) the index; True if it is new, or empty, beside Maildirs: lost."""
        new = not db.exists()
        from wacket import sqlitedb

        self.db = sqlite3.connect(
            db, timeout=60, isolation_level=None, factory=sqlitedb.Rebuildable
        )
        try:
            if new:
                db.chmod(0o600)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
            # a half-written file can pass the header and fail later: read the tables now
            for table in ("messages", "files", "uids"):
                self.db.execute(f"SELECT count(*) FROM {table}").fetchone()
            return self.db.execute("SELECT count(*) FROM folders").fetchone()[0] == 0
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    # folders
    def folder(self, account: str, folder: str, delimiter: str = "/") -> dict:
        row = self.db.execute(
            "SELECT dir, uidvalidity, uidnext, highest_uid, modseq, last_archived FROM folders"
            " WHERE account=? AND folder=?",
            (account, folder),
        ).fetchone()
        if row is None:
            d = folder_dir(account, folder, delimiter)
            self.db.execute(
                "INSERT INTO folders (account, folder, dir) VALUES (?,?,?)", (account, folder, d)
            )
            row = (d, 0, 0, 0, 0, None)
        keys = ("dir", "uidvalidity", "uidnext", "highest_uid", "modseq", "last_archived")
        return dict(zip(keys, row, strict=True), account=account, folder=folder)

    def maildir(self, rel: str) -> Path:
        p = self.root
        for part in rel.split("/"):  # every level 0700, not only the last
            p = p / part
            if not p.is_dir():
                paths.private_dir(p)
        for sub in ("cur", "new", "tmp"):
            if not (p / sub).is_dir():
                paths.private_dir(p / sub)
        return p

    def update_folder(self, account: str, folder: str, **values) -> None:
        cols = ", ".join(f"{k}=?" for k in values)
        self.db.execute(
            f"UPDATE folders SET {cols} WHERE account=? AND folder=?",
            (*values.values(), account, folder),
        )

    def msg_by_hash(self, h: str) -> int | None:
        row = self.db.execute("SELECT id FROM messages WHERE hash=?", (h,)).fetchone()
        return row[0] if row else None

    def file_of(self, msg: int) -> Path | None:
        """Any existing file holding message `msg`."""
        for d, name in self.db.execute(
            "SELECT folders.dir, files.name FROM files JOIN folders USING (account, folder)"
            " WHERE files.msg=?",
            (msg,),
        ):
            p = self.root / d / "cur" / name
            if p.exists():
                return p
        return None

    def batch(self, account: str, folder: str, delimiter: str = "/") -> Batch:
        return Batch(self, self.folder(account, folder, delimiter))


class Staged:
    """A new file in a folder's tmp/, open for writing. On any exception in the block, an
    interrupt included (even one that lands as the file is created), the file goes: nothing torn
    stays in tmp/. `close()` ends the writing early (a file is renamed or removed closed)."""

    def __init__(self, path: Path):
        self.path = path
        self.fd = -1

    def __enter__(self) -> Staged:
        try:
            self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except BaseException:
            self.path.unlink(missing_ok=True)
            raise
        return self

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)

    def __exit__(self, kind, exc, tb) -> None:
        self.close()
        if kind is not None:
            self.path.unlink(missing_ok=True)


@dataclass
class _New:
    tmp: Path
    final: Path
    msg_hash: str
    meta: dict


@dataclass
class Batch:
    """Messages for one folder, made durable and recorded together by `commit()`."""

    store: Store
    state: dict
    writes: list = field(default_factory=list)
    rows: list = field(default_factory=list)  # (hash, name, flags, uid, uidvalidity, size, idate)
    renames: list = field(default_factory=list)
    metas: dict = field(default_factory=dict)  # hash -> metadata for messages not yet in the db
    _present: dict | None = None  # basename -> file name in cur/ (scanned once)
    _known: dict | None = None  # hash -> (name, flags) of files recorded for this folder
    added: int = 0
    linked: int = 0
    _dirty: bool = False
    bytes: int = 0

    def __post_init__(self):
        self.dir = self.store.maildir(self.state["dir"])
        self.cur = self.dir / "cur"
        self.tmpdir = self.dir / "tmp"
        # Callers hold the account's job lock: anything left in tmp/ is from a killed run.
        with os.scandir(self.tmpdir) as it:
            for e in it:
                if e.is_file():
                    os.unlink(e.path)

    def _scan(self) -> None:
        if self._present is None:
            self._present = {}
            for sub in ("cur", "new"):
                with os.scandir(self.dir / sub) as it:
                    for e in it:
                        self._present[e.name.split(":")[0]] = e.name
            self._known = {}
            # Only files still on disk count: one deleted from the archive is fetched again.
            for h, name, flags in self.store.db.execute(
                "SELECT messages.hash, files.name, files.flags FROM files JOIN messages"
                " ON messages.id=files.msg WHERE files.account=? AND files.folder=?",
                (self.state["account"], self.state["folder"]),
            ):
                if name.split(":")[0] in self._present:
                    self._known[h] = (self._present[name.split(":")[0]], flags)

    def add(self, data: bytes, flags: str = "", internaldate: float | None = None,
            uid: int | None = None, uidvalidity: int = 0) -> str:  # fmt: skip
        """Stage one message; returns what happened: new, linked, known."""
        self._scan()
        h = content_hash(data)
        base = h[:40]
        name = f"{base}:2,{flags}"
        row = (h, name, flags, uid, uidvalidity, len(data), internaldate)
        if h in self._known:
            old_name, old_flags = self._known[h]
            if old_flags != flags and uid is not None:
                self._rename(old_name, name)
                self._known[h] = (name, flags)
            else:
                row = (h, old_name, old_flags, uid, uidvalidity, len(data), internaldate)
            self.rows.append(row)
            return "known"
        self._known[h] = (name, flags)
        on_disk = self._present.get(base)
        if on_disk is not None:  # written by a run that was killed before it recorded it
            if on_disk != name:
                self._rename(on_disk, name, sub=None)
        else:
            msg = self.store.msg_by_hash(h)
            src = self.store.file_of(msg) if msg is not None else None
            if src is not None:
                os.link(src, self.cur / name)
                self.linked += 1
                self._dirty = True
                self.rows.append(row)
                return "linked"
            tmp = self.tmpdir / f"{base}.{os.getpid()}"
            with Staged(tmp) as f:
                f.write(data)
                f.close()
                if internaldate:
                    os.utime(tmp, (internaldate, internaldate))
                self.writes.append(_New(tmp, self.cur / name, h, {}))
            self.added += 1
            self.bytes += len(data)
        if self.store.msg_by_hash(h) is None and h not in self.metas:
            from wacket.mail.search import extract

            self.metas[h] = extract(data, internaldate)
        self.rows.append(row)
        return "new"

    def add_file(self, path: Path, h: str, size: int, flags: str, internaldate: float | None,
                 uid: int | None, uidvalidity: int, meta: dict) -> str:  # fmt: skip
        """Stage a message already written to `path` (in this folder's tmp/), hashed by the caller."""
        self._scan()
        base = h[:40]
        name = f"{base}:2,{flags}"
        row = (h, name, flags, uid, uidvalidity, size, internaldate)
        if h in self._known or base in self._present:
            path.unlink()
            if h in self._known:
                row = (h, *self._known[h], uid, uidvalidity, size, internaldate)
            else:
                self._known[h] = (self._present[base], flags)
                row = (h, self._present[base], flags, uid, uidvalidity, size, internaldate)
                if self.store.msg_by_hash(h) is None:
                    self.metas[h] = meta
            self.rows.append(row)
            return "known"
        self._known[h] = (name, flags)
        self.writes.append(_New(path, self.cur / name, h, {}))
        if self.store.msg_by_hash(h) is None:
            self.metas[h] = meta
        self.added += 1
        self.bytes += size
        self.rows.append(row)
        return "new"

    def _rename(self, old: str, new: str, sub: str | None = "cur") -> None:
        src = self.cur / old
        if not src.exists():
            src = self.dir / "new" / old
        if src.exists():
            os.replace(src, self.cur / new)
            self.renames.append((old, new))

    def on_disk_by_id(self) -> dict[tuple[str, int], str]:
        """(Message-ID, size) -> hash of the messages this folder holds on disk that no UID of
        it maps to (after the index was rebuilt from the Maildirs: its UID maps are lost)."""
        self._scan()
        rows = self.store.db.execute(
            "SELECT messages.hash, messages.message_id, messages.size FROM files"
            " JOIN messages ON messages.id=files.msg WHERE files.account=? AND files.folder=?"
            " AND NOT EXISTS (SELECT 1 FROM uids WHERE uids.account=files.account"
            " AND uids.folder=files.folder AND uids.msg=files.msg)",
            (self.state["account"], self.state["folder"]),
        )
        return {(mid, size): h for h, mid, size in rows if mid and h in self._known}

    def adopt(self, msg_hash: str, flags: str, uid: int, uidvalidity: int, size: int,
              internaldate: float | None) -> None:  # fmt: skip
        """Record `uid` as a message already on disk in this folder (nothing is fetched)."""
        old_name, old_flags = self._known[msg_hash]
        name = old_name
        if old_flags != flags:
            name = f"{old_name.split(':')[0]}:2,{flags}"
            self._rename(old_name, name)
            self._known[msg_hash] = (name, flags)
        self.rows.append((msg_hash, name, flags, uid, uidvalidity, size, internaldate))

    def set_flags(self, msg_hash: str, flags: str) -> bool:
        """Rename the folder's file of this message for new flags (a flag change on the server)."""
        self._scan()
        known = self._known.get(msg_hash)
        if not known or known[1] == flags:
            return False
        name = f"{msg_hash[:40]}:2,{flags}"
        self._rename(known[0], name)
        self._known[msg_hash] = (name, flags)
        self.rows.append((msg_hash, name, flags, None, 0, None, None))
        return True

    def pending(self) -> int:
        return len(self.rows)

    def discard(self) -> None:
        """Drop what is staged and not committed (an interrupted batch): its files in tmp/ go,
        nothing is recorded; the next run fetches those messages again."""
        for w in self.writes:
            try:
                os.unlink(w.tmp)
            except FileNotFoundError:  # committed as the interrupt came
                pass
        self.writes.clear()
        self.rows.clear()
        self.renames.clear()
        self.metas.clear()

    def commit(self, **state) -> None:
        """Durable files first, then one transaction: rows + the folder's new state."""
        if self.writes:
            sync_files([w.tmp for w in self.writes])
            for w in self.writes:
                os.replace(w.tmp, w.final)
        if self.writes or self.renames or self._dirty:
            fsync_dir(self.cur)
        db = self.store.db
        acct, folder = self.state["account"], self.state["folder"]
        now = time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            ids = {}
            for h, meta in self.metas.items():
                cur = db.execute(
                    "INSERT OR IGNORE INTO messages (hash, message_id, size, date, sender,"
                    " recipients, subject) VALUES (?,?,?,?,?,?,?)",
                    (h, meta.get("message_id"), meta.get("size", 0), meta.get("date"),
                     meta.get("sender"), meta.get("recipients"), meta.get("subject")),
                )  # fmt: skip
                if cur.rowcount:
                    ids[h] = cur.lastrowid
                    db.execute(
                        "INSERT INTO fts (rowid, subject, sender, recipients, body)"
                        " VALUES (?,?,?,?,?)",
                        (cur.lastrowid, meta.get("subject") or "", meta.get("sender") or "",
                         meta.get("recipients") or "", meta.get("body") or ""),
                    )  # fmt: skip
            for h, name, flags, uid, uidvalidity, size, idate in self.rows:
                msg = ids.get(h)
                if msg is None:
                    msg = db.execute("SELECT id FROM messages WHERE hash=?", (h,)).fetchone()[0]
                    ids[h] = msg
                db.execute(
                    "INSERT INTO files (account, folder, msg, name, flags, added) VALUES"
                    " (?,?,?,?,?,?) ON CONFLICT (account, folder, msg) DO UPDATE SET"
                    " name=excluded.name, flags=excluded.flags",
                    (acct, folder, msg, name, flags, now),
                )
                if uid is not None:
                    db.execute(
                        "INSERT OR REPLACE INTO uids (account, folder, uidvalidity, uid, msg,"
                        " size, internaldate) VALUES (?,?,?,?,?,?,?)",
                        (acct, folder, uidvalidity, uid, msg, size, idate),
                    )
            if state:
                cols = ", ".join(f"{k}=?" for k in state)
                db.execute(
                    f"UPDATE folders SET {cols} WHERE account=? AND folder=?",
                    (*state.values(), acct, folder),
                )
                self.state.update(state)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self.writes.clear()
        self.rows.clear()
        self.renames.clear()
        self.metas.clear()
        self._dirty = False
