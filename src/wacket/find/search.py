"""The body of `wacket find PATTERN`: catalogs searched, hits rendered.

Free of click, so that the quick entry point (wacket.cli.entry) can run a query without loading
it; the click command in wacket.cli.find parses the same options and calls `run` with them as a
`QueryOptions`.
"""

from __future__ import annotations

import sys

from wacket.errors import Exit, WacketError
from wacket.output import Renderer


class QueryOptions:
    """The query command's options (`wacket find query --help`), by their parameter names. A plain
    class, not a dataclass: importing dataclasses (inspect, ast) costs every query ~7 ms."""

    pattern: str | None = None
    hostset: str | None = None
    exts: tuple = ()
    larger: str | None = None
    smaller: str | None = None
    newer: str | None = None
    older: str | None = None
    types: tuple = ()
    regex: bool = False
    fixed: bool = False
    case_sensitive: bool = False
    basename: bool = False
    text: str | None = None
    online_only: bool = False
    no_check: bool = False
    stale: bool = False
    limit: int | None = None
    count: bool = False
    null: bool = False
    fmt: str | None = None

    def __init__(self, **given):
        for name, value in given.items():
            if name.startswith("_") or not hasattr(QueryOptions, name):
                raise TypeError(f"QueryOptions has no option {name!r}")
            setattr(self, name, value)


class _Results(Renderer):
    """The Renderer, writing plain and JSON lines 512 records at a time: the same bytes, without
    two flushes per record (a query can print hundreds of thousands of paths). Plain lines come
    whole from the caller (`line`)."""

    def __init__(self, fmt, columns=None):
        super().__init__(fmt, columns)
        self._buf: list[str] = []

    def emit(self, record: dict) -> None:
        if self.fmt != "jsonl":
            super().emit(record)
            return
        from wacket import output

        self.line(output.dumps(record))

    def line(self, text: str) -> None:
        """A line made by the caller: a plain one from its columns, or a JSON record."""
        self._buf.append(text + "\n")
        self.count += 1
        if len(self._buf) >= 512:
            self._flush()

    def _flush(self) -> None:
        if self._buf:
            from wacket import output

            output.write_text("".join(self._buf))
            output._stdout().flush()
            self._buf = []

    def close(self) -> None:
        self._flush()
        super().close()


def hosts_for(app, hostset: str | None) -> list | None:
    """Host names to search: a host set from the fleet, or every catalog (None)."""
    if hostset is None:
        return None
    from wacket.find import catalog
    from wacket.fleet import hostset_items

    known = set(catalog.catalog_hosts())
    names = []
    for part in hostset_items(hostset):
        if part in known and part not in app.fleet.hosts:  # a host since removed from the fleet
            names.append(part)
            continue
        names.extend(h.name for h in app.fleet.select(part))
    return names


def run(app, opts: QueryOptions) -> int:
    """Search the catalogs of `opts.hostset` (all of them by default) and print the hits.
    Exit.OK if anything was found, else PARTIAL."""
    from wacket.find import catalog

    catalogs = catalog.open_catalogs(hosts_for(app, opts.hostset))
    if not catalogs:
        raise WacketError(
            "no catalog yet"
            + (f" for {opts.hostset}" if opts.hostset else "")
            + ": run `wacket find index`"
        )
    probe = None
    if opts.online_only or not opts.no_check:
        probe = _probe(app, catalogs)
    if opts.online_only:
        catalogs = [c for c in catalogs if probe.get(c.host)]
    results = _hits(opts, catalogs)
    if opts.count or opts.null:
        found = _write_paths(results, opts)
    else:
        found = _render(results, opts, catalogs, probe)
    for c in catalogs:
        c.close()
    return Exit.OK if found else Exit.PARTIAL


def _probe(app, catalogs):
    """Which of the catalogs' hosts answer now."""
    from wacket.find import query

    # This machine is always up; the fleet (config, ~/.ssh/config) is read only when another
    # host's catalog is searched, as its address is needed ("local" is wacket.fleet.LOCAL,
    # not imported here: the query's start-up time matters).
    others = [c.host for c in catalogs if c.host != "local"]
    fleet = app.fleet.hosts if others else {}
    return query.Probe([fleet[h] for h in others if h in fleet], up=["local"])


