"""Every format wacket writes and also reads round-trips exactly: written by wacket, read back by
wacket into a fresh store, written again: the same (links JSON lines and Netscape HTML from real
browser databases, a mail folder's mbox from a real Dovecot, sync plan files)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from browserdb import DAY_US, ChromiumProfile, FirefoxProfile, now_us

from wacket.links.master import Master


def ok(r):
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r


@pytest.fixture
def browsers(tmp_path) -> list[str]:
    """A Firefox and a Chromium profile: visits, visited and unvisited bookmarks, nested and
    top-level folders, one link in several folders, tags, unicode titles."""
    t = now_us()
    (tmp_path / "firefox" / "x.default").mkdir(parents=True)
    ff = FirefoxProfile(tmp_path / "firefox" / "x.default" / "places.sqlite")
    ff.visit("https://www.rust-lang.org/", "Rust Programming Language", t - 2 * DAY_US, 2)
    ff.visit("https://www.rust-lang.org/", None, t - DAY_US - 7, 1)
    ff.visit("https://docs.python.org/3/", "Python — docs ✓", t - 40 * DAY_US, 1)
    ff.visit("https://visited.example/only", "Only visited", t - 3 * DAY_US, 1)
    dev = ff.folder("Dev")
    deeper = ff.folder("Deeper", ff.conn.execute("SELECT guid FROM moz_bookmarks WHERE id=?",
                                                 (dev,)).fetchone()[0])  # fmt: skip
    ff.bookmark("https://www.rust-lang.org/", "Rust", dev, tags=["lang", "systems"])
    ff.bookmark("https://www.rust-lang.org/", "Rust", deeper)
    ff.bookmark("https://crates.io/", "crates.io", "menu________")
    ff.bookmark("https://never.example/", "Never visited ü", "toolbar_____", tags=["later"])
    ff.close()
    ch = ChromiumProfile(tmp_path / "chromium" / "Default")
    ch.visit("https://www.rust-lang.org/", "Rust Programming Language", t - 3 * DAY_US, core=1)
    ch.visit("https://news.example/item?id=1", "News", t - 5 * DAY_US)
    ch.bookmark("https://www.rust-lang.org/", "Rust home", ["Dev"])
    ch.bookmark("https://news.example/item?id=1", "", [])  # top level, no title
    ch.close()
    return [str(ff.path), str(ch.dir)]


def links_export(run_wacket, form: str, db: Path | None = None) -> bytes:
    return ok(run_wacket("links", "export", form, *(["--db", str(db)] if db else []))).stdout


def test_links_jsonl_round_trip(browsers, run_wacket, tmp_path):
    ok(run_wacket("links", "merge", *browsers))
    first = links_export(run_wacket, "--jsonl")
    fresh = tmp_path / "o.sqlite"
    ok(run_wacket("links", "merge", "--into", str(fresh), "-", input=first))
    again = links_export(run_wacket, "--jsonl", fresh)
    records = [json.loads(x) for x in first.splitlines()]
    assert [json.loads(x) for x in again.splitlines()] == records
    by_url = {r["url"]: r for r in records}
    assert by_url["https://visited.example/only"]["folders"] == []  # a link, not a bookmark
    assert by_url["https://www.rust-lang.org/"]["visits"] == 3
    assert by_url["https://news.example/item?id=1"]["folders"] == ["Bookmarks bar"]
    with Master() as m, Master(fresh) as o:
        before, after = m.stats(), o.stats()
        for key in ("links", "visited_links", "bookmarked_links", "visits", "first_visit",
                    "last_visit"):  # fmt: skip
            assert after[key] == before[key], key
        assert [r["bookmarks"] > 0 for r in o.search([], limit=None)] == [
            r["bookmarks"] > 0 for r in m.search([], limit=None)
        ]
    # and the JSON array form reads the same way
    fresh2 = tmp_path / "o2.sqlite"
    lines = b"".join(
        json.dumps(r).encode() + b"\n" for r in json.loads(links_export(run_wacket, "--json"))
    )
    ok(run_wacket("links", "merge", "--into", str(fresh2), "-", input=lines))
    assert links_export(run_wacket, "--jsonl", fresh2) == first


def test_links_netscape_html_round_trip(browsers, run_wacket, tmp_path):
    ok(run_wacket("links", "merge", *browsers))
    first = tmp_path / "bookmarks.html"
    ok(run_wacket("links", "export", "--html", "-o", str(first)))
    fresh = tmp_path / "o.sqlite"
    ok(run_wacket("links", "merge", "--into", str(fresh), str(first)))
    again = links_export(run_wacket, "--html", fresh)
    assert again == first.read_bytes()
    assert b"Deeper" in again and b"TAGS=\"lang,systems\"" in again
    with Master(fresh) as o:
        marks = {(p["url"], p["folder"], p["title"], p["tags"]) for p in o.placements()}
    assert ("https://news.example/item?id=1", "Bookmarks bar", "", "") in marks


del os
