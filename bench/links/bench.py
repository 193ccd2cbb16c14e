#!/usr/bin/env python3
"""wacket links: full merge, re-merge with 1% new visits, and search latency; beside `buku --ai`.

    python3 bench/links/bench.py [--visits 300000] [--urls 100000] [--dir /dev/shm]

Generates three profiles with the real schemas of tests/browserdb.py, in the standard places of a
home directory: Firefox (~/.mozilla/firefox, with profiles.ini), Chromium (~/.config/chromium/Default)
and Chrome (~/.config/google-chrome/Default). Each has VISITS visits over URLS URLs; the URLs overlap
(a third of each profile's URLs are also in the next profile), a page's title is drawn from a
vocabulary once (the same page has the same title in every browser; bookmark titles differ),
and each profile has URLS/20 bookmarks in nested folders (Firefox with tags).

Measured (whole `wacket` processes unless said):
- full merge: `wacket links merge --discover local` into an empty master database;
- re-merge after 1% new visits in every profile (a tenth of them to new URLs);
- re-merge with no change;
- search: `Master.search()` in-process (median of 50 per query) and `wacket links search` whole
  process (median of 5);
- the peer: `buku --ai` (imports the bookmarks of Firefox, Chromium and Chrome from the same home;
  bookmarks only, no history) into an empty buku database.

Targets (issue 6): full merge < 15 s, re-merge < 2 s, search < 30 ms median.
Everything generated is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sqlite3
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

import browserdb  # noqa: E402

WORDS = [
    "rust",
    "python",
    "linux",
    "kernel",
    "debian",
    "release",
    "notes",
    "guide",
    "tutorial",
    "async",
    "await",
    "tokio",
    "cargo",
    "crate",
    "docs",
    "api",
    "reference",
    "blog",
    "news",
    "video",
    "recipe",
    "travel",
    "weather",
    "map",
    "photo",
    "music",
    "jazz",
    "garden",
    "bike",
    "train",
    "ticket",
    "bank",
    "invoice",
    "school",
    "library",
    "museum",
    "science",
    "space",
    "nasa",
    "physics",
    "chemistry",
    "math",
    "history",
    "war",
    "peace",
    "film",
    "review",
    "book",
    "novel",
    "poem",
    "art",
    "design",
    "font",
    "color",
    "css",
    "html",
    "javascript",
    "sqlite",
    "postgres",
    "mysql",
    "redis",
    "backup",
    "sync",
    "ssh",
    "git",
    "github",
    "gitlab",
    "issue",
    "pull",
    "request",
    "wiki",
]
DAY_US = 86_400_000_000


def title_of(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6))).capitalize()


def page_title(i: int) -> str:
    """A page's <title>: the same in every browser that visited it (as on the real web)."""
    return title_of(random.Random(i))


def url_of(i: int) -> str:
    return f"https://site{i % 7919}.example/{WORDS[i % len(WORDS)]}/page-{i}.html"


