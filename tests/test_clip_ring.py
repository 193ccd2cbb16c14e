"""wacket clip with the ring on this machine: kinds, round trips, limits, secrets, permissions, errors."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest


def _config(extra: str) -> None:
    path = Path(os.environ["WACKET_CONFIG"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(extra)


def _store() -> Path:
    return Path(os.environ["WACKET_DATA"]) / "clip"


def _list(run_wacket) -> list[dict]:
    r = run_wacket("clip", "list", "--jsonl")
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        ("grüße, 日本語, emoji 🎉\nsecond line\n".encode(), "text"),
        (b"https://example.org/path?q=1#frag", "link"),
        (b"<p>Hello <b>world</b></p>", "html"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "image"),
        (b"\x00\x01\x02binary\xff", "binary"),
    ],
)
def test_round_trip_kinds(run_wacket, payload: bytes, kind: str) -> None:
    r = run_wacket("clip", "copy", "--jsonl", input=payload)
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    assert (rec["kind"], rec["size"], rec["n"]) == (kind, len(payload), 1)
    r = run_wacket("clip", "paste")
    assert r.returncode == 0, r.stderr
    assert r.stdout == payload


def test_five_megabytes_with_nul_bytes_byte_exact(run_wacket) -> None:
    payload = (os.urandom(1024) + b"\x00" * 1024) * 2560
    assert run_wacket("clip", "copy", input=payload).returncode == 0
    r = run_wacket("clip", "paste")
    assert r.returncode == 0, r.stderr
    assert r.stdout == payload


def test_file_keeps_name_and_mode(run_wacket, tmp_path: Path) -> None:
    src = tmp_path / "report 2026 ü.sh"
    src.write_bytes(b"#!/bin/sh\necho hi\n")
    src.chmod(0o750)
    r = run_wacket("clip", "copy", "--jsonl", str(src))
    assert json.loads(r.stdout)["kind"] == "file"
    assert _list(run_wacket)[0]["preview"] == src.name
    out = tmp_path / "out"
    r = run_wacket("clip", "paste", "--out", str(out))
    assert r.returncode == 0, r.stderr
    made = out / src.name
    assert made.read_bytes() == src.read_bytes()
    assert stat.S_IMODE(made.stat().st_mode) == 0o750
    # A second paste refuses to overwrite without --force.
    r = run_wacket("clip", "paste", "--out", str(out))
    assert r.returncode == 1 and b"exists" in r.stderr
    assert run_wacket("clip", "paste", "--out", str(out), "--force").returncode == 0


def test_entries_numbered_newest_first_rm_clear(run_wacket) -> None:
    for text in ("one", "two", "three"):
        assert run_wacket("clip", "copy", input=text).returncode == 0
    assert [e["preview"] for e in _list(run_wacket)] == ["three", "two", "one"]
    assert run_wacket("clip", "paste", "3").stdout == b"one"
    assert run_wacket("clip", "rm", "2").returncode == 0
    assert [e["preview"] for e in _list(run_wacket)] == ["three", "one"]
    assert run_wacket("clip", "clear").returncode == 0
    assert _list(run_wacket) == []
    assert os.listdir(_store() / "blobs") == []


def test_keep_limit(run_wacket) -> None:
    _config("[clip]\nkeep = 3\n")
    for i in range(6):
        assert run_wacket("clip", "copy", input=f"entry {i}").returncode == 0
    assert [e["preview"] for e in _list(run_wacket)] == ["entry 5", "entry 4", "entry 3"]
    assert len(os.listdir(_store() / "blobs")) == 3


def test_size_cap(run_wacket) -> None:
    _config('[clip]\nmax_size = "1K"\n')
    assert run_wacket("clip", "copy", input=b"a" * 600).returncode == 0
    assert run_wacket("clip", "copy", input=b"b" * 600).returncode == 0
    entries = _list(run_wacket)
    assert [e["size"] for e in entries] == [600]
    r = run_wacket("clip", "copy", input=b"c" * 2000)
    assert r.returncode == 1
    assert b"size cap" in r.stderr
    assert len(_list(run_wacket)) == 1


def test_secret_expires_and_never_enters_history(run_wacket) -> None:
    secret = b"hunter2-correct-horse-" + os.urandom(8).hex().encode()
    assert run_wacket("clip", "copy", input=b"plain entry").returncode == 0
    r = run_wacket("clip", "copy", "--secret", "--ttl", "8", "--jsonl", input=secret)
    assert r.returncode == 0, r.stderr
    assert secret not in r.stdout
    entries = _list(run_wacket)
    assert entries[0]["secret"] is True and entries[0]["preview"].startswith("(secret")
    assert secret not in json.dumps(entries).encode()
    assert run_wacket("clip", "paste").stdout == secret
    history = (_store() / "ring.json").read_bytes()
    assert secret not in history
    for blob in (_store() / "blobs").iterdir():
        assert secret not in blob.read_bytes()
    # After its ttl the secret is gone from the ring and from the disk.
    deadline = time.monotonic() + 60
    while _list(run_wacket)[0].get("secret"):
        assert time.monotonic() < deadline, "secret did not expire"
        time.sleep(0.5)
    assert [e["preview"] for e in _list(run_wacket)] == ["plain entry"]
    for path in _store().rglob("*"):
        if path.is_file():
            assert secret not in path.read_bytes(), path
    r = run_wacket("clip", "paste", "2")
    assert r.returncode == 2


def test_permissions(run_wacket) -> None:
    assert run_wacket("clip", "copy", input=b"x").returncode == 0
    assert run_wacket("clip", "copy", "--secret", input=b"pw").returncode == 0
    store = _store()
    assert stat.S_IMODE(store.stat().st_mode) == 0o700
    for path in store.rglob("*"):
        want = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == want, path


def test_out_of_range(run_wacket) -> None:
    r = run_wacket("clip", "paste")
    assert r.returncode == 2
    assert r.stderr == b"wacket: error: the clipboard ring is empty\n"
    run_wacket("clip", "copy", input=b"only")
    for n in ("2", "0"):
        r = run_wacket("clip", "paste", n)
        assert r.returncode == 2
        assert b"no entry " + n.encode() + b": the ring holds 1" in r.stderr
    assert run_wacket("clip", "rm", "5").returncode == 2


def test_empty_stdin(run_wacket) -> None:
    r = run_wacket("clip", "copy", input=b"")
    assert r.returncode == 1
    assert r.stderr == b"wacket: error: stdin was empty: nothing copied\n"
    assert _list(run_wacket) == []


def test_stdin_terminal_is_not_read(run_wacket, isolated_env: Path) -> None:
    """No FILE and a terminal on stdin: say what to do instead of waiting for input."""
    import subprocess
    import sys

    master, slave = os.openpty()
    try:
        r = subprocess.run(
            [sys.executable, "-m", "wacket", "clip", "copy"],
            stdin=slave,
            capture_output=True,
            timeout=60,
        )
    finally:
        os.close(slave)
        os.close(master)
    assert r.returncode == 2
    assert b"pipe data in" in r.stderr


def test_no_backend(run_wacket, tmp_path: Path) -> None:
    run_wacket("clip", "copy", input=b"x")
    r = run_wacket("clip", "paste", "--system", env={"DISPLAY": None, "WAYLAND_DISPLAY": None})
    assert r.returncode == 1
    assert b"no system clipboard here" in r.stderr and b"install xclip" in r.stderr
    empty = tmp_path / "bin"
    empty.mkdir()
    r = run_wacket("clip", "paste", "--system", env={"DISPLAY": ":99", "PATH": str(empty)})
    assert r.returncode == 1
    assert b"neither xclip nor xsel is installed: install xclip" in r.stderr
    r = run_wacket("clip", "copy", "--from-system", env={"DISPLAY": None, "WAYLAND_DISPLAY": None})
    assert r.returncode == 1 and b"no system clipboard" in r.stderr
    assert b"Traceback" not in r.stderr


def test_journal_records_clip_writes(run_wacket) -> None:
    run_wacket("clip", "copy", input=b"journal me")
    run_wacket("clip", "rm", "1")
    r = run_wacket("log", "--command", "clip", "--jsonl")
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["command"] for row in rows] == ["clip copy", "clip rm"]
    assert all(row["outcome"] == "ok" for row in rows)
    assert "journal me" not in r.stdout.decode()


def test_parallel_copies_all_land(run_wacket) -> None:
    """The ring's lock: copies at the same moment each get their own entry, none is lost."""
    import subprocess
    import sys

    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "wacket", "clip", "copy"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(6)
    ]
    for i, p in enumerate(procs):
        p.stdin.write(f"parallel {i}".encode())
        p.stdin.close()
    for p in procs:
        assert p.wait(120) == 0, p.stderr.read()
    entries = _list(run_wacket)
    assert sorted(e["preview"] for e in entries) == [f"parallel {i}" for i in range(6)]
    assert len({e["id"] for e in entries}) == 6


