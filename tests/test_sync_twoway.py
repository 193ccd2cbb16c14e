"""wacket sync --two-way: decisions from the per-pair state, conflicts, trash, plan/apply, SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import faultbed
import pytest
import syncbed
from syncbed import by_path, contents, records, trash_files, tree, write

pair = syncbed.pair  # fixture


def two_way(run_wacket, a, b, *extra, ok=True):
    r = run_wacket("sync", "--two-way", str(a), str(b), "--jsonl", *extra)
    if ok:
        assert r.returncode == 0, r.stderr.decode()
    return r


def many(root, n=40, prefix="f"):
    for i in range(n):
        write(root, f"{prefix}{i:02}", f"{prefix} number {i}")


def test_first_run_merges_without_deleting(pair, run_wacket):
    local, remote, spec = pair
    write(local, "only-a", "from a")
    write(remote, "only-b", "from b")
    write(local, "same", "same content", mtime=1_000_000)
    write(remote, "same", "same content", mtime=2_000_000)  # same bytes, other time: no conflict
    write(local, "differ.txt", "version A", mtime=1_000_000)
    write(remote, "differ.txt", "version B!", mtime=2_000_000)
    write(remote, "dir/deep/x", "deep")
    (remote / "emptydir").mkdir()
    r = two_way(run_wacket, local, spec)
    recs = by_path(records(r.stdout))
    assert recs["only-a"]["action"] == "create" and recs["only-a"]["side"] == "a->b"
    assert recs["only-b"]["side"] == "b->a"
    assert "same" not in recs
    c = recs["differ.txt"]
    assert c["action"] == "conflict" and c["side"] == "b"  # B is newer: B keeps the name
    assert c["kept_as"].startswith("differ.conflict-") and c["kept_as"].endswith(".txt")
    assert tree(local) == tree(remote)
    t = tree(local)
    assert t["differ.txt"] == ("f", b"version B!")
    assert t[c["kept_as"]] == ("f", b"version A")
    assert t["dir/deep/x"] == ("f", b"deep") and t["emptydir"] == ("d",)
    assert not [x for x in recs.values() if x["action"] == "delete"]
    # second run: nothing to do
    r = two_way(run_wacket, local, spec)
    assert records(r.stdout) == []


def test_edits_and_deletes_on_each_side(pair, run_wacket):
    local, remote, spec = pair
    many(local)
    two_way(run_wacket, local, spec)
    write(local, "f00", "edited on a")
    write(remote, "f01", "edited on b")
    (local / "f02").unlink()
    (remote / "f03").unlink()
    write(local, "newdir/sub/n1", "new on a")
    (remote / "newempty").mkdir()
    r = two_way(run_wacket, local, spec)
    recs = by_path(records(r.stdout))
    assert recs["f00"] == {**recs["f00"], "action": "update", "side": "a->b"}
    assert recs["f01"] == {**recs["f01"], "action": "update", "side": "b->a"}
    assert recs["f02"] == {**recs["f02"], "action": "delete", "side": "b"}
    assert recs["f03"] == {**recs["f03"], "action": "delete", "side": "a"}
    assert recs["newdir/sub/n1"]["action"] == "create"
    assert recs["newempty"]["kind"] == "dir"
    assert tree(local) == tree(remote)
    assert tree(local)["f00"] == ("f", b"edited on a") and "f02" not in tree(remote)
    # what was deleted or overwritten is in that side's trash
    assert trash_files(remote)["f02"] == b"f number 2"
    assert trash_files(remote)["f00"] == b"f number 0"
    assert trash_files(local)["f03"] == b"f number 3"
    assert trash_files(local)["f01"] == b"f number 1"
    # deleting a whole directory on one side
    subprocess.run(["rm", "-r", str(remote / "newdir")], check=True)
    two_way(run_wacket, local, spec, "--force")
    assert "newdir" not in tree(local) and trash_files(local)["newdir/sub/n1"] == b"new on a"


def test_conflict_both_versions_survive(pair, run_wacket):
    local, remote, spec = pair
    many(local)
    write(local, "notes.md", "base")
    two_way(run_wacket, local, spec)
    write(local, "notes.md", "edit from a", mtime=time.time() - 100)
    write(remote, "notes.md", "edit from b, newer")
    r = two_way(run_wacket, local, spec)
    rec = by_path(records(r.stdout))["notes.md"]
    assert rec["action"] == "conflict" and rec["side"] == "b"
    host = os.uname().nodename
    assert rec["kept_as"].startswith(f"notes.conflict-{host}-") and rec["kept_as"].endswith(".md")
    stamp = rec["kept_as"][len(f"notes.conflict-{host}-") : -3]
    assert len(stamp) == 15 and stamp[8] == "T"
    for side in (local, remote):
        t = tree(side)
        assert t["notes.md"] == ("f", b"edit from b, newer")
        assert t[rec["kept_as"]] == ("f", b"edit from a")
    assert "wacket sync" in r.stderr.decode() and "1 conflicts" in r.stderr.decode()
    assert records(two_way(run_wacket, local, spec).stdout) == []


def test_conflict_policies(pair, run_wacket):
    local, remote, spec = pair
    many(local)
    for name in ("p-newer", "p-a", "p-b"):
        write(local, name, "base")
    two_way(run_wacket, local, spec)
    old = time.time() - 100
    for name in ("p-newer", "p-a", "p-b"):
        write(local, name, f"{name} a", mtime=old)
        write(remote, name, f"{name} b")
    two_way(run_wacket, local, spec, "--conflict", "a")
    assert tree(remote)["p-a"] == ("f", b"p-a a")
    # the loser is in B's trash, not gone
    assert b"p-a b" in trash_files(remote).values()
    assert not [n for n in tree(remote) if ".conflict-" in n]
    assert tree(local) == tree(remote)


def test_delete_vs_edit_the_edit_wins(pair, run_wacket):
    local, remote, spec = pair
    many(local)
    two_way(run_wacket, local, spec)
    (local / "f05").unlink()
    write(remote, "f05", "edited while a deleted it")
    write(local, "f06", "edited while b deleted it")
    (remote / "f06").unlink()
    r = two_way(run_wacket, local, spec)
    recs = by_path(records(r.stdout))
    assert recs["f05"]["action"] == "create" and recs["f05"]["side"] == "b->a"
    assert recs["f06"]["side"] == "a->b"
    assert tree(local)["f05"] == ("f", b"edited while a deleted it")
    assert tree(remote)["f06"] == ("f", b"edited while b deleted it")
    assert tree(local) == tree(remote)


def test_rename_is_delete_plus_create_nothing_lost(pair, run_wacket):
    local, remote, spec = pair
    many(local)
    write(local, "docs/report.txt", "the report")
    two_way(run_wacket, local, spec)
    os.rename(local / "docs", local / "papers")
    r = two_way(run_wacket, local, spec)
    recs = by_path(records(r.stdout))
    assert recs["papers/report.txt"]["action"] == "create"
    assert recs["docs/report.txt"]["action"] == "delete"
    assert tree(remote)["papers/report.txt"] == ("f", b"the report")
    assert "docs" not in tree(remote)
    assert trash_files(remote)["docs/report.txt"] == b"the report"


def test_guard_two_way_empty_side(pair, run_wacket):
    local, remote, spec = pair
    many(local)
    two_way(run_wacket, local, spec)
    before = tree(remote)
    for p in local.iterdir():
        if p.name != ".wacket-trash":
            p.unlink()
    r = two_way(run_wacket, local, spec, ok=False)
    assert r.returncode == 1 and "would delete 40" in r.stderr.decode()
    assert tree(remote) == before


def test_plan_then_apply(pair, run_wacket, tmp_path):
    local, remote, spec = pair
    many(local, 10)
    two_way(run_wacket, local, spec)
    write(local, "f00", "planned edit")
    write(remote, "newb", "new on b")
    plan = tmp_path / "plan.json"
    r = two_way(run_wacket, local, spec, "--plan", plan)
    assert {x["path"] for x in records(r.stdout)} == {"f00", "newb"}
    assert tree(remote)["f00"] == ("f", b"f number 0")  # nothing done yet
    data = json.loads(plan.read_text())
    assert {op["path"] for op in data["ops"]} == {"f00", "newb"}
    r = run_wacket("sync", "--apply", plan, "--jsonl")
    assert r.returncode == 0, r.stderr
    assert {x["path"] for x in records(r.stdout)} == {"f00", "newb"}
    assert tree(local) == tree(remote) and tree(remote)["f00"] == ("f", b"planned edit")
    # a plan made before a change is refused
    write(local, "f01", "x")
    two_way(run_wacket, local, spec, "--plan", plan)
    write(remote, "f02", "changed after the plan")
    r = run_wacket("sync", "--apply", plan)
    assert r.returncode == 1 and "changed since the plan" in r.stderr.decode()
    assert tree(remote)["f01"] == ("f", b"f number 1")


def _planned(run_wacket, local, remote, spec, plan, n: int) -> None:
    """A plan that updates f00 on b and creates new<n> on a."""
    write(local, "f00", f"planned edit {n}")
    write(remote, f"new{n}", "new on b")
    two_way(run_wacket, local, spec, "--plan", plan)


def test_apply_output_in_every_format(pair, run_wacket, tmp_path):
    """--apply renders its records and summary as a sync run does, byte for byte per format."""
    import re

    local, remote, spec = pair
    write(local, "f00", "first")
    two_way(run_wacket, local, spec)
    plan = tmp_path / "plan.json"
    note = f"wacket sync: applied {plan}: 1 created, 1 updated; 22B in "

    def as_set(recs):
        assert all(set(r) == {"action", "kind", "size", "path", "side"} for r in recs)
        return {(r["action"], r["kind"], r["size"], r["path"], r["side"]) for r in recs}

    for n, fmt in enumerate(("--jsonl", "--json", "--plain", "--table")):
        _planned(run_wacket, local, remote, spec, plan, n)
        expect = {("update", "file", 14, "f00", "a->b"), ("create", "file", 8, f"new{n}", "b->a")}
        r = run_wacket("sync", "--apply", plan, fmt)
        assert r.returncode == 0, r.stderr.decode()
        out, err = r.stdout.decode(), r.stderr.decode()
        if fmt == "--jsonl":
            assert as_set(records(r.stdout)) == expect and note in err
        elif fmt == "--json":
            assert out.startswith("[\n{") and out.endswith("}\n]\n") and note in err
            assert as_set(json.loads(out)) == expect
        elif fmt == "--plain":
            assert sorted(out.splitlines()) == [f"create\tfile\t8\tnew{n}", "update\tfile\t14\tf00"]
            assert note in err
        else:
            lines = out.splitlines()
            assert lines[0].split() == ["ACTION", "FILES", "BYTES", "SECONDS", "THROUGHPUT"]
            assert [ln.split() for ln in lines[2:4]] == [
                ["create", "1", "8B"],
                ["update", "1", "14B"],
            ]
            assert re.fullmatch(r"total +2 +22B +[0-9.]+ +[0-9.]+[KMG]?B/s", lines[4])
            assert len(lines) == 5 and "applied" not in err
    # a refused plan prints no records, not even an empty JSON array
    _planned(run_wacket, local, remote, spec, plan, 9)
    write(remote, "f02", "changed after the plan")
    r = run_wacket("sync", "--apply", plan, "--json")
    assert r.returncode == 1 and r.stdout == b"" and "changed since the plan" in r.stderr.decode()


def test_trash_pruned_after_trash_days(pair, run_wacket):
    local, remote, spec = pair
    write(local, "x", "x")
    write(remote, ".wacket-trash/20000101T000000/old", "old")
    two_way(run_wacket, local, spec)
    assert not (remote / ".wacket-trash/20000101T000000").exists()
    write(remote, ".wacket-trash/20000101T000000/old", "old")
    two_way(run_wacket, local, spec, "--trash-days", "100000")
    assert (remote / ".wacket-trash/20000101T000000/old").exists()


def test_sigkill_half_way_then_rerun(pair, run_wacket, isolated_env):
    local, remote, spec = pair
    many(local, 60)
    two_way(run_wacket, local, spec)
    payload = os.urandom(40_000)
    for i in range(30):
        write(local, f"big/a{i:02}", payload + b"a%d" % i)  # new on A
        write(remote, f"bigb/b{i:02}", payload + b"b%d" % i)  # new on B
    for i in range(5):
        write(local, f"f{i:02}", f"edit a {i}")  # edits on A
        (remote / f"f{10 + i:02}").unlink()  # deletes on B
    write(local, "f20", "conflict a", mtime=time.time() - 50)
    write(remote, "f20", "conflict b")
    before = contents(local, remote)
    proc = subprocess.Popen(
        [sys.executable, "-m", "wacket", "sync", "--two-way", str(local), spec, "--bwlimit", "150K",
         "--jsonl"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    deadline = time.time() + 60
    while time.time() < deadline:
        arrived = list((remote / "big").glob("a*")) if (remote / "big").exists() else []
        if len(arrived) >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(list((remote / "big").glob("a*"))) < 30
    # Its rsync (a process group of its own) ends on the parent-death signal and holds the lock
    # until it has: a rerun is refused (exit 4) until then, and then goes ahead.
    deadline = time.time() + 30
    while (r := two_way(run_wacket, local, spec, ok=False)).returncode == 4:
        assert time.time() < deadline and b"still running" in r.stderr, r.stderr
        time.sleep(0.1)
    assert r.returncode == 0, r.stderr.decode()
    recs = records(r.stdout)
    # no loss: every content that existed before is still somewhere (trash included)
    assert before <= contents(local, remote)
    assert tree(local) == tree(remote)
    t = tree(local)
    assert all(f"big/a{i:02}" in t and f"bigb/b{i:02}" in t for i in range(30))
    assert t["f00"] == ("f", b"edit a 0") and "f10" not in t
    # no duplicate: only the one real conflict made a .conflict- copy
    assert len([n for n in t if ".conflict-" in n]) == 1
    assert not [x for x in recs if x["action"] == "error"]
    assert records(two_way(run_wacket, local, spec).stdout) == []


def _killed_two_way(local, spec, until) -> None:
    """A two-way run (slowed down) killed with its whole session once `until()` holds."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "wacket", "sync", "--two-way", str(local), spec, "--bwlimit", "150K"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.time() + 60
    while time.time() < deadline and not until():
        time.sleep(0.005)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # Its rsync and ssh (process groups of their own, in its session) end on the parent-death
    # signal and hold the pair's lock until they have: wait for them, as a user's rerun would.
    deadline = time.time() + 30
    while faultbed.in_session(proc.pid):
        assert time.time() < deadline, f"left running: {faultbed.in_session(proc.pid)}"
        time.sleep(0.05)


