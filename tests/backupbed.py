"""Helpers for the backup tests: source trees with hostile names, manifests, tree comparison, and
sshds in private mount namespaces (so a loop-mounted "USB drive" is visible on one host only)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import stat
import subprocess
from pathlib import Path

import sshbed

HOSTILE = [
    "plain.txt",
    "with space.txt",
    "new\nline.txt",
    "tab\tname",
    "caf\xe9.txt",
    "-dash",
    "'q\"uote",
]
BAD_BYTES = b"latin1-\xe9\xff.bin"


def make_tree(root: Path) -> Path:
    """A small source tree: hostile names, a non-UTF-8 name, nested dirs, an empty dir, symlinks,
    odd modes and a 1 MiB file."""
    docs = root / "Documents"
    (docs / "sub" / "deeper").mkdir(parents=True)
    (docs / "empty dir").mkdir()
    for i, name in enumerate(HOSTILE):
        (docs / name).write_text(f"content {i} of {name!r}\n")
    with open(os.path.join(os.fsencode(docs), BAD_BYTES), "wb") as fh:
        fh.write(b"bytes name\n")
    (docs / "sub" / "deeper" / "big.bin").write_bytes(os.urandom(1 << 20))
    (docs / "sub" / "script.sh").write_text("#!/bin/sh\necho hi\n")
    (docs / "sub" / "script.sh").chmod(0o751)
    (docs / "sub" / "secret").write_text("s\n")
    (docs / "sub" / "secret").chmod(0o600)
    os.symlink("plain.txt", docs / "link to plain")
    os.symlink("/nonexistent/target", docs / "dangling")
    os.utime(docs / "plain.txt", ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
    return docs


def read_manifest(path: Path) -> tuple[dict, list[list]]:
    lines = gzip.decompress(Path(path).read_bytes()).split(b"\n")
    return json.loads(lines[0]), [json.loads(x) for x in lines[1:] if x]


def expected_entries(top: Path) -> list[list]:
    """What a manifest of `top` must say, computed independently with os.walk."""
    out = []
    btop = os.fsencode(top)
    for dirpath, dirnames, filenames in os.walk(btop):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.fsdecode(os.path.relpath(full, btop))
            st = os.lstat(full)
            if stat.S_ISREG(st.st_mode):
                digest = hashlib.sha256(Path(os.fsdecode(full)).read_bytes()).hexdigest()
                out.append(
                    [rel, "f", st.st_size, st.st_mtime_ns, stat.S_IMODE(st.st_mode), digest, None]
                )
            elif stat.S_ISDIR(st.st_mode):
                out.append([rel, "d", 0, st.st_mtime_ns, stat.S_IMODE(st.st_mode), None, None])
            elif stat.S_ISLNK(st.st_mode):
                link = os.fsdecode(os.readlink(full))
                out.append([rel, "l", 0, st.st_mtime_ns, stat.S_IMODE(st.st_mode), None, link])
    return sorted(out, key=lambda e: e[0])


def tree_state(top: Path, times: bool = True) -> dict:
    """rel -> (type, mode, content or link, mtime) for comparing two trees byte for byte."""
    out = {}
    btop = os.fsencode(top)
    for dirpath, dirnames, filenames in os.walk(btop):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, btop)
            st = os.lstat(full)
            if stat.S_ISREG(st.st_mode):
                with open(full, "rb") as fh:
                    body = fh.read()
                out[rel] = ("f", stat.S_IMODE(st.st_mode), body, st.st_mtime_ns if times else 0)
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("d", stat.S_IMODE(st.st_mode), b"", st.st_mtime_ns if times else 0)
            else:
                out[rel] = ("l", 0, os.readlink(full), 0)
    return out


class NamespacedSSHD(sshbed.SSHD):
    """An sshd in a mount namespace of its own: what it mounts, only its sessions see."""

    def command(self) -> list[str]:
        return ["unshare", "-m", "--propagation", "private", *super().command()]

    def nsenter(self, *argv: str) -> subprocess.CompletedProcess:
        assert self.proc is not None
        return subprocess.run(
            ["nsenter", "-t", str(self.proc.pid), "-m", *argv], capture_output=True, text=True
        )


def host_toml(name: str, sshd: sshbed.SSHD, key: Path) -> str:
    return (
        f"[hosts.{name}]\naddress = {json.dumps(sshd.address)}\nport = {sshd.port}\n"
        f'user = "root"\nidentity = {json.dumps(str(key))}\n'
    )


def can_loop_mount(tmp: Path) -> bool:
    img = tmp / "probe.img"
    mnt = tmp / "probe-mnt"
    mnt.mkdir(exist_ok=True)
    try:
        subprocess.run(["truncate", "-s", "8M", str(img)], check=True)
        subprocess.run(["mkfs.ext4", "-q", "-F", str(img)], check=True, capture_output=True)
        r = subprocess.run(
            [
                "unshare",
                "-m",
                "--propagation",
                "private",
                "mount",
                "-o",
                "loop",
                str(img),
                str(mnt),
            ],
            capture_output=True,
        )
        return r.returncode == 0
    except (OSError, subprocess.CalledProcessError):
        return False
    finally:
        img.unlink(missing_ok=True)
