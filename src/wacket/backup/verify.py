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


def verify_recorded(t: Target, name: str, snapshot: str | None, *, output, **options):
    """`verify` (with `options`) under a journal entry "backup verify NAME": partial when a
    problem means loss. Each problem goes to the `emit` of `output()`, the caller's renderer,
    opened inside the entry. (totals, how many problems mean loss)."""
    from wacket import jobrun
    from wacket.errors import Exit

    lost = 0

    def seen(problem: dict) -> None:
        nonlocal lost
        if problem["problem"] in LOSS:
            lost += 1
        out.emit(problem)

    with jobrun.run(f"backup verify {name}", [t.location.host.name]) as entry, output() as out:
        totals = verify(t, snapshot, on_problem=seen, **options)
        entry.summary = f"{name}: {len(totals['verified'])} snapshot(s), {lost} problem(s)"
        entry.finish(Exit.PARTIAL if lost else Exit.OK)
    return totals, lost


def summary(totals: dict, lost: int) -> str:
    """The line a verify ends with: snapshots, files checked, bytes hashed, problems."""
    from wacket.output import human_bytes

    return (
        f"verified {len(totals['verified'])} snapshot(s): {totals.get('checked', 0)} of "
        f"{totals.get('files', 0)} files checked, {human_bytes(totals.get('bytes', 0))} hashed, "
        f"{lost} problem(s)"
    )
