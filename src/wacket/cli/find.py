"""`wacket find`: find any file on any machine from catalogs kept here, even when it is off."""

from __future__ import annotations

from collections import Counter

import click

from wacket.cli.context import Completes, connection_options, forks_option, pass_app
from wacket.cli.entry import FIND_FILTERS
from wacket.errors import Exit
from wacket.find.search import hosts_for
from wacket.output import Renderer, output_options, report_hosts


class FindGroup(click.Group):
    """A group whose first argument may be a pattern: `wacket find report.pdf` runs `query`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["query", *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx, formatter) -> None:
        formatter.write_usage(ctx.command_path, "[PATTERN] [OPTIONS] | COMMAND [ARGS]...")


@click.group(cls=FindGroup, invoke_without_command=True)
@click.pass_context
def find(ctx: click.Context) -> None:
    """Find files on every machine from catalogs kept on this one.

    `wacket find index` walks each host's roots (default: the home directory;
    [find] roots and exclude in the config) and stores a catalog here.
    `wacket find PATTERN` then answers from the catalogs alone, so machines
    that are switched off are still searched (and their results marked down).
    PATTERN is a substring or a glob (* ? [...], matched against the whole
    path, as locate does), case-insensitive; see `wacket find query --help`
    for filters. A PATTERN that is also a command name: `wacket find query NAME`.

    \b
    Examples:
      wacket find index                      # all hosts, in parallel
      wacket find report.pdf
      wacket find '*.jpg' --host nas --larger 5M --newer 30d
      wacket find --text "quarterly invoice"
      wacket find dupes --min-size 10M
      wacket find missing laptop nas         # on laptop, not on nas
      wacket find get nas:/srv/docs/report.pdf ~/Downloads/
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


@find.command("query")
@click.argument("pattern", required=False)
@click.option("--host", "-H", "hostset", metavar="HOSTS", help="Only these hosts (a host set).")
@click.option("--ext", "exts", multiple=True, metavar="EXT", help="File extension (repeatable).")
@click.option("--larger", metavar="SIZE", help="Larger than SIZE (e.g. 10M).")
@click.option("--smaller", metavar="SIZE", help="Smaller than SIZE.")
@click.option("--newer", metavar="AGE", help="Modified within AGE (7d) or since a date.")
@click.option("--older", metavar="AGE", help="Modified more than AGE ago (1y) or before a date.")
@click.option(
    "--type",
    "types",
    type=click.Choice(["f", "d", "l"]),
    multiple=True,
    help="Entry type: f file, d directory, l symlink.",
)
@click.option("--regex", "-r", is_flag=True, help="PATTERN is a regular expression.")
@click.option("--fixed", "-F", is_flag=True, help="PATTERN is a plain substring, even with * ? [.")
@click.option("--case-sensitive", "-c", is_flag=True, help="Match case exactly.")
@click.option("--basename", "-b", is_flag=True, help="Match the file name only, not the path.")
@click.option("--text", "-t", "text", metavar="WORDS", help="Documents containing WORDS.")
@click.option("--online-only", is_flag=True, help="Only hosts that answer now.")
@click.option("--no-check", is_flag=True, help="Do not check which hosts are up (faster).")
@click.option("--stale", is_flag=True, help="Show each host's catalog age (no PATTERN: only that).")
@click.option("--limit", "-l", type=click.IntRange(1), metavar="N", help="At most N results.")
@click.option("--count", is_flag=True, help="Print only the number of results.")
@click.option("--null", "-0", "null", is_flag=True, help="Paths only, NUL-terminated (xargs -0).")
@output_options
@pass_app
def query_cmd(app, **opts) -> int:
    """Search the catalogs for PATTERN (a substring, a glob, or with --regex a regex).

    Results show host, path, size, mtime and whether the host is up now.
    The catalogs answer even when hosts are off; `wacket find index` refreshes
    them. Exit status: 0 found, 1 nothing found, 2 bad arguments.

    \b
    Examples:
      wacket find query index                # a pattern that is a command name
      wacket find report --ext pdf --newer 90d
      wacket find '*/photos/*.jpg' --larger 2M --online-only
      wacket find -r 'invoice-20(24|25)' --jsonl | jq -r .path
      wacket find --stale
    """
    if opts["pattern"] is None and not any(opts[k] for k in FIND_FILTERS):
        if opts["stale"]:
            return _stale(app, opts["hostset"], opts["fmt"])
        raise click.UsageError("give a PATTERN, a filter (--ext, --larger, ...) or --text")
    from wacket.find import search

    return search.run(app, search.QueryOptions(**opts))