def make_firefox(path: Path, ids: list[int], visits: int, rng: random.Random, now: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA page_size=32768")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(browserdb.FIREFOX_SCHEMA)
    conn.execute(f"PRAGMA user_version={browserdb.FIREFOX_PLACES_SCHEMA_VERSION}")
    conn.execute("BEGIN")
    places = []
    for n, i in enumerate(ids, 1):
        url = url_of(i)
        host = url.split("/")[2]
        places.append(
            (n, url, page_title(i), host[::-1] + ".", f"g{n:010d}", browserdb.firefox_url_hash(url))
        )
    conn.executemany(
        "INSERT INTO moz_places (id, url, title, rev_host, guid, url_hash, frecency) VALUES (?,?,?,?,?,?,100)",
        places,
    )
    rows = []
    for _ in range(visits):
        pid = rng.randint(1, len(ids))
        rows.append((pid, now - rng.randint(0, 730 * DAY_US), rng.choice((1, 1, 1, 2, 5, 9))))
    rows.sort(key=lambda r: r[1])
    conn.executemany(
        "INSERT INTO moz_historyvisits (from_visit, place_id, visit_date, visit_type, session, source)"
        " VALUES (0,?,?,?,0,0)",
        rows,
    )
    conn.execute(
        "UPDATE moz_places SET visit_count = (SELECT count(*) FROM moz_historyvisits v WHERE"
        " v.place_id = moz_places.id), last_visit_date = (SELECT max(visit_date) FROM"
        " moz_historyvisits v WHERE v.place_id = moz_places.id)"
    )
    roots = [(1, 0, "", "root________"), (2, 1, "menu", "menu________"), (3, 1, "toolbar", "toolbar_____"),
             (4, 1, "tags", "tags________"), (5, 1, "unfiled", "unfiled_____"), (6, 1, "mobile", "mobile______")]  # fmt: skip
    conn.executemany(
        "INSERT INTO moz_bookmarks (id, type, parent, position, title, guid) VALUES (?,2,?,0,?,?)",
        roots,
    )
    next_id = 7
    folders = []
    for f in range(20):
        conn.execute(
            "INSERT INTO moz_bookmarks (id, type, parent, position, title, guid) VALUES (?,2,?,?,?,?)",
            (next_id, 3 if f % 2 else 2, f, f"Folder {WORDS[f]}", f"f{next_id:011d}"),
        )
        folders.append(next_id)
        next_id += 1
    tags = {}
    for n in range(len(ids) // 20):
        pid = rng.randint(1, len(ids))
        conn.execute(
            "INSERT INTO moz_bookmarks (id, type, fk, parent, position, title, dateAdded, guid)"
            " VALUES (?,1,?,?,?,?,?,?)",
            (next_id, pid, rng.choice(folders), n, title_of(rng), now, f"b{next_id:011d}"),
        )
        next_id += 1
        tag = rng.choice(WORDS[:10])
        if tag not in tags:
            conn.execute(
                "INSERT INTO moz_bookmarks (id, type, parent, position, title, guid) VALUES (?,2,4,0,?,?)",
                (next_id, tag, f"t{next_id:011d}"),
            )
            tags[tag] = next_id
            next_id += 1
        conn.execute(
            "INSERT INTO moz_bookmarks (id, type, fk, parent, position, guid) VALUES (?,1,?,?,0,?)",
            (next_id, pid, tags[tag], f"b{next_id:011d}"),
        )
        next_id += 1
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def make_chromium(profile: Path, ids: list[int], visits: int, rng: random.Random, now: int) -> None:
    profile.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(profile / "History", isolation_level=None)
    conn.executescript(browserdb.CHROMIUM_SCHEMA)
    conn.executemany(
        "INSERT INTO meta VALUES (?,?)", [("version", "70"), ("last_compatible_version", "16")]
    )
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO urls (id, url, title, visit_count, typed_count, last_visit_time, hidden)"
        " VALUES (?,?,?,0,0,0,0)",
        [(n, url_of(i), page_title(i)) for n, i in enumerate(ids, 1)],
    )
    rows = []
    for _ in range(visits):
        uid = rng.randint(1, len(ids))
        t = now - rng.randint(0, 730 * DAY_US) + browserdb.WEBKIT_EPOCH_DELTA_US
        rows.append((uid, t, rng.choice((0, 0, 0, 1, 8)) | 0x30000000))
    rows.sort(key=lambda r: r[1])
    conn.executemany(
        "INSERT INTO visits (url, visit_time, from_visit, transition, segment_id, visit_duration)"
        " VALUES (?,?,0,?,0,0)",
        rows,
    )
    conn.execute(
        "UPDATE urls SET visit_count = (SELECT count(*) FROM visits v WHERE v.url = urls.id),"
        " last_visit_time = coalesce((SELECT max(visit_time) FROM visits v WHERE v.url = urls.id), 0)"
    )
    conn.execute("COMMIT")
    conn.close()
    folders = [
        {"type": "folder", "name": f"Folder {WORDS[f]}", "id": str(100 + f), "children": []}
        for f in range(20)
    ]
    for n in range(len(ids) // 20):
        i = rng.choice(ids)
        rng.choice(folders)["children"].append(
            {"type": "url", "name": title_of(rng), "url": url_of(i), "id": str(1000 + n),
             "date_added": str(now + browserdb.WEBKIT_EPOCH_DELTA_US)}
        )  # fmt: skip
    data = {"roots": {"bookmark_bar": {"type": "folder", "name": "Bookmarks bar", "id": "1", "children": folders[:10]},
                      "other": {"type": "folder", "name": "Other bookmarks", "id": "2", "children": folders[10:]},
                      "synced": {"type": "folder", "name": "Mobile bookmarks", "id": "3", "children": []}},
            "version": 1}  # fmt: skip
    (profile / "Bookmarks").write_text(json.dumps(data))


def add_new_visits(home: Path, share: float, rng: random.Random, now: int) -> int:
    """1% more visits in every profile; a tenth of them to URLs the profile never saw."""
    added = 0
    ff = next((home / ".mozilla/firefox").glob("*/places.sqlite"))
    conn = sqlite3.connect(ff, isolation_level=None)
    n_places = conn.execute("SELECT max(id) FROM moz_places").fetchone()[0]
    n = int(conn.execute("SELECT count(*) FROM moz_historyvisits").fetchone()[0] * share)
    conn.execute("BEGIN")
    for k in range(n):
        if k % 10 == 0:
            url = f"https://new{k}.example/fresh-{rng.random()}"
            pid = conn.execute(
                "INSERT INTO moz_places (url, title, rev_host, guid, url_hash) VALUES (?,?,?,?,?)",
                (url, title_of(rng), "elpmaxe.", f"n{k:010d}x", browserdb.firefox_url_hash(url)),
            ).lastrowid
        else:
            pid = rng.randint(1, n_places)
        conn.execute(
            "INSERT INTO moz_historyvisits (from_visit, place_id, visit_date, visit_type, session, source)"
            " VALUES (0,?,?,1,0,0)",
            (pid, now + k),
        )
    conn.execute("COMMIT")
    conn.close()
    added += n
    for sub in (".config/chromium/Default", ".config/google-chrome/Default"):
        conn = sqlite3.connect(home / sub / "History", isolation_level=None)
        n_urls = conn.execute("SELECT max(id) FROM urls").fetchone()[0]
        n = int(conn.execute("SELECT count(*) FROM visits").fetchone()[0] * share)
        conn.execute("BEGIN")
        for k in range(n):
            if k % 10 == 0:
                uid = conn.execute(
                    "INSERT INTO urls (url, title, last_visit_time) VALUES (?,?,0)",
                    (f"https://new{k}.example/c-{rng.random()}", title_of(rng)),
                ).lastrowid
            else:
                uid = rng.randint(1, n_urls)
            conn.execute(
                "INSERT INTO visits (url, visit_time, transition, visit_duration) VALUES (?,?,?,0)",
                (uid, now + k + browserdb.WEBKIT_EPOCH_DELTA_US, 0x30000000),
            )
        conn.execute("COMMIT")
        conn.close()
        added += n
    return added


CPU = {"last": 0.0}


def timed(argv, env, stdin=None) -> tuple[float, subprocess.CompletedProcess]:
    """Wall time; the child's CPU time (user + sys) is left in CPU["last"]."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, input=stdin)
    took = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU["last"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    return took, proc


def load() -> str:
    return "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--visits", type=int, default=300_000)
    ap.add_argument("--urls", type=int, default=100_000)
    ap.add_argument(
        "--dir", default="/tmp", help="where to generate (use /dev/shm for steadier CPU figures)"
    )
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    rng = random.Random(6)
    now = int(time.time() * 1e6)
    base = Path(tempfile.mkdtemp(prefix="wacket-links-bench-", dir=args.dir))
    home = base / "home"
    env = dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / ".local/share"),
               XDG_CONFIG_HOME=str(home / ".config"), WACKET_DATA=str(base / "data"),
               WACKET_CONFIG=str(base / "config.toml"))  # fmt: skip
    wacket = [sys.executable, "-m", "wacket"]
    try:
        t = time.perf_counter()
        u = args.urls
        pools = [
            list(range(0, u)),
            list(range(2 * u // 3, 2 * u // 3 + u)),
            list(range(4 * u // 3, 4 * u // 3 + u)),
        ]
        ffdir = home / ".mozilla/firefox/bench.default-release"
        ffdir.mkdir(parents=True)
        (home / ".mozilla/firefox/profiles.ini").write_text(
            "[Profile0]\nName=default-release\nIsRelative=1\nPath=bench.default-release\nDefault=1\n"
        )
        make_firefox(ffdir / "places.sqlite", pools[0], args.visits, rng, now)
        make_chromium(home / ".config/chromium/Default", pools[1], args.visits, rng, now)
        make_chromium(home / ".config/google-chrome/Default", pools[2], args.visits, rng, now)
        size = sum(f.stat().st_size for f in home.rglob("*") if f.is_file())
        print(f"generated 3 profiles, {3 * args.visits:,} visits over {3 * u:,} URLs "
              f"({len(set().union(*map(set, pools))):,} distinct), {size / 2**20:.0f} MiB in "
              f"{time.perf_counter() - t:.1f} s")  # fmt: skip

        full, proc = timed([*wacket, "links", "merge", "--discover", "local", "--jsonl"], env)
        recs = [json.loads(line) for line in proc.stdout.decode().splitlines()]
        visits = sum(r["new_visits"] for r in recs)
        print(f"full merge: {full:.2f} s (CPU {CPU['last']:.2f} s; {len(recs)} sources, {visits:,} visits, "
              f"{sum(r['new_links'] for r in recs):,} links)   target < 15 s   [{load()}]")  # fmt: skip

        added = add_new_visits(home, 0.01, rng, now)
        remerge, proc = timed([*wacket, "links", "merge", "--discover", "local", "--jsonl"], env)
        recs = [json.loads(line) for line in proc.stdout.decode().splitlines()]
        got = sum(r["new_visits"] for r in recs)
        assert got == added, (got, added)
        print(f"re-merge, 1% new visits: {remerge:.2f} s (CPU {CPU['last']:.2f} s; {got:,} new visits)"
              f"   target < 2 s   [{load()}]")  # fmt: skip
        same, proc = timed([*wacket, "links", "merge", "--discover", "local", "--jsonl"], env)
        assert sum(json.loads(x)["new_visits"] for x in proc.stdout.decode().splitlines()) == 0
        print(f"re-merge, no change: {same:.2f} s (CPU {CPU['last']:.2f} s)")

        from wacket.links.master import Master

        with Master(base / "data" / "links.sqlite") as m:
            for terms in (["rust"], ["rust", "tokio"], ["site42"], ["page-12345"]):
                times, cpu = [], []
                for _ in range(50):
                    t, c = time.perf_counter(), time.process_time()
                    rows = m.search(terms)
                    times.append(time.perf_counter() - t)
                    cpu.append(time.process_time() - c)
                hits = m.conn.execute(
                    "SELECT count(*) FROM links_fts WHERE links_fts MATCH ?",
                    (" AND ".join(f'"{x}"*' for x in terms),),
                ).fetchone()[0]
                print(f"search {' '.join(terms)!r}: median {statistics.median(times) * 1000:.1f} ms "
                      f"in-process (CPU {statistics.median(cpu) * 1000:.1f} ms; {hits:,} matches, "
                      f"top {len(rows)})   target < 30 ms")  # fmt: skip
        whole = statistics.median(
            timed([*wacket, "links", "search", "rust", "--plain"], env)[0] for _ in range(5)
        )
        print(f"search 'rust', whole `wacket links search` process: median {whole * 1000:.0f} ms")
        db = base / "data" / "links.sqlite"
        print(f"master database: {db.stat().st_size / 2**20:.0f} MiB")

        if shutil.which("buku"):
            benv = dict(env, XDG_DATA_HOME=str(base / "buku"))
            buku, proc = timed(["buku", "--nostdin", "--tacit", "--ai"], benv)
            buku_cpu = CPU["last"]
            bdb = base / "buku/buku/bookmarks.db"
            n = (
                sqlite3.connect(bdb).execute("SELECT count(*) FROM bookmarks").fetchone()[0]
                if bdb.exists()
                else 0
            )
            print(f"peer: buku --ai (bookmarks only): {buku:.2f} s (CPU {buku_cpu:.2f} s), {n:,} bookmarks"
                  f" imported   [{load()}]")  # fmt: skip
            t2, _ = timed([*wacket, "links", "merge", "--into", str(base / "bm.sqlite"),
                           str(home / ".config/chromium/Default/Bookmarks"),
                           str(home / ".config/google-chrome/Default/Bookmarks")], env)  # fmt: skip
            print(f"wacket, the two Chromium Bookmarks files alone (no history): {t2:.2f} s"
                  f" (CPU {CPU['last']:.2f} s)")  # fmt: skip
            print(f"ratio buku --ai / wacket full merge (history + bookmarks): {buku / full:.2f}")
        else:
            print("peer: buku not installed (apt-get install buku)")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
