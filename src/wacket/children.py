"""Child processes (rsync, ssh) that never outlive wacket.

On Linux each child gets a process group of its own (stop() ends it with its ssh) and a
parent-death signal, so a wacket killed with SIGKILL takes its rsync along instead of leaving it
writing. The kernel sends that signal when the spawning *thread* ends, so children asked for
from other threads are started by one thread that lives as long as the process. `hold_locks`
lets the child inherit the run's job locks (wacket.lock): flock stays held while any process has
the open file, so a second run is refused until the last child of the first is gone. `running()`
is how work that waits on a child (rsync) starts it: an interrupt ends the child at once.
"""

from __future__ import annotations

import functools
import os
import queue
import signal
import subprocess
import sys
import threading

_LINUX = sys.platform.startswith("linux")
PR_SET_PDEATHSIG = 1
STOP_GRACE = 0.8  # on interrupt: SIGTERM to SIGKILL; rsync takes ~0.4 s to remove its temp file


@functools.cache
def _prctl():
    """libc's prctl, looked up in the parent: the child between fork and exec must not import."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _child_setup(parent: int, prctl) -> None:
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the signal was armed
        os.kill(os.getpid(), signal.SIGKILL)


_requests: queue.SimpleQueue = queue.SimpleQueue()
_spawner_lock = threading.Lock()
_spawner: threading.Thread | None = None


def _serve() -> None:
    while True:
        argv, kw, future = _requests.get()
        try:
            future.set_result(subprocess.Popen(argv, **kw))
        except BaseException as exc:  # raised in the caller's thread
            future.set_exception(exc)


def _from_spawner(argv, kw) -> subprocess.Popen:
    """Start the child from the one long-lived spawner thread (a worker thread may end first)."""
    global _spawner
    from concurrent.futures import Future

    with _spawner_lock:
        if _spawner is None:
            _spawner = threading.Thread(target=_serve, name="wacket-spawner", daemon=True)
            _spawner.start()
    future: Future = Future()
    _requests.put((argv, kw, future))
    return future.result()


def popen(argv, *, hold_locks: bool = False, **kw) -> subprocess.Popen:
    """subprocess.Popen(argv, **kw) for a child that must die with wacket (see the module)."""
    if hold_locks:
        from wacket.lock import held_fds

        kw["pass_fds"] = tuple(kw.get("pass_fds", ())) + held_fds()
    prctl = _prctl() if _LINUX else None
    if prctl is None:
        return subprocess.Popen(argv, **kw)
    if not kw.get("start_new_session"):
        kw["process_group"] = 0
    kw["preexec_fn"] = functools.partial(_child_setup, os.getpid(), prctl)
    if threading.current_thread() is threading.main_thread():
        return subprocess.Popen(argv, **kw)
    return _from_spawner(argv, kw)


def stop(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """End a child started by popen() and whatever it started (its ssh): TERM, then KILL."""
    if proc.poll() is not None:
        return
    own_group = _LINUX and _prctl() is not None
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            if own_group:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue
    proc.wait()


class running:
    """`with running(argv, **kw) as proc:` is popen() for the length of the block. A signal
    (wacket.interrupt) ends the child and its group (its ssh) before the block sees the
    interrupt, so locks and the journal unwind after it is gone; leaving the block by any other
    exception ends it too. popen's errors (FileNotFoundError) are raised by the call."""

    def __init__(self, argv, **kw):
        self.proc = popen(argv, **kw)
        self._registered = None

    def __enter__(self) -> subprocess.Popen:
        from wacket import interrupt

        self._registered = interrupt.running(self.stop, self.proc.pid)
        self._registered.__enter__()
        return self.proc

    def stop(self) -> None:
        stop(self.proc, STOP_GRACE)

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is not None:
                self.stop()
        finally:
            self._registered.__exit__(None, None, None)
