"""Slots on every host pull jobs from one queue (work stealing: fast machines take more).

A job that fails is retried on another host when one is left; a host that goes down has its running
jobs put back in the queue for the others. Every item ends as done or failed: nothing is dropped.
"""

from __future__ import annotations

import os
import shlex
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from wacket import interrupt
from wacket.errors import UnreachableError
from wacket.fleet import Host
from wacket.map.items import Item, build_command, expand_word
from wacket.map.joblog import JobLog
from wacket.transport.fanout import fan_out_ordered
from wacket.transport.pool import Pool

MAX_SLOTS_PER_CONNECTION = 8  # sshd's default MaxSessions is 10
PROBE = "getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1; cat /proc/loadavg 2>/dev/null || sysctl -n vm.loadavg"


@dataclass
class Options:
    jobs_per_host: int | None = None
    timeout: float | None = None
    retries: int = 0
    halt_on_error: bool = False
    load_max: float | None = None
    transfer: bool = False
    returns: list[str] = field(default_factory=list)
    cleanup: bool = False
    joblog: str | None = None


@dataclass
class JobResult:
    item: Item
    host: str
    rc: int | None
    seconds: float
    stdout: bytes = b""
    stderr: bytes = b""
    error: str = ""
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.error

    def record(self) -> dict:
        rec = {
            "item": self.item.value,
            "seq": self.item.seq,
            "host": self.host,
            "rc": self.rc,
            "seconds": round(self.seconds, 3),
            "stdout": self.stdout,
            "stderr": self.stderr,
            "attempts": self.attempts,
        }
        if self.error:
            rec["error"] = self.error
        return rec


@dataclass
class HostInfo:
    host: Host
    cores: int = 1
    load: float = 0.0
    slots: int = 0
    state: str = "up"  # up | busy (over --load-max) | down | lost
    reason: str = ""


class _Job:
    def __init__(self, item: Item):
        self.item = item
        self.attempts = 0
        self.failed_on: set[str] = set()


class _HostLost(Exception):
    pass


def probe(pool: Pool, hosts: list[Host], opts: Options) -> list[HostInfo]:
    """Cores and load of every host, in parallel; unreachable and busy hosts are marked."""

    def one(host: Host) -> HostInfo:
        res = pool.session(host).run(PROBE, timeout=30)
        words = res.stdout.decode("ascii", "replace").split()
        info = HostInfo(host)
        try:
            info.cores = max(1, int(words[0]))
            info.load = float(words[1].strip("{"))
        except (IndexError, ValueError):
            pass
        return info

    infos = []
    for res in fan_out_ordered(hosts, one):
        host = next(h for h in hosts if h.name == res.host)
        if not res.ok:
            reason = getattr(res.error, "reason", None) or str(res.error)
            infos.append(HostInfo(host, state="down", reason=reason))
            continue
        info = res.value
        if opts.load_max is not None and info.load > opts.load_max:
            info.state, info.reason = "busy", f"load {info.load:.2f} > {opts.load_max:g}"
        info.slots = min(opts.jobs_per_host or info.cores, MAX_SLOTS_PER_CONNECTION)
        infos.append(info)
    return infos


