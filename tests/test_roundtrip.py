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
    assert b"Deeper" in again and b'TAGS="lang,systems"' in again
    with Master(fresh) as o:
        marks = {(p["url"], p["folder"], p["title"], p["tags"]) for p in o.placements()}
    assert ("https://news.example/item?id=1", "Bookmarks bar", "", "") in marks


# -- mail: archive (real Dovecot) -> export --mbox -> import into a fresh store -------------------


def archived(data_dir: Path, account: str, folder: str) -> list[tuple[bytes, str, float | None]]:
    """(message bytes, maildir flags, date) of every message of a folder in a store."""
    import sqlite3

    db = sqlite3.connect(data_dir / "mail" / "index.sqlite")
    rows = db.execute(
        "SELECT folders.dir, files.name, files.flags, messages.date FROM files"
        " JOIN folders USING (account, folder) JOIN messages ON messages.id = files.msg"
        " WHERE files.account = ? AND files.folder = ?",
        (account, folder),
    ).fetchall()
    db.close()
    return sorted(
        ((data_dir / "mail" / d / "cur" / name).read_bytes(), flags, date)
        for d, name, flags, date in rows
    )


def test_mail_mbox_export_import_round_trip(dovecot, run_wacket, tmp_path):
    import uuid

    user, password = f"u{uuid.uuid4().hex[:10]}", "pw-" + uuid.uuid4().hex[:8]
    dovecot.add_user(user, password)
    cfg = Path(os.environ["WACKET_CONFIG"])
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(dovecot.toml("t", user=user, tls="none"))
    ok(run_wacket("mail", "login", "t", "--password-stdin", input=password + "\n"))
    import time

    deadline = time.monotonic() + 10
    while True:  # Dovecot rereads its passwd-file at most once a second
        try:
            client = dovecot.client(user)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)

    def message(i: int, extra: bytes = b"", body: bytes = b"", date: bool = True) -> bytes:
        return (
            f"From: Sender {i} <s{i}@example.org>\r\nTo: r@example.net\r\nSubject: m{i}\r\n"
            f"Message-ID: <{i}.{uuid.uuid4().hex}@example.org>\r\n".encode()
            + (f"Date: Mon, 02 Nov 2026 10:{i:02d}:00 +0000\r\n".encode() if date else b"")
            + extra
            + b"\r\n"
            + (body or f"body {i}\r\n".encode())
        )

    cases = [
        (message(1), []),
        (message(2), [b"\\Seen"]),
        (message(3), [b"\\Seen", b"\\Answered", b"\\Flagged"]),
        (message(4), [b"\\Draft"]),
        (message(5), [b"\\Deleted", b"$Forwarded"]),
        (message(6, body=b"From the start\r\n>From quoted\r\n\r\nFrom after a blank\r\n"), []),
        (message(7, extra=b"X-Latin: caf\xe9\r\n", body=b"Gr\xfc\xdfe \xff\r\n"), [b"\\Seen"]),
        (message(8, date=False), [b"\\Flagged"]),  # its date: the server's INTERNALDATE
    ]
    for data, flags in cases:
        client.append("INBOX", data, flags=flags)
    client.logout()
    ok(run_wacket("mail", "archive", "t"))
    original = archived(Path(os.environ["WACKET_DATA"]), "t", "INBOX")
    assert len(original) == len(cases)
    assert {f for _, f, _ in original} == {"", "S", "FRS", "D", "PT", "F"}

    mbox = tmp_path / "INBOX.mbox"
    ok(run_wacket("mail", "export", "t/INBOX", "--mbox", str(mbox)))
    fresh = tmp_path / "fresh"
    r = ok(run_wacket("mail", "import", str(mbox), "--account", "t", "--jsonl",
                      env={"WACKET_DATA": str(fresh)}))  # fmt: skip
    [rec] = [json.loads(x) for x in r.stdout.splitlines()]
    assert (rec["folder"], rec["messages"], rec["new"]) == ("INBOX", len(cases), len(cases))
    assert archived(fresh, "t", "INBOX") == original
    # Into the same store again: every message is recognised, none stored twice.
    r = ok(run_wacket("mail", "import", str(mbox), "--account", "t", "--jsonl"))
    assert json.loads(r.stdout)["duplicates"] == len(cases)
    assert archived(Path(os.environ["WACKET_DATA"]), "t", "INBOX") == original


