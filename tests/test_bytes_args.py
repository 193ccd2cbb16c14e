"""Arguments with non-UTF-8 bytes (a file name can hold any): the command works, prints the same
bytes, and its journal entry is written with the exact path in it (real rsync, real sshd)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import syncbed
from syncbed import tree, write

pair = syncbed.pair  # fixture

FF = os.fsdecode(b"\xff")  # an argument as Python gives it: str with a surrogate escape


def entries(run_wacket) -> list[dict]:
    r = run_wacket("log", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def ok(r):
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert b"internal error" not in r.stderr
    return r


def seed(root: Path) -> None:
    write(root, os.fsdecode(b"f\xfe"), b"bytes \xff\n")
    write(root, "plain.txt", "plain")


def test_sync_local_paths_with_non_utf8_bytes(run_wacket, tmp_path):
    src, dest = tmp_path / f"x{FF}", tmp_path / f"dest{FF}"
    seed(src)
    r = ok(run_wacket("sync", f"{src}/", f"{dest}/"))
    assert tree(dest) == tree(src)
    assert b"f\xfe" in r.stdout  # the record's path, as the same bytes
    (entry,) = entries(run_wacket)
    assert entry["command"] == "sync" and entry["outcome"] == "ok"
    assert os.fsencode(f"{src}/ {dest}/") in os.fsencode(entry["summary"])


def test_sync_to_and_from_a_host_with_non_utf8_bytes(pair, run_wacket, tmp_path):
    local, remote, spec = pair
    src = local / f"x{FF}"
    seed(src)
    ok(run_wacket("sync", f"{src}/", f"{spec}/d{FF}/"))
    assert tree(remote / f"d{FF}") == tree(src)
    back = tmp_path / f"back{FF}"
    ok(run_wacket("sync", f"{spec}/d{FF}/", f"{back}/"))
    assert tree(back) == tree(src)
    summaries = [os.fsencode(e["summary"]) for e in entries(run_wacket)]
    assert len(summaries) == 2
    assert os.fsencode(f"{remote}/d{FF}/") in summaries[0]
    assert os.fsencode(f"{back}/") in summaries[1]


def test_run_with_non_utf8_argument_locally_and_on_a_host(fleet, run_wacket, tmp_path):
    name = tmp_path / f"here{FF}"
    name.write_text("x")
    r = ok(run_wacket("run", "local", "--", "ls", str(name)))
    assert r.stdout == b"local: " + os.fsencode(name) + b"\n"
    there = fleet.hosts[0].home / f"there{FF}\xe9"
    there.write_text("x")
    r = ok(run_wacket("run", "h1", "--", "ls", str(there)))
    assert r.stdout == b"h1: " + os.fsencode(there) + b"\n"
    r = ok(run_wacket("run", "h1", "--jsonl", "--", "ls", str(there)))
    assert os.fsencode(json.loads(r.stdout)["stdout"]) == os.fsencode(there) + b"\n"
    runs = entries(run_wacket)
    assert [e["command"] for e in runs] == ["run"] * 3
    assert os.fsencode(runs[0]["summary"]).endswith(b"ls " + os.fsencode(name))
    assert os.fsencode(runs[1]["summary"]).endswith(b"ls " + os.fsencode(there))


def test_failed_command_with_non_utf8_argument_reports_the_bytes(run_wacket, tmp_path):
    missing = tmp_path / f"gone{FF}"
    r = run_wacket("run", "local", "--", "ls", str(missing))
    assert r.returncode == 1 and b"internal error" not in r.stderr
    (entry,) = entries(run_wacket)
    assert entry["outcome"] == "failed" and os.fsencode(str(missing)) in os.fsencode(
        entry["summary"]
    )


def test_log_from_a_host_carries_non_utf8_bytes(fleet, run_wacket):
    """h1's journal holds such an entry; `log --from h1` brings back the same bytes."""
    there = fleet.hosts[0].home / f"there{FF}\xe9"
    there.write_text("x")
    h1_data = fleet.hosts[0].home / ".local/share/wacket"  # where the helper on h1 looks
    ok(run_wacket("run", "local", "--", "ls", str(there), env={"WACKET_DATA": str(h1_data)}))
    r = ok(run_wacket("log", "--from", "h1", "--json"))
    mine = [e for e in json.loads(r.stdout) if e["machine"] == "h1"]
    assert any(os.fsencode(e["summary"]).endswith(b"ls " + os.fsencode(there)) for e in mine)


def test_find_index_and_query_with_non_utf8_root_and_pattern(run_wacket, tmp_path):
    root = tmp_path / f"r{FF}"
    write(root, os.fsdecode(b"caf\xe9 \xff.txt"), "x")
    write(root, os.fsdecode(b"odd.\xfe"), "x")
    ok(run_wacket("find", "index", "local", "--root", str(root)))
    for args in ([FF, "--plain"], ["--plain", "--", FF]):  # the quick path and click's
        r = ok(run_wacket("find", *args))
        assert r.stdout.split(b"\t")[:2] == [b"local", os.fsencode(root) + b"/caf\xe9 \xff.txt"]
    r = ok(run_wacket("find", os.fsdecode(b"\xe9 \xff"), "--jsonl"))
    assert os.fsencode(json.loads(r.stdout)["path"]) == os.fsencode(root) + b"/caf\xe9 \xff.txt"
    r = ok(run_wacket("find", "--ext", os.fsdecode(b"\xfe"), "--plain"))
    assert r.stdout.split(b"\t")[1] == os.fsencode(root) + b"/odd.\xfe"
    assert [e["command"] for e in entries(run_wacket)] == ["find index"]


def test_error_message_names_the_exact_bytes(run_wacket, tmp_path):
    missing = f"{tmp_path}/nope{FF}/"
    r = run_wacket("sync", missing, f"{tmp_path}/d/")
    assert r.returncode == 2 and b"internal error" not in r.stderr
    assert r.stderr == b"wacket: error: " + os.fsencode(missing) + b": source does not exist\n"
    (entry,) = entries(run_wacket)
    assert entry["outcome"] == "failed" and os.fsencode(missing) in os.fsencode(entry["summary"])


def test_backup_run_with_non_utf8_source_and_target(fleet, run_wacket, tmp_path):
    src = tmp_path / f"docs{FF}"
    seed(src)
    target = fleet.hosts[0].home / f"backups{FF}-{tmp_path.name}"
    target.mkdir()  # a backup target is never created implicitly
    r = ok(run_wacket("backup", "run", "--source", str(src), "--target", f"h1:{target}",
                      "--name", "docs", "--jsonl"))  # fmt: skip
    snap = json.loads(r.stdout)["snapshot"]
    assert tree(target / "docs" / snap / src.name) == tree(src)
    (entry,) = entries(run_wacket)
    assert entry["command"] == "backup run docs" and entry["outcome"] == "ok"
    assert os.fsencode(f"h1:{target}") in os.fsencode(entry["summary"])
