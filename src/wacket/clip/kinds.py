"""Kind detection (text, link, HTML, image, binary, file) and how entries are shown."""

from __future__ import annotations

import time

from wacket.remote.ops import clip_kinds as shared

EXTENSIONS = {
    "text": ".txt",
    "link": ".url.txt",
    "html": ".html",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
}


def detect(data: bytes, name: str | None = None, mime: str | None = None) -> tuple[str, str | None]:
    """(kind, mime) of a payload; `name` makes it a file entry."""
    return shared.clip_kind(data, name, mime)


def is_text(data: bytes) -> bool:
    return shared.clip_is_text(data)


def extension(entry: dict) -> str:
    return EXTENSIONS.get(entry.get("mime") or "", EXTENSIONS.get(entry.get("kind"), ".bin"))


def record(entry: dict, hub: str, now: float | None = None) -> dict:
    """The row `clip list` shows for one entry."""
    from wacket.output import human_bytes
    from wacket.timeparse import age, iso

    now = time.time() if now is None else now
    preview = entry.get("preview") or ""
    if entry.get("secret"):
        preview = f"(secret, expires in {max(0, int(entry['expires'] - now))}s)"
    elif entry.get("kind") == "file":
        preview = entry.get("name") or ""
    elif not preview:
        preview = f"({entry.get('mime') or entry.get('kind')})"
    return {
        "n": entry["n"],
        "id": entry["id"],
        "kind": entry["kind"],
        "size": None if entry.get("secret") else entry["size"],
        "size_h": "" if entry.get("secret") else human_bytes(entry["size"]),
        "preview": preview,
        "source": entry.get("source", ""),
        "age": age(max(0, now - entry["time"])),
        "time": iso(entry["time"]),
        "name": entry.get("name"),
        "mime": entry.get("mime"),
        "secret": bool(entry.get("secret")),
        "hub": hub,
    }