def _query(opts: QueryOptions):
    from wacket import timeparse
    from wacket.find import query

    return query.Query(
        opts.pattern,
        regex=opts.regex,
        literal=opts.fixed,
        case_sensitive=opts.case_sensitive,
        basename=opts.basename,
        exts=list(opts.exts),
        larger=timeparse.size(opts.larger) if opts.larger else None,
        smaller=timeparse.size(opts.smaller) if opts.smaller else None,
        newer=timeparse.since(opts.newer) if opts.newer else None,
        older=timeparse.since(opts.older) if opts.older else None,
        types="".join(opts.types) or None,
        limit=opts.limit,
    )


def _hits(opts: QueryOptions, catalogs):
    """The hits as (hit, snippet) pairs; the snippet is None but for a --text search."""
    from wacket.find import query

    q = _query(opts)
    if not opts.text:
        return ((hit, None) for hit in query.search(q, catalogs))
    import itertools

    matcher = query.Matcher(q)
    results = (
        (h, s)
        for h, s in query.text_search(opts.text, catalogs)
        if (opts.pattern is None or _matches_pattern(matcher, h.path))
        and matcher.verify(h.path, h.path.rsplit("/", 1)[-1])
        and query.accepts(q, h)
    )
    return itertools.islice(results, opts.limit) if opts.limit else results


def _write_paths(results, opts: QueryOptions) -> int:
    """--count and --null: the number of hits, or their paths NUL-terminated."""
    from wacket.find import catalog

    found = 0
    out = sys.stdout.buffer
    for hit, _snip in results:
        found += 1
        if opts.null:
            out.write(catalog.fs(hit.host + ":" + hit.path) + b"\0")
    if opts.count:
        out.write(b"%d\n" % found)
    out.flush()
    return found


def _render(results, opts: QueryOptions, catalogs, probe) -> int:
    """The hits as a table, plain lines or JSON records; returns how many."""
    from wacket import timeparse
    from wacket.output import resolve

    ages = {c.host: timeparse.iso(c.indexed_at) for c in catalogs}
    fmt = resolve(opts.fmt)
    columns = ["host", "path", "size", "mtime", "up"]
    if opts.stale:
        columns.append("indexed")
    if opts.text:
        columns.append("snippet")
    line = _plain_line(opts, ages) if fmt == "plain" else None
    found = 0
    with _Results(fmt, columns) as out:
        for hit, snip in results:
            found += 1
            up = None if probe is None else probe.get(hit.host)
            up = "?" if up is None else ("up" if up else "down")
            mtime = timeparse.iso(hit.mtime_ns // 1_000_000_000)
            if line is not None:  # the columns straight to a line: a third of a record's work
                out.line(line(hit, snip, up, mtime))
            else:
                out.emit(_record(hit, snip, up, mtime, fmt, ages))
    return found


def _plain_line(opts: QueryOptions, ages: dict):
    """A function that makes a hit's plain line, its host names escaped once per host."""
    from wacket.output import plain_field

    hosts_f: dict[str, str] = {}

    def line(hit, snip, up, mtime) -> str:
        host = hosts_f.get(hit.host)
        if host is None:
            host = hosts_f[hit.host] = plain_field(hit.host)
        text = f"{host}\t{plain_field(hit.path)}\t{hit.size}\t{mtime}\t{up}"
        if opts.stale:
            text += "\t" + ages[hit.host]
        if opts.text:
            text += "\t" + plain_field(snip)
        return text

    return line


def _record(hit, snip, up, mtime, fmt, ages) -> dict:
    from wacket.output import human_bytes

    rec = {
        "host": hit.host,
        "path": hit.path,
        "size": human_bytes(hit.size) if fmt == "table" else hit.size,
        "mtime": mtime,
        "up": up,
        "type": hit.type,
        "hash": hit.hash,
        "indexed": ages[hit.host],
    }
    if hit.link is not None:
        rec["link"] = hit.link
    if snip is not None:
        rec["snippet"] = snip
    return rec


def _matches_pattern(matcher, path: str) -> bool:
    """Check a path against the query's pattern without a names file (for --text results)."""
    from wacket.find import catalog

    q = matcher.q
    if matcher.kind == "substring":
        if q.case_sensitive:
            return q.pattern in path
        return catalog.search_key(q.pattern) in catalog.search_key(path)
    target = path.rsplit("/", 1)[-1] if q.basename else path
    return (
        matcher.rx.search(target) is not None
        if matcher.kind == "regex"
        else bool(matcher.rx.match(target))
    )
