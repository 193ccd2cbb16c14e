"""`wacket map`: a batch of jobs spread over the fleet."""

from __future__ import annotations

import sys

import click

from wacket.cli.context import CommandAfterHosts, Completes, connection_options, pass_app
from wacket.errors import ConfigError, Exit
from wacket.output import dumps


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
    from wacket import jobrun
    from wacket.map import joblog as joblog_mod
    from wacket.map.items import read_items
    from wacket.map.scheduler import Options, Scheduler, probe
    from wacket.output import progress

    if resume and not joblog:
        raise ConfigError("--resume needs --joblog FILE")
    if (returns or cleanup) and not transfer:
        raise ConfigError("--return and --cleanup go with --transfer")
    items = read_items(_item_lines(items_file), jsonl_in)
    skipped = 0
    if resume:
        done = joblog_mod.succeeded(joblog)
        skipped = sum(1 for i in items if i.value in done)
        items = [i for i in items if i.value not in done]
    targets = app.fleet.select(hostset)
    pool = app.pool(accept_new, connect_timeout)
    opts = Options(jobs_per_host, timeout, retries, halt_on_error, load_max, transfer,
                   list(returns), cleanup, joblog)  # fmt: skip
    infos = probe(pool, targets, opts)
    for info in infos:
        if info.state != "up":
            app.note(f"wacket map: {info.host.name} not used: {info.state} ({info.reason})")
    usable = [i for i in infos if i.state == "up"]
    if not usable and items:
        raise ConfigError("no host of the set is reachable and idle enough", Exit.UNREACHABLE)
    out = sys.stdout.buffer
    pending: dict[int, object] = {}
    next_seq = [items[0].seq if items else 0]
    order = [i.seq for i in items]
    position = {seq: n for n, seq in enumerate(order)}

    def show(result) -> None:
        if fmt == "jsonl":
            out.write(dumps(result.record()).encode() + b"\n")
        else:
            out.write(result.stdout)
            if result.stderr:
                sys.stderr.buffer.write(result.stderr)
        out.flush()

    failures = [0]
    with progress(length=len(items), label="jobs", quiet=app.quiet, show_status=True) as bar:

        def on_result(result) -> None:
            failures[0] += not result.ok
            bar.update(1, f"running {scheduler.running}, failed {failures[0]}")
            if not keep_order:
                show(result)
                return
            pending[result.item.seq] = result
            while next_seq[0] in pending:
                show(pending.pop(next_seq[0]))
                n = position[next_seq[0]] + 1
                next_seq[0] = order[n] if n < len(order) else -1

        with jobrun.run("map", [i.host.name for i in usable]) as entry:
            scheduler = Scheduler(pool, infos, items, list(command), opts, on_result)
            results = scheduler.run()
            failed = [r for r in results if not r.ok]
            done = len(results) - len(failed)
            summary = f"{len(items) + skipped} items: {done} done, {len(failed)} failed"
            if skipped:
                summary += f", {skipped} skipped (done before)"
            lost = [i.host.name for i in infos if i.state == "lost"]
            if lost:
                summary += f"; hosts lost mid-batch: {','.join(lost)}"
            entry.summary = summary
            entry.finish(Exit.PARTIAL if failed else Exit.OK, bool(done))
    for r in failed[:20]:
        reason = r.error or f"exit {r.rc}"
        click.echo(f"wacket map: failed: {r.item.value!r} on {r.host or '-'}: {reason}", err=True)
    app.note(f"wacket map: {summary}")
    return Exit.PARTIAL if failed else Exit.OK


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
