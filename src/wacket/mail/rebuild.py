"""The mail index rebuilt from the Maildirs themselves, when index.sqlite is damaged or lost.

Every message file is hashed and indexed again (so `mail search` finds it) and recorded in its
folder, whose Maildir path gives back the account and folder (safe_component is reversible).
UID maps cannot be rebuilt: the next archive lists each folder again, and finds each message it
fetches already on disk by its content hash (stored once, never twice).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from wacket.mail.digest import content_hash

_ESCAPE = re.compile(r"(?:%[0-9A-F]{2})+")


def unsafe_component(text: str) -> str:
    """The folder name component that safe_component turned into `text`."""
    if text == "%":
        return ""
    return _ESCAPE.sub(
        lambda m: bytes.fromhex(m.group(0).replace("%", "")).decode("utf-8", "replace"), text
    )


def maildirs(root: Path) -> list[str]:
    """Paths (relative to root, "/"-separated) of the Maildirs under the archive's root."""
    out = []
    for top, dirs, _files in os.walk(root):
        if {"cur", "new", "tmp"} <= set(dirs):
            out.append(Path(top).relative_to(root).as_posix())
        dirs[:] = [d for d in dirs if d not in ("cur", "new", "tmp")]
    return sorted(out)


def rebuild(store) -> int:
    """Index every message of every Maildir under the store's root; the number of files."""
    from wacket.mail.search import extract

    db = store.db
    count = 0
    now = time.time()
    db.execute("BEGIN IMMEDIATE")
    try:
        for rel in maildirs(store.root):
            parts = rel.split("/")
            if len(parts) < 2:
                continue
            account = unsafe_component(parts[0])
            folder = "/".join(unsafe_component(p) for p in parts[1:])
            db.execute(
                "INSERT OR IGNORE INTO folders (account, folder, dir) VALUES (?,?,?)",
                (account, folder, rel),
            )
            for sub in ("cur", "new"):
                with os.scandir(store.root / rel / sub) as it:
                    for e in it:
                        if e.is_file():
                            _index_file(db, Path(e.path), account, folder, now, extract)
                            count += 1
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return count


def _index_file(db, path: Path, account: str, folder: str, now: float, extract) -> None:
    data = path.read_bytes()
    h = content_hash(data)
    row = db.execute("SELECT id FROM messages WHERE hash=?", (h,)).fetchone()
    if row is None:
        meta = extract(data, path.stat().st_mtime)
        cur = db.execute(
            "INSERT INTO messages (hash, message_id, size, date, sender, recipients, subject)"
            " VALUES (?,?,?,?,?,?,?)",
            (h, meta.get("message_id"), meta.get("size", 0), meta.get("date"),
             meta.get("sender"), meta.get("recipients"), meta.get("subject")),
        )  # fmt: skip
        msg = cur.lastrowid
        db.execute(
            "INSERT INTO fts (rowid, subject, sender, recipients, body) VALUES (?,?,?,?,?)",
            (msg, meta.get("subject") or "", meta.get("sender") or "",
             meta.get("recipients") or "", meta.get("body") or ""),
        )  # fmt: skip
    else:
        msg = row[0]
    flags = path.name.partition(":2,")[2]
    db.execute(
        "INSERT OR IGNORE INTO files (account, folder, msg, name, flags, added)"
        " VALUES (?,?,?,?,?,?)",
        (account, folder, msg, path.name, flags, now),
    )
