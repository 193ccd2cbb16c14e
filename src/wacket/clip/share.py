"""`wacket clip share`: keep the system clipboards of a few machines in step while it runs.

Each round asks every machine for its clipboard's hash (the data only comes back when it changed).
A change on one machine is copied to the others once; what we wrote there is read back and
remembered as that machine's state, so our own writes never count as changes (no echo loops).
Contents a password manager marks as sensitive are never copied.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from wacket.clip.backends import SystemClipboard
from wacket.errors import WacketError


def share(
    boards: list[SystemClipboard],
    *,
    interval: float = 0.5,
    on_transfer: Callable[[dict], None] | None = None,
    on_error: Callable[[str, WacketError], None] | None = None,
    max_transfers: int | None = None,
    duration: float | None = None,
    on_ready: Callable[[], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Poll until stopped (KeyboardInterrupt), `max_transfers` or `duration`; return transfers."""
    last: dict[str, str | None] = {}
    for board in boards:
        last[board.host] = _state(board, None, on_error)
    if on_ready:
        on_ready()
    transfers = 0
    deadline = time.monotonic() + duration if duration is not None else None
    while True:
        for board in boards:
            got = _poll(board, last.get(board.host), on_error)
            if got is None or got.get("unchanged"):
                continue
            if got.get("sensitive"):
                last[board.host] = "sensitive"
                continue
            sha = got["sha256"]
            last[board.host] = sha
            if not got["size"]:
                continue  # emptied (its owner quit): leave the others as they are
            started = time.monotonic()
            reached = []
            for other in boards:
                if other is board or last.get(other.host) == sha:
                    continue
                try:
                    other.set(got["data"], got.get("mime") if got["kind"] != "text" else None)
                except WacketError as exc:
                    if on_error:
                        on_error(other.host, exc)
                    continue
                reached.append(other.host)
                # What the other side holds now, as it reads back, is our own write.
                last[other.host] = _state(other, sha, on_error)
            if reached:
                transfers += 1
                if on_transfer:
                    on_transfer(
                        {
                            "from": board.host,
                            "to": reached,
                            "kind": got["kind"],
                            "size": got["size"],
                            "sha256": sha,
                            "seconds": round(time.monotonic() - started, 3),
                        }
                    )
                if max_transfers is not None and transfers >= max_transfers:
                    return transfers
        if deadline is not None and time.monotonic() >= deadline:
            return transfers
        sleep(interval)


def _poll(board: SystemClipboard, known: str | None, on_error) -> dict | None:
    try:
        return board.get(unless_sha256=known)
    except WacketError as exc:
        if on_error:
            on_error(board.host, exc)
        return None


def _state(board: SystemClipboard, fallback: str | None, on_error) -> str | None:
    got = _poll(board, None, on_error)
    if got is None:
        return fallback
    return "sensitive" if got.get("sensitive") else got.get("sha256")
