"""The clipboard ring on the hub, seen from any machine: add, list, read, remove, clear.

The store itself (ring.json with metadata only, blobs/<id> 0600, secrets kept out of the history and
shredded after their ttl, a lock, crash-safe writes) is `ClipRing` in wacket/remote/ops/clip.py,
shared with the remote helper; this module is the client that reaches it where the hub is.
"""

from __future__ import annotations

import base64
import os
import socket

from wacket.clip.settings import ClipSettings, Place


class Ring:
    def __init__(self, place: Place, settings: ClipSettings):
        self.place = place
        self.settings = settings

    @property
    def hub(self) -> str:
        return self.place.name

    def _call(self, op: str, **args):
        return self.place.call(op, **self.settings.ring_args(), **args)

    def add(
        self,
        data: bytes,
        *,
        kind: str | None = None,
        mime: str | None = None,
        name: str | None = None,
        mode: int | None = None,
        source: str | None = None,
        secret: bool = False,
        ttl: float | None = None,
    ) -> dict:
        from wacket.clip import kinds

        if not kind:
            kind, mime = kinds.detect(data, name, mime)
        meta = {
            "kind": kind,
            "mime": mime,
            "name": name,
            "mode": mode,
            "source": source or self.settings.name or socket.gethostname(),
        }
        return self._call(
            "clip.ring.add",
            data_b64=base64.b64encode(data).decode("ascii"),
            meta=meta,
            secret=secret,
            ttl=ttl or self.settings.ttl,
        )

    def entries(self) -> list[dict]:
        return self._call("clip.ring.list")

    def get(self, n: int = 1) -> tuple[dict, bytes]:
        got = self._call("clip.ring.get", n=n)
        return got["entry"], base64.b64decode(got["data_b64"])

    def remove(self, n: int) -> dict:
        return self._call("clip.ring.rm", n=n)

    def clear(self) -> int:
        return self._call("clip.ring.clear")["removed"]


def safe_name(name: str | None, entry: dict) -> str:
    """A file name to recreate an entry under: its own base name, never a path."""
    from wacket.clip.kinds import extension

    base = os.path.basename((name or "").replace("\\", "/")) if name else ""
    if base in ("", ".", ".."):
        base = f"clip-{entry['id']}{extension(entry)}"
    return base
