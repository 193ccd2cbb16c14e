"""The X11 clipboard through real Xvfb servers, with xclip and with xsel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import xbed


@pytest.fixture
def xvfb():
    with xbed.Xvfb() as x:
        yield x


def _use_backend(backend: str | None) -> None:
    path = Path(os.environ["WACKET_CONFIG"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[clip.hosts.local]\nbackend = "{backend}"\n' if backend else "")


def _wacket(xvfb, *args, input=None, timeout=60):
    """Run wacket capturing stdout/stderr through pipes, with a generous timeout.

    If the process left owning the selection held our pipes, this would not return before the
    timeout (the hang the backends must avoid): TimeoutExpired fails the test.
    """
    env = {**os.environ, "DISPLAY": xvfb.display}
    env.pop("WAYLAND_DISPLAY", None)
    kwargs = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
    return subprocess.run(
        [sys.executable, "-m", "wacket", *args],
        env=env,
        capture_output=True,  # pipes: a selection owner holding them would hang us
        timeout=timeout,
        **kwargs,
    )


TEXT = "Grüße — 日本語 ✓\nline two".encode()


@pytest.mark.parametrize("backend", ["xclip", "xsel"])
def test_set_and_read_back(xvfb, backend: str) -> None:
    _use_backend(backend)
    assert _wacket(xvfb, "clip", "copy", input=TEXT).returncode == 0
    r = _wacket(xvfb, "clip", "paste", "--system")
    assert r.returncode == 0, r.stderr
    assert f"({backend})".encode() in r.stderr
    # Another tool reads what wacket set: xclip and xsel share the CLIPBOARD selection.
    assert xvfb.xclip_get() == TEXT
    # And wacket reads it back through the same backend.
    r = _wacket(xvfb, "clip", "paste", "--system-of", "local")
    assert r.returncode == 0, r.stderr
    assert r.stdout == TEXT
    # --from-system stores what is there now.
    xvfb.xclip_set("set from outside ☃".encode())
    r = _wacket(xvfb, "clip", "copy", "--from-system", "--jsonl")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["preview"] == "set from outside ☃"
    assert _wacket(xvfb, "clip", "paste").stdout == "set from outside ☃".encode()


def test_set_returns_promptly_with_captured_pipes(xvfb) -> None:
    """The selection owner keeps running after wacket exits, yet our captured pipes close."""
    for backend in ("xclip", "xsel"):
        _use_backend(backend)
        payload = f"prompt {backend}".encode()
        r = _wacket(xvfb, "clip", "copy", "--to", "local", input=payload, timeout=60)
        assert r.returncode == 0, r.stderr
        assert xvfb.xclip_get() == payload  # someone still owns the selection
        r = _wacket(xvfb, "clip", "paste", "--system", timeout=60)
        assert r.returncode == 0, r.stderr


def test_html_goes_as_text_html(xvfb) -> None:
    _use_backend("xclip")
    html = b"<p>Hello <b>bold</b> world</p>"
    assert _wacket(xvfb, "clip", "copy", input=html).returncode == 0
    assert _wacket(xvfb, "clip", "paste", "--system").returncode == 0
    assert "text/html" in xvfb.targets()
    assert xvfb.xclip_get("text/html") == html
    # Formatted text copied in an application comes into the ring as html.
    xvfb.xclip_set(b"<i>from a browser</i>", "text/html")
    r = _wacket(xvfb, "clip", "copy", "--from-system", "--jsonl")
    assert json.loads(r.stdout)["kind"] == "html"


def test_image_goes_as_png(xvfb, tmp_path: Path) -> None:
    _use_backend("xclip")
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(2000) + b"\x00" * 100
    (tmp_path / "shot.png").write_bytes(png)
    assert _wacket(xvfb, "clip", "copy", str(tmp_path / "shot.png")).returncode == 0
    assert _wacket(xvfb, "clip", "paste", "--system").returncode == 0
    assert "image/png" in xvfb.targets()
    assert xvfb.xclip_get("image/png") == png
    r = _wacket(xvfb, "clip", "copy", "--from-system", "--jsonl")
    rec = json.loads(r.stdout)
    assert rec["kind"] == "image" and rec["size"] == len(png)
    assert _wacket(xvfb, "clip", "paste").stdout == png


def test_xsel_cannot_hold_images(xvfb) -> None:
    _use_backend("xsel")
    _wacket(xvfb, "clip", "copy", input=b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    r = _wacket(xvfb, "clip", "paste", "--system")
    assert r.returncode == 1
    assert b"xsel cannot hold images; install xclip" in r.stderr


def test_primary_selection(xvfb) -> None:
    _use_backend(None)
    _wacket(xvfb, "clip", "copy", input=b"primary text")
    assert _wacket(xvfb, "clip", "paste", "--system", "--primary").returncode == 0
    assert xvfb.xclip_get(selection="primary") == b"primary text"
    assert xvfb.xclip_get() == b""


def test_password_manager_contents_never_stored(xvfb) -> None:
    _use_backend("xclip")
    xvfb.xclip_set(b"secret", "x-kde-passwordManagerHint")
    r = _wacket(xvfb, "clip", "copy", "--from-system")
    assert r.returncode == 1
    assert b"password manager" in r.stderr
    r = _wacket(xvfb, "clip", "list", "--jsonl")
    assert r.stdout == b""


@pytest.mark.parametrize("backend", ["xclip", "xsel"])
def test_secret_leaves_the_clipboard_after_its_ttl(xvfb, backend: str) -> None:
    import time

    _use_backend(backend)
    r = _wacket(xvfb, "clip", "copy", "--secret", "--ttl", "3", "--to", "local", input=b"s3cret!")
    assert r.returncode == 0, r.stderr
    assert xvfb.xclip_get() == b"s3cret!"
    deadline = time.monotonic() + 60
    while xvfb.xclip_get() == b"s3cret!":
        assert time.monotonic() < deadline, "the password stayed on the clipboard"
        time.sleep(0.2)
    assert xvfb.xclip_get() == b""
    # Something copied meanwhile is left alone.
    _wacket(xvfb, "clip", "copy", "--secret", "--ttl", "2", "--to", "local", input=b"pw2")
    xvfb.xclip_set(b"copied later")
    time.sleep(4)
    assert xvfb.xclip_get() == b"copied later"
