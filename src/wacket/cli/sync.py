"""`wacket sync`: one-way mirrors (rsync) and two-way synchronization, ad hoc or from profiles."""

from __future__ import annotations

import click

from wacket.cli.context import Completes, connection_options, pass_app
from wacket.errors import ConfigError, Exit
from wacket.output import Renderer, output_options

RECORD_COLUMNS = ["action", "kind", "size", "path"]


@click.command()
@click.argument(
    "paths", nargs=-1, metavar="SRC DEST | PROFILE", type=Completes("profile+path", "path")
)
@click.option(
    "--two-way", "two_way", is_flag=True, help="Keep both sides the same (per-pair state)."
)
@click.option("--all", "all_", is_flag=True, help="Run every [sync.NAME] profile of the config.")
@click.option("--dry-run", "-n", is_flag=True, help="Show what would change; change nothing.")
@click.option("--delete", is_flag=True, help="One-way: delete files in DEST that SRC lacks.")
@click.option(
    "--exclude",
    "excludes",
    multiple=True,
    metavar="PAT",
    help="Skip paths matching PAT (rsync syntax); repeatable.",
)
@click.option(
    "--exclude-from",
    type=click.Path(exists=True, dir_okay=False),
    metavar="FILE",
    help="Read exclude patterns from FILE.",
)
@click.option("--checksum", "-c", is_flag=True, help="Compare file contents, not size and time.")
@click.option("--bwlimit", metavar="RATE", help="Limit bandwidth (rsync units, e.g. 5M).")
@click.option("--partial", is_flag=True, help="Keep partly transferred files to resume large ones.")
@click.option("--compress", "-z", is_flag=True, help="Compress data in transit.")
@click.option(
    "--max-delete",
    type=click.IntRange(0),
    metavar="N",
    help="Refuse a run that would delete more than N files (default: 50 or 10% of DEST, whichever is smaller).",
)
@click.option("--force", is_flag=True, help="Run even past the deletion guard.")
@click.option(
    "--conflict",
    type=click.Choice(["keep-both", "newer", "a", "b"]),
    help="Two-way: who wins a conflict (default keep-both: the loser is kept as NAME.conflict-HOST-TIME.EXT).",
)
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Write the decided actions to FILE (JSON); change nothing.",
)
@click.option(
    "--apply",
    "apply_file",
    type=click.Path(exists=True, dir_okay=False),
    metavar="FILE",
    help="Carry out a plan written by --plan, if neither side changed since.",
)
@click.option(
    "--trash-days",
    type=float,
    metavar="DAYS",
    help="Two-way: keep .wacket-trash entries this long (default 30).",
)
@connection_options
@output_options
@pass_app
def sync(app, paths, two_way, all_, dry_run, delete, excludes, exclude_from, checksum, bwlimit,
         partial, compress, max_delete, force, conflict, plan_file, apply_file, trash_days,
         accept_new, connect_timeout, fmt) -> int:  # fmt: skip
    """Mirror SRC to DEST (one-way, rsync), or keep two replicas the same (--two-way).

    Each side is PATH (this machine) or HOST:PATH (a fleet host or ~/.ssh/config alias).
    One argument runs the profile [sync.PROFILE] of the config; --all runs every profile.
    Every change is one record (action create/update/delete/attrs/conflict, kind, size,
    path): --jsonl streams them, the table shows a summary. Two-way never loses a file:
    what it deletes or overwrites goes to .wacket-trash/TIME-RUN/ on that side, and a conflict
    keeps both versions.

    \b
    Exit status: 0 ok, 1 some files failed or the deletion guard stopped the run,
    2 bad arguments, 3 a host was unreachable, 4 the profile is already running.

    \b
    Examples:
      wacket sync ~/Music/ nas:/srv/music/ --delete
      wacket sync nas:/srv/photos/ ~/photos/ --dry-run --jsonl
      wacket sync --two-way ~/Documents nas:/srv/docs
      wacket sync --two-way --plan plan.json ~/Documents nas:/srv/docs
      wacket sync --apply plan.json
      wacket sync docs
      wacket -q sync --all
    """
    from wacket.sync import profiles
    from wacket.sync.job import Job

    overrides = {
        "dry_run": dry_run, "delete": delete, "excludes": list(excludes),
        "exclude_from": exclude_from, "checksum": checksum, "bwlimit": bwlimit,
        "partial": partial, "compress": compress, "max_delete": max_delete, "force": force,
        "conflict": conflict, "trash_days": trash_days, "plan_file": plan_file,
    }  # fmt: skip
    if apply_file:
        if paths or all_:
            raise ConfigError("--apply FILE takes no SRC/DEST or profile: the plan names them")
        return _apply(app, apply_file, fmt, accept_new, connect_timeout)
    if all_:
        if paths:
            raise ConfigError("--all runs every profile; give no SRC/DEST or profile with it")
        jobs = profiles.load_all(app.config, overrides)
        if not jobs:
            raise ConfigError(f"{app.config.path}: no [sync.NAME] profiles")
    elif len(paths) == 1:
        jobs = [profiles.load(app.config, paths[0], overrides)]
    elif len(paths) == 2:
        jobs = [Job(paths[0], paths[1], mode="two-way" if two_way else "one-way",
                    **profiles.clean(overrides))]  # fmt: skip
    else:
        raise ConfigError("give SRC and DEST, one PROFILE name, or --all (see wacket sync --help)")
    if plan_file and len(jobs) != 1:
        raise ConfigError("--plan works on one pair (SRC DEST or one profile), not --all")
    return _run(app, jobs, fmt, accept_new, connect_timeout)


