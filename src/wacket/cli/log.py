"""`wacket log`: the history of what wacket changed, on this machine or across the fleet."""

from __future__ import annotations

import json

import click

from wacket.cli.context import connection_options, pass_app
from wacket.output import Renderer, output_options, report_hosts


@click.command()
@click.option("--since", metavar="WHEN", help="Only entries newer than this (1d, 2h, 2026-11-01).")
@click.option("--host", "host", metavar="NAME", help="Only entries that touched this host.")
@click.option("--command", "command", metavar="NAME", help="Only this command (run, sync, …).")
@click.option("--from", "from_", metavar="HOSTSET", help="Merge the journals of these machines.")
@connection_options
@output_options
@pass_app
def log(app, since, host, command, from_, accept_new, connect_timeout, fmt) -> int:
    """Show the journal: every wacket command that changed anything, when, where, outcome.

    \b
    Examples:
      wacket log --since 1d
      wacket log --host nas --command backup
      wacket log --from all --since 7d --jsonl
    """
    from wacket import journal, timeparse
    from wacket.transport.fanout import fan_out_ordered
    from wacket.transport.result import HostResults, Policy

    start = timeparse.since(since) if since else 0
    rows = [dict(r, machine_name="local") for r in journal.query(start, host, command)]
    results, counts = HostResults(), {}
    if from_ is not None:
        pool = app.pool(accept_new, connect_timeout)
        remote = [h for h in app.fleet.select(from_) if not h.is_local]

        def fetch(h):
            return list(pool.session(h).helper().stream("journal.read", since=start))

        results = HostResults(fan_out_ordered(remote, fetch))
        for res in results.succeeded:
            found = [r for r in res.value if journal.matches(r, host, command)]
            rows += [dict(r, machine_name=res.host) for r in found]
            counts[res.host] = len(found)
        rows.sort(key=lambda r: r["started"])
    columns = ["time", "machine", "command", "hosts", "outcome", "seconds", "summary"]
    with Renderer(fmt, None if fmt in ("json", "jsonl") else columns) as out:
        for r in rows:
            out.emit(
                {
                    "time": timeparse.iso(r["started"]),
                    "machine": r["machine_name"] if r["machine_name"] != "local" else r["machine"],
                    "user": r["user"],
                    "command": r["command"],
                    "hosts": json.loads(r["hosts"]),
                    "outcome": r["outcome"],
                    "exit_code": r["exit_code"],
                    "seconds": r["seconds"],
                    "summary": r["summary"],
                }
            )
        report_hosts(out, results, counts, "no journal entries")
    return results.exit_code(Policy.LAST)
