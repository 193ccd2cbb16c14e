"""What running something on a host gives back; fan-out keeps one per host so partial failure is data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
