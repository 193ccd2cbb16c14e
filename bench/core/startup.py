#!/usr/bin/env python3
"""Start-up time: `wacket --help` and `wacket hosts list` beside `python -c pass` (target < 150 ms).

    python3 bench/core/startup.py [--runs 21] [--peers] [--profile] [--keep-bytecode-flag]

Runs every command --runs times (after warm-up runs) in an empty, isolated HOME/config/data,
and prints the median and the minimum of each whole process. The fleet is just `local`, so
`hosts list` measures start-up, config and fleet loading, not SSH.

Bytecode: a `pip install` compiles wacket to .pyc; an editable install compiles on first import
unless PYTHONDONTWRITEBYTECODE is set (it is on the dev machines). The benchmark unsets it so
the .pyc files exist, as on a user's machine; --keep-bytecode-flag measures the other case.
`--peers` also times the start-up of the peer tools that are installed (rsync, parallel-ssh,
clush, ansible), each printing its version or help.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path


def wacket_script() -> str:
    """The console script pip installed (not a version manager's shim, which adds its own cost)."""
    candidate = Path(sysconfig.get_path("scripts")) / "wacket"
    return str(candidate) if candidate.exists() else shutil.which("wacket") or "wacket"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], env: dict[str, str], runs: int, warmup: int = 2):
    """Wall-clock seconds and CPU seconds (user + system) of each run."""
    for _ in range(warmup):
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times, cpu = [], []
    for _ in range(runs):
        cpu0, start = children_cpu(), time.perf_counter()
        proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - start)
        cpu.append(children_cpu() - cpu0)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.decode()[-500:]}")
    return times, cpu


def import_profile(env: dict[str, str], args: list[str], runs: int = 5) -> list[tuple[float, str]]:
    """Median cumulative import time (ms) of the biggest top-level imports of `wacket ARGS`."""
    seen: dict[str, list[float]] = {}
    for _ in range(runs):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "wacket", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for line in proc.stderr.splitlines():
            parts = line.split("|")
            if len(parts) != 3 or not parts[1].strip().isdigit():
                continue
            name = parts[2].rstrip()
            depth = (len(name) - len(name.lstrip())) // 2
            if depth <= 1:  # top-level imports and their direct children
                seen.setdefault("  " * depth + name.strip(), []).append(int(parts[1]) / 1000)
    ranked = [(statistics.median(v), k) for k, v in seen.items() if len(v) == runs]
    return sorted(ranked, reverse=True)[:14]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21, help="timed runs per command (>= 15)")
    parser.add_argument("--peers", action="store_true", help="also time the installed peers")
    parser.add_argument("--keep-bytecode-flag", action="store_true")
    parser.add_argument(
        "--profile", action="store_true", help="also show what `wacket hosts list` spends importing"
    )
    opts = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="wacket-bench-startup-"))
    try:
        env = dict(os.environ)
        env.update(
            HOME=str(tmp),
            XDG_CONFIG_HOME=str(tmp / ".config"),
            XDG_DATA_HOME=str(tmp / ".local/share"),
            XDG_CACHE_HOME=str(tmp / ".cache"),
            WACKET_CONFIG=str(tmp / "config.toml"),
            WACKET_DATA=str(tmp / "data"),
        )
        if not opts.keep_bytecode_flag:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
        py = sys.executable
        wacket = wacket_script()
        rows = [
            ("python -c pass", [py, "-c", "pass"]),
            ("python -S -c pass (no site)", [py, "-S", "-c", "pass"]),
            ("python -c 'import click'", [py, "-c", "import click"]),
            ("wacket --help", [wacket, "--help"]),
            ("wacket --version", [wacket, "--version"]),
            ("wacket hosts list", [wacket, "hosts", "list"]),
        ]
        if opts.peers:
            for label, argv in (
                ("rsync --version", ["rsync", "--version"]),
                ("parallel-ssh --help", ["parallel-ssh", "--help"]),
                ("clush --version", ["clush", "--version"]),
                ("ansible --version", ["ansible", "--version"]),
            ):
                if shutil.which(argv[0]):
                    rows.append((label, argv))
        load = os.getloadavg()
        print(f"start-up, {opts.runs} runs each; load average {load[0]:.2f}")
        print(f"wacket = {wacket}")
        print(f"  {'command':<30} {'median':>9} {'min':>9} {'CPU':>9}   (CPU: median user+sys)")
        results, cpus = {}, {}
        for label, argv in rows:
            times, cpu = timed(argv, env, opts.runs)
            results[label], cpus[label] = statistics.median(times), statistics.median(cpu)
            print(
                f"  {label:<30} {results[label] * 1000:6.1f} ms {min(times) * 1000:6.1f} ms"
                f" {cpus[label] * 1000:6.1f} ms"
            )
        print()
        base = "python -c pass"
        for label in ("wacket --help", "wacket hosts list"):
            print(
                f"  {label}: median {results[label] * 1000:.1f} ms"
                f" ({'under' if results[label] < 0.150 else 'OVER'} the 150 ms target),"
                f" CPU {cpus[label] * 1000:.1f} ms; python -c pass: {results[base] * 1000:.1f} ms,"
                f" CPU {cpus[base] * 1000:.1f} ms"
            )
        if load[0] > (os.cpu_count() or 1):
            print(
                "  the machine was busy: wall times are inflated; CPU times are the steadier figure"
            )
        print(f"  load average after: {os.getloadavg()[0]:.2f}")
        if opts.profile:
            print(
                "\nwhat `wacket hosts list` imports (python -X importtime, cumulative ms, median):"
            )
            for ms, name in import_profile(env, ["hosts", "list"]):
                print(f"  {ms:7.1f}  {name}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
