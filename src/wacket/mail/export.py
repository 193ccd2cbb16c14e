"""`wacket mail export ACCOUNT/FOLDER --mbox FILE`: one folder of the archive as an mboxrd file."""

from __future__ import annotations

import os
import re
import time
from email.utils import parseaddr
from pathlib import Path

from wacket.mail.store import Store

_FROM = re.compile(rb"^(>*From )", re.M)


def folder_files(store: Store, account: str, folder: str) -> list[tuple[Path, str, float | None]]:
    """(path, maildir flags, date) of every archived message of a folder, oldest first."""
    rows = store.db.execute(
        "SELECT folders.dir, files.name, files.flags, messages.date FROM files"
        " JOIN folders USING (account, folder) JOIN messages ON messages.id=files.msg"
        " WHERE files.account=? AND files.folder=? ORDER BY messages.date, files.msg",
        (account, folder),
    ).fetchall()
    return [(store.root / d / "cur" / name, flags, date) for d, name, flags, date in rows]


def export_mbox(store: Store, account: str, folder: str, dest: Path) -> tuple[int, int]:
    files = folder_files(store, account, folder)
    count = total = 0
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        for path, flags, date in files:
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            data = data.replace(b"\r\n", b"\n")
            sender = b"MAILER-DAEMON"
            m = re.search(rb"^Return-Path:\s*<?([^>\s]*)>?", data[:8192], re.M | re.I) or re.search(
                rb"^From:\s*(.*)$", data[:8192], re.M | re.I
            )
            if m:
                addr = parseaddr(m.group(1).decode("utf-8", "replace"))[1]
                if addr and " " not in addr:
                    sender = addr.encode("utf-8", "replace")
            stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(date or 0)).encode()
            out.write(b"From " + sender + b" " + stamp + b"\n")
            status = b""
            if "S" in flags:
                status += b"RO"
            head_end = data.find(b"\n\n")
            if status and head_end >= 0:
                data = data[:head_end] + b"\nStatus: " + status + data[head_end:]
            out.write(_FROM.sub(rb">\1", data))
            if not data.endswith(b"\n"):
                out.write(b"\n")
            out.write(b"\n")
            count += 1
            total += len(data)
        out.flush()
        os.fsync(out.fileno())
    return count, total
