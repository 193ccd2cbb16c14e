"""wacket msg: the feed on the hub, posts from other machines over SSH, tail -f."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import xbed


def _read_lines(proc: subprocess.Popen, n: int, timeout: float = 60.0) -> list[dict]:
    out: list[dict] = []
    buf = b""
    deadline = time.monotonic() + timeout
    while len(out) < n:
        left = deadline - time.monotonic()
        assert left > 0, f"got only {out}"
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if not ready:
            continue
        chunk = os.read(proc.stdout.fileno(), 65536)
        assert chunk, "tail ended early"
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            out.append(json.loads(line))
    return out


def test_tail_follows_posts_from_two_hosts(fleet, isolated_env: Path, tmp_path: Path) -> None:
    hosts = fleet.by_name()
    store = tmp_path / "hub-store"
    fleet.write_fleet(
        isolated_env,
        Path(os.environ["WACKET_CONFIG"]),
        f'[clip]\nhub = "h1"\nstore = "{store}"\nname = "reader"\n',
    )
    machines = {
        name: xbed.make_machine(
            fleet, tmp_path, name, f'[clip]\nhub = "h1"\nstore = "{store}"\nname = "{name}"\n'
        )
        for name in ("h2", "h3")
    }

    def post(name: str, *args: str, input: bytes | None = None) -> None:
        r = xbed.remote_wacket(
            fleet, isolated_env, hosts[name], machines[name], "msg", "send", *args, input=input
        )
        assert r.returncode == 0, r.stderr

    post("h2", "all", "an old message")
    proc = subprocess.Popen(
        [sys.executable, "-m", "wacket", "msg", "tail", "-f", "-n", "1", "--jsonl"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        first = _read_lines(proc, 1)
        assert [(m["from"], m["text"]) for m in first] == [("h2", "an old message")]
        post("h2", "h1", "backup home: ok, 132 MB")
        post("h3", "all", "--no-notify", input="sync photos: 2 conflicts ⚠\n".encode())
        post("h2", "@odd", "h2 again")
        got = _read_lines(proc, 3)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert [(m["from"], m["text"]) for m in got] == [
        ("h2", "backup home: ok, 132 MB"),
        ("h3", "sync photos: 2 conflicts ⚠"),
        ("h2", "h2 again"),
    ]
    assert [m["id"] for m in got] == [2, 3, 4]
    assert got[2]["to"] == ["h1", "h3"]
    assert all(m["hub"] == "h1" for m in got)
    # The feed file on the hub is private.
    assert (store / "feed.jsonl").stat().st_mode & 0o777 == 0o600


def test_send_list_and_notify_report(run_wacket, fleet, isolated_env: Path, tmp_path) -> None:
    fleet.write_fleet(
        isolated_env,
        Path(os.environ["WACKET_CONFIG"]),
        f'[clip]\nhub = "h1"\nstore = "{tmp_path / "s"}"\n',
    )
    r = run_wacket("msg", "send", "h2,h3", "disk almost full", "--jsonl")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    # No desktop on the test hosts: posted, not shown, and we say why.
    assert [(x["host"], x["notified"], x["why"]) for x in rows] == [
        ("h2", False, "no desktop session"),
        ("h3", False, "no desktop session"),
    ]
    r = run_wacket("msg", "list", "--jsonl")
    msgs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(m["text"], m["to"]) for m in msgs] == [("disk almost full", ["h2", "h3"])]
    r = run_wacket("msg", "send", "h2", input=b"\n")
    assert r.returncode == 1 and b"empty message" in r.stderr
    r = run_wacket("log", "--command", "msg", "--jsonl")
    assert json.loads(r.stdout.splitlines()[0])["outcome"] == "ok"


def test_notification_on_a_desktop(run_wacket, fleet, isolated_env: Path, tmp_path) -> None:
    """h2 has a desktop (Xvfb + session bus + dunst): the message pops up there; h3 has none."""
    import shutil

    import pytest

    if not (shutil.which("dunst") and shutil.which("notify-send")):
        pytest.skip("needs dunst and libnotify-bin")
    with xbed.Xvfb() as x, xbed.Notifier(x, tmp_path / "desk") as desk:
        fleet.write_fleet(
            isolated_env,
            Path(os.environ["WACKET_CONFIG"]),
            f'[clip]\nhub = "h1"\nstore = "{tmp_path / "s"}"\nname = "desk"\n'
            f'[clip.hosts.h2]\ndisplay = "{x.display}"\ndbus = "{desk.address}"\n',
        )
        r = run_wacket("msg", "send", "h2,h3", "backup home: ok, 132 MB", "--jsonl")
        assert r.returncode == 0, r.stderr
        rows = {row["host"]: row for row in map(json.loads, r.stdout.splitlines())}
        assert rows["h2"]["notified"] is True
        assert (rows["h3"]["notified"], rows["h3"]["why"]) == (False, "no desktop session")
        deadline = time.monotonic() + 30
        while not desk.lines():
            assert time.monotonic() < deadline, "no notification shown"
            time.sleep(0.1)
        assert desk.lines() == ["wacket|wacket: desk|backup home: ok, 132 MB"]
