"""Two-way sync: scan both sides (one streamed remote command each), decide per path from the state.

Per path, against the state of the last good sync:
  changed on one side            -> propagate (the other side's old version goes to the trash)
  deleted on one side, unchanged -> delete on the other (moved to .wacket-trash/<time>-<run>/)
  deleted on one side, edited    -> the edit wins (copied back)
  changed on both, same content  -> nothing to do
  changed on both, different     -> conflict: both versions survive (NAME.conflict-HOST-TIME.EXT)
A file is changed when its size or mtime moved, or, since a rewrite can keep those (touch, cp -p,
two writes in one clock tick), when its inode or ctime moved and its content is not the content of
the last sync (then, and only then, it is hashed, on its own side).
The first run of a pair (no state) only adds: what one side lacks is copied, differing files are
conflicts kept on both sides, nothing is deleted or replaced; files of one size on both sides are
compared by content (which also gives the state every such file's hash).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

from wacket.errors import Exit, WacketError
from wacket.sync import execute, planfile
from wacket.sync.endpoints import Endpoint, check_pair
from wacket.sync.itemize import Totals
from wacket.sync.sides import (
    Side,
    apply_diff,
    call,
    commit,
    excludes_of,
    parallel,
    read_excludes,
    scan,
    scan_sides,
)
from wacket.sync.state import Sig, State, same
from wacket.sync.trash import conflict_name, stamp

KIND_NAMES = {"f": "file", "d": "dir", "l": "symlink"}


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


def _blocked_fn(errors: list):
    """Paths under an unreadable directory are unknown on that side: decide nothing about them."""
    if not errors:
        return None
    bad = {e[0] for e in errors}
    if "." in bad:
        return lambda p: True

    def blocked(p: str) -> bool:
        while p:
            if p in bad:
                return True
            p = p.rpartition("/")[0]
        return False

    return blocked


class Taken:
    """Names in use on either side, plus conflict names handed out (no copy of 100,000 names)."""

    def __init__(self, *maps):
        self.maps = maps
        self.extra: set[str] = set()

    def __contains__(self, name) -> bool:
        return name in self.extra or any(name in m for m in self.maps)

    def add(self, name: str) -> None:
        self.extra.add(name)


@dataclass
class Decisions:
    ops: list[dict] = field(default_factory=list)
    same: list[str] = field(default_factory=list)
    drop: list[str] = field(default_factory=list)
    check: list[str] = field(default_factory=list)  # both files, same size: compare hashes
    refresh: list[str] = field(default_factory=list)  # unchanged, but a new inode or ctime
    taken: object = None


@dataclass
class Verdict:
    """What hashing told about files that kept size and mtime but moved inode or ctime."""

    edited: dict[str, set] = field(default_factory=lambda: {"a": set(), "b": set()})
    hashes: dict[str, dict] = field(default_factory=lambda: {"a": {}, "b": {}})

    @property
    def count(self) -> int:
        return len(self.hashes["a"]) + len(self.hashes["b"])


def suspects(X: dict, SX: dict, keys) -> list[str]:
    """Files whose size and mtime are those of the last sync but whose inode or ctime are not (or
    were not known then): only their content tells whether they changed. A file of a version-2
    state (no inode, no ctime) is taken as unchanged once, as that version did."""
    out = []
    for p in keys:
        x, t = X.get(p), SX.get(p)
        if x is not None and t is not None and x != t and len(t) > 3 and same(x, t):
            out.append(p)
    return out


def verify(a: Side, b: Side, state: State, keys) -> Verdict:
    """Hash the suspects (each on its own side) and compare them with the content of the last
    sync: the state's hash, else the other side's file where that is unchanged or a suspect too
    (two suspects with different content: both count as edited, a conflict keeps both). Without
    any reference a suspect counts as edited: never a loss, at worst a needless conflict copy."""
    v = Verdict()
    sides, other = {"a": a, "b": b}, {"a": "b", "b": "a"}
    sus = {s: suspects(sides[s].entries, state.sa if s == "a" else state.sb, keys) for s in sides}
    if not sus["a"] and not sus["b"]:
        return v
    pending = {s: set(sus[s]) for s in sides}
    want = {"a": set(), "b": set()}
    for s, o in other.items():
        Y, SY = sides[o].entries, state.sb if o == "b" else state.sa
        for p in sus[s]:
            if p in state.hashes:
                want[s].add(p)
            elif p in pending[o] or (Y.get(p) is not None and Y.get(p) == SY.get(p)):
                want[s].add(p)
                want[o].add(p)
            else:
                v.edited[s].add(p)
    got = parallel([
        lambda s=s: call(sides[s], "tree.hash", root=sides[s].root, paths=sorted(want[s]))
        if want[s] else {}
        for s in ("a", "b")
    ])  # fmt: skip
    v.hashes = {"a": got[0], "b": got[1]}
    for s, o in other.items():
        for p in sus[s]:
            if p in v.edited[s]:
                continue
            ref = state.hashes.get(p) or v.hashes[o].get(p)
            if v.hashes[s].get(p) is None or v.hashes[s][p] != ref:
                v.edited[s].add(p)
    return v


def changed_paths(A: dict, B: dict, SA: dict, SB: dict) -> set[str]:
    """Paths whose signature differs from the state on either side (set operations: C speed)."""
    out: set[str] = set()
    for X, SX in ((A, SA), (B, SB)):
        if X == SX:  # the common case, compared in C
            continue
        out.update(p for p, s in X.items() if SX.get(p) != s)
        out.update(SX.keys() - X.keys())
    return out


def decide(A: dict, B: dict, SA: dict, SB: dict, *, first_run: bool, policy: str, a_errors=(),
           b_errors=(), when: str, hosts: dict[str, str], edited=None, keys=None) -> Decisions:  # fmt: skip
    """`edited`: {"a": paths, "b": paths} that kept size and mtime but not content (verify);
    `keys`: the paths to decide (default: those whose signature moved on either side)."""
    d = Decisions()
    ea, eb = (edited["a"], edited["b"]) if edited else ((), ())
    ba, bb = _blocked_fn(list(a_errors)), _blocked_fn(list(b_errors))
    taken = d.taken = Taken(A, B)
    if keys is None:
        keys = changed_paths(A, B, SA, SB) if SA else set(A) | set(B)
    for p in sorted(keys):
        if (ba and ba(p)) or (bb and bb(p)):
            continue
        sa, sb = A.get(p), B.get(p)
        st = (SA[p], SB[p]) if p in SA else None
        if st is None:
            if sa is not None and sb is not None:
                _both(d, p, sa, sb, first_run or policy, when, hosts, taken)
            elif sa is not None:
                _copy(d, p, "a", sa, None)
            elif sb is not None:
                _copy(d, p, "b", sb, None)
            continue
        ca = sa != st[0] and not (sa is not None and same(sa, st[0]) and p not in ea)
        cb = sb != st[1] and not (sb is not None and same(sb, st[1]) and p not in eb)
        if not ca and not cb:
            d.refresh.append(p)  # the same content, under a new inode or ctime: remember those
            continue
        if ca and not cb:
            if sa is None:
                if sb is not None:
                    d.ops.append(_delete(p, "b", sb))
                else:
                    d.drop.append(p)
            else:
                _copy(d, p, "a", sa, sb)
        elif cb and not ca:
            if sb is None:
                if sa is not None:
                    d.ops.append(_delete(p, "a", sa))
                else:
                    d.drop.append(p)
            else:
                _copy(d, p, "b", sb, sa)
        elif sa is None and sb is None:
            d.drop.append(p)
        elif sa is None:
            _copy(d, p, "b", sb, None)  # deleted on A, edited on B: the edit wins
        elif sb is None:
            _copy(d, p, "a", sa, None)
        else:
            _both(d, p, sa, sb, policy, when, hosts, taken)
    return d


def _both(d: Decisions, p, sa, sb, policy, when, hosts, taken) -> None:
    """Both sides have p (first run, or both changed since the last sync). Files of one size are
    compared by content, even with one mtime: two different files can share both."""
    if sa[0] == sb[0] == "f" and sa[1] == sb[1]:
        d.check.append(p)
    elif same(sa, sb):
        d.same.append(p)
    else:
        conflict(d, p, sa, sb, policy if policy is not True else "keep-both", when, hosts, taken)


def _copy(d: Decisions, p, frm, sig, replaced) -> None:
    op = {"op": "copy", "path": p, "from": frm, "sig": list(sig),
          "action": "create" if replaced is None else "update"}  # fmt: skip
    if replaced is not None and replaced[0] != sig[0]:
        op["replace"] = list(replaced)  # a different kind is in the way: trash it first
    d.ops.append(op)


def _delete(p, on, sig) -> dict:
    return {"op": "delete", "path": p, "on": on, "sig": list(sig)}


def conflict(d: Decisions, p, sa, sb, policy, when, hosts, taken) -> None:
    """Both versions survive: keep-both renames the loser beside the winner on both sides;
    newer/a/b replace the loser, whose version goes to that side's trash."""
    if sa[0] == "d" or sb[0] == "d":
        policy = "keep-both"  # a directory against a file: never replace either
        win = "a" if sa[0] == "d" else "b"
    elif policy == "a" or policy == "b":
        win = policy
    else:
        ma = sa[2] if sa[0] == "f" else 0
        mb = sb[2] if sb[0] == "f" else 0
        win = "b" if mb > ma else "a"
    lose = "b" if win == "a" else "a"
    wsig, lsig = (sa, sb) if win == "a" else (sb, sa)
    rec = {"op": "conflict", "path": p, "winner": win, "policy": policy,
           "sig_a": list(sa), "sig_b": list(sb)}  # fmt: skip
    if policy == "keep-both":
        cname = conflict_name(p, hosts[lose], when, taken)
        taken.add(cname)
        rec["kept_as"] = cname
        d.ops.append(rec)
        d.ops.append({"op": "rename", "path": p, "to": cname, "on": lose, "sig": list(lsig)})
        d.ops.append({"op": "copy", "path": p, "from": win, "sig": list(wsig), "action": "update",
                      "conflict": True})  # fmt: skip
        d.ops.append({"op": "copy", "path": cname, "from": lose, "sig": list(lsig),
                      "action": "create", "conflict": True})  # fmt: skip
    else:
        d.ops.append(rec)
        d.ops.append({"op": "copy", "path": p, "from": win, "sig": list(wsig), "action": "update",
                      "conflict": True})  # fmt: skip


