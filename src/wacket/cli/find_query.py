"""The body of `wacket find PATTERN`: catalogs searched, hits rendered.

Free of click, so that the quick entry point (wacket.cli.entry) can run a query without loading
it; the click command in wacket.cli.find parses the same options and calls `run`.
"""

from __future__ import annotations

import sys

from wacket.errors import Exit, WacketError
from wacket.output import Renderer


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


def run(
    app,
    pattern,
    hostset=None,
    exts=(),
    larger=None,
    smaller=None,
    newer=None,
    older=None,
    types=(),
    regex=False,
    fixed=False,
    case_sensitive=False,
    basename=False,
    text=None,
    online_only=False,
    no_check=False,
    stale=False,
    limit=None,
    count=False,
    null=False,
    fmt=None,
) -> int:
    """Search the catalogs of `hostset` (all of them by default) and print the hits; the
    parameters are the query command's options. Exit.OK if anything was found, else PARTIAL."""
    from wacket import timeparse
    from wacket.find import catalog, query

    hosts = hosts_for(app, hostset)
    catalogs = catalog.open_catalogs(hosts)
    if not catalogs:
        raise WacketError(
            "no catalog yet" + (f" for {hostset}" if hostset else "") + ": run `wacket find index`"
        )
    probe = None
    if online_only or not no_check:
        # This machine is always up; the fleet (config, ~/.ssh/config) is read only when another
        # host's catalog is searched, as its address is needed ("local" is wacket.fleet.LOCAL,
        # not imported here: the query's start-up time matters).
        others = [c.host for c in catalogs if c.host != "local"]
        fleet = app.fleet.hosts if others else {}
        probe = query.Probe([fleet[h] for h in others if h in fleet], up=["local"])
    if online_only:
        catalogs = [c for c in catalogs if probe.get(c.host)]
    q = query.Query(
        pattern,
        regex=regex,
        literal=fixed,
        case_sensitive=case_sensitive,
        basename=basename,
        exts=list(exts),
        larger=timeparse.size(larger) if larger else None,
        smaller=timeparse.size(smaller) if smaller else None,
        newer=timeparse.since(newer) if newer else None,
        older=timeparse.since(older) if older else None,
        types="".join(types) or None,
        limit=limit,
    )
    if text:
        import itertools

        matcher = query.Matcher(q)
        results = (
            (h, s)
            for h, s in query.text_search(text, catalogs)
            if (pattern is None or _matches_pattern(matcher, h.path))
            and matcher.verify(h.path, h.path.rsplit("/", 1)[-1])
            and query.accepts(q, h)
        )
        if limit:
            results = itertools.islice(results, limit)
    else:
        results = ((hit, None) for hit in query.search(q, catalogs))
    ages = {c.host: timeparse.iso(c.indexed_at) for c in catalogs}
    found = 0
    if count or null:
        out = sys.stdout.buffer
        for hit, _snip in results:
            found += 1
            if null:
                out.write(catalog.fs(hit.host + ":" + hit.path) + b"\0")
        if count:
            out.write(b"%d\n" % found)
        out.flush()
    else:
        from wacket.output import human_bytes, plain_field, resolve

        iso = timeparse.iso

        fmt = resolve(fmt)
        columns = ["host", "path", "size", "mtime", "up"]
        if stale:
            columns.append("indexed")
        if text:
            columns.append("snippet")
        plain, hosts_f = fmt == "plain", {}
        with _Results(fmt, columns) as out:
            for hit, snip in results:
                found += 1
                up = None if probe is None else probe.get(hit.host)
                up = "?" if up is None else ("up" if up else "down")
                mtime = iso(hit.mtime_ns // 1_000_000_000)
                if plain:  # the columns straight to a line: a third of the work of a record
                    host = hosts_f.get(hit.host)
                    if host is None:
                        host = hosts_f[hit.host] = plain_field(hit.host)
                    line = f"{host}\t{plain_field(hit.path)}\t{hit.size}\t{mtime}\t{up}"
                    if stale:
                        line += "\t" + ages[hit.host]
                    if text:
                        line += "\t" + plain_field(snip)
                    out.line(line)
                    continue
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
                out.emit(rec)
    for c in catalogs:
        c.close()
    return Exit.OK if found else Exit.PARTIAL


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
