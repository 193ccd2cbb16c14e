#!/usr/bin/env python3
"""wacket gpio latency on a loopback sshd host with the simulated chip.

    python3 bench/gpio/bench.py [--runs 15] [--events 50]

- `ssh host true` (OpenSSH, new connection each time): the floor a shell script pays per call.
- `wacket gpio get h1 GPIO17` and `wacket gpio set h1 GPIO17=1|0` as separate processes, as a
  shell script calls them (each imports wacket and paramiko, connects, talks to the helper; the
  set goes through the holder, started once beforehand).
- `python -m wacket --version`: the start-up cost of the wacket process alone.
- the same get and set through the Python API on one open session (connection reused).
- watch: `wacket gpio watch h1 GPIO27 --jsonl` runs; the bench changes the level of GPIO27 on the
  simulated chip (the same device code the helper runs, in this process, on h1's data dir) and
  times the change until the JSON line arrives on the watch's stdout. Target: < 20 ms.

Prints medians (and p90 for watch). Everything generated is removed at the end.
Needs: apt-get install openssh-server openssh-client.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
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

TOML = """
[gpio.h1]
backend = "sim"
"""


def median_time(argv, runs: int, argvs=None) -> float:
    times = []
    for i in range(runs):
        cmd = argvs[i % len(argvs)] if argvs else argv
        t = time.perf_counter()
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True)
        times.append(time.perf_counter() - t)
        if proc.returncode != 0:
            raise SystemExit(f"{cmd[:5]}... failed ({proc.returncode}): {proc.stderr.decode()}")
    return statistics.median(times)


def watch_latency(wacket, h1_data: Path, events: int) -> list[float]:
    from wacket.gpio import parsers

    device = parsers.module()
    device.data_dir = lambda: str(h1_data)  # drive h1's chip from here, as `gpio drive` does there
    sim = device._GpioSim()
    proc = subprocess.Popen(
        [*wacket, "gpio", "watch", "h1", "GPIO27", "--jsonl"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )
    try:
        while b"watching h1" not in proc.stderr.readline():
            if proc.poll() is not None:
                raise SystemExit("watch did not start")
        lat = []
        level = 1
        for _ in range(events):
            t = time.perf_counter()
            sim.drive([(27, level)], 0)
            line = proc.stdout.readline()
            lat.append(time.perf_counter() - t)
            ev = json.loads(line)
            assert ev["value"] == level, ev
            level = 1 - level
            time.sleep(0.02)
        return lat
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def in_process(runs: int) -> list[tuple[str, float]]:
    """The same get and set through the Python API on one open session: the per-call cost once
    the connection and the helper are up (what `watch`, a daemon or a script in Python pays)."""
    from wacket import config
    from wacket.fleet import Fleet
    from wacket.gpio import client, holder, pins
    from wacket.transport.pool import Pool

    cfg = config.load()
    host = Fleet.load(cfg).get("h1")
    hg = pins.load(cfg, "h1")
    pin = hg.pin("GPIO17")
    with Pool() as pool:
        session = pool.session(host)
        client.get(session, hg, [pin])

        def timed(fn):
            times = []
            for i in range(runs):
                t = time.perf_counter()
                fn(i)
                times.append(time.perf_counter() - t)
            return statistics.median(times)

        get_t = timed(lambda i: client.get(session, hg, [pin]))
        set_t = timed(lambda i: holder.set_values(session, hg, [(pin, i % 2)]))
    return [
        ("API get, session reused", get_t),
        ("API set, session reused (via the holder)", set_t),
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15, help="runs per command measurement")
    ap.add_argument("--events", type=int, default=50, help="edges timed during watch")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="wacket-gpio-bench-"))
    home = work / "home"
    env = sshbed.isolated_env(home)
    os.environ.clear()
    os.environ.update(env)
    bed = sshbed.TestBed(work / "bed", n=1).start()
    wacket = [sys.executable, "-m", "wacket"]
    try:
        bed.write_fleet(home, Path(os.environ["WACKET_CONFIG"]), TOML)
        h1 = bed.hosts[0]
        kh = home / ".ssh" / "known_hosts"
        ssh = [*bed.ssh_base(kh), "-p", str(h1.port), f"root@{h1.address}", "true"]
        # warm up: the helper is sent once and cached on h1; the holder starts on the first set
        subprocess.run([*wacket, "gpio", "set", "h1", "GPIO17=1"], check=True, capture_output=True)

        print(f"host: loopback sshd {h1.address}:{h1.port}; {os.cpu_count()} cores; sim chip")
        rows = [
            ("ssh h1 true (OpenSSH, new connection)", median_time(ssh, args.runs)),
            (
                "python -m wacket --version (start-up)",
                median_time([*wacket, "--version"], args.runs),
            ),
            (
                "wacket gpio get h1 GPIO17",
                median_time([*wacket, "gpio", "get", "h1", "GPIO17"], args.runs),
            ),
            (
                "wacket gpio set h1 GPIO17=0|1 (holder running)",
                median_time(
                    None,
                    args.runs,
                    [
                        [*wacket, "gpio", "set", "h1", "GPIO17=0"],
                        [*wacket, "gpio", "set", "h1", "GPIO17=1"],
                    ],
                ),
            ),
        ]
        rows += in_process(args.runs * 3)
        ssh_t = rows[0][1]
        print(f"{'command':48} {'median':>9}  x of ssh true")
        for label, t in rows:
            print(f"{label:48} {t * 1000:7.1f} ms  {t / ssh_t:5.2f}")
        lat = watch_latency(wacket, h1.home / ".local/share/wacket", args.events)
        lat.sort()
        p90 = lat[int(len(lat) * 0.9) - 1]
        print(
            f"watch: level change -> JSON line on stdout, {len(lat)} edges: "
            f"median {statistics.median(lat) * 1000:.1f} ms, p90 {p90 * 1000:.1f} ms, "
            f"max {lat[-1] * 1000:.1f} ms (target < 20 ms)"
        )
        subprocess.run([*wacket, "gpio", "release", "h1"], capture_output=True)
    finally:
        bed.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
