"""Carrying out a two-way plan (or, for a dry run and --plan, only reporting it).

Carrying out, in order: conflict renames, moves into the trash, one rsync per direction for every
file to copy (`--files-from`, NUL-separated; what it overwrites goes to the run's own
.wacket-trash/<time>-<run>/ via `--backup-dir`), removal of emptied directories; then both sides
are stat'ed for the paths touched (the files written also hashed), and the state is written
(atomically) with what really arrived. A run killed at any point leaves the
old state, from which the next run finishes the job without loss or duplicates.
"""

from __future__ import annotations

import os
import time

from wacket.sync.itemize import Totals
from wacket.sync.planfile import Plan, kind_of, records, size_of
from wacket.sync.report import Report
from wacket.sync.trash import TRASH, TRASH_TMP, run_dir


def report_only(plan: Plan, a, b, emit, started: float, job) -> Report:
    """Dry run or --plan: the records, a note on the deletion guard, nothing changed."""
    totals = Totals()
    totals.hashed = plan.hashed
    report = Report(totals, 0.0)
    recs = records(plan)
    for rec in recs:
        totals.add(rec)
        emit(rec)
    report.errors = [r["message"] for r in recs if r["action"] == "error"]
    for side in (a, b):
        n = plan.deletes(side.name)
        limit = _limit(job, side)
        if n > limit and not job.force:
            report.notes.append(
                f"{side.label}: would delete {n} (limit {limit}): a real run stops before deleting"
            )
    if job.plan_file:
        report.notes.append(f"plan written to {job.plan_file}; carry it out with --apply")
    report.seconds = time.monotonic() - started
    return report


def _limit(job, side) -> int:
    from wacket.sync.oneway import default_limit

    return job.max_delete if job.max_delete is not None else default_limit(len(side.entries))


def guard(plan: Plan, a, b, job) -> None:
    from wacket.sync.oneway import GuardError

    if job.force:
        return
    for side in (a, b):
        n = plan.deletes(side.name)
        limit = _limit(job, side)
        if n > limit:
            raise GuardError(n, limit, side.label)


