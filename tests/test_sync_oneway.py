"""wacket sync SRC DEST: one-way through real rsync over a real sshd (test bed host h1)."""

from __future__ import annotations

import os
from pathlib import Path

import syncbed
from syncbed import by_path, records, tree, write

pair = syncbed.pair  # fixture


def seed(root):
    write(root, "a.txt", "alpha")
    write(root, "sub/b.bin", os.urandom(3000))
    write(root, "empty", b"")
    (root / "emptydir").mkdir()
    os.symlink("a.txt", root / "link")
    (root / "a.txt").chmod(0o640)


def test_push_to_remote_then_pull_back(pair, run_wacket, tmp_path):
    local, remote, spec = pair
    seed(local)
    r = run_wacket("sync", f"{local}/", f"{spec}/", "--jsonl")
    assert r.returncode == 0, r.stderr
    assert tree(remote) == tree(local)
    assert os.stat(remote / "a.txt").st_mode & 0o777 == 0o640
    assert os.stat(remote / "a.txt").st_mtime_ns == os.stat(local / "a.txt").st_mtime_ns
    recs = by_path(records(r.stdout))
    assert recs["a.txt"] == {**recs["a.txt"], "action": "create", "kind": "file", "size": 5}
    assert recs["link"]["kind"] == "symlink" and recs["link"]["action"] == "create"
    assert recs["emptydir"]["kind"] == "dir"
    assert recs["empty"]["size"] == 0
    # pull it back into a fresh directory
    back = tmp_path / "back"
    r = run_wacket("sync", f"{spec}/", f"{back}/", "--jsonl")
    assert r.returncode == 0, r.stderr
    assert tree(back) == tree(local)
    # nothing changed: no records
    r = run_wacket("sync", f"{spec}/", f"{back}/", "--jsonl")
    assert r.returncode == 0 and records(r.stdout) == []


def test_same_size_rewrite_within_the_same_second_is_copied(pair, run_wacket):
    """rsync's quick check compares whole seconds by default: a same-size rewrite whose mtime
    differs only in nanoseconds was skipped and the mirror kept the old bytes (the SIGKILL
    campaign hit it: a file rewritten in the second the killed run had copied it)."""
    local, remote, spec = pair
    t = 1_700_000_000_000_000_000
    f = write(local, "doc.txt", "AAAA")
    os.utime(f, ns=(t, t))
    assert run_wacket("sync", f"{local}/", f"{spec}/").returncode == 0
    f.write_text("BBBB")
    os.utime(f, ns=(t + 1000, t + 1000))
    r = run_wacket("sync", f"{local}/", f"{spec}/", "--jsonl")
    assert r.returncode == 0, r.stderr
    assert (remote / "doc.txt").read_text() == "BBBB"
    assert (remote / "doc.txt").stat().st_mtime_ns == t + 1000
    assert by_path(records(r.stdout))["doc.txt"]["action"] == "update"


def test_itemized_create_update_delete_attrs(pair, run_wacket):
    local, remote, spec = pair
    for i in range(30):
        write(local, f"f{i:02}", f"file {i}")
    assert run_wacket("sync", f"{local}/", f"{spec}/").returncode == 0
    # The pair's size is remembered: the next run lists the whole tree up front (faster when
    # little changed), and must report the same changes.
    sizes = list((Path(os.environ["WACKET_DATA"]) / "sync").glob("oneway-*.entries"))
    assert [f.read_text() for f in sizes] == ["31"]
    write(local, "f00", "changed content")  # update
    (local / "f01").chmod(0o600)  # attributes only
    write(local, "new", "brand new")  # create
    (local / "f02").unlink()  # delete (1 of 30: under the guard's limit of 3)
    r = run_wacket("sync", f"{local}/", f"{spec}/", "--delete", "--jsonl")
    assert r.returncode == 0, r.stderr
    recs = by_path(records(r.stdout))
    assert recs["f00"]["action"] == "update" and recs["f00"]["size"] == 15
    assert recs["f01"]["action"] == "attrs"
    assert recs["new"]["action"] == "create"
    assert recs["f02"]["action"] == "delete"
    assert not (remote / "f02").exists()
    assert tree(remote) == tree(local)
    assert "1 created" in r.stderr.decode() and "1 deleted" in r.stderr.decode()


