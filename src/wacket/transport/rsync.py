"""rsync argument building: the `-e` ssh command comes from the same host settings as paramiko's."""

from __future__ import annotations

import os
import shlex

from wacket.fleet import Host
from wacket.paths import known_hosts_path


def ssh_command(host: Host, *, accept_new: bool = False, connect_timeout: int = 10) -> list[str]:
    """The OpenSSH client command line that authenticates exactly as the paramiko session does.

    OpenSSH finds ~/.ssh from the password database, not $HOME, so every file is named explicitly.
    """
    config = str(host.ssh_config) if host.ssh_config else "/dev/null"
    args = [
        "ssh", "-F", config,
        "-o", "BatchMode=yes",
        "-o", f"StrictHostKeyChecking={'accept-new' if accept_new or host.accept_new else 'yes'}",
        "-o", f"UserKnownHostsFile={known_hosts_path()}",
        "-o", f"ConnectTimeout={connect_timeout}",
        "-o", "ServerAliveInterval=30",
        "-p", str(host.port),
    ]  # fmt: skip
    if host.user:
        args += ["-l", host.user]
    for identity in host.identity:
        args += ["-i", identity]
    if host.identity:
        args += ["-o", "IdentitiesOnly=yes"]
    if host.proxy_jump:
        args += ["-J", host.proxy_jump]
    return args


def check_connection(host: Host, *, connect_timeout: float | None = None) -> None:
    """Connect as every paramiko session does and raise its UnreachableError (host key unknown
    or changed with the fingerprint and hint, auth, refused...): rsync's ssh only says "Host key
    verification failed.". Read-only: a new key is never recorded here (ssh's accept-new does it)."""
    from wacket.transport.session import SSHSession

    session = SSHSession(host, connect_timeout=connect_timeout)
    try:
        session.connect()
    finally:
        session.close()


def rsh(host: Host, **kw) -> str:
    """The string for rsync's `-e`."""
    return " ".join(shlex.quote(a) for a in ssh_command(host, **kw))


def remote_spec(host: Host, path: str) -> str:
    """`address:path` for rsync; rsync >= 3.2.4 (or --protect-args) keeps the path's bytes intact."""
    if host.is_local:
        return os.path.expanduser(path)
    address = f"[{host.address}]" if ":" in host.address else host.address
    return f"{address}:{path}"
