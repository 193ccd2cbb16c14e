#!/usr/bin/env python3
"""wacket find beside plocate on the same generated tree.

    python3 bench/find/bench.py [--files 1000000] [--remote-files 200000] [--base /tmp]

1. A tree of --files files (bench/find/gentree.py) under --base: `updatedb` (plocate) and
   `wacket find index local --root TREE` in turn, three times from nothing (no database, no
   catalog, no hash cache), then three times with nothing changed: medians.
2. Query latency, median of 7, for a rare substring, a common one and a glob: `plocate -i` and
   `wacket find` as whole processes (output to /dev/null; the `wacket` script next to this
   interpreter), and wacket's search alone, in-process (what the command spends once Python is
   up); the rare query again from a virtualenv install of this checkout (no site .pth files).
3. Catalog size per million entries beside plocate's database.
4. A tree of --remote-files files indexed over a loopback sshd (tests/sshbed.py) beside the
   local index of the same tree, in turn five times from nothing (no catalog, hash cache or
   cached helper on either side) and five times with nothing changed: medians.
5. A tree of --remote-files files of which half hold content (as in a real home directory, where
   most files are 4 KiB or more and so are hashed): updatedb and wacket in turn three times with
   nothing changed (after one run that fills wacket's hash cache): medians.
Everything generated is removed at the end. Needs: apt-get install plocate openssh-server.
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
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests"))

import gentree  # noqa: E402
import sshbed  # noqa: E402

QUERIES = [("rare substring", "zebra-quartz"), ("common substring", "doc"), ("glob", "*.pdf")]


def timed(argv, env=None, runs=1) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (user+sys of the process and its children)."""
    import resource

    times, cpus = [], []
    for _ in range(runs):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - t)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"{argv[:4]}... failed ({proc.returncode}): {proc.stderr.decode()}")
    return statistics.median(times), statistics.median(cpus)


def venv_query(work: Path, env: dict, pattern: str) -> tuple[float, float] | None:
    """Median `python -c pass` and rare query from a virtualenv install of wacket (pip install
    of this checkout): an interpreter without the .pth files of the running one's site-packages
    (on the shared VM, one imports certifi at every start-up). None if pip cannot install."""
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "pip"), "install", "-q", str(REPO)]
    done = subprocess.run(pip, capture_output=True)
    if done.returncode != 0:
        print(f"(no virtualenv figure: pip install failed: {done.stderr.decode()[-300:]})")
        return None
    bare = timed([str(venv / "bin" / "python"), "-c", "pass"], env, runs=7)[0]
    query = [str(venv / "bin" / "wacket"), "find", pattern, "--no-check", "--plain"]
    return bare, timed(query, env, runs=7)[0]


def alternate(a, b, env_b, *, env_a=None, runs=3, before=None):
    """`a` and `b` run in turn `runs` times (after `before()` each time): their medians."""
    ta, tb = [], []
    for _ in range(runs):
        if before is not None:
            before()
        ta.append(timed(a, env_a))
        tb.append(timed(b, env_b))
    return tuple(
        (statistics.median(t[0] for t in ts), statistics.median(t[1] for t in ts))
        for ts in (ta, tb)
    )


def count_lines(argv, env=None, sep=b"\n") -> int:
    out = subprocess.run(argv, env=env, capture_output=True).stdout
    return out.count(sep)