def _land_some_then_edit(local, remote, spec) -> list[str]:
    """A run killed after some copies (new and updated files) landed; those files then edited
    again on A. Returns their names."""
    payload = os.urandom(40_000)
    for i in range(30):
        write(local, f"big/a{i:02}", payload + b"a%d" % i)  # new on A
    for i in range(3):
        write(local, f"f{i:02}", payload + b"edit %d" % i)  # updates on A
    _killed_two_way(local, spec, lambda: len(list((remote / "big").glob("a*"))) >= 3
                    if (remote / "big").exists() else False)  # fmt: skip
    names = [f"big/{p.name}" for p in (remote / "big").glob("a*")]
    names += [
        f"f{i:02}" for i in range(3) if (remote / f"f{i:02}").read_bytes().startswith(payload)
    ]
    for rel in names:
        write(local, rel, f"edited again {rel}")
    return names


def _no_conflict_edits_arrive(run_wacket, local, remote, spec, names) -> None:
    r = two_way(run_wacket, local, spec)
    assert not [x for x in records(r.stdout) if x["action"] == "conflict"]
    t = tree(local)
    assert tree(remote) == t and not [n for n in t if ".conflict-" in n]
    for rel in names:
        assert t[rel] == ("f", f"edited again {rel}".encode())
    assert records(two_way(run_wacket, local, spec).stdout) == []