class Scheduler:
    def __init__(
        self,
        pool: Pool,
        infos: list[HostInfo],
        items: list[Item],
        template: list[str],
        opts: Options,
        on_result: Callable[[JobResult], None],
    ):
        self.pool = pool
        self.infos = [i for i in infos if i.state == "up"]
        self.template = template
        self.opts = opts
        self.on_result = on_result
        self.queue: deque[_Job] = deque(_Job(i) for i in items)
        self.cond = threading.Condition()
        self.running = 0
        self.halted = False
        self.alive = {i.host.name for i in self.infos}
        self.batch_id = uuid.uuid4().hex[:12]
        self.joblog = JobLog(opts.joblog) if opts.joblog else None
        self.results: list[JobResult] = []
        self.closed = False  # set when an interrupt ends the batch

    def run(self) -> list[JobResult]:
        threads = [
            threading.Thread(target=self._slot, args=(info,), daemon=True)
            for info in self.infos
            for _ in range(info.slots)
        ]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        except KeyboardInterrupt:
            # The interrupt has ended the running jobs and no slot takes a new one: let them
            # return, so the job log holds exactly the jobs that finished, then go.
            with self.cond:
                self.cond.notify_all()
            deadline = time.monotonic() + interrupt.STOP_WAIT
            for t in threads:
                if t.ident is not None:  # started
                    t.join(max(0.0, deadline - time.monotonic()))
            with self.cond:  # a slot still busy (a file transfer) records nothing from now on
                self.closed = True
                if self.joblog:
                    self.joblog.close()
            raise
        if self.opts.transfer and self.opts.cleanup:
            for info in self.infos:
                if info.host.name in self.alive:
                    self.pool.session(info.host).run(f"rmdir -- {_sh(self._workdir(info.host))}")
        # Whatever is left had no host to run on (all down, or halted): it failed, it is not lost.
        reason = "halted after a failure" if self.halted else "no reachable host left"
        while self.queue:
            job = self.queue.popleft()
            self._finish(JobResult(job.item, "", None, 0.0, error=reason, attempts=job.attempts))
        if self.joblog:
            self.joblog.close()
        return self.results

    def _take(self, name: str) -> _Job | None:
        """The next job this host may run; None when there is nothing left for it."""
        with self.cond:
            while not self.halted and name in self.alive and not interrupt.stopping.is_set():
                for job in self.queue:
                    # A failed job goes to another host, unless no other host is left.
                    if name not in job.failed_on or not (self.alive - job.failed_on):
                        self.queue.remove(job)
                        self.running += 1
                        return job
                if self.running == 0:
                    return None
                self.cond.wait()  # a running job may yet come back to the queue
            return None

    def _slot(self, info: HostInfo) -> None:
        name = info.host.name
        while True:
            job = self._take(name)
            if job is None:
                return
            try:
                result = self._execute(info.host, job)
            except _HostLost as exc:
                with self.cond:
                    self.alive.discard(name)
                    info.state, info.reason = "lost", str(exc)
                    self.queue.appendleft(job)
                    self.running -= 1
                    self.cond.notify_all()
                return
            with self.cond:
                self.running -= 1
                if interrupt.stopping.is_set() and not result.ok:
                    self.queue.appendleft(job)  # ended by the interrupt: not done, not failed
                    self.cond.notify_all()
                    return
                if not result.ok and job.attempts <= self.opts.retries:
                    job.failed_on.add(name)
                    self.queue.append(job)
                else:
                    self._finish(result)
                    if not result.ok and self.opts.halt_on_error:
                        self.halted = True
                self.cond.notify_all()

    def _finish(self, result: JobResult) -> None:
        if self.closed:
            return
        self.results.append(result)
        if self.joblog:
            rc = result.rc if result.rc is not None else -1
            self.joblog.record(
                result.item.seq, result.host, time.time() - result.seconds, result.seconds, rc,
                result.item.value,
            )  # fmt: skip
        self.on_result(result)

    def _execute(self, host: Host, job: _Job) -> JobResult:
        job.attempts += 1
        item = job.item
        start = time.monotonic()
        session = self.pool.session(host)
        try:
            if self.opts.transfer:
                jobdir = f"{self._workdir(host)}/{item.seq}"
                base = os.path.basename(item.value)
                session.run(f"mkdir -p -- {_sh(jobdir)}")
                session.put_file(item.value, f"{jobdir}/{base}")
                command = f"cd {_sh(jobdir)} && {build_command(self.template, item, base)}"
            else:
                command = build_command(self.template, item)
            res = session.run(command, timeout=self.opts.timeout)
            if interrupt.stopping.is_set() and not res.ok:  # ended by an interrupt: that is all
                return JobResult(item, host.name, res.rc, time.monotonic() - start,
                                 error="interrupted", attempts=job.attempts)  # fmt: skip
            error = "timeout" if res.timed_out else ""
            if res.ok and self.opts.transfer:
                error = self._bring_back(session, item, jobdir, base)
            if self.opts.transfer and self.opts.cleanup:
                session.run(f"rm -rf -- {_sh(jobdir)}")
        except UnreachableError as exc:
            raise _HostLost(exc.reason) from None
        except Exception as exc:  # a failed job is data; a dropped host re-queues its job
            if not getattr(session, "alive", True):
                raise _HostLost(str(exc) or "connection lost") from None
            return JobResult(item, host.name, None, time.monotonic() - start,
                             error=str(exc), attempts=job.attempts)  # fmt: skip
        return JobResult(
            item, host.name, res.rc, time.monotonic() - start, res.stdout, res.stderr, error,
            job.attempts,
        )  # fmt: skip

    def _workdir(self, host: Host) -> str:
        """Where transferred files live during the batch (under the host's ~/.cache)."""
        return f"~/.cache/wacket/map/{self.batch_id}"

    def _bring_back(self, session, item: Item, jobdir: str, base: str) -> str:
        local_dir = os.path.dirname(item.value) or "."
        for pattern in self.opts.returns:
            name = expand_word(pattern, base, item)
            try:
                session.get_file(f"{jobdir}/{name}", os.path.join(local_dir, name))
            except OSError as exc:
                return f"could not bring back {name}: {exc.strerror or exc}"
        return ""


def _sh(path: str) -> str:
    """A `~/...` path as a shell word: $HOME stays expandable, the rest is quoted."""
    return '"$HOME"/' + shlex.quote(path[2:]) if path.startswith("~/") else shlex.quote(path)
