"""Two-way sync's decisions: per path, from both sides' listings and the state of the last good sync.

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

Nothing here touches a side: contents are hashed through the `hash_both` function given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from wacket.sync.state import State, same
from wacket.sync.trash import conflict_name

# {"a": paths, "b": paths} -> {"a": {path: hash}, "b": {path: hash}}, each hashed on its side
HashBoth = Callable[[dict[str, list[str]]], dict[str, dict]]


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


def verify(A: dict, B: dict, state: State, keys, hash_both: HashBoth) -> Verdict:
    """Hash the suspects (each on its own side) and compare them with the content of the last
    sync: the state's hash, else the other side's file where that is unchanged or a suspect too
    (two suspects with different content: both count as edited, a conflict keeps both). Without
    any reference a suspect counts as edited: never a loss, at worst a needless conflict copy."""
    v = Verdict()
    sides, other = {"a": A, "b": B}, {"a": "b", "b": "a"}
    sus = {s: suspects(sides[s], state.sa if s == "a" else state.sb, keys) for s in sides}
    if not sus["a"] and not sus["b"]:
        return v
    pending = {s: set(sus[s]) for s in sides}
    want = {"a": set(), "b": set()}
    for s, o in other.items():
        Y, SY = sides[o], state.sb if o == "b" else state.sa
        for p in sus[s]:
            if p in state.hashes:
                want[s].add(p)
            elif p in pending[o] or (Y.get(p) is not None and Y.get(p) == SY.get(p)):
                want[s].add(p)
                want[o].add(p)
            else:
                v.edited[s].add(p)
    v.hashes = hash_both({s: sorted(want[s]) for s in ("a", "b")})
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


def resolve_checks(d: Decisions, A: dict, B: dict, policy, when, hosts, taken, v: Verdict,
                   hash_both: HashBoth) -> None:  # fmt: skip
    """Files of equal size changed on both sides: equal content is no conflict. Hashes verify
    already made are not made again; the ones made here join them (v.hashes)."""
    if not d.check:
        return
    ha, hb = v.hashes["a"], v.hashes["b"]
    need = {"a": [p for p in d.check if p not in ha], "b": [p for p in d.check if p not in hb]}
    got = hash_both(need)
    ha.update(got["a"])
    hb.update(got["b"])
    for p in d.check:
        if ha.get(p) is not None and ha.get(p) == hb.get(p):
            d.same.append(p)
        else:
            conflict(d, p, A[p], B[p], policy, when, hosts, taken)
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