# -- sync plan files: written by --plan, read by --apply (real rsync, real sshd) ----------------

HOSTILE = [os.fsdecode(b"caf\xe9 \xff"), "new\nline", "-dash", 'q\'uote "x"', "tab\there", "ü.txt"]


def sync_records(stdout: bytes) -> list[dict]:
    """The records, without `sent` (bytes on the wire: none in a dry run)."""
    recs = [json.loads(x) for x in stdout.splitlines()]
    return sorted(({k: v for k, v in r.items() if k != "sent"} for r in recs), key=repr)


@pytest.mark.parametrize("mode", ["one-way", "two-way"])
def test_sync_plan_file_round_trip(fleet, run_wacket, tmp_path, mode):
    import uuid

    from syncbed import tree, write

    local = tmp_path / f"a{HOSTILE[0]}"
    remote = fleet.hosts[0].home / f"plan-{uuid.uuid4().hex[:8]}{HOSTILE[0]}"
    remote.mkdir()
    spec = f"h1:{remote}"
    for i, name in enumerate(HOSTILE):
        write(local, f"{name}/{name}", f"first {i}")
    two = ["--two-way"] if mode == "two-way" else ["--delete"]
    ok(run_wacket("sync", *two, f"{local}/", f"{spec}/"))
    for i, name in enumerate(HOSTILE):
        write(local, f"{name}/{name}", f"edited {i}")
        write(local, f"{name}/new {name}", b"\xff new")
    (local / HOSTILE[2] / HOSTILE[2]).unlink()
    if mode == "two-way":
        write(remote, f"{HOSTILE[1]}/from b {HOSTILE[0]}", "made on b")
    plan = tmp_path / f"plan{HOSTILE[0]}.json"
    r = ok(run_wacket("sync", *two, f"{local}/", f"{spec}/", "--plan", str(plan), "--jsonl"))
    planned = sync_records(r.stdout)
    assert len(planned) >= 2 * len(HOSTILE)
    assert tree(remote)[f"{HOSTILE[0]}/{HOSTILE[0]}"] == ("f", b"first 0")  # nothing done yet
    r = ok(run_wacket("sync", "--apply", str(plan), "--jsonl"))
    assert sync_records(r.stdout) == planned
    assert tree(local) == tree(remote)
    assert tree(remote)[f"{HOSTILE[0]}/new {HOSTILE[0]}"] == ("f", b"\xff new")
    assert f"{HOSTILE[2]}/{HOSTILE[2]}" not in tree(remote)


# -- the map job log: written by --joblog, read by --resume ---------------------------------------


def test_map_joblog_resume_round_trip(run_wacket, tmp_path):
    """Items with tabs, newlines, quotes and non-UTF-8 bytes: a second run with --resume finds
    every one of them done and runs nothing."""
    values = [*HOSTILE, "plain", "x\\ty", '{"not": "json"}']
    items = b"".join(json.dumps({"item": v}).encode() + b"\n" for v in values)
    log, marks = tmp_path / "jobs.tsv", tmp_path / "marks"
    marks.mkdir()
    cmd = f"echo run >> {marks}/{{#}}"
    ok(run_wacket("map", "local", "--jsonl-in", "--joblog", str(log), "--", cmd, input=items))
    assert len(list(marks.iterdir())) == len(values)
    for f in marks.iterdir():
        f.unlink()
    r = ok(run_wacket("map", "local", "--jsonl-in", "--joblog", str(log), "--resume", "--", cmd,
                      input=items))  # fmt: skip
    assert list(marks.iterdir()) == []
    assert f"{len(values)} skipped" in r.stderr.decode()
