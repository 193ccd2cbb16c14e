"""Retention: a synthetic two-year series of snapshots, survivors checked against a hand-worked
table, then the same policy applied by `wacket backup prune` on a real target over sshd."""

from __future__ import annotations

import gzip
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from wacket.backup.retention import plan, snapshot_name


def series() -> list[str]:
    """One snapshot a day at 03:00 UTC from 2024-12-01 to 2026-11-27, plus three more on the
    last day (09:00, 15:00, 21:00): 730 snapshots over two years."""
    day = datetime(2024, 12, 1, 3, 0, 0, tzinfo=UTC)
    out = []
    while day.date() <= datetime(2026, 11, 27).date():
        out.append(snapshot_name(day))
        day += timedelta(days=1)
    last = datetime(2026, 11, 27, tzinfo=UTC)
    out += [snapshot_name(last + timedelta(hours=h)) for h in (9, 15, 21)]
    return out


POLICY = {"hourly": 2, "daily": 7, "weekly": 4, "monthly": 12, "yearly": 3}

# Worked by hand (2026-11-27 is a Friday; ISO week Mon 11-23 .. Sun 11-29):
#   hourly 2  : 11-27 21:00, 11-27 15:00
#   daily 7   : 11-27 21:00, 11-26, 11-25, 11-24, 11-23, 11-22, 11-21
#   weekly 4  : 11-27 21:00 (wk 11-23), 11-22 (wk 11-16), 11-15 (wk 11-09), 11-08 (wk 11-02)
#   monthly 12: 2026-11-27 21:00, 10-31, 09-30, 08-31, 07-31, 06-30, 05-31, 04-30, 03-31,
#               02-28, 01-31, 2025-12-31
#   yearly 3  : 2026-11-27 21:00, 2025-12-31, 2024-12-31
# 11-27 03:00 and 09:00 go: the hourly and daily buckets of that day are taken by later ones.
EXPECTED = {
    "2026-11-27T210000Z": "newest,hourly,daily,weekly,monthly,yearly",
    "2026-11-27T150000Z": "hourly",
    "2026-11-26T030000Z": "daily",
    "2026-11-25T030000Z": "daily",
    "2026-11-24T030000Z": "daily",
    "2026-11-23T030000Z": "daily",
    "2026-11-22T030000Z": "daily,weekly",
    "2026-11-21T030000Z": "daily",
    "2026-11-15T030000Z": "weekly",
    "2026-11-08T030000Z": "weekly",
    "2026-10-31T030000Z": "monthly",
    "2026-09-30T030000Z": "monthly",
    "2026-08-31T030000Z": "monthly",
    "2026-07-31T030000Z": "monthly",
    "2026-06-30T030000Z": "monthly",
    "2026-05-31T030000Z": "monthly",
    "2026-04-30T030000Z": "monthly",
    "2026-03-31T030000Z": "monthly",
    "2026-02-28T030000Z": "monthly",
    "2026-01-31T030000Z": "monthly",
    "2025-12-31T030000Z": "monthly,yearly",
    "2024-12-31T030000Z": "yearly",
}


def test_two_year_series_matches_hand_worked_table():
    names = series()
    assert len(names) == 730
    decisions = plan(names, POLICY)
    kept = {d.snapshot: ",".join(d.reasons) for d in decisions if d.keep}
    assert kept == EXPECTED
    assert len(decisions) == 730


def test_keep_within_counts_from_newest_and_last_n():
    names = series()
    kept = {d.snapshot for d in plan(names, {}, keep_within=2 * 86400) if d.keep}
    # Within two days before 2026-11-27 21:00: from 11-25 21:00 on.
    assert kept == {
        "2026-11-26T030000Z",
        "2026-11-27T030000Z",
        "2026-11-27T090000Z",
        "2026-11-27T150000Z",
        "2026-11-27T210000Z",
    }
    kept = [d.snapshot for d in plan(names, {"last": 3}) if d.keep]
    assert kept == ["2026-11-27T210000Z", "2026-11-27T150000Z", "2026-11-27T090000Z"]
    # No policy: nothing is ever removed. A policy of zeros keeps the newest.
    assert all(d.keep for d in plan(names, {}))
    assert [d.snapshot for d in plan(names, {"daily": 0, "last": 0}, keep_within=0) if d.keep][
        0
    ] == ("2026-11-27T210000Z")


def _fake_snapshot(root: Path, name: str) -> None:
    (root / name / "data").mkdir(parents=True)
    (root / name / "data" / "f").write_text(name)
    header = {"wacket_backup_manifest": 1, "snapshot": name, "files": 1, "bytes": len(name)}
    entries = [
        ["data", "d", 0, 0, 0o755, None, None],
        ["data/f", "f", len(name), 0, 0o644, None, None],
    ]
    text = "\n".join(json.dumps(x) for x in [header, *entries]) + "\n"
    (root / f"{name}.manifest.gz").write_bytes(gzip.compress(text.encode()))


@pytest.mark.parametrize("dry_run", [True, False])
def test_prune_on_a_real_target(fleet, isolated_env, tmp_path, run_wacket, dry_run):
    target = tmp_path / "target"
    root = target / "home"
    root.mkdir(parents=True)
    for name in series():
        _fake_snapshot(root, name)
    (root / ".inprogress").mkdir()  # a run being written: never touched
    keep = ", ".join(f"{k} = {v}" for k, v in POLICY.items())
    toml = f'[backup.home]\nsources = ["{tmp_path}/src"]\ntarget = "h2:{target}"\nkeep = {{ {keep} }}\n'
    fleet.write_fleet(isolated_env, Path(os.environ["WACKET_CONFIG"]), toml)
    args = ["backup", "prune", "home", "--jsonl"] + (["--dry-run"] if dry_run else [])
    res = run_wacket(*args, timeout=120)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    kept = {r["snapshot"] for r in rows if r["action"] == "keep"}
    assert kept == set(EXPECTED)
    left = sorted(
        p.name for p in root.iterdir() if not p.name.startswith(".") and "." not in p.name
    )
    if dry_run:
        assert len(left) == 730
    else:
        assert left == sorted(EXPECTED)
        assert sorted(p.name for p in root.glob("*.manifest.gz")) == sorted(
            f"{n}.manifest.gz" for n in EXPECTED
        )
        assert not list(root.glob(".deleting-*"))
    assert (root / ".inprogress").is_dir()
