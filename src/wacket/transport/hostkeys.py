"""Host key policy: known_hosts is honoured, unknown keys refused unless the user opts in.

Like OpenSSH's StrictHostKeyChecking=accept-new: a new key can be recorded on request, a changed key
is always refused (paramiko raises BadHostKeyException before any policy is asked).
"""

from __future__ import annotations

import os
import threading

from wacket.paths import known_hosts_path
from wacket.transport.sshlib import paramiko

_write_lock = threading.Lock()


def host_id(address: str, port: int) -> str:
    return address if port == 22 else f"[{address}]:{port}"


class UnknownHostKey(paramiko.SSHException):
    def __init__(self, hostname: str, key: paramiko.PKey):
        self.hostname = hostname
        self.key = key
        super().__init__(f"host key for {hostname} not found in known_hosts")


class RefuseUnknown(paramiko.MissingHostKeyPolicy):
    def missing_host_key(self, client, hostname, key):
        raise UnknownHostKey(hostname, key)


class AcceptNew(paramiko.MissingHostKeyPolicy):
    """Record a host's first key in known_hosts (appended: the user's comments and order survive)."""

    def missing_host_key(self, client, hostname, key):
        client.get_host_keys().add(hostname, key.get_name(), key)
        path = known_hosts_path()
        with _write_lock:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a") as fh:
                fh.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")
                fh.flush()
                os.fsync(fh.fileno())


def fingerprint(key: paramiko.PKey) -> str:
    import base64
    import hashlib

    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")
