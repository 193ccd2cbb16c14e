"""What `wacket mail stats`, `search` and `show` print: per-folder figures, the messages found, one
message as text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from wacket.errors import WacketError
from wacket.mail.store import Store


def folder_stats(store: Store, account: str | None) -> Iterator[dict]:
    """Per account and folder: messages, bytes, oldest, newest, last archived."""
    from wacket import output, timeparse

    sql = (
        "SELECT f.account, f.folder, COUNT(m.id), COALESCE(SUM(m.size),0), MIN(m.date),"
        " MAX(m.date), fo.last_archived FROM folders fo LEFT JOIN files f"
        " ON f.account=fo.account AND f.folder=fo.folder LEFT JOIN messages m ON m.id=f.msg"
        + (" WHERE fo.account=?" if account else "")
        + " GROUP BY fo.account, fo.folder ORDER BY fo.account, fo.folder"
    )
    for acct, folder, n, size, oldest, newest, last in store.db.execute(
        sql.replace("f.account, f.folder", "fo.account, fo.folder", 1),
        (account,) if account else (),
    ):
        yield {"account": acct, "folder": folder, "messages": n,
               "bytes": size, "size": output.human_bytes(size),
               "oldest": timeparse.iso(oldest), "newest": timeparse.iso(newest),
               "last_archived": timeparse.iso(last)}  # fmt: skip


def message_file(store: Store, message: str) -> Path | None:
    """An archived message's file, by search id or path."""
    if message.isdigit():
        return store.file_of(int(message))
    p = Path(message)
    return p if p.exists() else None


def message_text(data: bytes, path: Path) -> bytes:
    """A message as `mail show` prints it: From, To, Subject, Date, Path, then its text."""
    from wacket import timeparse
    from wacket.mail.search import extract

    meta = extract(data)
    out = b""
    for label, key in (("From", "sender"), ("To", "recipients"), ("Subject", "subject")):
        out += f"{label}: {meta.get(key) or ''}\n".encode("utf-8", "replace")
    out += f"Date: {timeparse.iso(meta.get('date'))}\n".encode()
    out += f"Path: {path}\n\n".encode("utf-8", "surrogateescape")
    out += (meta.get("body") or "").encode("utf-8", "replace")
    return out + b"\n"


def shown_message(message: str, raw: bool) -> bytes:
    """What `mail show MESSAGE` prints: the message by search id or path, as text or `raw`."""
    store = Store()
    path = message_file(store, message)
    store.close()
    if path is None:
        raise WacketError(f"no archived message {message!r}")
    data = path.read_bytes()
    return data if raw else message_text(data, path)


def found(words: list[str], *, since: str | None, until: str | None, **narrow) -> list[dict]:
    """`mail search`'s records, newest first: `search.search` of WORDS, SINCE and UNTIL as the
    user wrote them (2025-01-01, 30d), `narrow` its other filters; dates as ISO times."""
    from wacket import timeparse
    from wacket.mail.search import search

    store = Store()
    rows = search(store, words, since=timeparse.since(since) if since else None,
                  until=timeparse.since(until) if until else None, **narrow)  # fmt: skip
    for r in rows:
        r["date"] = timeparse.iso(r["date"]) if r["date"] else ""
    store.close()
    return rows
