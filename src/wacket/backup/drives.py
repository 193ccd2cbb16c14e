"""Removable drives: which host has a filesystem (by label or UUID) mounted, and where."""

from __future__ import annotations

import posixpath

from wacket.backup.sets import DriveRef, Location
from wacket.errors import Exit, WacketError
from wacket.fleet import Fleet, Host
from wacket.transport.fanout import fan_out_ordered
from wacket.transport.pool import Pool


def list_drives(pool: Pool, hosts: list[Host], forks: int = 32) -> tuple[list[dict], list]:
    """(one record per mounted labelled filesystem per host, every host's HostResult)."""

    def work(host: Host) -> list[dict]:
        return pool.session(host).helper().call("backup.drives")

    results = fan_out_ordered(hosts, work, forks)
    records = [{"host": res.host, **fs} for res in results if res.ok for fs in res.value]
    return records, results


def resolve(pool: Pool, fleet: Fleet, ref: DriveRef, forks: int = 32) -> Location:
    """The host and path where `ref`'s filesystem is mounted now; an error if nowhere or twice."""
    hosts = list(fleet.hosts.values())
    records, results = list_drives(pool, hosts, forks)
    failed = [res for res in results if not res.ok]
    hits = [r for r in records if ref.ident in (r.get("label"), r.get("uuid"))]
    where = {(r["host"], r["mountpoint"]) for r in hits}
    if not where:
        down = f"; unreachable: {', '.join(r.host for r in failed)}" if failed else ""
        raise WacketError(
            f"drive {ref.ident!r} is not mounted on any host of the fleet "
            f"(checked {len(hosts) - len(failed)} host(s){down}); plug it in and mount it",
            Exit.UNREACHABLE,
        )
    hosts_with = sorted({h for h, _ in where})
    if len(hosts_with) > 1:
        raise WacketError(
            f"drive {ref.ident!r} is mounted on several hosts ({', '.join(hosts_with)}); "
            "they may share one mount table: name the host instead (HOST:PATH)",
            Exit.USAGE,
        )
    host_name, mountpoint = sorted(where)[0]
    path = posixpath.join(mountpoint, ref.path.lstrip("/")) if ref.path.strip("/") else mountpoint
    return Location(fleet.get(host_name), path)


# The system's own filesystems: `backup drives` leaves them out unless --all (or removable).
SYSTEM_MOUNTS = ("/", "/boot", "/boot/efi", "/usr", "/var", "/opt", "/srv", "/home", "/tmp")


def shown(records: list[dict], show_all: bool, human: bool) -> list[dict]:
    """The drives `backup drives` lists; `human` (table, plain) shows sizes as 1.2 GiB."""
    from wacket.output import human_bytes

    rows = []
    for r in records:
        if not show_all and r["mountpoint"] in SYSTEM_MOUNTS and not r["removable"]:
            continue
        if human:
            r = {**r, "size": human_bytes(r["size"]), "free": human_bytes(r["free"])}
        rows.append(r)
    return rows
