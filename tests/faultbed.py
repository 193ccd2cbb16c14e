"""Fault campaigns against the real parts: a killer, a cuttable TCP proxy, small file systems, a tree
builder and checker, and an orphan counter.

Every campaign draws its moments and changes from ``random.Random`` seeded with WACKET_FAULT_SEED
(default below) and runs WACKET_FAULT_ROUNDS rounds (default 8); both are printed in every
assertion message, so a failure is replayed with the same seed. A campaign's figures go to the
file WACKET_FAULT_REPORT (JSON lines) when that is set. No pytest import.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_SEED = 1515
SEED = int(os.environ.get("WACKET_FAULT_SEED") or DEFAULT_SEED)
ROUNDS = int(os.environ.get("WACKET_FAULT_ROUNDS") or 8)
ORPHAN_WAIT = 30.0  # seconds a killed run's children may take to go away on their own
# Children die with wacket (a parent-death signal; their ssh when its pipe closes): one still
# here this long after the kill is an orphan that would go on writing, and fails the campaign.
ORPHAN_GRACE = 5.0


def rng(campaign: str) -> random.Random:
    """The campaign's own stream: campaigns running in parallel never shift each other's draws."""
    return random.Random(f"{SEED}:{campaign}")


@dataclass
class Stats:
    """What a campaign did and found; `msg()` goes into every assertion message."""

    command: str
    rounds: int = 0
    kills: int = 0
    faults: int = 0
    files_checked: int = 0
    losses: int = 0
    duplicates: int = 0
    orphans: int = 0  # local children seen after the kill (they end on their own, moments later)
    late_orphans: int = 0  # local children still running ORPHAN_GRACE after the kill
    linger: float = 0.0  # the longest any local child outlived the kill, in seconds
    remote_leftovers: int = 0
    orphan_names: list = field(default_factory=list)
    outcomes: list = field(default_factory=list)  # what a faulted run said (disk, cut)
    notes: list = field(default_factory=list)

    def msg(self, extra: str = "") -> str:
        figures = {k: v for k, v in asdict(self).items() if k != "notes"}
        text = f"seed={SEED} rounds={ROUNDS} {json.dumps(figures)}"
        if self.notes:
            text += "\n" + "\n".join(self.notes[-12:])
        text += "\n" + extra if extra else ""
        # Names may hold undecodable bytes (surrogate escapes); xdist cannot send those back.
        return text.encode("utf-8", "backslashreplace").decode()

    def report(self) -> None:
        """Write the figures (WACKET_FAULT_REPORT) and warn about orphans, which are not ours to
        fix here but must never be hidden."""
        path = os.environ.get("WACKET_FAULT_REPORT")
        if path:
            rec = {"seed": SEED, **asdict(self)}
            rec.pop("notes")
            with open(path, "a") as fh:
                fh.write(json.dumps(rec) + "\n")
        if self.orphans or self.remote_leftovers:
            warnings.warn(
                f"{self.command}: {self.orphans} local process(es) outlived a SIGKILLed wacket "
                f"({sorted(set(self.orphan_names))}) by {self.linger}s at most, "
                f"{self.remote_leftovers} remote; seed={SEED}",
                stacklevel=2,
            )


# -- processes --------------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int, int, str] | None:
    """(state, ppid, session id, comm) of a live process, None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    comm = raw[raw.index(b"(") + 1 : raw.rindex(b")")].decode(errors="replace")
    fields = raw[raw.rindex(b")") + 2 :].split()
    return fields[0].decode(), int(fields[1]), int(fields[3]), comm


def _all() -> dict[int, tuple[str, int, int, str]]:
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (st := _stat(int(name))) is not None:
            out[int(name)] = st
    return out


def in_session(sid: int) -> dict[int, str]:
    """Live (not zombie) processes of session `sid`: what a run started with its own session left."""
    return {p: s[3] for p, s in _all().items() if s[2] == sid and s[0] not in "ZX"}


def descendants(root: int) -> dict[int, str]:
    """Live processes below `root` (an sshd listener: its sessions and what they run)."""
    procs = _all()
    kids: dict[int, list[int]] = {}
    for p, s in procs.items():
        kids.setdefault(s[1], []).append(p)
    out, todo = {}, list(kids.get(root, []))
    while todo:
        p = todo.pop()
        if procs[p][0] not in "ZX":
            out[p] = procs[p][3]
        todo += kids.get(p, [])
    return out


