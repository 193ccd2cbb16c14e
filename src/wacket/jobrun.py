"""One run of a command that changes something: its lock(s) and its journal entry, in one block.

    with jobrun.run("find index", hosts, locks=["find-index"]) as entry:
        ...
        entry.summary = "..."
        entry.finish(code, done=bool(ok))

The block takes the locks (`lock.job_lock`: a second run exits 4 naming the holder), opens the
journal entry, and when it ends records the entry and releases the locks, in that order. The
entry's outcome is what the block set (`Entry.finish`: "ok" for exit 0, "partial" if some of the
work was done, else "failed"); if the block raised, `journal.entry` records it instead: a signal
is "interrupted" with exit 130 or 143, a `WacketError` is "failed" with its own exit code,
anything else "failed" with 1, and the error's text is appended to the summary.

Locks in `locks` are taken before the entry opens, so a run refused by another one's lock leaves
no journal record (find index, links merge, sync). Locks in `recorded_locks` are taken inside the
entry, so the refusal is recorded as "failed", exit 4 (mail verify --repair). A lock that guards
only part of a run (one account of `mail archive`) is taken inside the block with
`lock.job_lock`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager

from wacket import journal


@contextmanager
def run(
    command: str,
    hosts: list[str],
    *,
    locks: Iterable[str] = (),
    recorded_locks: Iterable[str] = (),
) -> Iterator[journal.Entry]:
    """Hold `locks`, record the journal entry of `command` on `hosts` when the block ends (its
    outcome as the block set it, or as the exception that ended it says), release."""
    from wacket.lock import job_lock

    with ExitStack() as stack:
        for name in locks:
            stack.enter_context(job_lock(name))
        entry = stack.enter_context(journal.entry(command, hosts))
        for name in recorded_locks:
            stack.enter_context(job_lock(name))
        yield entry
