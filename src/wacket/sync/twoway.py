"""Two-way sync: scan both sides, decide (decide.py), carry the plan out (execute.py), keep the
listings; and --apply, which carries out a plan written by --plan if neither side changed since."""

from __future__ import annotations

import contextlib
import time

from wacket.errors import WacketError
from wacket.sync import execute, planfile
from wacket.sync.decide import changed_paths, decide, known_hashes, resolve_checks, verify
from wacket.sync.endpoints import Endpoint, check_pair
from wacket.sync.report import Report
from wacket.sync.sides import (
    Side,
    apply_diff,
    commit,
    excludes_of,
    hasher,
    parallel,
    read_excludes,
    scan,
    scan_sides,
)
from wacket.sync.state import Sig, State, same
from wacket.sync.totals import Totals
from wacket.sync.trash import stamp


def _landed(got: Sig, sig: Sig, before: Sig | None) -> bool:
    """Is `got` the copy a killed run meant to put where `before` stood? rsync puts a file in
    place under a new inode; the old file, still on its inode, is not the copy even when it
    shares the copy's size and mtime (it may hold other bytes, and its ctime may have moved)."""
    if not same(got, sig):
        return False
    if before is not None and got[0] == before[0] == "f" and len(got) > 3 and len(before) > 3:
        return got[3] != before[3]
    return got != before


def take_pending(state: State, A: dict, B: dict) -> int:
    """Copies a killed run made before it could save the state: where the copy is still there
    unchanged, both sides had that version after all, so it is their base (else the user's next
    edit of the file would meet wacket's own copy as an edit on the other side: a conflict).
    Returns how many were taken."""
    from wacket.sync.state import read_pending

    taken = 0
    for p, (dst, sig, before) in read_pending(state).items():
        got = (A if dst == "a" else B).get(p)
        if got is not None and _landed(got, tuple(sig), before):
            base = (tuple(sig), got) if dst == "b" else (got, tuple(sig))
            state.sa[p], state.sb[p] = base
            taken += 1
    return taken


def sync_twoway(a_ep: Endpoint, b_ep: Endpoint, job, pool, emit, *, accept_new=False,
                connect_timeout=None, quiet=False):  # fmt: skip
    """Scan, decide, then (unless dry run or --plan) carry the plan out and save the state."""
    from wacket.sync import state as statemod

    check_pair(a_ep, b_ep, two_way=True)
    started = time.monotonic()
    a, b = Side("a", a_ep), Side("b", b_ep)
    pid, gens = scan_sides(a, b, pool, job, use_cache=True)
    with pair_lock(pid, a, b):
        quiet_sides = all(s.mode == "diff" and not s.diff and not s.errors for s in (a, b))
        if quiet_sides and not job.plan_file and statemod.state_file(pid).exists():
            # Neither side differs from the listing of the last good sync: nothing to do, and
            # the state need not even be read.
            return Report(Totals(), time.monotonic() - started)
        state = State.load(pid, a.label, b.label)
        stale = [s for s in (a, b) if s.mode == "diff" and state.gens != gens]
        if stale:  # the sides' listings are not the state's: ask for whole listings
            kw = excludes_of(job)
            parallel([lambda s=s: scan(s, excludes=kw, key=s.key, gen=None) for s in stale])
        for s, base in ((a, state.sa), (b, state.sb)):
            if s.mode == "diff":
                apply_diff(s, base)
        if take_pending(state, a.entries, b.entries) and not (job.dry_run or job.plan_file):
            # Saved at once: this run's own copies replace the sidecar, and a second kill must
            # not forget what the first one landed. (No listing cache survives a killed run.)
            state.gens = None
            state.save()
            statemod.drop_pending(state)
        plan = make_plan(a, b, state, job)
        if job.plan_file:
            planfile.write(plan, job.plan_file)
        if job.dry_run or job.plan_file:
            return execute.report_only(plan, a, b, emit, started, job)
        # The listing caches are valid only once state, both sides and the .gen file agree:
        # drop the .gen file first, so a run killed in between falls back to whole listings.
        statemod.drop_gens(pid)
        new = {"a": statemod.new_gen(), "b": statemod.new_gen()}
        state.gens = new
        report = execute.carry_out(plan, a, b, state, job, emit, started, accept_new=accept_new,
                                 connect_timeout=connect_timeout, quiet=quiet,
                                 always_save=True)  # fmt: skip
        try:
            parallel([lambda: commit(a, state.sa, new["a"]), lambda: commit(b, state.sb, new["b"])])
            statemod.write_gens(pid, new)
        except WacketError as exc:  # the sync is done; the next run just lists both sides whole
            report.notes.append(f"listing cache not updated ({exc})")
        report.seconds = time.monotonic() - started
        return report


