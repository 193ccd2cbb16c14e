"""`wacket clip`: a clipboard ring on the hub, shared by every machine; system clipboards anywhere."""

from __future__ import annotations

import sys

import click

from wacket.cli.context import connection_options, hub_option, pass_app
from wacket.clip.context import Ctx, hub_call
from wacket.errors import Exit
from wacket.output import Renderer, output_options
from wacket.transport.result import Policy

LIST_COLUMNS = ["n", "kind", "size_h", "preview", "source", "age"]
LIST_HEADERS = ["N", "KIND", "SIZE", "PREVIEW", "SOURCE", "AGE"]


@click.group()
def clip() -> None:
    """Cut and paste between machines: a clipboard ring on the hub, system clipboards anywhere.

    The ring lives on one machine, the hub ([clip] hub = "nas"; default: this machine), and
    every machine reaches it over SSH. Entries are numbered from 1, the newest.

    \b
    Examples:
      wacket clip copy < notes.txt
      wacket clip copy photo.png --to laptop
      wacket clip paste > notes.txt
      wacket clip paste 3 --system
      wacket clip list
      wacket clip share desk,laptop

    \b
    Exit status: 0 ok, 1 failed (no backend, empty input, a host failed),
    2 usage (entry out of range), 3 hub or host unreachable, 4 ring locked.
    """


@clip.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--to", "to", metavar="HOSTS", help="Also put it on these machines' clipboards.")
@click.option(
    "--from-system", is_flag=True, help="Take what is on this machine's system clipboard now."
)
@click.option(
    "--system-of",
    metavar="HOST",
    help="Take what is on HOST's system clipboard now (implies --from-system).",
)
@click.option("--primary", is_flag=True, help="X11 PRIMARY selection instead of CLIPBOARD.")
@click.option(
    "--secret", is_flag=True, help="A password: kept out of the history file, gone after --ttl."
)
@click.option(
    "--ttl",
    type=click.FloatRange(min=1),
    metavar="SECONDS",
    help="Lifetime of a --secret entry (default: [clip] ttl, else 60).",
)
@hub_option
@connection_options
@output_options
@pass_app
def copy(app, files, to, from_system, system_of, primary, secret, ttl, hub, accept_new,
         connect_timeout, fmt) -> int:  # fmt: skip
    """Store stdin, FILEs or the system clipboard as a new entry in the ring.

    With no FILE, stdin is read (also for `-`); stdin must not be a terminal.
    The kind is detected: text, link, html, image, binary; a FILE keeps its name and mode.

    \b
    Examples:
      echo 'https://example.org/x' | wacket clip copy
      wacket clip copy report.pdf --to laptop,desk
      wacket clip copy --from-system
      pass show mail | head -1 | wacket clip copy --secret --ttl 30
    """
    from wacket.clip import copying, jobs

    c = Ctx(app, accept_new, connect_timeout)
    ring = c.ring(hub)
    if (from_system or system_of) and files:
        raise click.UsageError("give FILEs or --from-system, not both")
    items: list[dict] = []
    if from_system or system_of:
        items.append(copying.system_item(c.board(system_of or "local", primary)))
    elif not files:
        files = ("-",)
        if sys.stdin is not None and sys.stdin.isatty():
            raise click.UsageError(
                "nothing to copy: pipe data in (cmd | wacket clip copy), name a FILE, "
                "or use --from-system"
            )
    items += copying.file_items(files)
    targets = app.fleet.select(to) if to is not None else []
    added, placed, code = jobs.copy(c, ring, items, targets, secret, ttl, primary, _warn)
    if not app.quiet or fmt:
        cols = None if fmt in ("json", "jsonl") else LIST_COLUMNS
        with Renderer(fmt, cols, headers=LIST_HEADERS if cols else None) as out:
            for rec in copying.added_records(added, ring.hub, placed):
                out.emit(rec)
    return code


def _warn(text: str) -> None:
    click.echo(text, err=True)


@clip.command()
@click.argument("n", type=int, default=1, required=False)
@click.option("--from", "from_", metavar="HUB", help="Read the ring on this machine instead.")
@click.option("--system", is_flag=True, help="Put the entry on this machine's system clipboard.")
@click.option(
    "--system-of",
    metavar="HOST",
    help="Print HOST's current system clipboard instead of a ring entry.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Write the entry as a file in DIR (a copied file gets its own name and mode).",
)
@click.option("--force", is_flag=True, help="With --out: replace a file of the same name.")
@click.option("--primary", is_flag=True, help="X11 PRIMARY selection instead of CLIPBOARD.")
@connection_options
@pass_app
def paste(
    app, n, from_, system, system_of, out_dir, force, primary, accept_new, connect_timeout
) -> int:
    """Write entry N (default 1, the newest) to stdout byte-exact, a clipboard or a file.

    \b
    Examples:
      wacket clip paste > notes.txt
      wacket clip paste 2 --system
      wacket clip paste --out ~/Downloads
      wacket clip paste --system-of laptop | less
    """
    from wacket.clip import copying, jobs

    c = Ctx(app, accept_new, connect_timeout)
    if system_of:
        entry, data = copying.system_entry(c.board(system_of, primary), system_of)
    else:
        ring = c.ring(from_)
        entry, data = hub_call(ring.get, n)
    if system:
        backend = jobs.paste_to_system(c, entry, data, primary)
        app.note(f"entry {n} ({entry['kind']}, {len(data)} B) is on the clipboard ({backend})")
        return Exit.OK
    if out_dir:
        click.echo(copying.write_into(out_dir, entry, data, force))
        return Exit.OK
    if sys.stdout.isatty() and copying.is_binary(entry, data):
        raise click.UsageError(
            f"entry {n} is {entry['kind']} data: redirect it (> FILE) or use --out DIR"
        )
    sys.stdout.flush()
    out = sys.stdout.buffer
    out.write(data)
    out.flush()
    return Exit.OK


