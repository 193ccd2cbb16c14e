"""Running rsync here through `sh`, its itemized output streamed line by line, or on a host.

The child keeps every guarantee of wacket.children: its own process group (`_new_group`), the
parent-death signal armed between fork and exec (`_preexec_fn`, forked from a thread that lives as
long as wacket), the job's lock fds inherited and nothing else (`_pass_fds`, `_close_fds`), and an
interrupt stopper registered while it runs, which ends its whole group (its ssh) at once.
"""

from __future__ import annotations

import functools
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from wacket.errors import Exit, WacketError
from wacket.transport.rsync.itemize import Item, parse, parse_stats

# sh speaks str; latin-1 maps every byte to one character and back, so names that are not
# UTF-8 reach rsync, and come back from it, as the same bytes.
_BYTES = "latin-1"
_ANY_STATUS = range(-64, 256)  # rsync's status is data (codes.py), never an sh exception
MISSING = "rsync is not installed on this machine"


@dataclass
class Result:
    rc: int
    stderr: list[bytes] = field(default_factory=list)  # rsync's stderr, line by line
    other: list[bytes] = field(default_factory=list)  # stdout lines that were not itemized
    records: int = 0  # itemized lines

    @property
    def stats(self) -> dict:
        return parse_stats(self.other + self.stderr)

    @property
    def complete(self) -> bool:
        """Every stdout line was an itemized change (backup trusts the list only then)."""
        return not any(line.rstrip(b"\n") for line in self.other)

    @property
    def stderr_text(self) -> str:
        return b"".join(self.stderr).decode("utf-8", "replace")

    @property
    def error_lines(self) -> list[str]:
        return [
            line.decode("utf-8", "surrogateescape").rstrip("\n")
            for line in self.stderr
            if line.startswith(b"rsync:") or line.startswith(b"rsync error") or b"failed" in line
        ]


def _feed(result: Result, lines, on_item: Callable[[Item], None] | None, on_first_line) -> None:
    for line in lines:
        if on_first_line is not None:
            on_first_line()
            on_first_line = None
        item = parse(line)
        if item is None:
            result.other.append(line)
            continue
        result.records += 1
        if on_item is not None:
            on_item(item)


def run(
    argv: list,
    on_item: Callable[[Item], None] | None = None,
    *,
    input: bytes | None = None,
    hold_locks: bool = True,
    on_first_line: Callable[[], None] | None = None,
    missing: str = MISSING,
) -> Result:
    """Run rsync here, calling `on_item` for every itemized line as rsync writes it (in this
    thread). `hold_locks`: the child inherits the run's job locks (wacket.lock)."""
    from wacket import interrupt

    result = Result(0)
    proc = _start(argv, input, hold_locks, missing, result.stderr)
    stop = functools.partial(_stop, proc)
    with interrupt.running(stop, proc.pid if _group_of_its_own() else None):
        try:
            _feed(result, (line.encode(_BYTES) for line in proc), on_item, on_first_line)
            proc.wait()
        except BaseException:
            stop()
            raise
    result.rc = proc.exit_code
    return result


def run_remote(session, argv: list[str], on_item: Callable[[Item], None] | None = None) -> Result:
    """Run rsync on the session's host (backup and restore when both ends are there)."""
    res = session.run(argv)
    if res.rc == 127:
        raise WacketError(f"{session.host.name}: rsync is not installed there", Exit.USAGE)
    result = Result(res.rc if res.rc is not None else 20)
    _feed(result, _lines(res.stdout), on_item, None)
    result.stderr = list(_lines(res.stderr))
    return result


def _lines(data: bytes):
    """`data` line by line as a pipe gives them (split at \\n only)."""
    for line in data.split(b"\n"):
        if line:
            yield line + b"\n"


@functools.cache
def _group_of_its_own() -> bool:
    from wacket import children

    return children.LINUX and children.prctl() is not None


def _start(argv: list, input: bytes | None, hold_locks: bool, missing: str, err: list[bytes]):
    import sh

    from wacket import children

    args = [os.fsencode(a).decode(_BYTES) for a in argv]
    try:
        rsync = sh.Command(args[0])
    except sh.CommandNotFound:
        raise WacketError(missing, Exit.USAGE) from None
    kw = dict(
        _iter="out", _bg_exc=False, _ok_code=_ANY_STATUS, _tty_out=False, _encoding=_BYTES,
        _err=lambda line: err.append(line.encode(_BYTES)),  # stderr, line by line
        _internal_bufsize=0,  # stdout goes to the iterator only, not also to a buffer
    )  # fmt: skip
    fds: tuple[int, ...] = ()
    if hold_locks:
        from wacket.lock import held_fds

        fds = held_fds()
        kw["_pass_fds"] = set(fds)  # and every other fd is closed
    setup = None
    if _group_of_its_own():
        kw["_new_group"] = True
        setup = children.child_setup()
    if fds or setup:
        kw["_preexec_fn"] = functools.partial(_child_setup, fds, setup)
    if input is not None:
        return children.spawn(lambda: rsync(*args[1:], _in=input, **kw))
    with open(os.devnull, "rb") as devnull:  # sh gives the child its own copy
        return children.spawn(lambda: rsync(*args[1:], _in=devnull, **kw))


def _child_setup(fds: tuple[int, ...], setup) -> None:
    """Between fork and exec: sh's `_pass_fds` only spares the fds from its closing, so they are
    made inheritable here (Python opens files close-on-exec); then children's parent-death
    signal."""
    for fd in fds:
        os.set_inheritable(fd, True)
    if setup is not None:
        setup()


def _stop(proc, grace: float | None = None) -> None:
    """End rsync and whatever it started (its ssh): TERM to its group, then KILL."""
    from wacket import children

    grace = children.STOP_GRACE if grace is None else grace
    if not proc.is_alive():
        return
    own_group = _group_of_its_own()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            if own_group:
                os.killpg(proc.pid, sig)
            else:
                os.kill(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        deadline = time.monotonic() + grace
        while proc.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not proc.is_alive():
            return
