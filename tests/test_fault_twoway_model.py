"""Fault campaign: a model check of two-way sync between this machine and a real sshd (h1).

A hypothesis state machine applies random rounds of creates, edits, deletes, renames, same-name
creates, edit-vs-delete and edits that keep size and mtime (os.utime) to both sides, runs
`wacket sync --two-way` after each round, and checks against a model of the last synced tree:
- the replicas are identical;
- each path holds what the decision table says (a one-sided change propagated, a deletion
  followed, the edit beating a deletion, a conflict keeping both versions as NAME.conflict-...);
- nothing that existed anywhere before a run (either tree or either trash) is gone after it;
- no content appears at two paths, and no conflict copy is made where there was no conflict.
Every content the test writes is unique and of one length, so every edit is a same-size edit.

WACKET_FAULT_ROUNDS (default 8) scales the number of examples; WACKET_FAULT_SEED picks another
fixed seed (the one in use is added to any failure).
"""

from __future__ import annotations

import math
import os
import posixpath
import shutil
import uuid
from pathlib import Path

from hypothesis import HealthCheck, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test
from syncbed import contents, records, tree

ROUNDS = int(os.environ.get("WACKET_FAULT_ROUNDS", "8"))
SEED = int(os.environ.get("WACKET_FAULT_SEED", "15"))
NAMES = ["n0.txt", "n1.txt", "n2", "d/m0.txt", "d/m1"]  # "d" is never a file: no kind clashes
SIDES = st.sampled_from("ab")
NAME = st.sampled_from(NAMES)
PINNED = 1_796_119_200_500_000_000  # 2026-12-01 10:00:00.5 UTC


class Stats:
    examples = steps = syncs = checked = losses = duplicates = conflicts = 0


def _op():
    return st.one_of(
        st.tuples(st.just("create"), SIDES, NAME),
        st.tuples(st.just("edit"), SIDES, NAME),
        st.tuples(st.just("pinned_edit"), SIDES, NAME),  # same size, same mtime, new bytes
        st.tuples(st.just("delete"), SIDES, NAME),
        st.tuples(st.just("rename"), SIDES, NAME, NAME),
        st.tuples(st.just("create_both"), NAME),  # a new name on both sides, one mtime, other bytes
        st.tuples(st.just("create_same"), NAME),  # a new name on both sides, the same bytes
        st.tuples(st.just("pinned_both"), NAME),  # both sides: same size and mtime, other bytes
        st.tuples(st.just("edit_vs_delete"), SIDES, NAME),
    )


