#!/usr/bin/env python3
"""Benchmark `wacket backup` beside rsnapshot, restic and bare `rsync -a --link-dest`.

Usage: python3 bench/backup/bench.py [--files 100000] [--mb 1000] [--dir /tmp/wkbk-bench] [--keep]

One loopback sshd (started here) stands for the backup host. The same generated tree is backed up
by every tool in the same run, in three phases: first backup, no-change incremental, incremental
after 1% of the files changed. Then `wacket backup verify` beside `sha256sum` over the snapshot on
the target. Each step runs once (big data); times are whole processes, wall clock, page cache warm.
Peers: `apt-get install -y rsnapshot restic rsync openssh-server`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "tests"))

import sshbed  # noqa: E402


def generate(root: Path, n: int, total_mb: int, seed: int = 11) -> int:
    """n files in 100-file directories; sizes log-spread around total/n (a few big ones)."""
    rnd = random.Random(seed)
    avg = total_mb * 1024 * 1024 // n
    block = os.urandom(4 << 20)
    written = 0
    for i in range(n):
        d = root / f"top{i // 10000:02d}" / f"dir{i // 100:05d}"
        if i % 100 == 0:
            d.mkdir(parents=True, exist_ok=True)
        size = int(min(avg * rnd.lognormvariate(0, 1.0) / 1.65, 4 << 20))
        off = rnd.randrange(0, len(block) - size) if size < len(block) else 0
        with open(d / f"file{i:06d}.dat", "wb") as fh:
            fh.write(block[off : off + size] + i.to_bytes(8, "little"))
        written += size + 8
    return written


def change_one_percent(root: Path, n: int, seed: int = 5) -> int:
    rnd = random.Random(seed)
    picked = rnd.sample(range(n), max(1, n // 100))
    for i in picked:
        p = root / f"top{i // 10000:02d}" / f"dir{i // 100:05d}" / f"file{i:06d}.dat"
        with open(p, "ab") as fh:
            fh.write(os.urandom(512))
    return len(picked)


def settle(src: Path) -> None:
    """Flush the previous step's writes and read the source once, so every tool starts from the
    same state (source in the page cache, no writeback pending)."""
    subprocess.run(["sync"])
    # (tar into a pipe: GNU tar does not read the files when the archive is /dev/null itself)
    subprocess.run(["sh", "-c", 'tar cf - -C "$1" . | cat >/dev/null', "sh", str(src)])
    time.sleep(2)


def timed(argv, env=None, cwd=None) -> float:
    start = time.monotonic()
    res = subprocess.run(argv, env=env, cwd=cwd, capture_output=True)
    secs = time.monotonic() - start
    if res.returncode != 0:
        sys.stderr.write(f"FAILED ({res.returncode}): {' '.join(map(str, argv))}\n")
        sys.stderr.write(res.stderr.decode(errors="replace")[-2000:] + "\n")
        raise SystemExit(1)
    return secs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--mb", type=int, default=1000)
    ap.add_argument("--dir", default="/tmp/wkbk-bench")
    ap.add_argument("--keep", action="store_true", help="Do not delete the data afterwards.")
    args = ap.parse_args()
    for tool in ("rsync", "rsnapshot", "restic", "sha256sum"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: apt-get install -y rsnapshot restic rsync")

    work = Path(args.dir)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    src = work / "src" / "data"
    src.mkdir(parents=True)
    t0 = time.monotonic()
    size = generate(src, args.files, args.mb)
    print(
        f"tree: {args.files} files, {size / 1e6:.0f} MB, generated in {time.monotonic() - t0:.1f}s"
    )

    key = sshbed.keygen(work / "client" / "id_ed25519")
    sshd = sshbed.SSHD(work / "sshd", "127.0.0.2", None, [sshbed.pub_of(key)]).start()
    try:
        run_all(args, work, src, key, sshd)
    finally:
        sshd.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def run_all(args, work: Path, src: Path, key: Path, sshd) -> None:
    home = work / "home"
    (home / ".ssh").mkdir(parents=True)
    kh = home / ".ssh" / "known_hosts"
    kh.write_text(sshd.known_hosts_line() + "\n")
    targets = {t: work / "targets" / t for t in ("wacket", "rsnapshot", "restic", "rsync")}
    for t in targets.values():
        t.mkdir(parents=True)
    config = home / "config.toml"
    config.write_text(
        f'[hosts.nas]\naddress = "{sshd.address}"\nport = {sshd.port}\nuser = "root"\n'
        f'identity = "{key}"\n\n[backup.bench]\nsources = ["{src}"]\n'
        f'target = "nas:{targets["wacket"]}"\n'
    )
    env = dict(
        os.environ,
        HOME=str(home),
        WACKET_CONFIG=str(config),
        WACKET_DATA=str(home / "data"),
        XDG_CACHE_HOME=str(home / "cache"),
    )
    env.pop("SSH_AUTH_SOCK", None)
    ssh = [
        "ssh", "-F", "/dev/null", "-p", str(sshd.port), "-i", str(key),
        "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
        "-o", f"UserKnownHostsFile={kh}", "-o", "GlobalKnownHostsFile=/dev/null",
    ]  # fmt: skip
    rsh = " ".join(shlex.quote(a) for a in ssh)
    remote = f"root@{sshd.address}"

    # rsnapshot pulls from the sshd host into its local snapshot root (the usual rsnapshot setup).
    rs_conf = work / "rsnapshot.conf"
    rs_conf.write_text(
        "\n".join(
            [
                "config_version\t1.2",
                f"snapshot_root\t{targets['rsnapshot']}/",
                "cmd_cp\t/bin/cp",
                "cmd_rm\t/bin/rm",
                "cmd_rsync\t/usr/bin/rsync",
                "cmd_ssh\t/usr/bin/ssh",
                f"ssh_args\t{' '.join(shlex.quote(a) for a in ssh[1:])}",
                "retain\tdaily\t30",
                "verbose\t1",
                f"lockfile\t{work}/rsnapshot.pid",
                f"backup\t{remote}:{src}/\tdata/",
                "",
            ]
        )
    )
    # restic: an sftp repository on the sshd host.
    repo = f"sftp:{remote}:{targets['restic']}/repo"
    renv = dict(env, RESTIC_PASSWORD="bench", RESTIC_CACHE_DIR=str(work / "restic-cache"))
    ropt = ["-o", f"sftp.command={rsh} {remote} -s sftp"]
    subprocess.run(["restic", "-r", repo, *ropt, "init"], env=renv, check=True, capture_output=True)

    wacket = [sys.executable, "-m", "wacket"]
    rsync_n = [0]

    def bare_rsync() -> list[str]:
        prev = rsync_n[0]
        rsync_n[0] += 1
        dest = f"{remote}:{targets['rsync']}/s{rsync_n[0]}/"
        argv = ["rsync", "-a", "--delete", "-e", rsh]
        if prev:
            argv.append(f"--link-dest=../s{prev}")
        return [*argv, f"{src}/", dest]

    tools = {
        "wacket": lambda: wacket + ["backup", "run", "bench"],
        "rsnapshot": lambda: ["rsnapshot", "-c", str(rs_conf), "daily"],
        "restic": lambda: ["restic", "-r", repo, *ropt, "backup", "-q", str(src)],
        "rsync --link-dest": bare_rsync,
    }
    results: dict[str, dict[str, float]] = {}
    phases = ["first", "no change", "1% changed"]
    for phase in phases:
        if phase == "1% changed":
            changed = change_one_percent(src, args.files)
            print(f"changed {changed} files")
        for name, argv in tools.items():
            settle(src)
            secs = timed(argv(), env=renv if name == "restic" else env)
            results.setdefault(name, {})[phase] = secs
            print(f"  {phase:<11} {name:<18} {secs:7.2f}s", flush=True)

    # verify: wacket re-hashes the latest snapshot on the target; sha256sum over the same tree.
    snaps = sorted(
        p for p in (targets["wacket"] / "bench").iterdir() if p.name[0].isdigit() and p.is_dir()
    )
    latest = snaps[-1]
    settle(latest)
    t_verify = timed(wacket + ["backup", "verify", "bench"], env=env)
    settle(latest)
    t_sha = timed(
        [
            "sh",
            "-c",
            f"cd {shlex.quote(str(latest))} && find . -type f -print0 | xargs -0 sha256sum >/dev/null",
        ]
    )

    def du(path: Path) -> int:
        out = subprocess.run(["du", "-sm", str(path)], capture_output=True, text=True).stdout
        return int(out.split()[0])

    print()
    print(f"backup, {args.files} files / {args.mb} MB, loopback sshd, seconds (ratio wacket/peer)")
    head = f"{'tool':<18}" + "".join(f"{p:>22}" for p in phases)
    print(head)
    for name, row in results.items():
        cells = []
        for p in phases:
            ratio = results["wacket"][p] / row[p] if name != "wacket" else None
            cells.append(f"{row[p]:8.2f}" + (f" ({ratio:5.2f}x)" if ratio else " " * 9))
        print(f"{name:<18}" + "".join(f"{c:>22}" for c in cells))
    print(
        f"verify latest snapshot: wacket {t_verify:.2f}s, find|xargs sha256sum {t_sha:.2f}s ({t_verify / t_sha:.2f}x)"
    )
    sizes = {n: du(t) for n, t in targets.items()}
    print("target size after 3 runs (MiB): " + ", ".join(f"{n} {s}" for n, s in sizes.items()))
    record = {
        "files": args.files,
        "mb": args.mb,
        "results": results,
        "verify": t_verify,
        "sha256sum": t_sha,
        "sizes_mib": sizes,
    }
    print(json.dumps(record))


if __name__ == "__main__":
    main()
