"""wacket links: merging real-schema Firefox/Chromium databases, bookmark files, search, export.

The databases come from tests/browserdb.py (schemas of Firefox 153 ESR and Chromium 156, see there).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from browserdb import DAY_US, ChromiumProfile, FirefoxProfile, netscape_html, now_us

from wacket.links.master import Master


def master_db(home: Path) -> Path:
    return Path(os.environ["WACKET_DATA"]) / "links.sqlite"


def jsonl(stdout: bytes) -> list[dict]:
    return [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]


def ok(res) -> subprocess.CompletedProcess:
    assert res.returncode == 0, res.stderr.decode()
    return res


@pytest.fixture
def firefox(tmp_path):
    prof = (
        FirefoxProfile(tmp_path / "ff" / "abcd.default-release" / "places.sqlite")
        if False
        else None
    )
    d = tmp_path / "firefox" / "abcd.default-release"
    d.mkdir(parents=True)
    prof = FirefoxProfile(d / "places.sqlite")
    t = now_us()
    prof.visit("https://www.rust-lang.org/", "Rust Programming Language", t - 2 * DAY_US, 2)
    prof.visit("https://www.rust-lang.org/", None, t - DAY_US, 1)
    prof.visit("https://docs.python.org/3/", "Python docs", t - 40 * DAY_US, 1)
    prof.visit("https://ads.example/frame", "ad", t, 4)  # EMBED: skipped
    dev = prof.folder("Dev")
    prof.bookmark("https://www.rust-lang.org/", "Rust", dev, tags=["lang", "systems"])
    prof.bookmark("https://crates.io/", "crates.io", "menu________")
    yield prof
    prof.close()


@pytest.fixture
def chromium(tmp_path):
    prof = ChromiumProfile(tmp_path / "chromium" / "Default")
    t = now_us()
    prof.visit("https://www.rust-lang.org/", "Rust Programming Language", t - 3 * DAY_US, core=1)
    prof.visit("https://news.example/item?id=1", "News", t - 5 * DAY_US)
    prof.visit("https://frame.example/ad", "frame", t, core=3)  # AUTO_SUBFRAME: skipped
    prof.bookmark("https://www.rust-lang.org/", "Rust home", ["Dev"])
    yield prof
    prof.close()


def test_merge_firefox_history_and_bookmarks(firefox, run_wacket, isolated_env):
    res = ok(run_wacket("links", "merge", str(firefox.path), "--jsonl"))
    [rec] = jsonl(res.stdout)
    assert rec["kind"] == "firefox" and rec["browser"] == "firefox"
    assert rec["profile"] == "abcd.default-release"
    assert rec["new_visits"] == 3  # the EMBED visit is skipped
    assert rec["bookmarks"] == 2
    db = master_db(isolated_env)
    assert (db.stat().st_mode & 0o777) == 0o600
    with Master(db) as m:
        [rust] = m.search(["rust"])
        assert rust["url"] == "https://www.rust-lang.org/"
        assert rust["visit_count"] == 2
        assert rust["title"] == "Rust Programming Language"
        [p] = m.placements([rust["id"]])
        assert p["folder"] == "Bookmarks Toolbar/Dev"
        assert p["tags"] == "lang,systems"
        assert m.search(["ads"]) == []
        crates = m.search(["crates"])[0]
        assert crates["visit_count"] == 0 and crates["bookmarks"] == 1
    log = ok(run_wacket("log", "--jsonl"))
    assert any(r["command"] == "links merge" for r in jsonl(log.stdout))


def test_merge_twice_adds_nothing_newer_copy_adds_only_new(firefox, run_wacket, isolated_env):
    ok(run_wacket("links", "merge", str(firefox.path)))
    db = master_db(isolated_env)

    def snapshot():
        c = sqlite3.connect(db)
        try:
            return (
                c.execute("SELECT count(*) FROM visits").fetchone()[0],
                c.execute(
                    "SELECT url, title, visit_count, first_visit, last_visit FROM links ORDER BY url"
                ).fetchall(),
                c.execute("SELECT * FROM placements ORDER BY link_id").fetchall(),
            )
        finally:
            c.close()

    first = snapshot()
    res = ok(run_wacket("links", "merge", str(firefox.path), "--jsonl"))
    assert jsonl(res.stdout)[0]["new_visits"] == 0
    assert snapshot() == first
    # --full reads everything again: still nothing new.
    res = ok(run_wacket("links", "merge", "--full", str(firefox.path), "--jsonl"))
    assert jsonl(res.stdout)[0]["new_visits"] == 0
    assert snapshot() == first
    # The browser goes on: two new visits.
    firefox.visit("https://www.rust-lang.org/learn", "Learn Rust", now_us(), 1)
    firefox.visit("https://www.rust-lang.org/", None, now_us(), 2)
    res = ok(run_wacket("links", "merge", str(firefox.path), "--jsonl"))
    assert jsonl(res.stdout)[0]["new_visits"] == 2
    after = snapshot()
    assert after[0] == first[0] + 2
    with Master(db) as m:
        assert m.search(["rust-lang.org/"], limit=1)[0]["visit_count"] == 3


def test_reset_profile_at_same_path_is_read_again(tmp_path, run_wacket, isolated_env):
    path = tmp_path / "p" / "places.sqlite"
    path.parent.mkdir()
    prof = FirefoxProfile(path)
    for i in range(5):
        prof.visit(f"https://old.example/{i}", f"old {i}", now_us() - i)
    prof.close()
    ok(run_wacket("links", "merge", str(path)))
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    prof = FirefoxProfile(path)
    prof.visit("https://new.example/", "new", now_us())
    prof.close()
    res = ok(run_wacket("links", "merge", str(path), "--jsonl"))
    assert jsonl(res.stdout)[0]["new_visits"] == 1  # ids went backwards: read in full


def test_title_written_after_the_merge_that_took_its_visit(tmp_path, run_wacket, isolated_env):
    """Browsers store a page's title after its visit; a merge in between must not lose it."""
    (tmp_path / "ff").mkdir()
    ff = FirefoxProfile(tmp_path / "ff" / "places.sqlite")
    cr = ChromiumProfile(tmp_path / "cr" / "Default")
    t = now_us()
    ff.visit("https://old.example/", None, t - 2 * DAY_US, 1)
    ff.visit("https://ff.example/page", None, t, 1)
    cr.visit("https://cr.example/page", "", t, core=1)
    for p in (ff.path, cr.dir):
        [rec] = jsonl(ok(run_wacket("links", "merge", str(p), "--jsonl")).stdout)
        assert rec["new_visits"] >= 1
    assert jsonl(ok(run_wacket("links", "search", "quarterly", "--jsonl")).stdout) == []
    # The titles arrive, with no new visit; so does a new title of a page visited days earlier.
    ff.place("https://ff.example/page", "Quarterly report FF")
    ff.place("https://old.example/", "Quarterly old")
    cr.url_id("https://cr.example/page", "Quarterly report CR")
    for p in (ff.path, cr.dir):
        [rec] = jsonl(ok(run_wacket("links", "merge", str(p), "--jsonl")).stdout)
        assert rec["new_visits"] == 0 and rec["new_links"] == 0
    hits = jsonl(ok(run_wacket("links", "search", "quarterly", "--jsonl")).stdout)
    assert sorted((h["url"], h["title"], h["visits"]) for h in hits) == [
        ("https://cr.example/page", "Quarterly report CR", 1),
        ("https://ff.example/page", "Quarterly report FF", 1),
    ]  # the page last visited two days before the merge keeps its title until visited again
    ff.close()
    cr.close()


