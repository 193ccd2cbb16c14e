"""Streaming edges from several hosts at once, reconnecting with backoff after a dropped connection.

One thread per host runs the device side's `gpio.watch` op and puts events on one queue. When the
connection drops (or the device reboots), the thread retries with exponential backoff; once it is
back, a gap event `{host, pin: null, edge: "gap", value: null, timestamp, since, reason}` says
which stretch of time no edges could be seen.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from wacket.errors import Exit, UnreachableError
from wacket.gpio.client import GPIO_KINDS
from wacket.gpio.pins import GpioError, HostGpio, Pin
from wacket.remote.client import HelperError

HEARTBEAT_TIMEOUT = 15.0  # the device side sends a heartbeat every 5 s
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0
FATAL_REASONS = ("auth", "host key unknown", "host key changed")


@dataclass
class Target:
    host: object  # fleet.Host
    hg: HostGpio
    pins: list[Pin]


def watch(
    targets: list[Target],
    make_pool: Callable[[], object],
    edge: str = "both",
    debounce: float = 0.0,
    stop: threading.Event | None = None,
    backoff_first: float = BACKOFF_FIRST,
    backoff_max: float = BACKOFF_MAX,
) -> Iterator[tuple[str, dict]]:
    """Yield ("event", record), ("ready", {host, pins}), ("note", {host, message}) and
    ("fatal", {host, error}) as they come, until `stop` is set or every host failed for good."""
    stop = stop or threading.Event()
    q: queue.Queue = queue.Queue()
    threads = []
    for target in targets:
        t = threading.Thread(
            target=_host_loop,
            args=(target, make_pool, edge, debounce, q, stop, backoff_first, backoff_max),
            daemon=True,
            name=f"gpio-watch-{target.host.name}",
        )
        t.start()
        threads.append(t)
    alive = len(threads)
    try:
        while alive and not stop.is_set():
            try:
                kind, rec = q.get(timeout=0.5)
            except queue.Empty:
                continue
            if kind == "done":
                alive -= 1
                continue
            yield kind, rec
    finally:
        stop.set()


def follow(targets: list[Target], make_pool, edge: str, debounce: float, count: int | None, *,
           emit, note, warn) -> Exit:  # fmt: skip
    """`gpio watch`: each event to `emit` until `count` edges (gaps do not count) or every host
    failed for good; readiness and notes as text to `note`. A host's fatal error is raised when
    it is the only one, else its text goes to `warn` and the others go on (the worst code)."""
    seen = 0
    code = Exit.OK
    for kind, rec in watch(targets, make_pool, edge, debounce):
        if kind == "event":
            emit(rec)
            if rec["edge"] != "gap":
                seen += 1
                if count and seen >= count:
                    break
        elif kind == "ready":
            names = ", ".join(f"{p['pin']}={p['value']}" for p in rec["pins"])
            note(f"wacket: watching {rec['host']}: {names}")
        elif kind == "note":
            note(f"wacket: {rec['message']}")
        elif kind == "fatal":
            err = rec["error"]
            if len(targets) == 1:
                raise err
            warn(f"wacket: error: {err}")
            code = max(code, int(err.code))
    return code


def _host_loop(target, make_pool, edge, debounce, q, stop, backoff_first, backoff_max) -> None:
    host = target.host.name
    backoff = backoff_first
    gap_since: float | None = None
    reason = ""
    try:
        while not stop.is_set():
            pool = make_pool()
            try:
                session = pool.session(target.host)
                helper = session.helper()
                chan = getattr(helper.proc, "chan", None)
                if chan is not None:
                    chan.settimeout(HEARTBEAT_TIMEOUT)
                items = helper.stream(
                    "gpio.watch",
                    backend=target.hg.backend,
                    pins=[p.op_args() for p in target.pins],
                    edge=edge,
                    debounce=debounce,
                )
                for item in items:
                    if stop.is_set():
                        return
                    if "ready" in item:
                        if gap_since is not None:
                            now = time.time()
                            q.put(
                                (
                                    "event",
                                    {
                                        "host": host,
                                        "pin": None,
                                        "edge": "gap",
                                        "value": None,
                                        "timestamp": now,
                                        "since": gap_since,
                                        "reason": reason,
                                    },
                                )
                            )
                            gap_since = None
                        backoff = backoff_first
                        q.put(("ready", {"host": host, "pins": item["ready"]}))
                    elif "heartbeat" in item:
                        continue
                    else:
                        q.put(
                            (
                                "event",
                                {
                                    "host": host,
                                    "pin": item["pin"],
                                    "edge": item["edge"],
                                    "value": item["value"],
                                    "timestamp": item["timestamp"],
                                    "line": item["name"],
                                },
                            )
                        )
                raise HelperError(host, "watch ended", "lost")
            except HelperError as exc:
                if exc.kind in GPIO_KINDS:
                    q.put(("fatal", {"host": host, "error": GpioError(str(exc), exc.kind)}))
                    return
                lost = str(exc)
            except UnreachableError as exc:
                if exc.reason in FATAL_REASONS:  # retrying cannot fix these
                    q.put(("fatal", {"host": host, "error": exc}))
                    return
                lost = str(exc)
            except (OSError, EOFError, ValueError) as exc:
                lost = f"{host}: connection lost: {exc or type(exc).__name__}"
            finally:
                _close(pool)
            if stop.is_set():
                return
            if gap_since is None:
                gap_since = time.time()
                reason = lost
            q.put(("note", {"host": host, "message": f"{lost}; retrying in {backoff:g}s"}))
            stop.wait(backoff)
            backoff = min(backoff * 2, backoff_max)
    finally:
        q.put(("done", {"host": host}))


def _close(pool) -> None:
    try:
        pool.close()
    except Exception:
        pass
