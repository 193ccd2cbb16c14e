"""Backup guards against real sshd + rsync: a missing source, an emptied source and a missing target
root are refused before a snapshot is made (or a directory created)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

SNAP = re.compile(r"^\d{4}-\d\d-\d\dT\d{6}Z$")


def snapshots(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if SNAP.match(p.name))


@pytest.fixture(params=["to-h1", "from-h1"])
def layout(request, fleet, tmp_path):
    """A source tree and a target: local source -> h1 target, or h1 source -> local target."""
    h1 = fleet.hosts[0].home / tmp_path.name  # h1's home is shared by the worker's tests
    if request.param == "to-h1":
        src, target = tmp_path / "Docs", h1 / "guard-target"
        spec_src, spec_target = str(src), f"h1:{target}"
    else:
        src, target = h1 / "guard-src" / "Docs", tmp_path / "target"
        spec_src, spec_target = f"h1:{src}", str(target)
    src.mkdir(parents=True)
    target.mkdir(parents=True)
    for i in range(120):
        (src / f"f{i:03d}.txt").write_text(f"{i}\n")

    class Layout:
        def __init__(self):
            self.src, self.target, self.root = src, target, target / "docs"
            self.spec_src, self.spec_target = spec_src, spec_target

        def args(self, *extra: str, source: str | None = None, target: str | None = None):
            return [
                "backup", "run", "--source", source or self.spec_src,
                "--target", target or self.spec_target, "--name", "docs", "--json", *extra,
            ]  # fmt: skip

    return Layout()


def _one_line(res) -> str:
    lines = res.stderr.decode().splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    return lines[0]


def test_missing_source_is_a_usage_error_and_writes_nothing(layout, run_wacket):
    host = "h1:" if layout.spec_src.startswith("h1:") else ""
    missing = f"{host}{layout.src.parent}/nonexistent"
    res = run_wacket(*layout.args(source=missing))
    assert res.returncode == 2, res.stderr
    assert "nonexistent does not exist" in _one_line(res)
    assert list(layout.target.iterdir()) == []  # no set directory, no lock, no snapshot


def test_emptied_source_is_refused_unless_allow_empty(layout, run_wacket):
    first = run_wacket(*layout.args())
    assert first.returncode == 0, first.stderr
    for p in layout.src.iterdir():
        p.unlink()
    res = run_wacket(*layout.args())
    assert res.returncode == 1, res.stderr
    line = res.stderr.decode()
    assert "have 0 files, the last snapshot" in line and "has 120" in line
    assert "--allow-empty" in line
    assert len(snapshots(layout.root)) == 1  # nothing committed
    res = run_wacket(*layout.args("--allow-empty"))
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)[0]["files"] == 0
    assert b"the snapshot has no files" in res.stderr
    assert len(snapshots(layout.root)) == 2


def test_source_that_lost_most_files_is_refused_a_smaller_loss_is_not(layout, run_wacket):
    assert run_wacket(*layout.args()).returncode == 0
    for i in range(20):  # 120 -> 100: a normal clean-up
        (layout.src / f"f{i:03d}.txt").unlink()
    res = run_wacket(*layout.args())
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)[0]["files"] == 100
    for i in range(20, 110):  # 100 -> 10: fewer than half, and 90 fewer
        (layout.src / f"f{i:03d}.txt").unlink()
    res = run_wacket(*layout.args())
    assert res.returncode == 1 and b"have 10 files" in res.stderr, res.stderr
    assert len(snapshots(layout.root)) == 2
    res = run_wacket(*layout.args("--allow-empty"))
    assert res.returncode == 0 and json.loads(res.stdout)[0]["files"] == 10


def test_first_snapshot_of_an_empty_source_warns(layout, run_wacket):
    for p in layout.src.iterdir():
        p.unlink()
    res = run_wacket(*layout.args())
    assert res.returncode == 0, res.stderr
    assert b"the snapshot has no files" in res.stderr


def test_missing_target_is_never_created_implicitly(layout, run_wacket):
    host = "h1:" if layout.spec_target.startswith("h1:") else ""
    unmounted = layout.target / "mnt-usb" / "backups"
    res = run_wacket(*layout.args(target=f"{host}{unmounted}"))
    assert res.returncode == 2, res.stderr
    line = _one_line(res)
    assert f"{unmounted}: no such directory" in line and "--create-target" in line
    assert not (layout.target / "mnt-usb").exists()
    res = run_wacket(*layout.args("--create-target", target=f"{host}{unmounted}"))
    assert res.returncode == 0, res.stderr
    assert len(snapshots(unmounted / "docs")) == 1