def test_merge_chromium_profile_dir(chromium, firefox, run_wacket, isolated_env):
    res = ok(run_wacket("links", "merge", str(chromium.dir), str(firefox.path), "--jsonl"))
    recs = {r["kind"]: r for r in jsonl(res.stdout)}
    assert set(recs) == {"chromium", "chromium-bookmarks", "firefox"}
    assert recs["chromium"]["new_visits"] == 2  # the subframe is skipped
    assert recs["chromium"]["profile"] == "Default"
    assert recs["chromium-bookmarks"]["bookmarks"] == 1
    with Master(master_db(isolated_env)) as m:
        [rust] = m.search(["rust"])
        assert rust["visit_count"] == 3  # 2 Firefox + 1 Chromium visits, one link
        visits = m.visits(rust["id"])
        assert {v["browser"] for v in visits} == {"firefox", "chromium"}
        chromium_visit = next(v for v in visits if v["browser"] == "chromium")
        # WebKit epoch converted: three days ago, within a minute.
        assert abs(chromium_visit["time"] - (now_us() - 3 * DAY_US)) < 60_000_000
        assert chromium_visit["kind"] == "typed"
        folders = sorted(p["folder"] for p in m.placements([rust["id"]]))
        assert folders == ["Bookmarks Toolbar/Dev", "Bookmarks bar/Dev"]


