"""JSON lines as a source: `wacket links export --jsonl` (or any tool) | `wacket links merge -`.

Each record needs `url`; optional `title`, a visit time (`time`, else `last_visit`: µs since 1970,
seconds since 1970 or an ISO date), and for bookmarks `folder` and `tags` (a list or a comma string)
or `bookmarked: true`. A record with neither a time nor a bookmark field still creates the link.
"""

from __future__ import annotations

from datetime import datetime

from wacket.errors import ConfigError
from wacket.links.model import Bookmark


def to_us(value) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        v = float(value)
        return int(v if v > 1e14 else v * 1_000_000)  # µs already, else seconds
    try:
        return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() * 1e6)
    except ValueError:
        return None


def split_records(records: list[dict]) -> tuple[list[tuple[str, str, int]], list[Bookmark]]:
    visits: list[tuple[str, str, int]] = []
    marks: list[Bookmark] = []
    for number, r in enumerate(records, 1):
        url = r.get("url")
        if not isinstance(url, str) or not url:
            raise ConfigError(f"stdin record {number}: no url")
        title = str(r.get("title") or "")
        t = to_us(r.get("time", r.get("last_visit")))
        tags = r.get("tags") or []
        if isinstance(tags, str):
            tags = [x.strip() for x in tags.split(",") if x.strip()]
        if "folder" in r or tags or r.get("bookmarked") or r.get("bookmarks"):
            marks.append(
                Bookmark(url, title, str(r.get("folder") or ""), list(tags), to_us(r.get("added")))
            )
        visits.append((url, title, t if t is not None else 0))
    # A record without a time makes the link but no visit (time 0).
    return visits, marks
