"""A consistent private copy of a browser database, taken without disturbing the browser.

A running browser holds its database locked and keeps recent rows in the `-wal` file (Firefox) or
a rollback `-journal` (Chromium). Opening the live file would block or, with `immutable=1`, miss
the rows still in the WAL. So the database is copied together with its `-wal`/`-journal` into a
private temporary directory; the copy is taken again when a file changed while it was being copied
(up to three tries). SQLite then replays the WAL into the copy when it is opened. Nothing is ever
written to the browser's files: they are only opened for reading.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

from wacket.errors import WacketError

SIDE_FILES = ("-wal", "-journal")
SQLITE_MAGIC = b"SQLite format 3\x00"


class SourceError(WacketError):
    """One source could not be read (exit 1: the other sources are still merged)."""


def _stat(path: Path):
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def copy_consistent(path: Path, workdir: Path, tries: int = 3) -> Path:
    """Copy `path` and its side files into `workdir`; return the copy's path."""
    target = workdir / path.name
    for _ in range(tries):
        before = [_stat(Path(str(path) + s)) for s in ("", *SIDE_FILES)]
        try:
            with open(path, "rb") as fh:
                head = fh.read(16)
                if head != SQLITE_MAGIC:
                    raise SourceError(f"{path}: not an SQLite database")
            shutil.copyfile(path, target)
            for suffix in SIDE_FILES:
                side = Path(str(path) + suffix)
                dest = Path(str(target) + suffix)
                if dest.exists():
                    dest.unlink()
                try:
                    shutil.copyfile(side, dest)
                except FileNotFoundError:
                    pass
        except PermissionError:
            raise SourceError(f"{path}: cannot read (permission denied)") from None
        except IsADirectoryError:
            raise SourceError(f"{path}: is a directory, not a database") from None
        except FileNotFoundError:
            raise SourceError(f"{path}: no such file") from None
        except OSError as exc:
            raise SourceError(f"{path}: cannot copy: {exc.strerror or exc}") from None
        after = [_stat(Path(str(path) + s)) for s in ("", *SIDE_FILES)]
        if before == after:
            return target
    raise SourceError(f"{path}: kept changing while being copied ({tries} tries); try again")


def open_copy(copy: Path, label: str = "", check: bool = False) -> sqlite3.Connection:
    """Open a private copy (replaying its WAL/journal); with `check`, also PRAGMA quick_check."""
    try:
        conn = sqlite3.connect(copy, isolation_level=None)
        conn.execute("PRAGMA query_only=0")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        # Replay the WAL into the main file so the copy can be ATTACHed as one plain file.
        conn.execute("PRAGMA journal_mode=DELETE")
        row = conn.execute("PRAGMA quick_check(1)").fetchone() if check else ("ok",)
    except sqlite3.DatabaseError as exc:
        raise SourceError(f"{label or copy.name}: unreadable database ({exc})") from None
    if not row or row[0] != "ok":
        conn.close()
        raise SourceError(
            f"{label or copy.name}: damaged database ({row[0] if row else 'no answer'})"
        )
    return conn


class Snapshot:
    """A temporary directory for copies; removed when the block ends."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="wacket-links-"))
        os.chmod(self.dir, 0o700)

    def copy_db(self, path: Path) -> Path:
        sub = Path(tempfile.mkdtemp(dir=self.dir))
        return copy_consistent(Path(path), sub)

    def path(self, name: str) -> Path:
        sub = Path(tempfile.mkdtemp(dir=self.dir))
        return sub / name

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
