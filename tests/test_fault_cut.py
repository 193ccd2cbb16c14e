"""The connection cut mid-transfer: a TCP proxy (faultbed.CutProxy) in front of a real sshd (backup,
sync) or Dovecot's IMAP port (mail) drops every connection once a chosen number of bytes went
through. The run exits non-zero with one line, nothing half-made is listed, the next run completes.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import faultbed as fb
import pytest
from syncbed import add_proxied_host


@pytest.fixture
def flaky(fleet, isolated_env):
    """A fleet host `flaky`: h1's sshd behind a CutProxy."""
    h1 = fleet.hosts[0]
    proxy = fb.CutProxy((h1.address, h1.port))
    add_proxied_host(fleet, isolated_env, Path(os.environ["WACKET_CONFIG"]), proxy)
    yield proxy
    proxy.close()


def cut_run(args, proxy: fb.CutProxy, stats: fb.Stats, killer: fb.Killer, after: int, env=None):
    """Run wacket, cut every connection once `after` more bytes went through; the run must end
    non-zero with a one-line error and leave nothing running."""
    start = proxy.bytes
    rc, out, err, hit, sid = fb.run_until(
        args, lambda: proxy.bytes - start >= after, proxy.cut, env=env
    )
    killer.settle(sid)
    assert hit, stats.msg(f"the run ended before {after} bytes went through: {err.decode()}")
    stats.faults += 1
    stats.rounds += 1
    msg = err.decode(errors="replace")
    assert rc not in (0, None) and fb.one_line_error(err), stats.msg(f"rc={rc}\n{msg[-3000:]}")
    stats.outcomes.append(f"cut after {proxy.bytes - start} bytes: rc={rc}: {msg.strip()[-200:]}")
    return rc, out, err


def test_backup_connection_cut(fleet, flaky, tmp_path, isolated_env):
    from test_fault_kill import complete_snapshots

    stats = fb.Stats("backup run (connection cut)")
    r = fb.rng("cut-backup")
    src = fb.build_tree(tmp_path / "src" / "Documents", r, files=60, size=60_000)
    target = fleet.hosts[0].home / f"bk-{uuid.uuid4().hex[:8]}"
    killer = fb.Killer(stats, tmp_path / "runs", fb.sshd_pids(fleet))
    args = ["backup", "run", "--source", src, "--target", f"flaky:{target}", "--name", "docs",
            "--create-target"]  # fmt: skip
    root = target / "docs"
    fb.ok(killer.run(args, None), stats)
    first = complete_snapshots(root)
    made = {first[0]: fb.state(src)}
    fb.build_tree(src / "new", r, files=60, size=200_000)
    rc, _, err = cut_run(args, flaky, stats, killer, after=3 << 20)
    assert rc == 3 and b"flaky: unreachable" in err, stats.msg("a lost target host is exit 3")
    assert complete_snapshots(root) == first, stats.msg("a cut run's snapshot is listed")
    listed = fb.jsonl(fb.ok(killer.run(["backup", "list", "docs", "--target", f"h1:{target}", "--jsonl"],
                                 None), stats).stdout)  # fmt: skip
    assert [x["snapshot"] for x in listed] == first, stats.msg(f"listed {listed}")
    fb.ok(killer.run(args, None), stats)
    snaps = complete_snapshots(root)
    assert len(snaps) == 2, stats.msg(f"snapshots after the cut and a clean run: {snaps}")
    made[snaps[1]] = fb.state(src)
    problems = []
    for snap in snaps:
        problems += fb.compare(made[snap], fb.state(root / snap / "Documents"), stats, snap)
    fb.ok(
        killer.run(["backup", "verify", "docs", "--target", f"flaky:{target}", "--all"], None),
        stats,
    )
    stats.report()
    assert not problems, stats.msg("\n".join(problems[:20]))


