"""The deletion guard counts what a mirror run deletes the way rsync's own --stats does: 34 extra
files in 3 extra directories are 37 deletions, whatever rsync's --max-delete=0 count says."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import syncbed
from syncbed import records, tree, write

pair = syncbed.pair  # fixture

# Where DEST's 34 extra files go: three extra directories, flat or one inside another (rsync's
# "skipped" count under --max-delete=0 is 34 for the first and 35 for the second).
SHAPES = {
    "flat": ["x"] * 10 + ["y"] * 12 + ["z"] * 12,
    "nested": ["x/y"] * 10 + ["z"] * 24,
}


def make(src, dest, shape):
    for i in range(400):
        write(src, f"keep/{i:03}", f"kept {i}")
    for i, where in enumerate(SHAPES[shape]):
        write(dest, f"{where}/extra{i:02}", f"extra {i}")


def rsync_deletions(src, dest, tmp_path) -> int:
    """What rsync --delete --stats counts as deleted, on a copy of DEST."""
    copy = tmp_path / "copy"
    shutil.copytree(dest, copy, symlinks=True)
    out = subprocess.run(
        ["rsync", "-a", "--delete", "--stats", f"{src}/", f"{copy}/"],
        capture_output=True,
        check=True,
    ).stdout
    return int(re.search(rb"Number of deleted files: ([\d,]+)", out).group(1).replace(b",", b""))


@pytest.mark.parametrize("where", ["local", "remote"])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_guard_counts_every_deletion(pair, run_wacket, tmp_path, shape, where):
    local, remote, spec = pair
    src = tmp_path / "src"
    dest = local if where == "local" else remote
    target = f"{local}/" if where == "local" else f"{spec}/"
    write(src, "a.txt", "alpha")
    run_wacket("sync", f"{src}/", target).check_returncode()
    make(src, dest, shape)
    run_wacket("sync", f"{src}/", target).check_returncode()  # the kept files, no deletions
    expected = rsync_deletions(src, dest, tmp_path)
    assert expected == 37

    res = run_wacket("sync", f"{src}/", target, "--delete", "--dry-run", "--max-delete", "36")
    assert "would delete 37 (limit 36)" in res.stderr.decode()
    res = run_wacket("sync", f"{src}/", target, "--delete", "--max-delete", "36")
    assert res.returncode == 1
    err = res.stderr.decode()
    assert "would delete 37 files or directories (limit 36)" in err, err
    assert "--max-delete 37" in err
    assert len([p for p in tree(dest) if p.startswith(("x", "y", "z"))]) == 37  # none deleted

    res = run_wacket("sync", f"{src}/", target, "--delete", "--max-delete", "37", "--jsonl")
    assert res.returncode == 0, res.stderr
    assert len([r for r in records(res.stdout) if r["action"] == "delete"]) == 37
    assert tree(dest) == tree(src)
