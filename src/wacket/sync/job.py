"""A sync job: what to sync and how, from the command line or a [sync.NAME] profile (see run.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

MODES = ("one-way", "two-way")
CONFLICT_POLICIES = ("keep-both", "newer", "a", "b")


@dataclass
class Job:
    a: str
    b: str
    mode: str = "one-way"
    name: str | None = None  # the profile's name
    excludes: list[str] = field(default_factory=list)
    exclude_from: str | None = None
    delete: bool = False
    dry_run: bool = False
    checksum: bool = False
    bwlimit: str | None = None
    partial: bool = False
    compress: bool = False
    max_delete: int | None = None
    force: bool = False
    conflict: str = "keep-both"
    trash_days: float = 30.0
    plan_file: str | None = None

    @property
    def title(self) -> str:
        return self.name or f"{self.a} {self.b}"

    def lock_name(self) -> str:
        if self.name:
            return f"sync-{self.name}"
        import hashlib

        digest = hashlib.sha256(f"{self.a}\0{self.b}".encode("utf-8", "surrogateescape"))
        return f"sync-pair-{digest.hexdigest()[:16]}"
