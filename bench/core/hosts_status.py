#!/usr/bin/env python3
"""`wacket hosts status` on 10 loopback sshd hosts, beside clush, parallel-ssh and ansible.

    python3 bench/core/hosts_status.py [--runs 5] [--hosts 10] [--no-ansible]

Starts 10 real OpenSSH sshd (tests/sshbed.py: 127.0.0.2 .. 127.0.0.11, random ports, one
authorized client key) and runs, round after round (the tools interleaved, so load drift hits
them alike), on every host:

  wacket hosts status          wacket's own job: one connection, one shell script of facts
  wacket run -- true           the same job as the peers
  clush -w h[1-10] true        ClusterShell (OpenSSH client)
  parallel-ssh ... true        pssh (OpenSSH client)
  ansible -m raw -a true       ansible-core, no module
  ansible -m ping              ansible-core's usual liveness check (a Python module per host)
  ssh x10 in parallel          the floor of the OpenSSH-based peers: xargs -P10 ssh true

Every tool uses the same key and known_hosts, from a generated ssh config / inventory in a
temporary directory (StrictHostKeyChecking=yes, no ControlMaster: every run connects anew, as
wacket does). HOME points into that directory, so nothing reads or writes the real ~/.ssh.
Prints the median of each, and each peer's time divided by wacket's (> 1: wacket is faster).
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

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

import sshbed  # noqa: E402


def wacket_script() -> str:
    candidate = Path(sysconfig.get_path("scripts")) / "wacket"
    return str(candidate) if candidate.exists() else shutil.which("wacket") or "wacket"


def write_files(bed: sshbed.TestBed, tmp: Path) -> dict[str, Path]:
    home = tmp / "home"
    home.mkdir(mode=0o700)
    kh = bed.write_known_hosts(home)
    config = tmp / "wacket.toml"
    config.write_text(bed.fleet_toml())
    key = bed.client_key
    lines = [
        "Host *",
        "  User root",
        f"  IdentityFile {key}",
        "  IdentitiesOnly yes",
        f"  UserKnownHostsFile {kh}",
        "  GlobalKnownHostsFile /dev/null",
        "  StrictHostKeyChecking yes",
        "  BatchMode yes",
        "  ControlMaster no",
        "  ControlPath none",
        "  LogLevel ERROR",
        "",
    ]
    for name, h in bed.by_name().items():
        lines += [f"Host {name}", f"  HostName {h.address}", f"  Port {h.port}", ""]
    ssh_config = tmp / "ssh_config"
    ssh_config.write_text("\n".join(lines))
    hostsfile = tmp / "pssh_hosts"
    hostsfile.write_text("".join(n + "\n" for n in bed.names))
    inventory = tmp / "inventory.ini"
    inventory.write_text(
        "[bed]\n"
        + "".join(f"{n}\n" for n in bed.names)
        + "[bed:vars]\n"
        + f"ansible_ssh_common_args='-F {ssh_config}'\n"
        + "ansible_python_interpreter=/usr/bin/python3\n"
    )
    return {
        "home": home,
        "config": config,
        "ssh_config": ssh_config,
        "hostsfile": hostsfile,
        "inventory": inventory,
    }


def commands(bed: sshbed.TestBed, f: dict[str, Path], with_ansible: bool) -> dict[str, list]:
    n = len(bed.hosts)
    wacket = wacket_script()
    hostset = ",".join(bed.names)
    cmds: dict[str, list] = {
        "wacket hosts status": [wacket, "hosts", "status", hostset, "--plain"],
        "wacket run -- true": [wacket, "run", hostset, "--", "true"],
    }
    if shutil.which("clush"):
        cmds["clush true"] = [
            "clush", "-w", f"h[1-{n}]", "-f", str(n), "-o", f"-F {f['ssh_config']}", "true",
        ]  # fmt: skip
    if shutil.which("parallel-ssh"):
        cmds["parallel-ssh true"] = [
            "parallel-ssh", "-h", str(f["hostsfile"]), "-p", str(n),
            "-x", f"-F {f['ssh_config']}", "true",
        ]  # fmt: skip
    if with_ansible and shutil.which("ansible"):
        base = ["ansible", "bed", "-i", str(f["inventory"]), "-f", str(n), "-o"]
        cmds["ansible -m raw true"] = [*base, "-m", "raw", "-a", "true"]
        cmds["ansible -m ping"] = [*base, "-m", "ping"]
    cmds["ssh x10 parallel (floor)"] = [
        "sh", "-c",
        f"xargs -P {n} -I@ ssh -F {f['ssh_config']} @ true < {f['hostsfile']}",
    ]  # fmt: skip
    return cmds


def environment(tmp: Path, f: dict[str, Path]) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: wacket's .pyc files exist
    env.pop("SSH_AUTH_SOCK", None)
    env.update(
        HOME=str(f["home"]),
        XDG_CONFIG_HOME=str(f["home"] / ".config"),
        XDG_DATA_HOME=str(f["home"] / ".local/share"),
        XDG_CACHE_HOME=str(f["home"] / ".cache"),
        WACKET_CONFIG=str(f["config"]),
        WACKET_DATA=str(tmp / "data"),
        ANSIBLE_HOST_KEY_CHECKING="True",
        ANSIBLE_SSH_ARGS="-o ControlMaster=no -o ControlPath=none",
        ANSIBLE_LOCAL_TEMP=str(tmp / "ansible-local"),
        ANSIBLE_HOME=str(tmp / "ansible-home"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_GATHERING="explicit",
        ANSIBLE_DEPRECATION_WARNINGS="False",
    )
    return env


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(argv: list, env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock seconds and client-side CPU seconds (the tool and its ssh children)."""
    cpu0, start = children_cpu(), time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, timeout=300)
    seconds = time.perf_counter() - start
    cpu = children_cpu() - cpu0
    if proc.returncode != 0:
        out = (proc.stdout + proc.stderr).decode(errors="replace")[-800:]
        raise SystemExit(f"{argv[0]} failed (rc {proc.returncode}):\n{out}")
    return seconds, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed rounds (median)")
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--no-ansible", action="store_true", help="skip ansible (slow)")
    parser.add_argument("--only", action="append", help="run only tools whose label has this")
    opts = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="wacket-bench-status-"))
    bed = sshbed.TestBed(tmp / "bed", n=opts.hosts)
    try:
        bed.start()
        files = write_files(bed, tmp)
        env = environment(tmp, files)
        cmds = commands(bed, files, not opts.no_ansible)
        if opts.only:
            cmds = {
                k: v
                for k, v in cmds.items()
                if k.startswith("wacket") or any(o in k for o in opts.only)
            }
        for _label, argv in cmds.items():  # warm-up: page cache, .pyc, sshd's first fork
            run_once(argv, env)
        times: dict[str, list[float]] = {label: [] for label in cmds}
        cpu: dict[str, list[float]] = {label: [] for label in cmds}
        load_before = os.getloadavg()[0]
        for _ in range(opts.runs):
            for label, argv in cmds.items():
                wall, used = run_once(argv, env)
                times[label].append(wall)
                cpu[label].append(used)
        load_after = os.getloadavg()[0]
        med = {label: statistics.median(ts) for label, ts in times.items()}
        ref = med["wacket hosts status"]
        print(
            f"{opts.hosts} loopback sshd hosts, median of {opts.runs} rounds "
            f"(load average {load_before:.2f} -> {load_after:.2f})"
        )
        print(f"  {'tool':<28} {'median':>8} {'min':>8} {'CPU':>8}   peer / wacket hosts status")
        for label, ts in times.items():
            ratio = "" if label == "wacket hosts status" else f"{med[label] / ref:6.2f}x"
            used = statistics.median(cpu[label])
            print(f"  {label:<28} {med[label]:7.2f}s {min(ts):7.2f}s {used:7.2f}s   {ratio}")
        print("  (CPU: median user+sys of the client process tree; the sshd side is not counted)")
        peers = [k for k in med if not k.startswith(("wacket", "ssh x10"))]
        slower = [k for k in peers if med[k] <= ref]
        print()
        if peers and not slower:
            print(f"  wacket hosts status is faster than every peer ({', '.join(peers)})")
        elif slower:
            print(f"  NOT faster than: {', '.join(slower)}")
    finally:
        bed.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
