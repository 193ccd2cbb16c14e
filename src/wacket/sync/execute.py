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

from wacket.sync.planfile import Plan, kind_of, records, size_of
from wacket.sync.report import Report
from wacket.sync.totals import Totals
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


SIDES = ("a", "b")
OTHER = {"a": "b", "b": "a"}


def carry_out(plan: Plan, a, b, state, job, emit, started, *, accept_new=False,
              connect_timeout=None, quiet=False, always_save=False) -> Report:  # fmt: skip
    """The plan's steps in order (see the module's docstring); the state is saved last."""
    from wacket.sync.state import drop_pending

    run = _Run(plan, a, b, emit)
    guard(plan, a, b, job)
    for side in SIDES:
        for rel, message in plan.errors.get(side, []):
            run.fail(rel, side, f"not synced: {message}")
    run.rename()
    bin_dir = run_dir(plan.stamp)
    run.trash(bin_dir)
    for rec in records(plan):
        if rec["action"] == "conflict" and rec["path"] not in run.skip:
            run.out(rec)
    rsync_errors = run.transfer(state, bin_dir, job, quiet, accept_new, connect_timeout)
    run.on_each("sync.rmdirs", lambda s: {"paths": run.rmdirs[s]} if run.rmdirs[s] else None)
    run.new_state(state, rsync_errors)
    changed = plan.ops or plan.same or plan.drop or plan.refresh or not state.exists or always_save
    if changed:
        state.save()
        drop_pending(state)
    run.report.seconds = time.monotonic() - started
    return run.report


