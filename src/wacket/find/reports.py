"""The records of the `wacket find` reports: catalog ages (--stale), duplicate groups, the copies
of one file, the files one host lacks; `human` (table) shows sizes as 1.2M."""

from __future__ import annotations

from collections.abc import Iterator

from wacket.errors import WacketError


def _size(n: int, human: bool):
    from wacket.output import human_bytes

    return human_bytes(n) if human else n


def stale_records(names: list[str] | None) -> list[dict]:
    """Each host's catalog: entries, when indexed, how long ago, the last attempt and error
    (`names`: these hosts, None: every catalog and every host tried)."""
    import time

    from wacket import timeparse
    from wacket.find import catalog

    status = catalog.load_status()
    catalogs = {c.host: c for c in catalog.open_catalogs(names)}
    wanted = names if names is not None else sorted(set(catalogs) | set(status))
    now = time.time()
    records = []
    for name in wanted:
        c = catalogs.get(name)
        st = status.get(name, {})
        records.append(
            {
                "host": name,
                "entries": c.count if c else 0,
                "indexed": timeparse.iso(c.indexed_at) if c else "never",
                "age": timeparse.age(now - c.indexed_at) if c else "",
                "last_attempt": timeparse.iso(st.get("last_attempt")),
                "last_error": st.get("last_error") or "",
                "errors": c.meta.get("error_count", 0) if c else None,
                "roots": c.meta.get("roots") if c else None,
            }
        )
        if c:
            c.close()
    return records


def dupe_records(catalogs, min_size: str, human: bool) -> tuple[list[dict], int]:
    """One record per copy of each duplicate group (at least `min_size`, 10M), biggest waste
    first, and how many groups there are."""
    from wacket import timeparse
    from wacket.find import dupes

    groups = dupes.dupes(catalogs, timeparse.size(min_size))
    records = [
        {
            "group": group.number,
            "hash": group.hash[:12] if human else group.hash,
            "size": _size(group.size, human),
            "copies": len(group.copies),
            "wasted": _size(group.wasted, human),
            "host": host,
            "path": path,
        }
        for group in groups
        for host, path in group.copies
    ]
    return records, len(groups)


def where_records(target, catalogs, fleet, human: bool) -> Iterator[dict]:
    """The copies of `target` (`dupes.describe_target`) in `catalogs`, each with whether its
    host is up now."""
    from wacket.find import dupes, query

    probe = query.Probe([fleet.hosts[c.host] for c in catalogs if c.host in fleet.hosts])
    for host, path, size, how in dupes.where(target, catalogs):
        up = probe.get(host)
        yield {
            "host": host,
            "path": path,
            "size": _size(size, human),
            "match": how,
            "up": "?" if up is None else ("up" if up else "down"),
        }


def host_catalogs(*names: str) -> dict:
    """The catalogs of hosts `names`; a host without one is an error saying how to make it."""
    from wacket.find import catalog

    cats = {}
    for name in names:
        c = catalog.open_catalog(name)
        if c is None:
            raise WacketError(f"{name}: no catalog yet: run `wacket find index {name}`")
        cats[name] = c
    return cats


def missing_records(cat_a, cat_b, host_a: str, min_size: str, under, human: bool):
    """(record, size) of each file of `cat_a` (under `under`) whose content `cat_b` lacks."""
    from wacket import timeparse
    from wacket.find import dupes

    for path, size, mtime in dupes.missing(cat_a, cat_b, timeparse.size(min_size), under):
        rec = {
            "host": host_a,
            "path": path,
            "size": _size(size, human),
            "mtime": timeparse.iso(mtime / 1e9),
        }
        yield rec, size


def searched(names, catalogs) -> list:
    """Each host whose catalog was searched, and each one asked for that has none, as the
    HostResults `report_hosts` accounts for."""
    from wacket.errors import HostError
    from wacket.transport.result import HostResult

    have = {c.host for c in catalogs}
    results = [HostResult(c.host, c) for c in catalogs]
    missing = "no catalog yet: run `wacket find index`"
    return results + [
        HostResult(n, error=HostError(n, missing)) for n in names or () if n not in have
    ]
