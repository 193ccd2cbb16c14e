"""SIGINT and SIGTERM mid-transfer end `sync`, `backup run/verify/restore` and `find get` in order,
on the real sshd test bed with real rsync: exit 130/143 within the issue's 2 s (measured and
reported: printed with -s and appended to $WACKET_INTERRUPT_TIMES, default interrupt-times.txt
in the test's tmp dir), nothing of the run left here or under h1's sshd, no lock held, the
journal says "interrupted", nothing half-made looks complete, and the next run is whole.

Transfers are slowed so the signal lands mid-way: `sync --bwlimit`, and for the commands
without that option an `rsync` first on PATH that adds --bwlimit (the real rsync, throttled).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import intrbed
import pytest
from intrbed import assert_all_gone, held_locks, pids
from test_interrupts import _interrupt as interrupt
from test_interrupts import _report as report

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")

EXIT_BOUND = 2.0


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
    return intrbed.start(*args, **{"stdin": subprocess.DEVNULL, **kwargs})


def last_journal(run_wacket, command: str) -> dict:
    res = run_wacket("log", "--since", "1h", "--jsonl", "--command", command)
    assert res.returncode == 0, res.stderr
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    return [e for e in lines if e["command"] == command][-1]


SIGNALS = pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
BIG = 4 << 20  # at 256 KiB/s: 16 s, so the signal always comes mid-transfer
RATE = "256"
REMOTE_BOUND = 1.5  # after wacket's exit, for h1's sshd to have ended the run's commands


def _name(signum: int) -> str:
    return signal.Signals(signum).name


@pytest.fixture
def h1(fleet):
    return fleet.hosts[0]


@pytest.fixture
def slow_env(tmp_path):
    """os.environ with an `rsync` first on PATH that is the real one with --bwlimit."""
    real = shutil.which("rsync")
    bindir = tmp_path / "slow-bin"
    bindir.mkdir()
    wrapper = bindir / "rsync"
    wrapper.write_text(f'#!/bin/sh\nexec {real} --bwlimit={RATE} "$@"\n')
    wrapper.chmod(0o755)
    return dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}")


def _unique(parent: Path, what: str) -> Path:
    path = parent / f"{what}-{uuid.uuid4().hex[:12]}"
    path.mkdir(parents=True)
    return path


def _filling(root: Path) -> bool:
    """rsync is writing big.bin somewhere under root (its temporary name, or a partial-dir)."""
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if "big.bin" in name and name != "big.bin":
                try:
                    if os.path.getsize(os.path.join(dirpath, name)) > 0:
                        return True
                except OSError:
                    pass
    return False


def _named(root: Path, name: str) -> list[str]:
    return [os.path.join(d, n) for d, _s, files in os.walk(root) for n in files if n == name]


def _signal_mid_run(proc, signum: int, until, tmp_path: Path, label: str):
    """Wait until `until()`, signal, and return (rc, out, err, seconds), reported."""
    try:
        assert wait_for(until, timeout=30), "the transfer never got under way"
        assert proc.poll() is None, proc.stderr.read()
        rc, out, err, seconds = interrupt(proc, signum)
    finally:
        proc.kill()
    report(f"{label} {_name(signum)}", seconds, tmp_path)
    return rc, out, err, seconds


def _assert_stopped_cleanly(rc, err, seconds, code, markers, sshd_pid, run_wacket, command):
    # At exit already (no wait): the local children are gone and so the locks they held; the
    # remote end goes when its connection closes (bounded wait below).
    on_h1 = descendants(sshd_pid, table())
    local_left = [p for m in markers for p in pids(m) if p not in on_h1]
    locks_left = held_locks()
    assert rc == code, err
    assert seconds < EXIT_BOUND, f"took {seconds:.2f} s"
    assert local_left == [], f"local children outlived wacket: {local_left}"
    assert locks_left == []
    for marker in markers:
        assert_all_gone(marker)
    # h1's side is ended too, not left to finish its work (hashing, a transfer) for nobody.
    assert wait_for(lambda: not remote_workers(sshd_pid), timeout=REMOTE_BOUND), (
        f"left running under h1's sshd: {remote_workers(sshd_pid)}"
    )
    assert held_locks() == []
    entry = last_journal(run_wacket, command)
    assert entry["outcome"] == "interrupted" and entry["exit_code"] == code, entry


def _control_marker(proc) -> str:
    """The control socket directory of the run's ssh master (backup), named by wacket's pid."""
    return f"wacket-ssh-{os.getuid()}/{proc.pid}/"


# -- sync -----------------------------------------------------------------------------------------


def _big_tree(root: Path) -> bytes:
    data = os.urandom(BIG)
    (root / "a-small.txt").write_text("small\n")
    (root / "big.bin").write_bytes(data)
    return data


@pytest.mark.parametrize(
    ("signum", "code"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 143)],
    ids=["SIGINT", "SIGTERM", "SIGHUP"],
)
@pytest.mark.parametrize("direction", ["push", "pull"])
def test_sync_one_way(fleet, h1, run_wacket, tmp_path, signum, code, direction):
    local = _unique(tmp_path, "local")
    remote = _unique(h1.home, "sync")
    src, dest = (local, remote) if direction == "push" else (remote, local)
    data = _big_tree(src)
    spell = {local: str(local), remote: f"h1:{remote}"}
    args = ["sync", spell[src] + "/", spell[dest] + "/"]
    proc = start(*args, "--bwlimit", RATE)
    rc, _out, err, seconds = _signal_mid_run(
        proc, signum, lambda: _filling(dest), tmp_path, f"sync {direction}"
    )
    _assert_stopped_cleanly(rc, err, seconds, code, [remote.name], h1.proc.pid, run_wacket, "sync")
    assert not (dest / "big.bin").exists()  # no partial file under its real name
    again = run_wacket(*args)
    assert again.returncode == 0, again.stderr
    assert (dest / "big.bin").read_bytes() == data
    assert [p.name for p in dest.iterdir() if p.name.startswith(".")] == []
    shutil.rmtree(remote)


def test_sync_second_sigint_exits_at_once_and_frees_the_lock(fleet, h1, run_wacket, tmp_path):
    local = _unique(tmp_path, "local")
    remote = _unique(h1.home, "sync")
    data = _big_tree(local)
    args = ["sync", f"{local}/", f"h1:{remote}/"]
    proc = start(*args, "--bwlimit", RATE)
    try:
        assert wait_for(lambda: _filling(remote), timeout=30)
        rc, _out, err, seconds = interrupt(proc, signal.SIGINT, again=signal.SIGINT)
    finally:
        proc.kill()
    report("sync push SIGINT twice", seconds, tmp_path)
    assert rc == 130, err
    assert seconds < EXIT_BOUND
    assert_all_gone(remote.name)  # the second signal killed the rsync it was waiting for
    assert wait_for(lambda: not held_locks(), timeout=5)
    assert not (remote / "big.bin").exists()
    again = run_wacket(*args)
    assert again.returncode == 0, again.stderr  # not refused (exit 4)
    assert (remote / "big.bin").read_bytes() == data
    shutil.rmtree(remote)


@SIGNALS
def test_sync_partial_keeps_the_part_out_of_the_mirror(
    fleet, h1, run_wacket, tmp_path, signum, code
):
    """--partial: the part of big.bin waits in .wacket-partial/, never as big.bin."""
    local = _unique(tmp_path, "local")
    remote = _unique(h1.home, "sync")
    data = _big_tree(local)
    args = ["sync", f"{local}/", f"h1:{remote}/", "--partial"]
    proc = start(*args, "--bwlimit", RATE)
    rc, _out, err, seconds = _signal_mid_run(
        proc, signum, lambda: _filling(remote), tmp_path, "sync --partial push"
    )
    _assert_stopped_cleanly(rc, err, seconds, code, [remote.name], h1.proc.pid, run_wacket, "sync")
    assert not (remote / "big.bin").exists()
    again = run_wacket(*args)
    assert again.returncode == 0, again.stderr
    assert (remote / "big.bin").read_bytes() == data
    shutil.rmtree(remote)


@SIGNALS
def test_sync_two_way_does_not_advance_the_state(fleet, h1, run_wacket, tmp_path, signum, code):
    local = _unique(tmp_path, "local")
    remote = _unique(h1.home, "sync")
    (local / "a-small.txt").write_text("small\n")
    args = ["sync", "--two-way", str(local), f"h1:{remote}"]
    first = run_wacket(*args)
    assert first.returncode == 0, first.stderr
    data = os.urandom(BIG)
    (local / "big.bin").write_bytes(data)
    proc = start(*args, "--bwlimit", RATE)
    rc, _out, err, seconds = _signal_mid_run(
        proc, signum, lambda: _filling(remote), tmp_path, "sync --two-way"
    )
    _assert_stopped_cleanly(rc, err, seconds, code, [remote.name], h1.proc.pid, run_wacket, "sync")
    assert not (remote / "big.bin").exists()
    # Had the state taken big.bin as synced, this run would take its absence on h1 for a
    # deletion there and remove it here.
    again = run_wacket(*args, "--jsonl")
    assert again.returncode == 0, again.stderr
    assert (local / "big.bin").read_bytes() == data
    assert (remote / "big.bin").read_bytes() == data
    recs = [json.loads(x) for x in again.stdout.splitlines()]
    assert [(r["action"], r["path"]) for r in recs if r.get("action")] == [("create", "big.bin")]
    shutil.rmtree(remote)


# -- backup ---------------------------------------------------------------------------------------


def _snapshots(run_wacket, name: str, target: str) -> list[str]:
    res = run_wacket("backup", "list", name, "--target", target, "--json")
    assert res.returncode == 0, res.stderr
    return [s["snapshot"] for s in json.loads(res.stdout)]


@SIGNALS
@pytest.mark.parametrize("direction", ["to-h1", "from-h1"])
def test_backup_run(fleet, h1, run_wacket, tmp_path, slow_env, signum, code, direction):
    here = _unique(tmp_path, "here")
    there = _unique(h1.home, "backup")
    src_root, target = (here, there) if direction == "to-h1" else (there, here)
    src = src_root / "Documents"
    src.mkdir()
    data = _big_tree(src)
    spell = {here: str(here), there: f"h1:{there}"}
    source, target_arg = spell[src_root] + "/Documents", spell[target] + "/target"
    (target / "target").mkdir()
    args = ["backup", "run", "--source", source, "--target", target_arg, "--name", "docs"]
    proc = start(*args, env=slow_env)
    rc, _out, err, seconds = _signal_mid_run(
        proc, signum, lambda: _filling(target / "target"), tmp_path, f"backup run {direction}"
    )
    _assert_stopped_cleanly(
        rc, err, seconds, code, [there.name, _control_marker(proc)], h1.proc.pid, run_wacket,
        "backup run docs",
    )  # fmt: skip
    left = sorted(p.name for p in (target / "target" / "docs").iterdir())
    assert ".inprogress" in left and [n for n in left if not n.startswith(".")] == [], left
    assert _snapshots(run_wacket, "docs", target_arg) == []
    again = run_wacket(*args, "--json")
    assert again.returncode == 0, again.stderr
    rec = json.loads(again.stdout)[0]
    assert rec["outcome"] == "ok"
    assert _snapshots(run_wacket, "docs", target_arg) == [rec["snapshot"]]
    left = [p.name for p in (target / "target" / "docs").iterdir()]
    assert ".inprogress" not in left, left  # reused, or removed
    snap = target / "target" / "docs" / rec["snapshot"] / "Documents"
    assert (snap / "big.bin").read_bytes() == data
    shutil.rmtree(there)


@pytest.fixture
def snapshot_on_h1(fleet, h1, run_wacket, tmp_path):
    """A snapshot "docs" on h1 (source here: Documents/big.bin only); (target, its data)."""
    here = _unique(tmp_path, "here")
    (here / "Documents").mkdir()
    data = os.urandom(BIG)
    (here / "Documents" / "big.bin").write_bytes(data)
    target = _unique(h1.home, "backup")
    res = run_wacket("backup", "run", "--source", f"{here}/Documents", "--target",
                     f"h1:{target}", "--name", "docs")  # fmt: skip
    assert res.returncode == 0, res.stderr
    yield target, data
    shutil.rmtree(target)


@SIGNALS
def test_backup_restore_from_h1(h1, run_wacket, tmp_path, slow_env, snapshot_on_h1, signum, code):
    target, data = snapshot_on_h1
    dest = _unique(tmp_path, "restored")
    args = ["backup", "restore", "docs", "--target", f"h1:{target}", "--to", str(dest)]
    proc = start(*args, env=slow_env)
    rc, _out, err, seconds = _signal_mid_run(
        proc, signum, lambda: _filling(dest), tmp_path, "backup restore from h1"
    )
    _assert_stopped_cleanly(
        rc, err, seconds, code, [target.name], h1.proc.pid, run_wacket, "backup restore docs"
    )
    assert _named(dest, "big.bin") == []  # else the next restore would refuse to overwrite it
    again = run_wacket(*args)
    assert again.returncode == 0, again.stderr
    assert (dest / "Documents" / "big.bin").read_bytes() == data


def _reading(sshd_pid: int, at_least: int) -> bool:
    """A process under h1's sshd (the helper) has read `at_least` bytes: it is hashing."""
    for pid in remote_workers(sshd_pid):
        try:
            io = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
        except OSError:
            continue
        if int(io.get("rchar", 0)) >= at_least:
            return True
    return False


