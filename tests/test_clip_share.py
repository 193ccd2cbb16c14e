"""`wacket clip share` between two X displays (two Xvfb servers) on two sshd hosts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import xbed


@pytest.fixture
def two_displays():
    with xbed.Xvfb() as a, xbed.Xvfb() as b:
        yield a, b


def _wait_for(pred, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_share_between_two_displays(fleet, isolated_env: Path, tmp_path: Path, two_displays):
    a, b = two_displays
    extra = (
        f'[clip]\ninterval = 0.2\n[clip.hosts.h1]\ndisplay = "{a.display}"\n'
        f'[clip.hosts.h2]\ndisplay = "{b.display}"\nbackend = "xsel"\n'
    )
    fleet.write_fleet(isolated_env, Path(os.environ["WACKET_CONFIG"]), extra)
    a.xclip_set(b"before sharing")  # what is there at the start is not a change
    out_path, err_path = tmp_path / "share.out", tmp_path / "share.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "wacket", "clip", "share", "h1,h2", "--jsonl"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    try:
        _wait_for(lambda: b"sharing the clipboards" in err_path.read_bytes(), "share to start", 60)
        assert b.xclip_get() == b""
        a.xclip_set("copied on h1 ✓".encode())
        _wait_for(lambda: b.xclip_get() == "copied on h1 ✓".encode(), "h1 -> h2")
        time.sleep(1.5)  # several more rounds: an echo would show up as another transfer
        b.xclip_set(b"copied on h2")
        _wait_for(lambda: a.xclip_get() == b"copied on h2", "h2 -> h1")
        time.sleep(1.5)
        # Formatted text: h1 (xclip) reads text/html; h2's xsel holds it as plain text.
        a.xclip_set(b"<b>bold on h1</b>", "text/html")
        _wait_for(lambda: b.xclip_get() == b"<b>bold on h1</b>", "html h1 -> h2")
        time.sleep(1.5)
        # A password manager's copy is never shared.
        a.xclip_set(b"hunter2", "x-kde-passwordManagerHint")
        time.sleep(1.5)
        assert b.xclip_get() == b"<b>bold on h1</b>"
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(30)
    assert rc == 130, err_path.read_text()  # Ctrl-C is how it ends: an interrupted run
    transfers = [json.loads(line) for line in out_path.read_text().splitlines()]
    assert [(t["from"], t["to"], t["kind"]) for t in transfers] == [
        ("h1", ["h2"], "text"),
        ("h2", ["h1"], "text"),
        ("h1", ["h2"], "html"),
    ]
    r = subprocess.run(
        [sys.executable, "-m", "wacket", "log", "--command", "clip share", "--jsonl"],
        capture_output=True,
        timeout=60,
    )
    entry = json.loads(r.stdout)
    assert entry["summary"] == "3 transfers; interrupted by SIGINT"
    assert entry["outcome"] == "interrupted"


def test_share_needs_two_machines(run_wacket, fleet) -> None:
    r = run_wacket("clip", "share", "h1")
    assert r.returncode == 2
    assert b"at least two machines" in r.stderr
