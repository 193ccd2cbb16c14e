"""Names for what two-way sync keeps instead of deleting: trash directories and conflict copies."""

from __future__ import annotations

import posixpath
import time

TRASH = ".wacket-trash"
TRASH_TMP = f"{TRASH}/.tmp"


def stamp(now: float | None = None) -> str:
    """The time of one run (UTC, sortable): its trash directory's name starts with it."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(now if now is not None else time.time()))


def run_dir(when: str) -> str:
    """One run's own directory in the trash, `<stamp>-<token>`: rsync's --backup-dir replaces an
    earlier backup of the same name, so two runs in one second must not share a directory."""
    import secrets

    return f"{when}-{secrets.token_hex(3)}"


def conflict_name(path: str, host: str, when: str, taken) -> str:
    """`dir/NAME.conflict-HOST-YYYYmmddTHHMMSS.EXT` beside `path`, not colliding with `taken`."""
    head, base = posixpath.split(path)
    dot = base.rfind(".")
    if dot > 0:
        stem, ext = base[:dot], base[dot:]
    else:
        stem, ext = base, ""
    safe_host = "".join(c if c.isalnum() or c in "-_" else "_" for c in host) or "host"
    n = 0
    while True:
        suffix = f".conflict-{safe_host}-{when}" + (f"-{n}" if n else "")
        candidate = posixpath.join(head, stem + suffix + ext) if head else stem + suffix + ext
        if candidate not in taken:
            return candidate
        n += 1
