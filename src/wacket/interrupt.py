"""Interrupts: SIGINT, SIGTERM and SIGHUP end a command in order, whatever depth it is at.

The first signal marks the run as stopping (nothing new starts), ends what runs now (remote
commands and local children register a stopper while they run), and only then raises
`Interrupted` in the main thread, so `with` blocks unwind with the work already gone: journal
entries say "interrupted", locks are released last. A second signal during that cleanup exits at
once: flock locks go with the process, so nothing is left that blocks the next run.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

STOP_WAIT = 1.5  # the longest the first signal waits for the stoppers, if a host is slow to answer

stopping = threading.Event()
_lock = threading.RLock()  # the handler may run while the main thread holds it
_stoppers: set[Callable[[], None]] = set()
_groups: set[int] = set()  # local children's process groups: a second signal kills them as it goes


class Interrupted(KeyboardInterrupt):
    """The run was stopped by `signum`; exits 128 + signal (SIGHUP counts as SIGTERM)."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signum)
        self.signum = signum

    def __str__(self) -> str:
        return f"interrupted by {signal.Signals(self.signum).name}"


def exit_code(exc: BaseException | int) -> int:
    """130 for SIGINT (and a plain KeyboardInterrupt), 143 for SIGTERM and SIGHUP."""
    signum = exc if isinstance(exc, int) else getattr(exc, "signum", signal.SIGINT)
    return 130 if signum == signal.SIGINT else 143


def cause(exc: BaseException | None) -> KeyboardInterrupt | None:
    """The interrupt behind `exc`: itself, or one that an error while unwinding replaced (an
    SFTP transfer cut mid-packet fails as its file closes), so the run still counts as stopped."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return exc
        seen.add(id(exc))
        exc = exc.__context__
    return None


def install() -> None:
    """Handle the three signals; one ignored at start (nohup, a background job) stays ignored."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _handle)


def _handle(signum: int, frame) -> None:
    if stopping.is_set():
        for pgid in list(_groups):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except OSError:
                pass
        os.write(2, b"wacket: interrupted again: exiting now\n")
        os._exit(exit_code(signum))
    stop_all()
    raise Interrupted(signum)


def stop_all() -> None:
    """Mark the run as stopping and end every registered piece of work, in parallel, bounded."""
    with _lock:
        stopping.set()
        stoppers = list(_stoppers)
    threads = [threading.Thread(target=_call, args=(s,), daemon=True) for s in stoppers]
    for t in threads:
        t.start()
    deadline = time.monotonic() + STOP_WAIT
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))


def _call(stopper: Callable[[], None]) -> None:
    try:
        stopper()
    except Exception:  # a stopper that fails must not keep the others from running
        pass


@contextmanager
def running(stopper: Callable[[], None], pgid: int | None = None) -> Iterator[None]:
    """While the block runs, an interrupt calls `stopper` (from another thread) to end the work;
    `pgid`, a local child's process group, is killed outright if a second signal comes.

    Work that starts as the run is already stopping is stopped at once by its own thread."""
    with _lock:
        late = stopping.is_set()
        if not late:
            _stoppers.add(stopper)
        if pgid is not None:
            _groups.add(pgid)
    if late:
        _call(stopper)
    try:
        yield
    finally:
        with _lock:
            _stoppers.discard(stopper)
            _groups.discard(pgid)