def _stale(app, hostset, fmt) -> int:
    from wacket.find.reports import stale_records

    records = stale_records(hosts_for(app, hostset))
    columns = ["host", "entries", "indexed", "age", "last_attempt", "last_error"]
    with Renderer(fmt, columns) as out:
        for rec in records:
            out.emit(rec)
    return Exit.OK


@find.command("index")
@click.argument("hostset", required=False, default="all")
@click.option(
    "--root",
    "roots",
    multiple=True,
    metavar="PATH",
    type=Completes("path"),
    help="Walk PATH (repeatable).",
)
@click.option("--exclude", multiple=True, metavar="PATTERN", help="Also skip these (repeatable).")
@click.option(
    "--content/--no-content",
    default=None,
    help="Also index the words of documents (text, Markdown, HTML, PDF, office).",
)
@connection_options
@forks_option
@output_options
@pass_app
def index_cmd(app, hostset, roots, exclude, content, accept_new, connect_timeout, forks, fmt):
    """Walk the roots of each host of HOSTSET (default: all) and refresh its catalog.

    Hosts are walked in parallel, each by one remote process that streams
    entries back; content hashes (files of [find] hash_min bytes or more,
    default 4096) are cached on each host, so only new or changed files are
    read again. A host that cannot be reached keeps its previous catalog.
    Exit status: 0 all indexed, 1 some entries were unreadable, 3 a host was
    unreachable, 4 another index run is going on.

    \b
    Examples:
      wacket find index
      wacket find index nas --root /srv/photos --root /srv/docs
      wacket find index laptop --content
      15 3 * * * wacket -q find index     # crontab: every night at 03:15
    """
    from wacket.find import index as lib
    from wacket.find import indexing

    targets = app.fleet.select(hostset)
    settings = {
        h.name: lib.settings_for(app.config, h.name, roots, exclude, content) for h in targets
    }
    pool = app.pool(accept_new, connect_timeout)
    summary, code = indexing.run_index(pool, targets, settings, forks, note=app.note,
                                       output=lambda: Renderer(fmt, indexing.COLUMNS))  # fmt: skip
    app.note(f"wacket find index: {summary}")
    return code


@find.command("dupes")
@click.argument("hostset", required=False)
@click.option("--min-size", default="1", metavar="SIZE", show_default=True, help="Ignore smaller.")
@output_options
@pass_app
def dupes_cmd(app, hostset, min_size, fmt) -> int:
    """Files with the same content, on one machine or across several.

    One line per copy, grouped by content hash; `wasted` is what all copies
    but one take. Only hashed files count (those of [find] hash_min bytes or
    more). Biggest waste first.

    \b
    Examples:
      wacket find dupes --min-size 10M
      wacket find dupes nas,laptop --jsonl | jq -r 'select(.host=="nas") | .path'
    """
    from wacket.find import catalog, reports
    from wacket.output import resolve

    fmt = resolve(fmt)
    names = hosts_for(app, hostset)
    catalogs = catalog.open_catalogs(names)
    columns = ["group", "hash", "size", "copies", "wasted", "host", "path"]
    with Renderer(fmt, columns) as out:
        records, groups = reports.dupe_records(catalogs, min_size, fmt == "table")
        for rec in records:
            out.emit(rec)
        shown = Counter(rec["host"] for rec in records)
        report_hosts(out, reports.searched(names, catalogs), shown, "no duplicates")
    app.note(f"wacket find dupes: {groups} groups")
    return Exit.OK


