"""rsync's argument lists: every command's, and the `-e` ssh command from the same host settings
as paramiko's."""

from __future__ import annotations

import functools
import os
import re
import shlex

from wacket.errors import Exit, WacketError
from wacket.fleet import Host
from wacket.paths import known_hosts_path

# One itemized record per change: code, length, bytes sent, name (parsed by itemize.py).
OUT_FORMAT = "%i %l %b %n"


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


@functools.cache
def version() -> tuple[int, ...]:
    """The local rsync's version, remembered per binary (path, mtime) in the data dir: asking
    rsync costs a process start on every run, which a no-change mirror run should not pay."""
    import shutil
    import subprocess

    from wacket import paths

    exe = shutil.which("rsync")
    if exe is None:
        raise WacketError(
            "rsync is not installed on this machine (apt-get install rsync)", Exit.USAGE
        )
    key = f"{exe} {os.stat(exe).st_mtime_ns}"
    cache = paths.data_dir() / "rsync-version"
    try:
        cached_key, _, cached = cache.read_text().partition("\n")
        if cached_key == key:
            return tuple(int(x) for x in cached.split("."))
    except (OSError, ValueError):
        pass
    out = subprocess.run([exe, "--version"], capture_output=True, check=False).stdout
    m = re.search(rb"version\s+(\d+)\.(\d+)\.(\d+)", out)
    found = tuple(int(x) for x in m.groups()) if m else (0, 0, 0)
    try:
        from wacket.fsutil import atomic_write

        atomic_write(cache, f"{key}\n{'.'.join(map(str, found))}".encode())
    except OSError:
        pass
    return found


def sync_args(
    remote: Host | None,
    *,
    accept_new: bool = False,
    connect_timeout: float | None = None,
    secluded: bool = False,
) -> list[str]:
    """`wacket sync`'s `rsync -a` with itemized output, --stats and the ssh command for `remote`.

    Names with spaces, newlines, quotes, leading dashes and non-UTF-8 bytes reach the other side
    intact: rsync >= 3.2.4 protects remote arguments by default (and still expands a leading ~/);
    with `secluded` (or an older rsync) they travel inside rsync's protocol (-s).
    """
    args = ["rsync", "-a", f"--out-format={OUT_FORMAT}", "--stats"]
    if version() >= (3, 1, 3):
        # mtimes to the nanosecond: by default rsync's quick check compares whole seconds and
        # skips a same-size rewrite made within the second of the last copy.
        args.append("--modify-window=-1")
    if secluded or version() < (3, 2, 4):
        args.append("--secluded-args" if version() >= (3, 2, 4) else "--protect-args")
    if remote is not None:
        args += [
            "-e",
            rsh(remote, accept_new=accept_new, connect_timeout=int(connect_timeout or 10)),
        ]
    return args


def backup_args(
    sources: list,
    dest,
    *,
    exclude: list[str],
    link_dest: str | None,
    one_file_system: bool,
    accept_new: bool,
    connect_timeout: float,
    remote_side: str,
    control_path: str | None = None,
) -> list[str]:
    """`wacket backup run`'s rsync: `sources` and `dest` have `.host` and `.path` (backup's
    Location); `remote_side` is "target", "source" or "none" (all on one host)."""
    # --modify-window=-1: compare mtimes to the nanosecond (rsync otherwise treats times within
    # the same second as equal: a file rewritten at the same size within a second would be skipped,
    # and directories keep the sub-second time of their creation).
    argv = ["rsync", "-a", "-s", "--delete", "--numeric-ids", "--modify-window=-1",
            f"--out-format={OUT_FORMAT}"]  # fmt: skip
    if one_file_system:
        argv.append("-x")
    argv += [f"--exclude={pat}" for pat in exclude]
    if link_dest:
        argv.append(f"--link-dest={link_dest}")
    if remote_side != "none":
        host = dest.host if remote_side == "target" else sources[0].host
        ssh = rsh(host, accept_new=accept_new, connect_timeout=int(connect_timeout))
        if control_path:
            ssh += " -S " + shlex.quote(control_path)
        argv += ["-e", ssh]
    return argv + _ends([(s.host, s.path) for s in sources], (dest.host, dest.path), remote_side)


def restore_args(
    sources: list[str],
    src_host: Host,
    dest,
    *,
    overwrite: bool,
    accept_new: bool,
    connect_timeout: float,
    remote_side: str,
) -> list[str]:
    """`wacket backup restore`'s rsync: snapshot paths on `src_host` into `dest` (`.host`,
    `.path`); `remote_side` as for backup_args."""
    argv = ["rsync", "-a", "-s", "--numeric-ids", "--modify-window=-1",
            f"--out-format={OUT_FORMAT}"]  # fmt: skip
    if not overwrite:
        argv.append("--ignore-existing")
    if remote_side != "none":
        remote = dest.host if remote_side == "target" else src_host
        argv += ["-e", rsh(remote, accept_new=accept_new, connect_timeout=int(connect_timeout))]
    ends = [(src_host, s) for s in sources]
    return argv + _ends(ends, (dest.host, dest.path), remote_side, strip=False)


def _ends(sources: list[tuple[Host, str]], dest: tuple[Host, str], remote_side: str, *,
          strip: bool = True) -> list[str]:  # fmt: skip
    """The source and target arguments; backup's sources lose a trailing / (the directory
    itself is copied), restore's keep theirs."""
    out = []
    for host, path in sources:
        if strip:
            path = path.rstrip("/") or "/"
        out.append(remote_spec(host, path) if remote_side == "source" else path)
    dpath = dest[1].rstrip("/") + "/"
    out.append(remote_spec(dest[0], dpath) if remote_side == "target" else dpath)
    return out


def copy_args(host: Host, path: str, target: str, *, accept_new: bool = False,
              connect_timeout: int = 10, partial_dir: str | None = None) -> list[str]:  # fmt: skip
    """`rsync -a` of HOST:PATH to the local `target` (`find get`, `mail import`)."""
    argv = ["rsync", "-a", "--protect-args"]
    if partial_dir:
        argv.append(f"--partial-dir={partial_dir}")
    argv += ["-e", rsh(host, accept_new=accept_new, connect_timeout=connect_timeout)]
    return argv + [remote_spec(host, path), target]
