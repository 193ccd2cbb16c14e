"""Helpers for the interrupt tests: start wacket, signal it, measure, and look for what is left.

The sshds are children of the test, so what they run is visible in this machine's /proc.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

EXIT_BOUND = 2.0


def marker() -> str:
    """A `sleep` argument no other process on the machine has: 29.xxxxxx seconds."""
    return f"29.{random.randrange(10**6):06d}"


def pids(marker: str) -> list[int]:
    """Live processes (not zombies) whose command line holds `marker`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != "Z":
            found.append(int(entry))
    return found


def wait_for(cond, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def _as_from_a_terminal() -> None:
    """The signals a shell's foreground command starts with: the suite itself may run under
    `nohup` or as a background job, which hand SIGHUP or SIGINT down ignored, and wacket rightly
    leaves an inherited SIG_IGN alone (tests that mean to check that pass their own)."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def start(*args: str, **kwargs) -> subprocess.Popen:
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    kwargs.setdefault("preexec_fn", _as_from_a_terminal)
    return subprocess.Popen([sys.executable, "-m", "wacket", *args], **kwargs)


def report(name: str, seconds: float, tmp_path: Path) -> None:
    line = f"{name}: exited {seconds:.3f} s after the signal\n"
    print(line, end="")
    target = os.environ.get("WACKET_INTERRUPT_TIMES") or str(tmp_path / "interrupt-times.txt")
    with open(target, "a") as fh:
        fh.write(line)


def interrupt(proc: subprocess.Popen, signum: int, *, again: int | None = None):
    """Send `signum` (and `again` 0.05 s later); the exit status, the output, the seconds."""
    begin = time.monotonic()
    proc.send_signal(signum)
    if again is not None:
        time.sleep(0.05)
        proc.send_signal(again)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err, time.monotonic() - begin


def last_journal(run_wacket, command: str) -> dict:
    res = run_wacket("log", "--since", "1h", "--jsonl", "--command", command)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.splitlines()[-1])


def held_locks() -> list[str]:
    """Lock files under the data dir that some process still holds."""
    held = []
    locks = Path(os.environ["WACKET_DATA"]) / "locks"
    for path in locks.glob("*.lock") if locks.is_dir() else []:
        fd = os.open(path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held.append(path.name)
        finally:
            os.close(fd)
    return held


def assert_all_gone(marker: str) -> None:
    assert wait_for(lambda: not pids(marker), timeout=5), f"left running: {pids(marker)}"


def left_under(fleet, names=("h1",), session: int | None = None) -> dict[int, str]:
    """What still runs below the named hosts' sshd listeners, and in the wacket run's own
    session here (`session`: the run was started with start_new_session)."""
    import faultbed as fb

    by = fleet.by_name()
    left: dict[int, str] = {}
    for name in names:
        left.update(fb.descendants(by[name].proc.pid))
    if session is not None:
        left.update(fb.in_session(session))
    return left


def assert_nothing_left(fleet, names=("h1",), session: int | None = None) -> None:
    """Bounded poll: a process of the run still running after 5 s is a leftover."""
    ok = wait_for(lambda: not left_under(fleet, names, session), timeout=5)
    assert ok, f"left running: {left_under(fleet, names, session)}"
