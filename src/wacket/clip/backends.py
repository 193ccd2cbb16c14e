"""System clipboards, on this machine or another one, through the backend chosen there at run time.

wl-copy/wl-paste (Wayland), xclip else xsel (X11; CLIPBOARD, or PRIMARY with --primary),
pbcopy/pbpaste (macOS), PowerShell/clip.exe (Windows, WSL), OSC 52 for a terminal over SSH.
The backend code is `clip_backend`/`clip_system_get`/`clip_system_set` in wacket/remote/ops/clip_system.py:
the process that keeps owning the selection is started with stdout/stderr not ours, stdin a pipe we
close, in a new session, so setting the clipboard returns promptly even when our output is captured.
"""

from __future__ import annotations

import base64

from wacket.clip.settings import ClipSettings, Place


class SystemClipboard:
    def __init__(
        self,
        place: Place,
        settings: ClipSettings,
        primary: bool = False,
        backend: str | None = None,
    ):
        self.place = place
        self.args = settings.backend_args(place.host, primary, backend)

    @property
    def host(self) -> str:
        return self.place.name

    def get(self, unless_sha256: str | None = None) -> dict:
        """{backend, kind, mime, size, sha256, sensitive, data (bytes, absent if unchanged)}."""
        got = self.place.call("clip.system.get", unless_sha256=unless_sha256, **self.args)
        if "data_b64" in got:
            got["data"] = base64.b64decode(got.pop("data_b64"))
        return got

    def set(self, data: bytes, mime: str | None = None, clear_after: float | None = None) -> dict:
        """Put `data` on the clipboard; with `clear_after`, empty it again after that many seconds
        unless something else was copied meanwhile (for passwords)."""
        return self.place.call(
            "clip.system.set",
            data_b64=base64.b64encode(data).decode("ascii"),
            mime=mime,
            clear_after=clear_after,
            **self.args,
        )

    def probe(self) -> str:
        return self.place.call("clip.system.probe", **self.args)["backend"]


def mime_for(entry: dict, data: bytes) -> str | None:
    """The target type an entry goes onto a system clipboard as (None: plain text)."""
    kind, mime = entry.get("kind"), entry.get("mime")
    if kind in ("text", "link"):
        return None
    if kind == "html":
        return "text/html"
    if mime and mime.startswith("image/"):
        return mime
    if kind == "file" and mime in (None, "text/plain"):
        from wacket.clip.kinds import is_text

        return None if is_text(data) else "application/octet-stream"
    return mime or "application/octet-stream"