@find.command("where")
@click.argument("file", type=Completes("path"))
@output_options
@pass_app
def where_cmd(app, file, fmt) -> int:
    """Which machines hold a copy of FILE's content (a local file, or HOST:PATH from a catalog).

    Files are compared by content hash; files too small to be hashed are
    compared by name and size (match = name+size).
    Exit status: 0 copies found elsewhere, 1 none.

    \b
    Examples:
      wacket find where ~/Documents/thesis.pdf
      wacket find where nas:/srv/photos/2024/img_0042.jpg
    """
    from wacket.find import catalog, dupes, reports
    from wacket.output import resolve

    fmt = resolve(fmt)
    catalogs = catalog.open_catalogs()
    target = dupes.describe_target(file, catalogs, app.fleet)
    shown: Counter = Counter()
    with Renderer(fmt, ["host", "path", "size", "match", "up"]) as out:
        for rec in reports.where_records(target, catalogs, app.fleet, fmt == "table"):
            shown[rec["host"]] += 1
            out.emit(rec)
        report_hosts(out, reports.searched(None, catalogs), shown, "no copy")
    return Exit.OK if shown else Exit.PARTIAL


@find.command("missing")
@click.argument("host_a")
@click.argument("host_b")
@click.option("--min-size", default="1", metavar="SIZE", show_default=True, help="Ignore smaller.")
@click.option("--under", metavar="PATH", help="Only files of HOST_A under PATH.")
@output_options
@pass_app
def missing_cmd(app, host_a, host_b, min_size, under, fmt) -> int:
    """Files HOST_A has whose content HOST_B lacks ("is all of this backed up?").

    Compared by content hash (files too small to be hashed: by name and size),
    wherever the copy lives on HOST_B. Exit status: 0 nothing missing, 1 some.

    \b
    Examples:
      wacket find missing laptop nas
      wacket find missing laptop nas --under ~/Pictures --plain | cut -f2
    """
    from wacket.find import reports
    from wacket.output import human_bytes, resolve

    fmt = resolve(fmt)
    cats = reports.host_catalogs(host_a, host_b)
    n = total = 0
    with Renderer(fmt, ["host", "path", "size", "mtime"]) as out:
        for rec, size in reports.missing_records(
            cats[host_a], cats[host_b], host_a, min_size, under, fmt == "table"
        ):
            n += 1
            total += size
            out.emit(rec)
    app.note(f"wacket find missing: {n} files ({human_bytes(total)}) on {host_a} not on {host_b}")
    return Exit.PARTIAL if n else Exit.OK


@find.command("get")
@click.argument("source", metavar="HOST:PATH", type=Completes("path"))
@click.argument("dest", required=False, default=".", type=Completes("path"))
@connection_options
@pass_app
def get_cmd(app, source, dest, accept_new, connect_timeout) -> int:
    """Fetch a found file (or directory) from HOST to DEST here (default: the current dir).

    Uses rsync over SSH when both sides have it, else SFTP.

    \b
    Examples:
      wacket find get nas:/srv/docs/report.pdf ~/Downloads/
      wacket find report.pdf -0 | xargs -0 -n1 wacket find get
    """
    from wacket.find import fetch
    from wacket.find.indexing import printable

    host_name, sep, path = source.partition(":")
    if not sep or not path:
        raise click.UsageError("SOURCE must be HOST:PATH (as wacket find prints it)")
    host = app.fleet.get(host_name)
    from wacket import jobrun

    pool = app.pool(accept_new, connect_timeout)
    with jobrun.run("find get", [host.name]) as entry:
        local = fetch.get(pool, host, path, dest)
        entry.summary = f"{source} -> {local}"
    app.note(f"wacket find get: {printable(local)}")
    return Exit.OK