def test_copy_landed_by_a_killed_run_then_edited_is_no_conflict(pair, run_wacket):
    """A killed run copied files but saved no state; the user then edits them again on A. The
    next run copies the edits: B's versions were wacket's own copies, not edits made on B, so
    there is no conflict copy (found by the SIGKILL fault campaign)."""
    local, remote, spec = pair
    many(local, 10)
    two_way(run_wacket, local, spec)
    names = _land_some_then_edit(local, remote, spec)
    _no_conflict_edits_arrive(run_wacket, local, remote, spec, names)


def test_second_kill_before_its_copies_keeps_what_the_first_landed(pair, run_wacket, isolated_env):
    """The run after such a kill is killed too, before its own copies land: the third run still
    knows B's versions for wacket's copies (the 50-round campaign found this)."""
    from pathlib import Path

    local, remote, spec = pair
    many(local, 10)
    two_way(run_wacket, local, spec)
    names = _land_some_then_edit(local, remote, spec)
    sync_dir = Path(os.environ["WACKET_DATA"]) / "sync"
    first = {p: p.stat().st_mtime_ns for p in sync_dir.glob("*.pending")}
    assert first, "the killed run left no record of its copies"

    def second_pending_written() -> bool:
        try:
            now = {p: p.stat().st_mtime_ns for p in sync_dir.glob("*.pending")}
        except FileNotFoundError:  # replaced between the listing and the stat
            return False
        return bool(now) and now != first

    _killed_two_way(local, spec, second_pending_written)
    _no_conflict_edits_arrive(run_wacket, local, remote, spec, names)


