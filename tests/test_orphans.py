"""A wacket killed with SIGKILL takes its rsync along (here and on the sshd host), and the run's
lock stays held for as long as anything it started is alive. Real sshd, real rsync, real signals;
processes are found through /proc (zombies count as gone: PID 1 here reaps nothing)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")

WAIT = 10.0  # bound of every wait below (a transfer takes 40 s: never asserted as a time)


def _table() -> dict[int, tuple[int, list[bytes]]]:
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


def _descendants(root: int, table) -> set[int]:
    found, todo = set(), [root]
    while todo:
        parent = todo.pop()
        for pid, (ppid, _argv) in table.items():
            if ppid == parent and pid not in found:
                found.add(pid)
                todo.append(pid)
    return found


def _is(argv: list[bytes], name: bytes) -> bool:
    return bool(argv) and os.path.basename(argv[0]).startswith(name)


def _remote_workers(sshd_pid: int) -> set[int]:
    """rsync and python (the helper) processes under the test sshd: the remote end of a run."""
    table = _table()
    return {
        pid
        for pid in _descendants(sshd_pid, table)
        if _is(table[pid][1], b"rsync") or _is(table[pid][1], b"python")
    }


def _wait_for(cond, what: str):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


def _alive(pids) -> set[int]:
    table = _table()
    return {p for p in pids if p in table}


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "wacket", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _children_rsync(proc: subprocess.Popen) -> set[int]:
    """The rsync processes wacket started (and what they started: ssh), once rsync runs."""
    table = _table()
    kids = _descendants(proc.pid, table)
    if not any(_is(table[p][1], b"rsync") for p in kids):
        return set()
    return {p for p in kids if _is(table[p][1], b"rsync") or _is(table[p][1], b"ssh")}


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wacket", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
    )


@pytest.fixture
def big_src(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(6 << 20))
    (src / "small.txt").write_text("small\n")
    return src


def _same(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    return names == sorted(p.name for p in b.iterdir()) and all(
        (a / n).read_bytes() == (b / n).read_bytes() for n in names
    )


def test_killed_sync_takes_its_rsync_along_here_and_on_the_host(fleet, big_src):
    sshd = fleet.hosts[0]
    dest = sshd.home / "orphan-dest"
    proc = _start("sync", f"{big_src}/", f"h1:{dest}/", "--bwlimit", "150K")
    local = _wait_for(lambda: _children_rsync(proc), "rsync to start")
    _wait_for(lambda: _remote_workers(sshd.proc.pid), "rsync to reach h1")
    _kill(proc)
    # Within a few seconds nothing of the run is left: not here, not under h1's sshd.
    _wait_for(lambda: not _alive(local), "the local rsync and ssh to end")
    _wait_for(lambda: not _remote_workers(sshd.proc.pid), "h1's rsync to end")
    res = _run("sync", f"{big_src}/", f"h1:{dest}/")
    assert res.returncode == 0, res.stderr
    assert _same(big_src, dest)


def _signal(pids, sig) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def test_a_run_right_after_a_kill_is_refused_or_whole(fleet, tmp_path):
    sshd = fleet.hosts[0]
    src = sshd.home / "orphan-src"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(6 << 20))
    dest = tmp_path / "pulled"
    proc = _start("sync", f"h1:{src}/", f"{dest}/", "--bwlimit", "150K")
    remote = _wait_for(lambda: _remote_workers(sshd.proc.pid), "rsync to reach h1")
    local = _wait_for(lambda: _children_rsync(proc), "rsync to start")
    _signal(remote, signal.SIGSTOP)  # a stalled sender: the receiver here waits on it
    _kill(proc)
    try:
        res = _run("sync", f"h1:{src}/", f"{dest}/")
        # Refused while what the killed run started is still ending, or a whole run after.
        assert res.returncode in (0, 4), res.stderr
        if res.returncode == 4:
            assert "a process it started is still running" in res.stderr.decode()
    finally:
        _signal(remote, signal.SIGCONT)
    _wait_for(lambda: not _alive(local), "the local rsync and ssh to end")
    _wait_for(lambda: not _remote_workers(sshd.proc.pid), "h1's rsync to end")
    res = _run("sync", f"h1:{src}/", f"{dest}/")
    assert res.returncode == 0, res.stderr
    assert _same(src, dest)


HOLDER = """
import subprocess, sys, time
from wacket import children
from wacket.lock import job_lock
from wacket.sync.job import Job