@SIGNALS
def test_backup_verify_on_h1(fleet, h1, run_wacket, tmp_path, signum, code):
    """The hashing runs on h1, in the helper: the signal must end it there."""
    src = _unique(h1.home, "verify-src")
    with open(src / "huge.bin", "wb") as fh:  # sparse here, 1 GiB of zeros in the snapshot
        fh.truncate(1 << 30)
    target = _unique(h1.home, "verify-target")
    try:
        res = run_wacket("backup", "run", "--source", f"h1:{src}", "--target", f"h1:{target}",
                         "--name", "big")  # fmt: skip
        assert res.returncode == 0, res.stderr
        args = ["backup", "verify", "big", "--target", f"h1:{target}"]
        proc = start(*args)
        rc, _out, err, seconds = _signal_mid_run(
            proc, signum, lambda: _reading(h1.proc.pid, 32 << 20), tmp_path, "backup verify on h1"
        )
        _assert_stopped_cleanly(
            rc, err, seconds, code, [], h1.proc.pid, run_wacket, "backup verify big"
        )
        again = run_wacket(*args)
        assert again.returncode == 0, again.stderr
        assert last_journal(run_wacket, "backup verify big")["outcome"] == "ok"
    finally:
        shutil.rmtree(src)
        shutil.rmtree(target)


