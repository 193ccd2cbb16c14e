"""Plan, then apply, for one-way mirrors.

`--plan FILE` runs rsync with --dry-run (same options) for the records, and lists both sides (the
helper's one streamed walk each) for a fingerprint of each. `--apply FILE` lists both sides again,
refuses if either fingerprint differs, then runs the same rsync for real: with both trees as they
were, rsync does exactly what the dry run showed (checked: a difference is reported).
"""

from __future__ import annotations

import os
import time
from dataclasses import fields

from wacket.errors import ConfigError, Exit, WacketError
from wacket.sync import planfile
from wacket.sync.job import Job


def _fingerprints(src, dest, pool) -> dict:
    """Listings of SRC and DEST (whole trees, no excludes) as two digests; DEST may not exist."""
    from wacket.sync.sides import Side, parallel, prepare, scan
    from wacket.sync.state import fingerprint

    sides = [Side("a", src), Side("b", dest)]

    def one(side: Side, create: bool) -> str:
        prepare(side, pool, create=create, trash_days=None, dry_run=True)
        scan(side, excludes=[], key=f"plan-{side.name}", gen=None)
        return fingerprint(side.entries)

    fa, fb = parallel([lambda: one(sides[0], False), lambda: one(sides[1], True)])
    return {"src": fa, "dest": fb}


def _key(rec: dict) -> tuple:
    return (rec["action"], rec["path"])


def make(job, src, dest, pool, run_dry) -> object:
    """Write the plan: the dry run's records and both sides' fingerprints."""
    if src.is_local and not os.path.isdir(src.path):
        raise WacketError(f"{src.label}: a one-way plan needs a directory as SRC", Exit.USAGE)
    fps = _fingerprints(src, dest, pool)
    records: list[dict] = []
    report = run_dry(records.append)
    options = {f.name: getattr(job, f.name) for f in fields(Job) if f.name != "plan_file"}
    data = {"version": 1, "mode": planfile.ONE_WAY, "job": options, "fingerprints": fps,
            "records": records, "made": time.time()}  # fmt: skip
    planfile.write_oneway(job.plan_file, data)
    report.notes.append(f"plan written to {job.plan_file}; carry it out with --apply")
    return report


def load_job(path: str) -> tuple[Job, dict]:
    """The job a one-way plan was made for, and the plan."""
    try:
        data = planfile.read_oneway(path)
        job = Job(**data["job"])
        return job, data
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a wacket sync plan ({exc})") from None


def check(data: dict, src, dest, pool) -> None:
    now = _fingerprints(src, dest, pool)
    for side, label in (("src", src.label), ("dest", dest.label)):
        if now[side] != data["fingerprints"][side]:
            raise WacketError(f"{label} changed since the plan was made; nothing done "
                              "(make a new plan)")  # fmt: skip


def compare(data: dict, done: list[dict]) -> str | None:
    planned = {_key(r) for r in data["records"] if r["action"] != "error"}
    happened = {_key(r) for r in done if r["action"] != "error"}
    if planned == happened:
        return None
    return (f"the run differed from the plan: {len(happened - planned)} unplanned, "
            f"{len(planned - happened)} planned but not done")  # fmt: skip
