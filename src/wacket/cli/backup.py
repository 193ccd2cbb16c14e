"""`wacket backup`: snapshot backups with manifests, verify, restore, retention and drive targets."""

from __future__ import annotations

import click

from wacket.cli.context import App, Completes, connection_options, forks_option, pass_app
from wacket.errors import ConfigError, Exit, WacketError
from wacket.output import Renderer, human_bytes, output_options, report_hosts


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


def _set(app: App, name: str, target: str | None = None):
    from wacket.backup import sets

    if name in sets.set_names(app.config):
        bset = sets.load_set(app.config, app.fleet, name)
        if target:
            bset.target = sets.parse_target(app.fleet, target)
        return bset
    if target:
        sets.check_name(name)
        return sets.BackupSet(name, [], sets.parse_target(app.fleet, target))
    known = ", ".join(sets.set_names(app.config)) or "none"
    raise ConfigError(
        f"no backup set {name!r} in {app.config.path} (sets: {known}); or give --target"
    )


def _target_option(fn):
    return click.option(
        "--target",
        metavar="TARGET",
        type=Completes("path"),
        help="Where the set's snapshots are (HOST:PATH, PATH or drive:LABEL:/path), for sets "
        "not in the config.",
    )(fn)


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
@_target_option
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
    from wacket.backup import runs, sets

    if sources:
        if not target or not adhoc_name or names or all_sets:
            raise ConfigError(
                "an ad hoc backup needs --source, --target and --name (and no set names)"
            )
        todo = [sets.adhoc_set(app.fleet, adhoc_name, list(sources), target, list(exclude))]
    else:
        chosen = sets.set_names(app.config) if all_sets else list(names)
        if not chosen:
            raise ConfigError("name a backup set, use --all, or --source/--target/--name")
        todo = [_set(app, n, target) for n in chosen]
    pool = app.pool(accept_new, connect_timeout)
    code = Exit.OK
    columns = ["set", "snapshot", "files", "added_files", "added", "total", "seconds", "outcome"]
    with Renderer(fmt, columns) as out:
        for bset in todo:
            try:
                res = runs.run_set(pool, app.fleet, bset, prune_after=prune_after,
                                   accept_new=accept_new, connect_timeout=connect_timeout,
                                   note=app.note, allow_empty=allow_empty,
                                   create_target=create_target)  # fmt: skip
            except WacketError as exc:
                _fail(str(exc))
                code = max(code, exc.code)
                out.emit({"set": bset.name, "outcome": "failed", "message": str(exc)})
                continue
            out.emit(runs.record(res, out.fmt in ("table", "plain")))
            if res.outcome != "ok":
                _fail(f"backup {bset.name}: snapshot {res.snapshot} made, but {res.message}")
                code = max(code, Exit.PARTIAL)
            elif res.pruned:
                app.note(
                    f"{bset.name}: pruned {len(res.pruned)} snapshot(s): {', '.join(res.pruned)}"
                )
    return code


@backup.command("list")
@click.argument("name", type=Completes("set"))
@_target_option
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

    bset = _set(app, name, target)
    t = catalog.open_target(app.pool(accept_new, connect_timeout), app.fleet, bset)
    human = fmt in (None, "table", "plain")
    with Renderer(fmt, ["snapshot", "files", "added_files", "added", "total", "status"]) as out:
        for rec in catalog.snapshot_records(t):
            rec["added"] = human_bytes(rec.pop("added_bytes")) if human else rec.pop("added_bytes")
            rec["total"] = human_bytes(rec.pop("bytes")) if human else rec.pop("bytes")
            out.emit(rec)
    return Exit.OK


