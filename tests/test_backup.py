"""wacket backup against real sshd + rsync: snapshots, crashes, verify, restore, locks."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from backupbed import (
    BAD_BYTES,
    expected_entries,
    make_tree,
    read_manifest,
    tree_state,
)

SNAP = re.compile(r"^\d{4}-\d\d-\d\dT\d{6}Z$")


def snapshots(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if SNAP.match(p.name))


def complete(root: Path) -> list[str]:
    return [s for s in snapshots(root) if (root / f"{s}.manifest.gz").exists()]


@pytest.fixture
def bed(fleet, isolated_env, tmp_path):
    """A config with set `home`: local sources -> h1:TARGET; returns a namespace of paths."""

    class Bed:
        src = tmp_path / "src"
        target = tmp_path / "target"
        root = tmp_path / "target" / "home"

        def configure(self, extra: str = "", target: str | None = None, keep: str = "") -> None:
            docs = self.src / "Documents"
            pics = self.src / "Pictures"
            toml = (
                "[backup.home]\n"
                f"sources = [{json.dumps(str(docs))}, {json.dumps('local:' + str(pics))}]\n"
                f"target = {json.dumps(target or 'h1:' + str(self.target))}\n"
                'exclude = ["*.tmp", ".cache/"]\n' + keep + extra
            )
            fleet.write_fleet(isolated_env, Path(os.environ["WACKET_CONFIG"]), toml)

    b = Bed()
    b.src.mkdir()
    b.target.mkdir()
    make_tree(b.src)
    pics = b.src / "Pictures"
    pics.mkdir()
    (pics / "cat.jpg").write_bytes(os.urandom(300_000))
    (pics / "junk.tmp").write_text("excluded")
    (pics / ".cache").mkdir()
    (pics / ".cache" / "thumb").write_text("excluded")
    b.configure()
    return b


def ok(res):
    assert res.returncode == 0, (res.returncode, res.stdout, res.stderr)
    assert b"Traceback" not in res.stderr
    return res


def test_two_runs_share_unchanged_inodes(bed, run_wacket):
    ok(run_wacket("backup", "run", "home"))
    first = complete(bed.root)
    assert len(first) == 1
    s1 = bed.root / first[0]
    assert (s1 / "Documents" / "plain.txt").read_text().startswith("content 0")
    assert not (s1 / "Pictures" / "junk.tmp").exists() and not (s1 / "Pictures" / ".cache").exists()
    # Change one file, add one, delete one, chmod one (attribute-only change).
    docs = bed.src / "Documents"
    (docs / "with space.txt").write_text("changed\n")
    (docs / "added.txt").write_text("new\n")
    (docs / "sub" / "script.sh").unlink()
    (docs / "sub" / "secret").chmod(0o640)
    res = ok(run_wacket("backup", "run", "home", "--jsonl"))
    rec = json.loads(res.stdout.splitlines()[-1])
    assert rec["outcome"] == "ok" and rec["added_files"] == 2
    s1, s2 = (bed.root / s for s in complete(bed.root))

    def ino(p):
        return p.stat().st_ino

    assert ino(s1 / "Documents/plain.txt") == ino(s2 / "Documents/plain.txt")
    assert ino(s1 / "Documents/sub/deeper/big.bin") == ino(s2 / "Documents/sub/deeper/big.bin")
    assert ino(s1 / "Pictures/cat.jpg") == ino(s2 / "Pictures/cat.jpg")
    assert ino(s1 / "Documents/with space.txt") != ino(s2 / "Documents/with space.txt")
    assert (s1 / "Documents/with space.txt").read_text().startswith("content 1")
    assert (s2 / "Documents/with space.txt").read_text() == "changed\n"
    assert (s1 / "Documents/sub/script.sh").exists() and not (
        s2 / "Documents/sub/script.sh"
    ).exists()
    # The chmod reached the new snapshot only: the old one keeps its mode (own inode now).
    assert (s1 / "Documents/sub/secret").stat().st_mode & 0o777 == 0o600
    assert (s2 / "Documents/sub/secret").stat().st_mode & 0o777 == 0o640
    # Both manifests say exactly what is on disk (the second was built from rsync's change list).
    for snap in (s1, s2):
        header, entries = read_manifest(Path(f"{snap}.manifest.gz"))
        assert entries == expected_entries(snap), snap.name
        assert header["snapshot"] == snap.name
    assert read_manifest(Path(f"{s2}.manifest.gz"))[0]["manifest_mode"] == "delta"
    # A third run with nothing changed reuses the manifest body as is, and still says the truth.
    ok(run_wacket("backup", "run", "home"))
    s3 = bed.root / complete(bed.root)[-1]
    header, entries = read_manifest(Path(f"{s3}.manifest.gz"))
    assert entries == expected_entries(s3) and header["added_files"] == 0
    assert header["files"] == read_manifest(Path(f"{s2}.manifest.gz"))[0]["files"]
    assert ino(s2 / "Documents/with space.txt") == ino(s3 / "Documents/with space.txt")
    res = ok(run_wacket("backup", "verify", "home", "--all", "--extra"))
    assert res.stdout == b""
    (s3 / "Documents" / "stray").write_text("not in the manifest")
    res = run_wacket("backup", "verify", "home", "--extra", "--plain")
    assert res.returncode == 0 and res.stdout.split(b"\t")[1:3] == [b"Documents/stray", b"extra"]
    (s3 / "Documents" / "stray").unlink()
    listing = ok(run_wacket("backup", "list", "home", "--jsonl")).stdout.splitlines()
    assert [json.loads(x)["snapshot"] for x in listing] == [s1.name, s2.name, s3.name]
    diff = [
        json.loads(x)
        for x in ok(run_wacket("backup", "diff", "home", s1.name, "--jsonl")).stdout.splitlines()
    ]
    changes = {(d["change"], d["path"]) for d in diff if d["type"] != "d"}
    assert changes == {
        ("changed", "Documents/with space.txt"),
        ("added", "Documents/added.txt"),
        ("removed", "Documents/sub/script.sh"),
        ("meta", "Documents/sub/secret"),
    }
    found = [
        json.loads(x)
        for x in ok(
            run_wacket("backup", "find", "home", "with space", "--jsonl")
        ).stdout.splitlines()
    ]
    assert [(f["snapshot"], f["version"]) for f in found] == [
        (s1.name, 1),
        (s2.name, 2),
        (s3.name, 2),
    ]
    log = ok(run_wacket("log", "--jsonl")).stdout.decode()
    assert "backup run home" in log


@pytest.mark.parametrize("point", ["transfer", "after-transfer", "before-rename"])
def test_killed_run_leaves_no_snapshot_and_next_run_completes(bed, run_wacket, point):
    ok(run_wacket("backup", "run", "home"))
    before = complete(bed.root)
    (bed.src / "Documents" / "bulk").mkdir()
    for i in range(30):
        (bed.src / "Documents" / "bulk" / f"f{i}").write_bytes(os.urandom(200_000))
    res = run_wacket("backup", "run", "home", env={"WACKET_BACKUP_CRASH": point})
    assert res.returncode == -9
    time.sleep(0.5)  # the orphaned remote helper notices its channel closed
    assert complete(bed.root) == before
    assert snapshots(bed.root) == before  # nothing that looks like a snapshot
    assert (bed.root / ".inprogress").is_dir()
    res = ok(run_wacket("backup", "run", "home"))
    assert b"died without finishing" in res.stderr  # the stale lock was detected and reported
    after = complete(bed.root)
    assert len(after) == len(before) + 1 and not (bed.root / ".inprogress").exists()
    newest = bed.root / after[-1]
    assert tree_state(newest / "Documents") == tree_state(bed.src / "Documents")
    ok(run_wacket("backup", "verify", "home", "--all"))
    header, entries = read_manifest(Path(f"{newest}.manifest.gz"))
    assert entries == expected_entries(newest)


def test_commit_interrupted_between_renames_is_finished(bed, run_wacket):
    ok(run_wacket("backup", "run", "home"))
    (bed.src / "Documents" / "x").write_text("x")
    res = run_wacket("backup", "run", "home", env={"WACKET_BACKUP_CRASH": "before-rename"})
    assert res.returncode == -9
    # Do the first of the commit's two renames by hand, as if the crash came between them.
    name = "2030-01-01T000000Z"
    state = json.loads((bed.root / ".inprogress.json").read_text())
    state["committing"] = name
    (bed.root / ".inprogress.json").write_text(json.dumps(state))
    os.rename(bed.root / ".inprogress.manifest.gz", bed.root / f"{name}.manifest.gz")
    assert name not in complete(bed.root)
    res = ok(run_wacket("backup", "run", "home"))
    assert b"finished the interrupted commit" in res.stderr
    snaps = complete(bed.root)
    assert name in snaps and len(snaps) == 3
    ok(run_wacket("backup", "verify", "home", "--all"))


def test_verify_reports_exactly_the_damage(bed, run_wacket):
    ok(run_wacket("backup", "run", "home"))
    snap = bed.root / complete(bed.root)[0]
    big = snap / "Documents/sub/deeper/big.bin"
    st = big.stat()
    with open(big, "r+b") as fh:  # flip one byte, keep size and mtime: only a re-hash sees it
        fh.seek(1000)
        b = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([b[0] ^ 0xFF]))
    os.utime(big, ns=(st.st_atime_ns, st.st_mtime_ns))
    (snap / "Documents" / "with space.txt").unlink()
    res = run_wacket("backup", "verify", "home", "--jsonl")
    assert res.returncode == 1, res.stderr
    problems = sorted((p["path"], p["problem"]) for p in map(json.loads, res.stdout.splitlines()))
    assert problems == [
        ("Documents/sub/deeper/big.bin", "changed"),
        ("Documents/with space.txt", "missing"),
    ]
    # A sample still runs one remote command and exits 0 or 1 consistently; 100% sample == full.
    res = run_wacket("backup", "verify", "home", "--sample", "100", "--plain")
    assert res.returncode == 1 and res.stdout.count(b"\n") == 2


def test_restore_file_dir_and_whole_snapshot(bed, run_wacket, tmp_path):
    ok(run_wacket("backup", "run", "home"))
    snap = complete(bed.root)[0]
    docs = bed.src / "Documents"
    out = tmp_path / "restored"
    # One file with a newline in its name.
    ok(run_wacket("backup", "restore", "home", "Documents/new\nline.txt", "--to", str(out / "one")))
    assert (out / "one" / "new\nline.txt").read_bytes() == (docs / "new\nline.txt").read_bytes()
    # One directory (modes, times, a symlink and a non-UTF-8 name inside).
    ok(run_wacket("backup", "restore", "home", snap, "Documents/sub", "--to", str(out / "dir")))
    assert tree_state(out / "dir" / "sub") == tree_state(docs / "sub")
    # The whole snapshot, by default the latest.
    ok(run_wacket("backup", "restore", "home", "--to", str(out / "all")))
    assert tree_state(out / "all" / "Documents") == tree_state(docs)
    assert (out / "all" / "Documents" / "empty dir").is_dir()
    assert os.readlink(out / "all" / "Documents" / "dangling") == "/nonexistent/target"
    assert os.path.exists(os.path.join(os.fsencode(out / "all" / "Documents"), BAD_BYTES))
    # Refuses to overwrite, names the file, leaves it alone; --overwrite replaces it.
    victim = out / "all" / "Documents" / "plain.txt"
    victim.write_text("local edit\n")
    res = run_wacket(
        "backup", "restore", "home", "Documents/plain.txt", "--to", str(out / "all" / "Documents")
    )
    assert res.returncode == 1 and b"plain.txt" in res.stderr and b"--overwrite" in res.stderr
    res = run_wacket("backup", "restore", "home", "--to", str(out / "all"))
    assert res.returncode == 1 and b"not overwriting" in res.stderr
    assert victim.read_text() == "local edit\n"
    ok(
        run_wacket(
            "backup",
            "restore",
            "home",
            "Documents/plain.txt",
            "--to",
            str(out / "all" / "Documents"),
            "--overwrite",
        )
    )
    assert victim.read_bytes() == (docs / "plain.txt").read_bytes()
    assert victim.stat().st_mtime_ns == (docs / "plain.txt").stat().st_mtime_ns
    res = run_wacket("backup", "restore", "home", "Documents/nope", "--to", str(out / "x"))
    assert res.returncode == 2 and b"not in snapshot" in res.stderr


def test_restore_from_local_target_to_remote_host(bed, run_wacket, tmp_path):
    target = tmp_path / "localtarget"
    target.mkdir()
    ok(
        run_wacket(
            "backup",
            "run",
            "--source",
            str(bed.src / "Documents"),
            "--target",
            str(target),
            "--name",
            "docs",
        )
    )
    dest = tmp_path / "on-h2"
    ok(
        run_wacket(
            "backup",
            "restore",
            "docs",
            "Documents/sub",
            "--target",
            str(target),
            "--to",
            f"h2:{dest}",
        )
    )
    assert tree_state(dest / "sub") == tree_state(bed.src / "Documents" / "sub")


def test_remote_source_to_local_target(bed, run_wacket, tmp_path):
    target = tmp_path / "pull"
    target.mkdir()
    src = f"h2:{bed.src / 'Documents'}"
    ok(run_wacket("backup", "run", "--source", src, "--target", str(target), "--name", "pulled"))
    snap = complete(target / "pulled")[0]
    assert tree_state(target / "pulled" / snap / "Documents") == tree_state(bed.src / "Documents")


def test_second_concurrent_run_exits_4_naming_the_holder(bed, run_wacket, isolated_env):
    env = dict(os.environ, WACKET_BACKUP_PAUSE="locked:15")
    first = subprocess.Popen(
        [sys.executable, "-m", "wacket", "backup", "run", "home"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.time() + 20
        lock = bed.root / ".lock"
        while time.time() < deadline and not (lock.exists() and lock.stat().st_size):
            time.sleep(0.1)
        res = run_wacket("backup", "run", "home")
        assert res.returncode == 4, res.stderr
        err = res.stderr.decode()
        assert f"pid {first.pid}" in err and "lock" in err and err.count("\n") == 1
        # Reading still works during the run.
        ok(run_wacket("backup", "list", "home"))
    finally:
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert len(complete(bed.root)) == 1


def test_prune_refuses_after_failed_run_and_keeps_newest(bed, run_wacket):
    bed.configure(keep="keep = { last = 1 }\n")
    ok(run_wacket("backup", "run", "home"))
    ok(run_wacket("backup", "run", "home"))
    assert len(complete(bed.root)) == 2
    shutil.rmtree(bed.src / "Pictures")  # a source that vanished (unmounted disk?)
    res = run_wacket("backup", "run", "home", "--prune")
    assert res.returncode == 2 and b"Pictures does not exist" in res.stderr
    assert len(complete(bed.root)) == 2  # refused before anything was written
    res = run_wacket("backup", "prune", "home")
    assert res.returncode == 1 and b"not pruning" in res.stderr
    assert len(complete(bed.root)) == 2
    res = ok(run_wacket("backup", "prune", "home", "--dry-run", "--jsonl"))
    actions = [json.loads(x)["action"] for x in res.stdout.splitlines()]
    assert actions == ["keep", "would remove"]
    ok(run_wacket("backup", "prune", "home", "--force"))
    assert len(complete(bed.root)) == 1
    # run --prune applies the policy after a successful run only.
    (bed.src / "Pictures").mkdir()
    ok(run_wacket("backup", "run", "home", "--prune"))
    assert len(complete(bed.root)) == 1


def test_run_all_and_errors_are_one_line(bed, run_wacket, tmp_path):
    extra = f'\n[backup.broken]\nsources = ["/nonexistent/dir"]\ntarget = "h1:{tmp_path}"\n'
    bed.configure(extra=extra)
    res = run_wacket("backup", "run", "--all", "--plain")
    assert res.returncode == 2  # a missing source: a usage error, and nothing written
    assert b"Traceback" not in res.stderr
    assert len(complete(bed.root)) == 1 and not (tmp_path / "broken").exists()
    assert any(line.startswith(b"wacket: error: backup broken") for line in res.stderr.splitlines())
    res = run_wacket("backup", "run", "nosuch")
    assert res.returncode == 2 and b"no backup set 'nosuch'" in res.stderr
    res = run_wacket(
        "backup", "run", "--source", str(bed.src), "--target", "nohost:/x", "--name", "n"
    )
    assert res.returncode == 2 and b"unknown host" in res.stderr


def test_same_size_rewrite_within_the_same_second_is_backed_up(bed, run_wacket):
    """rsync's quick check compares whole seconds by default: a same-size rewrite whose mtime
    differs only in nanoseconds would be skipped. wacket compares nanoseconds."""
    f = bed.src / "Documents" / "plain.txt"
    t = 1_700_000_000_000_000_000
    f.write_text("AAAA")
    os.utime(f, ns=(t, t))
    ok(run_wacket("backup", "run", "home"))
    f.write_text("BBBB")
    os.utime(f, ns=(t + 1000, t + 1000))
    ok(run_wacket("backup", "run", "home"))
    s1, s2 = (bed.root / s for s in complete(bed.root))
    assert (s1 / "Documents/plain.txt").read_text() == "AAAA"
    assert (s2 / "Documents/plain.txt").read_text() == "BBBB"
    assert (s2 / "Documents/plain.txt").stat().st_mtime_ns == t + 1000
    ok(run_wacket("backup", "verify", "home", "--all"))
    header, entries = read_manifest(Path(f"{s2}.manifest.gz"))
    assert entries == expected_entries(s2)
