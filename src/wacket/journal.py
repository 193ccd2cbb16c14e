"""The journal: every command that changes something appends a record (SQLite in the data dir).

`wacket log` reads it; `wacket log --from HOSTS` merges other machines' journals into one timeline.
Text that came from non-UTF-8 bytes (an argument or file name, as str with surrogate escapes) is
stored as a BLOB of exactly those bytes (SQLite keeps a BLOB as given in any column) and read back
as the same str, so no record is refused and the path in it is the real one.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from wacket import paths

if TYPE_CHECKING:
    import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY,
    started REAL NOT NULL,
    seconds REAL NOT NULL,
    machine TEXT NOT NULL,
    user TEXT NOT NULL,
    command TEXT NOT NULL,
    hosts TEXT NOT NULL,
    summary TEXT NOT NULL,
    outcome TEXT NOT NULL,
    exit_code INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_started ON entries(started);
"""


SALVAGED = "a new journal is started with the entries still readable"
COLUMNS = "started, seconds, machine, user, command, hosts, summary, outcome, exit_code"
INSERT = f"INSERT INTO entries ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)"


def _text(raw: bytes) -> str:
    """TEXT as read back: bytes a garbled page left undecodable come out as escapes, like the
    names the journal keeps as BLOBs."""
    return raw.decode("utf-8", "surrogateescape")


def path() -> Path:
    return paths.data_dir() / "journal.sqlite"


def connect() -> sqlite3.Connection:
    """The journal, opened; a damaged one is set aside and started afresh (it only records)."""
    from wacket import sqlitedb  # here, not at the top: it loads sqlite3, and commands load
    # this module before their work starts

    try:
        return _open()
    except sqlitedb.OPEN_ERRORS as exc:
        if not sqlitedb.is_damage(exc, schema_too=True):
            raise
        aside = sqlitedb.set_aside(path(), SALVAGED)
        conn = _open()
        _salvage(aside, conn)
        return conn


def _using(work):
    """`work(conn)` on the journal. Damage can hide in a page that opening never reads (a garbled
    middle): found by the work itself, the journal is set aside and the work done on a new one."""
    import sqlite3

    from wacket import sqlitedb

    try:
        return _on_journal(work)
    except sqlite3.DatabaseError as exc:
        if not sqlitedb.is_damage(exc):
            raise
    aside = sqlitedb.set_aside(path(), SALVAGED)
    _on_journal(lambda conn: _salvage(aside, conn))
    return _on_journal(work)


def _salvage(aside: Path, conn) -> None:
    """Copy every entry of a set-aside journal that can still be read, one row at a time (a scan
    stops at the first damaged page; a lookup by id only fails on the rows that sit in one)."""
    import sqlite3

    try:
        old = sqlite3.connect(f"file:{aside}?mode=ro", uri=True)
        old.text_factory = _text
        last = old.execute("SELECT max(id) FROM entries").fetchone()[0] or 0
    except (sqlite3.DatabaseError, UnicodeDecodeError):
        return
    conn.execute("BEGIN")
    try:
        # a garbled page can make max(id) absurd: ids up to what the file could hold, and the
        # newest thousand below max(id) (where the run that found the damage recorded itself)
        bound = aside.stat().st_size // 16 + 1
        ids = sorted({*range(1, min(last, bound) + 1), *range(max(1, last - 1000), last + 1)})
        for rowid in ids:
            try:
                row = old.execute(f"SELECT {COLUMNS} FROM entries WHERE id=?", (rowid,)).fetchone()
            except (sqlite3.DatabaseError, UnicodeDecodeError):
                continue
            if row is not None:
                row = tuple(_stored(v) if isinstance(v, str) else v for v in row)
                conn.execute(INSERT, row)
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        old.close()


def _on_journal(work):
    conn = connect()
    try:
        return work(conn)
    finally:
        conn.close()