def test_same_bookmark_in_three_browsers_is_one_link(
    firefox, chromium, tmp_path, run_wacket, isolated_env
):
    html = netscape_html(
        tmp_path / "export.html",
        [("https://WWW.rust-lang.org:443/#top", "Rust (exported)", "Dev", ["x"])],
    )
    ok(run_wacket("links", "merge", str(firefox.path), str(chromium.dir), str(html)))
    with Master(master_db(isolated_env)) as m:
        [rust] = m.search(["rust"])
        assert rust["bookmarks"] == 3
        placements = m.placements([rust["id"]])
        assert {p["browser"] for p in placements} == {"firefox", "chromium", "html"}
    res = ok(run_wacket("links", "search", "--bookmarked", "--jsonl"))
    urls = [r["url"] for r in jsonl(res.stdout)]
    assert urls.count("https://www.rust-lang.org/") == 1
    [r] = [r for r in jsonl(res.stdout) if r["url"] == "https://www.rust-lang.org/"]
    assert r["folders"] == ["Bookmarks Toolbar/Dev", "Bookmarks bar/Dev", "Dev"]
    assert r["tags"] == ["lang", "systems", "x"]


HOLDER = textwrap.dedent(
    """
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("PRAGMA locking_mode=EXCLUSIVE")  # as Firefox holds places.sqlite
    conn.execute("PRAGMA wal_autocheckpoint=0")
    t = int(time.time() * 1e6)
    pid = conn.execute(
        "INSERT INTO moz_places (url, title, rev_host, guid, url_hash) "
        "VALUES ('https://pending.example/', 'Pending in WAL', 'elpmaxe.gnidnep.', 'pendingguid1', 1)"
    ).lastrowid
    conn.execute(
        "INSERT INTO moz_historyvisits (place_id, visit_date, visit_type) VALUES (?, ?, 1)", (pid, t)
    )
    print("ready", flush=True)
    sys.stdin.read()
    """
)


def test_merge_db_held_open_with_pending_wal(firefox, run_wacket, isolated_env):
    firefox.close()  # the holder below is now "the browser"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(firefox.path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout.readline().strip() == b"ready"
        wal = Path(str(firefox.path) + "-wal")
        assert wal.stat().st_size > 0
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            c = sqlite3.connect(firefox.path, timeout=0.2)
            c.execute("SELECT count(*) FROM moz_places").fetchone()
        before = {p.name: p.stat().st_mtime_ns for p in firefox.path.parent.iterdir()}
        res = ok(run_wacket("links", "merge", str(firefox.path), "--jsonl"))
        assert jsonl(res.stdout)[0]["new_visits"] == 4
        after = {p.name: p.stat().st_mtime_ns for p in firefox.path.parent.iterdir()}
        assert before == after  # the browser's files were not touched
        res = ok(run_wacket("links", "search", "pending", "--jsonl"))
        assert [r["title"] for r in jsonl(res.stdout)] == ["Pending in WAL"]
    finally:
        proc.stdin.close()
        proc.wait(10)


