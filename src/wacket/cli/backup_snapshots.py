"""The `wacket backup` commands that read a set's snapshots (list, verify, diff, find, restore),
and how every backup command names its set."""

from __future__ import annotations

import click

from wacket.cli.context import App, Completes, connection_options, pass_app
from wacket.errors import Exit
from wacket.output import Renderer, output_options


def named_set(app: App, name: str, target: str | None = None):
    from wacket.backup.choose import named_set

    return named_set(app.config, app.fleet, name, target)


def target_option(fn):
    return click.option(
        "--target",
        metavar="TARGET",
        type=Completes("path"),
        help="Where the set's snapshots are (HOST:PATH, PATH or drive:LABEL:/path), for sets "
        "not in the config.",
    )(fn)


@click.command("list")
@click.argument("name", type=Completes("set"))
@target_option
@connection_options
@output_options
@pass_app
def list_cmd(app, name, target, accept_new, connect_timeout, fmt) -> int:
    """List the snapshots of set NAME: time, files, bytes added, total.

    \b
    Example:
      wacket backup list home
    """
    from wacket.backup import catalog

    bset = named_set(app, name, target)
    t = catalog.open_target(app.pool(accept_new, connect_timeout), app.fleet, bset)
    human = fmt in (None, "table", "plain")
    with Renderer(fmt, ["snapshot", "files", "added_files", "added", "total", "status"]) as out:
        for rec in catalog.snapshot_records(t, human):
            out.emit(rec)
    return Exit.OK


@click.command("verify")
@click.argument("name", type=Completes("set"))
@click.argument("snapshot", required=False, type=Completes("snapshot"))
@click.option("--all", "every", is_flag=True, help="Every snapshot of the set.")
@click.option(
    "--sample",
    type=click.FloatRange(0.01, 100),
    default=100.0,
    metavar="PCT",
    help="Re-hash only PCT% of the files, chosen at random.",
)
@click.option(
    "--extra", is_flag=True, help="Also list files in the snapshot that the manifest lacks."
)
@target_option
@connection_options
@output_options
@pass_app
def verify_cmd(
    app, name, snapshot, every, sample, extra, target, accept_new, connect_timeout, fmt
) -> int:
    """Re-hash SNAPSHOT (default: latest) on the target against its manifest.

    Every missing, changed or unreadable file is listed; exit 1 if any.
    The hashing runs on the target in one remote command; a file hard-linked
    into several snapshots is read once.

    \b
    Examples:
      wacket backup verify home
      wacket backup verify home --all
      wacket backup verify home --all --sample 5    # a weekly spot check
    """
    from wacket.backup import catalog, verify

    bset = named_set(app, name, target)
    t = catalog.open_target(app.pool(accept_new, connect_timeout), app.fleet, bset)
    totals, lost = verify.verify_recorded(
        t, name, snapshot, every=every, sample=sample, extra=extra,
        output=lambda: Renderer(fmt, ["snapshot", "path", "problem", "detail"]),
    )  # fmt: skip
    app.note(verify.summary(totals, lost))
    return Exit.PARTIAL if lost else Exit.OK


@click.command("diff")
@click.argument("name", type=Completes("set"))
@click.argument("s1", type=Completes("snapshot"))
@click.argument("s2", required=False, default="latest", type=Completes("snapshot"))
@target_option
@connection_options
@output_options
@pass_app
def diff_cmd(app, name, s1, s2, target, accept_new, connect_timeout, fmt) -> int:
    """What changed between snapshots S1 and S2 (default: latest).

    \b
    Example:
      wacket backup diff home 2026-11-26 latest
    """
    from wacket.backup import catalog

    bset = named_set(app, name, target)
    t = catalog.open_target(app.pool(accept_new, connect_timeout), app.fleet, bset)
    names = catalog.snapshot_names(t)
    a, b = catalog.resolve_snapshot(names, s1), catalog.resolve_snapshot(names, s2)
    with Renderer(fmt, ["change", "path", "type", "size", "old_size"]) as out:
        for rec in catalog.diff(t, a, b):
            out.emit(rec)
    return Exit.OK


@click.command("find")
@click.argument("name", type=Completes("set"))
@click.argument("pattern")
@target_option
@connection_options
@output_options
@pass_app
def find_cmd(app, name, pattern, target, accept_new, connect_timeout, fmt) -> int:
    """Which snapshots hold paths matching PATTERN, with a version number per content.

    PATTERN is a glob matched against the whole path or the file name; with
    no wildcard it matches as a substring.

    \b
    Examples:
      wacket backup find home report.odt
      wacket backup find home 'Documents/*.pdf'
    """
    from wacket.backup import catalog

    bset = named_set(app, name, target)
    t = catalog.open_target(app.pool(accept_new, connect_timeout), app.fleet, bset)
    count = 0
    with Renderer(fmt, ["path", "snapshot", "version", "size", "mtime"]) as out:
        for rec in catalog.find(t, pattern, out.fmt in ("table", "plain")):
            count += 1
            out.emit(rec)
    return Exit.OK if count else Exit.PARTIAL


@click.command("restore")
@click.argument("name", type=Completes("set"))
@click.argument("items", nargs=-1, type=Completes("snapshot", ""))
@click.option(
    "--to",
    "dest",
    required=True,
    metavar="DEST",
    type=Completes("path"),
    help="Where to restore to (PATH or HOST:PATH).",
)
@click.option("--overwrite", is_flag=True, help="Replace files that exist at the destination.")
@target_option
@connection_options
@output_options
@pass_app
def restore_cmd(app, name, items, dest, overwrite, target, accept_new, connect_timeout, fmt) -> int:
    """Restore [SNAPSHOT] [PATH...] of set NAME into DEST (default: the latest snapshot, all of it).

    A PATH is relative to the snapshot (as `backup find` prints it) and is
    restored as DEST/<its last component>. Modes and times are restored.
    Existing files are never overwritten without --overwrite.

    \b
    Examples:
      wacket backup restore home --to /mnt/newdisk/home
      wacket backup restore home Documents/report.odt --to ~/restored
      wacket backup restore home 2026-11-20 Pictures --to nas:/tmp/pics
    """
    from wacket.backup import catalog, restore

    pool = app.pool(accept_new, connect_timeout)
    t = catalog.open_target(pool, app.fleet, named_set(app, name, target))
    res = restore.restore_items(pool, app.fleet, t, items, dest, overwrite=overwrite,
                                accept_new=accept_new, connect_timeout=connect_timeout)  # fmt: skip
    with Renderer(fmt, ["snapshot", "to", "files", "bytes", "overwritten"]) as out:
        out.emit(res)
    return Exit.OK
