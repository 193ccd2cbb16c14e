"""One `wacket backup run` of a set: the snapshot under its journal entry, and its record."""

from __future__ import annotations

from wacket.errors import Exit
from wacket.output import human_bytes


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
