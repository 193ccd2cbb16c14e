"""Child processes (rsync, ssh) that never outlive wacket.

On Linux each child gets a process group of its own (ending it ends its ssh) and a
parent-death signal, so a wacket killed with SIGKILL takes its rsync along instead of leaving it
writing. The kernel sends that signal when the spawning *thread* ends, so children asked for
from other threads are started by one thread that lives as long as the process. `hold_locks`
lets the child inherit the run's job locks (wacket.lock): flock stays held while any process has
the open file, so a second run is refused until the last child of the first is gone. rsync is
run through `sh` by wacket.transport.rsync with the same guarantees (`child_setup`, `spawn`),
and registered with wacket.interrupt while it runs, so an interrupt ends it at once.
"""

from __future__ import annotations

import functools
import os
import queue
import signal
import subprocess
import sys
import threading

LINUX = sys.platform.startswith("linux")
PR_SET_PDEATHSIG = 1
STOP_GRACE = 0.8  # on interrupt: SIGTERM to SIGKILL; rsync takes ~0.4 s to remove its temp file


@functools.cache
def prctl():
    """libc's prctl, looked up in the parent: the child between fork and exec must not import."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _child_setup(parent: int, prctl_) -> None:
    prctl_(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the signal was armed
        os.kill(os.getpid(), signal.SIGKILL)


def child_setup():
    """What a child runs between fork and exec (preexec_fn): arm the parent-death signal."""
    return functools.partial(_child_setup, os.getpid(), prctl())


_requests: queue.SimpleQueue = queue.SimpleQueue()
_spawner_lock = threading.Lock()
_spawner: threading.Thread | None = None


def _serve() -> None:
    while True:
        start, future = _requests.get()
        try:
            future.set_result(start())
        except BaseException as exc:  # raised in the caller's thread
            future.set_exception(exc)


def spawn(start):
    """`start()` (which forks a child) in this thread if it is the main one, else in the one
    long-lived spawner thread: a worker thread may end before its child, and the kernel sends
    the parent-death signal when the thread that forked ends."""
    global _spawner
    from concurrent.futures import Future

    if threading.current_thread() is threading.main_thread():
        return start()

    with _spawner_lock:
        if _spawner is None:
            _spawner = threading.Thread(target=_serve, name="wacket-spawner", daemon=True)
            _spawner.start()
    future: Future = Future()
    _requests.put((start, future))
    return future.result()


def popen(argv, *, hold_locks: bool = False, **kw) -> subprocess.Popen:
    """subprocess.Popen(argv, **kw) for a child that must die with wacket (see the module)."""
    if hold_locks:
        from wacket.lock import held_fds

        kw["pass_fds"] = tuple(kw.get("pass_fds", ())) + held_fds()
    if not LINUX or prctl() is None:
        return subprocess.Popen(argv, **kw)
    if not kw.get("start_new_session"):
        kw["process_group"] = 0
    kw["preexec_fn"] = child_setup()
    return spawn(lambda: subprocess.Popen(argv, **kw))
