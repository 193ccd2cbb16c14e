"""The job log: one tab-separated line per finished job, appended and fsynced.

Columns: Seq, Host, Starttime (epoch), JobRuntime (s), Exitval, Item (JSON string). `--resume` skips
items whose last line has Exitval 0; a torn last line from a crash is ignored.
"""

from __future__ import annotations

import io
import json
import os
import threading

HEADER = "Seq\tHost\tStarttime\tJobRuntime\tExitval\tItem\n"


class JobLog:
    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        new = not os.path.exists(path) or os.path.getsize(path) == 0
        from wacket.fsutil import open_output

        binary = open_output(path, 0o600, append=True)
        self._fh = io.TextIOWrapper(binary, encoding="utf-8", errors="surrogateescape")
        if new:
            self._write(HEADER)

    def _write(self, line: str) -> None:
        self._fh.write(line)
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def record(self, seq: int, host: str, start: float, seconds: float, rc: int, item: str):
        line = f"{seq}\t{host}\t{start:.3f}\t{seconds:.3f}\t{rc}\t{json.dumps(item)}\n"
        with self._lock:
            self._write(line)

    def close(self) -> None:
        self._fh.close()


def succeeded(path: str) -> set[str]:
    """Items whose last recorded run succeeded."""
    last: dict[str, int] = {}
    try:
        fh = open(path, encoding="utf-8", errors="surrogateescape")  # noqa: SIM115
    except FileNotFoundError:
        return set()
    with fh:
        for line in fh:
            if not line.endswith("\n") or line == HEADER:
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 6:
                continue
            try:
                last[json.loads(parts[5])] = int(parts[4])
            except ValueError:
                continue
    return {item for item, rc in last.items() if rc == 0}
