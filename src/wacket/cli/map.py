"""`wacket map`: a batch of jobs spread over the fleet."""

from __future__ import annotations

import sys

import click

from wacket.cli.context import CommandAfterHosts, Completes, connection_options, pass_app
from wacket.errors import ConfigError


@click.command("map", cls=CommandAfterHosts)
@click.argument("hostset")
@click.argument("command", nargs=-1, required=True, type=Completes("command"))
@click.option("--items", "items_file", type=click.Path(dir_okay=False, allow_dash=True),
              help="Read items from FILE ('-' for stdin; the default when stdin is a pipe).")  # fmt: skip
@click.option("--jsonl-in", is_flag=True, help="Items are JSON objects; {name} is a field.")
@click.option(
    "--jobs-per-host", "-j", type=click.IntRange(1, 64), help="Default: the host's cores."
)
@click.option("--timeout", "-t", type=float, metavar="SECONDS", help="Stop a job after this.")
@click.option("--retries", type=click.IntRange(0, 100), default=0, help="Re-run failed jobs.")
@click.option("--halt-on-error", is_flag=True, help="Start no new job after a failure.")
@click.option("--load-max", type=float, metavar="LOAD", help="Skip hosts busier than this.")
@click.option("--transfer", is_flag=True, help="Send each item's file to the host first.")
@click.option("--return", "returns", multiple=True, metavar="PATTERN",
              help="Bring this file back after the job, e.g. '{.}.webp'.")  # fmt: skip
@click.option("--cleanup", is_flag=True, help="Remove transferred and returned files on the host.")
@click.option("--joblog", type=click.Path(dir_okay=False), help="Append a line per job to FILE.")
@click.option("--resume", is_flag=True, help="Skip items the --joblog records as succeeded.")
@click.option("--keep-order", "-k", is_flag=True, help="Print outputs in input order.")
@click.option("--jsonl", "fmt", flag_value="jsonl", help="One record per job on stdout.")
@connection_options
@pass_app
def map_(app, hostset, command, items_file, jsonl_in, jobs_per_host, timeout, retries,
         halt_on_error, load_max, transfer, returns, cleanup, joblog, resume, keep_order, fmt,
         accept_new, connect_timeout) -> int:  # fmt: skip
    """Run COMMAND once per item, spread over the hosts of HOSTSET.

    Items come one per line from --items FILE or stdin. In COMMAND, {} is the
    item, {.} without extension, {/} basename, {//} dirname, {/.} basename
    without extension, {#} the job number; each is quoted. Slots per host
    default to its core count; idle slots take the next item, so fast machines
    do more. A job that fails is retried elsewhere with --retries; jobs of a
    host that goes down run elsewhere. Exit status 1 when any item failed;
    130/143 when interrupted (running jobs are ended, --resume runs the rest).

    \b
    Examples:
      find photos -name '*.jpg' | wacket map @desktops --transfer \\
          --return '{.}.webp' --cleanup -- cwebp -q 80 {} -o {.}.webp
      seq 1000 | wacket map all --joblog jobs.tsv --resume -- ./step.sh {}
      ls *.wav | wacket map nas,pi[1-4] -k -- 'flac -c {} | wc -c'
    """
    from wacket.map import run as batch
    from wacket.map.scheduler import Options

    if resume and not joblog:
        raise ConfigError("--resume needs --joblog FILE")
    if (returns or cleanup) and not transfer:
        raise ConfigError("--return and --cleanup go with --transfer")
    items, skipped = batch.load_items(_item_lines(items_file), jsonl_in, joblog if resume else None)
    targets = app.fleet.select(hostset)
    pool = app.pool(accept_new, connect_timeout)
    opts = Options(jobs_per_host, timeout, retries, halt_on_error, load_max, transfer,
                   list(returns), cleanup, joblog)  # fmt: skip
    infos = batch.usable_hosts(pool, targets, opts, app.note, bool(items))
    done = batch.run(pool, infos, items, list(command), opts, skipped=skipped,
                     keep_order=keep_order, fmt=fmt, quiet=app.quiet)  # fmt: skip
    for r in done.failed[:20]:
        reason = r.error or f"exit {r.rc}"
        click.echo(f"wacket map: failed: {r.item.value!r} on {r.host or '-'}: {reason}", err=True)
    app.note(f"wacket map: {done.summary}")
    return done.code


def _item_lines(items_file: str | None):
    """Items from a file, or from stdin when it is the documented input (never a terminal)."""
    if items_file and items_file != "-":
        from wacket.fsutil import open_input

        with open_input(items_file, encoding="utf-8", errors="surrogateescape") as fh:
            return fh.readlines()
    if items_file is None and sys.stdin.isatty():
        raise ConfigError("no items: pipe them in (one per line) or give --items FILE")
    with open(sys.stdin.fileno(), encoding="utf-8", errors="surrogateescape", closefd=False) as fh:
        return fh.readlines()
