"""wacket.transport.rsync without servers: the itemize parser on real rsync output, the exit-code
table and its per-caller policies, and the runner against a local rsync."""

from __future__ import annotations

import os

import pytest

from wacket.errors import WacketError
from wacket.transport import rsync
from wacket.transport.rsync import codes, itemize

# Captured from rsync 3.x: `rsync -a --delete --out-format='%i %l %b %n' a/ b/` creating, then
# updating, a tree whose names include a newline; and `.d         ` (rsync's all-spaces form).
REAL = [
    b"*deleting   0 0 olddir/x\n",
    b"*deleting   0 0 olddir/\n",
    b"*deleting   0 0 gone\n",
    b">f+++++++++ 3 46 f1\n",
    b"cL+++++++++ 2 0 link\n",
    b">f+++++++++ 1 44 new\\#012line\n",
    b"cd+++++++++ 4096 0 sub/\n",
    b">f..t...... 3 46 f1\n",
    b".d...p..... 4096 0 sub/\n",
]


def test_one_parser_for_sync_and_backup():
    items = [itemize.parse(line) for line in REAL]
    assert all(items)
    assert [rsync.change(i) for i in items] == [
        ["*deleting", "olddir/x"], ["*deleting", "olddir/"], ["*deleting", "gone"],
        [">f+++++++++", "f1"], ["cL+++++++++", "link"], [">f+++++++++", "new\nline"],
        ["cd+++++++++", "sub/"], [">f..t......", "f1"], [".d...p.....", "sub/"],
    ]  # fmt: skip
    recs = [rsync.record(i) for i in items]
    assert [(r["action"], r["kind"], r["path"], r["size"]) for r in recs] == [
        ("delete", "file", "olddir/x", None), ("delete", "dir", "olddir", None),
        ("delete", "file", "gone", None), ("create", "file", "f1", 3),
        ("create", "symlink", "link", 2), ("create", "file", "new\nline", 1),
        ("create", "dir", "sub", None), ("update", "file", "f1", 3), ("attrs", "dir", "sub", None),
    ]  # fmt: skip
    assert recs[3]["sent"] == 46 and recs[3]["itemize"] == ">f+++++++++"


def test_parser_edges():
    assert itemize.parse(rb"<f+++++++++ 1 0 \#377x").name == b"\xffx"
    assert rsync.parse_line(rb"<f+++++++++ 1 0 \#377x")["path"] == "\udcffx"
    unchanged = itemize.parse(b".d          4096 0 dir/")
    assert unchanged.unchanged and rsync.record(unchanged) is None
    assert rsync.change(unchanged) == [".d         ", "dir/"]
    for other in (b"Number of files: 8", b"created directory d", b"sent 249 bytes", b""):
        assert itemize.parse(other) is None
    stats = itemize.parse_stats(
        [b"Number of files: 1,005 (reg: 1,000, dir: 5)\n", b"Number of created files: 5\n",
         b"Total bytes sent: 12,345\n",
         b"Deletions stopped due to --max-delete limit (7 skipped)\n"]
    )  # fmt: skip
    assert stats == {"files": 1005, "created": 5, "sent": 12345, "skipped_deletes": 7}


MAN_PAGE_CODES = [0, 1, 2, 3, 4, 5, 6, 10, 11, 12, 13, 14, 20, 21, 22, 23, 24, 25, 30, 35]


def test_every_exit_code_has_a_meaning():
    assert set(MAN_PAGE_CODES) | {255} == set(codes.EXIT_CODES)
    for rc in MAN_PAGE_CODES:
        assert codes.text(rc)


def test_policies_differ_only_where_named():
    ok, partial, link, failed = rsync.Outcome.OK, rsync.Outcome.PARTIAL, "link", "failed"
    assert rsync.outcome(0, "sync") is ok and rsync.outcome(0, "backup") is ok
    assert rsync.outcome(23, "sync") is partial and rsync.outcome(23, "backup") is partial
    # Files vanished: a mirror is fine (a note), a snapshot is partial.
    assert rsync.outcome(24, "sync") is ok and rsync.outcome(24, "backup") is partial
    # --max-delete: the sync guard's own passes end so; a backup never passes it.
    assert rsync.outcome(25, "sync") is ok and rsync.outcome(25, "backup").value == failed
    for rc in (5, 10, 12, 35, 255):
        assert rsync.outcome(rc, "sync").value == link == rsync.outcome(rc, "backup").value
    differ = [rc for rc, c in codes.EXIT_CODES.items() if c.sync is not c.backup]
    assert differ == [24, 25]
    assert (
        rsync.outcome(127, "sync").value == failed and rsync.outcome(-9, "backup").value == failed
    )


