"""`wacket links`: one master database of bookmarks and browsing history from every browser."""

from __future__ import annotations

import sys

import click

from wacket.cli.context import Completes, connection_options, pass_app
from wacket.errors import Exit
from wacket.output import Renderer, output_options, report_hosts


def db_option(fn):
    return click.option(
        "--into",
        "--db",
        "db",
        type=click.Path(dir_okay=False),
        metavar="FILE",
        help="The master database (default: links.sqlite in the data dir).",
    )(fn)


def _master(db):
    from wacket.links.master import Master

    return Master(db)


@click.group()
def links() -> None:
    """Merge bookmarks and history of every browser on every machine into one database.

    \b
    Examples:
      wacket links merge ~/.mozilla/firefox ~/.config/chromium
      wacket links merge --discover all
      wacket links merge laptop:~/.mozilla/firefox bookmarks.html
      wacket links search rust --since 30d
      wacket links search rust --jsonl | jq -r .url
      wacket links export --html > bookmarks.html
    """


@links.command()
@click.argument("sources", nargs=-1, type=Completes("path"))
@click.option(
    "--discover", "discover", metavar="HOSTSET", help="Find browser profiles on these hosts."
)
@click.option("--full", is_flag=True, help="Read every visit again (still adds nothing twice).")
@click.option(
    "--name", default="stdin", show_default=True, help="Source name for `-` (JSON lines)."
)
@db_option
@connection_options
@output_options
@pass_app
def merge(app, sources, discover, full, name, db, accept_new, connect_timeout, fmt) -> int:
    """Merge SOURCES into the master database.

    A SOURCE is a Firefox places.sqlite, a Chromium History or Bookmarks file,
    a Netscape bookmark HTML export, a profile directory (or a directory of
    profiles), `HOST:PATH` for any of these on a fleet host, or `-` for JSON
    lines on stdin ({"url", "title", "time", "folder", "tags"}). Databases of a
    running browser are read from a consistent copy; browser files are never
    written. Merging the same source again adds nothing; a newer copy adds only
    its new visits. A source that cannot be read is reported and skipped; the
    others are merged (exit 1; 3 when a host was unreachable).

    \b
    Examples:
      wacket links merge ~/.mozilla/firefox/abcd.default-release
      wacket links merge --discover all
      wacket links merge nas:backups/bookmarks.html ~/.config/chromium/Default
      wacket links search rust --jsonl | wacket links merge --name copy -
    """
    from wacket.links import merging

    if not sources and discover is None:
        raise click.UsageError("give at least one SOURCE or --discover HOSTSET")
    return merging.merge(
        app.fleet, lambda: app.pool(accept_new, connect_timeout), sources,
        discover=discover, full=full, name=name, db=db, stdin=sys.stdin, note=app.note,
        warn=lambda text: click.echo(f"wacket: links: {text}", err=True),
        output=lambda: Renderer(fmt, merging.COLUMNS),
    )  # fmt: skip


@links.command("sources")
@click.option(
    "--discover", "discover", metavar="HOSTSET", help="Also list profiles found on these hosts."
)
@db_option
@connection_options
@output_options
@pass_app
def sources_(app, discover, db, accept_new, connect_timeout, fmt) -> int:
    """List the sources merged so far (and with --discover, the ones found), with last merge time.

    \b
    Examples:
      wacket links sources
      wacket links sources --discover all
    """
    from wacket.links import listing
    from wacket.transport.result import HostResults, Policy

    results = HostResults()
    with _master(db) as master:
        known = master.sources()
    seen = {s["key"] for s in known}
    rows = [listing.known_row(s) for s in known]
    if discover is not None:
        from wacket.links.discover import discover as find
        from wacket.transport.fanout import fan_out_ordered

        pool = app.pool(accept_new, connect_timeout)
        found = fan_out_ordered(app.fleet.select(discover), lambda h: find(pool.session(h)))
        results = HostResults(found)
        rows += listing.found_rows(results, seen)
    columns = [
        "host",
        "browser",
        "profile",
        "kind",
        "last_merged",
        "outcome",
        "visits",
        "bookmarks",
        "path",
    ]
    with Renderer(fmt, None if fmt in ("json", "jsonl") else columns) as out:
        for r in rows:
            out.emit(r)
        if discover is not None:
            shown: dict[str, int] = {}
            for r in rows:
                shown[r["host"]] = shown.get(r["host"], 0) + 1
            report_hosts(out, results, shown, none="no browser profiles found")
    return results.exit_code(Policy.LAST)