class _Run:
    """One plan being carried out: its ops sorted by step and side, the records it emits, and
    the paths a step left for the next run (`skip`)."""

    def __init__(self, plan: Plan, a, b, emit):
        self.plan, self.sides, self.emit = plan, {"a": a, "b": b}, emit
        self.report = Report(Totals(), 0.0)
        self.report.totals.hashed = plan.hashed
        self.renames = {"a": [], "b": []}
        self.trash_items = {"a": [], "b": []}
        self.rmdirs = {"a": [], "b": []}
        self.copies: list[dict] = []
        self.by_dir = {"a": [], "b": []}
        self.skip: set[str] = set()
        self.conflict_of: dict[str, dict] = {}
        for op in plan.ops:
            kind = op["op"]
            if kind == "rename":
                self.renames[op["on"]].append([op["path"], op["to"], op["sig"]])
            elif kind == "delete":
                if op["sig"][0] == "d":
                    self.rmdirs[op["on"]].append(op["path"])
                else:
                    self.trash_items[op["on"]].append([op["path"], op["sig"]])
            elif kind == "copy":
                self.copies.append(op)
                if op.get("replace"):
                    self.trash_items[OTHER[op["from"]]].append([op["path"], op["replace"]])
            elif kind == "conflict":
                self.conflict_of[op["path"]] = op

    def out(self, rec: dict) -> None:
        self.report.totals.add(rec)
        self.emit(rec)

    def fail(self, path: str, side: str, message: str) -> None:
        self.report.errors.append(f"{path}: {message}")
        self.out({"action": "error", "kind": None, "size": None, "path": path, "side": side,
                  "message": message})  # fmt: skip

    def on_each(self, op: str, args_of) -> list:
        """The helper's `op` on both sides at once, with args_of(side) (None: not on that side)."""
        from wacket.sync.sides import call, parallel

        def one(s: str):
            args = args_of(s)
            return None if args is None else call(self.sides[s], op, root=self.sides[s].root,
                                                   **args)  # fmt: skip

        return parallel([lambda s=s: one(s) for s in SIDES])

    def rename(self) -> None:
        """1. conflict renames (the loser steps aside under its conflict name)"""
        done = self.on_each("sync.rename",
                            lambda s: {"items": self.renames[s]} if self.renames[s] else None)  # fmt: skip
        for s, res in zip(SIDES, done, strict=True):
            for rel, why in (res or {}).get("skipped", []):
                self.fail(rel, s, f"conflict left for the next run: {why}")
                self.skip.add(rel)
                if rel in self.conflict_of and self.conflict_of[rel].get("kept_as"):
                    self.skip.add(self.conflict_of[rel]["kept_as"])

    def trash(self, bin_dir: str) -> None:
        """2. deleted files and replaced kinds go to the trash"""
        items = self.trash_items
        moved = self.on_each("sync.trash",
                             lambda s: {"stamp": bin_dir, "items": items[s]} if items[s] else None)  # fmt: skip
        for s, res in zip(SIDES, moved, strict=True):
            for rel, why in (res or {}).get("skipped", []):
                if why != "gone":
                    self.fail(rel, s, f"kept: {why}")
                    self.skip.add(rel)

    def transfer(self, state, bin_dir, job, quiet, accept_new, connect_timeout) -> dict:
        """3. one rsync per direction, once the state's sidecar says what is being copied where;
        returns rsync's error lines per side copied from."""
        from wacket.sync.progress import Progress
        from wacket.sync.sides import parallel
        from wacket.sync.state import write_pending

        by_dir, sides = self.by_dir, self.sides
        for op in self.copies:
            if op["path"] not in self.skip:
                by_dir[op["from"]].append(op)
        # path -> (the side copied to, the signature it will have there, what stands there now)
        pending = {}
        for d in by_dir.values():
            for op in d:
                to = OTHER[op["from"]]
                before = sides[to].entries.get(op["path"])
                pending[op["path"]] = (to, tuple(op["sig"]), tuple(before) if before else None)
        if pending:
            write_pending(state, pending)
        bar = Progress(f"{sides['a'].label} <-> {sides['b'].label}",
                       total=len(by_dir["a"]) + len(by_dir["b"]), quiet=quiet)  # fmt: skip
        try:
            results = parallel([
                lambda s=s: _transfer(sides[s], sides[OTHER[s]], [op["path"] for op in by_dir[s]],
                                      bin_dir, job, bar.update, accept_new, connect_timeout)
                if by_dir[s] else None
                for s in SIDES
            ])  # fmt: skip
        finally:
            bar.close()
        rsync_errors = {}
        for s, res in zip(SIDES, results, strict=True):
            if res is not None:
                for line in res.error_lines:
                    if not line.startswith("rsync error:"):
                        rsync_errors.setdefault(s, []).append(line)
        return rsync_errors

    def new_state(self, state, rsync_errors: dict) -> None:
        """5. what really arrived becomes the new state (with the content hash of what was
        written); the records of copies and deletions are emitted as they are found done."""
        plan, sides = self.plan, self.sides
        touched = sorted({op["path"] for op in plan.ops if op["op"] in ("copy", "delete")})
        written = {s: [op["path"] for op in self.by_dir[OTHER[s]]] for s in SIDES}
        if touched:
            posts = self.on_each("sync.stat", lambda s: {"paths": touched, "hash": written[s]})
        else:
            posts = [{"sigs": [], "hashes": {}} for _ in SIDES]
        post = {s: dict(zip(touched, [tuple(x) if x else None for x in posts[i]["sigs"]],
                            strict=True))
                for i, s in enumerate(SIDES)}  # fmt: skip
        arrived = {s: posts[i]["hashes"] for i, s in enumerate(SIDES)}
        hashes = state.hashes

        def seen(s: str, p: str):
            """The scan's signature, its ctime left unknown where the scan was too soon to tell."""
            sig = sides[s].entries[p]
            return sig[:4] + (None,) if p in sides[s].racy and sig[0] == "f" else sig

        for p in plan.same:
            state.sa[p], state.sb[p] = seen("a", p), seen("b", p)
            if p in plan.hashes:
                hashes[p] = plan.hashes[p]
            else:
                hashes.pop(p, None)
        for p in plan.refresh:
            state.sa[p], state.sb[p] = seen("a", p), seen("b", p)
            if p in plan.hashes:
                hashes[p] = plan.hashes[p]
        for p in plan.drop:
            _forget(state, p)
        for op in plan.ops:
            if op["op"] == "copy" and op["path"] not in self.skip:
                self._copied(op, state, post, arrived, rsync_errors)
            elif op["op"] == "delete":
                self._deleted(op, state, post)

    def _copied(self, op: dict, state, post: dict, arrived: dict, rsync_errors: dict) -> None:
        from wacket.sync.state import same

        p, src, dst = op["path"], op["from"], OTHER[op["from"]]
        expect, got = tuple(op["sig"]), post[dst][p]
        if got is None or not same(got, expect):
            why = "; ".join(rsync_errors.get(src, [])[:1]) or "changed while copying"
            self.fail(p, dst, f"not copied: {why}")
            return
        if p in self.sides[src].racy and expect[0] == "f":
            expect = expect[:4] + (None,)
        state.sa[p], state.sb[p] = (expect, got) if src == "a" else (got, expect)
        if p in arrived[dst]:
            state.hashes[p] = arrived[dst][p]
        else:
            state.hashes.pop(p, None)
        if not op.get("conflict"):
            sig = op["sig"]
            self.out({"action": op["action"], "kind": kind_of(sig), "size": size_of(sig),
                      "path": p, "side": f"{src}->{dst}"})  # fmt: skip

    def _deleted(self, op: dict, state, post: dict) -> None:
        p, on = op["path"], op["on"]
        if post[on][p] is None:
            if post[OTHER[on]][p] is None:
                _forget(state, p)
            self.out({"action": "delete", "kind": kind_of(op["sig"]), "size": size_of(op["sig"]),
                      "path": p, "side": on})  # fmt: skip
        elif op["sig"][0] == "d":
            self.report.notes.append(
                f"{self.sides[on].label}: kept directory {p}: it holds new files"
            )


def _forget(state, p: str) -> None:
    state.sa.pop(p, None)
    state.sb.pop(p, None)
    state.hashes.pop(p, None)


def _transfer(src, dst, paths, bin_dir, job, on_record, accept_new, connect_timeout):
    """One rsync copying `paths` (relative to both roots) from src to dst; what it replaces goes
    to the run's trash directory `bin_dir`."""
    from wacket.transport import rsync

    remote = None
    if not src.ep.is_local:
        remote = src.ep.host
    elif not dst.ep.is_local:
        remote = dst.ep.host
    args = rsync.sync_args(remote, accept_new=accept_new, connect_timeout=connect_timeout,
                           secluded=True)  # fmt: skip
    args += ["--files-from=-", "--from0", "--ignore-times", "--backup",
             f"--backup-dir={TRASH}/{bin_dir}", f"--temp-dir={TRASH_TMP}"]  # fmt: skip
    if job.compress:
        args.append("--compress")
    if job.bwlimit:
        args.append(f"--bwlimit={job.bwlimit}")
    args += ["--", src.spec(), dst.spec()]
    data = b"".join(os.fsencode(p) + b"\0" for p in paths)
    res = rsync.run(args, rsync.records(on_record), input=data)
    if rsync.outcome(res.rc, "sync") not in (rsync.Outcome.OK, rsync.Outcome.PARTIAL):
        rsync.check_sync(res, remote, connect_timeout=connect_timeout)
    return res