def test_deletion_guard_stops_empty_source(pair, run_wacket, tmp_path):
    local, remote, spec = pair
    for i in range(20):
        write(local, f"doc{i}", f"precious {i}")
    assert run_wacket("sync", f"{local}/", f"{spec}/").returncode == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    before = tree(remote)
    r = run_wacket("sync", f"{empty}/", f"{spec}/", "--delete", "--jsonl")
    assert r.returncode == 1
    err = r.stderr.decode()
    assert "would delete 20" in err and "nothing was deleted" in err
    assert tree(remote) == before
    assert [x for x in records(r.stdout) if x["action"] == "delete"] == []
    # --dry-run shows what would go, deletes nothing
    r = run_wacket("sync", f"{empty}/", f"{spec}/", "--delete", "--dry-run", "--jsonl")
    assert r.returncode == 0
    assert len([x for x in records(r.stdout) if x["action"] == "delete"]) == 20
    assert "would delete 20 (limit 2): a real run stops" in r.stderr.decode()
    r = run_wacket("sync", f"{empty}/", f"{spec}/", "--delete", "--dry-run", "--max-delete", "0")
    assert r.returncode == 0 and "limit 0" in r.stderr.decode()
    assert tree(remote) == before
    # --force overrides
    r = run_wacket("sync", f"{empty}/", f"{spec}/", "--delete", "--force")
    assert r.returncode == 0, r.stderr
    assert tree(remote) == {}


def test_max_delete_option_and_remote_source(pair, run_wacket, tmp_path):
    local, remote, spec = pair
    for i in range(5):
        write(remote, f"r{i}", f"remote {i}")
    dest = tmp_path / "mirror"
    assert run_wacket("sync", f"{spec}/", f"{dest}/").returncode == 0
    write(dest, "stray1", "x")
    write(dest, "stray2", "y")
    r = run_wacket("sync", f"{spec}/", f"{dest}/", "--delete", "--max-delete", "1")
    assert r.returncode == 1 and "would delete 2" in r.stderr.decode()
    assert (dest / "stray1").exists()
    r = run_wacket("sync", f"{spec}/", f"{dest}/", "--delete", "--max-delete", "2", "--jsonl")
    assert r.returncode == 0, r.stderr
    assert sorted(x["path"] for x in records(r.stdout) if x["action"] == "delete") == [
        "stray1",
        "stray2",
    ]
    assert tree(dest) == tree(remote)


def test_options_exclude_dry_run_checksum(pair, run_wacket, tmp_path):
    local, remote, spec = pair
    write(local, "keep.txt", "k")
    write(local, "skip.tmp", "t")
    write(local, "cache/x", "c")
    ex = tmp_path / "ex"
    ex.write_text("cache/\n")
    r = run_wacket("sync", f"{local}/", f"{spec}/", "--dry-run", "--jsonl")
    assert r.returncode == 0 and {x["path"] for x in records(r.stdout)} >= {"keep.txt", "skip.tmp"}
    assert tree(remote) == {}
    r = run_wacket("sync", f"{local}/", f"{spec}/", "--exclude", "*.tmp", "--exclude-from", ex,
                   "--checksum", "--compress", "--partial", "--bwlimit", "10M")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert set(tree(remote)) == {"keep.txt"}


def test_table_summary_and_journal(pair, run_wacket):
    local, remote, spec = pair
    write(local, "one", "1")
    write(local, "two", "22")
    r = run_wacket("sync", f"{local}/", f"{spec}/", "--table")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "ACTION" in out and "THROUGHPUT" in out and "create" in out and "total" in out
    assert "one" not in out  # the table is a summary, not a file list
    log = run_wacket("log", "--command", "sync", "--jsonl")
    entries = records(log.stdout)
    assert entries and entries[-1]["outcome"] == "ok" and "2 created" in entries[-1]["summary"]


def test_one_way_plan_then_apply(pair, run_wacket, tmp_path):
    local, remote, spec = pair
    for i in range(20):
        write(local, f"f{i:02}", f"v1 {i}")
    assert run_wacket("sync", f"{local}/", f"{spec}/").returncode == 0
    write(local, "f00", "v2")
    write(local, "new", "n")
    (local / "f01").unlink()
    plan = tmp_path / "plan.json"
    r = run_wacket("sync", f"{local}/", f"{spec}/", "--delete", "--plan", plan, "--jsonl")
    assert r.returncode == 0, r.stderr
    planned = {(x["action"], x["path"]) for x in records(r.stdout)}
    assert {("update", "f00"), ("create", "new"), ("delete", "f01")} <= planned
    assert (remote / "f01").exists() and (remote / "f00").read_bytes() == b"v1 0"  # nothing done
    r = run_wacket("sync", "--apply", plan, "--jsonl")
    assert r.returncode == 0, r.stderr
    assert {(x["action"], x["path"]) for x in records(r.stdout)} == planned
    assert "differed" not in r.stderr.decode()
    assert tree(remote) == tree(local)
    # a plan is refused once a side changed
    write(local, "f02", "v2")
    assert run_wacket("sync", f"{local}/", f"{spec}/", "--plan", plan).returncode == 0
    write(remote, "f03", "changed on the mirror")
    r = run_wacket("sync", "--apply", plan)
    assert r.returncode == 1 and "changed since the plan" in r.stderr.decode()
    assert (remote / "f02").read_bytes() == b"v1 2"
