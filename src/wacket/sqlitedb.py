"""Damaged SQLite files: told apart by SQLite's own error code, and set aside when rebuildable.

A truncated or garbled database file must not stop every later run. What wacket can rebuild
(the journal, catalogs, the mail index) is renamed aside with a timestamp and started afresh;
the rest is a one-line error naming the file and the way out.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from pathlib import Path

from wacket.errors import WacketError

_DAMAGE = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


def is_damage(exc: BaseException, schema_too: bool = False) -> bool:
    """Whether `exc` says the database file itself is damaged (not busy, not full). With
    `schema_too`, a file of wacket's own whose tables are wrong or missing counts too."""
    if schema_too and isinstance(exc, UnicodeDecodeError):
        return True  # SQLite's message quoted a garbled schema, which Python cannot decode
    name = getattr(exc, "sqlite_errorname", "") or ""
    kinds = (*_DAMAGE, "SQLITE_ERROR") if schema_too else _DAMAGE
    return isinstance(exc, sqlite3.DatabaseError) and name.startswith(kinds)


# What an opener catches to ask `is_damage(exc, schema_too=True)`.
OPEN_ERRORS = (sqlite3.DatabaseError, UnicodeDecodeError)


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


class Rebuildable(sqlite3.Connection):
    """A connection to a file wacket can rebuild. Damage can hide in a page that opening never
    reads; found by any later statement or fetch, the file is set aside (`aside` says how it comes
    back) and the run ends with one line, so the next run rebuilds instead of failing for good.
    `aside` is None until the opener's own checks have passed (they handle damage themselves)."""

    aside: tuple[Path, str] | None = None

    def cursor(self, factory=None):
        return super().cursor(factory or _RebuildableCursor)

    # sqlite3's own shortcuts make a plain cursor: go through ours
    def execute(self, *args):
        return self.cursor().execute(*args)

    def executemany(self, *args):
        return self.cursor().executemany(*args)

    def executescript(self, *args):
        return self.cursor().executescript(*args)

    def damaged(self, exc: sqlite3.DatabaseError) -> WacketError | None:
        if self.aside is None or not is_damage(exc):
            return None
        path, what = self.aside
        self.aside = None
        set_aside(path, what)
        return WacketError(f"{path}: damaged ({exc}); set aside, {what} on the next run")


class _RebuildableCursor(sqlite3.Cursor):
    def _guard(self, method, *args):
        try:
            return method(*args)
        except sqlite3.DatabaseError as exc:
            err = self.connection.damaged(exc)
            if err is None:
                raise
            raise err from None

    def execute(self, *args):
        return self._guard(super().execute, *args)

    def executemany(self, *args):
        return self._guard(super().executemany, *args)

    def executescript(self, *args):
        return self._guard(super().executescript, *args)

    def fetchone(self):
        return self._guard(super().fetchone)

    def fetchmany(self, *args):
        return self._guard(super().fetchmany, *args)

    def fetchall(self):
        return self._guard(super().fetchall)

    def __next__(self):
        return self._guard(super().__next__)
