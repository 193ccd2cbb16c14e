"""Running one sync job: its lock, its journal entry, one-way or two-way, and its report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from wacket.fleet import Fleet
from wacket.sync.job import Job
from wacket.sync.report import Report


def run_job(
    job: Job,
    fleet: Fleet,
    pool_factory: Callable[[], object],
    emit: Callable[[dict], None],
    *,
    accept_new: bool = False,
    connect_timeout: float | None = None,
    quiet: bool = False,
    precheck: Callable[[object, object], None] | None = None,
) -> Report:
    """Run one job under its lock and record it in the journal; the report's summary is the
    journal's line (without the job's title)."""
    from wacket import jobrun
    from wacket.sync import endpoints

    a = endpoints.parse(job.a, fleet)
    b = endpoints.parse(job.b, fleet)
    hosts = list(dict.fromkeys([a.host.name, b.host.name]))
    with jobrun.run("sync", hosts, locks=[job.lock_name()]) as entry:
        entry.summary = f"{job.title}: "
        if precheck is not None:
            precheck(a, b)  # --apply: refuse if a side changed since the plan
        if job.mode == "two-way":
            from wacket.sync import twoway

            report = twoway.sync_twoway(
                a, b, job, pool_factory(), emit, accept_new=accept_new,
                connect_timeout=connect_timeout, quiet=quiet,
            )  # fmt: skip
        else:
            report = _oneway(job, a, b, pool_factory, emit, accept_new=accept_new,
                             connect_timeout=connect_timeout, quiet=quiet)  # fmt: skip
        dry = job.dry_run or job.plan_file
        report.summary = ("dry run: " if dry else "") + report.totals.line(report.seconds)
        entry.summary = f"{job.title}: {report.summary}"
        entry.finish(report.code)
    return report


def _oneway(job: Job, a, b, pool_factory, emit, *, accept_new, connect_timeout, quiet) -> Report:
    """The mirror (or, with --plan, its dry run and the plan file), a progress bar on a terminal,
    and rsync's per-file failures as records."""
    from wacket.sync.oneway import error_records, sync_oneway
    from wacket.sync.progress import Progress

    conn = {"accept_new": accept_new, "connect_timeout": connect_timeout}
    bar = Progress(f"{a.label} -> {b.label}", quiet=quiet)

    def on_record(rec: dict) -> None:
        bar.update(rec)
        emit(rec)

    try:
        if job.plan_file:
            from wacket.sync import oneway_plan

            def run_dry(collect):
                def both(rec: dict) -> None:
                    collect(rec)
                    on_record(rec)

                return sync_oneway(a, b, replace(job, dry_run=True), both, **conn)

            report = oneway_plan.make(job, a, b, pool_factory(), run_dry)
        else:
            report = sync_oneway(a, b, job, on_record, **conn)
    finally:
        bar.close()
    for rec in error_records(report):
        report.totals.add(rec)
        emit(rec)
    return report