@pytest.mark.parametrize("mode", ["one-way", "two-way"])
def test_sync_connection_cut(fleet, flaky, tmp_path, isolated_env, mode):
    stats = fb.Stats(f"sync {mode} (connection cut)")
    r = fb.rng(f"cut-sync-{mode}")
    src = fb.build_tree(tmp_path / "src", r, files=8, size=10_000)
    dest = fleet.hosts[0].home / f"sync-{uuid.uuid4().hex[:8]}"
    killer = fb.Killer(stats, tmp_path / "runs", fb.sshd_pids(fleet))
    if mode == "one-way":
        args = ["sync", f"{src}/", f"flaky:{dest}/"]
    else:
        args = ["sync", "--two-way", src, f"flaky:{dest}"]
    fb.ok(killer.run(args, None), stats)
    versions = {rel: {e} for rel, e in fb.state(src).items()}
    fb.build_tree(src / "new", r, files=80, size=150_000)
    for rel, e in fb.state(src).items():
        versions.setdefault(rel, set()).add(e)
    cut_run(args, flaky, stats, killer, after=4 << 20)
    # What is on the far side under its own name is a whole version of it.
    for rel, e in fb.state(dest, skip=(".wacket-trash",)).items():
        if e[0] == "f":
            assert e[2] in {v[2] for v in versions.get(rel, ())}, stats.msg(f"torn {rel!r}")
    if mode == "two-way":
        state_dir = Path(os.environ["WACKET_DATA"]) / "sync"
        assert not list(state_dir.glob("*.gen")), stats.msg("a cut run's listing cache is trusted")
    fb.ok(killer.run(args, None), stats)
    want = fb.state(src, skip=(".wacket-trash",))
    got = fb.state(dest, skip=(".wacket-trash",))
    if mode == "two-way":  # two-way keeps content, kind and names (not modes or times alone)
        want = {k: v[:3:2] for k, v in want.items()}
        got = {k: v[:3:2] for k, v in got.items()}
    problems = fb.compare(want, got, stats, "far side")
    stats.report()
    assert not problems, stats.msg("\n".join(problems[:20]))


def test_mail_connection_cut(dovecot_plain, tmp_path, isolated_env):
    from test_mail import Box, archive_hashes, msg

    from wacket.mail.store import content_hash

    stats = fb.Stats("mail archive (connection cut)")
    r = fb.rng("cut-mail")
    box = Box(dovecot_plain, isolated_env)
    proxy = fb.CutProxy((dovecot_plain.address, dovecot_plain.port))
    cfg = Path(os.environ["WACKET_CONFIG"])
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(box.toml().replace(f"port = {dovecot_plain.port}", f"port = {proxy.port}"))
    killer = fb.Killer(stats, tmp_path / "runs")
    try:
        fb.ok(killer.run(["mail", "login", "t", "--password-stdin"], None,
                      stdin=(box.password + "\n").encode()), stats)  # fmt: skip
        box.append("INBOX", [msg(i, size=r.randint(500, 3000)) for i in range(100)])
        fb.ok(killer.run(["mail", "archive", "t"], None), stats)
        before = archive_hashes("t", "INBOX")
        box.append("INBOX", [msg(1000 + i, size=r.randint(2000, 8000)) for i in range(1500)])
        box.append("Lists/dev", [msg(5000 + i, size=3000) for i in range(300)])
        cut_run(["mail", "archive", "t", "--batch", "50"], proxy, stats, killer, after=2 << 20)
        server = set(box.server_hashes("INBOX")) | set(box.server_hashes("Lists/dev"))
        root = Path(os.environ["WACKET_DATA"]) / "mail" / "t"
        for d in root.rglob("cur"):
            for p in d.iterdir():
                assert content_hash(p.read_bytes()) in server, stats.msg(f"torn message {p}")
        assert set(before) <= set(archive_hashes("t", "INBOX")), stats.msg("lost after the cut")
        fb.ok(killer.run(["mail", "archive", "t"], None), stats)
        for f in ("INBOX", "Lists/dev"):
            want, have = box.server_hashes(f), archive_hashes("t", f)
            stats.files_checked += sum(want.values())
            stats.losses += len(set(want) - set(have))
            stats.duplicates += sum(n - 1 for n in have.values() if n > 1)
        v = fb.ok(killer.run(["mail", "verify", "t", "--jsonl"], None), stats)
        assert sum(x["missing"] for x in fb.jsonl(v.stdout)) == 0, stats.msg(v.stdout.decode())
        # verify and restore cut half way: "unreachable" (3) in one line, never an internal
        # error; a restore run again completes with each message uploaded once.
        rc, _, _ = cut_run(["mail", "verify", "t"], proxy, stats, killer, after=6 << 10)
        assert rc == 3, stats.msg(f"verify cut: rc={rc}")
        restore = ["mail", "restore", "t/INBOX", "--to", "t/Restored", "--jsonl"]
        rc, _, _ = cut_run(restore, proxy, stats, killer, after=1 << 20)
        assert rc == 3, stats.msg(f"restore cut: rc={rc}")
        fb.ok(killer.run(restore, None), stats)
        want, have = box.server_hashes("INBOX"), box.server_hashes("Restored")
        stats.files_checked += sum(want.values())
        stats.losses += len(set(want) - set(have))
        stats.duplicates += sum(n - 1 for n in have.values() if n > 1)
    finally:
        proxy.close()
        box.client.logout()
    stats.report()
    assert stats.losses == stats.duplicates == 0, stats.msg()
