"""Running rsync: argument lists, streamed itemize records, and rsync's failures as wacket errors."""

from __future__ import annotations

import functools
import re
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from wacket.errors import Exit, UnreachableError, WacketError
from wacket.fleet import Host
from wacket.sync.itemize import OUT_FORMAT, parse_line, parse_stats


@functools.cache
def version() -> tuple[int, ...]:
    """The local rsync's version, remembered per binary (path, mtime) in the data dir: asking
    rsync costs a process start on every run, which a no-change mirror run should not pay."""
    import os
    import shutil

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


def base_args(
    remote: Host | None,
    *,
    accept_new: bool = False,
    connect_timeout: float | None = None,
    secluded: bool = False,
) -> list[str]:
    """`rsync -a` with itemized output and the core's ssh command for `remote`.

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
        from wacket.transport.rsync import rsh

        args += [
            "-e",
            rsh(remote, accept_new=accept_new, connect_timeout=int(connect_timeout or 10)),
        ]
    return args


@dataclass
class RsyncRun:
    rc: int
    stats: dict = field(default_factory=dict)
    stderr: list[bytes] = field(default_factory=list)
    records: int = 0

    @property
    def error_lines(self) -> list[str]:
        return [
            line.decode("utf-8", "surrogateescape").rstrip("\n")
            for line in self.stderr
            if line.startswith(b"rsync:") or line.startswith(b"rsync error") or b"failed" in line
        ]


def run(
    args: list[str],
    on_record: Callable[[dict], None],
    *,
    input: bytes | None = None,
) -> RsyncRun:
    """Run rsync, calling `on_record` for every itemized change as rsync reports it."""
    from wacket import children

    try:
        started = children.running(
            args,
            hold_locks=True,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except FileNotFoundError:
        raise WacketError("rsync is not installed on this machine", Exit.USAGE) from None
    with started as proc:
        err: list[bytes] = []
        drain = threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)
        drain.start()
        if input is not None:

            def feed() -> None:
                try:
                    proc.stdin.write(input)
                    proc.stdin.close()
                except (BrokenPipeError, ValueError):
                    pass

            threading.Thread(target=feed, daemon=True).start()
        other: list[bytes] = []
        count = 0
        for line in proc.stdout:
            rec = parse_line(line)
            if rec is None:
                other.append(line)
                continue
            count += 1
            on_record(rec)
        proc.stdout.close()
        rc = proc.wait()
        drain.join()
    return RsyncRun(rc, parse_stats(other + err), err, count)


@functools.cache
def _ssh_failures() -> list:
    """What ssh says when it fails, and the reason wacket reports (compiled when first needed)."""
    return [
        (re.compile(rb"Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED"),
         "host key"),
        (re.compile(rb"Permission denied \((publickey|password|keyboard)"), "auth"),
        (re.compile(rb"Connection refused"), "refused"),
        (re.compile(rb"Connection timed out|Operation timed out|timed out"), "timeout"),
        (re.compile(rb"Could not resolve hostname|Name or service not known"), "dns"),
        (re.compile(rb"No route to host|Network is unreachable"), "error"),
    ]  # fmt: skip


def check(
    result: RsyncRun,
    remote: Host | None,
    *,
    allow: tuple[int, ...] = (),
    connect_timeout: float | None = None,
) -> None:
    """Raise the right wacket error for a failed rsync (ssh failures become exit 3).

    When the connection failed before anything was transferred (ssh's 255, or 12 when rsync
    notices first), wacket connects the way its own sessions do, so a host key that is unknown
    or changed is reported with the same reason, fingerprint and hint as every other command;
    only a run that fails is charged that connection."""
    rc = result.rc
    if rc in (0, 24) or rc in allow:
        return
    text = b"".join(result.stderr)
    lines = result.error_lines
    if remote is not None and (rc == 255 or rc in (5, 10, 12, 35)):
        matched = [reason for rx, reason in _ssh_failures() if rx.search(text)]
        # (A host that timed out is not asked again: that would only double the wait.)
        if rc in (255, 12) and not result.records and matched[:1] != ["timeout"]:
            from wacket.transport.rsync import check_connection

            check_connection(remote, connect_timeout=connect_timeout)
        if matched:
            raise UnreachableError(remote.name, matched[0], _first_ssh_line(text))
        raise UnreachableError(
            remote.name, "lost", (lines[-1] if lines else f"rsync exit status {rc}")
        )
    if rc < 0:
        raise WacketError(f"rsync was killed by signal {-rc}")
    detail = "; ".join(lines[:3]) or f"exit status {rc}"
    raise WacketError(f"rsync failed (exit {rc}): {detail}")


def _first_ssh_line(text: bytes) -> str:
    for line in text.splitlines():
        if line.startswith(b"ssh:") or b"denied" in line or b"verification" in line:
            return line.decode("utf-8", "replace").strip()
    return text.decode("utf-8", "replace").strip().splitlines()[0] if text.strip() else ""