with job_lock(Job(sys.argv[1], sys.argv[2]).lock_name()):
    # A child that shrugs off the parent-death signal (as a stuck rsync might).
    argv = ["sh", "-c", "trap '' TERM HUP; echo armed; exec sleep 120"]
    child = children.popen(argv, hold_locks=True, stdout=subprocess.PIPE)
    child.stdout.readline()
    print(child.pid, flush=True)
    time.sleep(120)
"""


def test_lock_is_held_while_a_child_of_the_killed_run_lives(fleet, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a\n")
    dest = f"h1:{fleet.hosts[0].home / 'held'}/"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, f"{src}/", dest], stdout=subprocess.PIPE
    )
    orphan = int(holder.stdout.readline())
    holder.kill()
    holder.wait()
    holder.stdout.close()
    try:
        res = _run("sync", f"{src}/", dest)
        assert res.returncode == 4, res.stderr
        err = res.stderr.decode()
        assert f"pid {holder.pid} " in err and "a process it started is still running" in err
    finally:
        _signal([orphan], signal.SIGKILL)
    _wait_for(lambda: not _alive([orphan]), "the orphan to end")
    res = _run("sync", f"{src}/", dest)
    assert res.returncode == 0, res.stderr


def test_killed_find_get_leaves_no_rsync_writing(fleet, tmp_path):
    sshd = fleet.hosts[0]
    remote = sshd.home / "get-big.bin"
    remote.write_bytes(os.urandom(8 << 20))
    dest = tmp_path / "got.bin"
    proc = _start("find", "get", f"h1:{remote}", str(dest))
    local = _wait_for(lambda: _children_rsync(proc), "rsync to start")
    _signal(local, signal.SIGSTOP)  # frozen mid-way, so it cannot finish before wacket dies
    _kill(proc)
    _signal(local, signal.SIGCONT)
    _wait_for(lambda: not _alive(local), "the local rsync and ssh to end")
    _wait_for(lambda: not _remote_workers(sshd.proc.pid), "h1's rsync to end")
    # It stopped when wacket died: it did not go on to write the whole file.
    assert not dest.exists() or dest.read_bytes() != remote.read_bytes()
    res = _run("find", "get", f"h1:{remote}", str(dest))
    assert res.returncode == 0, res.stderr
    assert dest.read_bytes() == remote.read_bytes()


def test_killed_backup_leaves_nothing_running_and_the_next_run_is_whole(
    fleet, isolated_env, tmp_path
):
    sshd = fleet.hosts[0]
    src = tmp_path / "Documents"
    src.mkdir()
    for i in range(3000):  # enough itemized lines to fill the pipe of a paused wacket
        (src / f"file-{i:05d}-{'x' * 40}.txt").write_text(f"{i}\n")
    target = sshd.home / "orphan-backups"
    target.mkdir()
    args = ["backup", "run", "--source", str(src), "--target", f"h1:{target}", "--name", "docs"]
    env = dict(os.environ, WACKET_BACKUP_PAUSE="transfer:60")
    proc = subprocess.Popen(
        [sys.executable, "-m", "wacket", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    local = _wait_for(lambda: _children_rsync(proc), "rsync to start")
    _wait_for(lambda: _remote_workers(sshd.proc.pid), "the run to reach h1")
    _kill(proc)
    _wait_for(lambda: not _alive(local), "the local rsync and ssh to end")
    _wait_for(lambda: not _remote_workers(sshd.proc.pid), "h1's rsync and helper to end")
    res = _run(*args, "--json")
    assert res.returncode == 0, res.stderr
    rec = json.loads(res.stdout)[0]
    assert rec["outcome"] == "ok" and rec["files"] == 3000
    snap = target / "docs" / rec["snapshot"] / "Documents"
    assert len(list(snap.iterdir())) == 3000
