"""Fault campaign (issue 15): damaged state. Each state file wacket keeps is truncated to 0,
truncated to half, or garbled (random bytes over its middle, seeded); the next run recovers with
the right result, or stops with a one-line error. Never a traceback, never user data lost.

WACKET_FAULT_ROUNDS (default 8) sets how many random garblings each file gets.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from browserdb import netscape_html

ROUNDS = int(os.environ.get("WACKET_FAULT_ROUNDS", "8"))
BASE_SEED = 150_000
DAMAGES = ["zero", "half"] + [f"garble-{n}" for n in range(ROUNDS)]


def damage(path: Path, kind: str, seed: int) -> None:
    data = path.read_bytes()
    if kind == "zero":
        data = b""
    elif kind == "half":
        data = data[: len(data) // 2]
    else:
        rng = random.Random(seed)
        size = max(1, min(len(data) // 4, rng.randint(8, 512)))
        at = rng.randint(len(data) // 4, max(len(data) // 4, 3 * len(data) // 4 - size))
        data = data[:at] + rng.randbytes(size) + data[at + size :]
    path.write_bytes(data)


@dataclass
class Bed:
    """The test's world: a tmp dir with user data, the data dir, and the wacket runner."""

    tmp: Path
    data: Path
    run: Callable
    context: str = ""
    own: bool = False  # a world of its own (HOME and data dir under tmp), not the test's

    def ok(self, *args, allowed=(0,)):
        env = {"HOME": str(self.tmp / "home"), "WACKET_DATA": str(self.data)} if self.own else {}
        r = self.run(*args, env=env)
        err = r.stderr.decode(errors="replace")
        where = f"{self.context}: wacket {' '.join(map(str, args))} -> {r.returncode}\n{err}"
        assert "Traceback" not in err and "internal error" not in err, where
        assert r.returncode in allowed, where
        if r.returncode:  # it stopped: say why, in a line (or a summary line, as verify does)
            lines = [ln for ln in err.splitlines() if ln.strip()]
            assert 1 <= len(lines) <= 3 and all(len(ln) < 500 for ln in lines), where
        return r


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".wacket" not in p.parts
    }


# -- the state files: how to make one, where it is, what the next run must do --------------------


def make_sync(bed: Bed) -> None:
    for side, names in (("A", ["a1", "sub/a2"]), ("B", ["b1"])):
        for n in names:
            p = bed.tmp / side / n
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(f"{side} {n}\n")
    bed.ok("sync", "--two-way", bed.tmp / "A", bed.tmp / "B")


def check_sync(bed: Bed) -> None:
    before = {**_tree(bed.tmp / "A")}
    assert before == _tree(bed.tmp / "B")
    (bed.tmp / "A" / "new").write_text("new\n")
    r = bed.ok("sync", "--two-way", bed.tmp / "A", bed.tmp / "B", allowed=(0, 1))
    a, b = _tree(bed.tmp / "A"), _tree(bed.tmp / "B")
    for name, data in before.items():  # nothing the user had is gone or changed
        assert a.get(name) == data and b.get(name) == data, (bed.context, name)
    if r.returncode == 0:
        assert a == b and "new" in b, bed.context
    else:
        assert ".state" in r.stderr.decode(), bed.context


def make_find(bed: Bed) -> None:
    d = bed.tmp / "tree"
    for i in range(40):
        (d / f"dir{i % 5}").mkdir(parents=True, exist_ok=True)
        (d / f"dir{i % 5}" / f"file{i}.txt").write_text(f"{i}\n" * (i + 1))
    (d / "needle.txt").write_text("needle\n")
    bed.ok("find", "index", "--root", d)


def check_find(bed: Bed) -> None:
    bed.ok("find", "needle.txt", allowed=(0, 1, 2))  # a query first: an answer, or a line
    bed.ok("find", "index", "--root", bed.tmp / "tree")
    r = bed.ok("find", "needle.txt", "--plain")
    assert str(bed.tmp / "tree" / "needle.txt") in r.stdout.decode(), bed.context


def make_journal(bed: Bed) -> None:
    (bed.tmp / "src").mkdir()
    (bed.tmp / "src" / "f").write_text("f\n")
    for n in range(3):
        bed.ok("sync", bed.tmp / "src", bed.tmp / f"dest{n}")


def check_journal(bed: Bed) -> None:
    bed.ok("sync", bed.tmp / "src", bed.tmp / "dest9")
    assert (bed.tmp / "dest9" / "src" / "f").exists() or (bed.tmp / "dest9" / "f").exists()
    r = bed.ok("log", "--jsonl")
    records = [json.loads(ln) for ln in r.stdout.decode().splitlines()]
    assert any("dest9" in (rec.get("summary") or "") or rec["command"] == "sync" for rec in records)


def make_links(bed: Bed) -> None:
    items = [(f"https://example.org/{i}", f"page {i}", "Menu/A", []) for i in range(30)]
    netscape_html(bed.tmp / "bookmarks.html", items)
    bed.ok("links", "merge", bed.tmp / "bookmarks.html")


