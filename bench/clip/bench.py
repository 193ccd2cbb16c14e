#!/usr/bin/env python3
"""wacket clip round trips beside the same transfer done by hand with ssh and with scp.

    python3 bench/clip/bench.py [--runs 7] [--big-runs 3]

A loopback sshd (tests/sshbed.py) is the clipboard hub. One round trip = copy a payload into the
ring on the hub, then paste it back (byte-exact, checked), for 1 KB and 5 MB payloads:

- wacket, in-process with connection reuse: the `Ring` API on one SSH session (what `clip share`,
  a script or a long-running wacket does); the helper is started once beforehand.
- wacket, whole commands: `wacket clip copy < f` then `wacket clip paste > out` (two processes,
  each importing paramiko and connecting).
- a second machine pastes: the hub is h1, the paste goes through h2's helper (wacket on h2 reading
  the ring) — copy on one loopback host, paste on another, sessions reused.
- by hand: `ssh h1 'cat > file' < f; ssh h1 cat file > out` (new connection each time, and again
  with an OpenSSH ControlMaster connection kept open), and `scp f h1:file; scp h1:file out`.

Prints medians and ratios (peer time / wacket time: above 1 means wacket is faster).
Everything generated is removed at the end. Needs: apt-get install openssh-server openssh-client.
"""

from __future__ import annotations

import argparse
import os
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


def median_time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def run(argv, *, stdin=None, stdout=subprocess.DEVNULL, env=None) -> None:
    proc = subprocess.run(argv, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:3]}... failed ({proc.returncode}): {proc.stderr.decode()}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7, help="runs per 1 KB measurement")
    ap.add_argument("--big-runs", type=int, default=3, help="runs per 5 MB measurement")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="wacket-clip-bench-"))
    home = work / "home"
    env = sshbed.isolated_env(home)
    os.environ.clear()
    os.environ.update(env)
    bed = sshbed.TestBed(work / "bed", n=2).start()
    try:
        store = work / "hub-store"
        bed.write_fleet(
            home, Path(env["WACKET_CONFIG"]), f'[clip]\nhub = "h1"\nstore = "{store}"\n'
        )
        h1 = bed.hosts[0]
        kh = home / ".ssh" / "known_hosts"
        ssh = [*bed.ssh_base(kh), "-p", str(h1.port), f"root@{h1.address}"]
        ctl = work / "ctl"
        ssh_mux = [
            *bed.ssh_base(kh),
            "-o",
            "ControlMaster=auto",
            "-o",
            f"ControlPath={ctl}",
            "-o",
            "ControlPersist=120",
            "-p",
            str(h1.port),
            f"root@{h1.address}",
        ]
        scp = [
            "scp",
            "-q",
            "-F",
            "/dev/null",
            "-P",
            str(h1.port),
            "-i",
            str(bed.client_key),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            f"UserKnownHostsFile={kh}",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
        ]
        remote_file = work / "hand-copied"
        out = work / "out"

        from wacket import config as wconfig
        from wacket.clip.ring import Ring
        from wacket.clip.settings import ClipSettings, Place
        from wacket.fleet import Fleet
        from wacket.transport.pool import Pool

        cfg = wconfig.load()
        fleet = Fleet.load(cfg)
        settings = ClipSettings.load(cfg)
        pool = Pool()
        ring = Ring(Place(fleet.get("h1"), lambda: pool), settings)
        ring.entries()  # connect and start the helper once
        # "Another machine" pastes: the helper on h2 reads h1's ring over its own SSH login
        # (wacket installed there is this same tree; h2's HOME gets a config naming the hub).
        h2_machine = bed.hosts[1].home / "bench"
        h2_cfg = h2_machine / "config.toml"
        bed.write_fleet(h2_machine, h2_cfg, f'[clip]\nhub = "h1"\nstore = "{store}"\n')
        wacket = [sys.executable, "-m", "wacket"]
        h2 = bed.hosts[1]
        ssh_h2 = [*bed.ssh_base(kh), "-p", str(h2.port), f"root@{h2.address}"]

        print(f"hub: loopback sshd {h1.address}:{h1.port}; {os.cpu_count()} cores")
        print(f"{'payload':8} {'method':44} {'median':>9}  x of the wacket in-process time")
        for label, size, runs in (
            ("1 KB", 1024, args.runs),
            ("5 MB", 5 * 1024 * 1024, args.big_runs),
        ):
            payload = (os.urandom(size // 2) + b"\x00" * (size // 2))[:size]
            src = work / "payload"
            src.write_bytes(payload)

            def api_round_trip(payload=payload):
                ring.add(payload)
                _, got = ring.get(1)
                assert got == payload

            def cli_round_trip(src=src):
                with open(src, "rb") as fh:
                    run([*wacket, "-q", "clip", "copy"], stdin=fh, env=env)
                with open(out, "wb") as fh:
                    run([*wacket, "clip", "paste"], stdout=fh, env=env)

            def other_host_round_trip(payload=payload):
                # copy here (session reused), paste with wacket running on h2 over SSH.
                ring.add(payload)
                remote = (
                    f"env HOME={h2_machine} WACKET_CONFIG={h2_cfg} "
                    f"WACKET_DATA={h2_machine}/data {sys.executable} -m wacket clip paste"
                )
                with open(out, "wb") as fh:
                    run([*ssh_h2, remote], stdout=fh)

            def ssh_round_trip(src=src, base=ssh):
                with open(src, "rb") as fh:
                    run([*base, f"cat > {remote_file}"], stdin=fh)
                with open(out, "wb") as fh:
                    run([*base, f"cat {remote_file}"], stdout=fh)

            def scp_round_trip(src=src):
                run([*scp, str(src), f"root@{h1.address}:{remote_file}"])
                run([*scp, f"root@{h1.address}:{remote_file}", str(out)])

            api_round_trip()  # warm-up
            results = {}
            results["wacket Ring API, session reused"] = median_time(api_round_trip, runs)
            cli_round_trip()
            assert out.read_bytes() == payload
            results["wacket clip copy + paste (2 processes)"] = median_time(cli_round_trip, runs)
            other_host_round_trip()
            assert out.read_bytes() == payload
            results["copy here, paste by wacket on h2 (ssh)"] = median_time(
                other_host_round_trip, runs
            )
            results["ssh cat > file; ssh cat file"] = median_time(ssh_round_trip, runs)
            run([*ssh_mux, "true"])  # open the master connection
            results["same, OpenSSH ControlMaster reused"] = median_time(
                lambda: ssh_round_trip(base=ssh_mux), runs
            )
            results["scp f host:file; scp host:file out"] = median_time(scp_round_trip, runs)
            assert out.read_bytes() == payload
            base = results["wacket Ring API, session reused"]
            for name, seconds in results.items():
                print(f"{label:8} {name:44} {seconds * 1000:7.1f} ms  {seconds / base:5.2f}")
            ring.clear()
        subprocess.run([*ssh_mux, "-O", "exit"], capture_output=True)
        pool.close()
    finally:
        bed.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
