"""`wacket mail export ACCOUNT/FOLDER --mbox FILE`: one folder of the archive as an mboxrd file.

Written so that `wacket mail import` gets back exactly what was archived: each message's bytes as
stored (CRLF kept), its flags in the headers mail programs read (Status R: seen; X-Status A:
answered, F: flagged, T: draft, D: deleted; X-Keywords $Forwarded), which the importer takes out
again, and its date in the From line. A message that does not end in a newline gains one; one
with no blank line after its headers gets no flag headers.
"""

from __future__ import annotations

import os
import re
import time
from email.utils import parseaddr
from pathlib import Path

from wacket.fsutil import open_output
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


def flag_headers(flags: str) -> list[bytes]:
    """The mbox headers for maildir flags (see the module's note); none for no flags."""
    out = [b"Status: RO"] if "S" in flags else []
    x = "".join(letter for flag, letter in (("R", "A"), ("F", "F"), ("D", "T"), ("T", "D"))
                if flag in flags)  # fmt: skip
    if x:
        out.append(b"X-Status: " + x.encode())
    if "P" in flags:
        out.append(b"X-Keywords: $Forwarded")
    return out


def with_flag_headers(data: bytes, flags: str) -> bytes:
    """The message with its flag headers added as the last header lines (same line endings)."""
    lines = flag_headers(flags)
    m = re.search(rb"\n\r?\n", data)  # the header's last line ending, then the blank line
    if not lines or m is None:
        return data
    at = m.start() + 1
    eol = b"\r\n" if data[at - 2 : at] == b"\r\n" else b"\n"
    return data[:at] + b"".join(line + eol for line in lines) + data[at:]


def export_mbox(store: Store, account: str, folder: str, dest: Path) -> tuple[int, int]:
    files = folder_files(store, account, folder)
    count = total = 0
    with open_output(dest, 0o600) as out:
        for path, flags, date in files:
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            sender = b"MAILER-DAEMON"
            m = re.search(rb"^Return-Path:\s*<?([^>\s]*)>?", data[:8192], re.M | re.I) or re.search(
                rb"^From:\s*(.*?)\r?$", data[:8192], re.M | re.I
            )
            if m:
                addr = parseaddr(m.group(1).decode("utf-8", "replace"))[1]
                if addr and " " not in addr:
                    sender = addr.encode("utf-8", "replace")
            stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(date or 0)).encode()
            out.write(b"From " + sender + b" " + stamp + b"\n")
            data = with_flag_headers(data, flags)
            out.write(_FROM.sub(rb">\1", data))
            if not data.endswith(b"\n"):
                out.write(b"\n")
            out.write(b"\n")
            count += 1
            total += len(data)
        out.flush()
        os.fsync(out.fileno())
    return count, total
