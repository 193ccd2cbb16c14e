"""rsync's itemized changes (`--out-format='%i %l %b %n'`) as change records, and its --stats."""

from __future__ import annotations

import os
import re

OUT_FORMAT = "%i %l %b %n"
_LINE_RE = re.compile(rb"^([<>ch.*][fdLDS][^ ]{9}|\*deleting) +(\d+) (\d+) (.*)$", re.S)
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


def unescape(name: bytes) -> bytes:
    r"""rsync writes control characters (and, outside UTF-8 locales, high bytes) as \#ooo."""
    return _ESC_RE.sub(lambda m: bytes([int(m.group(1), 8)]), name)


def parse_line(line: bytes) -> dict | None:
    """One itemize line as a record, or None for anything else (stats, messages)."""
    line = line.rstrip(b"\n")
    m = _LINE_RE.match(line)
    if not m:
        return None
    code = m.group(1).decode()
    size, sent = int(m.group(2)), int(m.group(3))
    raw = unescape(m.group(4))
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
        "sent": sent,
        "itemize": code,
    }


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


class Totals:
    """Counts and bytes per action, for the summary line and table."""

    ACTIONS = ("create", "update", "delete", "attrs", "conflict", "error")

    def __init__(self) -> None:
        self.files = dict.fromkeys(self.ACTIONS, 0)
        self.bytes = dict.fromkeys(self.ACTIONS, 0)
        self.sent = 0
        self.hashed = 0  # two-way: files read to compare contents (not counted as changes)

    def add(self, record: dict) -> None:
        action = record["action"]
        self.files[action] = self.files.get(action, 0) + 1
        self.bytes[action] = self.bytes.get(action, 0) + (record.get("size") or 0)
        self.sent += record.get("sent") or 0

    @property
    def changed(self) -> int:
        return sum(n for a, n in self.files.items() if a != "error")

    def rows(self, seconds: float) -> list[dict]:
        from wacket.output import human_bytes

        rows = [
            {"action": a, "files": self.files[a], "bytes": human_bytes(self.bytes[a])}
            for a in self.ACTIONS
            if self.files.get(a)
        ]
        if self.hashed:
            rows.append({"action": "hashed", "files": self.hashed, "bytes": ""})
        moved = sum(self.bytes[a] for a in ("create", "update", "conflict"))
        rate = moved / seconds if seconds > 0 else 0
        rows.append(
            {"action": "total", "files": self.changed, "bytes": human_bytes(moved),
             "seconds": round(seconds, 2), "throughput": human_bytes(rate) + "/s"}
        )  # fmt: skip
        return rows

    def line(self, seconds: float) -> str:
        from wacket.output import human_bytes

        parts = [f"{self.files[a]} {a}d" if a != "attrs" else f"{self.files[a]} attrs"
                 for a in self.ACTIONS if self.files.get(a) and a not in ("error", "conflict")]  # fmt: skip
        if self.files.get("conflict"):
            parts.append(f"{self.files['conflict']} conflicts")
        if self.files.get("error"):
            parts.append(f"{self.files['error']} errors")
        what = ", ".join(parts) or "no changes"
        if self.hashed:
            what += f", {self.hashed} hashed"
        moved = sum(self.bytes[a] for a in ("create", "update", "conflict"))
        rate = moved / seconds if seconds > 0 else 0
        return f"{what}; {human_bytes(moved)} in {seconds:.1f}s ({human_bytes(rate)}/s)"
