"""What `wacket links search` and `links stats` show, read from the master database: the links
found with their folders and tags, and the database's counts."""

from __future__ import annotations

STATS_SOURCE_KEYS = ("host", "browser", "profile", "kind", "visits", "bookmarks")


def _iso_us(us):
    from wacket import timeparse

    return timeparse.iso(us / 1e6) if us else ""


def search_records(db, terms: list[str], since: str | None, *, full: bool, **narrow) -> list:
    """The links matching TERMS visited since SINCE (30d, 2026-11-01), best first; `narrow` is
    `Master.search`'s host, bookmarked and limit. `full` (JSON) adds each link's folders and
    tags."""
    from wacket import timeparse
    from wacket.links.master import Master

    since_us = int(timeparse.since(since) * 1e6) if since else None
    with Master(db) as master:
        rows = master.search(terms, since_us=since_us, **narrow)
        marks: dict[int, list] = {}
        if rows and full:
            for p in master.placements([r["id"] for r in rows]):
                marks.setdefault(p["link_id"], []).append(p)
    records = []
    for r in rows:
        rec = {
            "url": r["url"],
            "title": r["title"],
            "site": r["site"],
            "visits": r["visit_count"],
            "first_visit": _iso_us(r["first_visit"]),
            "last_visit": _iso_us(r["last_visit"]),
            "bookmarked": r["bookmarks"] > 0,
            "score": r["score"],
        }
        if full:
            ps = marks.get(r["id"], [])
            rec["folders"] = sorted({p["folder"] for p in ps})
            rec["tags"] = sorted({t for p in ps for t in p["tags"].split(",") if t})
        records.append(rec)
    return records


def stats_record(db, full: bool) -> dict:
    """Counts of links, visits, bookmarks, sources and hosts, the file and its size; `full`
    (JSON) adds each source's counts and keeps the size in bytes."""
    from wacket.links.master import Master
    from wacket.output import human_bytes

    with Master(db) as master:
        s = master.stats()
        per_source = master.sources()
    s["first_visit"] = _iso_us(s["first_visit"])
    s["last_visit"] = _iso_us(s["last_visit"])
    if full:
        s["per_source"] = [
            {k: v for k, v in p.items() if k in STATS_SOURCE_KEYS} for p in per_source
        ]
    else:
        s["size"] = human_bytes(s.pop("bytes"))
    return s
