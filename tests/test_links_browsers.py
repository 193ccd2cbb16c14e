"""wacket links against real browsers: headless Firefox ESR and Chromium visit a loopback page,
then the profile they wrote is merged (Firefox while it still runs: locked database, rows in the WAL).

Skipped when the browsers are not installed (`apt-get install firefox-esr chromium`; not in
bin/test's list: together they are several hundred MB).
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from browserdb import firefox_url_hash, now_us

FIREFOX = shutil.which("firefox-esr") or shutil.which("firefox")
CHROMIUM = shutil.which("chromium")


@pytest.fixture
def page(tmp_path):
    """A loopback HTTP server with one page; yields (url, requested_paths)."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "page.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>Wacket Test Pägé</title></head>"
        "<body>hello</body></html>",
        encoding="utf-8",
    )
    requested: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(www), **kw)

        def do_GET(self):
            requested.append(self.path)
            super().do_GET()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}/page.html", requested
    finally:
        srv.shutdown()
        srv.server_close()


def start(argv, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        argv, stdout=log.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


def stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM the browser's process group, then wait (SIGKILL if it does not end)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_for(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.skipif(not FIREFOX, reason="firefox-esr is not installed")
def test_headless_firefox_profile_merged_while_running(page, tmp_path, run_wacket):
    url, requested = page
    profile = tmp_path / "ffprofile"
    profile.mkdir()
    proc = start(
        [FIREFOX, "--headless", "--profile", str(profile), "--no-remote", url], tmp_path / "ff.log"
    )
    try:
        wait_for(lambda: "/page.html" in requested, 90, "Firefox to load the page")
        wait_for(lambda: (profile / "places.sqlite").exists(), 30, "places.sqlite")
        found = []

        def merged() -> bool:
            res = run_wacket("links", "merge", str(profile), "--jsonl")
            assert res.returncode == 0, res.stderr.decode()
            hits = (
                run_wacket("links", "search", "wacket", "test", "--jsonl")
                .stdout.decode()
                .splitlines()
            )
            found[:] = [json.loads(h) for h in hits]
            return bool(found)

        # The browser is still running: its database is locked and the rows sit in its WAL.
        wait_for(merged, 150, "the visit to show up in a merge of the running profile")
        assert proc.poll() is None
        [hit] = found
        assert hit["url"] == url and hit["title"] == "Wacket Test Pägé" and hit["visits"] == 1
        # Firefox's own url_hash for the page is the one tests/browserdb.py computes.
        from wacket.links.snapshot import Snapshot, open_copy

        with Snapshot() as snap:
            conn = open_copy(snap.copy_db(profile / "places.sqlite"))
            real_hash, version = conn.execute(
                "SELECT url_hash, (SELECT user_version FROM pragma_user_version) FROM moz_places WHERE url = ?",
                (url,),
            ).fetchone()
            conn.close()
        assert real_hash == firefox_url_hash(url), f"places schema version {version}"
    finally:
        stop(proc)
    # After the browser ended: merging again adds nothing.
    res = run_wacket("links", "merge", str(profile), "--jsonl")
    assert res.returncode == 0
    assert all(json.loads(line)["new_visits"] == 0 for line in res.stdout.decode().splitlines())


@pytest.mark.skipif(not CHROMIUM, reason="chromium is not installed")
def test_headless_chromium_profile_merged(page, tmp_path, run_wacket):
    url, requested = page
    userdata = tmp_path / "chromium"
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            f"--user-data-dir={userdata}", url]  # fmt: skip
    proc = start(argv, tmp_path / "chromium.log")
    try:
        wait_for(lambda: "/page.html" in requested, 90, "Chromium to load the page")
        time.sleep(15)  # Chromium commits history late; a SIGTERM shutdown then writes it.
    finally:
        stop(proc)
    res = run_wacket("links", "merge", str(userdata), "--jsonl")
    assert res.returncode == 0, res.stderr.decode()
    recs = [json.loads(line) for line in res.stdout.decode().splitlines()]
    history = [r for r in recs if r["kind"] == "chromium"]
    assert history and history[0]["profile"] == "Default" and history[0]["new_visits"] >= 1
    hits = [
        json.loads(h)
        for h in run_wacket("links", "search", "wacket", "--jsonl").stdout.decode().splitlines()
    ]
    [hit] = hits
    assert hit["url"] == url and hit["title"] == "Wacket Test Pägé"
    from wacket.links.master import Master

    with Master(Path(os.environ["WACKET_DATA"]) / "links.sqlite") as m:
        [row] = m.search(["wacket"])
        [visit] = m.visits(row["id"])
    # Converted from the WebKit epoch: within ten minutes of now.
    assert abs(visit["time"] - now_us()) < 600_000_000
    assert visit["browser"] == "chromium" and visit["kind"] == "typed"


@pytest.mark.skipif(not FIREFOX, reason="firefox-esr is not installed")
def test_html_export_imports_into_firefox(tmp_path, run_wacket):
    """`wacket links export --html` is read by Firefox's own bookmarks.html import."""
    from browserdb import FirefoxProfile

    (tmp_path / "src").mkdir()
    src = FirefoxProfile(tmp_path / "src" / "places.sqlite")
    folder = src.folder("Wacket Dev")
    src.bookmark("https://exported.example/page", "Exported Page", folder, tags=["one", "two"])
    src.bookmark("https://other.example/", "Other <&> Page", "menu________")
    src.close()
    assert run_wacket("links", "merge", str(src.path)).returncode == 0
    html = tmp_path / "bookmarks.html"
    assert run_wacket("links", "export", "--html", "-o", str(html)).returncode == 0
    profile = tmp_path / "ffimport"
    profile.mkdir()
    (profile / "user.js").write_text(
        'user_pref("browser.places.importBookmarksHTML", true);\n'
        f'user_pref("browser.bookmarks.file", "{html}");\n'
    )
    proc = start(
        [FIREFOX, "--headless", "--profile", str(profile), "--no-remote", "about:blank"],
        tmp_path / "ff.log",
    )
    other = tmp_path / "imported.sqlite"
    try:

        def imported() -> bool:
            if not (profile / "places.sqlite").exists():
                return False
            res = run_wacket("links", "merge", "--into", str(other), str(profile), "--jsonl")
            return (
                res.returncode == 0
                and json.loads(res.stdout.decode().splitlines()[0])["bookmarks"] >= 2
            )

        wait_for(imported, 90, "Firefox to import the exported bookmarks.html")
    finally:
        stop(proc)
    from wacket.links.master import Master

    with Master(other) as m:
        marks = {p["url"]: p for p in m.placements()}
    assert marks["https://exported.example/page"]["title"] == "Exported Page"
    assert marks["https://exported.example/page"]["folder"].endswith("Bookmarks Toolbar/Wacket Dev")
    assert marks["https://exported.example/page"]["tags"] == "one,two"
    assert marks["https://other.example/"]["title"] == "Other <&> Page"