class TwoWayModel(RuleBasedStateMachine):
    bed = None  # set by the test: (fleet, run_wacket, scratch dir)

    def __init__(self):
        super().__init__()
        fleet, self.run_wacket, scratch = self.bed
        tag = uuid.uuid4().hex[:10]
        self.root = {"a": scratch / f"a-{tag}", "b": fleet.hosts[0].home / f"model-{tag}"}
        for d in self.root.values():
            d.mkdir()
        self.serial = 0
        self.synced: dict[str, bytes] = {}  # the tree after the last sync (both sides)
        Stats.examples += 1

    def teardown(self):
        for d in self.root.values():
            shutil.rmtree(d, ignore_errors=True)

    # ---- writing --------------------------------------------------------------------------
    def content(self) -> bytes:
        self.serial += 1
        return b"w%06d\n" % self.serial

    def path(self, side: str, name: str) -> Path:
        return self.root[side] / name

    def exists(self, side: str, name: str) -> bool:
        return self.path(side, name).is_file()

    def put(self, side: str, name: str, data: bytes, mtime_ns: int | None = None) -> None:
        path = self.path(side, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if mtime_ns is not None:
            os.utime(path, ns=(mtime_ns, mtime_ns))

    def apply(self, op: tuple) -> None:
        kind = op[0]
        if kind in ("create_both", "create_same", "pinned_both"):
            name = op[1]
            if kind == "pinned_both":
                if self.exists("a", name) and self.exists("b", name):
                    self.put("a", name, self.content(), PINNED)
                    self.put("b", name, self.content(), PINNED)
            elif not self.exists("a", name) and not self.exists("b", name):
                data = self.content()
                self.put("a", name, data, PINNED)
                self.put("b", name, data if kind == "create_same" else self.content(), PINNED)
            return
        side, name = op[1], op[2]
        here = self.exists(side, name)
        if (kind == "create") != here and kind in ("create", "edit"):
            self.put(side, name, self.content())
        elif kind == "pinned_edit" and here:
            self.put(side, name, self.content(), self.path(side, name).stat().st_mtime_ns)
        elif kind == "delete" and here:
            self.path(side, name).unlink()
        elif kind == "rename" and here and not self.exists(side, op[3]) and op[3] != name:
            dst = self.path(side, op[3])
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.rename(self.path(side, name), dst)
        elif kind == "edit_vs_delete":
            other = "b" if side == "a" else "a"
            if here and self.exists(other, name):
                self.put(side, name, self.content())
                self.path(other, name).unlink()

    # ---- the model's expectations -------------------------------------------------------
    def files(self, side: str) -> dict[str, bytes]:
        return {p: e[1] for p, e in tree(self.root[side]).items() if e[0] == "f"}

    def sync_and_check(self) -> None:
        before = {s: self.files(s) for s in "ab"}
        everything = contents(self.root["a"], self.root["b"])
        r = self.run_wacket("sync", "--two-way", self.root["a"], f"h1:{self.root['b']}",
                            "--jsonl", "--force")  # fmt: skip
        Stats.syncs += 1
        assert r.returncode == 0, r.stderr.decode()
        errors = [x for x in records(r.stdout) if x["action"] == "error"]
        assert not errors, errors
        ta, tb = tree(self.root["a"]), tree(self.root["b"])
        assert ta == tb, "the replicas differ after a sync"
        after = self.files("a")
        lost = everything - contents(self.root["a"], self.root["b"])
        Stats.losses += len(lost)
        assert not lost, f"gone after the sync: {sorted(lost)}"
        where: dict[bytes, list[str]] = {}
        for p, data in after.items():
            where.setdefault(data, []).append(p)
        dup = {d: ps for d, ps in where.items() if len(ps) > 1}
        Stats.duplicates += len(dup)
        assert not dup, f"one content at several paths: {dup}"
        old = self.synced
        explained: set[str] = set()
        for p in sorted(set(old) | set(before["a"]) | set(before["b"])):
            a, b, base = before["a"].get(p), before["b"].get(p), old.get(p)
            Stats.checked += 1
            if a != base and b != base and a is not None and b is not None and a != b:
                copies = self.conflict_copies(p, after, before)
                explained.update(copies)
                Stats.conflicts += 1
                got = {after.get(p)} | {after[c] for c in copies}
                assert got == {a, b}, f"{p}: conflict kept {got}, wrote {a!r} and {b!r}"
                continue
            # one side changed: its version; both: the same edit, or the edit beats a delete
            want = a if a != base and (a is not None or b == base) else b
            assert after.get(p) == want, f"{p}: {after.get(p)!r}, expected {want!r}"
        extra = set(after) - set(old) - set(before["a"]) - set(before["b"]) - explained
        assert not extra, f"conflict copies without a conflict: {sorted(extra)}"
        self.synced = after

    @staticmethod
    def conflict_copies(p: str, after: dict, before: dict) -> list[str]:
        head, base = posixpath.split(p)
        dot = base.rfind(".")
        stem = base[:dot] if dot > 0 else base
        prefix = posixpath.join(head, stem + ".conflict-")
        new = set(after) - set(before["a"]) - set(before["b"])
        return sorted(q for q in new if q.startswith(prefix))

    # ---- rules ------------------------------------------------------------------------------
    @initialize(
        a=st.lists(NAME, max_size=3, unique=True), b=st.lists(NAME, max_size=3, unique=True)
    )
    def first_run(self, a, b):
        """Both sides filled before the pair's first run, with one mtime for all: a name on both
        sides has the same size and mtime there, and other bytes."""
        for name in a:
            self.put("a", name, self.content(), PINNED)
        for name in b:
            self.put("b", name, self.content(), PINNED)
        self.sync_and_check()

    @rule(ops=st.lists(_op(), min_size=1, max_size=3))
    def round(self, ops):
        for op in ops:
            self.apply(op)
        Stats.steps += 1
        self.sync_and_check()


def test_two_way_model(fleet, run_wacket, tmp_path, capsys):
    TwoWayModel.bed = (fleet, run_wacket, tmp_path)
    machine = seed(SEED)(TwoWayModel)
    Stats.examples = Stats.steps = Stats.syncs = Stats.checked = 0
    Stats.losses = Stats.duplicates = Stats.conflicts = 0
    config = settings(max_examples=math.ceil(ROUNDS * 1.25), stateful_step_count=8, deadline=None,
                      database=None, suppress_health_check=list(HealthCheck))  # fmt: skip
    try:
        run_state_machine_as_test(machine, settings=config)
    except BaseException as exc:
        exc.add_note(f"model check: WACKET_FAULT_SEED={SEED} WACKET_FAULT_ROUNDS={ROUNDS}")
        raise
    finally:
        with capsys.disabled():
            print(f"\ntwo-way model (seed {SEED}): {Stats.examples} examples, {Stats.steps} rounds, "
                  f"{Stats.syncs} syncs, {Stats.checked} paths checked, {Stats.conflicts} "
                  f"conflicts, losses {Stats.losses}, duplicates {Stats.duplicates}")  # fmt: skip
    assert Stats.examples > 0 and Stats.syncs > Stats.examples
