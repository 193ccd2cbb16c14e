"""Counts and bytes per action of a sync run, for its summary line and table."""

from __future__ import annotations


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
