"""The clipboard ring on the hub, seen from any machine: add, list, read, remove, clear.

The store itself (ring.json with metadata only, blobs/<id> 0600, secrets kept out of the history and
shredded after their ttl, a lock, crash-safe writes) is `ClipRing` in wacket/remote/ops/clip_ring.py,
shared with the remote helper; this module is the client that reaches it where the hub is.
"""

from __future__ import annotations

import base64
import os
import secrets
import socket

from wacket.clip.settings import ClipSettings, Place
from wacket.errors import WacketError

# Payloads above this size travel as raw bytes on an SSH channel of their own, not inside JSON.
BULK_MIN = 256 * 1024


class Ring:
    def __init__(self, place: Place, settings: ClipSettings):
        self.place = place
        self.settings = settings
        self._staging: str | None = None

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
        extra = {"secret": secret, "ttl": ttl or self.settings.ttl}
        # A secret always goes inline: a staged upload would be a file on the hub's disk.
        session = None if secret else self._bulk_session(len(data))
        if session is None:
            return self._call(
                "clip.ring.add", data_b64=base64.b64encode(data).decode("ascii"), meta=meta, **extra
            )
        # A big payload goes as raw bytes on a channel of its own (no JSON, no base64), then the
        # hub adopts the uploaded file.
        if self._staging is None:
            self._staging = self._call("clip.ring.stage")["dir"]
        staged = f"{self._staging}/{secrets.token_hex(12)}"
        result = session.run(["sh", "-c", 'umask 077 && cat > "$1"', "sh", staged], input=data)
        if result.rc != 0:
            raise WacketError(
                f"{self.hub}: upload to the clipboard hub failed: "
                + result.stderr.decode("utf-8", "replace").strip()
            )
        return self._call("clip.ring.add", staged=staged, meta=meta, **extra)

    def _bulk_session(self, size: int):
        """The SSH session for a bulk transfer of `size` bytes, or None to send it inline."""
        if self.place.host.is_local or size <= BULK_MIN:
            return None
        return self.place.session()

    def entries(self) -> list[dict]:
        return self._call("clip.ring.list")

    def get(self, n: int = 1) -> tuple[dict, bytes]:
        if self.place.host.is_local:
            got = self._call("clip.ring.get", n=n)
            return got["entry"], base64.b64decode(got["data_b64"])
        got = self._call("clip.ring.get", n=n, inline_max=BULK_MIN)
        if "path" in got:
            result = self.place.session().run(["cat", got["path"]])
            if result.rc == 0 and len(result.stdout) == got["entry"]["size"]:
                return got["entry"], result.stdout
            # Trimmed or removed in between: ask once more, by id, inline.
            got = self._call("clip.ring.get", id=got["entry"]["id"])
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
