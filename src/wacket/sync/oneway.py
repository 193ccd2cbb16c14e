"""One-way mirror: rsync SRC to DEST, one record per itemized change, and the deletion guard.

With `--delete`, the guard runs rsync first with `--max-delete=0`: everything is transferred, nothing
deleted, and rsync says whether anything would have been. If so, a deletions-only dry run counts
what would go; over the limit, the run stops there (nothing deleted); under it, a last rsync
(`--existing --ignore-existing --delete`) does only the deletions. A run without deletions pending
costs one rsync, the same as a bare `rsync -a`.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable

from wacket.errors import Exit, WacketError
from wacket.sync.endpoints import Endpoint, check_pair
from wacket.sync.job import Job
from wacket.sync.report import Report
from wacket.sync.totals import Totals
from wacket.transport import rsync

DEFAULT_MAX_DELETE = 50
# rsync's incremental recursion keeps memory low on huge trees but makes a run that finds little
# to do slower (about a tenth here on 100,000 files). A pair whose last run listed at most this
# many entries (rsync then holds roughly 100 bytes each in memory) is run without it.
WHOLE_LIST_MAX = 1_000_000


class GuardError(WacketError):
    """The deletion guard stopped a run before it deleted anything."""

    code = Exit.PARTIAL

    def __init__(self, count: int, limit: int, where: str):
        self.count = count
        self.limit = limit
        super().__init__(
            f"{where}: the run would delete {count} files or directories (limit {limit}); "
            "nothing was deleted. Check the source (an empty or unmounted source wipes a mirror), "
            f"then re-run with --force or --max-delete {count}"
        )


def default_limit(dest_entries: int) -> int:
    """50 or 10% of the destination, whichever is smaller (at least 1)."""
    return max(1, min(DEFAULT_MAX_DELETE, dest_entries // 10))


PARTIAL_DIR = ".wacket-partial"  # relative: rsync keeps it out of transfers and deletions


def build_args(src: Endpoint, dest: Endpoint, job: Job, *, accept_new: bool = False,
               connect_timeout: float | None = None) -> list[str]:  # fmt: skip
    remote = None if src.is_local and dest.is_local else (dest.host if src.is_local else src.host)
    args = rsync.sync_args(remote, accept_new=accept_new, connect_timeout=connect_timeout)
    if job.dry_run:
        args.append("--dry-run")
    if job.checksum:
        args.append("--checksum")
    if job.bwlimit:
        args.append(f"--bwlimit={job.bwlimit}")
    if job.partial:  # the part of a file cut short waits there, never under its real name
        args.append(f"--partial-dir={PARTIAL_DIR}")
    if job.compress:
        args.append("--compress")
    for pat in job.excludes:
        args.append(f"--exclude={pat}")
    if job.exclude_from:
        args.append(f"--exclude-from={job.exclude_from}")
    return args


def _run(args: list[str], on_record: Callable[[dict], None]) -> rsync.Result:
    """rsync, each change going to `on_record` as sync's record."""
    return rsync.run(args, rsync.records(on_record))


def _ends(src: Endpoint, dest: Endpoint) -> list[str]:
    return ["--", src.rsync_spec(), dest.rsync_spec()]


def sync_oneway(
    src: Endpoint,
    dest: Endpoint,
    job: Job,
    on_record: Callable[[dict], None],
    *,
    accept_new: bool = False,
    connect_timeout: float | None = None,
) -> Report:
    """Mirror SRC to DEST like `rsync -a`; `on_record` gets every change as it happens."""
    check_pair(src, dest)
    remote = None if src.is_local and dest.is_local else (dest.host if src.is_local else src.host)
    totals = Totals()
    errors: list[str] = []
    started = time.monotonic()

    def record(rec: dict) -> None:
        if rec["path"] == "." and rec["action"] == "attrs":
            return  # the top directory's time: not a change anyone asked about
        totals.add(rec)
        on_record(rec)

    args = build_args(src, dest, job, accept_new=accept_new, connect_timeout=connect_timeout)
    size_file = _size_file(src, dest)
    last = _read_size(size_file)
    if last is not None and last <= WHOLE_LIST_MAX and rsync.version() >= (3, 0, 0):
        args.append("--no-inc-recursive")
    report = Report(totals, 0.0, errors)
    if not job.delete:
        res = _run(args + _ends(src, dest), record)
        _finish(res, src, dest, remote, report, connect_timeout=connect_timeout)
    elif job.dry_run or job.force:
        # --delete-delay: deletions happen only once every transfer is done, so a run that
        # fails half way (host unreachable) has deleted nothing.
        res = _run(args + ["--delete-delay"] + _ends(src, dest), record)
        _finish(res, src, dest, remote, report, connect_timeout=connect_timeout)
        report.would_delete = totals.files["delete"]
        if job.dry_run and report.would_delete and not job.force:
            dest_entries = (
                res.stats.get("files", 0) - res.stats.get("created", 0) + report.would_delete
            )
            limit = job.max_delete if job.max_delete is not None else default_limit(dest_entries)
            if report.would_delete > limit:
                report.notes.append(
                    f"would delete {report.would_delete} (limit {limit}): a real run stops "
                    "before deleting (--force to go past the guard)"
                )
    else:
        res = _guarded_delete(args, src, dest, remote, job, report, record, connect_timeout)
    listed = res.stats.get("files")
    if (
        listed is not None
        and not job.dry_run
        and (last is None or (listed > WHOLE_LIST_MAX) != (last > WHOLE_LIST_MAX))
    ):
        _write_size(size_file, listed)
    report.seconds = time.monotonic() - started
    return report