def check_links(bed: Bed) -> None:
    db = bed.data / "links.sqlite"
    damaged = db.read_bytes()
    r = bed.ok("links", "stats", allowed=(0, 2))
    if r.returncode:
        # not rebuildable: the user's file is named and left exactly as it was
        assert str(db) in r.stderr.decode() and db.read_bytes() == damaged, bed.context


def make_mail(bed: Bed) -> None:
    mbox = bed.tmp / "old.mbox"
    with open(mbox, "wb") as fh:
        for i in range(12):
            fh.write(b"From sender@example.org Mon Nov  2 10:00:00 2026\n")
            fh.write(
                f"From: s{i}@example.org\nTo: me@example.org\nSubject: number {i} quokka\n"
                f"Message-ID: <m{i}@example.org>\nDate: Mon, 2 Nov 2026 10:00:00 +0000\n\n"
                f"body {i}\n\n".encode()
            )
    bed.ok("mail", "import", mbox, "--folder", "Old")


def _mail_files(bed: Bed) -> list[Path]:
    return [p for p in (bed.data / "mail").rglob("*") if p.is_file() and p.parent.name == "cur"]


def check_mail(bed: Bed) -> None:
    files = _mail_files(bed)
    # damage deep in the index shows only when a statement reads it: that run stops in one line,
    # the index set aside, and the next rebuilds it from the Maildirs and does the work
    r = bed.ok("mail", "import", bed.tmp / "old.mbox", "--folder", "Old", allowed=(0, 1))
    if r.returncode:
        assert b"set aside" in r.stderr, bed.context
        bed.ok("mail", "import", bed.tmp / "old.mbox", "--folder", "Old")
    assert len(_mail_files(bed)) == len(files) == 12, bed.context  # no message stored twice
    r = bed.ok("mail", "search", "quokka", "--jsonl")
    assert len(r.stdout.decode().splitlines()) == 12, bed.context


def make_clip(bed: Bed) -> None:
    for n in range(3):
        (bed.tmp / f"c{n}").write_text(f"clip {n}\n")
        bed.ok("clip", "copy", bed.tmp / f"c{n}")


def check_clip(bed: Bed) -> None:
    blobs = bed.data / "clip" / "blobs"
    before = {p.name: p.read_bytes() for p in blobs.iterdir()}
    (bed.tmp / "c9").write_text("clip 9\n")
    bed.ok("clip", "copy", bed.tmp / "c9")
    after = {p.name: p.read_bytes() for p in blobs.iterdir()}
    for name, data in before.items():  # no earlier entry overwritten
        assert after.get(name) == data, (bed.context, name)
    r = bed.ok("clip", "paste")
    assert r.stdout == b"clip 9\n", bed.context


def make_backup(bed: Bed) -> None:
    d = bed.tmp / "D"
    for i in range(20):
        (d / f"s{i % 3}").mkdir(parents=True, exist_ok=True)
        (d / f"s{i % 3}" / f"f{i}").write_text(f"{i}\n" * 50)
    (bed.tmp / "T").mkdir(exist_ok=True)  # a backup target is never created implicitly
    bed.ok("backup", "run", "--name", "t", "--source", d, "--target", bed.tmp / "T")


def check_backup(bed: Bed) -> None:
    target = bed.tmp / "T"
    bed.ok("backup", "verify", "t", "--target", target, allowed=(0, 1))
    (bed.tmp / "D" / "later").write_text("later\n")
    bed.ok("backup", "run", "--name", "t", "--source", bed.tmp / "D", "--target", target)
    r = bed.ok("backup", "verify", "t", "--target", target)
    assert r.returncode == 0, bed.context
    latest = sorted((target / "t").glob("*Z"))[-1]
    assert (latest / "D" / "later").read_text() == "later\n"


STATES = {
    # name: (make, file(s) to damage (globs under the data dir, or under tmp with "tmp:"), check)
    "pair state": (make_sync, ["sync/*.state"], check_sync),
    "pair generations": (make_sync, ["sync/*.gen"], check_sync),
    "sync cache": (make_sync, ["sync-cache/*"], check_sync),
    "find catalog": (make_find, ["find/*.db"], check_find),
    "find names": (make_find, ["find/*.names"], check_find),
    "find status": (make_find, ["find/hosts.json"], check_find),
    "hash cache": (make_find, ["scan-cache/*.sqlite"], check_find),
    "journal": (make_journal, ["journal.sqlite"], check_journal),
    "links master db": (make_links, ["links.sqlite"], check_links),
    "mail index": (make_mail, ["mail/index.sqlite"], check_mail),
    "clip ring": (make_clip, ["clip/ring.json"], check_clip),
    "backup manifest": (make_backup, ["tmp:T/t/*.manifest.gz"], check_backup),
    "backup state": (make_backup, ["tmp:T/t/.state.json"], check_backup),
}


