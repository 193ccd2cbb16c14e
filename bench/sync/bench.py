#!/usr/bin/env python3
"""wacket sync beside raw `rsync -a` (one-way) and Unison (two-way) on the same generated tree.

    python3 bench/sync/bench.py [--files 100000] [--mb 1024] [--runs 3] [--dir /tmp]

A loopback sshd (tests/sshbed.py) is the remote host h1; its files live on the same disk.
The tree: FILES files in directories of 100 (mixed sizes: most a few KB, some tens of KB, a few
MB), about MB megabytes in all.

One-way (`wacket sync SRC/ h1:DST/` against `rsync -a -e SSH SRC/ root@h1:DST2/`, the same ssh
command line, to separate destinations):
  first copy; no change; 1% of the files changed (the same files, rewritten, before each pair of runs).
Two-way (`wacket sync --two-way A h1:B` against `unison A ssh://h1/B2 -batch -times`; the replicas
start identical, made with `cp -al`, and changes are written as new files so links never share
an edit):
  first run (both build their state); no change; 1% changed on A.

Prints the medians and the ratios wacket/peer (targets: one-way <= 1.10; two-way < 1, i.e. faster
than Unison). Everything generated is removed at the end.
Needs: apt-get install openssh-server openssh-client rsync unison.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "src"))

import sshbed  # noqa: E402


def generate(root: Path, files: int, mb: int, seed: int = 7) -> int:
    """FILES files, ~MB megabytes: 89% 0.5-4 KB, 10% 8-64 KB, 1% large (the rest of the budget)."""
    rng = random.Random(seed)
    block = os.urandom(8 << 20)
    sizes = []
    for _ in range(files):
        r = rng.random()
        sizes.append(
            rng.randint(512, 4096)
            if r < 0.89
            else rng.randint(8 << 10, 64 << 10)
            if r < 0.99
            else -1
        )
    budget = mb << 20
    small = sum(s for s in sizes if s > 0)
    big_n = sum(1 for s in sizes if s < 0) or 1
    big = max(64 << 10, (budget - small) // big_n)
    total = 0
    for i, size in enumerate(sizes):
        size = big if size < 0 else size
        d = root / f"d{i // 100:04d}"
        if i % 100 == 0:
            d.mkdir(parents=True, exist_ok=True)
        off = rng.randrange(0, len(block) - min(size, len(block) - 1) - 1)
        data = (b"%d\n" % i) + (
            block[off : off + size] if size < len(block) else block * (size // len(block) + 1)
        )[:size]
        (d / f"f{i:06d}.dat").write_bytes(data)
        total += len(data)
    return total


def change(roots: list[Path], files: int, fraction: float, rng: random.Random) -> None:
    """Rewrite the same files in every root (new inode: hard-linked copies are not touched)."""
    picks = rng.sample(range(files), max(1, int(files * fraction)))
    stamp = time.time()
    for i in picks:
        rel = Path(f"d{i // 100:04d}") / f"f{i:06d}.dat"
        extra = b"changed %f\n" % stamp
        for root in roots:
            p = root / rel
            tmp = p.with_name(p.name + ".new")
            tmp.write_bytes(p.read_bytes() + extra)
            os.utime(tmp, (stamp, stamp))
            os.replace(tmp, p)


def timed(argv, env) -> float:
    t = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    took = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, argv[:6]))}... failed ({proc.returncode}):\n"
                         f"{proc.stderr.decode()[-2000:]}")  # fmt: skip
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--mb", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default="/tmp")
    ap.add_argument("--no-unison", action="store_true")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="wacket-bench-sync-", dir=args.dir))
    bed = sshbed.TestBed(work / "bed", n=1)
    bed.start()
    try:
        run(bed, work, args)
    finally:
        bed.stop()
        shutil.rmtree(work, ignore_errors=True)


def run(bed, work: Path, args) -> None:
    home = work / "home"
    home.mkdir(mode=0o700)
    cfg = home / ".config/wacket/config.toml"
    bed.write_fleet(home, cfg)
    env = dict(os.environ, HOME=str(home), WACKET_CONFIG=str(cfg),
               WACKET_DATA=str(home / ".local/share/wacket"), XDG_CACHE_HOME=str(home / ".cache"))  # fmt: skip
    env.pop("SSH_AUTH_SOCK", None)
    h1 = bed.hosts[0]
    remote = h1.home / "bench"
    remote.mkdir()
    wacket = [sys.executable, "-m", "wacket", "-q"]

    from wacket.fleet import Host
    from wacket.transport import rsync as core_rsync

    os.environ["HOME"] = str(home)  # known_hosts of the bench's HOME
    host = Host("h1", h1.address, "root", h1.port, [str(bed.client_key)])
    ssh = core_rsync.rsh(host)

    src = work / "src"
    t = time.perf_counter()
    total = generate(src, args.files, args.mb)
    print(f"tree: {args.files} files, {total / 2**20:.0f} MiB, generated in "
          f"{time.perf_counter() - t:.1f}s", flush=True)  # fmt: skip
    rng = random.Random(11)
    rows = []

    def report(name, w, peer, peer_name):
        ratio = w / peer if peer else float("nan")
        rows.append((name, w, peer, peer_name, ratio))
        print(f"{name:<28} wacket {w:7.2f}s   {peer_name} {peer:7.2f}s   ratio {ratio:.2f}",
              flush=True)  # fmt: skip

    # ---- one-way -------------------------------------------------------------------------
    raw_dst = f"{h1.address}:{remote}/raw/"
    w_dst = f"h1:{remote}/wacket/"
    raw = ["rsync", "-a", "-e", ssh, f"{src}/", raw_dst]
    wk = [*wacket, "sync", f"{src}/", w_dst, "--plain"]
    report("one-way first copy", timed(wk, env), timed(raw, env), "rsync -a")

    def pair_runs(before=None):
        w_times, r_times = [], []
        for _ in range(args.runs):
            if before:
                before()
            r_times.append(timed(raw, env))
            w_times.append(timed(wk, env))
        return statistics.median(w_times), statistics.median(r_times)

    report("one-way no change", *pair_runs(), "rsync -a")
    report(
        "one-way 1% changed", *pair_runs(lambda: change([src], args.files, 0.01, rng)), "rsync -a"
    )
    shutil.rmtree(remote / "raw")
    shutil.rmtree(remote / "wacket")

    # ---- two-way -------------------------------------------------------------------------
    a, b = work / "A", remote / "B"
    a2, b2 = work / "A2", remote / "B2"
    for d in (a, b, a2, b2):
        subprocess.run(["cp", "-al", str(src), str(d)], check=True)
    wk2 = [*wacket, "sync", "--two-way", str(a), f"h1:{b}", "--plain"]
    sshargs = " ".join(ssh.split()[1:])  # everything after `ssh`
    uni = ["unison", str(a2), f"ssh://root@{h1.address}/{b2}", "-batch", "-auto", "-silent",
           "-times", "-confirmbigdel=false", "-sshargs", sshargs]  # fmt: skip
    w_first = timed(wk2, env)
    u_first = timed(uni, env) if not args.no_unison else float("nan")
    report("two-way first run", w_first, u_first, "unison")

    def two_runs(before=None):
        w_times, u_times = [], []
        for _ in range(args.runs):
            if before:
                before()
            if not args.no_unison:
                u_times.append(timed(uni, env))
            w_times.append(timed(wk2, env))
        return statistics.median(w_times), statistics.median(u_times) if u_times else float("nan")

    report("two-way no change", *two_runs(), "unison")
    report(
        "two-way 1% changed", *two_runs(lambda: change([a, a2], args.files, 0.01, rng)), "unison"
    )
    # both replicas really are the same afterwards
    diff = subprocess.run(
        ["diff", "-rq", "-x", ".wacket-trash", str(a), str(b)], capture_output=True
    )
    print("two-way replicas identical:", diff.returncode == 0, flush=True)

    print("\nworkload                      wacket     peer        ratio (wacket/peer; target)")
    for name, w, peer, peer_name, ratio in rows:
        target = (
            "<= 1.10"
            if name.startswith("one-way") and "first" not in name
            else ("< 1" if name.startswith("two-way") and "first" not in name else "-")
        )
        print(f"{name:<28} {w:7.2f}s  {peer:7.2f}s {peer_name:<8} {ratio:5.2f}  {target}")


if __name__ == "__main__":
    main()