@links.command()
@click.argument("terms", nargs=-1)
@click.option("--since", metavar="WHEN", help="Only links visited since (30d, 2026-11-01).")
@click.option("--host", metavar="NAME", help="Only links visited or bookmarked on this machine.")
@click.option("--bookmarked", is_flag=True, help="Only bookmarked links.")
@click.option(
    "--limit", "-n", type=int, default=50, show_default=True, help="At most this many (0: all)."
)
@db_option
@output_options
@pass_app
def search(app, terms, since, host, bookmarked, limit, db, fmt) -> int:
    """Find links whose URL or title contain all TERMS (prefix match), best first.

    Ranking is frecency-like: visits, how recent the last visit is, and whether
    the link is bookmarked. Without TERMS, the best links overall.

    \b
    Examples:
      wacket links search rust async
      wacket links search --bookmarked --host laptop
      wacket links search rust --since 30d --jsonl | wacket clip copy
    """
    from wacket.links.records import search_records

    full = fmt in ("json", "jsonl")
    records = search_records(db, list(terms), since, full=full, host=host,
                             bookmarked=bookmarked, limit=limit or None)  # fmt: skip
    columns = ["last_visit", "visits", "bookmarked", "title", "url"]
    with Renderer(fmt, None if full else columns) as out:
        for rec in records:
            out.emit(rec)
    return Exit.OK


@links.command()
@db_option
@output_options
@pass_app
def stats(app, db, fmt) -> int:
    """Counts: links, visits, bookmarks, sources and hosts; the database file and its size.

    \b
    Example:
      wacket links stats
    """
    from wacket.links.records import stats_record

    s = stats_record(db, fmt in ("json", "jsonl"))
    if fmt in ("json", "jsonl"):
        with Renderer(fmt) as out:
            out.emit(s)
        return Exit.OK
    with Renderer(fmt, ["item", "value"]) as out:
        for k, v in s.items():
            out.emit({"item": k, "value": v})
    return Exit.OK


@links.command()
@click.option(
    "--html", "form", flag_value="html", help="Netscape bookmark HTML (imports into any browser)."
)
@click.option("--json", "form", flag_value="json", help="One JSON array of links.")
@click.option(
    "--jsonl", "form", flag_value="jsonl", help="JSON lines (`wacket links merge -` reads them)."
)
@click.option("--csv", "form", flag_value="csv", help="CSV with a header line.")
@click.option("--bookmarked", is_flag=True, help="Only bookmarked links (always so for --html).")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    help="Write to FILE (0600) instead of stdout.",
)
@db_option
@pass_app
def export(app, form, bookmarked, output, db) -> int:
    """Write the master database out: bookmarks as HTML, or links as JSON, JSON lines or CSV.

    \b
    Examples:
      wacket links export --html -o bookmarks.html
      wacket links export --csv --bookmarked > links.csv
      wacket links export --jsonl | gzip > links.jsonl.gz
    """
    import io

    from wacket.links import export as lib

    form = form or "html"
    buf = io.StringIO()
    with _master(db) as master:
        if form == "html":
            count = lib.html(master, buf)
        else:
            count = lib.records(master, buf, form, bookmarked)
    data = buf.getvalue().encode("utf-8", "surrogateescape")
    if output:
        from pathlib import Path

        from wacket.fsutil import write_output

        write_output(Path(output), data)
        app.note(f"wrote {count} links to {output}")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return Exit.OK


@links.command()
@click.option("--timeout", type=float, default=10.0, show_default=True, metavar="SECONDS")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=8, show_default=True)
@click.option("--all", "show_all", is_flag=True, help="List live links too.")
@db_option
@output_options
@pass_app
def dead(app, timeout, jobs, show_all, db, fmt) -> int:
    """Check bookmarked http(s) URLs and list the ones that no longer answer.

    Nothing is checked unless you run this command: it contacts every
    bookmarked site. Exit 0 even when dead links are found.

    \b
    Example:
      wacket links dead --jsonl > dead.jsonl
    """
    from wacket.links import dead as lib

    urls = lib.bookmarked_urls(db)
    with Renderer(fmt, ["status", "error", "url"]) as out:
        for r in lib.check_all(urls, timeout, jobs):
            if r["dead"] or show_all:
                out.emit(r)
    return Exit.OK
