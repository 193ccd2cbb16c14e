"""The two sides of a two-way sync (and of a plan's fingerprints): each one's root, prepared and
scanned through the helper (one streamed walk per side, both at once), and its cached listing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from wacket.errors import Exit, WacketError
from wacket.sync.endpoints import Endpoint
from wacket.sync.state import Sig, pair_id
from wacket.sync.trash import TRASH


@dataclass
class Side:
    name: str  # "a" or "b"
    ep: Endpoint
    session: object = None
    root: str = ""
    hostname: str = ""
    entries: dict[str, Sig] = field(default_factory=dict)
    errors: list = field(default_factory=list)
    mode: str = "full"
    diff: dict | None = None
    key: str = ""
    missing: bool = False
    walked: str | None = None  # the token of a walk made ahead of the scan (sync.walk)
    racy: set = field(default_factory=set)  # files seen too soon after a write (see sync.stat)

    @property
    def label(self) -> str:
        return self.ep.label

    @property
    def conflict_host(self) -> str:
        return self.hostname if self.ep.is_local else self.ep.host.name

    def helper(self):
        return self.session.helper()

    def spec(self) -> str:
        from wacket.transport.rsync import remote_spec

        root = self.root.rstrip("/") + "/"
        return root if self.ep.is_local else remote_spec(self.ep.host, root)


def call(side: Side, op: str, **args):
    from wacket.remote.client import HelperError

    try:
        return side.helper().call(op, **args)
    except HelperError as exc:
        if exc.kind in ("missing", "notdir", "create"):
            raise WacketError(str(exc), Exit.USAGE) from None
        if exc.kind == "lost":
            from wacket.errors import UnreachableError

            raise UnreachableError(side.ep.host.name, "lost", str(exc)) from None
        raise


def prepare(side: Side, pool, *, create: bool, trash_days, dry_run) -> None:
    """Resolve the root (created on side B if missing), prune old trash."""
    side.session = pool.session(side.ep.host)
    info = call(side, "sync.prepare", root=side.ep.path, create=create and not dry_run,
                 missing_ok=create and dry_run, trash_days=trash_days, dry_run=dry_run)  # fmt: skip
    side.root = info["root"]
    side.hostname = info["host"]
    side.missing = bool(info.get("missing"))  # a dry run towards a side not made yet


def walk_ahead(side: Side, excludes: list[str]) -> None:
    """Walk the side as soon as it is ready, while the other one may still be connecting; the
    scan then only compares (see sync.walk)."""
    if side.missing:
        return
    call(side, "sync.walk", root=side.root, exclude=["/" + TRASH] + list(excludes),
          token=side.name)  # fmt: skip
    side.walked = side.name


def scan(side: Side, *, excludes: list[str], key: str, gen: str | None) -> None:
    """One streamed walk of the whole tree on that side (sync.scan, built on tree.scan's walk).

    Given the generation `gen` of the listing that side keeps from the last good sync, it sends
    only what differs from it (side.mode "diff", side.diff); otherwise every entry ("full")."""
    from wacket.remote.client import HelperError

    if side.missing:
        side.key, side.mode, side.errors, side.entries, side.diff = key, "full", [], {}, None
        return
    done: dict = {}
    items: dict[str, Sig | None] = {}
    try:
        for batch in side.helper().stream(
            "sync.scan", on_done=done.update, root=side.root,
            exclude=["/" + TRASH] + list(excludes), key=key, gen=gen, walked=side.walked,
        ):  # fmt: skip
            for rel, sig in batch:
                items[rel] = tuple(sig) if sig is not None else None
    except HelperError as exc:
        if exc.kind in ("missing", "notdir"):
            raise WacketError(str(exc), Exit.USAGE) from None
        if exc.kind == "lost":
            from wacket.errors import UnreachableError

            raise UnreachableError(side.ep.host.name, "lost", str(exc)) from None
        raise
    side.walked = None
    side.key = key
    side.mode = done.get("mode", "full")
    side.errors = done.get("errors", [])
    side.racy = set(done.get("racy", []))
    if side.mode == "full":
        side.entries, side.diff = items, None
    else:
        side.entries, side.diff = {}, items


def apply_diff(side: Side, base: dict[str, Sig]) -> None:
    """The side's full listing: the listing of the last good sync plus what changed since."""
    entries = dict(base)
    for rel, sig in side.diff.items():
        if sig is None:
            entries.pop(rel, None)
        else:
            entries[rel] = sig
    side.entries, side.diff, side.mode = entries, None, "full"


def commit(side: Side, target: dict[str, Sig], gen: str) -> None:
    """Tell the side that `target` (the new state of that side) is its listing of generation gen."""
    listing = side.entries
    if listing == target:
        changes: list = []
    else:
        changes = [[p, list(s)] for p, s in target.items() if listing.get(p) != s]
        changes += [[p, None] for p in listing.keys() - target.keys()]
    call(side, "sync.commit", key=side.key, gen=gen, changes=changes)


def parallel(fns: list[Callable[[], object]]) -> list:
    """Run callables in threads; re-raise the first error (in order) after all finished."""
    results: list = [None] * len(fns)
    errors: list = [None] * len(fns)

    def wrap(i, fn):
        try:
            results[i] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors[i] = exc

    threads = [threading.Thread(target=wrap, args=(i, fn), daemon=True) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for exc in errors:
        if exc is not None:
            raise exc
    return results


def excludes_of(job) -> list[str]:
    return list(job.excludes) + read_excludes(job.exclude_from)


def scan_sides(a: Side, b: Side, pool, job, *, use_cache: bool = False):
    """Prepare both sides, then scan both at once; returns (pair id, generations asked for)."""
    from wacket.sync import state as statemod

    dry = job.dry_run or bool(job.plan_file)
    excludes = excludes_of(job)

    def ready(side: Side, create: bool) -> None:
        prepare(side, pool, create=create, trash_days=job.trash_days, dry_run=dry)
        walk_ahead(side, excludes)

    parallel([lambda: ready(a, False), lambda: ready(b, True)])
    pid = pair_id(a.ep.host.name, a.root, b.ep.host.name, b.root)
    gens = statemod.read_gens(pid) if use_cache else None
    parallel([
        lambda s=s: scan(s, excludes=excludes, key=f"{pid}-{s.name}",
                         gen=(gens or {}).get(s.name))
        for s in (a, b)
    ])  # fmt: skip
    return pid, gens


def read_excludes(path) -> list[str]:
    if not path:
        return []
    with open(path, encoding="utf-8", errors="surrogateescape") as fh:
        return [ln.strip() for ln in fh if ln.strip() and not ln.lstrip().startswith(("#", ";"))]


def hasher(a: Side, b: Side):
    """Hash paths on both sides at once (the helper's tree.hash), as decide.verify asks."""
    sides = {"a": a, "b": b}

    def hash_both(want: dict[str, list[str]]) -> dict[str, dict]:
        got = parallel([
            lambda s=s: call(sides[s], "tree.hash", root=sides[s].root, paths=want[s])
            if want[s] else {}
            for s in ("a", "b")
        ])  # fmt: skip
        return {"a": got[0], "b": got[1]}

    return hash_both