@pytest.mark.parametrize(
    ("point", "signum", "code"),
    [
        ("cloned", signal.SIGINT, 130),  # the last snapshot cloned, before rsync
        ("after-transfer", signal.SIGTERM, 143),  # the data in, before the manifest
        ("before-rename", signal.SIGINT, 130),  # the manifest written, before the commit
    ],
)
def test_backup_run_interrupted_outside_the_transfer(
    fleet, h1, run_wacket, tmp_path, point, signum, code
):
    """Between a run's steps nothing half-made looks complete: the snapshot stays .inprogress,
    the last one is untouched, and the next run completes with the new data."""
    here = _unique(tmp_path, "here")
    (here / "Documents").mkdir()
    (here / "Documents" / "kept.txt").write_text("kept\n")
    (here / "Documents" / "changed.txt").write_text("old\n")
    target = _unique(h1.home, "backup")
    args = ["backup", "run", "--source", f"{here}/Documents", "--target", f"h1:{target}",
            "--name", "docs"]  # fmt: skip
    try:
        first = run_wacket(*args, "--json")
        assert first.returncode == 0, first.stderr
        last = json.loads(first.stdout)[0]["snapshot"]
        (here / "Documents" / "changed.txt").write_text("new\n")
        errfile = tmp_path / f"{point}.err"
        env = dict(os.environ, WACKET_DEBUG="1", WACKET_BACKUP_PAUSE=f"{point}:30")
        with open(errfile, "wb") as err_fh:
            proc = start(*args, env=env, stderr=err_fh)
        rc, _out, _err, seconds = _signal_mid_run(
            proc, signum, lambda: f"backup: {point} at".encode() in errfile.read_bytes(),
            tmp_path, f"backup run at {point}",
        )  # fmt: skip
        err = errfile.read_bytes()
        _assert_stopped_cleanly(
            rc, err, seconds, code, [_control_marker(proc)], h1.proc.pid, run_wacket,
            "backup run docs",
        )  # fmt: skip
        assert _snapshots(run_wacket, "docs", f"h1:{target}") == [last]
        root = target / "docs"
        assert (root / ".inprogress").is_dir()
        assert (root / last / "Documents" / "changed.txt").read_text() == "old\n"
        again = run_wacket(*args, "--json")
        assert again.returncode == 0, again.stderr
        snap = json.loads(again.stdout)[0]["snapshot"]
        assert _snapshots(run_wacket, "docs", f"h1:{target}") == [last, snap]
        assert not (root / ".inprogress").exists()
        assert (root / snap / "Documents" / "changed.txt").read_text() == "new\n"
        assert (root / last / "Documents" / "changed.txt").read_text() == "old\n"
        check = run_wacket("backup", "verify", "docs", "--target", f"h1:{target}", "--all")
        assert check.returncode == 0, check.stderr
    finally:
        shutil.rmtree(target, ignore_errors=True)


# -- find get -------------------------------------------------------------------------------------


@SIGNALS
def test_find_get_from_h1(fleet, h1, run_wacket, tmp_path, slow_env, signum, code):
    remote = _unique(h1.home, "get")
    data = os.urandom(BIG)
    (remote / "big.bin").write_bytes(data)
    dest = _unique(tmp_path, "got")
    args = ["find", "get", f"h1:{remote}/big.bin", f"{dest}/"]
    proc = start(*args, env=slow_env)
    rc, _out, err, seconds = _signal_mid_run(
        proc, signum, lambda: _filling(dest), tmp_path, "find get from h1"
    )
    _assert_stopped_cleanly(rc, err, seconds, code, [remote.name], h1.proc.pid, run_wacket,
                            "find get")  # fmt: skip
    assert not (dest / "big.bin").exists()  # the part is not taken for the file
    again = run_wacket(*args)
    assert again.returncode == 0, again.stderr
    assert (dest / "big.bin").read_bytes() == data
    assert sorted(p.name for p in dest.iterdir()) == ["big.bin"]
    shutil.rmtree(remote)
