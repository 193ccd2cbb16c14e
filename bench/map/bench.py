#!/usr/bin/env python3
"""bench/map: wacket map beside GNU parallel --sshlogin on three loopback sshd hosts.

1,000 short jobs (`true`) measure per-job overhead; 100 CPU-bound jobs (a hash loop of about
0.5 s) measure how close the batch gets to the ideal wall time: the CPU seconds the jobs report /
the machine's cores (the loopback hosts share them). Run: python3 bench/map/bench.py [--short N] [--cpu N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
import sshbed  # noqa: E402

# Each CPU job prints the CPU seconds it used, so the ideal comes from the work actually done.
CPU_JOB = (
    'python3 -c \'import hashlib,sys,time; h=b"x"\n'
    "for _ in range(int(sys.argv[1])): h=hashlib.sha256(h).digest()\n"
    "print(time.process_time())' {}"
)


def timed(argv, items: str, env) -> float:
    return timed_out(argv, items, env)[0]


def timed_out(argv, items: str, env) -> tuple[float, str]:
    start = time.monotonic()
    res = subprocess.run(argv, input=items.encode(), capture_output=True, env=env)
    seconds = time.monotonic() - start
    if res.returncode != 0:
        sys.exit(f"failed: {argv[:4]}...: {res.stderr.decode()[-500:]}")
    return seconds, res.stdout.decode()


def cpu_sum(output: str) -> float:
    return sum(float(x) for x in output.split())


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
    env = sshbed.isolated_env(home)
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
        items = "".join(f"{n}\n" for _ in range(args.cpu))
        w, w_out = timed_out([*wacket, CPU_JOB], items, env)
        p, p_out = timed_out([*parallel, CPU_JOB], items, env)
        w_ideal, p_ideal = cpu_sum(w_out) / cores, cpu_sum(p_out) / cores
        print(f"{args.cpu} CPU jobs of about {cpu_sum(w_out) / args.cpu:.2f} s CPU on {cores} "
              f"cores: wacket {w:.1f} s = {w / w_ideal:.2f}x ideal ({w_ideal:.1f} s), "
              f"GNU parallel {p:.1f} s = {p / p_ideal:.2f}x ideal ({p_ideal:.1f} s); "
              "ideal = the jobs' own CPU seconds / cores")  # fmt: skip
    finally:
        bed.stop()


if __name__ == "__main__":
    main()
