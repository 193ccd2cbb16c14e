"""Random SIGKILL campaigns against the real parts (sshd, rsync, Dovecot, browser databases).

Each campaign: ROUNDS rounds of (a small change, a run killed with SIGKILL at a random moment in
[0, a measured full run's time]), waiting after each kill until nothing the run started still runs
(orphans are counted, warned about, never hidden); then a clean run, and the proof: nothing lost,
nothing twice, nothing half-made shown as complete, the command's verify passes, restores are
byte-identical. Seed and round count: WACKET_FAULT_SEED, WACKET_FAULT_ROUNDS (see faultbed.py).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import uuid
from collections import Counter
from pathlib import Path

import faultbed as fb
import pytest

SNAP = re.compile(r"^\d{4}-\d\d-\d\dT\d{6}Z$")


def finish(stats: fb.Stats, problems: list[str]) -> None:
    stats.report()
    assert not problems and stats.losses == 0 and stats.duplicates == 0, stats.msg(
        "\n".join(problems[:30])
    )
    assert stats.late_orphans == 0, stats.msg("a child of a killed wacket went on running")


# -- backup run ---------------------------------------------------------------------------------


def complete_snapshots(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(
        p.name
        for p in root.iterdir()
        if SNAP.match(p.name) and (root / f"{p.name}.manifest.gz").exists()
    )


@pytest.mark.parametrize("way", ["to h1", "from h1"])
def test_backup_run_killed_at_random(fleet, tmp_path, isolated_env, way):
    stats = fb.Stats(f"backup run ({way})")
    r = fb.rng(f"backup {way}")
    far = fleet.hosts[0].home / f"bk-{uuid.uuid4().hex[:8]}"
    near = tmp_path / "near"
    src = fb.build_tree((near if way == "to h1" else far) / "Documents", r, files=160,
                        size=60_000, big=6)  # fmt: skip
    source = str(src) if way == "to h1" else f"h1:{src}"
    target = far / "target" if way == "to h1" else near / "target"
    spec = f"h1:{target}" if way == "to h1" else str(target)
    toml = f"[backup.home]\nsources = [{json.dumps(source)}]\ntarget = {json.dumps(spec)}\n"
    fleet.write_fleet(isolated_env, Path(os.environ["WACKET_CONFIG"]), toml)
    killer = fb.Killer(stats, tmp_path / "runs", fb.sshd_pids(fleet))
    calib = fb.ok(killer.run(["backup", "run", "--source", source, "--target", f"{spec}-calib",
                              "--name", "calib", "--create-target"], None), stats)  # fmt: skip
    typical = calib.seconds
    root = target / "home"
    made: dict[str, dict] = {}  # snapshot -> the source's state when it was made
    pace = fb.Pacer(r, typical)
    for rnd in range(fb.ROUNDS):
        stats.rounds += 1
        if rnd:
            stats.notes += fb.mutate(src, r, rnd)
        before = set(complete_snapshots(root))
        want = fb.state(src)
        out = killer.run(["backup", "run", "home", "--create-target"], pace.delay())
        pace.saw(out)
        if not out.killed:
            fb.ok(out, stats)
        for snap in set(complete_snapshots(root)) - before:
            made[snap] = want
    fb.ok(killer.run(["backup", "run", "home"], None), stats)
    problems = []
    # Every complete snapshot is exactly the source as it was when its run started.
    snaps = complete_snapshots(root)
    made.setdefault(snaps[-1], fb.state(src))
    for snap in snaps:
        problems += fb.compare(made[snap], fb.state(root / snap / "Documents"), stats, snap)
    listed = [
        x["snapshot"]
        for x in fb.jsonl(
            fb.ok(killer.run(["backup", "list", "home", "--jsonl"], None), stats).stdout
        )
    ]
    assert listed == snaps, stats.msg(f"listed {listed}, complete on disk {snaps}")
    assert not (root / ".inprogress").exists(), stats.msg("a clean run left .inprogress")
    fb.ok(killer.run(["backup", "verify", "home", "--all"], None), stats)
    restored = tmp_path / "restored"
    fb.ok(killer.run(["backup", "restore", "home", "--to", restored], None), stats)
    problems += fb.compare(fb.state(src), fb.state(restored / "Documents"), stats, "restore")
    stats.notes.append(f"typical run {typical:.2f}s, {len(snaps)} snapshots")
    finish(stats, problems)


# -- one-way sync -------------------------------------------------------------------------------


@pytest.mark.parametrize("way", ["to h1", "from h1"])
def test_one_way_sync_killed_at_random(fleet, tmp_path, isolated_env, way):
    stats = fb.Stats(f"sync one-way ({way})")
    r = fb.rng(f"sync-one-way {way}")
    far = fleet.hosts[0].home / f"mirror-{uuid.uuid4().hex[:8]}"
    far.mkdir()
    src = fb.build_tree((tmp_path if way == "to h1" else far) / "src", r, files=160, size=60_000,
                        big=6)  # fmt: skip
    dest = (far if way == "to h1" else tmp_path) / "dest"
    src_spec, dest_spec = (
        (f"{src}/", f"h1:{dest}/") if way == "to h1" else (f"h1:{src}/", f"{dest}/")
    )
    killer = fb.Killer(stats, tmp_path / "runs", fb.sshd_pids(fleet))
    typical = fb.ok(killer.run(["sync", src_spec, dest_spec.rstrip("/") + "-calib/"], None),
                    stats).seconds  # fmt: skip
    versions: dict[bytes, set] = {}
    pace = fb.Pacer(r, typical)
    for rnd in range(fb.ROUNDS):
        stats.rounds += 1
        if rnd:
            stats.notes += fb.mutate(src, r, rnd, delete=False)
        for rel, entry in fb.state(src).items():
            versions.setdefault(rel, set()).add(entry)
        out = killer.run(["sync", src_spec, dest_spec], pace.delay())
        pace.saw(out)
        if not out.killed:
            fb.ok(out, stats)
        # Mid-way, a file under its own name is some whole version of it (never a torn one);
        # rsync's hidden temporary files may be there until the next run.
        for rel, entry in fb.state(dest).items():
            if entry[0] == "f" and rel in versions:
                assert entry[2] in {v[2] for v in versions[rel]}, stats.msg(f"torn {rel!r}")
    fb.ok(killer.run(["sync", src_spec, dest_spec], None), stats)
    problems = fb.compare(fb.state(src), fb.state(dest), stats, "mirror")
    stats.notes.append(f"typical run {typical:.2f}s")
    finish(stats, problems)


# -- two-way sync -------------------------------------------------------------------------------

TRASH = ".wacket-trash"


def digests(st: dict) -> Counter:
    return Counter(e[2] for e in st.values() if e[0] == "f")


def test_two_way_sync_killed_at_random(fleet, tmp_path, isolated_env):
    stats = fb.Stats("sync (two-way)")
    r = fb.rng("sync-two-way")
    a = fb.build_tree(tmp_path / "a", r, files=10, size=20_000)
    b = fleet.hosts[0].home / f"replica-{uuid.uuid4().hex[:8]}"
    fb.build_tree(b / "from b", r, files=40, size=60_000)
    killer = fb.Killer(stats, tmp_path / "runs", fb.sshd_pids(fleet))
    calib_a = fb.build_tree(tmp_path / "calib", fb.rng("calib"), files=160, size=60_000, big=4)
    typical = fb.ok(
        killer.run(["sync", "--two-way", calib_a, f"h1:{b}-calib"], None), stats
    ).seconds
    # The pair's first run only adds and makes a conflict of every path both sides hold in two
    # versions (it has no state to tell which side changed): it runs clean, then the campaign
    # starts with a big change on A.
    fb.ok(killer.run(["sync", "--two-way", a, f"h1:{b}"], None), stats)
    fb.build_tree(a / "bulk", r, files=120, size=60_000, big=4)
    written: set = set()
    keep: set = (
        set()
    )  # contents that were on both sides once: from then on, only wacket removes one
    pace = fb.Pacer(r, typical)
    for rnd in range(fb.ROUNDS):
        stats.rounds += 1
        if rnd:
            # Each side changes files of its own, so no change is a conflict.
            stats.notes += fb.mutate(
                a, r, rnd, tag=" a", pool=("bulk/bulk0", "bulk/bulk1", "bulk/big")
            )
            stats.notes += fb.mutate(b, r, rnd, tag=" b", pool=("from b",))
        written |= set(digests(fb.state(a))) | set(digests(fb.state(b)))
        out = killer.run(["sync", "--two-way", a, f"h1:{b}", "--jsonl"], pace.delay())
        pace.saw(out)
        if not out.killed:
            fb.ok(out, stats)
        sa, sb = fb.state(a, skip=(TRASH,)), fb.state(b, skip=(TRASH,))
        keep |= set(digests(sa)) & set(digests(sb))
        # Under its own name a file is a whole version some side had (never a torn copy).
        for side, st in (("a", sa), ("b", sb)):
            torn = [rel for rel, e in st.items() if e[0] == "f" and e[2] not in written]
            assert not torn, stats.msg(f"files on {side} that no side ever wrote: {torn[:5]}")
    fb.ok(killer.run(["sync", "--two-way", a, f"h1:{b}"], None), stats)
    again = fb.ok(killer.run(["sync", "--two-way", a, f"h1:{b}", "--jsonl"], None), stats)
    changes = [x for x in fb.jsonl(again.stdout) if x.get("action")]
    assert not changes, stats.msg(f"a second clean run still changed: {changes[:5]}")
    sa, sb = fb.state(a, skip=(TRASH,)), fb.state(b, skip=(TRASH,))
    # Content and kind are the same on both sides (two-way does not carry a mode change alone).
    problems = fb.compare({k: v[:3:2] for k, v in sa.items()}, {k: v[:3:2] for k, v in sb.items()},
                          stats, "a vs b")  # fmt: skip
    everything = digests(fb.state(a)) + digests(fb.state(b))
    lost = keep - set(everything)
    stats.losses += len(lost)
    problems += [
        f"content {d[:12]} that both sides had is gone (not even in a trash)" for d in lost
    ]
    for name, st in (("a", sa), ("b", sb)):
        twice = [rel for rel in st if b".conflict-" in rel]
        stats.duplicates += len(twice)
        problems += [f"{name}: conflict copy {rel!r} with no conflict made" for rel in twice]
        counts = digests(st)
        extra = [d for d, n in counts.items() if n > 1]
        stats.duplicates += len(extra)
        problems += [f"{name}: content {d[:12]} stored under {counts[d]} names" for d in extra]
    stats.notes.append(f"typical run {typical:.2f}s, {len(keep)} contents kept track of")
    finish(stats, problems)


# -- mail archive -------------------------------------------------------------------------------


def test_mail_archive_killed_at_random(dovecot_plain, tmp_path, isolated_env):
    from test_mail import Box, archive_hashes, msg

    from wacket.mail.store import content_hash

    stats = fb.Stats("mail archive")
    r = fb.rng("mail")
    box = Box(dovecot_plain, isolated_env)
    cfg = Path(os.environ["WACKET_CONFIG"])
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(box.toml())
    killer = fb.Killer(stats, tmp_path / "runs")
    fb.ok(killer.run(["mail", "login", "t", "--password-stdin"], None,
                  stdin=(box.password + "\n").encode()), stats)  # fmt: skip
    n = 0

    def add(folder: str, count: int) -> None:
        nonlocal n
        box.append(folder, [msg(n + i, size=r.randint(500, 6000)) for i in range(count)])
        n += count

    add("INBOX", 900)
    add("Lists/dev", 500)
    scratch = dict(os.environ, WACKET_DATA=str(tmp_path / "calib-data"))
    typical = fb.ok(
        killer.run(["mail", "archive", "t", "--batch", "50"], None, env=scratch), stats
    ).seconds
    folders = ("INBOX", "Lists/dev")
    pace = fb.Pacer(r, typical)
    for rnd in range(fb.ROUNDS):
        stats.rounds += 1
        if rnd:
            add(r.choice(folders), r.randint(150, 400))
            c = box.client
            c.select_folder("INBOX")
            c.add_flags(r.sample(c.search("ALL"), 5), [b"\\Seen"])
            stats.notes.append(f"round {rnd}: {n} messages")
        out = killer.run(["mail", "archive", "t", "--batch", "50"], pace.delay())
        pace.saw(out)
        if not out.killed:
            fb.ok(out, stats)
        # What the archive holds under a real name is a whole message of the server.
        server = set()
        for f in folders:
            server |= set(box.server_hashes(f))
        for d in (Path(os.environ["WACKET_DATA"]) / "mail" / "t").rglob("cur"):
            for p in d.iterdir():
                assert content_hash(p.read_bytes()) in server, stats.msg(f"torn message {p}")
    fb.ok(killer.run(["mail", "archive", "t"], None), stats)
    problems = []
    for f in folders:
        want, have = box.server_hashes(f), archive_hashes("t", f)
        stats.files_checked += sum(want.values())
        missing, twice = set(want) - set(have), [h for h, k in have.items() if k > 1]
        stats.losses += len(missing)
        stats.duplicates += len(twice) + len(set(have) - set(want))
        problems += [f"{f}: {len(missing)} missing"] * bool(missing)
        problems += [f"{f}: {len(twice)} stored twice"] * bool(twice)
    root = Path(os.environ["WACKET_DATA"]) / "mail" / "t"
    left = [p for d in root.rglob("tmp") for p in d.iterdir()]
    problems += [f"left in tmp/: {p}" for p in left]
    v = fb.ok(killer.run(["mail", "verify", "t", "--jsonl"], None), stats)
    assert sum(x["missing"] for x in fb.jsonl(v.stdout)) == 0, stats.msg(v.stdout.decode())
    stats.notes.append(f"typical run {typical:.2f}s, {n} messages")
    box.client.logout()
    finish(stats, problems)


# -- find index ---------------------------------------------------------------------------------


def test_find_index_killed_at_random(fleet, tmp_path, isolated_env):
    stats = fb.Stats("find index")
    r = fb.rng("find")
    root = tmp_path / "tree-h1"
    for i in range(30):
        fb.build_tree(root / f"part{i}", r, files=200, size=5000)
    calib = tmp_path / "calib-h1"
    fb.build_tree(calib, r, files=6000, size=5000)
    cfg = Path(os.environ["WACKET_CONFIG"])
    extra = f"[find]\nhash_min = 4096\n[find.hosts.h1]\nroots = [{json.dumps(str(root))}]\n"
    fleet.write_fleet(isolated_env, cfg, extra_toml=extra)
    killer = fb.Killer(stats, tmp_path / "runs", fb.sshd_pids(fleet))
    scratch = dict(os.environ, WACKET_DATA=str(tmp_path / "calib-data"))
    typical = fb.ok(killer.run(["find", "index", "h1"], None, env=scratch), stats).seconds

    def catalog() -> list[str]:
        q = killer.run(["find", "query", str(root), "--host", "h1", "--jsonl"], None)
        fb.ok(q, stats, 0, 1)
        return [x["path"] for x in fb.jsonl(q.stdout)]

    def on_disk() -> set[str]:
        out = set()
        for dirpath, dirnames, filenames in os.walk(root):
            out |= {os.path.join(dirpath, x) for x in dirnames + filenames}
        return out

    pace = fb.Pacer(r, typical)
    for rnd in range(fb.ROUNDS):
        stats.rounds += 1
        if rnd:
            stats.notes += fb.mutate(root / f"part{rnd % 30}", r, rnd)
        out = killer.run(["find", "index", "h1"], pace.delay())
        pace.saw(out)
        if not out.killed:
            fb.ok(out, stats)
        # A query after a kill answers from a whole catalog (the old or the new), never twice.
        paths = catalog()
        assert len(paths) == len(set(paths)), stats.msg("a path listed twice after a kill")
    fb.ok(killer.run(["find", "index", "h1"], None), stats)
    paths, disk = catalog(), on_disk()
    stats.files_checked += len(disk)
    lost, extra = disk - set(paths), set(paths) - disk
    stats.losses += len(lost)
    stats.duplicates += len(paths) - len(set(paths)) + len(extra)
    problems = [f"not in the catalog: {p!r}" for p in sorted(lost)[:10]]
    problems += [f"in the catalog, not on disk: {p!r}" for p in sorted(extra)[:10]]
    stats.notes.append(f"typical run {typical:.2f}s, {len(disk)} entries")
    finish(stats, problems)


# -- links merge --------------------------------------------------------------------------------


def test_links_merge_killed_at_random(tmp_path, isolated_env):
    from browserdb import DAY_US, FirefoxProfile, now_us

    stats = fb.Stats("links merge")
    r = fb.rng("links")
    d = tmp_path / "firefox" / "abcd.default-release"
    d.mkdir(parents=True)
    prof = FirefoxProfile(d / "places.sqlite")
    t0 = now_us() - 300 * DAY_US
    visits = 0

    def browse(count: int) -> None:
        nonlocal visits
        prof.conn.execute("BEGIN")
        for _ in range(count):
            page = r.randint(0, 3000)
            prof.visit(f"https://site{page % 97}.example/p/{page}?q={page}", f"Page {page}",
                       t0 + visits * 1_000_000, r.choice([1, 1, 1, 2]))  # fmt: skip
            visits += 1
        prof.conn.execute("COMMIT")

    browse(12000)
    killer = fb.Killer(stats, tmp_path / "runs")
    master = Path(os.environ["WACKET_DATA"]) / "links.sqlite"
    typical = fb.ok(killer.run(["links", "merge", d, "--into", tmp_path / "calib.sqlite"], None),
                 stats).seconds  # fmt: skip

    def counted() -> tuple[int, int]:
        if not master.exists():
            return 0, 0
        c = sqlite3.connect(master)
        try:
            assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            n = c.execute("SELECT count(*) FROM visits").fetchone()[0]
            # Visits are keyed (link, time, source): a visit counted twice shows as a link whose
            # count is off from its rows.
            dup = c.execute(
                "SELECT count(*) FROM links l WHERE visit_count !="
                " (SELECT count(*) FROM visits v WHERE v.link_id = l.id)"
            ).fetchone()[0]
            return n, dup
        finally:
            c.close()

    pace = fb.Pacer(r, typical)
    for rnd in range(fb.ROUNDS):
        stats.rounds += 1
        if rnd:
            browse(r.randint(200, 1500))
            stats.notes.append(f"round {rnd}: {visits} visits")
        out = killer.run(["links", "merge", d], pace.delay())
        pace.saw(out)
        if not out.killed:
            fb.ok(out, stats)
        n, dup = counted()
        assert dup == 0 and n <= visits, stats.msg(f"after round {rnd}: {n} visits, {dup} twice")
    fb.ok(killer.run(["links", "merge", d], None), stats)
    n, dup = counted()
    stats.files_checked += visits
    stats.losses += max(0, visits - n)
    stats.duplicates += dup + max(0, n - visits)
    prof.close()
    finish(stats, [f"master has {n} visits, the browser {visits}"] * (n != visits))


# -- map ----------------------------------------------------------------------------------------


def test_map_killed_at_random(fleet, tmp_path, isolated_env):
    stats = fb.Stats("map")
    r = fb.rng("map")
    log = tmp_path / "jobs.tsv"
    marks = tmp_path / "marks"
    marks.mkdir()
    cmd = f"sleep 0.1 && printf '%s\\n' {{}} >> {marks}/runs"
    killer = fb.Killer(stats, tmp_path / "runs", fb.sshd_pids(fleet, ("h1", "h2")))
    items = [f"item {i}" for i in range(60)]

    def argv(joblog: Path) -> list[str]:
        return ["map", "h1,h2", "-j", "3", "--joblog", joblog, "--resume", "--", cmd]

    stdin = lambda: "".join(x + "\n" for x in items).encode()  # noqa: E731
    typical = fb.ok(killer.run(argv(tmp_path / "calib.tsv"), None, stdin=stdin()), stats).seconds
    (marks / "runs").unlink()

    def done_lines() -> Counter:
        rows = [x.split("\t") for x in log.read_text().splitlines()[1:]] if log.exists() else []
        return Counter(json.loads(p[5]) for p in rows if len(p) == 6 and p[4] == "0")

    pace = fb.Pacer(r, typical)
    for rnd in range(fb.ROUNDS):
        stats.rounds += 1
        if rnd:
            items += [f"item {len(items) + i}" for i in range(r.randint(3, 10))]
        out = killer.run(argv(log), pace.delay(), stdin=stdin())
        pace.saw(out)
        if not out.killed:
            fb.ok(out, stats)
        twice = [i for i, k in done_lines().items() if k > 1]
        assert not twice, stats.msg(f"done twice after round {rnd}: {twice}")
    fb.ok(killer.run(argv(log), None, stdin=stdin()), stats)
    done = done_lines()
    stats.files_checked += len(items)
    lost = set(items) - set(done)
    stats.losses += len(lost)
    stats.duplicates += sum(k - 1 for k in done.values()) + len(set(done) - set(items))
    runs = Counter((marks / "runs").read_text().splitlines())
    rerun = sum(k - 1 for k in runs.values())
    stats.notes.append(f"typical run {typical:.2f}s; {rerun} job(s) in flight at a kill ran again")
    assert set(runs) == set(items), stats.msg("an item never ran")
    finish(stats, [f"never done: {sorted(lost)[:10]}"] * bool(lost))
