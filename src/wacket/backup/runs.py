"""One `wacket backup run` of a set: the snapshot under its journal entry, and its record."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from wacket.errors import Exit, WacketError
from wacket.output import human_bytes

COLUMNS = ["set", "snapshot", "files", "added_files", "added", "total", "seconds", "outcome"]


@dataclass
class SetRun:
    """One set's part of a `backup run`: its record, the error that stopped it (said before the
    record) or the problem of a snapshot made anyway (said after), a note, and its exit code."""

    record: dict
    code: Exit = Exit.OK
    error: str | None = None
    problem: str | None = None
    note: str | None = None


def hosts_of(bset) -> list[str]:
    """The machines a run of the set touches: its sources' and its target's."""
    return sorted({s.host.name for s in bset.sources} | {str(bset.target).split(":")[0]})


def run_set(pool, fleet, bset, **options):
    """Back the set up (`snapshots.run_backup` with `options`), recorded in the journal as
    "backup run NAME": ok, or partial when the snapshot was made but something failed."""
    from wacket import jobrun
    from wacket.backup.snapshots import run_backup

    with jobrun.run(f"backup run {bset.name}", hosts_of(bset)) as entry:
        res = run_backup(pool, fleet, bset, **options)
        entry.summary = (
            f"{bset.name}: {res.snapshot} on {res.target}: {res.files} files, "
            f"{human_bytes(res.added_bytes)} added"
            + (f"; pruned {len(res.pruned)}" if res.pruned else "")
            + (f"; {res.message}" if res.message else "")
        )
        entry.finish(Exit.OK if res.outcome == "ok" else Exit.PARTIAL)
    return res


def record(res, human: bool) -> dict:
    """The run's record; `human` (table, plain) shows sizes as 1.2 MiB."""
    rec = res.record()
    rec["added"] = human_bytes(res.added_bytes) if human else res.added_bytes
    rec["total"] = human_bytes(res.bytes) if human else res.bytes
    rec["pruned"] = res.pruned
    return rec


def run_sets(pool, fleet, todo, human: bool, **options) -> Iterator[SetRun]:
    """Run each set of `todo` in turn (`run_set`); a set that fails does not stop the others."""
    for bset in todo:
        try:
            res = run_set(pool, fleet, bset, **options)
        except WacketError as exc:
            rec = {"set": bset.name, "outcome": "failed", "message": str(exc)}
            yield SetRun(rec, exc.code, error=str(exc))
            continue
        done = SetRun(record(res, human))
        if res.outcome != "ok":
            done.problem = f"backup {bset.name}: snapshot {res.snapshot} made, but {res.message}"
            done.code = Exit.PARTIAL
        elif res.pruned:
            done.note = (
                f"{bset.name}: pruned {len(res.pruned)} snapshot(s): {', '.join(res.pruned)}"
            )
        yield done