@backup.command("verify")
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
@_target_option
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
    from wacket import jobrun
    from wacket.backup import catalog
    from wacket.backup.verify import LOSS, verify

    bset = _set(app, name, target)
    t = catalog.open_target(app.pool(accept_new, connect_timeout), app.fleet, bset)
    lost = 0
    with (
        jobrun.run(f"backup verify {name}", [t.location.host.name]) as entry,
        Renderer(fmt, ["snapshot", "path", "problem", "detail"]) as out,
    ):

        def on_problem(p):
            nonlocal lost
            if p["problem"] in LOSS:
                lost += 1
            out.emit(p)

        totals = verify(t, snapshot, every=every, sample=sample, extra=extra, on_problem=on_problem)
        entry.summary = f"{name}: {len(totals['verified'])} snapshot(s), {lost} problem(s)"
        entry.finish(Exit.PARTIAL if lost else Exit.OK)
    app.note(
        f"verified {len(totals['verified'])} snapshot(s): {totals.get('checked', 0)} of "
        f"{totals.get('files', 0)} files checked, {human_bytes(totals.get('bytes', 0))} hashed, "
        f"{lost} problem(s)"
    )
    return Exit.PARTIAL if lost else Exit.OK


@backup.command("diff")
@click.argument("name", type=Completes("set"))
@click.argument("s1", type=Completes("snapshot"))
@click.argument("s2", required=False, default="latest", type=Completes("snapshot"))
@_target_option
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

    bset = _set(app, name, target)
    t = catalog.open_target(app.pool(accept_new, connect_timeout), app.fleet, bset)
    names = [s["snapshot"] for s in catalog.listing(t)["snapshots"]]
    a, b = catalog.resolve_snapshot(names, s1), catalog.resolve_snapshot(names, s2)
    with Renderer(fmt, ["change", "path", "type", "size", "old_size"]) as out:
        for rec in catalog.diff(t, a, b):
            out.emit(rec)
    return Exit.OK


@backup.command("find")
@click.argument("name", type=Completes("set"))
@click.argument("pattern")
@_target_option
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
    from wacket.timeparse import iso

    bset = _set(app, name, target)
    t = catalog.open_target(app.pool(accept_new, connect_timeout), app.fleet, bset)
    count = 0
    with Renderer(fmt, ["path", "snapshot", "version", "size", "mtime"]) as out:
        for rec in catalog.find(t, pattern):
            count += 1
            if out.fmt in ("table", "plain"):
                rec["mtime"] = iso(rec["mtime"])
            out.emit(rec)
    return Exit.OK if count else Exit.PARTIAL


@backup.command("restore")
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
@_target_option
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
    from wacket.backup import catalog, restore, sets

    bset = _set(app, name, target)
    pool = app.pool(accept_new, connect_timeout)
    t = catalog.open_target(pool, app.fleet, bset)
    names = [s["snapshot"] for s in catalog.listing(t)["snapshots"]]
    items = list(items)
    ref = items.pop(0) if items and catalog.looks_like_snapshot(items[0]) else None
    snap = catalog.resolve_snapshot(names, ref)
    plan = restore.plan_restore(t, snap, items)
    where = sets.parse_location(app.fleet, dest, "destination")
    from wacket import jobrun

    with jobrun.run(f"backup restore {name}", sorted({t.location.host.name, where.host.name})) as e:
        res = restore.restore(
            pool,
            t,
            plan,
            where,
            overwrite=overwrite,
            accept_new=accept_new,
            connect_timeout=connect_timeout,
        )
        e.summary = f"{name}: {snap} -> {where}: {res['files']} files"
    with Renderer(fmt, ["snapshot", "to", "files", "bytes", "overwritten"]) as out:
        out.emit(res)
    return Exit.OK


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
    from wacket import jobrun
    from wacket.backup.prune import prune

    bset = _set(app, name)
    pool = app.pool(accept_new, connect_timeout)
    if dry_run:
        decisions, _ = prune(pool, app.fleet, bset, dry_run=True)
    else:
        target = str(bset.target).split(":")[0]
        with jobrun.run(f"backup prune {name}", [target]) as e:
            decisions, _ = prune(pool, app.fleet, bset, force=force)
            gone = [d.snapshot for d in decisions if not d.keep]
            e.summary = f"{name}: removed {len(gone)}, kept {len(decisions) - len(gone)}"
    with Renderer(fmt, ["snapshot", "action", "reasons"]) as out:
        for d in decisions:
            action = "keep" if d.keep else ("would remove" if dry_run else "removed")
            out.emit({"snapshot": d.snapshot, "action": action, "reasons": d.reasons})
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