@pytest.fixture(scope="session")
def worlds(tmp_path_factory):
    """Per state: where its world lives, and a pristine copy of it once made (making one costs
    several runs; each case starts from a copy at the same path, so absolute paths hold)."""
    return tmp_path_factory.mktemp("fault-worlds"), {}


def _world(worlds, run_wacket, state: str) -> Bed:
    base, made = worlds
    world, pristine = base / state.replace(" ", "-"), base / (state.replace(" ", "-") + ".pristine")
    bed = Bed(world, world / "data", run_wacket, own=True)
    if state not in made:
        (world / "home").mkdir(parents=True)
        STATES[state][0](bed)
        shutil.copytree(world, pristine, symlinks=True)
        made[state] = pristine
    else:
        shutil.rmtree(world)
        shutil.copytree(pristine, world, symlinks=True)
    return bed


@pytest.mark.parametrize("kind", DAMAGES)
@pytest.mark.parametrize("state", list(STATES))
def test_damaged_state_recovers_or_stops_cleanly(worlds, run_wacket, state, kind):
    _make, globs, check = STATES[state]
    bed = _world(worlds, run_wacket, state)
    tmp_path = bed.tmp
    seed = BASE_SEED + (DAMAGES.index(kind) * 1000) + sorted(STATES).index(state)
    bed.context = f"{state}, {kind} (seed {seed})"
    targets = []
    for pattern in globs:
        base, _, rel = pattern.rpartition(":")
        targets += sorted((tmp_path if base == "tmp" else bed.data).glob(rel))
    assert targets, f"{state}: no {globs} was made"
    for i, path in enumerate(targets):
        damage(path, kind, seed + i)
    check(bed)


def test_damage_is_really_done():
    """The damage kinds change the file (a test of the campaign itself)."""
    data = bytes(range(256)) * 40
    for kind in DAMAGES:
        p = Path(os.environ["HOME"]) / "x"
        p.write_bytes(data)
        damage(p, kind, 7)
        assert p.read_bytes() != data
    assert gzip  # used by the manifest states' files


# -- the mail index of an IMAP archive: rebuilt, and the next archive fetches nothing again ------


def _imap_out_bytes(dovecot, user: str) -> list[int]:
    """What each of `user`'s IMAP sessions sent (Dovecot logs out=BYTES at logout)."""
    import re

    text = dovecot.log.read_text(errors="replace")
    return [int(n) for n in re.findall(rf"imap\({user}\).*?out=(\d+)", text)]


def _wait_logouts(dovecot, user: str, n: int) -> list[int]:
    import time

    deadline = time.monotonic() + 10
    while len(out := _imap_out_bytes(dovecot, user)) < n and time.monotonic() < deadline:
        time.sleep(0.1)
    return out


@pytest.mark.parametrize("kind", ["zero", "half"])
def test_damaged_mail_index_is_rebuilt_without_fetching_again(dovecot, run_wacket, kind):
    import time
    import uuid

    user, password = f"u{uuid.uuid4().hex[:10]}", "pw-" + uuid.uuid4().hex
    dovecot.add_user(user, password)
    cfg = Path(os.environ["WACKET_CONFIG"])
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(dovecot.toml("t", user=user, tls="none"))
    deadline = time.monotonic() + 10
    while True:  # Dovecot rereads its passwd-file at most once a second
        try:
            client = dovecot.client(user)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    body = b"\r\n".join([b"x" * 76] * 400)  # ~30 KB each: the bodies dominate what is sent
    msgs = [
        f"From: s{i}@example.org\r\nTo: me@example.org\r\nSubject: wombat {i}\r\n"
        f"Message-ID: <{i}.{uuid.uuid4().hex}@example.org>\r\n\r\n".encode()
        + body
        for i in range(20)
    ]
    client.create_folder("Lists/Old")
    client.multiappend("INBOX", msgs[:12])
    client.multiappend(
        "Lists/Old",
        msgs[12:],
    )
    client.logout()
    r = run_wacket("mail", "login", "t", "--password-stdin", input=password + "\n")
    assert r.returncode == 0, r.stderr
    bed = Bed(Path(os.environ["HOME"]), Path(os.environ["WACKET_DATA"]), run_wacket, kind)
    bed.ok("mail", "archive", "t")
    first = _wait_logouts(dovecot, user, 2)[-1]
    files = _mail_files(bed)
    assert len(files) == 20 and first > 20 * len(body)
    damage(bed.data / "mail" / "index.sqlite", kind, BASE_SEED)
    for extra in bed.data.glob("mail/index.sqlite-*"):
        extra.unlink()
    r = bed.ok("mail", "search", "wombat", "--jsonl")
    assert len(r.stdout.decode().splitlines()) == 20, bed.context  # all findable again
    bed.ok("mail", "archive", "t")
    again = _wait_logouts(dovecot, user, 3)[-1]
    assert sorted(_mail_files(bed)) == sorted(files), bed.context  # nothing stored twice
    assert again < 2 * len(body), (bed.context, first, again)  # nothing fetched again
    r = bed.ok("mail", "verify", "t")
