"""Helpers for the interrupt tests: start wacket, signal it, time its exit, and find what it left
(processes through /proc, here and under the test sshds, which are this test's children; locks;
the journal). Exit times go to $WACKET_INTERRUPT_TIMES (default: interrupt-times.txt in the
test's tmp dir) and are printed (pytest -s); the only bound asserted is the issue's 2 s."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

EXIT_BOUND = 2.0


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


def table() -> dict[int, tuple[int, list[bytes]]]:
    """pid -> (ppid, argv) of every live (non-zombie) process."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                rest = fh.read().rsplit(b")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
        except OSError:
            continue
        if rest[0] != b"Z":
            out[int(entry)] = (int(rest[1]), argv)
    return out


def descendants(root: int, procs: dict) -> set[int]:
    found, todo = set(), [root]
    while todo:
        parent = todo.pop()
        for pid, (ppid, _argv) in procs.items():
            if ppid == parent and pid not in found:
                found.add(pid)
                todo.append(pid)
    return found


def remote_workers(sshd_pid: int) -> dict[int, bytes]:
    """What runs under a test sshd besides sshd itself (the remote end of a run): pid -> name."""
    procs = table()
    return {
        pid: os.path.basename(procs[pid][1][0])
        for pid in descendants(sshd_pid, procs)
        if procs[pid][1] and not os.path.basename(procs[pid][1][0]).startswith(b"sshd")
    }


def wait_for(cond, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.02)
    return cond()


def start(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "wacket", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,
    )


def report(name: str, seconds: float, tmp_path: Path) -> None:
    line = f"{name}: exited {seconds:.3f} s after the signal\n"
    print(line, end="")
    target = os.environ.get("WACKET_INTERRUPT_TIMES") or str(tmp_path / "interrupt-times.txt")
    with open(target, "a") as fh:
        fh.write(line)


def interrupt(proc: subprocess.Popen, signum: int, *, again: int | None = None):
    """Send `signum` (and `again` 0.05 s later); the exit status, the output, the seconds."""
    start = time.monotonic()
    proc.send_signal(signum)
    if again is not None:
        time.sleep(0.05)
        proc.send_signal(again)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err, time.monotonic() - start


def last_journal(run_wacket, command: str) -> dict:
    res = run_wacket("log", "--since", "1h", "--jsonl", "--command", command)
    assert res.returncode == 0, res.stderr
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    return [e for e in lines if e["command"] == command][-1]


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