def test_copy_that_never_landed_is_not_taken_for_landed(pair, run_wacket, isolated_env):
    """A killed run meant to copy A's edit of f over B's f, but the copy never landed, and the
    edit kept f's size and mtime: B's old f, still there to the inode, must not be taken for the
    copy (the next run would then see both sides as the base, and the edit would never reach B)."""
    from pathlib import Path

    local, remote, spec = pair
    write(local, "f", "before!", mtime=1_700_000_000)
    two_way(run_wacket, local, spec)
    payload = os.urandom(40_000)
    for i in range(30):
        write(local, f"big/a{i:02}", payload + b"a%d" % i)  # slows the run down
    write(local, "f", "after!!", mtime=1_700_000_000)  # new inode; same size and mtime
    if subprocess.run(["chattr", "+i", str(remote / "f")], capture_output=True).returncode:
        pytest.skip("chattr +i is not supported here")
    sync_dir = Path(os.environ["WACKET_DATA"]) / "sync"
    try:
        _killed_two_way(local, spec, lambda: bool(list(sync_dir.glob("*.pending"))))
    finally:
        subprocess.run(["chattr", "-i", str(remote / "f")], check=True)
    assert (remote / "f").read_bytes() == b"before!"  # the copy did not land
    two_way(run_wacket, local, spec)
    assert (remote / "f").read_bytes() == b"after!!"
    assert tree(local) == tree(remote)


