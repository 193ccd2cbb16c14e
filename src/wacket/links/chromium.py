"""Chromium family (Chrome, Chromium, Edge, Brave, Vivaldi): `History` (SQLite) and `Bookmarks` (JSON).

History is `urls` (one row per URL) + `visits` (`visit_time` in µs since 1601-01-01, the WebKit
epoch; `transition` holds the core type in its low byte). Subframe navigations (AUTO_SUBFRAME 3,
MANUAL_SUBFRAME 4) are not pages the user opened and are skipped.
Bookmarks is a JSON file: `roots` -> `bookmark_bar`, `other`, `synced`, each a folder node with
`children`; a URL node has `name`, `url` and `date_added` (WebKit µs, as a string).
"""

from __future__ import annotations

import json
from pathlib import Path

from wacket.links.model import UNIX_EPOCH_IN_WEBKIT_US, Bookmark, case_sql

NAME = "chromium"
TABLES = {"urls", "visits", "meta"}
SKIP_CORE = (3, 4)
TRANSITIONS = {
    0: "link",
    1: "typed",
    2: "bookmark",
    5: "generated",
    6: "link",
    7: "form",
    8: "reload",
    9: "generated",
    10: "generated",
}
ROOT_NAMES = {
    "bookmark_bar": "Bookmarks bar",
    "other": "Other bookmarks",
    "synced": "Mobile bookmarks",
}


def max_visit_sql() -> str:
    return "SELECT coalesce(max(id), 0) FROM src.visits"


def visit_time_sql() -> str:
    """The time (µs, WebKit epoch) of the newest visit at or below a watermark."""
    return "SELECT visit_time FROM src.visits WHERE id <= ? ORDER BY id DESC LIMIT 1"


def places_sql() -> str:
    """Like firefox.places_sql: URLs visited after the watermark or since a time (µs, WebKit)."""
    return (
        "SELECT u.id, u.url, u.title,"
        f" CASE WHEN u.last_visit_time > 0 THEN u.last_visit_time - {UNIX_EPOCH_IN_WEBKIT_US}"
        " ELSE 0 END FROM src.urls u WHERE u.id IN (SELECT url FROM src.visits"
        f" WHERE (id > ? OR visit_time >= ?) AND (transition & 255) NOT IN {SKIP_CORE})"
    )


def visits_sql() -> str:
    return (
        f"SELECT url AS place_id, visit_time - {UNIX_EPOCH_IN_WEBKIT_US} AS t,"
        f" {case_sql('(transition & 255)', TRANSITIONS)} AS k"
        f" FROM src.visits WHERE id > ? AND (transition & 255) NOT IN {SKIP_CORE}"
        " AND visit_time > 0"
    )


class BookmarksError(ValueError):
    pass


def read_bookmarks(path: Path) -> list[Bookmark]:
    try:
        data = json.loads(Path(path).read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise BookmarksError(f"not a Chromium Bookmarks file ({exc})") from None
    roots = data.get("roots") if isinstance(data, dict) else None
    if not isinstance(roots, dict):
        raise BookmarksError("not a Chromium Bookmarks file (no roots)")
    out: list[Bookmark] = []
    for key, node in roots.items():
        if isinstance(node, dict) and node.get("type") == "folder":
            name = ROOT_NAMES.get(key) or node.get("name") or key
            _walk(node.get("children") or [], name, out)
    return out


def _walk(children: list, folder: str, out: list[Bookmark]) -> None:
    for node in children:
        if not isinstance(node, dict):
            continue
        name = str(node.get("name") or "")
        if node.get("type") == "url" and node.get("url"):
            out.append(
                Bookmark(str(node["url"]), name, folder, [], webkit_to_unix(node.get("date_added")))
            )
        elif node.get("type") == "folder":
            _walk(node.get("children") or [], f"{folder}/{name.replace('/', '∕')}", out)


def webkit_to_unix(value) -> int | None:
    try:
        v = int(value)
    except (TypeError, ValueError):
        return None
    return v - UNIX_EPOCH_IN_WEBKIT_US if v > 0 else None
