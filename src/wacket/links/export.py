"""Exports of the master database: Netscape HTML bookmarks; links as JSON, JSON lines or CSV."""

from __future__ import annotations

import csv
import json

from wacket.links import netscape
from wacket.links.model import Bookmark
from wacket.output import dumps

FIELDS = [
    "url",
    "title",
    "site",
    "visits",
    "first_visit",
    "last_visit",
    "folder",
    "folders",
    "tags",
]


def html(master, stream) -> int:
    """One entry per (folder, URL): the same link bookmarked in three browsers under the same
    folder path appears once; under different folders once in each."""
    seen = set()
    items = []
    for p in master.placements():
        key = (p["folder"], p["url"])
        if key in seen:
            continue
        seen.add(key)
        tags = [t for t in p["tags"].split(",") if t]
        items.append(Bookmark(p["url"], p["title"], p["folder"], tags, p["added"]))
    return netscape.write(items, stream)


def _iso(us):
    from wacket import timeparse

    return timeparse.iso(us / 1e6) if us else ""


def iter_records(master, bookmarked: bool, csv_form: bool = False):
    """Per link; JSON gets its `visit_times` (µs), so `links merge -` reads back the same visits."""
    conn = master.conn
    folders: dict[int, tuple[set, set]] = {}
    for link_id, folder, tags in conn.execute("SELECT link_id, folder, tags FROM placements"):
        f, t = folders.setdefault(link_id, (set(), set()))
        f.add(folder)
        t.update(x for x in tags.split(",") if x)
    times: dict[int, list[int]] = {}
    if not csv_form:
        for link_id, t in conn.execute("SELECT link_id, time FROM visits ORDER BY link_id, time"):
            times.setdefault(link_id, []).append(t)
    sql = "SELECT id, url, title, site, visit_count, first_visit, last_visit FROM links"
    if bookmarked:
        sql += " WHERE bookmarks > 0"
    for link_id, url, title, site, n, first, last in conn.execute(sql + " ORDER BY id"):
        f, t = folders.get(link_id, (set(), set()))
        rec = {
            "url": url,
            "title": title,
            "site": site,
            "visits": n,
            "first_visit": _iso(first),
            "last_visit": _iso(last),
            "folder": min(f) if f else None,
            "folders": sorted(f),
            "tags": sorted(t),
        }
        if not csv_form:
            rec["visit_times"] = times.get(link_id, [])
        yield rec


def records(master, stream, form: str, bookmarked: bool) -> int:
    count = 0
    if form == "csv":
        writer = csv.writer(stream)
        writer.writerow(FIELDS)
        for r in iter_records(master, bookmarked, csv_form=True):
            writer.writerow(
                [r[k] if not isinstance(r[k], list) else ";".join(r[k]) for k in FIELDS]
            )
            count += 1
        return count
    if form == "json":
        stream.write("[")
    for r in iter_records(master, bookmarked):
        if form == "json":
            stream.write(("\n" if count == 0 else ",\n") + json.dumps(r, ensure_ascii=False))
        else:
            stream.write(dumps(r) + "\n")
        count += 1
    if form == "json":
        stream.write("\n]\n")
    return count
