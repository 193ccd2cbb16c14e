"""The keep policy: which snapshots survive a prune (restic's `forget --keep-*` rules, in UTC).

For each bucket kind with a count n, walk the snapshots newest first and keep the newest snapshot
of each of the last n distinct periods (hours, days, ISO weeks, months, years) that have one.
`last = n` keeps the n newest. `keep_within` keeps every snapshot taken within that span before
the newest one (measured from the newest snapshot, not from now, so a backup job that has been
failing for a month does not age the last good snapshots out). The newest snapshot is always kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

SNAP_RE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d)(\d\d)(\d\d)Z$")


def snapshot_time(name: str) -> datetime:
    m = SNAP_RE.match(name)
    if not m:
        raise ValueError(f"not a snapshot name: {name!r}")
    y, mo, d, h, mi, s = map(int, m.groups())
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def snapshot_name(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H%M%SZ")


_BUCKETS = {
    "hourly": lambda t: (t.year, t.month, t.day, t.hour),
    "daily": lambda t: (t.year, t.month, t.day),
    "weekly": lambda t: tuple(t.isocalendar())[:2],
    "monthly": lambda t: (t.year, t.month),
    "yearly": lambda t: (t.year,),
}


@dataclass
class Decision:
    snapshot: str
    keep: bool
    reasons: list[str]


def plan(
    names: Iterable[str], keep: dict[str, int], keep_within: float | None = None
) -> list[Decision]:
    """One decision per snapshot, newest first. With no policy at all, everything is kept."""
    snaps = sorted(set(names), reverse=True)
    reasons: dict[str, list[str]] = {s: [] for s in snaps}
    if not snaps:
        return []
    if not any(keep.get(k) for k in ("last", *_BUCKETS)) and keep_within is None:
        return [Decision(s, True, ["no keep policy"]) for s in snaps]
    reasons[snaps[0]].append("newest")
    for i, s in enumerate(snaps[: keep.get("last", 0) or 0]):
        reasons[s].append(f"last {i + 1}")
    for kind, key_of in _BUCKETS.items():
        n = keep.get(kind, 0) or 0
        last_key = None
        for s in snaps:
            if n <= 0:
                break
            key = key_of(snapshot_time(s))
            if key != last_key:
                reasons[s].append(kind)
                last_key = key
                n -= 1
    if keep_within is not None:
        newest = snapshot_time(snaps[0]).timestamp()
        for s in snaps:
            if newest - snapshot_time(s).timestamp() <= keep_within:
                reasons[s].append("within")
    return [Decision(s, bool(reasons[s]), reasons[s]) for s in snaps]