def test_leftovers_of_a_crash_are_cleaned(run_wacket) -> None:
    run_wacket("clip", "copy", input=b"first")
    store = _store()
    (store / "blobs" / "999").write_bytes(b"orphan blob")
    stale = store / "incoming" / "abandoned"
    stale.parent.mkdir(exist_ok=True)
    stale.write_bytes(b"half an upload")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    tmp = store / ".tmp-crashed"
    tmp.write_bytes(b"{")
    os.utime(tmp, (time.time() - 7200, time.time() - 7200))
    (store / "ring.json").write_bytes((store / "ring.json").read_bytes())
    run_wacket("clip", "copy", input=b"second")
    assert sorted(p.name for p in (store / "blobs").iterdir()) == ["1", "2"]
    assert not stale.exists() and not tmp.exists()
    assert [e["preview"] for e in _list(run_wacket)] == ["second", "first"]


def test_osc52_in_a_terminal_without_a_display(run_wacket) -> None:
    """Over SSH with no desktop, the clipboard is set with OSC 52 on the terminal."""
    import base64
    import fcntl
    import select
    import subprocess
    import sys
    import termios

    run_wacket("clip", "copy", input="über OSC 52".encode())
    master, slave = os.openpty()

    def take_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(SSH_TTY="/dev/pts/x", TERM="xterm-256color")
    proc = subprocess.Popen(
        [sys.executable, "-m", "wacket", "clip", "paste", "--system"],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
        preexec_fn=take_terminal,
    )
    os.close(slave)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert b"(osc52)" in err
    seen = b""
    while select.select([master], [], [], 0.5)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    want = b"\x1b]52;c;" + base64.b64encode("über OSC 52".encode()) + b"\x07"
    assert want in seen


def test_several_files_make_several_entries(run_wacket, tmp_path: Path) -> None:
    for name in ("a.txt", "b.bin"):
        (tmp_path / name).write_bytes(name.encode() + b"\x00")
    r = run_wacket("clip", "copy", str(tmp_path / "a.txt"), str(tmp_path / "b.bin"), "--jsonl")
    assert r.returncode == 0, r.stderr
    assert [e["name"] for e in _list(run_wacket)] == ["b.bin", "a.txt"]
    r = run_wacket("clip", "copy", str(tmp_path / "missing"))
    assert r.returncode == 2 and b"missing: cannot read: No such file or directory" in r.stderr