def wacket_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "wacket", *map(str, args)]


@dataclass
class Outcome:
    rc: int
    killed: bool
    seconds: float
    stdout: bytes
    stderr: bytes


def ok(out: Outcome, stats: Stats, *codes: int) -> Outcome:
    """A run that was not killed ends 0 (or one of `codes`) with no traceback."""
    assert out.rc in (codes or (0,)) and b"Traceback" not in out.stderr, stats.msg(
        f"rc={out.rc}\n{out.stderr.decode(errors='replace')[-3000:]}"
    )
    return out


def jsonl(data: bytes) -> list[dict]:
    return [json.loads(x) for x in data.splitlines() if x.strip()]


class Killer:
    """Runs wacket in a session of its own, SIGKILLs the wacket process at a chosen moment, then
    waits (bounded) until nothing it started still runs here or on the watched sshds."""

    def __init__(self, stats: Stats, workdir: Path, sshd_pids: tuple[int, ...] = ()):
        self.stats = stats
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.sshd_pids = sshd_pids
        self._n = 0

    def run(
        self,
        args: list[str],
        delay: float | None,
        env: dict | None = None,
        stdin: bytes | None = None,
        timeout: float = 120,
    ) -> Outcome:
        """Run `wacket ARGS`; with a delay, kill it then if it still runs (a fault injected)."""
        self._n += 1
        out_path = self.workdir / f"run{self._n}.out"
        err_path = self.workdir / f"run{self._n}.err"
        t0 = time.monotonic()
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(
                wacket_argv(*args),
                env=env,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        if stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.write(stdin)
                proc.stdin.close()
        killed = False
        try:
            proc.wait(timeout if delay is None else delay)
        except subprocess.TimeoutExpired:
            if delay is None:
                proc.kill()
                proc.wait()
                raise AssertionError(f"wacket {args} hung for {timeout}s") from None
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            killed = True
            self.stats.kills += 1
            self.stats.faults += 1
        seconds = time.monotonic() - t0
        self.settle(proc.pid)
        return Outcome(
            proc.returncode, killed, seconds, out_path.read_bytes(), err_path.read_bytes()
        )

    def settle(self, sid: int) -> None:
        """Wait for the killed run's children (here: its session; there: below each sshd) to end;
        count them, and end those still there after ORPHAN_WAIT so the next round starts clean."""
        seen_local: dict[int, str] = {}
        seen_remote: dict[int, str] = {}
        start = time.monotonic()
        deadline = start + ORPHAN_WAIT
        late = None
        while True:
            local = in_session(sid)
            remote = {}
            for root in self.sshd_pids:
                remote.update(descendants(root))
            seen_local.update(local)
            seen_remote.update(remote)
            if local:
                self.stats.linger = max(self.stats.linger, round(time.monotonic() - start, 3))
                if late is None and time.monotonic() - start > ORPHAN_GRACE:
                    late = local
                    self.stats.late_orphans += len(local)
                    self.stats.notes.append(
                        f"still running {ORPHAN_GRACE}s after the kill: {local}"
                    )
            if not local and not remote:
                break
            if time.monotonic() > deadline:
                for pid in [*local, *remote]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                self.stats.notes.append(
                    f"still running after {ORPHAN_WAIT}s, killed: {local} {remote}"
                )
                time.sleep(0.2)
                break
            time.sleep(0.05)
        self.stats.orphans += len(seen_local)
        self.stats.orphan_names += list(seen_local.values())
        self.stats.remote_leftovers += len(seen_remote)


class Pacer:
    """When to kill: uniform in [0, the typical run time], which starts as a measured full run and
    follows the last run that finished unkilled (a later run has less left to do)."""

    def __init__(self, r: random.Random, typical: float):
        self.r = r
        self.typical = typical

    def delay(self) -> float:
        return self.r.uniform(0, self.typical)

    def saw(self, out: Outcome) -> None:
        if not out.killed:
            self.typical = out.seconds


def sshd_pids(fleet, names=("h1",)) -> tuple[int, ...]:
    by = fleet.by_name()
    return tuple(by[n].proc.pid for n in names)


# -- trees ------------------------------------------------------------------------------------------

HOSTILE = ["with space.txt", "new\nline.txt", "tab\tname", "caf\xe9.txt", "-dash", "'q\"uote"]
BAD_BYTES = b"latin1-\xe9\xff.bin"


def _write(path: Path, data: bytes, mode: int | None = None, mtime_ns: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mode is not None:
        path.chmod(mode)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


def build_tree(root: Path, r: random.Random, files: int, size: int, big: int = 0) -> Path:
    """A tree worth a transfer: hostile names, a non-UTF-8 name, odd modes, old mtimes, symlinks
    (one dangling), an empty dir, `files` files of about `size` bytes and `big` 1 MiB files."""
    root.mkdir(parents=True, exist_ok=True)
    tag = r.randbytes(6).hex()  # every tree's small files differ from every other tree's
    for i, name in enumerate(HOSTILE):
        _write(root / "names" / name, f"hostile {i} {name!r} {tag}\n".encode())
    with open(os.path.join(os.fsencode(root / "names"), BAD_BYTES), "wb") as fh:
        fh.write(f"bytes name {tag}\n".encode())
    _write(root / "modes" / "script.sh", f"#!/bin/sh\necho {tag}\n".encode(), 0o751)
    _write(root / "modes" / "secret", f"s {tag}\n".encode(), 0o600)
    _write(root / "modes" / "old", f"old {tag}\n".encode(), mtime_ns=1_600_000_000_123_456_789)
    os.symlink("script.sh", root / "modes" / "link to script")
    os.symlink("/nonexistent/target", root / "modes" / "dangling")
    (root / "empty dir").mkdir()
    for i in range(files):
        n = r.randint(size // 2, size * 3 // 2)
        _write(root / f"bulk{i % 8}" / f"f{i:04d}.bin", r.randbytes(n))
    for i in range(big):
        _write(root / "big" / f"big{i}.bin", r.randbytes(1 << 20))
    return root


def mutate(
    root: Path, r: random.Random, rnd: int, delete: bool = True, tag: str = "", pool: tuple = ()
) -> list[str]:
    """A small change between rounds: add (one file of a few hundred KiB), rewrite, chmod + touch,
    link, and (if `delete`) delete; existing files are picked from the `pool` directories (default:
    all). Returns what was done, for the assertion message."""
    done = []
    dirs = [root / d for d in pool] if pool else [root]
    files = sorted(p for d in dirs for p in d.rglob("*.bin") if p.is_file() and not p.is_symlink())
    new = root / f"round {rnd}{tag}"
    _write(new / f"new\n{rnd}.bin", r.randbytes(r.randint(100_000, 600_000)))
    _write(new / "small.txt", f"round {rnd}{tag} {r.randbytes(6).hex()}\n".encode())
    os.symlink("small.txt", new / "link")
    done.append(f"added {new.name}/")
    if files:
        victim = r.choice(files)
        _write(victim, r.randbytes(victim.stat().st_size))  # same size, new content
        done.append(f"rewrote {victim.relative_to(root)}")
        other = r.choice(files)
        other.chmod(r.choice([0o600, 0o640, 0o644, 0o755]))
        t = r.randint(1_500_000_000, 1_700_000_000) * 10**9 + r.randint(0, 10**9 - 1)
        os.utime(other, ns=(t, t))
        done.append(f"chmod/touch {other.relative_to(root)}")
        if delete and len(files) > 4:
            gone = r.choice([f for f in files if f not in (victim, other)])
            gone.unlink()
            done.append(f"deleted {gone.relative_to(root)}")
    return done


def digest(path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def state(top: Path, times: bool = True, skip: tuple[str, ...] = ()) -> dict:
    """bytes rel -> (type, mode, SHA-256 or link, mtime ns) for every entry under `top`."""
    out = {}
    btop = os.fsencode(top)
    bskip = tuple(os.fsencode(s) for s in skip)
    for dirpath, dirnames, filenames in os.walk(btop):
        dirnames[:] = [d for d in dirnames if d not in bskip]
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, btop)
            st = os.lstat(full)
            if stat.S_ISREG(st.st_mode):
                out[rel] = (
                    "f",
                    stat.S_IMODE(st.st_mode),
                    digest(full),
                    st.st_mtime_ns if times else 0,
                )
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("d", stat.S_IMODE(st.st_mode), b"", st.st_mtime_ns if times else 0)
            else:
                out[rel] = ("l", 0, os.readlink(full), 0)
    return out


def compare(expected: dict, actual: dict, stats: Stats, what: str) -> list[str]:
    """Count files checked, losses (missing or different) and duplicates (extra entries: a leftover
    temporary file, a copy made twice); return the problems, named."""
    problems = []
    for rel, want in expected.items():
        if want[0] != "d":
            stats.files_checked += 1
        got = actual.get(rel)
        if got is None:
            stats.losses += 1
            problems.append(f"{what}: missing {rel!r}")
        elif got != want:
            stats.losses += 1
            field_ = next(
                n
                for n, a, b in zip(("type", "mode", "data", "mtime"), want, got, strict=True)
                if a != b
            )
            problems.append(f"{what}: {rel!r} differs in {field_}")
    for rel in actual.keys() - expected.keys():
        stats.duplicates += 1
        problems.append(f"{what}: extra {rel!r}")
    return problems


# -- a small file system ----------------------------------------------------------------------------


class SmallFS:
    """An ext4 image loop-mounted at `mnt` (we run as root). `fill(leave)` takes all free space but
    `leave` bytes with a filler file; `free()` deletes it."""

    def __init__(self, workdir: Path, size_mb: int = 24):
        self.img = Path(workdir) / "small.img"
        self.mnt = Path(workdir) / "small"
        self.mnt.mkdir(parents=True, exist_ok=True)
        subprocess.run(["truncate", "-s", f"{size_mb}M", str(self.img)], check=True)
        subprocess.run(
            ["mkfs.ext4", "-q", "-F", "-m", "0", "-O", "^has_journal", str(self.img)],
            check=True,
            capture_output=True,
        )
        subprocess.run(["mount", "-o", "loop", str(self.img), str(self.mnt)], check=True)
        self.filler = self.mnt / ".filler"

    def avail(self) -> int:
        st = os.statvfs(self.mnt)
        return st.f_bavail * st.f_frsize

    def fill(self, leave: int) -> None:
        n = max(0, self.avail() - leave)
        with open(self.filler, "ab") as fh:
            fh.write(b"\0" * n)
            fh.flush()
            os.fsync(fh.fileno())

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)
        os.sync()

    def close(self) -> None:
        subprocess.run(["umount", "-l", str(self.mnt)], capture_output=True)


# -- a TCP proxy that cuts --------------------------------------------------------------------------


class CutProxy:
    """A TCP forwarder on 127.0.0.1; `cut()` drops every open connection at once (a network failure
    mid-transfer) and goes on accepting new ones, so the next run gets through."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.bytes = 0
        self.cuts = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self.conns += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                self.bytes += len(data)
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self._lock:
            conns, self.conns = self.conns, []
        for c in conns:
            with contextlib.suppress(OSError):
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")  # RST
                c.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                c.close()
        self.cuts += 1

    def close(self) -> None:
        self.sock.close()
        self.cut()


def run_until(args: list[str], ready, then, env: dict | None = None, timeout: float = 60):
    """Run wacket (in a session of its own); once `ready()` is true call `then()` (the fault).
    Returns (rc, stdout, stderr, whether the fault came before the run ended, the session id)."""
    proc = subprocess.Popen(
        wacket_argv(*args), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    hit = False
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if ready():
            hit = proc.poll() is None
            then()
            break
        time.sleep(0.005)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err, hit, proc.pid


def one_line_error(err: bytes) -> bool:
    """A failed run's stderr: one `wacket: error: ...` line (warnings allowed), no traceback and
    no "internal error" (a full disk or a lost connection is no bug of wacket's)."""
    lines = [x for x in err.decode(errors="replace").splitlines() if x.strip()]
    errors = [x for x in lines if "error" in x.lower()]
    return (
        b"Traceback" not in err
        and b"internal error" not in err
        and len(errors) == 1
        and errors[0].startswith("wacket: error: ")
    )