def test_listing_cache_is_only_trusted_when_everything_agrees(pair, run_wacket, fleet):
    """Each side keeps the listing of the last good sync and sends only differences; a cache that
    does not match the state (crash between writes, deleted files) costs a whole listing, never a
    wrong decision."""
    from pathlib import Path

    local, remote, spec = pair
    many(local, 20)
    two_way(run_wacket, local, spec)
    data = Path(os.environ["WACKET_DATA"])
    state = next((data / "sync").glob("*.state"))
    gen = state.with_suffix(".gen")
    pid = state.stem  # h1's home is shared with other tests: only this pair's caches
    caches = [*(data / "sync-cache").glob(f"{pid}-*.pickle"),
              *(fleet.hosts[0].home / ".local/share/wacket/sync-cache").glob(f"{pid}-*.pickle")]  # fmt: skip
    assert gen.exists() and len(caches) == 2
    mtime = state.stat().st_mtime_ns
    assert records(two_way(run_wacket, local, spec).stdout) == []
    assert state.stat().st_mtime_ns == mtime  # a no-change run did not even rewrite the state
    # keep generation 1 aside, sync a change (generation 2), then put generation 1 back
    saved = {p: p.read_bytes() for p in [gen, *caches]}
    write(local, "f00", "edited")
    two_way(run_wacket, local, spec)
    for p, raw in saved.items():
        p.write_bytes(raw)
    assert records(two_way(run_wacket, local, spec).stdout) == []
    write(remote, "f01", "edited on b")
    (local / "f02").unlink()
    recs = by_path(records(two_way(run_wacket, local, spec).stdout))
    assert set(recs) == {"f01", "f02"} and recs["f02"]["action"] == "delete"
    # a side's cache gone: that side is listed whole
    for p in caches:
        p.unlink()
    write(remote, "f03", "edited on b again")
    recs = by_path(records(two_way(run_wacket, local, spec).stdout))
    assert set(recs) == {"f03"}
    assert tree(local) == tree(remote)
    for p in (data / "sync-cache").glob(f"{pid}-*.pickle"):
        p.unlink()
    assert records(two_way(run_wacket, local, spec).stdout) == []


