"""A one-line progress display on stderr, only on a terminal (never in cron or a pipe)."""

from __future__ import annotations

import sys
import time

from wacket.output import human_bytes


class Progress:
    def __init__(self, label: str, total: int | None = None, quiet: bool = False):
        self.label = label
        self.total = total
        self.on = not quiet and sys.stderr.isatty()
        self.files = 0
        self.bytes = 0
        self._last = 0.0

    def update(self, record: dict) -> None:
        if not self.on:
            return
        self.files += 1
        self.bytes += record.get("size") or 0
        now = time.monotonic()
        if now - self._last < 0.1:
            return
        self._last = now
        if self.total:
            width = 30
            done = min(width, width * self.files // self.total)
            bar = "[" + "#" * done + "-" * (width - done) + f"] {self.files}/{self.total}"
        else:
            bar = f"{self.files} files"
        sys.stderr.write(f"\r{self.label} {bar} {human_bytes(self.bytes)}\x1b[K")
        sys.stderr.flush()

    def close(self) -> None:
        if self.on and self._last:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
