"""What `wacket links sources` lists and `links merge --discover` finds: browser profiles as rows
and as sources to merge."""

from __future__ import annotations


def known_row(s: dict) -> dict:
    """A source merged before, as `links sources` shows it."""
    from wacket import timeparse

    return {
        "host": s["host"],
        "browser": s["browser"],
        "profile": s["profile"],
        "kind": s["kind"],
        "path": s["path"],
        "last_merged": timeparse.iso(s["last_merged"]) if s["last_merged"] else "never",
        "outcome": s["last_outcome"] or "",
        "visits": s["visits"],
        "bookmarks": s["bookmarks"],
        "error": s["last_error"] or "",
    }


def found_rows(results, seen: set[str]) -> list[dict]:
    """The profiles discovery found (each host's HostResult) that are not merged yet."""
    from wacket.links.discover import browser_of

    rows = []
    for res in results.succeeded:
        for p in res.value:
            if f"{res.host}:{p}" in seen:
                continue
            kind = (
                "firefox"
                if p.endswith("places.sqlite")
                else "chromium-bookmarks"
                if p.endswith("Bookmarks")
                else "chromium"
            )
            rows.append(
                {"host": res.host, "browser": browser_of(p, kind), "path": p, "kind": kind,
                 "profile": p.rsplit("/", 2)[-2], "last_merged": "never", "outcome": "found",
                 "visits": 0, "bookmarks": 0, "error": ""}
            )  # fmt: skip
    return rows


def discovered(hosts, session_for, fleet_get, note, on_error):
    """The browser profiles on `hosts` as sources to merge (`sources.Located`), and the hosts
    that could not be asked (HostResults; each also to `on_error`)."""
    from wacket.links.discover import discover as find
    from wacket.links.sources import Located
    from wacket.transport.fanout import fan_out_ordered
    from wacket.transport.result import HostResults

    located, failures = [], HostResults()
    for res in fan_out_ordered(hosts, lambda h: find(session_for(h))):
        if not res.ok:
            on_error(res)
            failures.append(res)
            continue
        host = fleet_get(res.host)
        if not res.value:
            note(f"{res.host}: no browser profiles found")
        located += [Located(host, p, f"{res.host}:{p}") for p in res.value]
    return located, failures


def merge_jsonl(master, name: str, records: list):
    """Records read from stdin (`links merge -`) merged as the source `local:-:NAME`."""
    from wacket.fleet import LOCAL
    from wacket.links.master import SourceInfo

    info = SourceInfo(f"{LOCAL}:-:{name}", LOCAL, "jsonl", name, "-", "jsonl")
    return master.merge_records(info, records)
