"""`backup prune`: apply the keep policy on the target, safely.

Never removes the newest snapshot or the one being written (`.inprogress` is not a snapshot), and
refuses to run at all while the set's last run failed or was incomplete: a backup job that keeps failing must never
end up rotating away every good snapshot (the rsnapshot#33 disaster).
"""

from __future__ import annotations

from wacket import journal
from wacket.backup.retention import Decision, plan
from wacket.backup.sets import BackupSet
from wacket.backup.target import lock_set, resolve_target
from wacket.errors import Exit, WacketError


def prune_locked(helper, root: str, bset: BackupSet, dry_run: bool = False) -> list[Decision]:
    """With the set's lock held in `helper`: decide and delete."""
    listing = helper.call("backup.list", root=root)
    names = [s["snapshot"] for s in listing["snapshots"]]
    decisions = plan(names, bset.keep, bset.keep_within)
    doomed = [d.snapshot for d in decisions if not d.keep]
    if doomed and not dry_run:
        helper.call("backup.delete", root=root, names=doomed)
    return decisions


def last_run_failed(state: dict | None, name: str) -> str | None:
    """Why pruning must wait, or None: the target's record and this machine's journal agree."""
    state = state or {}
    if state.get("last_outcome") in ("failed", "partial"):
        return f"the last run {state['last_outcome'] == 'failed' and 'failed' or 'was incomplete'} ({state.get('last_message') or 'no detail'})"
    runs = [
        r
        for r in journal.query(command=f"backup run {name}")
        if r["command"] == f"backup run {name}"
    ]
    if runs and runs[-1]["outcome"] != "ok":
        return f"the last run from this machine did not succeed ({runs[-1]['summary'][:200]})"
    return None


def prune(pool, fleet, bset: BackupSet, *, dry_run: bool = False, force: bool = False):
    """(decisions newest first, target Location)."""
    if not bset.keep and bset.keep_within is None:
        raise WacketError(
            f"backup {bset.name} has no keep policy: add keep = {{ daily = 7, ... }} to [backup.{bset.name}]",
            Exit.USAGE,
        )
    target = resolve_target(pool, fleet, bset)
    helper = pool.session(target.host).helper()
    root = bset.root(target.path)
    if dry_run:
        listing = helper.call("backup.list", root=root)
        names = [s["snapshot"] for s in listing["snapshots"]]
        return plan(names, bset.keep, bset.keep_within), target
    locked = lock_set(helper, root, create=False)
    root = locked["root"]
    try:
        listing = helper.call("backup.list", root=root)
        why = last_run_failed(listing.get("state"), bset.name)
        if why and not force:
            raise WacketError(
                f"backup {bset.name}: not pruning: {why}; fix the backup first "
                "(or prune --force once you have checked the snapshots)"
            )
        return prune_locked(helper, root, bset), target
    finally:
        try:
            helper.call("backup.unlock", root=root)
        except Exception:
            pass


def prune_records(pool, fleet, bset: BackupSet, *, dry_run: bool, force: bool) -> list[dict]:
    """`prune`, under a journal entry "backup prune NAME" unless a dry run: a record per
    snapshot (keep, would remove, removed) with the buckets that keep it."""
    from wacket import jobrun

    if dry_run:
        decisions, _ = prune(pool, fleet, bset, dry_run=True)
    else:
        target = str(bset.target).split(":")[0]
        with jobrun.run(f"backup prune {bset.name}", [target]) as e:
            decisions, _ = prune(pool, fleet, bset, force=force)
            gone = [d.snapshot for d in decisions if not d.keep]
            e.summary = f"{bset.name}: removed {len(gone)}, kept {len(decisions) - len(gone)}"
    removed = "would remove" if dry_run else "removed"
    return [
        {"snapshot": d.snapshot, "action": "keep" if d.keep else removed, "reasons": d.reasons}
        for d in decisions
    ]
