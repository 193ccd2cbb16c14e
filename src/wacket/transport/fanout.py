"""Run one function per host in parallel threads; each host gets its value or its error back."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TypeVar

from wacket import interrupt
from wacket.fleet import Host
from wacket.transport.result import HostResult

T = TypeVar("T")


def fan_out(
    hosts: Iterable[Host], work: Callable[[Host], T], forks: int = 32
) -> Iterator[HostResult]:
    """Yield a HostResult per host as each finishes (completion order)."""
    hosts = list(hosts)
    if not hosts:
        return

    def one(host: Host) -> HostResult:
        start = time.monotonic()
        if interrupt.stopping.is_set():  # the run is ending: no new work
            return HostResult(host.name, error=interrupt.Interrupted())
        try:
            value = work(host)
        except Exception as exc:  # the error is data: the caller reports it per host
            return HostResult(host.name, error=exc, seconds=time.monotonic() - start)
        return HostResult(host.name, value=value, seconds=time.monotonic() - start)

    pool = ThreadPoolExecutor(max_workers=max(1, min(forks, len(hosts))))
    try:
        futures = [pool.submit(one, h) for h in hosts]
        for fut in as_completed(futures):
            yield fut.result()
    finally:
        # On an interrupt, hosts not started yet never start; running ones were ended by it.
        pool.shutdown(wait=True, cancel_futures=True)


def fan_out_ordered(
    hosts: Iterable[Host], work: Callable[[Host], T], forks: int = 32
) -> list[HostResult]:
    hosts = list(hosts)
    order = {h.name: i for i, h in enumerate(hosts)}
    return sorted(fan_out(hosts, work, forks), key=lambda r: order[r.host])
