"""`backup verify`: re-hash snapshots on the target against their manifests (one remote call)."""

from __future__ import annotations

from collections.abc import Callable

from wacket.backup.catalog import Target, listing, resolve_snapshot

# Problems that mean data is missing or damaged; "extra" (a file the manifest does not know) is
# reported but is no loss.
LOSS = {"missing", "changed", "type", "unreadable", "manifest"}


def verify(
    t: Target,
    snapshot: str | None = None,
    *,
    every: bool = False,
    sample: float = 100.0,
    seed: int | None = None,
    extra: bool = False,
    on_problem: Callable[[dict], None] = lambda p: None,
) -> dict:
    """Totals {snapshots, files, checked, bytes, problems, extra}; each problem goes to on_problem."""
    names = [s["snapshot"] for s in listing(t)["snapshots"]]
    chosen = names if every else [resolve_snapshot(names, snapshot)]
    totals = {}

    def done(value):
        totals.update(value or {})

    for batch in t.helper.stream(
        "backup.verify",
        on_done=done,
        root=t.root,
        snapshots=chosen,
        sample=sample,
        seed=seed,
        extra=extra,
    ):
        for problem in batch:
            on_problem(problem)
    totals["verified"] = chosen
    return totals
