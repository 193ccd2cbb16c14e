"""Damaged SQLite files: told apart by SQLite's own error code, and set aside when rebuildable.

A truncated or garbled database file must not stop every later run. What wacket can rebuild
(the journal, catalogs, the mail index) is renamed aside with a timestamp and started afresh;
the rest is a one-line error naming the file and the way out.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

_DAMAGE = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


def is_damage(exc: BaseException, schema_too: bool = False) -> bool:
    """Whether `exc` says the database file itself is damaged (not busy, not full). With
    `schema_too`, a file of wacket's own whose tables are wrong or missing counts too."""
    import sqlite3

    name = getattr(exc, "sqlite_errorname", "") or ""
    kinds = (*_DAMAGE, "SQLITE_ERROR") if schema_too else _DAMAGE
    return isinstance(exc, sqlite3.DatabaseError) and name.startswith(kinds)


def set_aside(path: Path, what: str) -> Path:
    """Rename a damaged `path` (and its -wal/-shm) to PATH.damaged-STAMP, with a warning."""
    path = Path(path)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    os.replace(path, aside)
    for suffix in ("-wal", "-shm", "-journal"):
        extra = Path(f"{path}{suffix}")
        if extra.exists():
            os.replace(extra, Path(f"{aside}{suffix}"))
    print(
        f"wacket: warning: {path} was damaged; set aside as {aside.name}, {what}", file=sys.stderr
    )
    return aside
