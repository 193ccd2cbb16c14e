"""Helpers for the sync tests: trees on this machine and on a test-bed host, snapshots, "nothing lost"."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

TRASH = ".wacket-trash"


@pytest.fixture
def pair(fleet, tmp_path):
    """(local dir, remote dir on h1, "h1:<remote dir>") for one test; remote dirs are unique."""
    local = tmp_path / "a"
    local.mkdir()
    remote = fleet.hosts[0].home / f"sync-{uuid.uuid4().hex[:10]}"
    remote.mkdir()
    yield local, remote, f"h1:{remote}"


@pytest.fixture(params=["ssh", "local"])
def either_pair(request, tmp_path):
    """(dir A, dir B, B as wacket spells it): local <-> h1 over sshd, or local <-> local."""
    local = tmp_path / "a"
    local.mkdir()
    if request.param == "local":
        other = tmp_path / "b"
        other.mkdir()
        yield local, other, str(other)
        return
    remote = request.getfixturevalue("fleet").hosts[0].home / f"sync-{uuid.uuid4().hex[:10]}"
    remote.mkdir()
    yield local, remote, f"h1:{remote}"


def write(root: Path, rel: str | bytes, data: bytes | str = b"x", mtime: float | None = None):
    path = Path(os.fsdecode(os.path.join(os.fsencode(root), os.fsencode(rel))))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def tree(root: Path, trash: bool = False) -> dict[str, tuple]:
    """{rel: ("f", content) | ("l", target) | ("d",)} (bytes paths decoded with surrogateescape)."""
    out = {}
    root = Path(root)
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if not trash and (rel_dir == TRASH or rel_dir.startswith(TRASH + "/")):
            dirnames[:] = []
            continue
        for name in list(dirnames):
            p = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if not trash and rel == TRASH:
                continue
            if os.path.islink(p):
                out[rel] = ("l", os.readlink(p))
                dirnames.remove(name)
            else:
                out[rel] = ("d",)
        for name in filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if os.path.islink(p):
                out[rel] = ("l", os.readlink(p))
            else:
                out[rel] = ("f", Path(p).read_bytes())
    return out


def contents(*roots: Path) -> set[bytes]:
    """Every file content present under the roots, trash included."""
    found = set()
    for root in roots:
        for entry in tree(root, trash=True).values():
            if entry[0] == "f":
                found.add(entry[1])
    return found


def trash_files(root: Path) -> dict[str, bytes]:
    out = {}
    base = Path(root) / TRASH
    for rel, entry in tree(base, trash=True).items() if base.exists() else []:
        if entry[0] == "f" and not rel.startswith(".tmp"):
            out[rel.split("/", 1)[1]] = entry[1]
    return out


def records(stdout: bytes) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def by_path(recs: list[dict]) -> dict[str, dict]:
    return {r["path"]: r for r in recs}


class Proxy:
    """A TCP forwarder on 127.0.0.1 in front of an sshd; `cut()` drops every connection at once,
    like a network failure in the middle of a run."""

    def __init__(self, target_addr: str, target_port: int):
        import socket
        import threading

        self.target = (target_addr, target_port)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns: list = []
        self.closed = False
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import socket
        import threading

        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            if self.closed:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self._lock:
                self.conns += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        import socket

        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        import socket

        self.closed = True
        with self._lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                    c.close()
                except OSError:
                    pass

    def close(self):
        self.cut()
        self.sock.close()


def add_proxied_host(fleet, home: Path, config: Path, proxy: Proxy, name: str = "flaky") -> None:
    """A fleet host `name` reached through `proxy` (h1's sshd, h1's host key)."""
    h1 = fleet.hosts[0]
    keytype, b64 = h1.host_key_pub.read_text().split()[:2]
    with open(home / ".ssh" / "known_hosts", "a") as fh:
        fh.write(f"[127.0.0.1]:{proxy.port} {keytype} {b64}\n")
    with open(config, "a") as fh:
        fh.write(
            f'\n[hosts.{name}]\naddress = "127.0.0.1"\nport = {proxy.port}\nuser = "root"\n'
            f'identity = "{fleet.client_key}"\n'
        )