def test_unicode_idn_javascript_data_long_urls_newline_titles(tmp_path, run_wacket, isolated_env):
    prof = FirefoxProfile(tmp_path / "places.sqlite")
    long_url = "https://long.example/" + "x" * 20000
    t = now_us()
    prof.visit("https://xn--bcher-kva.example/", "Bücher (old title)", t - 10)
    prof.visit("https://example.com/multi", "Line one\nline two\r\n\tthree", t - 10)
    prof.visit("https://example.com/stra%C3%9Fe", "Straße", t - 9)
    prof.visit("javascript:alert(1)", "js", t - 8)
    prof.visit("data:text/html,<h1>x</h1>", "data", t - 7)
    prof.visit(long_url, "long one", t - 6)
    prof.visit("https://日本.example/パス", "日本語のページ", t - 5)
    prof.bookmark("javascript:(function(){alert(1)})()", "Bookmarklet", "toolbar_____")
    prof.close()
    chrome = ChromiumProfile(tmp_path / "Default")
    chrome.visit("https://xn--bcher-kva.example/", "Bücher", t - 4)
    chrome.close()
    html = netscape_html(
        tmp_path / "b.html", [("https://BÜCHER.example", "raw unicode host", "", [])]
    )
    res = ok(
        run_wacket(
            "links",
            "merge",
            str(tmp_path / "places.sqlite"),
            str(tmp_path / "Default" / "History"),
            str(html),
            "--jsonl",
        )
    )
    recs = jsonl(res.stdout)
    assert recs[0]["skipped"] == 2  # javascript: and data: in history
    with Master(master_db(isolated_env)) as m:
        [b] = m.search(["xn--bcher"])
        assert b["visit_count"] == 2 and b["bookmarks"] == 1
        assert b["title"] == "Bücher"  # the newest title wins (Chromium's visit is later)
        assert m.search(["line", "two"])[0]["title"] == "Line one line two three"
        assert m.search(["long"])[0]["url"] == long_url
        assert (
            m.search(["日本語のページ"])[0]["url"]
            == "https://xn--wgv71a.example/%E3%83%91%E3%82%B9"
        )
        assert m.search(["strasse"]) == [] and m.search(["straße"])[0]["title"] == "Straße"
        [js] = m.search(["bookmarklet"])
        assert js["url"] == "javascript:(function(){alert(1)})()"
        assert m.search(["data"]) == []
    res = ok(run_wacket("links", "search", "line", "two", "--plain"))
    assert b"\n" not in res.stdout.rstrip(b"\n")


def test_bad_sources_fail_alone(firefox, tmp_path, run_wacket, isolated_env):
    good = firefox.path
    truncated = tmp_path / "trunc" / "places.sqlite"
    truncated.parent.mkdir()
    firefox.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = good.read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    corrupt = tmp_path / "corrupt" / "places.sqlite"
    corrupt.parent.mkdir()
    corrupt.write_bytes(data[:100] + os.urandom(len(data) - 100))
    notsqlite = tmp_path / "notes.txt"
    notsqlite.write_text("just some text\n")
    other_db = tmp_path / "other.sqlite"
    sqlite3.connect(other_db).execute("CREATE TABLE t (x)").connection.close()
    missing = tmp_path / "missing" / "places.sqlite"
    res = run_wacket(
        "links", "merge", str(truncated), str(corrupt), str(notsqlite), str(other_db), str(missing),
        str(good), "--jsonl",
    )  # fmt: skip
    assert res.returncode == 1, res.stderr.decode()
    err = res.stderr.decode()
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("wacket: links:")]
    assert len(lines) == 5, err
    assert any("not a browser database or bookmark file" in line for line in lines)
    assert any("not Firefox places.sqlite or Chromium History" in line for line in lines)
    assert any("no such file" in line for line in lines)
    assert any(str(truncated) in line for line in lines)
    assert any(str(corrupt) in line for line in lines)
    [rec] = jsonl(res.stdout)
    assert rec["path"] == str(good) and rec["new_visits"] == 3
    log = jsonl(ok(run_wacket("log", "--jsonl")).stdout)
    assert log[-1]["outcome"] == "partial" and log[-1]["exit_code"] == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="runs as root without the DAC capabilities")
