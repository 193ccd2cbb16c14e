"""What running something on a host gives back; fan-out keeps one per host so partial failure is data."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from wacket.errors import Exit


@dataclass
class Result:
    host: str
    rc: int | None
    stdout: bytes = b""
    stderr: bytes = b""
    seconds: float = 0.0
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.timed_out


@dataclass
class HostResult:
    """The value a host produced, or the error that stopped it."""

    host: str
    value: Any = None
    error: BaseException | None = None
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def unreachable(self) -> bool:
        from wacket.errors import UnreachableError

        return isinstance(self.error, UnreachableError)

    @property
    def state(self) -> str:
        return "ok" if self.ok else "unreachable" if self.unreachable else "failed"

    @property
    def why(self) -> str:
        """What stopped the host, without its name: whoever reports it shows the name once."""
        from wacket.errors import WacketError

        err = self.error
        if getattr(err, "host", None) == self.host and getattr(err, "what", ""):
            return err.what  # a HostError, or one that names its host the same way
        return str(err) if isinstance(err, WacketError) else f"{type(err).__name__}: {err}"

    def record(self) -> dict:
        """A host that gave no rows as a record of its own: reached with nothing there, or why
        it could not be asked."""
        if self.ok:
            return {"host": self.host, "state": "none", "rows": 0}
        rec = {"host": self.host, "state": self.state, "error": self.why}
        if self.unreachable:
            rec["reason"] = self.error.reason
        return rec


class Policy(enum.Enum):
    """How a fan-out command turns its hosts' outcomes into one exit code. Each is the rule a
    command has always had (kept exactly; documented in its man page's exit status)."""

    # 3 if a host was unreachable, else 1 if any host failed (hosts services, backup drives,
    # msg send, find index).
    WORST = "worst"
    # 3 only if every failure was an unreachable host, else 1 (clip copy --to, links merge).
    ALL_DOWN = "all-down"
    # the last failing host in host order decides: 3 if it was unreachable, else 1 (log --from,
    # links sources --discover, clip backends).
    LAST = "last"
    # the highest of the errors' own exit codes, 1 for one without (gpio: a busy line is 4).
    OWN_CODES = "own-codes"
    # 3 if any host gave no result at all, whatever stopped it (run: 1 is a command that failed).
    NO_RESULT = "no-result"


class HostResults(list):
    """Every host's HostResult of one fan-out (as fabric's GroupResult): the exit code under a
    command's policy and the "host(reason)" part of its summary (`journal.Entry.finish` turns
    the code into the journal's outcome)."""

    @property
    def succeeded(self) -> list[HostResult]:
        return [r for r in self if r.ok]

    @property
    def failed(self) -> list[HostResult]:
        return [r for r in self if not r.ok]

    def exit_code(self, policy: Policy, partial: bool = False) -> int:
        """The command's exit code; `partial` is a failure the results do not show (a command
        that ran but failed, unreadable entries), which makes an otherwise clean run 1."""
        failed = self.failed
        code = Exit.PARTIAL if partial else Exit.OK
        if not failed:
            return code
        if policy is Policy.WORST:
            return Exit.UNREACHABLE if any(r.unreachable for r in failed) else Exit.PARTIAL
        if policy is Policy.ALL_DOWN:
            return Exit.UNREACHABLE if all(r.unreachable for r in failed) else Exit.PARTIAL
        if policy is Policy.LAST:
            return Exit.UNREACHABLE if failed[-1].unreachable else Exit.PARTIAL
        if policy is Policy.OWN_CODES:
            return max(int(getattr(r.error, "code", Exit.PARTIAL)) for r in failed)
        return Exit.UNREACHABLE  # NO_RESULT

    def reasons(self, sep: str = ",") -> str:
        """The failed hosts as `host(reason)`, the way the journal's summaries list them."""
        return sep.join(f"{r.host}({getattr(r.error, 'reason', 'error')})" for r in self.failed)
