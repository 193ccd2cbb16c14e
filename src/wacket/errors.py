"""One error type and the documented exit codes, so every failure is one line and a known status."""

from __future__ import annotations

import enum


class Exit(enum.IntEnum):
    """Exit statuses of every wacket command (documented in wacket(1))."""

    OK = 0
    PARTIAL = 1  # some host or item failed; the rest was done
    USAGE = 2  # bad arguments or configuration
    UNREACHABLE = 3  # a host could not be reached or refused authentication
    LOCKED = 4  # another run holds the lock
    INTERRUPTED = 130  # SIGINT (Ctrl-C): 128 + 2
    TERMINATED = 143  # SIGTERM or SIGHUP: 128 + 15


class WacketError(Exception):
    """An expected failure: printed as one line on stderr, exits with `code`."""

    code: Exit = Exit.PARTIAL

    def __init__(self, message: str, code: Exit | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code


class ConfigError(WacketError):
    code = Exit.USAGE


class HostError(WacketError):
    """A failure on one host. The message starts with the host's name; `what` is the rest, for a
    report that shows the name already (a fan-out's line or record per host)."""

    def __init__(self, host: str, what: str, code: Exit | None = None):
        self.host = host
        self.what = what
        super().__init__(f"{host}: {what}", code)


class UnreachableError(HostError):
    """A host could not be reached; `reason` is one of refused, timeout, auth, host key, dns, error."""

    code = Exit.UNREACHABLE

    def __init__(self, host: str, reason: str, detail: str = ""):
        self.reason = reason
        self.detail = detail
        super().__init__(host, f"unreachable ({reason})" + (f": {detail}" if detail else ""))


class LockedError(WacketError):
    code = Exit.LOCKED


# The kinds of failure the remote helper's ops report (`HelperError.kind`, and `OpError.kind`
# where the same op code runs in-process), and the exit code each means; any other kind (lost,
# start, no-python, timeout, no-backend, ...) is a failure of that host or item: 1. A command may
# say more about a kind than its code (sync turns "lost" into an UnreachableError, backup turns
# "locked" into a LockedError naming the holder), never a different code, with one exception:
# the clip ops send "busy" for a clipboard that kept changing while read (1, see clip/impl.py).
HELPER_KINDS: dict[str, Exit] = {
    "usage": Exit.USAGE,  # an argument the host refused (clip, gpio)
    "range": Exit.USAGE,  # no such clipboard ring entry
    "unknown-line": Exit.USAGE,  # gpio: no such pin or line
    "input-pin": Exit.USAGE,  # gpio: a write to a line that is an input
    "missing": Exit.USAGE,  # sync: a pair's root is not there
    "notdir": Exit.USAGE,  # sync: a pair's root is not a directory
    "create": Exit.USAGE,  # sync: a pair's root could not be created
    "no-target": Exit.USAGE,  # backup: the target directory does not exist
    "locked": Exit.LOCKED,  # the clipboard ring or a backup set is held by another run
    "busy": Exit.LOCKED,  # gpio: the line is in use by another consumer
}


def kind_exit(kind: str) -> Exit:
    """The exit code a helper error of `kind` means (HELPER_KINDS; 1 for any other kind)."""
    return HELPER_KINDS.get(kind, Exit.PARTIAL)
