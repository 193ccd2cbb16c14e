"""`wacket run`: one command on many hosts in parallel, results per host."""

from __future__ import annotations

import threading
from collections.abc import Callable

from wacket.errors import Exit
from wacket.fleet import Host
from wacket.transport.command import Argv
from wacket.transport.fanout import fan_out
from wacket.transport.pool import Pool
from wacket.transport.result import HostResult

LineCallback = Callable[[str, str, bytes], None]  # host, stream, one line with its newline


class _LineSplitter:
    """Turn output chunks into whole lines so prefixed output never interleaves mid-line."""

    def __init__(self, host: str, on_line: LineCallback):
        self.host = host
        self.on_line = on_line
        self.pending = {"stdout": b"", "stderr": b""}

    def feed(self, stream: str, data: bytes) -> None:
        buf = self.pending[stream] + data
        *lines, rest = buf.split(b"\n")
        for line in lines:
            self.on_line(self.host, stream, line + b"\n")
        self.pending[stream] = rest

    def flush(self) -> None:
        for stream, rest in self.pending.items():
            if rest:
                self.on_line(self.host, stream, rest + b"\n")
        self.pending = {"stdout": b"", "stderr": b""}


def run(
    pool: Pool,
    hosts: list[Host],
    argv: Argv,
    *,
    forks: int = 32,
    timeout: float | None = None,
    on_line: LineCallback | None = None,
    on_result: Callable[[HostResult], None] | None = None,
) -> list[HostResult]:
    """Run `argv` on every host; each HostResult holds a transport Result or the connect error."""
    lock = threading.Lock()

    def locked_line(host, stream, line):
        with lock:
            on_line(host, stream, line)

    def work(host: Host):
        splitter = _LineSplitter(host.name, locked_line) if on_line else None
        try:
            return pool.session(host).run(
                argv, timeout=timeout, on_output=splitter.feed if splitter else None
            )
        finally:
            if splitter:
                splitter.flush()

    results = []
    for res in fan_out(hosts, work, forks):
        results.append(res)
        if on_result:
            with lock:
                on_result(res)
    order = {h.name: i for i, h in enumerate(hosts)}
    return sorted(results, key=lambda r: order[r.host])


def gather(results: list[HostResult]) -> list[tuple[list[str], bytes]]:
    """Group hosts whose output is identical (like `clush -b`), in host order."""
    groups: dict[bytes, list[str]] = {}
    for res in results:
        if res.ok:
            groups.setdefault(res.value.stdout + res.value.stderr, []).append(res.host)
    return [(hosts, out) for out, hosts in groups.items()]


def record(res: HostResult) -> dict:
    """A host's run; one that could not be reached has its state and error instead."""
    if not res.ok:
        return res.record()
    v = res.value
    return {
        "host": res.host,
        "rc": v.rc,
        "stdout": v.stdout,
        "stderr": v.stderr,
        "seconds": round(v.seconds, 3),
        "timed_out": v.timed_out,
    }


def outcome(results: list[HostResult]) -> tuple[str, Exit, bool]:
    """The run's summary (hosts ok, failed with their exit status or timeout, unreachable), its
    exit code, and whether any host's command succeeded."""
    from wacket.transport.result import HostResults, Policy

    results = HostResults(results)
    ok = [r.host for r in results.succeeded if r.value.ok]
    failed = [r for r in results.succeeded if not r.value.ok]
    summary = f"ok: {','.join(ok) or '-'}"
    if failed:
        summary += "; failed: " + ",".join(
            f"{r.host}({'timeout' if r.value.timed_out else r.value.rc})" for r in failed
        )
    if results.failed:
        summary += "; unreachable: " + results.reasons()
    return summary, results.exit_code(Policy.NO_RESULT, partial=bool(failed)), bool(ok)