def carry_out(plan: Plan, a, b, state, job, emit, started, *, accept_new=False,
            connect_timeout=None, quiet=False, always_save=False) -> Report:  # fmt: skip
    from wacket.sync.sides import call, parallel
    from wacket.sync.state import drop_pending, same, write_pending

    sides = {"a": a, "b": b}
    other = {"a": "b", "b": "a"}
    totals = Totals()
    totals.hashed = plan.hashed
    report = Report(totals, 0.0)
    guard(plan, a, b, job)

    def out(rec: dict) -> None:
        totals.add(rec)
        emit(rec)

    def fail(path: str, side: str, message: str) -> None:
        report.errors.append(f"{path}: {message}")
        out({"action": "error", "kind": None, "size": None, "path": path, "side": side,
             "message": message})  # fmt: skip

    for side in ("a", "b"):
        for rel, message in plan.errors.get(side, []):
            fail(rel, side, f"not synced: {message}")

    renames = {"a": [], "b": []}
    trash_items = {"a": [], "b": []}
    rmdirs = {"a": [], "b": []}
    copies: list[dict] = []
    skip: set[str] = set()
    conflict_of: dict[str, dict] = {}
    for op in plan.ops:
        kind = op["op"]
        if kind == "rename":
            renames[op["on"]].append([op["path"], op["to"], op["sig"]])
        elif kind == "delete":
            if op["sig"][0] == "d":
                rmdirs[op["on"]].append(op["path"])
            else:
                trash_items[op["on"]].append([op["path"], op["sig"]])
        elif kind == "copy":
            copies.append(op)
            if op.get("replace"):
                trash_items[other[op["from"]]].append([op["path"], op["replace"]])
        elif kind == "conflict":
            conflict_of[op["path"]] = op

    # 1. conflict renames (the loser steps aside under its conflict name)
    done = parallel([lambda s=s: call(sides[s], "sync.rename", root=sides[s].root,
                                       items=renames[s]) if renames[s] else None
                     for s in ("a", "b")])  # fmt: skip
    for s, res in zip(("a", "b"), done, strict=True):
        for rel, why in (res or {}).get("skipped", []):
            fail(rel, s, f"conflict left for the next run: {why}")
            skip.add(rel)
            if rel in conflict_of and conflict_of[rel].get("kept_as"):
                skip.add(conflict_of[rel]["kept_as"])
    # 2. deleted files and replaced kinds go to the trash
    bin_dir = run_dir(plan.stamp)
    moved = parallel([lambda s=s: call(sides[s], "sync.trash", root=sides[s].root,
                                        stamp=bin_dir, items=trash_items[s])
                      if trash_items[s] else None for s in ("a", "b")])  # fmt: skip
    for s, res in zip(("a", "b"), moved, strict=True):
        for rel, why in (res or {}).get("skipped", []):
            if why != "gone":
                fail(rel, s, f"kept: {why}")
                skip.add(rel)
    # 3. one rsync per direction, once the state's sidecar says what is being copied where
    for rec in records(plan):
        if rec["action"] == "conflict" and rec["path"] not in skip:
            out(rec)
    by_dir = {"a": [], "b": []}
    for op in copies:
        if op["path"] not in skip:
            by_dir[op["from"]].append(op)
    from wacket.sync.progress import Progress

    # path -> (the side copied to, the signature it will have there, what stands there now)
    pending = {}
    for d in by_dir.values():
        for op in d:
            to = other[op["from"]]
            before = sides[to].entries.get(op["path"])
            pending[op["path"]] = (to, tuple(op["sig"]), tuple(before) if before else None)
    if pending:
        write_pending(state, pending)
    bar = Progress(f"{a.label} <-> {b.label}", total=len(by_dir["a"]) + len(by_dir["b"]),
                   quiet=quiet)  # fmt: skip
    try:
        results = parallel([
            lambda s=s: _transfer(sides[s], sides[other[s]], [op["path"] for op in by_dir[s]],
                                  bin_dir, job, bar.update, accept_new, connect_timeout)
            if by_dir[s] else None
            for s in ("a", "b")
        ])  # fmt: skip
    finally:
        bar.close()
    rsync_errors = {}
    for s, res in zip(("a", "b"), results, strict=True):
        if res is not None:
            for line in res.error_lines:
                if not line.startswith("rsync error:"):
                    rsync_errors.setdefault(s, []).append(line)
    # 4. directories deleted on the other side, if empty now
    parallel([lambda s=s: call(sides[s], "sync.rmdirs", root=sides[s].root, paths=rmdirs[s])
              if rmdirs[s] else None for s in ("a", "b")])  # fmt: skip

    # 5. what really arrived becomes the new state (with the content hash of what was written)
    touched = sorted({op["path"] for op in plan.ops if op["op"] in ("copy", "delete")})
    written = {s: [op["path"] for op in by_dir[other[s]]] for s in ("a", "b")}
    posts = parallel([lambda s=s: call(sides[s], "sync.stat", root=sides[s].root, paths=touched,
                                        hash=written[s])
                      if touched else {"sigs": [], "hashes": {}} for s in ("a", "b")])  # fmt: skip
    post = {s: dict(zip(touched, [tuple(x) if x else None for x in posts[i]["sigs"]], strict=True))
            for i, s in enumerate(("a", "b"))}  # fmt: skip
    arrived = {s: posts[i]["hashes"] for i, s in enumerate(("a", "b"))}
    sa, sb, hashes = state.sa, state.sb, state.hashes

    def seen(s: str, p: str):
        """The scan's signature, its ctime left unknown where the scan was too soon to tell."""
        sig = sides[s].entries[p]
        return sig[:4] + (None,) if p in sides[s].racy and sig[0] == "f" else sig

    def put(p, x, y):
        sa[p], sb[p] = x, y

    def pop(p):
        sa.pop(p, None)
        sb.pop(p, None)
        hashes.pop(p, None)

    for p in plan.same:
        put(p, seen("a", p), seen("b", p))
        if p in plan.hashes:
            hashes[p] = plan.hashes[p]
        else:
            hashes.pop(p, None)
    for p in plan.refresh:
        put(p, seen("a", p), seen("b", p))
        if p in plan.hashes:
            hashes[p] = plan.hashes[p]
    for p in plan.drop:
        pop(p)
    for op in plan.ops:
        p = op["path"]
        if op["op"] == "copy":
            if p in skip:
                continue
            src, dst = op["from"], other[op["from"]]
            expect, got = tuple(op["sig"]), post[dst][p]
            if got is not None and same(got, expect):
                if p in sides[src].racy and expect[0] == "f":
                    expect = expect[:4] + (None,)
                put(p, *((expect, got) if src == "a" else (got, expect)))
                if p in arrived[dst]:
                    hashes[p] = arrived[dst][p]
                else:
                    hashes.pop(p, None)
                if not op.get("conflict"):
                    sig = op["sig"]
                    out({"action": op["action"], "kind": kind_of(sig), "size": size_of(sig),
                         "path": p, "side": f"{src}->{dst}"})  # fmt: skip
            else:
                why = "; ".join(rsync_errors.get(src, [])[:1]) or "changed while copying"
                fail(p, dst, f"not copied: {why}")
        elif op["op"] == "delete":
            on = op["on"]
            if post[on][p] is None:
                if post[other[on]][p] is None:
                    pop(p)
                out({"action": "delete", "kind": kind_of(op["sig"]), "size": size_of(op["sig"]),
                     "path": p, "side": on})  # fmt: skip
            elif op["sig"][0] == "d":
                report.notes.append(f"{sides[on].label}: kept directory {p}: it holds new files")
    changed = plan.ops or plan.same or plan.drop or plan.refresh or not state.exists or always_save
    if changed:
        state.save()
        drop_pending(state)
    report.seconds = time.monotonic() - started
    return report


def _transfer(src, dst, paths, bin_dir, job, on_record, accept_new, connect_timeout):
    """One rsync copying `paths` (relative to both roots) from src to dst; what it replaces goes
    to the run's trash directory `bin_dir`."""
    from wacket.sync import rsync

    remote = None
    if not src.ep.is_local:
        remote = src.ep.host
    elif not dst.ep.is_local:
        remote = dst.ep.host
    args = rsync.base_args(remote, accept_new=accept_new, connect_timeout=connect_timeout,
                           secluded=True)  # fmt: skip
    args += ["--files-from=-", "--from0", "--ignore-times", "--backup",
             f"--backup-dir={TRASH}/{bin_dir}", f"--temp-dir={TRASH_TMP}"]  # fmt: skip
    if job.compress:
        args.append("--compress")
    if job.bwlimit:
        args.append(f"--bwlimit={job.bwlimit}")
    args += ["--", src.spec(), dst.spec()]
    data = b"".join(os.fsencode(p) + b"\0" for p in paths)
    res = rsync.run(args, on_record, input=data)
    if res.rc not in (0, 23, 24):
        rsync.check(res, remote, connect_timeout=connect_timeout)
    return res
