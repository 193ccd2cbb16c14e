"""`find get` without rsync here: the SFTP path copies like `rsync -a` (bytes, mode, mtime) and,
like the rsync path, never shows a copy cut short under the file's real name (real sshd h1)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest


@pytest.fixture
def no_rsync_env(tmp_path) -> dict:
    """os.environ with a PATH that has no rsync (the SFTP fallback needs no program here)."""
    empty = tmp_path / "no-rsync-bin"
    empty.mkdir()
    return dict(os.environ, PATH=str(empty))


def test_sftp_get_keeps_bytes_mode_and_mtime(fleet, run_wacket, tmp_path, no_rsync_env):
    h1 = fleet.by_name()["h1"]
    src = h1.home / "sftp-src" / "it's a\nname.bin"
    src.parent.mkdir(parents=True, exist_ok=True)
    data = os.urandom(300_000)
    src.write_bytes(data)
    src.chmod(0o640)
    os.utime(src, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    dest = tmp_path / "fetched"
    dest.mkdir()
    res = run_wacket("find", "get", f"h1:{src}", str(dest), env=no_rsync_env)
    assert res.returncode == 0, res.stderr
    got = dest / src.name
    assert got.read_bytes() == data
    assert got.stat().st_mode & 0o7777 == 0o640
    assert int(got.stat().st_mtime) == 1_600_000_000
    assert sorted(p.name for p in dest.iterdir()) == [src.name]  # no temporary name left


def test_sftp_get_killed_midway_leaves_no_file_under_its_real_name(
    fleet, run_wacket, tmp_path, no_rsync_env
):
    h1 = fleet.by_name()["h1"]
    src = h1.home / "sftp-big.bin"
    data = os.urandom(48 << 20)
    src.write_bytes(data)
    dest = tmp_path / "fetched"
    dest.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "wacket", "find", "get", f"h1:{src}", str(dest)],
        env=no_rsync_env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        # Under way: some of the file has landed here, under whatever name the copy uses.
        while time.monotonic() < deadline and proc.poll() is None:
            if any(p.stat().st_size > (1 << 20) for p in dest.iterdir()):
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the copy ended before it could be cut: use a bigger file"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        proc.kill()
    assert not (dest / src.name).exists(), "a cut copy shows under the real name"
    res = run_wacket("find", "get", f"h1:{src}", str(dest), env=no_rsync_env)
    assert res.returncode == 0, res.stderr
    assert (dest / src.name).read_bytes() == data
    assert [p.name for p in dest.iterdir() if not p.name.startswith(".")] == [src.name]
    src.unlink()