def _guarded_delete(args, src, dest, remote, job: Job, report: Report, record,
                    connect_timeout) -> rsync.Result:  # fmt: skip
    """--delete under the guard: pass 1 transfers everything and deletes nothing, counting what
    would go; over the limit the run stops (GuardError), else pass 2 does only the deletions.
    Returns pass 1's run (its --stats count the pair's entries)."""
    # Pass 1: transfer everything, delete nothing, count what would go.
    res = _run(args + ["--delete", "--max-delete=0"] + _ends(src, dest), record)
    _finish(res, src, dest, remote, report, connect_timeout)
    pending = res.stats.get("skipped_deletes", 0)
    if pending:
        pending = _count_deletions(args, src, dest, remote)
    report.would_delete = pending
    if pending:
        dest_entries = res.stats.get("files", 0) - res.stats.get("created", 0) + pending
        limit = job.max_delete if job.max_delete is not None else default_limit(dest_entries)
        if pending > limit:
            raise GuardError(pending, limit, dest.label)
        # Pass 2: deletions only, capped at what pass 1 counted.
        res2 = _run(
            args + ["--existing", "--ignore-existing", "--delete", f"--max-delete={pending}"]
            + _ends(src, dest),
            record,
        )  # fmt: skip
        _finish(res2, src, dest, remote, report, connect_timeout)
    return res


def _count_deletions(args: list[str], src: Endpoint, dest: Endpoint, remote) -> int:
    """How many entries a real run deletes, as rsync's --stats counts them. The count that
    --max-delete=0 reports is not it: a directory left non-empty by the skipped deletions
    inside it is not counted, an empty one is (34 files in x/, x/y/ and z/ came out as 35,
    not 37), so a deletions-only dry run itemizes them instead."""
    deletions = 0

    def count(rec: dict) -> None:
        nonlocal deletions
        deletions += rec["action"] == "delete"

    dry = ["--dry-run", "--existing", "--ignore-existing", "--delete"]
    res = _run(args + dry + _ends(src, dest), count)
    rsync.check_sync(res, remote)
    return deletions


def _size_file(src: Endpoint, dest: Endpoint):
    """Where the number of entries of this pair's last run is kept (see WHOLE_LIST_MAX)."""
    import hashlib

    from wacket import paths

    key = f"{src.label}\0{dest.label}".encode("utf-8", "surrogateescape")
    name = "oneway-" + hashlib.sha256(key).hexdigest()[:20] + ".entries"
    return paths.private_dir(paths.data_dir() / "sync") / name


def _read_size(path) -> int | None:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


def _write_size(path, entries: int) -> None:
    from wacket.fsutil import atomic_write

    try:
        atomic_write(path, b"%d" % entries)
    except OSError:
        pass  # only a speed hint


def _finish(res, src, dest, remote, report: Report, connect_timeout=None) -> None:
    if res.rc == 23 and _missing_source(res, src):
        raise WacketError(f"{src.label}: source does not exist", Exit.USAGE)
    if res.rc == 3 and any(
        "change_dir" in line and "No such file" in line for line in res.error_lines
    ):
        where = src.label if _mentions(res, src) else dest.label
        raise WacketError(f"{where}: no such directory", Exit.USAGE)
    if res.rc == 23:
        # Some files failed (permission denied, ...): the rest was done; report each one.
        for line in res.error_lines:
            if line.startswith("rsync error:"):
                continue
            report.errors.append(line)
        return
    if res.rc == 24:
        report.notes.append("some source files vanished while rsync ran")
        return
    rsync.check_sync(res, remote, connect_timeout=connect_timeout)


def _mentions(res, ep: Endpoint) -> bool:
    path = ep.path.rstrip("/")
    return any(path and path in line for line in res.error_lines)


def _missing_source(res, src: Endpoint) -> bool:
    return (
        res.records == 0
        and any(
            ("link_stat" in line or "change_dir" in line) and "No such file" in line
            for line in res.error_lines
        )
        and _mentions(res, src)
    )


def error_records(report: Report) -> list[dict]:
    """rsync's per-file failures as records (action `error`)."""
    out = []
    for line in report.errors:
        m = re.search(r'"([^"]*)"', line)
        out.append({"action": "error", "kind": None, "path": os.fsdecode(m.group(1)) if m else "",
                    "size": None, "message": line})  # fmt: skip
    return out
