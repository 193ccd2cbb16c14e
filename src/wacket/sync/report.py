"""What one sync run did, for the CLI to render and the journal to record."""

from __future__ import annotations

from dataclasses import dataclass, field

from wacket.errors import Exit
from wacket.sync.totals import Totals


@dataclass
class Report:
    totals: Totals
    seconds: float
    errors: list[str] = field(default_factory=list)  # files not synced, one line each
    would_delete: int = 0  # one-way --delete: what the run deletes (or, dry, would)
    notes: list[str] = field(default_factory=list)  # for the user, on stderr
    summary: str = ""  # the one-line summary, set once the run is done

    @property
    def code(self) -> Exit:
        return Exit.PARTIAL if self.errors else Exit.OK
