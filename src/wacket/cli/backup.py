"""`wacket backup`: snapshot backups with manifests, verify, restore, retention and drive targets."""

from __future__ import annotations

import click

from wacket.cli.backup_snapshots import (
    diff_cmd,
    find_cmd,
    list_cmd,
    named_set,
    restore_cmd,
    target_option,
    verify_cmd,
)
from wacket.cli.context import Completes, connection_options, forks_option, pass_app
from wacket.errors import Exit
from wacket.output import Renderer, output_options, report_hosts


@click.group()
def backup() -> None:
    """Snapshot backups to another machine or a USB drive: zero loss, proven by verify.

    Sets are configured as [backup.NAME] tables (sources, target, exclude,
    keep, keep_within). Each run makes TARGET/NAME/<UTC time>/, a full
    browsable tree whose unchanged files are hard links to the previous
    snapshot, plus a manifest (path, size, mtime, mode, SHA-256) beside it.

    \b
    Examples:
      wacket backup run home
      wacket backup run --all            # for cron
      wacket backup verify home --all
      wacket backup restore home Documents/report.odt --to /tmp/r
    """


def _fail(message: str) -> None:
    click.echo(f"wacket: error: {message}", err=True)


@backup.command("run")
@click.argument("names", nargs=-1, type=Completes("set"))
@click.option("--all", "all_sets", is_flag=True, help="Every set in the config (for cron).")
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="PATH",
    type=Completes("path"),
    help="Ad hoc: a source (repeatable).",
)
@target_option
@click.option("--name", "adhoc_name", metavar="NAME", help="Ad hoc: the set's name on the target.")
@click.option("--exclude", multiple=True, metavar="PATTERN", help="Ad hoc: rsync exclude pattern.")
@click.option(
    "--prune",
    "prune_after",
    is_flag=True,
    help="After a fully successful run, apply the set's keep policy (as `backup prune`).",
)
@click.option(
    "--allow-empty",
    is_flag=True,
    help="Make the snapshot even if the sources are empty or lost most of their files "
    "(refused otherwise: fewer than half the files of the last snapshot and 50 fewer).",
)
@click.option(
    "--create-target",
    is_flag=True,
    help="Create the target directory if it does not exist (refused otherwise, so an "
    "unmounted drive's mount point never fills the system disk; drive: targets need not).",
)
@connection_options
@output_options
@pass_app
def run_cmd(
    app,
    names,
    all_sets,
    sources,
    target,
    adhoc_name,
    exclude,
    prune_after,
    allow_empty,
    create_target,
    accept_new,
    connect_timeout,
    fmt,
) -> int:
    """Make a snapshot of each backup set NAME (or --all, or an ad hoc set).

    A run fails (non-zero exit, journal entry, cron mail) rather than leave
    a snapshot that looks complete but is not: the snapshot is written as
    .inprogress and renamed only after rsync and the manifest succeeded; an
    interrupted run is picked up by the next one. Two runs of one set never
    overlap: the second exits 4 naming the holder of the lock.

    A missing source is refused (exit 2) before anything is written, and so
    is a target directory that does not exist (an unmounted drive), unless
    --create-target or a drive: target. Sources that have fewer than half
    the files of the last snapshot (and at least 50 fewer), or none, make no
    snapshot (exit 1) unless --allow-empty.

    \b
    Examples:
      wacket backup run home
      wacket backup run --all --prune
      wacket backup run --source ~/Documents --target nas:/backups --name docs
      wacket backup run --source ~/Photos --target drive:USBDISK:/backups --name photos
    """
    from wacket.backup import choose, runs

    adhoc = (list(sources), target, adhoc_name, list(exclude))
    todo = choose.sets_to_run(app.config, app.fleet, list(names), all_sets, adhoc)
    pool = app.pool(accept_new, connect_timeout)
    options = dict(prune_after=prune_after, accept_new=accept_new, connect_timeout=connect_timeout,
                   note=app.note, allow_empty=allow_empty, create_target=create_target)  # fmt: skip
    code = Exit.OK
    with Renderer(fmt, runs.COLUMNS) as out:
        human = out.fmt in ("table", "plain")
        for done in runs.run_sets(pool, app.fleet, todo, human, **options):
            if done.error:
                _fail(done.error)
            out.emit(done.record)
            if done.problem:
                _fail(done.problem)
            if done.note:
                app.note(done.note)
            code = max(code, done.code)
    return code


@backup.command("prune")
@click.argument("name", type=Completes("set"))
@click.option("--dry-run", "-n", is_flag=True, help="Only list what would be removed.")
@click.option("--force", is_flag=True, help="Prune even though the last run failed.")
@connection_options
@output_options
@pass_app
def prune_cmd(app, name, dry_run, force, accept_new, connect_timeout, fmt) -> int:
    """Apply the set's keep policy: remove snapshots no bucket keeps.

    Buckets (UTC): last, hourly, daily, weekly, monthly, yearly, as restic's
    forget --keep-*; keep_within = "7d" keeps everything that recent. The
    newest snapshot is always kept; refuses while the last run failed.

    \b
    Examples:
      wacket backup prune home --dry-run
      wacket backup prune home
    """
    from wacket.backup.prune import prune_records

    pool = app.pool(accept_new, connect_timeout)
    records = prune_records(pool, app.fleet, named_set(app, name), dry_run=dry_run, force=force)
    with Renderer(fmt, ["snapshot", "action", "reasons"]) as out:
        for rec in records:
            out.emit(rec)
    return Exit.OK


@backup.command("drives")
@click.argument("hostset", required=False, default="all")
@click.option(
    "--all", "show_all", is_flag=True, help="Also the system's own filesystems (/, /boot, ...)."
)
@connection_options
@forks_option
@output_options
@pass_app
def drives_cmd(app, hostset, show_all, accept_new, connect_timeout, forks, fmt) -> int:
    """Removable and other data filesystems mounted across HOSTSET (default: all).

    Lists mounted block-device filesystems that have a label or UUID, except
    the system's own (/, /boot, /usr, /var, /home...; see --all).

    Use one as a target with drive:LABEL:/path or drive:UUID:/path: the backup
    finds the host the drive is plugged into.

    \b
    Example:
      wacket backup drives
    """
    from collections import Counter

    from wacket.backup import drives
    from wacket.transport.result import HostResults, Policy

    hosts = app.fleet.select(hostset)
    records, results = drives.list_drives(app.pool(accept_new, connect_timeout), hosts, forks)
    cols = ["host", "label", "uuid", "size", "free", "mountpoint", "removable", "source"]
    rows = drives.shown(records, show_all, fmt in (None, "table", "plain"))
    shown = Counter(r["host"] for r in rows)
    with Renderer(fmt, cols) as out:
        for r in rows:
            out.emit(r)
        report_hosts(
            out,
            results,
            shown,
            "no drives" if show_all else "no drives (--all adds the system's own)",
        )
    # only an UnreachableError carries exit 3 out of a drives listing
    return HostResults(results).exit_code(Policy.WORST)


for _command in (list_cmd, verify_cmd, diff_cmd, find_cmd, restore_cmd):
    backup.add_command(_command)
