"""rsync's exit codes (rsync(1), EXIT VALUES) and what each means to wacket, in one table.

Each code has one column per caller policy: SYNC (`wacket sync`, one-way and two-way) and BACKUP
(`wacket backup run`). They differ on purpose in two rows: 24 (source files vanished while rsync
ran) is a success with a note for a mirror, which is re-run anyway, but a partial snapshot for a
backup, which must say it is not the whole tree; 25 (--max-delete stopped deletions) is how the
sync deletion guard's own passes end, and is never expected by a backup. Callers that must copy
everything (`backup restore`, `find get`, `mail import`) count every code but 0 as a failure.
"""

from __future__ import annotations

import enum
import functools
import re
from typing import NamedTuple

from wacket.errors import UnreachableError, WacketError


class Outcome(enum.Enum):
    OK = "ok"  # the work is done
    PARTIAL = "partial"  # done but for some files, each reported
    LINK = "link"  # the connection failed or broke: the other end may be unreachable
    FAILED = "failed"  # rsync failed: the run is an error


class Code(NamedTuple):
    text: str  # the meaning in wacket's messages
    sync: Outcome  # policy SYNC
    backup: Outcome  # policy BACKUP


OK, PARTIAL, LINK, FAILED = Outcome.OK, Outcome.PARTIAL, Outcome.LINK, Outcome.FAILED
SSH_FAILED = 255  # rsync's status when its ssh failed or the connection was lost

EXIT_CODES: dict[int, Code] = {
    0: Code("success", OK, OK),
    1: Code("syntax or usage error", FAILED, FAILED),
    2: Code("protocol incompatibility", FAILED, FAILED),
    3: Code("errors selecting input/output files, dirs", FAILED, FAILED),
    4: Code("requested action not supported", FAILED, FAILED),
    5: Code("error starting client-server protocol", LINK, LINK),
    6: Code("daemon unable to append to log-file", FAILED, FAILED),
    10: Code("error in socket I/O", LINK, LINK),
    11: Code("error in file I/O", FAILED, FAILED),
    12: Code("error in rsync protocol data stream", LINK, LINK),
    13: Code("errors with program diagnostics", FAILED, FAILED),
    14: Code("error in IPC code", FAILED, FAILED),
    20: Code("interrupted", FAILED, FAILED),
    21: Code("some error returned by waitpid()", FAILED, FAILED),
    22: Code("error allocating core memory buffers", FAILED, FAILED),
    23: Code("some files could not be transferred", PARTIAL, PARTIAL),
    24: Code("some source files vanished", OK, PARTIAL),
    25: Code("the --max-delete limit stopped deletions", OK, FAILED),
    30: Code("timeout in data send/receive", FAILED, FAILED),
    35: Code("timeout waiting for daemon connection", LINK, LINK),
    SSH_FAILED: Code("ssh failed", LINK, LINK),
}
_UNKNOWN = Code("error", FAILED, FAILED)  # another status, or killed by a signal (< 0)


def outcome(rc: int, policy: str) -> Outcome:
    """What rsync's exit status `rc` means under `policy` ("sync" or "backup")."""
    return getattr(EXIT_CODES.get(rc, _UNKNOWN), policy)


def text(rc: int) -> str:
    return EXIT_CODES.get(rc, _UNKNOWN).text


def describe(rc: int, stderr: str) -> str:
    """`rsync exit N (meaning): the last lines rsync said` (backup's and restore's messages)."""
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    detail = "; ".join(lines[-3:]) if lines else (text(rc) if rc in EXIT_CODES else "")
    return f"rsync exit {rc} ({text(rc)}): {detail}"


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


def check_sync(result, remote, *, connect_timeout: float | None = None) -> None:
    """Raise the right wacket error for a sync rsync that did not end OK under policy SYNC
    (ssh failures become exit 3; a PARTIAL run the caller did not take apart is an error).

    When the connection failed before anything was transferred (ssh's 255, or 12 when rsync
    notices first), wacket connects the way its own sessions do, so a host key that is unknown
    or changed is reported with the same reason, fingerprint and hint as every other command;
    only a run that fails is charged that connection."""
    rc = result.rc
    said = outcome(rc, "sync")
    if said is OK:
        return
    text_ = b"".join(result.stderr)
    lines = result.error_lines
    if remote is not None and said is LINK:
        matched = [reason for rx, reason in _ssh_failures() if rx.search(text_)]
        # (A host that timed out is not asked again: that would only double the wait.)
        if rc in (SSH_FAILED, 12) and not result.records and matched[:1] != ["timeout"]:
            from wacket.transport.rsync.command import check_connection

            check_connection(remote, connect_timeout=connect_timeout)
        if matched:
            raise UnreachableError(remote.name, matched[0], _first_ssh_line(text_))
        raise UnreachableError(
            remote.name, "lost", (lines[-1] if lines else f"rsync exit status {rc}")
        )
    if rc < 0:
        raise WacketError(f"rsync was killed by signal {-rc}")
    detail = "; ".join(lines[:3]) or f"exit status {rc}"
    raise WacketError(f"rsync failed (exit {rc}): {detail}")


def _first_ssh_line(text_: bytes) -> str:
    for line in text_.splitlines():
        if line.startswith(b"ssh:") or b"denied" in line or b"verification" in line:
            return line.decode("utf-8", "replace").strip()
    return text_.decode("utf-8", "replace").strip().splitlines()[0] if text_.strip() else ""