def test_describe_keeps_backups_message():
    assert rsync.describe(23, "x\nrsync error: y\n") == (
        "rsync exit 23 (some files could not be transferred): x; rsync error: y"
    )
    assert (
        rsync.describe(30, "")
        == "rsync exit 30 (timeout in data send/receive): timeout in data send/receive"
    )
    assert rsync.describe(99, "") == "rsync exit 99 (error): "


def test_runner_streams_records_and_keeps_bytes(tmp_path):
    src = tmp_path / "a"
    src.mkdir()
    (src / "f1").write_text("hi\n")
    name = os.fsencode(src) + b"/\xff-name"
    with open(name, "wb") as fh:
        fh.write(b"x")
    dest = tmp_path / "b"
    seen = []
    res = rsync.run(
        ["rsync", "-a", f"--out-format={rsync.OUT_FORMAT}", "--stats", f"{src}/", f"{dest}/"],
        rsync.records(seen.append),
    )
    assert res.rc == 0 and res.records == 3
    assert sorted(r["path"] for r in seen) == sorted([".", "f1", "\udcff-name"])
    assert os.path.exists(os.fsencode(dest) + b"/\xff-name")
    assert res.stats["files"] == 3 and not res.error_lines
    missing = rsync.run(["rsync", "-a", f"{tmp_path}/nope/", f"{dest}/"])
    assert missing.rc == 23 and any("nope" in line for line in missing.error_lines)


def test_runner_feeds_input_and_runs_from_a_worker_thread(tmp_path):
    import threading

    src = tmp_path / "a"
    src.mkdir()
    for n in ("x", "y"):
        (src / n).write_text(n)
    out = []

    def work():
        out.append(rsync.run(["rsync", "-a", "--out-format=%i %l %b %n", "--files-from=-",
                              "--from0", f"{src}/", f"{tmp_path}/b/"], input=b"x\0"))  # fmt: skip

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert out[0].rc == 0 and out[0].records == 1  # x only
    assert sorted(os.listdir(tmp_path / "b")) == ["x"]


def test_runner_child_has_its_own_group_and_the_lock_fds(tmp_path):
    """The guarantees of wacket.children: own process group, parent-death signal, lock fds."""
    from wacket import lock

    r, w = os.pipe()  # not inheritable (PEP 446), as the lock files are
    lock._HELD.add(w)
    try:
        script = tmp_path / "rsync"
        script.write_text(
            f"#!/bin/sh\nls /proc/$$/fd > {tmp_path}/fds\nps -o pgid= -p $$ > {tmp_path}/pgid\n"
        )
        script.chmod(0o755)
        res = rsync.run([str(script)])
    finally:
        lock._HELD.discard(w)
        os.close(r)
        os.close(w)
    assert res.rc == 0
    fds = set((tmp_path / "fds").read_text().split())
    assert str(w) in fds and str(r) not in fds
    assert int((tmp_path / "pgid").read_text()) != os.getpgid(0)


def test_missing_rsync_is_a_usage_error(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(WacketError) as exc:
        rsync.run(["rsync", "-a", "x", "y"], missing="no rsync here")
    assert str(exc.value) == "no rsync here" and exc.value.code == 2


def test_check_sync_raises_the_old_messages():
    res = rsync.Result(1, stderr=[b"rsync: bad option\n"])
    with pytest.raises(WacketError, match=r"rsync failed \(exit 1\): rsync: bad option"):
        rsync.check_sync(res, None)
    rsync.check_sync(rsync.Result(24), None)  # vanished files: fine for sync
    with pytest.raises(WacketError, match="killed by signal 9"):
        rsync.check_sync(rsync.Result(-9), None)
