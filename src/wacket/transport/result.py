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
