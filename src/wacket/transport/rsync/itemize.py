"""rsync's itemized changes (`--out-format='%i %l %b %n'`, command.OUT_FORMAT) and its --stats:
the one parser for every command (sync's change records, backup's change list)."""

from __future__ import annotations

import os
import re
from typing import NamedTuple

# The update type, the kind, and nine attribute letters; rsync writes the nine as spaces when
# nothing but the name is reported ("unchanged"), and "*deleting" for a deletion.
_LINE_RE = re.compile(rb"^([<>ch.*][fdLDS](?:[^ ]{9}| {9})|\*deleting) +(\d+) (\d+) (.*)$", re.S)
_ESC_RE = re.compile(rb"\\#([0-7]{3})")
KINDS = {"f": "file", "d": "dir", "L": "symlink", "D": "device", "S": "special"}
_STAT_RE = {
    "files": re.compile(rb"^Number of files: ([\d,]+)"),
    "created": re.compile(rb"^Number of created files: ([\d,]+)"),
    "deleted": re.compile(rb"^Number of deleted files: ([\d,]+)"),
    "total_size": re.compile(rb"^Total file size: ([\d,]+)"),
    "sent": re.compile(rb"^Total bytes sent: ([\d,]+)"),
    "received": re.compile(rb"^Total bytes received: ([\d,]+)"),
}
_SKIPPED_RE = re.compile(rb"Deletions stopped due to --max-delete limit \(([\d,]+) skipped\)")


class Item(NamedTuple):
    """One itemized line: `code` as rsync wrote it ("*deleting" for a deletion), the name's real
    bytes (a directory's with its trailing /), its length and the bytes sent for it."""

    code: str
    name: bytes
    size: int
    sent: int

    @property
    def unchanged(self) -> bool:
        """rsync's all-spaces attributes: reported, nothing changed (not a sync change)."""
        return self.code[2:] == " " * 9


def unescape(name: bytes) -> bytes:
    r"""rsync writes control characters (and, outside UTF-8 locales, high bytes) as \#ooo."""
    return _ESC_RE.sub(lambda m: bytes([int(m.group(1), 8)]), name)


def parse(line: bytes) -> Item | None:
    """One stdout line as an Item, or None for anything else (stats, messages)."""
    m = _LINE_RE.match(line.rstrip(b"\n"))
    if not m:
        return None
    return Item(m.group(1).decode(), unescape(m.group(4)), int(m.group(2)), int(m.group(3)))


def record(item: Item) -> dict | None:
    """`wacket sync`'s change record for an item (None for an unchanged one)."""
    if item.unchanged:
        return None
    code, raw, size = item.code, item.name, item.size
    if code == "*deleting":
        action, kind = "delete", "dir" if raw.endswith(b"/") else "file"
        size = None
    else:
        kind = KINDS.get(code[1], "other")
        attrs = code[2:]
        if code[0] == "h" or attrs.strip("+") == "":
            action = "create"
        elif code[0] in "<>" or (code[0] == "c" and kind == "symlink"):
            action = "update"
        else:
            action = "attrs"
        if kind == "dir":
            size = None
    path = os.fsdecode(raw.rstrip(b"/") if raw != b"/" else raw) or "."
    return {
        "action": action,
        "kind": kind,
        "path": path,
        "size": size,
        "sent": item.sent,
        "itemize": code,
    }


def records(on_record):
    """An `on_item` for run() that hands `on_record` the sync record of each changed item."""

    def on_item(item: Item) -> None:
        rec = record(item)
        if rec is not None:
            on_record(rec)

    return on_item


def parse_line(line: bytes) -> dict | None:
    """One itemize line as a sync change record, or None for anything else."""
    item = parse(line)
    return record(item) if item is not None else None


def change(item: Item) -> list[str]:
    """`wacket backup`'s change entry for an item: [code, relative name] (a directory's with /)."""
    return [item.code, os.fsdecode(item.name)]


def parse_stats(lines: list[bytes]) -> dict:
    out: dict[str, int] = {}
    for line in lines:
        for key, rx in _STAT_RE.items():
            m = rx.match(line)
            if m:
                out[key] = int(m.group(1).replace(b",", b""))
        m = _SKIPPED_RE.search(line)
        if m:
            out["skipped_deletes"] = int(m.group(1).replace(b",", b""))
    return out
