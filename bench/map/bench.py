#!/usr/bin/env python3
"""bench/map: wacket map beside GNU parallel --sshlogin on three loopback sshd hosts.

1,000 short jobs (`true`) measure per-job overhead; 100 CPU-bound jobs (a hash loop of about
0.5 s) measure how close the batch gets to the ideal wall time: total work / the machine's cores
(the loopback hosts share them). Run: python3 bench/map/bench.py [--short N] [--cpu N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
import sshbed  # noqa: E402

CPU_JOB = "python3 -c 'import hashlib,sys; h=b\"x\"\nfor _ in range(int(sys.argv[1])): h=hashlib.sha256(h).digest()' {}"


def timed(argv, items: str, env) -> float:
    start = time.monotonic()
    res = subprocess.run(argv, input=items.encode(), capture_output=True, env=env)
    seconds = time.monotonic() - start
    if res.returncode != 0:
        sys.exit(f"failed: {argv[:4]}...: {res.stderr.decode()[-500:]}")
    return seconds


def calibrate() -> int:
    """Hash iterations that take about 0.5 s here."""
    n = 200_000
    code = "import hashlib,sys,time; h=b'x'; t=time.monotonic()\n"
    code += f"for _ in range({n}): h=hashlib.sha256(h).digest()\nprint(time.monotonic()-t)"
    secs = float(subprocess.run(["python3", "-c", code], capture_output=True, text=True).stdout)
    return int(n * 0.5 / secs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--short", type=int, default=1000)
    ap.add_argument("--cpu", type=int, default=100)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="wacket-bench-map-"))
    bed = sshbed.TestBed(work / "bed", n=3)
    bed.start()
    home = work / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), WACKET_CONFIG=str(home / "config.toml"),
               WACKET_DATA=str(home / "data"), XDG_CACHE_HOME=str(home / ".cache"))  # fmt: skip
    env.pop("SSH_AUTH_SOCK", None)
    bed.write_fleet(home, home / "config.toml")
    kh = home / ".ssh/known_hosts"
    ssh = (f"ssh -F /dev/null -i {bed.client_key} -o IdentitiesOnly=yes -o BatchMode=yes "
           f"-o UserKnownHostsFile={kh} -o StrictHostKeyChecking=yes")  # fmt: skip
    cores = os.cpu_count() or 1
    logins = []
    for h in bed.hosts:
        logins += ["-S", f"{cores}/root@{h.address}:{h.port}"]
    # GNU parallel >= 20180322 understands user@host:port in --sshlogin.
    parallel = ["parallel", "--ssh", ssh, *logins, "--will-cite"]
    wacket = [sys.executable, "-m", "wacket", "-q", "map", "h1,h2,h3", "-j", str(cores), "--"]
    try:
        items = "".join(f"{i}\n" for i in range(args.short))
        w = timed([*wacket, "true"], items, env)
        p = timed([*parallel, "true"], items, env)
        print(f"{args.short} x true: wacket {w:.2f} s ({1000 * w / args.short:.1f} ms/job), "
              f"GNU parallel {p:.2f} s ({1000 * p / args.short:.1f} ms/job), ratio {w / p:.2f}")  # fmt: skip
        n = calibrate()
        one = statistics.median(
            timed(["sh", "-c", CPU_JOB.replace("{}", str(n))], "", env) for _ in range(3)
        )
        ideal = args.cpu * one / cores
        items = "".join(f"{n}\n" for _ in range(args.cpu))
        w = timed([*wacket, CPU_JOB], items, env)
        p = timed([*parallel, CPU_JOB], items, env)
        print(f"{args.cpu} CPU jobs of {one:.2f} s on {cores} cores: ideal {ideal:.1f} s, "
              f"wacket {w:.1f} s ({w / ideal:.2f}x ideal), GNU parallel {p:.1f} s "
              f"({p / ideal:.2f}x ideal)")  # fmt: skip
    finally:
        bed.stop()


if __name__ == "__main__":
    main()
