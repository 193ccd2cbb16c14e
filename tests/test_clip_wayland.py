"""The Wayland clipboard through a real headless sway, with wl-copy/wl-paste (wl-clipboard)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import xbed

pytestmark = pytest.mark.skipif(
    not (shutil.which("sway") and shutil.which("wl-copy")),
    reason="needs sway and wl-clipboard (apt-get install sway wl-clipboard)",
)


@pytest.fixture
def sway():
    with xbed.Sway() as s:
        yield s


def _wacket(sway, *args, input=None):
    env = {**os.environ, **sway.env}
    env.pop("DISPLAY", None)
    kwargs = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
    # Pipes captured and a generous timeout: wl-copy's daemon must not hold them.
    return subprocess.run(
        [sys.executable, "-m", "wacket", *args], env=env, capture_output=True, timeout=90, **kwargs
    )


def test_wayland_round_trips(sway, tmp_path: Path) -> None:
    text = "Wayland ✓ grüße".encode()
    assert _wacket(sway, "clip", "copy", input=text).returncode == 0
    r = _wacket(sway, "clip", "paste", "--system")
    assert r.returncode == 0, r.stderr
    assert b"(wayland)" in r.stderr
    assert sway.paste() == text
    html = b"<p>rich <b>text</b></p>"
    _wacket(sway, "clip", "copy", input=html)
    assert _wacket(sway, "clip", "paste", "--system").returncode == 0
    # Both targets: rich editors take text/html, plain-text ones text/plain.
    assert {"text/html", "text/plain"} <= set(sway.types())
    assert sway.paste("text/html") == html
    r = _wacket(sway, "clip", "copy", "--from-system", "--jsonl")
    assert json.loads(r.stdout)["kind"] == "html"
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(500) + b"\x00" * 50
    (tmp_path / "a.png").write_bytes(png)
    _wacket(sway, "clip", "copy", str(tmp_path / "a.png"))
    assert _wacket(sway, "clip", "paste", "--system").returncode == 0
    assert sway.paste("image/png") == png
    r = _wacket(sway, "clip", "paste", "--system-of", "local")
    assert r.stdout == png
