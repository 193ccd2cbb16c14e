"""`wacket mail import PATH`: mbox files and Maildirs (a Thunderbird profile, an old archive) from
this machine or HOST:PATH, into the store with the same de-duplication as archive runs."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

from wacket.mail.store import Store

_FROM_LINE = re.compile(rb"^From .*", re.S)
_QUOTED = re.compile(rb"^>(>*From )", re.M)
SKIP_SUFFIXES = (".msf", ".dat", ".json", ".sqlite", ".html", ".js", ".txt", ".ini", ".lock")


def is_maildir(p: Path) -> bool:
    return (p / "cur").is_dir() and (p / "new").is_dir()


def is_mbox(p: Path) -> bool:
    if not p.is_file() or p.name.endswith(SKIP_SUFFIXES):
        return False
    try:
        with open(p, "rb") as fh:
            head = fh.read(5)
    except OSError:
        return False
    return head == b"From " or (head == b"" and p.with_name(p.name + ".msf").exists())


def discover(path: Path) -> Iterator[tuple[str, str, Path]]:
    """(kind, folder name, path) for every mbox and Maildir under path (or path itself)."""
    path = Path(path)
    if path.is_file():
        yield "mbox", path.stem if path.suffix == ".mbox" else path.name, path
        return
    if is_maildir(path):
        yield "maildir", path.name, path
    for dirpath, dirnames, filenames in os.walk(path):
        d = Path(dirpath)
        dirnames[:] = sorted(n for n in dirnames if n not in ("cur", "new", "tmp"))
        rel = d.relative_to(path)
        for n in list(dirnames):
            sub = d / n
            if is_maildir(sub):
                name = _folder_name(rel / n)
                yield "maildir", name, sub
        for n in sorted(filenames):
            f = d / n
            if is_mbox(f):
                yield "mbox", _folder_name(rel / (f.stem if f.suffix == ".mbox" else n)), f


def _folder_name(rel: Path) -> str:
    parts = []
    for p in rel.parts:
        if p.endswith(".sbd"):  # Thunderbird subfolder directories
            p = p[:-4]
        if p.startswith(".") and len(p) > 1:  # Maildir++ .Sub.Folder
            parts.extend(x for x in p[1:].split(".") if x)
            continue
        parts.append(p)
    return "/".join(parts) or "INBOX"


def mbox_messages(path: Path) -> Iterator[tuple[bytes, str, float | None]]:
    """Messages of an mbox file (mboxrd/mboxo), streamed: (bytes, maildir flags, the From line's
    date). The flag headers (Status, X-Status, X-Keywords) are the mbox's state of the message,
    not part of it: read as flags and taken out, as `mail export` put them in."""
    buf: list[bytes] = []
    date = None
    with open(path, "rb") as fh:
        prev_blank = True
        for line in fh:
            if line.startswith(b"From ") and prev_blank and buf is not None:
                if buf:
                    yield (*_finish(buf), date)
                buf = []
                date = _from_line_date(line)
                prev_blank = False
                continue
            buf.append(line)
            prev_blank = line in (b"\n", b"\r\n")
    if buf:
        yield (*_finish(buf), date)


def _from_line_date(line: bytes) -> float | None:
    """The date of `From SENDER Mon Nov  2 10:00:00 2026` (UTC); None if unreadable, or 1970-01-01
    00:00:00 (what `mail export` writes for a message without a date)."""
    import calendar

    words = line.decode("ascii", "replace").split()
    try:
        stamp = calendar.timegm(time.strptime(" ".join(words[-5:]), "%a %b %d %H:%M:%S %Y"))
    except (ValueError, OverflowError):
        return None
    return float(stamp) or None


_FLAG_HEADER = re.compile(rb"^(Status|X-Status|X-Keywords):[^\n]*\n", re.M | re.I)
# mbox flag letters -> maildir flags (Status R: seen; X-Status A answered, F flagged, T draft,
# D deleted); X-Keywords $Forwarded: passed.
_X_STATUS = {"A": "R", "F": "F", "T": "D", "D": "T"}


def _finish(lines: list[bytes]) -> tuple[bytes, str]:
    if lines and lines[-1] in (b"\n", b"\r\n"):
        lines = lines[:-1]  # the separator before the next From line
    data = _QUOTED.sub(rb"\1", b"".join(lines))
    flags = set()
    m = re.search(rb"\n\r?\n", data)  # the header's last line ending, then the blank line
    end = m.start() + 1 if m else len(data)
    head = data[:end]
    for h in _FLAG_HEADER.finditer(head):
        name, _, value = h.group().partition(b":")
        name, value = name.lower(), value.decode("ascii", "replace")
        if name == b"status" and "R" in value:
            flags.add("S")
        elif name == b"x-status":
            flags.update(_X_STATUS[c] for c in value if c in _X_STATUS)
        elif name == b"x-keywords" and "$forwarded" in value.lower():
            flags.add("P")
    return _FLAG_HEADER.sub(b"", head) + data[end:], "".join(sorted(flags))


def maildir_messages(path: Path) -> Iterator[tuple[bytes, str, float]]:
    for sub in ("cur", "new"):
        d = path / sub
        with os.scandir(d) as it:
            entries = sorted(it, key=lambda e: e.name)
        for e in entries:
            if not e.is_file():
                continue
            flags = ""
            if ":2," in e.name:
                flags = "".join(sorted(c for c in e.name.split(":2,", 1)[1] if c.isupper()))
            with open(e.path, "rb") as fh:
                yield fh.read(), flags, e.stat().st_mtime


def import_path(store: Store, account: str, path: Path, folder: str | None = None,
                progress=None) -> list[dict]:  # fmt: skip
    out = []
    for kind, name, p in discover(path):
        target = folder or name
        batch = store.batch(account, target)
        count = 0
        items = mbox_messages(p) if kind == "mbox" else maildir_messages(p)
        for data, flags, mtime in items:
            batch.add(data, flags, mtime)
            count += 1
            if batch.pending() >= 500:
                batch.commit()
        batch.commit(last_archived=time.time())
        out.append({"account": account, "folder": target, "source": str(p), "kind": kind,
                    "messages": count, "new": batch.added, "linked": batch.linked,
                    "duplicates": count - batch.added - batch.linked})  # fmt: skip
    return out
