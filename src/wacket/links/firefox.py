"""Firefox (and other Gecko browsers): `places.sqlite`.

History is `moz_places` (one row per URL) + `moz_historyvisits` (one row per visit, `visit_date`
in µs since 1970). Bookmarks are `moz_bookmarks` rows (type 1 bookmark, 2 folder, 3 separator)
under the roots `menu________`, `toolbar_____`, `unfiled_____`, `mobile______`; a tag is a folder
under `tags________` holding a bookmark of each tagged place.
Visits of type EMBED (4) and FRAMED_LINK (8) are not pages the user opened and are skipped.
"""

from __future__ import annotations

import sqlite3

from wacket.links.model import Bookmark, case_sql

NAME = "firefox"
TABLES = {"moz_places", "moz_historyvisits", "moz_bookmarks"}
SKIP_TYPES = (4, 8)
VISIT_TYPES = {
    1: "link",
    2: "typed",
    3: "bookmark",
    5: "redirect",
    6: "redirect",
    7: "download",
    9: "reload",
}
ROOTS = {
    "menu________": "Bookmarks Menu",
    "toolbar_____": "Bookmarks Toolbar",
    "unfiled_____": "Other Bookmarks",
    "mobile______": "Mobile Bookmarks",
}
TAGS_ROOT = "tags________"


def max_visit_sql() -> str:
    return "SELECT coalesce(max(id), 0) FROM src.moz_historyvisits"


def visit_time_sql() -> str:
    """The time (µs) of the newest visit at or below a watermark."""
    return "SELECT visit_date FROM src.moz_historyvisits WHERE id <= ? ORDER BY id DESC LIMIT 1"


def places_sql() -> str:
    """(place_id, url, title, last_visit_us) of places with visits newer than the watermark or
    than a time (µs): Firefox stores a page's title after its visit, so a merge between the two
    must see the place again."""
    return (
        "SELECT p.id, p.url, p.title, coalesce(p.last_visit_date, 0) FROM src.moz_places p"
        " WHERE p.id IN (SELECT place_id FROM src.moz_historyvisits WHERE (id > ? OR visit_date >= ?)"
        f" AND visit_type NOT IN {SKIP_TYPES})"
    )


def visits_sql() -> str:
    """(place_id, time_us, kind) of visits newer than the watermark."""
    return (
        f"SELECT place_id, visit_date AS t, {case_sql('visit_type', VISIT_TYPES)} AS k"
        f" FROM src.moz_historyvisits WHERE id > ? AND visit_type NOT IN {SKIP_TYPES}"
        " AND visit_date IS NOT NULL"
    )


def bookmarks(conn: sqlite3.Connection) -> list[Bookmark]:
    rows = conn.execute(
        "SELECT b.id, b.type, b.parent, b.title, b.guid, b.dateAdded, p.url, b.fk"
        " FROM src.moz_bookmarks b LEFT JOIN src.moz_places p ON p.id = b.fk"
    ).fetchall()
    nodes = {r[0]: r for r in rows}
    tags_root = next((r[0] for r in rows if r[4] == TAGS_ROOT), None)
    tags: dict[int, list[str]] = {}
    for r in rows:
        parent = nodes.get(r[2])
        if r[1] == 1 and parent is not None and parent[2] == tags_root and r[7] is not None:
            tags.setdefault(r[7], []).append(parent[3] or "")
    paths: dict[int, str | None] = {}

    def folder_path(node_id: int, depth: int = 0) -> str | None:
        """The folder path of a folder, None when it is under the tags root or detached."""
        if node_id in paths:
            return paths[node_id]
        node = nodes.get(node_id)
        if node is None or depth > 100:
            return None
        if node[4] in ROOTS:
            result = ROOTS[node[4]]
        elif node[4] == TAGS_ROOT or node[4] == "root________":
            result = None
        else:
            parent = folder_path(node[2], depth + 1)
            result = None if parent is None else f"{parent}/{(node[3] or '').replace('/', '∕')}"
        paths[node_id] = result
        return result

    out = []
    for r in rows:
        if r[1] != 1 or not r[6]:
            continue
        folder = folder_path(r[2])
        if folder is None:
            continue
        out.append(Bookmark(r[6], r[3] or "", folder, sorted(set(tags.get(r[7], []))), r[5]))
    return out