@clip.command(name="list")
@hub_option
@connection_options
@output_options
@pass_app
def list_(app, hub, accept_new, connect_timeout, fmt) -> int:
    """Show the ring: number, kind, size, preview, source machine, age (newest first).

    \b
    Examples:
      wacket clip list
      wacket clip list --jsonl | jq -r 'select(.kind == "link") | .preview'
    """
    from wacket.clip import kinds

    c = Ctx(app, accept_new, connect_timeout)
    ring = c.ring(hub)
    entries = hub_call(ring.entries)
    cols = None if fmt in ("json", "jsonl") else LIST_COLUMNS
    with Renderer(fmt, cols, headers=LIST_HEADERS if cols else None) as out:
        for entry in entries:
            out.emit(kinds.record(entry, ring.hub))
    return Exit.OK


@clip.command()
@click.argument("n", type=int)
@hub_option
@connection_options
@pass_app
def rm(app, n, hub, accept_new, connect_timeout) -> int:
    """Remove entry N from the ring.

    \b
    Example:
      wacket clip rm 2
    """
    from wacket.clip import jobs

    c = Ctx(app, accept_new, connect_timeout)
    entry = jobs.remove(c.ring(hub), n)
    app.note(f"removed entry {n} ({entry['kind']}, {entry['size']} B)")
    return Exit.OK


@clip.command()
@hub_option
@connection_options
@pass_app
def clear(app, hub, accept_new, connect_timeout) -> int:
    """Remove every entry, secrets included.

    \b
    Example:
      wacket clip clear
    """
    from wacket.clip import jobs

    c = Ctx(app, accept_new, connect_timeout)
    count = jobs.clear(c.ring(hub))
    app.note(f"removed {count} entries")
    return Exit.OK


@clip.command()
@click.argument("hosts")
@click.option("--primary", is_flag=True, help="X11 PRIMARY selection instead of CLIPBOARD.")
@click.option(
    "--interval",
    type=float,
    metavar="SECONDS",
    help="How often to look at each clipboard (default: [clip] interval, else 0.5).",
)
@click.option("--count", type=int, metavar="N", help="Stop after N transfers.")
@click.option("--for", "duration", type=float, metavar="SECONDS", help="Stop after this long.")
@connection_options
@output_options
@pass_app
def share(app, hosts, primary, interval, count, duration, accept_new, connect_timeout, fmt) -> int:
    """Keep the system clipboards of HOSTS in step while this runs (Ctrl-C ends it).

    A change on one machine is copied to the others once; our own writes are never taken for
    changes. What a password manager marks as sensitive is never copied. One line per transfer.

    \b
    Examples:
      wacket clip share local,laptop
      wacket clip share desk,laptop --jsonl
    """
    from wacket.clip import jobs

    c = Ctx(app, accept_new, connect_timeout)
    chosen = app.fleet.select(hosts)
    if len(chosen) < 2:
        raise click.UsageError("clip share needs at least two machines")
    boards = [c.board(h.name, primary) for h in chosen]
    for board in boards:
        app.note(f"{board.host}: clipboard via {board.probe()}")
    fmt = fmt if fmt in ("json", "jsonl", "plain") else "plain"
    columns = None if fmt in ("json", "jsonl") else ["from", "to", "kind", "size"]
    return jobs.share(
        c, chosen, boards, output=lambda: Renderer(fmt, columns), warn=_warn,
        on_ready=lambda: app.note(
            f"sharing the clipboards of {', '.join(b.host for b in boards)} (Ctrl-C ends)"
        ),
        interval=interval, max_transfers=count, duration=duration,
    )  # fmt: skip


@clip.command()
@click.argument("hosts", default="local")
@click.option("--primary", is_flag=True, help="X11 PRIMARY selection instead of CLIPBOARD.")
@connection_options
@output_options
@pass_app
def backends(app, hosts, primary, accept_new, connect_timeout, fmt) -> int:
    """Show which system clipboard backend each machine would use, or what it lacks.

    \b
    Example:
      wacket clip backends all
    """
    from wacket.clip.probing import backend_records

    c = Ctx(app, accept_new, connect_timeout)
    with Renderer(fmt, ["host", "backend", "problem"]) as out:
        records, results = backend_records(c, app.fleet.select(hosts), primary)
        for rec in records:
            out.emit(rec)
    return results.exit_code(Policy.LAST)