def du(*paths: Path) -> int:
    return sum(p.stat().st_size for p in paths if p.exists())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=1_000_000)
    ap.add_argument("--remote-files", type=int, default=200_000)
    ap.add_argument("--base", default="/tmp")
    args = ap.parse_args()
    if not shutil.which("updatedb") or not shutil.which("plocate"):
        raise SystemExit("plocate is not installed: apt-get install plocate")

    work = Path(tempfile.mkdtemp(prefix="wacket-find-bench-", dir=args.base))
    home = work / "home"
    env = sshbed.isolated_env(home)
    wacket = [sys.executable, "-m", "wacket"]
    # Bytecode as an installed wacket has it (pip compiles at install time): with
    # PYTHONDONTWRITEBYTECODE set, every query process would otherwise compile find's modules.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "src" / "wacket")])
    rows = []
    bed = None
    try:
        tree = work / "tree"
        t = time.perf_counter()
        made = gentree.generate(str(tree), args.files)
        print(f"generated {made} files in {time.perf_counter() - t:.1f}s under {tree}", flush=True)
        subprocess.run(["sync"])

        db = work / "plocate.db"
        updatedb = [
            "updatedb", "-U", str(tree), "-o", str(db), "-l", "0",
            "--prunefs", "", "--prunepaths", "", "--prunenames", "",
        ]  # fmt: skip
        idx = [*wacket, "-q", "find", "index", "local", "--root", str(tree)]

        def fresh() -> None:  # no plocate database, no catalog, no hash cache
            db.unlink(missing_ok=True)
            shutil.rmtree(home / "data", ignore_errors=True)

        up1, w1 = alternate(updatedb, idx, env, before=fresh)
        up2, w2 = alternate(updatedb, idx, env)
        rows.append(("index, first run", up1, w1))
        rows.append(("index, nothing changed", up2, w2))

        data = home / "data" / "find"
        catalog_bytes = du(data / "local.db", data / "local.names")
        entries = made + count_dirs(tree)
        print(f"\nentries: {entries}", flush=True)

        # Query latency, through the installed console script when there is one (as people run it).
        script = Path(sys.executable).with_name("wacket")
        command = [str(script)] if script.exists() else wacket
        import wacket.find.catalog as catalog
        import wacket.find.query as query

        os.environ["WACKET_DATA"] = env["WACKET_DATA"]
        qrows = []
        for label, pattern in QUERIES:
            pl = timed(["plocate", "-i", "-d", str(db), pattern], runs=7)[0]
            wq = timed([*command, "find", pattern, "--no-check", "--plain"], env, runs=7)[0]
            inproc = []
            hits = 0
            for _ in range(7):
                t = time.perf_counter()
                cats = catalog.open_catalogs(["local"])
                hits = sum(1 for _ in query.search(query.Query(pattern), cats))
                inproc.append(time.perf_counter() - t)
                for c in cats:
                    c.close()
            n_pl = count_lines(["plocate", "-i", "-0", "-d", str(db), pattern], sep=b"\0")
            qrows.append((label, pattern, n_pl, hits, pl, wq, statistics.median(inproc)))

        in_venv = venv_query(work, env, QUERIES[0][1])

        # Remote: the same kind of tree, smaller, over a loopback sshd.
        rtree = work / "rtree"
        gentree.generate(str(rtree), args.remote_files, seed=11)
        bed = sshbed.TestBed(work / "sshbed", n=1).start()
        bed.write_fleet(home, Path(env["WACKET_CONFIG"]))
        ridx_local = [*wacket, "-q", "find", "index", "local", "--root", str(rtree)]
        ridx_remote = [*wacket, "-q", "find", "index", "h1", "--root", str(rtree)]
        remote_home = bed.hosts[0].home

        def first_time() -> None:  # neither host has a catalog, a hash cache or the helper
            for p in (home / "data" / "find").glob("*"):
                if p.name.startswith(("local.", "h1.")):
                    p.unlink()
            for d in (
                home / "data" / "scan-cache",
                home / ".cache" / "wacket",
                remote_home / ".local" / "share" / "wacket",
                remote_home / ".cache" / "wacket",
            ):
                shutil.rmtree(d, ignore_errors=True)  # fmt: skip

        (rl1, _), (rr1, _) = alternate(
            ridx_local, ridx_remote, env, env_a=env, runs=5, before=first_time
        )
        (rl2, _), (rr2, _) = alternate(ridx_local, ridx_remote, env, env_a=env, runs=5)

        # Half the files hashed: the hash cache's share of a re-index.
        htree = work / "htree"
        gentree.generate(str(htree), args.remote_files, seed=13, hashed_every=2)
        subprocess.run(["sync"])
        hdb = work / "plocate-h.db"
        h_updatedb = [*updatedb[:2], str(htree), "-o", str(hdb), *updatedb[5:]]
        h_idx = [*wacket, "-q", "find", "index", "local", "--root", str(htree)]
        timed(h_idx, env)  # fills the hash cache
        hup, hwk = alternate(h_updatedb, h_idx, env)
        startup = timed([*wacket, "--version"], env, runs=7)[0]
        bare = timed([sys.executable, "-c", "pass"], env, runs=7)[0]

        print(f"\n## Index: {entries} entries ({made} files), local tree")
        print(f"{'':24}{'updatedb':>10}{'wacket':>10}{'ratio':>8}   CPU: updatedb  wacket  ratio")
        for label, (a, ac), (b, bc) in rows:
            print(f"{label:24}{a:9.2f}s{b:9.2f}s{b / a:7.2f}x{ac:14.2f}s{bc:7.2f}s{bc / ac:6.2f}x")
        print("\n## Query (median of 7; plocate -i vs wacket find; whole processes)")
        print(
            f"{'':18}{'pattern':>14}{'hits pl':>9}{'hits wk':>9}{'plocate':>10}{'wacket':>10}"
            f"{'ratio':>8}{'wk search':>11}"
        )
        for label, pattern, n_pl, hits, pl, wq, ip in qrows:
            print(
                f"{label:18}{pattern:>14}{n_pl:9d}{hits:9d}{pl * 1000:8.1f}ms{wq * 1000:8.1f}ms"
                f"{wq / pl:7.1f}x{ip * 1000:9.1f}ms"
            )
        print(
            f"(start-up alone: `python -c pass` {bare * 1000:.0f} ms, this interpreter with its site"
            f" and .pth files; `wacket --version`, which loads click, {startup * 1000:.0f} ms)"
        )
        if in_venv:
            print(
                f"From a virtualenv install: rare substring {in_venv[1] * 1000:.1f} ms"
                f" (its `python -c pass` {in_venv[0] * 1000:.0f} ms)"
            )
        per_m = catalog_bytes * 1_000_000 / entries / 2**20
        pl_m = du(db) * 1_000_000 / entries / 2**20
        print("\n## Catalog size per million entries")
        print(
            f"wacket {per_m:.1f} MiB (db + names)   plocate {pl_m:.1f} MiB   ratio {per_m / pl_m:.1f}x"
        )
        print(f"\n## Remote index: {args.remote_files} files over loopback sshd vs local")
        print(f"first run:       local {rl1:.2f}s  remote {rr1:.2f}s  ratio {rr1 / rl1:.2f}x")
        print(f"nothing changed: local {rl2:.2f}s  remote {rr2:.2f}s  ratio {rr2 / rl2:.2f}x")
        print(f"\n## Index, nothing changed: {args.remote_files} files, half of them hashed")
        print(f"updatedb {hup[0]:.2f}s  wacket {hwk[0]:.2f}s  ratio {hwk[0] / hup[0]:.2f}x")
    finally:
        if bed is not None:
            bed.stop()
        shutil.rmtree(work, ignore_errors=True)
        print(f"\nremoved {work}")


def count_dirs(tree: Path) -> int:
    return sum(len(d) for _, d, _ in os.walk(tree))


if __name__ == "__main__":
    main()