def make_plan(a: Side, b: Side, state: State, job):
    from wacket.sync.state import fingerprint

    when = stamp()
    hosts = {"a": a.conflict_host, "b": b.conflict_host}
    first = not state.exists
    policy = job.conflict or "keep-both"
    A, B = a.entries, b.entries
    keys = changed_paths(A, B, state.sa, state.sb) if state.sa else set(A) | set(B)
    hash_both = hasher(a, b)
    v = verify(A, B, state, keys, hash_both)
    d = decide(A, B, state.sa, state.sb, first_run=first, policy=policy, a_errors=a.errors,
               b_errors=b.errors, when=when, hosts=hosts, edited=v.edited, keys=keys)  # fmt: skip
    resolve_checks(d, A, B, "keep-both" if first else policy, when, hosts, d.taken, v, hash_both)
    fa = fingerprint(a.entries) if job.plan_file else ""
    fb = fingerprint(b.entries) if job.plan_file else ""
    return planfile.Plan(
        a={"host": a.ep.host.name, "root": a.root, "label": a.label, "fingerprint": fa},
        b={"host": b.ep.host.name, "root": b.root, "label": b.label, "fingerprint": fb},
        stamp=when, ops=d.ops, same=d.same, drop=d.drop, refresh=d.refresh,
        hashes=known_hashes(d, v), hashed=v.count, first_run=first,
        state_digest=state.digest, errors={"a": a.errors, "b": b.errors},
        options={"excludes": list(job.excludes) + read_excludes(job.exclude_from),
                 "conflict": policy, "force": job.force, "max_delete": job.max_delete},
    )  # fmt: skip


def pair_lock(pid: str, a: Side, b: Side):
    """One run per pair at a time, however its sides were spelled (the profile lock is by name)."""
    from wacket.lock import job_lock

    return job_lock(f"sync-pair-{pid}")


@contextlib.contextmanager
def applying(plan_file, fleet, pool, *, accept_new=False, connect_timeout=None):
    """`wacket sync --apply FILE`: exactly that plan, refused if either side changed since.

    Takes the locks, opens the journal entry and checks both sides against the plan; yields a
    function that carries the plan out (given where its records go) and returns the Report."""
    from wacket import jobrun
    from wacket.sync import endpoints
    from wacket.sync.job import Job
    from wacket.sync.state import drop_gens

    plan = planfile.read(plan_file)
    started = time.monotonic()
    a_ep = endpoints.parse(f"{plan.a['host']}:{plan.a['root']}", fleet)
    b_ep = endpoints.parse(f"{plan.b['host']}:{plan.b['root']}", fleet)
    opts = plan.options or {}
    job = Job(a_ep.label, b_ep.label, mode="two-way", excludes=opts.get("excludes", []),
              conflict=opts.get("conflict", "keep-both"), force=opts.get("force", False),
              max_delete=opts.get("max_delete"))  # fmt: skip
    hosts = list(dict.fromkeys([a_ep.host.name, b_ep.host.name]))
    with contextlib.ExitStack() as stack:
        entry = stack.enter_context(jobrun.run("sync", hosts, locks=[job.lock_name()]))
        entry.summary = f"apply {plan_file}: "
        a, b = Side("a", a_ep), Side("b", b_ep)
        pid, _ = scan_sides(a, b, pool, job)
        stack.enter_context(pair_lock(pid, a, b))
        state = State.load(pid, a.label, b.label)
        from wacket.sync.state import fingerprint

        for side, saved in ((a, plan.a), (b, plan.b)):
            if fingerprint(side.entries) != saved["fingerprint"]:
                raise WacketError(f"{side.label} changed since the plan was made; nothing done "
                                  "(make a new plan)")  # fmt: skip
        if state.digest != plan.state_digest:
            raise WacketError("the pair was synced since the plan was made; nothing done "
                              "(make a new plan)")  # fmt: skip
        # A plan carried out this way leaves the sides' cached listings behind: the next run
        # lists both sides whole once.
        drop_gens(pid)
        state.gens = None

        def run(emit, quiet=False):
            report = execute.carry_out(plan, a, b, state, job, emit, started, accept_new=accept_new,
                             connect_timeout=connect_timeout, quiet=quiet)  # fmt: skip
            report.summary = report.totals.line(report.seconds)
            entry.summary += report.summary
            entry.finish(report.code)
            return report

        yield run