def test_dry_run_to_a_new_side_and_symlinked_root(pair, run_wacket, tmp_path):
    local, remote, spec = pair
    write(local, "x", "x")
    r = two_way(run_wacket, local, f"{spec}/not-yet", "--dry-run")
    assert by_path(records(r.stdout))["x"]["action"] == "create"
    assert not (remote / "not-yet").exists()
    link = tmp_path / "link-to-a"
    os.symlink(local, link)
    two_way(run_wacket, link, spec)
    assert tree(remote) == {"x": ("f", b"x")}


def test_same_size_edits_compared_by_content(pair, run_wacket):
    local, remote, spec = pair
    many(local, 20)
    write(local, "same-size", "AAAA")
    write(local, "same-bytes", "CCCC")
    two_way(run_wacket, local, spec)
    write(local, "same-size", "BBBB", mtime=time.time() - 30)
    write(remote, "same-size", "DDDD")  # same length, other bytes: a real conflict
    write(local, "same-bytes", "EEEE", mtime=time.time() - 30)
    write(remote, "same-bytes", "EEEE")  # both made the same edit: no conflict
    recs = by_path(records(two_way(run_wacket, local, spec).stdout))
    assert recs["same-size"]["action"] == "conflict"
    assert "same-bytes" not in recs
    t = tree(local)
    assert t["same-size"] == ("f", b"DDDD") and t[recs["same-size"]["kept_as"]] == ("f", b"BBBB")
    assert tree(local) == tree(remote)


either_pair = syncbed.either_pair  # fixture: local <-> h1, or local <-> local

PINNED = 1_796_119_200_500_000_000  # 2026-12-01 10:00:00.5 UTC, as `touch -d` would pin it


def pin(root, rel, data):
    """Write `data` keeping the size and mtime a tool can set: only inode or ctime can tell."""
    path = write(root, rel, data)
    os.utime(path, ns=(PINNED, PINNED))
    return path


def rewrite_in_place(path, data):
    """Overwrite a file's bytes in place (same inode) and put its mtime back."""
    st = os.stat(path)
    with open(path, "r+b") as fh:
        fh.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def hashed(r) -> int:
    """Files the run read to compare contents, from its summary line ('..., N hashed; ...')."""
    import re

    m = re.search(rb"(\d+) hashed", r.stderr)
    return int(m.group(1)) if m else 0


def test_same_size_and_mtime_on_both_sides_is_a_conflict(either_pair, run_wacket):
    local, other, spec = either_pair
    write(local, "f.txt", "base")
    two_way(run_wacket, local, spec)
    pin(local, "f.txt", "AAAA\n")
    pin(other, "f.txt", "BBBB\n")
    r = two_way(run_wacket, local, spec)
    rec = by_path(records(r.stdout))["f.txt"]
    assert rec["action"] == "conflict", r.stderr.decode()
    t = tree(local)
    assert t == tree(other)
    assert {t["f.txt"][1], t[rec["kept_as"]][1]} == {b"AAAA\n", b"BBBB\n"}
    assert records(two_way(run_wacket, local, spec).stdout) == []


