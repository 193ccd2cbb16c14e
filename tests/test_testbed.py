"""The test bed itself: if these fail, no sshd-based wacket test means anything."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import tomllib
from pathlib import Path

import pytest
import sshbed


def ssh(bed: sshbed.TestBed, home: Path, host: sshbed.SSHD, *cmd: str, key=None, timeout=20):
    argv = [
        *bed.ssh_base(home / ".ssh" / "known_hosts", key),
        "-p",
        str(host.port),
        f"root@{host.address}",
        *cmd,
    ]
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def test_isolated_env(isolated_env: Path) -> None:
    """HOME and wacket's paths point into tmp, and no agent leaks in."""
    assert os.environ["HOME"] == str(isolated_env)
    assert isolated_env.stat().st_mode & 0o777 == 0o700
    assert os.environ["WACKET_CONFIG"].startswith(str(isolated_env))
    assert os.environ["WACKET_DATA"].startswith(str(isolated_env))
    assert "SSH_AUTH_SOCK" not in os.environ


def test_fleet_files(fleet: sshbed.TestBed, isolated_env: Path) -> None:
    """The fleet config parses as TOML and matches the running sshds."""
    kh = isolated_env / ".ssh" / "known_hosts"
    assert kh.stat().st_mode & 0o777 == 0o600
    assert (isolated_env / ".ssh").stat().st_mode & 0o777 == 0o700
    cfg = tomllib.loads(Path(os.environ["WACKET_CONFIG"]).read_text())
    hosts = cfg["hosts"]
    assert sorted(hosts) == ["h1", "h2", "h3"]
    assert [hosts[n]["tags"] for n in ("h1", "h2", "h3")] == [["a", "odd"], ["a", "even"], ["odd"]]
    for name, h in fleet.by_name().items():
        assert hosts[name]["address"] == h.address
        assert hosts[name]["port"] == h.port
        assert hosts[name]["user"] == "root"
        assert hosts[name]["identity"] == str(fleet.client_key)
        assert h.known_hosts_line() in kh.read_text().splitlines()
    assert [h.address for h in fleet.hosts] == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]


def test_extra_toml_appended(testbed: sshbed.TestBed, isolated_env: Path) -> None:
    cfg_path = Path(os.environ["WACKET_CONFIG"])
    testbed.write_fleet(isolated_env, cfg_path, extra_toml="[defaults]\nparallel = 7\n")
    assert tomllib.loads(cfg_path.read_text())["defaults"]["parallel"] == 7


def test_known_hosts_line_port_22(tmp_path: Path) -> None:
    """Port 22 uses the bare address form (no need to start sshd)."""
    d = sshbed.SSHD(tmp_path / "d", "127.0.0.9", 22, [])
    assert d.known_hosts_line().startswith("127.0.0.9 ssh-ed25519 ")
    assert d.known_hosts_line().split()[2] == d.host_key_pub.read_text().split()[1]


def test_client_key_accepted_everywhere(fleet: sshbed.TestBed, isolated_env: Path) -> None:
    for h in fleet.hosts:
        r = ssh(fleet, isolated_env, h, "echo ok; echo $SSH_CONNECTION")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0] == "ok"
        # The connection really reached this host's address and port.
        assert lines[1].split()[2:] == [h.address, str(h.port)]


def test_wrong_key_refused(fleet: sshbed.TestBed, isolated_env: Path) -> None:
    r = ssh(fleet, isolated_env, fleet.hosts[0], "echo ok", key=fleet.wrong_key)
    assert r.returncode == 255
    assert "Permission denied" in r.stderr
    assert "ok" not in r.stdout


def test_unknown_host_key_refused(fleet: sshbed.TestBed, isolated_env: Path) -> None:
    """StrictHostKeyChecking really checks: an empty known_hosts is refused."""
    (isolated_env / ".ssh" / "known_hosts").write_text("")
    r = ssh(fleet, isolated_env, fleet.hosts[1], "echo ok")
    assert r.returncode == 255
    assert "Host key verification failed" in r.stderr


def test_rsync_file_with_space(fleet: sshbed.TestBed, isolated_env: Path, tmp_path: Path) -> None:
    src = tmp_path / "src dir"
    src.mkdir()
    (src / "a file.txt").write_text("hello rsync\n")
    dst = tmp_path / "dst dir"
    h = fleet.hosts[2]
    rsh = shlex.join([*fleet.ssh_base(isolated_env / ".ssh" / "known_hosts"), "-p", str(h.port)])
    r = subprocess.run(
        ["rsync", "-a", "-e", rsh, f"{src}/", f"root@{h.address}:{dst}/"],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 0, r.stderr
    assert (dst / "a file.txt").read_text() == "hello rsync\n"


def test_hang_server_times_out(
    testbed: sshbed.TestBed, isolated_env: Path, hang_server: sshbed.HangServer
) -> None:
    """ConnectTimeout also covers the banner exchange, so a silent server fails fast."""
    r = subprocess.run(
        [
            *testbed.ssh_base(isolated_env / "kh"),
            "-o",
            "ConnectTimeout=2",
            "-p",
            str(hang_server.port),
            f"root@{hang_server.address}",
            "echo ok",
        ],
        capture_output=True,
        text=True,
        timeout=20,
        stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 255
    assert "timed out" in r.stderr.lower()
    assert hang_server.accepted >= 1


def test_closed_port_refuses(closed_port: int) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", closed_port), timeout=2)


def test_restart(tmp_path: Path, testbed: sshbed.TestBed, isolated_env: Path) -> None:
    """A stopped sshd refuses; after restart the same port and host key work again."""
    d = sshbed.SSHD(tmp_path / "sshd", "127.0.0.5", None, [sshbed.pub_of(testbed.client_key)])
    with d:
        kh = isolated_env / ".ssh" / "known_hosts"
        kh.parent.mkdir(mode=0o700, exist_ok=True)
        kh.write_text(d.known_hosts_line() + "\n")
        assert ssh(testbed, isolated_env, d, "echo ok").stdout == "ok\n"
        pid, port = d.proc.pid, d.port
        d.stop()
        assert not d.running
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((d.address, port), timeout=2)
        d.restart()
        assert d.port == port and d.proc.pid != pid
        r = ssh(testbed, isolated_env, d, "echo ok")
        assert r.stdout == "ok\n", r.stderr
    assert not d.running
    assert d.proc.returncode is not None  # reaped, no zombie
