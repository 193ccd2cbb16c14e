"""JSON lines as a source: `wacket links export --jsonl` (or any tool) | `wacket links merge -`.

Each record needs `url`; optional `title`; its visits: `visit_times` (a list of µs since 1970, as
`links export --jsonl` writes them), else one visit at `time`, else at `last_visit` (µs or seconds
since 1970, or an ISO date). A bookmark: `folders` (a list, one placement per folder path; an empty
list is no bookmark), else `folder` (a string; "" is the top level; null is no bookmark), `tags` (a
list or a comma string) or `bookmarked: true`. A record without a time or a bookmark still creates
the link. So what `links export --jsonl` writes reads back as the same links, visits and folders.
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


def split_records(
    records: list[dict],
) -> tuple[list[tuple[str, str, list[int]]], list[Bookmark]]:
    """(url, title, visit times) per record, and the bookmarks the records make."""
    visits: list[tuple[str, str, list[int]]] = []
    marks: list[Bookmark] = []
    for number, r in enumerate(records, 1):
        url = r.get("url")
        if not isinstance(url, str) or not url:
            raise ConfigError(f"stdin record {number}: no url")
        title = str(r.get("title") or "")
        times = r.get("visit_times")
        if isinstance(times, list):
            try:
                times = [int(t) for t in times]
            except (TypeError, ValueError):
                raise ConfigError(f"stdin record {number}: visit_times: not µs numbers") from None
        else:
            t = to_us(r.get("time", r.get("last_visit")))
            times = [t] if t else []
        tags = r.get("tags") or []
        if isinstance(tags, str):
            tags = [x.strip() for x in tags.split(",") if x.strip()]
        folders = r.get("folders")
        if not isinstance(folders, list):
            folder = r.get("folder")
            marked = isinstance(folder, str) or tags or r.get("bookmarked") or r.get("bookmarks")
            folders = [folder if isinstance(folder, str) else ""] if marked else []
        added = to_us(r.get("added"))
        marks += [Bookmark(url, title, str(f), list(tags), added) for f in folders]
        visits.append((url, title, times))
    return visits, marks
