"""One `wacket links merge`: the sources named or discovered, merged into the master database
under one journal entry and lock, each merged source's record handed to the caller to render."""

from __future__ import annotations

from wacket.errors import Exit

COLUMNS = ["host", "browser", "profile", "kind", "new_visits", "new_links", "bookmarks",
           "skipped", "seconds"]  # fmt: skip


def _summary(totals: dict, failures) -> str:
    """The journal entry's summary: sources merged, what they added, how many failed."""
    return (
        f"{totals['merged']} sources merged, {totals['new_visits']} new visits, "
        f"{totals['new_links']} new links" + (f", {len(failures)} failed" if failures else "")
    )


def _located(specs, fleet, stdin):
    """The SOURCES given (`sources.Located`), and the JSON lines records of `-` (or None)."""
    from wacket.links import sources as lib

    located, stdin_records = [], None
    for spec in specs:
        if spec == "-":
            from wacket.output import read_jsonl

            stdin_records = list(read_jsonl(stdin))
            continue
        host, path = lib.parse_spec(spec, fleet.get)
        located.append(lib.Located(host, path, spec))
    return located, stdin_records


def merge(fleet, open_pool, specs, *, discover, full, name, db, stdin, note, warn, output) -> Exit:
    """Merge SOURCES `specs` (and with `discover`, the profiles found on that HOSTSET) into the
    master database `db`; `open_pool()` gives the SSH pool the first time a host is asked.
    `output()` opens the caller's renderer once the journal entry is open; each merged source's
    record goes to its `emit`, each failure's text to `warn`. The exit code: partial
    when a source failed, unreachable when every failed host was."""
    from wacket import jobrun
    from wacket.links import sources as lib
    from wacket.links.listing import discovered, merge_jsonl
    from wacket.links.master import Master
    from wacket.transport.result import HostResult, HostResults, Policy

    pool = None

    def session_for(host):
        nonlocal pool
        if pool is None:
            pool = open_pool()
        return pool.session(host)

    located, stdin_records = _located(specs, fleet, stdin)
    failures = HostResults()  # a failed host of the discovery or source, with its error
    if discover is not None:
        found, failures = discovered(
            fleet.select(discover), session_for, fleet.get, note, lambda res: warn(f"{res.error}")
        )
        located += found
    hosts = sorted({loc.host.name for loc in located} | ({"local"} if stdin_records else set()))
    totals = {"new_visits": 0, "new_links": 0, "merged": 0}
    with jobrun.run("links merge", hosts, locks=["links-merge"]) as entry:
        with Master(db) as master, output() as out:

            def on_result(res, label, error):
                if error:
                    warn(error)
                    return
                totals["new_visits"] += res.new_visits
                totals["new_links"] += res.new_links
                totals["merged"] += 1
                out.emit(res.record())

            if stdin_records is not None:
                on_result(merge_jsonl(master, name, stdin_records), "-", "")
            failed = lib.merge_all(master, located, session_for, full=full, on_result=on_result)
            failures += [HostResult(label, error=error) for label, error in failed]
        entry.summary = _summary(totals, failures)
        code = failures.exit_code(Policy.ALL_DOWN)
        entry.finish(code, bool(totals["merged"]))
    return code
