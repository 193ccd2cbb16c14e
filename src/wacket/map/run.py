"""The body of `wacket map`: the items, the usable hosts, the jobs run under the journal, their
output (as it comes, or in input order) and the run's summary."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from wacket.errors import ConfigError, Exit
from wacket.map.items import Item
from wacket.map.scheduler import HostInfo, JobResult, Options


@dataclass
class Batch:
    """What `run` did: the failed jobs and the journal's summary line."""

    failed: list[JobResult] = field(default_factory=list)
    summary: str = ""

    @property
    def code(self) -> int:
        return Exit.PARTIAL if self.failed else Exit.OK


def load_items(lines: list[str], jsonl_in: bool, resume_from: str | None) -> tuple[list, int]:
    """The items to run, and how many `--resume` skips (those its joblog records as done)."""
    from wacket.map import joblog
    from wacket.map.items import read_items

    items = read_items(lines, jsonl_in)
    if not resume_from:
        return items, 0
    done = joblog.succeeded(resume_from)
    return [i for i in items if i.value not in done], sum(1 for i in items if i.value in done)


def usable_hosts(pool, targets, opts: Options, note: Callable[[str], None], any_items: bool):
    """Every host's probe, the ones not used said; refused if none is usable and there is work."""
    from wacket.map.scheduler import probe

    infos = probe(pool, targets, opts)
    for info in infos:
        if info.state != "up":
            note(f"wacket map: {info.host.name} not used: {info.state} ({info.reason})")
    if any_items and not any(i.state == "up" for i in infos):
        raise ConfigError("no host of the set is reachable and idle enough", Exit.UNREACHABLE)
    return infos


class _Output:
    """Each job's output (its stdout, its stderr to ours) or its --jsonl record, as it finishes
    or, with --keep-order, in the items' order."""

    def __init__(self, items: list[Item], keep_order: bool, fmt: str | None):
        self.fmt = fmt
        self.keep_order = keep_order
        self.out = sys.stdout.buffer
        self.pending: dict[int, JobResult] = {}
        self.order = [i.seq for i in items]
        self.position = {seq: n for n, seq in enumerate(self.order)}
        self.next_seq = items[0].seq if items else 0

    def show(self, result: JobResult) -> None:
        from wacket.output import dumps

        if self.fmt == "jsonl":
            self.out.write(dumps(result.record()).encode() + b"\n")
        else:
            self.out.write(result.stdout)
            if result.stderr:
                sys.stderr.buffer.write(result.stderr)
        self.out.flush()

    def add(self, result: JobResult) -> None:
        if not self.keep_order:
            self.show(result)
            return
        self.pending[result.item.seq] = result
        while self.next_seq in self.pending:
            self.show(self.pending.pop(self.next_seq))
            n = self.position[self.next_seq] + 1
            self.next_seq = self.order[n] if n < len(self.order) else -1


def run(
    pool,
    infos: list[HostInfo],
    items: list[Item],
    command: list[str],
    opts: Options,
    *,
    skipped: int = 0,
    keep_order: bool = False,
    fmt: str | None = None,
    quiet: bool = False,
) -> Batch:
    """Run COMMAND per item on the usable hosts under the journal entry "map", with a progress
    bar on a terminal; the jobs' output goes to stdout as `_Output` says."""
    from wacket import jobrun
    from wacket.map.scheduler import Scheduler
    from wacket.output import progress

    output = _Output(items, keep_order, fmt)
    usable = [i for i in infos if i.state == "up"]
    failures = [0]
    batch = Batch()
    with progress(length=len(items), label="jobs", quiet=quiet, show_status=True) as bar:

        def on_result(result) -> None:
            failures[0] += not result.ok
            bar.update(1, f"running {scheduler.running}, failed {failures[0]}")
            output.add(result)

        with jobrun.run("map", [i.host.name for i in usable]) as entry:
            scheduler = Scheduler(pool, infos, items, command, opts, on_result)
            results = scheduler.run()
            batch.failed = [r for r in results if not r.ok]
            done = len(results) - len(batch.failed)
            batch.summary = _summary(items, infos, skipped, done, len(batch.failed))
            entry.summary = batch.summary
            entry.finish(batch.code, bool(done))
    return batch


def _summary(items, infos, skipped: int, done: int, failed: int) -> str:
    summary = f"{len(items) + skipped} items: {done} done, {failed} failed"
    if skipped:
        summary += f", {skipped} skipped (done before)"
    lost = [i.host.name for i in infos if i.state == "lost"]
    if lost:
        summary += f"; hosts lost mid-batch: {','.join(lost)}"
    return summary
