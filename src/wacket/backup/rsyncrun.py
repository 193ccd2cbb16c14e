"""Running rsync for a backup and reading its itemized change list."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field

from wacket import children
from wacket.backup.sets import Location
from wacket.errors import Exit, WacketError
from wacket.transport import rsync as rsync_args

# rsync exit codes that still leave a usable snapshot (some files could not be read or vanished).
PARTIAL_CODES = {23, 24}
_ITEM_RE = re.compile(rb"^([<>ch.][fdLDS][.+?a-zA-Z ]{9}|\*deleting  ) (.*)$")
_ESCAPE_RE = re.compile(rb"\\#([0-7]{3})")

SSH_FAILED = 255  # rsync's status when its ssh failed or the connection was lost
LINK_FAILED = (5, 10, 12, 35)  # protocol start, socket I/O, data stream, daemon timeout

RSYNC_ERRORS = {
    1: "syntax or usage error",
    2: "protocol incompatibility",
    3: "errors selecting input/output files, dirs",
    5: "error starting client-server protocol",
    10: "error in socket I/O",
    11: "error in file I/O",
    12: "error in rsync protocol data stream",
    20: "interrupted",
    23: "some files could not be transferred",
    24: "some source files vanished",
    30: "timeout in data send/receive",
    35: "timeout waiting for daemon connection",
    255: "ssh failed",
}


@dataclass
class RsyncOutcome:
    rc: int
    changes: list[list[str]] = field(default_factory=list)  # [itemize code, relative path]
    complete_list: bool = True  # every stdout line was an itemized change
    stderr: str = ""


def unescape(name: bytes) -> bytes:
    """rsync writes bytes it will not print as `\\#ooo` (octal): give back the real bytes."""
    return _ESCAPE_RE.sub(lambda m: bytes([int(m.group(1), 8)]), name)


def parse_itemized(output: bytes) -> tuple[list[list[str]], bool]:
    changes: list[list[str]] = []
    complete = True
    for line in output.split(b"\n"):
        if not line:
            continue
        m = _ITEM_RE.match(line)
        if not m:
            complete = False
            continue
        changes.append([m.group(1).decode("ascii"), os.fsdecode(unescape(m.group(2)))])
    return changes, complete


def build_argv(
    sources: list[Location],
    dest: Location,
    *,
    exclude: list[str],
    link_dest: str | None,
    one_file_system: bool,
    accept_new: bool,
    connect_timeout: float,
    remote_side: str,
    control_path: str | None = None,
) -> list[str]:
    """rsync's argument list; `remote_side` is "target", "source" or "none" (all on one host)."""
    # --modify-window=-1: compare mtimes to the nanosecond (rsync otherwise treats times within
    # the same second as equal: a file rewritten at the same size within a second would be skipped,
    # and directories keep the sub-second time of their creation).
    argv = [
        "rsync",
        "-a",
        "-s",
        "--delete",
        "--numeric-ids",
        "--modify-window=-1",
        "--out-format=%i %n",
    ]
    if one_file_system:
        argv.append("-x")
    argv += [f"--exclude={pat}" for pat in exclude]
    if link_dest:
        argv.append(f"--link-dest={link_dest}")
    if remote_side != "none":
        host = dest.host if remote_side == "target" else sources[0].host
        ssh = rsync_args.rsh(host, accept_new=accept_new, connect_timeout=int(connect_timeout))
        if control_path:
            ssh += " -S " + shlex.quote(control_path)
        argv += ["-e", ssh]
    for src in sources:
        path = src.path.rstrip("/") or "/"
        argv.append(rsync_args.remote_spec(src.host, path) if remote_side == "source" else path)
    dpath = dest.path.rstrip("/") + "/"
    argv.append(rsync_args.remote_spec(dest.host, dpath) if remote_side == "target" else dpath)
    return argv


def run_local(argv: list[str], on_first_line=None) -> RsyncOutcome:
    """Run rsync here, collecting the itemized list from stdout (it must not outlive a killed
    wacket: it would keep writing into the snapshot)."""
    try:
        started = children.running(
            argv,
            hold_locks=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except FileNotFoundError:
        raise WacketError(
            "rsync is not installed here (apt-get install rsync)", Exit.USAGE
        ) from None
    import threading

    with started as proc:
        err_chunks: list[bytes] = []
        t = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)
        t.start()
        out: list[bytes] = []
        first = True
        for chunk in iter(lambda: proc.stdout.read1(65536), b""):
            out.append(chunk)
            if first and on_first_line is not None:
                first = False
                on_first_line()
        rc = proc.wait()
        t.join()
    changes, complete = parse_itemized(b"".join(out))
    return RsyncOutcome(rc, changes, complete, b"".join(err_chunks).decode("utf-8", "replace"))


def run_remote(session, argv: list[str]) -> RsyncOutcome:
    """Run rsync on the host that has both the sources and the target."""
    res = session.run(argv)
    if res.rc == 127:
        raise WacketError(f"{session.host.name}: rsync is not installed there", Exit.USAGE)
    changes, complete = parse_itemized(res.stdout)
    return RsyncOutcome(
        res.rc if res.rc is not None else 20,
        changes,
        complete,
        res.stderr.decode("utf-8", "replace"),
    )


def describe_failure(out: RsyncOutcome) -> str:
    lines = [ln for ln in out.stderr.strip().splitlines() if ln.strip()]
    detail = "; ".join(lines[-3:]) if lines else RSYNC_ERRORS.get(out.rc, "")
    return f"rsync exit {out.rc} ({RSYNC_ERRORS.get(out.rc, 'error')}): {detail}"


def _control_dir() -> str:
    """A private directory for the control socket (short path: sockets allow ~100 bytes); those
    of runs that were killed are removed here."""
    import shutil
    import tempfile

    base = os.path.join(tempfile.gettempdir(), f"wacket-ssh-{os.getuid()}")
    os.makedirs(base, mode=0o700, exist_ok=True)
    os.chmod(base, 0o700)
    for entry in os.listdir(base):
        try:
            os.kill(int(entry), 0)
        except (ValueError, ProcessLookupError):
            shutil.rmtree(os.path.join(base, entry), ignore_errors=True)
        except PermissionError:
            pass
    path = os.path.join(base, str(os.getpid()))
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


class SSHMaster:
    """An OpenSSH control master opened while the helper connects, so rsync's own ssh starts
    without a handshake (about half a second per run here). If the master is not up yet when
    rsync starts, rsync's ssh simply connects by itself."""

    def __init__(self, host, *, accept_new: bool = False, connect_timeout: float = 10.0):
        self.dir = _control_dir()
        self.path = os.path.join(self.dir, "master")
        argv = rsync_args.ssh_command(
            host, accept_new=accept_new, connect_timeout=int(connect_timeout)
        ) + ["-M", "-S", self.path, "-N", "-o", "ControlPersist=no", host.address]
        try:
            self.proc = children.popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError:
            self.proc = None

    def close(self) -> None:
        import shutil

        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