def test_one_side_edit_keeping_size_and_mtime_is_propagated(either_pair, run_wacket):
    local, other, spec = either_pair
    many(local, 5)
    pin(local, "on-a.txt", "AAAA\n")
    pin(local, "on-b.txt", "CCCC\n")
    two_way(run_wacket, local, spec)
    pin(local, "on-a.txt", "BBBB\n")  # a new file (new inode), same size and mtime
    rewrite_in_place(other / "on-b.txt", b"DDDD\n")  # same inode, only the ctime moved
    r = two_way(run_wacket, local, spec)
    recs = by_path(records(r.stdout))
    assert recs["on-a.txt"]["action"] == "update" and recs["on-a.txt"]["side"] == "a->b"
    assert recs["on-b.txt"]["action"] == "update" and recs["on-b.txt"]["side"] == "b->a"
    assert tree(other)["on-a.txt"] == ("f", b"BBBB\n")
    assert tree(local)["on-b.txt"] == ("f", b"DDDD\n")
    assert trash_files(other)["on-a.txt"] == b"AAAA\n"
    assert trash_files(local)["on-b.txt"] == b"CCCC\n"
    assert tree(local) == tree(other)
    assert records(two_way(run_wacket, local, spec).stdout) == []


def test_unchanged_files_are_not_hashed_again(either_pair, run_wacket):
    """Only a file whose inode or ctime moved is read; a transfer's new inodes are recorded."""
    local, other, spec = either_pair
    many(local, 20)
    write(other, "from-b", "made on b")
    two_way(run_wacket, local, spec)  # copies both ways: new inodes on both sides
    write(local, "f00", "edited, and longer")  # a real change: the run decides in full
    r = two_way(run_wacket, local, spec)
    assert set(by_path(records(r.stdout))) == {"f00"} and hashed(r) == 0, r.stderr.decode()
    r = two_way(run_wacket, local, spec)
    assert records(r.stdout) == [] and b"no changes" in r.stderr and hashed(r) == 0
    # the same bytes written again in place: that one file is read, found unchanged
    rewrite_in_place(local / "f01", b"f number 1")
    r = two_way(run_wacket, local, spec)
    assert records(r.stdout) == [] and hashed(r) == 1, r.stderr.decode()
    r = two_way(run_wacket, local, spec)
    assert records(r.stdout) == [] and hashed(r) == 0, r.stderr.decode()
    assert tree(local) == tree(other)


def _state(isolated_env):
    import pickle

    path = next((isolated_env / ".local/share/wacket/sync").glob("*.state"))
    return path, pickle.loads(path.read_bytes())


def test_a_file_seen_right_after_a_write_is_checked_by_content_next_time(
    either_pair, run_wacket, isolated_env
):
    """Two writes in one clock tick leave one ctime: a listing made within a tick of a write
    cannot vouch for the file, so the state leaves its ctime unknown and the next run hashes it."""
    import threading

    local, other, spec = either_pair
    many(local, 5)
    path = write(local, "busy", "same bytes")
    two_way(run_wacket, local, spec)
    stop = threading.Event()

    def rewrite():  # the same bytes again and again: only the ctime moves
        while not stop.is_set():
            rewrite_in_place(path, b"same bytes")
            time.sleep(0.002)

    writer = threading.Thread(target=rewrite)
    writer.start()
    try:
        for _ in range(10):  # a loaded machine may pause the writer through one run's walk
            r = two_way(run_wacket, local, spec, ok=False)
            # A run may also catch the file mid-rewrite (empty for a moment) and report it as an
            # error on that file alone; that run saves nothing, and the next one tries again.
            recs = records(r.stdout)
            if r.returncode != 0:
                assert r.returncode == 1 and recs, r.stderr.decode()
                assert {x["path"] for x in recs} == {"busy"}, recs
                assert {x["action"] for x in recs} == {"error"}, recs
                continue
            assert recs == []
            if _state(isolated_env)[1]["side_a"]["busy"][4] is None:
                break
        assert _state(isolated_env)[1]["side_a"]["busy"][4] is None
    finally:
        stop.set()
        writer.join()
    r = two_way(run_wacket, local, spec)
    assert records(r.stdout) == [] and hashed(r) == 1, r.stderr.decode()
    assert _state(isolated_env)[1]["side_a"]["busy"][4] == os.stat(path).st_ctime_ns
    r = two_way(run_wacket, local, spec)
    assert records(r.stdout) == [] and hashed(r) == 0, r.stderr.decode()