def resolve_checks(d: Decisions, a: Side, b: Side, policy, when, hosts, taken, v: Verdict) -> None:
    """Files of equal size changed on both sides: equal content is no conflict. Hashes verify
    already made are not made again; the ones made here join them (v.hashes)."""
    if not d.check:
        return
    ha, hb = v.hashes["a"], v.hashes["b"]
    need = {"a": [p for p in d.check if p not in ha], "b": [p for p in d.check if p not in hb]}
    got = parallel([
        lambda s=s, side=side: call(side, "tree.hash", root=side.root, paths=need[s])
        if need[s] else {}
        for s, side in (("a", a), ("b", b))
    ])  # fmt: skip
    ha.update(got[0])
    hb.update(got[1])
    for p in d.check:
        if ha.get(p) is not None and ha.get(p) == hb.get(p):
            d.same.append(p)
        else:
            conflict(d, p, a.entries[p], b.entries[p], policy, when, hosts, taken)
    d.check = []


def known_hashes(d: Decisions, v: Verdict) -> dict[str, str]:
    """The content hash of each path the state will record as the same on both sides."""
    ha, hb = v.hashes["a"], v.hashes["b"]
    out = {}
    for p in d.same + d.refresh:
        h = ha.get(p) or hb.get(p)
        if h is not None and (p not in ha or p not in hb or ha[p] == hb[p]):
            out[p] = h
    return out


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
            return execute.Report(Totals(), time.monotonic() - started)
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
    v = verify(a, b, state, keys)
    d = decide(A, B, state.sa, state.sb, first_run=first, policy=policy, a_errors=a.errors,
               b_errors=b.errors, when=when, hosts=hosts, edited=v.edited, keys=keys)  # fmt: skip
    resolve_checks(d, a, b, "keep-both" if first else policy, when, hosts, d.taken, v)
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
    from wacket import journal
    from wacket.lock import job_lock
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
        stack.enter_context(job_lock(job.lock_name()))
        entry = stack.enter_context(journal.entry("sync", hosts))
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
            entry.exit_code = report.code
            entry.outcome = "ok" if report.code == Exit.OK else "partial"
            return report

        yield run
