"""A full disk mid-run, on a real loop-mounted ext4 (faultbed.SmallFS): backup, mail archive and
one-way sync end with a one-line error and a non-zero exit; what earlier runs made is intact and
verifiable; once space is freed the next run completes."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import faultbed as fb
import pytest


@pytest.fixture
def small(tmp_path):
    fs = fb.SmallFS(tmp_path, size_mb=32)
    try:
        yield fs
    finally:
        fs.close()


def failed_cleanly(out: fb.Outcome, stats: fb.Stats) -> None:
    """The run that hit the full disk: non-zero, one error line, no traceback."""
    stats.faults += 1
    err = out.stderr.decode(errors="replace")
    assert out.rc not in (0, None) and fb.one_line_error(out.stderr), stats.msg(
        f"rc={out.rc}\n{err[-3000:]}"
    )
    stats.outcomes.append(f"full disk: rc={out.rc}: {err.strip().splitlines()[-1][:200]}")


def test_backup_into_a_full_disk(small, tmp_path, isolated_env):
    stats = fb.Stats("backup run (full disk)")
    r = fb.rng("disk-backup")
    src = fb.build_tree(tmp_path / "src" / "Documents", r, files=40, size=30_000)
    target = small.mnt / "backups"
    runner = fb.Killer(stats, tmp_path / "runs")
    args = ["backup", "run", "--source", src, "--target", target, "--name", "docs",
            "--create-target"]  # fmt: skip
    root = target / "docs"
    made = {}
    for rnd in range(2):
        stats.rounds += 1
        if rnd:
            fb.mutate(src, r, rnd)
        fb.ok(runner.run(args, None), stats)
        snap = sorted(p.name for p in root.glob("*.manifest.gz"))[-1].removesuffix(".manifest.gz")
        made[snap] = fb.state(src)
    # More new data than there is room for.
    fb.build_tree(src / "new", r, files=30, size=300_000)
    small.fill(leave=3 << 20)
    stats.rounds += 1
    failed_cleanly(runner.run(args, None), stats)
    listed = [x["snapshot"] for x in fb.jsonl(fb.ok(runner.run(
        ["backup", "list", "docs", "--target", target, "--jsonl"], None), stats).stdout)]  # fmt: skip
    assert listed == sorted(made), stats.msg(f"listed {listed} after the failed run")
    problems = []
    for snap, want in made.items():
        problems += fb.compare(want, fb.state(root / snap / "Documents"), stats, snap)
    fb.ok(runner.run(["backup", "verify", "docs", "--target", target, "--all"], None), stats)
    small.free()
    stats.rounds += 1
    fb.ok(runner.run(args, None), stats)
    fb.ok(runner.run(["backup", "verify", "docs", "--target", target, "--all"], None), stats)
    restored = tmp_path / "restored"
    fb.ok(
        runner.run(["backup", "restore", "docs", "--target", target, "--to", restored], None), stats
    )
    problems += fb.compare(fb.state(src), fb.state(restored / "Documents"), stats, "restore")
    stats.report()
    assert not problems, stats.msg("\n".join(problems[:20]))


def test_mail_archive_into_a_full_disk(dovecot_plain, small, tmp_path, isolated_env, monkeypatch):
    from test_mail import Box, archive_hashes, msg

    stats = fb.Stats("mail archive (full disk)")
    r = fb.rng("disk-mail")
    box = Box(dovecot_plain, isolated_env)
    cfg = Path(os.environ["WACKET_CONFIG"])
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(box.toml())
    env = dict(os.environ, WACKET_DATA=str(small.mnt / "wacket"))
    runner = fb.Killer(stats, tmp_path / "runs")
    fb.ok(runner.run(["mail", "login", "t", "--password-stdin"], None, env=env,
                  stdin=(box.password + "\n").encode()), stats)  # fmt: skip
    box.append("INBOX", [msg(i, size=r.randint(500, 4000)) for i in range(200)])
    stats.rounds += 1
    fb.ok(runner.run(["mail", "archive", "t"], None, env=env), stats)
    monkeypatch.setenv("WACKET_DATA", env["WACKET_DATA"])  # archive_hashes reads it
    before = archive_hashes("t", "INBOX")
    box.append("INBOX", [msg(1000 + i, size=8000) for i in range(1200)])
    small.fill(leave=2 << 20)
    stats.rounds += 1
    failed_cleanly(runner.run(["mail", "archive", "t", "--batch", "50"], None, env=env), stats)
    after = archive_hashes("t", "INBOX")
    stats.files_checked += sum(before.values())
    lost = set(before) - set(after)
    stats.losses += len(lost)
    stats.duplicates += sum(n - 1 for n in after.values() if n > 1)
    small.free()
    stats.rounds += 1
    fb.ok(runner.run(["mail", "archive", "t"], None, env=env), stats)
    want, have = box.server_hashes("INBOX"), archive_hashes("t", "INBOX")
    stats.files_checked += sum(want.values())
    stats.losses += len(set(want) - set(have))
    stats.duplicates += sum(n - 1 for n in have.values() if n > 1)
    v = fb.ok(runner.run(["mail", "verify", "t", "--jsonl"], None, env=env), stats)
    assert sum(x["missing"] for x in fb.jsonl(v.stdout)) == 0, stats.msg(v.stdout.decode())
    box.client.logout()
    stats.report()
    assert stats.losses == stats.duplicates == 0, stats.msg()


def test_sync_into_a_full_disk(fleet, small, tmp_path, isolated_env):
    stats = fb.Stats("sync (full disk)")
    r = fb.rng("disk-sync")
    src = fb.build_tree(
        fleet.hosts[0].home / f"src-{uuid.uuid4().hex[:8]}", r, files=40, size=30_000
    )
    dest = small.mnt / "mirror"
    runner = fb.Killer(stats, tmp_path / "runs")
    args = ["sync", f"h1:{src}/", f"{dest}/"]
    stats.rounds += 1
    fb.ok(runner.run(args, None), stats)
    earlier = fb.state(dest)
    fb.build_tree(src / "new", r, files=30, size=300_000)
    small.fill(leave=3 << 20)
    stats.rounds += 1
    failed_cleanly(runner.run(args, None), stats)
    now = fb.state(dest)
    problems = fb.compare(
        {k: v for k, v in earlier.items() if v[0] != "d"},
        {k: v for k, v in now.items() if k in earlier and v[0] != "d"},
        stats,
        "earlier files",
    )
    small.free()
    stats.rounds += 1
    fb.ok(runner.run(args, None), stats)
    problems += fb.compare(fb.state(src), fb.state(dest), stats, "mirror")
    stats.report()
    assert not problems, stats.msg("\n".join(problems[:20]))
