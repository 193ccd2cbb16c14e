"""`wacket find`: find any file on any machine from catalogs kept here, even when it is off."""

from __future__ import annotations

from collections import Counter

import click

from wacket.cli.context import Completes, connection_options, forks_option, pass_app
from wacket.cli.entry import FIND_FILTERS
from wacket.errors import Exit, WacketError
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
    import time

    from wacket import timeparse
    from wacket.find import catalog

    status = catalog.load_status()
    names = hosts_for(app, hostset)
    catalogs = {c.host: c for c in catalog.open_catalogs(names)}
    wanted = names if names is not None else sorted(set(catalogs) | set(status))
    now = time.time()
    columns = ["host", "entries", "indexed", "age", "last_attempt", "last_error"]
    with Renderer(fmt, columns) as out:
        for name in wanted:
            c = catalogs.get(name)
            st = status.get(name, {})
            out.emit(
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
    from wacket import jobrun
    from wacket.find import index as lib
    from wacket.transport.result import HostResults, Policy

    targets = app.fleet.select(hostset)
    settings = {
        h.name: lib.settings_for(app.config, h.name, roots, exclude, content) for h in targets
    }
    pool = app.pool(accept_new, connect_timeout)
    columns = ["host", "state", "entries", "files", "dirs", "hashed", "errors", "seconds"]
    with jobrun.run("find index", [h.name for h in targets], locks=["find-index"]) as entry:
        with Renderer(fmt, columns) as out:

            def on_result(res) -> None:
                out.emit(lib.host_record(res))
                if not res.ok:
                    app.note(f"wacket find: {res.error}; its previous catalog is kept")
                    return
                v = res.value
                for path, message in v["errors"][:5]:
                    app.note(f"wacket find: {res.host}: {_show(path)}: {message}")
                if v["error_count"] > 5:
                    app.note(f"wacket find: {res.host}: {v['error_count'] - 5} more unreadable")

            results = HostResults(lib.index(pool, targets, lambda h: settings[h.name], forks,
                                            on_result))  # fmt: skip
        summary, unreadable = lib.summary(results)
        code = results.exit_code(Policy.WORST, partial=bool(unreadable))
        entry.summary = summary
        entry.finish(code, bool(results.succeeded))
    app.note(f"wacket find index: {summary}")
    return code


def _show(path: str) -> str:
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace").replace("\n", "\\n")


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
    from wacket import timeparse
    from wacket.find import catalog, dupes
    from wacket.output import human_bytes, resolve

    fmt = resolve(fmt)
    names = hosts_for(app, hostset)
    catalogs = catalog.open_catalogs(names)
    columns = ["group", "hash", "size", "copies", "wasted", "host", "path"]
    n = 0
    shown: Counter = Counter()
    with Renderer(fmt, columns) as out:
        for group in dupes.dupes(catalogs, timeparse.size(min_size)):
            for host, path in group.copies:
                shown[host] += 1
                out.emit(
                    {
                        "group": group.number,
                        "hash": group.hash[:12] if fmt == "table" else group.hash,
                        "size": human_bytes(group.size) if fmt == "table" else group.size,
                        "copies": len(group.copies),
                        "wasted": human_bytes(group.wasted) if fmt == "table" else group.wasted,
                        "host": host,
                        "path": path,
                    }
                )
            n += 1
        report_hosts(out, _searched(names, catalogs), shown, "no duplicates")
    app.note(f"wacket find dupes: {n} groups")
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
    from wacket.find import catalog, dupes
    from wacket.output import human_bytes, resolve

    fmt = resolve(fmt)
    catalogs = catalog.open_catalogs()
    target = dupes.describe_target(file, catalogs, app.fleet)
    n = 0
    with Renderer(fmt, ["host", "path", "size", "match", "up"]) as out:
        probe = None
        from wacket.find import query

        probe = query.Probe(
            [app.fleet.hosts[c.host] for c in catalogs if c.host in app.fleet.hosts]
        )
        shown: Counter = Counter()
        for host, path, size, how in dupes.where(target, catalogs):
            n += 1
            shown[host] += 1
            up = probe.get(host)
            out.emit(
                {
                    "host": host,
                    "path": path,
                    "size": human_bytes(size) if fmt == "table" else size,
                    "match": how,
                    "up": "?" if up is None else ("up" if up else "down"),
                }
            )
        report_hosts(out, _searched(None, catalogs), shown, "no copy")
    return Exit.OK if n else Exit.PARTIAL


def _searched(names, catalogs) -> list:
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
    from wacket import timeparse
    from wacket.find import catalog, dupes
    from wacket.output import human_bytes, resolve

    fmt = resolve(fmt)
    cats = {}
    for name in (host_a, host_b):
        c = catalog.open_catalog(name)
        if c is None:
            raise WacketError(f"{name}: no catalog yet: run `wacket find index {name}`")
        cats[name] = c
    n = total = 0
    with Renderer(fmt, ["host", "path", "size", "mtime"]) as out:
        for path, size, mtime in dupes.missing(
            cats[host_a], cats[host_b], timeparse.size(min_size), under
        ):
            n += 1
            total += size
            out.emit(
                {
                    "host": host_a,
                    "path": path,
                    "size": human_bytes(size) if fmt == "table" else size,
                    "mtime": timeparse.iso(mtime / 1e9),
                }
            )
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

    host_name, sep, path = source.partition(":")
    if not sep or not path:
        raise click.UsageError("SOURCE must be HOST:PATH (as wacket find prints it)")
    host = app.fleet.get(host_name)
    from wacket import jobrun

    pool = app.pool(accept_new, connect_timeout)
    with jobrun.run("find get", [host.name]) as entry:
        local = fetch.get(pool, host, path, dest)
        entry.summary = f"{source} -> {local}"
    app.note(f"wacket find get: {_show(local)}")
    return Exit.OK