def _run(app, jobs, fmt, accept_new, connect_timeout, precheck=None, collect=None) -> int:
    from wacket.errors import WacketError
    from wacket.output import resolve
    from wacket.sync.run import run_job

    fmt = resolve(fmt)
    worst = Exit.OK
    summary_rows = []
    with Renderer(fmt if fmt != "table" else "plain", RECORD_COLUMNS) as out:
        shown = _emitter(app, out, fmt)
        if collect is None:
            emit = shown
        else:

            def emit(rec: dict) -> None:
                collect(rec)
                shown(rec)

        for job in jobs:
            try:
                report = run_job(
                    job, app.fleet, lambda: app.pool(accept_new, connect_timeout), emit,
                    accept_new=accept_new, connect_timeout=connect_timeout, quiet=app.quiet,
                    precheck=precheck,
                )  # fmt: skip
            except WacketError as exc:
                if len(jobs) == 1:
                    raise
                # --all: one profile's failure does not stop the others.
                from click import echo

                echo(f"wacket: error: {job.title}: {exc}", err=True)
                worst = max(worst, exc.code)
                continue
            worst = max(worst, report.code)
            for note in report.notes:
                app.note(f"wacket sync: {job.title}: {note}")
            if fmt == "table":
                for row in report.totals.rows(report.seconds):
                    summary_rows.append(dict(row, job=job.title) if len(jobs) > 1 else row)
            else:
                app.note(f"wacket sync: {job.title}: {report.summary}")
    if fmt == "table":
        _summary_table(["job"] if len(jobs) > 1 else [], summary_rows)
    return int(worst)


def _summary_table(first: list[str], rows: list[dict]) -> None:
    with Renderer("table", first + ["action", "files", "bytes", "seconds", "throughput"]) as t:
        for row in rows:
            t.emit(row)


def _emitter(app, out: Renderer, fmt: str):
    """Where records go: the renderer, or (table) the summary's notes on stderr."""
    if fmt != "table":
        return out.emit
    from click import echo

    def emit(rec: dict) -> None:
        """The table is a summary: failures and conflicts are still named, on stderr."""
        if rec["action"] == "error":
            echo(f"wacket sync: error: {rec['path']}: {rec.get('message', '')}", err=True)
        elif rec["action"] == "conflict" and not app.quiet:
            kept = f" (the other version is kept as {rec['kept_as']})" if rec.get("kept_as") else ""
            echo(f"wacket sync: conflict: {rec['path']}{kept}", err=True)

    return emit


def _apply(app, plan_file, fmt, accept_new, connect_timeout) -> int:
    from wacket.sync import oneway_plan, planfile

    if not planfile.is_oneway(plan_file):
        return _apply_twoway(app, plan_file, fmt, accept_new, connect_timeout)
    job, data = oneway_plan.load_job(plan_file)
    job.plan_file, job.dry_run = None, False
    pool = app.pool(accept_new, connect_timeout)
    done: list[dict] = []
    code = _run(app, [job], fmt, accept_new, connect_timeout,
                precheck=lambda a, b: oneway_plan.check(data, a, b, pool), collect=done.append)  # fmt: skip
    problem = oneway_plan.compare(data, done)
    if problem:
        app.note(f"wacket sync: {problem}")
    return code


def _apply_twoway(app, plan_file, fmt, accept_new, connect_timeout) -> int:
    from wacket.output import resolve
    from wacket.sync import twoway

    fmt = resolve(fmt)
    pool = app.pool(accept_new, connect_timeout)
    with (
        twoway.applying(plan_file, app.fleet, pool, accept_new=accept_new,
                      connect_timeout=connect_timeout) as carry_out,
        # opened once the plan is found still good: a refused plan prints nothing
        Renderer(fmt if fmt != "table" else "plain", RECORD_COLUMNS) as out,
    ):  # fmt: skip
        report = carry_out(_emitter(app, out, fmt), quiet=app.quiet)
    if fmt == "table":
        _summary_table([], report.totals.rows(report.seconds))
    else:
        app.note(f"wacket sync: applied {plan_file}: {report.summary}")
    return int(report.code)