def test_unreadable_file_fails_alone(firefox, tmp_path, run_wacket):
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="wacket-links-unreadable-"))
    try:
        os.chmod(base, 0o755)
        firefox.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        readable = base / "readable" / "places.sqlite"
        secret = base / "secret" / "places.sqlite"
        for p in (readable, secret):
            p.parent.mkdir()
            shutil.copyfile(firefox.path, p)
            os.chmod(p.parent, 0o755)
        os.chmod(readable, 0o644)
        os.chmod(secret, 0o000)
        home = base / "home"
        home.mkdir()
        env = {"HOME": str(home), "WACKET_DATA": str(home / "data"), "WACKET_CONFIG": str(home / "c.toml"),
               "XDG_CONFIG_HOME": str(home), "XDG_DATA_HOME": str(home), "XDG_CACHE_HOME": str(home),
               "XDG_STATE_HOME": str(home), "PATH": os.environ["PATH"],
               "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}  # fmt: skip
        # root without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH obeys file modes like anyone else.
        res = subprocess.run(
            ["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-m", "wacket",
             "links", "merge", str(secret), str(readable), "--jsonl"],
            env=env, capture_output=True, cwd=str(home), timeout=60,
        )  # fmt: skip
        assert res.returncode == 1, res.stderr.decode()
        assert f"{secret}: cannot read (permission denied)" in res.stderr.decode()
        [rec] = jsonl(res.stdout)
        assert rec["path"] == str(readable)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_jsonl_in_and_out(firefox, run_wacket, isolated_env, tmp_path):
    ok(run_wacket("links", "merge", str(firefox.path)))
    out = ok(run_wacket("links", "search", "rust", "--jsonl")).stdout
    other = tmp_path / "other.sqlite"
    res = ok(
        run_wacket(
            "links", "merge", "--into", str(other), "--name", "piped", "-", "--jsonl", input=out
        )
    )
    [rec] = jsonl(res.stdout)
    assert rec["kind"] == "jsonl" and rec["new_links"] == 1 and rec["new_visits"] == 1
    with Master(other) as m:
        [r] = m.search(["rust"])
        assert r["title"] == "Rust Programming Language" and r["bookmarks"] == 1
    # Again: nothing new.
    res = ok(
        run_wacket(
            "links", "merge", "--into", str(other), "--name", "piped", "-", "--jsonl", input=out
        )
    )
    assert jsonl(res.stdout)[0]["new_visits"] == 0
    bad = run_wacket("links", "merge", "-", input=b"not json\n")
    assert bad.returncode == 2 and b"stdin line 1" in bad.stderr


def test_search_filters_and_ranking(tmp_path, run_wacket, isolated_env):
    prof = FirefoxProfile(tmp_path / "places.sqlite")
    t = now_us()
    prof.visit("https://old.example/rust", "Rust old", t - 200 * DAY_US)
    for i in range(3):
        prof.visit("https://often.example/rust", "Rust often", t - i * DAY_US)
    prof.visit("https://recent.example/rust", "Rust recent", t - DAY_US)
    prof.visit("https://other.example/", "Python", t)
    prof.bookmark("https://marked.example/rust", "Rust marked", "toolbar_____")
    prof.close()
    ok(run_wacket("links", "merge", str(tmp_path / "places.sqlite")))
    titles = [
        r["title"] for r in jsonl(ok(run_wacket("links", "search", "rust", "--jsonl")).stdout)
    ]
    assert titles[:2] == ["Rust often", "Rust recent"] and titles[-1] in ("Rust old", "Rust marked")
    titles = [
        r["title"]
        for r in jsonl(
            ok(run_wacket("links", "search", "rust", "--since", "30d", "--jsonl")).stdout
        )
    ]
    assert set(titles) == {"Rust often", "Rust recent"}
    titles = [
        r["title"]
        for r in jsonl(ok(run_wacket("links", "search", "--bookmarked", "--jsonl")).stdout)
    ]
    assert titles == ["Rust marked"]
    assert (
        jsonl(ok(run_wacket("links", "search", "rust", "--host", "nowhere", "--jsonl")).stdout)
        == []
    )
    assert (
        len(jsonl(ok(run_wacket("links", "search", "rust", "--host", "local", "--jsonl")).stdout))
        == 4
    )
    # FTS syntax in terms is inert.
    ok(run_wacket("links", "search", 'a"b', "OR", "NEAR(", "--jsonl"))
    stats = jsonl(ok(run_wacket("links", "stats", "--jsonl")).stdout)[0]
    assert stats["links"] == 5 and stats["visits"] == 6 and stats["placements"] == 1


def test_export_formats_and_reimport(firefox, chromium, tmp_path, run_wacket, isolated_env):
    ok(run_wacket("links", "merge", str(firefox.path), str(chromium.dir)))
    out = tmp_path / "bookmarks.html"
    ok(run_wacket("links", "export", "--html", "-o", str(out)))
    assert (out.stat().st_mode & 0o777) == 0o600
    text = out.read_text()
    assert text.startswith("<!DOCTYPE NETSCAPE-Bookmark-file-1>")
    from wacket.links import netscape

    got = sorted((b.url, b.folder, tuple(b.tags)) for b in netscape.read(out))
    assert got == [
        ("https://crates.io/", "Bookmarks Menu", ()),
        ("https://www.rust-lang.org/", "Bookmarks Toolbar/Dev", ("lang", "systems")),
        ("https://www.rust-lang.org/", "Bookmarks bar/Dev", ()),
    ]
    csv_text = ok(run_wacket("links", "export", "--csv", "--bookmarked")).stdout.decode()
    assert csv_text.splitlines()[0].startswith("url,title,site,visits")
    assert len(csv_text.splitlines()) == 3
    data = json.loads(ok(run_wacket("links", "export", "--json")).stdout)
    assert {r["url"] for r in data} >= {
        "https://www.rust-lang.org/",
        "https://news.example/item?id=1",
    }
    other = tmp_path / "again.sqlite"
    ok(run_wacket("links", "merge", "--into", str(other), str(out)))
    with Master(other) as m:
        assert m.stats()["placements"] == 3


def test_sources_and_discover(tmp_path, run_wacket, isolated_env):
    home = isolated_env
    ff = home / "snap/firefox/common/.mozilla/firefox/x1.default"
    ff.mkdir(parents=True)
    FirefoxProfile(ff / "places.sqlite").visit("https://snap.example/", "snap firefox", now_us())
    brave = home / ".var/app/com.brave.Browser/config/BraveSoftware/Brave-Browser/Profile 1"
    prof = ChromiumProfile(brave)
    prof.visit("https://flatpak.example/", "flatpak brave", now_us())
    prof.bookmark("https://flatpak.example/", "brave mark")
    prof.close()
    res = ok(run_wacket("links", "sources", "--discover", "local", "--jsonl"))
    found = jsonl(res.stdout)
    assert {(r["browser"], r["outcome"]) for r in found} == {
        ("firefox", "found"),
        ("brave", "found"),
    }
    res = ok(run_wacket("links", "merge", "--discover", "local", "--jsonl"))
    recs = jsonl(res.stdout)
    assert sorted(r["kind"] for r in recs) == ["chromium", "chromium-bookmarks", "firefox"]
    assert {r["profile"] for r in recs} == {"x1.default", "Profile 1"}
    res = ok(run_wacket("links", "sources", "--jsonl"))
    rows = jsonl(res.stdout)
    assert len(rows) == 3 and all(
        r["outcome"] == "ok" and r["last_merged"] != "never" for r in rows
    )


def test_dead_links_on_loopback(tmp_path, run_wacket, isolated_env):
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):
            if self.path == "/nohead":
                self.send_response(405)
            else:
                self.send_response(200 if self.path in ("/alive", "/nohead") else 404)
            self.end_headers()

        def do_GET(self):
            self.send_response(200 if self.path == "/nohead" else 404)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{srv.server_port}"
        from socket import socket

        s = socket()
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # bound, not listening: refused
        html = netscape_html(
            tmp_path / "b.html",
            [(f"{base}/alive", "alive", "", []), (f"{base}/gone", "gone", "", []),
             (f"{base}/nohead", "nohead", "", []), (f"http://127.0.0.1:{closed}/", "refused", "", [])],
        )  # fmt: skip
        ok(run_wacket("links", "merge", str(html)))
        dead = jsonl(ok(run_wacket("links", "dead", "--timeout", "5", "--jsonl")).stdout)
        assert {r["url"].rsplit("/", 1)[-1] or "refused": r["status"] for r in dead} == {
            "gone": 404,
            "refused": None,
        }
        s.close()
    finally:
        srv.shutdown()


