"""Running one sync job: its lock, its journal entry, one-way or two-way, and its report."""

from __future__ import annotations

from collections.abc import Callable

from wacket.errors import Exit
from wacket.fleet import Fleet
from wacket.sync.job import Job


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
) -> tuple[Exit, str, object]:
    """Run one job under its lock and record it in the journal; returns (exit code, summary, report)."""
    from wacket import journal
    from wacket.lock import job_lock
    from wacket.sync import endpoints

    a = endpoints.parse(job.a, fleet)
    b = endpoints.parse(job.b, fleet)
    hosts = list(dict.fromkeys([a.host.name, b.host.name]))
    with job_lock(job.lock_name()), journal.entry("sync", hosts) as entry:
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
            from wacket.sync.oneway import OneWayOptions, error_records, sync_oneway
            from wacket.sync.progress import Progress

            opts = OneWayOptions(
                delete=job.delete, dry_run=job.dry_run, excludes=list(job.excludes),
                exclude_from=job.exclude_from, checksum=job.checksum, bwlimit=job.bwlimit,
                partial=job.partial, compress=job.compress, max_delete=job.max_delete,
                force=job.force, accept_new=accept_new, connect_timeout=connect_timeout,
            )  # fmt: skip
            bar = Progress(f"{a.label} -> {b.label}", quiet=quiet)

            def on_record(rec: dict) -> None:
                bar.update(rec)
                emit(rec)

            try:
                if job.plan_file:
                    from dataclasses import replace

                    from wacket.sync import oneway_plan

                    dry = replace(opts, dry_run=True)

                    def run_dry(collect):
                        def both(rec: dict) -> None:
                            collect(rec)
                            on_record(rec)

                        return sync_oneway(a, b, dry, both)

                    report = oneway_plan.make(job, a, b, pool_factory(), run_dry)
                else:
                    report = sync_oneway(a, b, opts, on_record)
            finally:
                bar.close()
            for rec in error_records(report):
                report.totals.add(rec)
                emit(rec)
        dry = job.dry_run or job.plan_file
        summary = ("dry run: " if dry else "") + report.totals.line(report.seconds)
        entry.summary = f"{job.title}: {summary}"
        code = report.code
        entry.exit_code = code
        entry.outcome = "ok" if code == Exit.OK else "partial"
    return code, summary, report