def _open() -> sqlite3.Connection:
    import sqlite3

    p = path()
    new = not p.exists()
    conn = sqlite3.connect(p, timeout=30, isolation_level=None)
    conn.text_factory = _text
    if new:
        p.chmod(0o600)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA)
        # a half-written file can pass the header and fail at its first real read: read now
        conn.execute("SELECT count(*) FROM entries").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def record(
    command: str,
    hosts: list[str],
    summary: str,
    outcome: str,
    exit_code: int = 0,
    started: float | None = None,
) -> None:
    now = time.time()
    started = started if started is not None else now
    row = (
        started,
        round(now - started, 3),
        paths.hostname(),
        _user(),
        _stored(command),
        json.dumps(hosts),
        _stored(summary),
        outcome,
        int(exit_code),
    )
    _using(lambda conn: conn.execute(INSERT, row))


class Entry:
    """What a running command fills in; recorded when the `entry` block ends."""

    def __init__(self, command: str, hosts: list[str]):
        self.command = command
        self.hosts = hosts
        self.summary = ""
        self.outcome = "ok"
        self.exit_code = 0

    def finish(self, code: int, done: bool = True) -> None:
        """The run ended with exit `code`: its outcome is "ok" for 0, else "partial" if some of
        it was `done`, else "failed"."""
        self.exit_code = int(code)
        self.outcome = outcome(code, done)


def outcome(code: int, done: bool = True) -> str:
    """The journal's word for a run that ended with `code`: "partial" if some of it was
    `done`, else "failed"."""
    return "ok" if code == 0 else "partial" if done else "failed"


@contextmanager
def entry(command: str, hosts: list[str]):
    """Record the command when it ends: outcome `interrupted` if a signal stopped it (exit 130
    or 143), `failed` if it raised."""
    e = Entry(command, hosts)
    started = time.time()
    try:
        yield e
    except BaseException as exc:
        from wacket import interrupt
        from wacket.errors import WacketError

        stopped = interrupt.cause(exc)
        if stopped is not None:
            e.outcome, e.exit_code = "interrupted", interrupt.exit_code(stopped)
            exc = stopped
        else:
            e.outcome = "failed"
            e.exit_code = exc.code if isinstance(exc, WacketError) else 1
        e.summary = (e.summary + "; " if e.summary else "") + (str(exc) or type(exc).__name__)
        record(e.command, e.hosts, e.summary, e.outcome, e.exit_code, started)
        raise
    record(e.command, e.hosts, e.summary, e.outcome, e.exit_code, started)


def query(since: float = 0, host: str | None = None, command: str | None = None) -> list[dict]:
    if not path().exists():
        return []
    import sqlite3

    def read(conn):
        conn.row_factory = sqlite3.Row
        cur = conn.execute(
            "SELECT * FROM entries WHERE started >= ? ORDER BY started, id", (since,)
        )
        return [{k: _loaded(v) for k, v in dict(r).items()} for r in cur]

    rows = _using(read)
    sound = [r for r in rows if _sound(r)]
    if len(sound) < len(rows):
        import sys

        print(f"wacket: warning: {path()}: {len(rows) - len(sound)} garbled entries skipped",
              file=sys.stderr)  # fmt: skip
    return [r for r in sound if matches(r, host, command)]


def _sound(row: dict) -> bool:
    """Whether an entry reads as one: a garbled page can leave rows SQLite still returns."""
    try:
        hosts = json.loads(row["hosts"])
    except (TypeError, ValueError):
        return False
    fields = ("started", "seconds", "exit_code")
    return isinstance(hosts, list) and all(isinstance(row[k], int | float) for k in fields)


def matches(row: dict, host: str | None, command: str | None) -> bool:
    if host and host not in json.loads(row["hosts"]) and host != row["machine"]:
        return False
    return not (command and not row["command"].startswith(command))


def _stored(text: str) -> str | bytes:
    """Text as SQLite can hold it: str if it is UTF-8, else its bytes (see the module's note)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")
    return text


def _loaded(value):
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return "?"