def test_concurrent_merge_is_refused(firefox, run_wacket):
    from wacket.lock import job_lock

    with job_lock("links-merge"):
        res = run_wacket("links", "merge", str(firefox.path))
    assert res.returncode == 4 and b"another wacket run holds the lock" in res.stderr


def test_remote_sources_over_ssh(fleet, tmp_path, run_wacket, isolated_env):
    h1, h2 = fleet.hosts[0], fleet.hosts[1]
    d = h1.home / ".mozilla/firefox/r1.default-release"
    d.mkdir(parents=True, exist_ok=True)
    prof = FirefoxProfile(
        d / "places.sqlite"
    )  # stays open: rows in the WAL, as with a running browser
    prof.visit("https://remote-one.example/", "Remote one", now_us())
    prof.bookmark("https://remote-one.example/", "Remote one", "toolbar_____")
    c = ChromiumProfile(h2.home / "chrome-copy" / "Default")
    c.visit("https://remote-two.example/", "Remote two", now_us())
    c.close()
    try:
        res = run_wacket(
            "links", "merge", "h1:~/.mozilla/firefox", f"h2:{h2.home}/chrome-copy", "h3:/nonexistent/places.sqlite",
            "--jsonl",
        )  # fmt: skip
        assert res.returncode == 1, res.stderr.decode()
        assert "h3:/nonexistent/places.sqlite" in res.stderr.decode()
        recs = jsonl(res.stdout)
        assert {(r["host"], r["kind"]) for r in recs} == {("h1", "firefox"), ("h2", "chromium")}
        assert all(r["new_visits"] == 1 for r in recs)
        res = ok(run_wacket("links", "search", "remote", "--host", "h1", "--jsonl"))
        assert [r["title"] for r in jsonl(res.stdout)] == ["Remote one"]
        # Again, with one more visit on h1: only that one is new.
        prof.visit("https://remote-one.example/", None, now_us())
        res = ok(run_wacket("links", "merge", "h1:~/.mozilla/firefox", "--jsonl"))
        assert jsonl(res.stdout)[0]["new_visits"] == 1
        # Discovery over SSH finds the same profile.
        res = ok(run_wacket("links", "merge", "--discover", "h1", "--jsonl"))
        [rec] = jsonl(res.stdout)
        assert rec["host"] == "h1" and rec["new_visits"] == 0
    finally:
        prof.close()