def test_a_version_2_state_loads_and_is_upgraded(either_pair, run_wacket, isolated_env):
    """A state from before inodes and ctimes were kept: trusted once, then complete."""
    import pickle

    local, other, spec = either_pair
    many(local, 5)
    pin(local, "pinned.txt", "AAAA\n")
    two_way(run_wacket, local, spec)
    path, data = _state(isolated_env)
    for side in ("side_a", "side_b"):
        data[side] = {p: s[:3] if s[0] == "f" else s for p, s in data[side].items()}
    data["version"] = 2
    del data["hashes"]
    path.write_bytes(pickle.dumps(data))
    path.with_suffix(".gen").unlink()  # the sides' cached listings were of the old kind too
    r = two_way(run_wacket, local, spec)
    assert records(r.stdout) == [] and hashed(r) == 0, r.stderr.decode()
    assert _state(isolated_env)[1]["version"] == 3
    assert len(_state(isolated_env)[1]["side_b"]["pinned.txt"]) == 5
    pin(other, "pinned.txt", "BBBB\n")
    recs = by_path(records(two_way(run_wacket, local, spec).stdout))
    assert recs["pinned.txt"]["side"] == "b->a" and tree(local)["pinned.txt"] == ("f", b"BBBB\n")


def test_symlink_deleted_on_one_side_is_deleted_on_the_other(either_pair, run_wacket):
    local, other, spec = either_pair
    write(local, "target", "t")
    os.symlink("target", local / "link")
    os.symlink("gone", local / "dangling")
    two_way(run_wacket, local, spec)
    (other / "link").unlink()
    os.unlink(local / "dangling")
    recs = by_path(records(two_way(run_wacket, local, spec).stdout))
    assert recs["link"]["action"] == "delete" and recs["dangling"]["action"] == "delete"
    assert tree(local) == tree(other) == {"target": ("f", b"t")}
    trash = local / ".wacket-trash"
    trashed = [trash / d / "link" for d in os.listdir(trash) if (trash / d / "link").is_symlink()]
    assert [os.readlink(t) for t in trashed] == ["target"]  # dangling there, but kept


def test_first_run_same_size_and_mtime_different_content_is_a_conflict(either_pair, run_wacket):
    local, other, spec = either_pair
    pin(local, "twin.txt", "AAAA\n")
    pin(other, "twin.txt", "BBBB\n")
    pin(local, "copy.txt", "same\n")
    pin(other, "copy.txt", "same\n")
    r = two_way(run_wacket, local, spec)
    recs = by_path(records(r.stdout))
    assert recs["twin.txt"]["action"] == "conflict" and "copy.txt" not in recs
    t = tree(local)
    assert t == tree(other)
    assert {t["twin.txt"][1], t[recs["twin.txt"]["kept_as"]][1]} == {b"AAAA\n", b"BBBB\n"}


def test_two_runs_in_one_second_keep_both_overwritten_versions(pair, run_wacket, tmp_path):
    """rsync's --backup-dir replaces an earlier backup of the same name: each run has a trash
    directory of its own, so a second run in the same second cannot replace the first's."""
    local, remote, spec = pair
    write(local, "p.txt", "version 1")
    two_way(run_wacket, local, spec)
    first = None
    for n in (2, 3):
        write(local, "p.txt", f"version {n}")  # in place: only b's copy (then its trash) is left
        plan = tmp_path / f"plan{n}.json"
        two_way(run_wacket, local, spec, "--plan", plan)
        data = json.loads(plan.read_text())
        first = first or data["stamp"]
        data["stamp"] = first  # as if both runs had started in the same second
        plan.write_text(json.dumps(data))
        r = run_wacket("sync", "--apply", plan, "--jsonl")
        assert r.returncode == 0, r.stderr.decode()
    assert tree(remote)["p.txt"] == ("f", b"version 3")
    assert {b"version 1", b"version 2"} <= contents(local, remote)
