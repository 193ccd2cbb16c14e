"""Kind detection and the shared clip code (the same source the remote helper runs)."""

from __future__ import annotations

import shutil
import subprocess
from importlib import resources

import pytest

from wacket.clip import kinds


@pytest.mark.parametrize(
    ("data", "name", "mime", "kind"),
    [
        ("plain words ✓\n".encode(), None, None, "text"),
        (b"https://example.org/x?y=1", None, None, "link"),
        (b"  mailto:me@example.org\n", None, None, "link"),
        (b"see https://example.org there", None, None, "text"),
        (b"https://a.example\nhttps://b.example", None, None, "text"),
        (b"<!DOCTYPE html><html><body>x</body></html>", None, None, "html"),
        (b"<p>para</p>", None, None, "html"),
        (b"1 < 2 and 3 > 2", None, None, "text"),
        (b"anything", None, "text/html", "html"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", None, None, "image"),
        (b"\xff\xd8\xff\xe0JFIF", None, None, "image"),
        (b"GIF89a...", None, None, "image"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", None, None, "image"),
        (b"\x00\x01\x02", None, None, "binary"),
        (b"\xff\xfe not utf-8", None, None, "binary"),
        (b"ok\x07bell", None, None, "binary"),
        (b"text in a file", "notes.txt", None, "file"),
        (b"\x89PNG\r\n\x1a\n", "shot.png", None, "file"),
    ],
)
def test_detect(data: bytes, name, mime, kind: str) -> None:
    assert kinds.detect(data, name, mime)[0] == kind


def test_image_mime_kept() -> None:
    assert kinds.detect(b"\x89PNG\r\n\x1a\n")[1] == "image/png"
    assert kinds.detect(b"\x89PNG\r\n\x1a\n", "a.png")[1] == "image/png"


@pytest.mark.skipif(not shutil.which("vermin"), reason="vermin not installed")
def test_ops_run_on_python_37() -> None:
    ops = resources.files("wacket.remote.ops")
    sources = [str(e) for e in ops.iterdir() if e.name.startswith("clip_")]
    assert len(sources) >= 4
    r = subprocess.run(
        ["vermin", "-t=3.7-", "--violations", "--no-tips", *sources],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