def test_unreachable_host_fails_its_sources_only(fleet, firefox, run_wacket, isolated_env):
    cfg = Path(os.environ["WACKET_CONFIG"])
    cfg.write_text(cfg.read_text() + '\n[hosts.gone]\naddress = "127.0.0.9"\nport = 9\n')
    res = run_wacket(
        "links", "merge", "gone:~/x", str(firefox.path), "--connect-timeout", "3", "--jsonl"
    )
    assert res.returncode in (1, 3), res.stderr.decode()
    assert b"gone" in res.stderr and b"unreachable" in res.stderr
    assert len(jsonl(res.stdout)) == 1


def test_unreachable_is_decided_by_type_not_by_text(fleet, tmp_path, run_wacket, isolated_env):
    """A source that failed for its own reason is a failure (1) even when its name says
    "unreachable": only an unreachable host makes the run's failures all unreachable (3)."""
    cfg = Path(os.environ["WACKET_CONFIG"])
    cfg.write_text(cfg.read_text() + '\n[hosts.gone]\naddress = "127.0.0.9"\nport = 9\n')
    broken = tmp_path / "unreachable" / "places.sqlite"
    res = run_wacket("links", "merge", "gone:~/x", str(broken), "--connect-timeout", "3")
    assert str(broken) in res.stderr.decode() and b"gone" in res.stderr
    assert res.returncode == 1, res.stderr.decode()
    res = run_wacket("links", "merge", "gone:~/x", "--connect-timeout", "3")
    assert res.returncode == 3, res.stderr.decode()


def test_discovery_finds_macos_and_windows_layouts(isolated_env):
    """The same shell loop runs on every host; here macOS and Windows (Git Bash) homes are faked."""
    from wacket.fleet import Host
    from wacket.links.discover import browser_of, discover
    from wacket.transport.session import LocalSession

    home = isolated_env
    wanted = [
        "Library/Application Support/Firefox/Profiles/ab12.default-release/places.sqlite",
        "Library/Application Support/Google/Chrome/Default/History",
        "Library/Application Support/BraveSoftware/Brave-Browser/Profile 2/Bookmarks",
        "AppData/Roaming/Mozilla/Firefox/Profiles/cd34.default/places.sqlite",
        "AppData/Local/Microsoft/Edge/User Data/Default/History",
        "AppData/Local/Vivaldi/User Data/Default/Bookmarks",
        ".config/google-chrome/Profile 1/History",
        ".var/app/org.mozilla.firefox/.mozilla/firefox/ef56.default/places.sqlite",
    ]
    for rel in wanted:
        p = home / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    (home / ".config/chromium/Default").mkdir(parents=True)  # a profile dir without files
    found = discover(LocalSession(Host("local", source="local")))
    assert sorted(found) == sorted(str(home / rel) for rel in wanted)
    names = sorted(browser_of(p, "") for p in found)
    assert names == [
        "brave",
        "chrome",
        "chrome",
        "edge",
        "firefox",
        "firefox",
        "firefox",
        "vivaldi",
    ]
