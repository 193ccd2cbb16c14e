"""Drive targets: a labelled ext4 image loop-mounted on one host (its own mount namespace), backed
up to as drive:LABEL:/path, then moved to another host: the next backup follows it."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from backupbed import NamespacedSSHD, can_loop_mount, host_toml, make_tree


@pytest.fixture
def drive_hosts(fleet, tmp_path):
    if os.geteuid() != 0 or not can_loop_mount(tmp_path):
        pytest.skip("loop mounts are not permitted here")
    hosts = []
    try:
        for i, addr in enumerate(("127.0.0.21", "127.0.0.22"), 1):
            h = NamespacedSSHD(
                tmp_path / f"d{i}", addr, None, [fleet.client_key.with_suffix(".pub")]
            )
            h.start()
            hosts.append(h)
        yield hosts
    finally:
        for h in hosts:
            h.nsenter("umount", "-l", str(h.workdir / "media"))
            h.stop()


def test_drive_target_follows_the_drive(fleet, drive_hosts, isolated_env, tmp_path, run_wacket):
    d1, d2 = drive_hosts
    label = "WK" + uuid.uuid4().hex[:8].upper()
    img = tmp_path / "usb.img"
    subprocess.run(["truncate", "-s", "32M", str(img)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", label, str(img)], check=True)
    fs_uuid = subprocess.run(
        ["blkid", "-o", "value", "-s", "UUID", str(img)], capture_output=True, text=True, check=True
    ).stdout.strip()
    src = tmp_path / "src"
    src.mkdir()
    make_tree(src)
    toml = (
        host_toml("d1", d1, fleet.client_key)
        + host_toml("d2", d2, fleet.client_key)
        + f'[backup.usb]\nsources = ["{src}/Documents"]\ntarget = "drive:{label}:/backups"\n'
    )
    fleet.write_fleet(isolated_env, Path(os.environ["WACKET_CONFIG"]), toml)
    with open(isolated_env / ".ssh" / "known_hosts", "a") as fh:
        fh.write(d1.known_hosts_line() + "\n" + d2.known_hosts_line() + "\n")

    res = run_wacket("backup", "run", "usb")
    assert res.returncode == 3 and b"not mounted on any host" in res.stderr

    mnt1 = d1.workdir / "media"
    mnt1.mkdir()
    r = d1.nsenter("mount", "-o", "loop", str(img), str(mnt1))
    assert r.returncode == 0, r.stderr
    drives = [
        json.loads(x)
        for x in run_wacket("backup", "drives", "--jsonl", timeout=90).stdout.splitlines()
    ]
    mine = [d for d in drives if d.get("label") == label]
    assert [(d["host"], d["mountpoint"], d["uuid"]) for d in mine] == [("d1", str(mnt1), fs_uuid)]

    res = run_wacket("backup", "run", "usb", "--jsonl", timeout=90)
    assert res.returncode == 0, res.stderr
    first = json.loads(res.stdout)
    assert first["target"] == f"d1:{mnt1}/backups"
    listing = d1.nsenter("ls", str(mnt1 / "backups" / "usb"))
    assert f"{first['snapshot']}.manifest.gz" in listing.stdout
    ino1 = d1.nsenter(
        "stat", "-c", "%i", str(mnt1 / "backups/usb" / first["snapshot"] / "Documents/plain.txt")
    ).stdout

    # Move the drive to d2 (another mount point), address it by UUID this time.
    assert d1.nsenter("umount", str(mnt1)).returncode == 0
    mnt2 = d2.workdir / "elsewhere"
    mnt2.mkdir()
    r = d2.nsenter("mount", "-o", "loop", str(img), str(mnt2))
    assert r.returncode == 0, r.stderr
    (src / "Documents" / "plain.txt").touch()
    (src / "Documents" / "new.txt").write_text("new\n")
    toml = toml.replace(f"drive:{label}:", f"drive:{fs_uuid}:")
    fleet.write_fleet(isolated_env, Path(os.environ["WACKET_CONFIG"]), toml)
    with open(isolated_env / ".ssh" / "known_hosts", "a") as fh:
        fh.write(d1.known_hosts_line() + "\n" + d2.known_hosts_line() + "\n")
    res = run_wacket("backup", "run", "usb", "--jsonl", timeout=90)
    assert res.returncode == 0, res.stderr
    second = json.loads(res.stdout)
    assert second["target"] == f"d2:{mnt2}/backups"
    base = mnt2 / "backups/usb"
    assert second["snapshot"] in d2.nsenter("ls", str(base)).stdout
    assert first["snapshot"] in d2.nsenter("ls", str(base)).stdout
    # Unchanged files of the second snapshot are hard links into the first, on the drive.
    a = d2.nsenter(
        "stat", "-c", "%i", str(base / first["snapshot"] / "Documents/sub/secret")
    ).stdout
    b = d2.nsenter(
        "stat", "-c", "%i", str(base / second["snapshot"] / "Documents/sub/secret")
    ).stdout
    assert a == b and a.strip()
    assert ino1.strip()
    res = run_wacket("backup", "verify", "usb", "--all", timeout=90)
    assert res.returncode == 0, res.stderr
    assert d2.nsenter("umount", str(mnt2)).returncode == 0
