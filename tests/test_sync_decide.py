"""The two-way decision table, itemize parsing and conflict names (pure functions, no servers)."""

from __future__ import annotations

from wacket.sync.decide import decide
from wacket.sync.oneway import default_limit
from wacket.sync.trash import conflict_name
from wacket.transport.rsync.itemize import parse_line

F1, F2, F3 = ("f", 1, 100), ("f", 2, 200), ("f", 3, 300)
HOSTS = {"a": "laptop", "b": "nas"}


def run(A, B, S=None, **kw):
    S = S or {}
    SA = {p: s[0] for p, s in S.items()}
    SB = {p: s[1] for p, s in S.items()}
    kw.setdefault("first_run", not S)
    kw.setdefault("policy", "keep-both")
    return decide(A, B, SA, SB, when="20261127T120000", hosts=HOSTS, **kw)


def ops(d):
    return {(op["op"], op["path"], op.get("from") or op.get("on")) for op in d.ops}


def test_one_side_changes_propagate_and_deletes_follow():
    S = {"x": (F1, F1), "y": (F1, F1), "z": (F1, F1)}
    d = run({"x": F2, "y": F1}, {"x": F1, "y": F1, "z": F1}, S)
    assert ops(d) == {("copy", "x", "a"), ("delete", "z", "b")}


def test_delete_vs_edit_edit_wins_and_both_gone_is_dropped():
    S = {"x": (F1, F1), "y": (F1, F1)}
    d = run({}, {"x": F2}, S)
    assert ops(d) == {("copy", "x", "b")} and d.drop == ["y"]


def test_both_changed_to_one_size_needs_hashes_even_with_one_mtime():
    S = {"x": (F1, F1), "y": (F1, F1), "d": (F1, F1)}
    d = run({"x": F2, "y": ("f", 5, 1), "d": ("d",)}, {"x": F2, "y": ("f", 5, 2), "d": ("d",)}, S)
    assert d.check == ["x", "y"] and d.same == ["d"] and d.ops == []


def test_first_run_compares_files_of_one_size_by_content():
    d = run({"x": F2, "y": ("f", 5, 1), "z": F1}, {"x": F2, "y": ("f", 5, 2), "z": F3})
    assert d.check == ["x", "y"] and d.same == [] and ("rename", "z", "a") in ops(d)


# size, mtime, inode, ctime: a rewrite that keeps size and mtime moves inode or ctime
G1, G1_MOVED, G1_UNKNOWN = ("f", 1, 100, 7, 500), ("f", 1, 100, 7, 600), ("f", 1, 100, 7, None)


def test_a_moved_ctime_is_a_change_only_when_the_content_says_so():
    S = {"x": (G1, G1), "y": (G1, G1), "z": (G1, G1_UNKNOWN)}
    A = {"x": G1_MOVED, "y": G1_MOVED, "z": G1}
    B = {"x": G1, "y": G1, "z": G1_MOVED}
    d = run(A, B, S, edited={"a": {"x"}, "b": set()})
    assert ops(d) == {("copy", "x", "a")}
    assert d.refresh == ["y", "z"]  # same content: only the new ctime is recorded
    d = run(A, {**B, "x": G1_MOVED}, S, edited={"a": {"x", "y"}, "b": {"x"}})
    assert [op["path"] for op in d.ops if op["op"] == "copy"] == ["y"]
    assert d.check == ["x"]  # changed on both sides, one size: the contents decide


def test_suspects_are_files_that_kept_size_and_mtime_only():
    from wacket.sync.decide import suspects

    SX = {"same": G1, "moved": G1, "unknown": G1_UNKNOWN, "resized": G1, "v2": ("f", 1, 100)}
    X = {"same": G1, "moved": G1_MOVED, "unknown": G1, "resized": ("f", 2, 100, 7, 600),
         "v2": G1}  # fmt: skip
    assert suspects(X, SX, sorted(SX)) == ["moved", "unknown"]


def test_conflict_keep_both_names_the_losers_host():
    S = {"doc.txt": (F1, F1)}
    d = run({"doc.txt": F3}, {"doc.txt": F2}, S)  # A is newer
    conflict = [op for op in d.ops if op["op"] == "conflict"][0]
    assert conflict["winner"] == "a"
    assert conflict["kept_as"] == "doc.conflict-nas-20261127T120000.txt"
    assert ("rename", "doc.txt", "b") in ops(d)
    assert ("copy", "doc.txt", "a") in ops(d)
    assert ("copy", "doc.conflict-nas-20261127T120000.txt", "b") in ops(d)


def test_first_run_never_deletes_or_replaces_whatever_the_policy():
    d = run({"x": F3, "only-a": F1}, {"x": F2, "only-b": F1}, policy="a")
    assert not [op for op in d.ops if op["op"] == "delete"]
    assert [op for op in d.ops if op["op"] == "rename"]  # keep-both on a first run


def test_dir_against_file_keeps_both():
    d = run({"p": ("d",)}, {"p": F1})
    conflict = [op for op in d.ops if op["op"] == "conflict"][0]
    assert conflict["winner"] == "a" and conflict["kept_as"].startswith("p.conflict-nas-")


def test_unreadable_directory_is_not_a_deletion():
    S = {"priv": (("d",), ("d",)), "priv/secret": (F1, F1), "pub": (F1, F1)}
    # A could not read priv/: its listing lacks everything below it
    d = run({"pub": F1}, {"priv": ("d",), "priv/secret": F1, "pub": F2}, S,
            a_errors=[["priv", "Permission denied"]])  # fmt: skip
    assert ops(d) == {("copy", "pub", "b")}


def test_conflict_names():
    assert conflict_name("a/b.tar.gz", "nas", "T", set()) == "a/b.tar.conflict-nas-T.gz"
    assert conflict_name(".bashrc", "nas", "T", set()) == ".bashrc.conflict-nas-T"
    taken = {"x.conflict-nas-T"}
    assert conflict_name("x", "nas", "T", taken) == "x.conflict-nas-T-1"
    assert conflict_name("x", "my host/1", "T", set()) == "x.conflict-my_host_1-T"


def test_itemize_lines():
    assert parse_line(rb">f+++++++++ 5 48 new\#012line")["path"] == "new\nline"
    assert parse_line(b">f..t...... 5 48 a")["action"] == "update"
    assert parse_line(b".f...p..... 1 0 a")["action"] == "attrs"
    assert parse_line(b"cLc........ 3 0 l")["action"] == "update"
    assert parse_line(b"*deleting   0 0 gone/")["kind"] == "dir"
    assert parse_line(rb"<f+++++++++ 1 0 \#377x")["path"] == "\udcffx"
    assert parse_line(b"Number of files: 8") is None


def test_default_guard_limit():
    assert default_limit(5) == 1 and default_limit(100) == 10 and default_limit(10_000) == 50
