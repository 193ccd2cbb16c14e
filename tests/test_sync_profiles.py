"""Named sync profiles from the config, --all, the per-profile lock, the journal."""

from __future__ import annotations

import os
from pathlib import Path

import syncbed
from syncbed import records, tree, write

pair = syncbed.pair  # fixture


def add_profiles(text: str) -> None:
    Path(os.environ["WACKET_CONFIG"]).parent.mkdir(parents=True, exist_ok=True)
    with open(os.environ["WACKET_CONFIG"], "a") as fh:
        fh.write("\n" + text)


def test_profiles_run_by_name_and_all(pair, run_wacket, tmp_path):
    local, remote, spec = pair
    write(local, "doc.txt", "doc")
    write(local, "junk.tmp", "junk")
    write(local, ".cache/c", "cache")
    write(remote, "from-b", "b")
    mirror = tmp_path / "mirror"
    add_profiles(
        f'[sync.docs]\na = "local:{local}"\nb = "{spec}"\nmode = "two-way"\n'
        f'exclude = ["*.tmp", ".cache/"]\n\n'
        f'[sync.backup]\na = "{local}/"\nb = "{mirror}/"\n'
    )
    r = run_wacket("sync", "docs", "--jsonl")
    assert r.returncode == 0, r.stderr
    assert set(tree(remote)) == {"doc.txt", "from-b"}
    assert (local / "from-b").exists()
    r = run_wacket("-q", "sync", "--all", "--jsonl")
    assert r.returncode == 0, r.stderr
    assert (mirror / "junk.tmp").exists() and (mirror / "doc.txt").exists()
    log = records(run_wacket("log", "--command", "sync", "--jsonl").stdout)
    summaries = [e["summary"] for e in log]
    assert any(s.startswith("docs: ") for s in summaries)
    assert any(s.startswith("backup: ") for s in summaries)
    assert all(e["outcome"] == "ok" for e in log)
    assert "h1" in log[0]["hosts"]


def test_all_as_a_table_names_each_job(run_wacket, tmp_path):
    """--all --table: one summary table, a JOB column first, each job's rows under its name."""
    import re

    for name in ("one", "two"):
        write(tmp_path / name, "f", name)
    add_profiles("".join(f'[sync.{n}]\na = "{tmp_path / n}/"\nb = "{tmp_path / n}-m/"\n\n'
                         for n in ("one", "two")))  # fmt: skip
    r = run_wacket("sync", "--all", "--table")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert lines[0].split() == ["JOB", "ACTION", "FILES", "BYTES", "SECONDS", "THROUGHPUT"]
    rows = [ln.split() for ln in lines[2:]]
    assert [row[:4] for row in rows] == [["one", "create", "2", "3B"], ["one", "total", "2", "3B"],
                                         ["two", "create", "2", "3B"], ["two", "total", "2", "3B"]]  # fmt: skip
    assert all(re.fullmatch(r"[0-9.]+", row[4]) for row in rows if row[1] == "total")
    assert "wacket sync: one:" not in r.stderr.decode()  # the table replaces the summary notes


def test_profile_lock_refuses_an_overlapping_run(pair, run_wacket):
    local, remote, spec = pair
    add_profiles(f'[sync.docs]\na = "{local}"\nb = "{spec}"\nmode = "two-way"\n')
    from wacket.lock import job_lock

    with job_lock("sync-docs"):
        r = run_wacket("sync", "docs")
    assert r.returncode == 4
    assert "another wacket run holds the lock" in r.stderr.decode()
    assert run_wacket("sync", "docs").returncode == 0


def test_profile_errors_name_the_line(run_wacket, isolated_env):
    add_profiles('[sync.bad]\na = "/tmp/x"\nmode = "sideways"\n')
    r = run_wacket("sync", "bad")
    err = r.stderr.decode()
    assert r.returncode == 2 and "config.toml:" in err and "needs b" in err
    Path(os.environ["WACKET_CONFIG"]).write_text(
        '[sync.bad]\na = "/tmp/x"\nb = "/tmp/y"\nmode = "sideways"\n'
    )
    r = run_wacket("sync", "bad")
    assert r.returncode == 2 and "mode must be one of" in r.stderr.decode()
    r = run_wacket("sync", "--all")
    assert r.returncode == 2


def test_failed_run_is_journaled(pair, run_wacket):
    local, remote, spec = pair
    for i in range(20):
        write(remote, f"f{i}", "x")
    empty = local / "empty"
    empty.mkdir()
    r = run_wacket("sync", f"{empty}/", f"{spec}/", "--delete")
    assert r.returncode == 1
    last = records(run_wacket("log", "--command", "sync", "--jsonl").stdout)[-1]
    assert last["outcome"] == "failed" and "would delete 20" in last["summary"]


def test_all_goes_on_past_a_failing_profile(pair, run_wacket, tmp_path):
    local, remote, spec = pair
    write(local, "f", "f")
    add_profiles(
        f'[sync.broken]\na = "{tmp_path}/missing/"\nb = "{spec}/x/"\n\n'
        f'[sync.good]\na = "{local}/"\nb = "{tmp_path}/out/"\n'
    )
    r = run_wacket("sync", "--all")
    assert r.returncode == 2
    assert "broken" in r.stderr.decode() and (tmp_path / "out/f").exists()
