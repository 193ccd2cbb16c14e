"""The client side of the remote helper: assemble, send once per host (cached by hash), call ops."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

from wacket import interrupt
from wacket.errors import HostError

# Runs on the remote python3 (>= 3.7): start the cached helper, or ask for it first ("NEED").
BOOTSTRAP = (
    "import sys,os,hashlib,marshal\n"
    "h=sys.argv[1];d=os.path.join(os.environ.get('XDG_CACHE_HOME') or "
    "os.path.expanduser('~/.cache'),'wacket');p=os.path.join(d,'helper-'+h+'.py')\n"
    "if not os.path.exists(p):\n"
    " sys.stdout.write('NEED\\n');sys.stdout.flush()\n"
    " n=int(sys.stdin.buffer.readline());s=sys.stdin.buffer.read(n)\n"
    " if hashlib.sha256(s).hexdigest()[:20]!=h:sys.exit(97)\n"
    " os.makedirs(d,0o700,exist_ok=True);t=p+'.%d'%os.getpid()\n"
    " with open(t,'wb') as f:f.write(s)\n"
    " os.replace(t,p)\n"
    # The compiled code is cached too (per interpreter), so later starts skip compiling.
    "c=p[:-3]+'.'+(sys.implementation.cache_tag or 'x')+'.code'\n"
    "try:\n"
    " with open(c,'rb') as f:k=marshal.loads(f.read())\n"
    "except Exception:\n"
    " k=compile(open(p,'rb').read(),p,'exec');t=c+'.%d'%os.getpid()\n"
    " try:\n"
    "  with open(t,'wb') as f:f.write(marshal.dumps(k))\n"
    "  os.replace(t,c)\n"
    " except OSError:pass\n"
    "sys.argv=[p];exec(k,{'__name__':'__wacket__'})\n"
)


@functools.cache
def helper_source() -> bytes:
    """The helper as sent: its modules joined into one script (see payload.py)."""
    from wacket.remote import payload

    return payload.build()


def helper_hash() -> str:
    return hashlib.sha256(helper_source()).hexdigest()[:20]


class HelperError(HostError):
    """An op failed on the remote side; `kind` says what class of failure."""

    def __init__(self, host: str, message: str, kind: str = "error"):
        self.kind = kind
        super().__init__(host, message)


class HelperClient:
    def __init__(self, session):
        self.session = session
        self.name = session.host.name
        self._lock = threading.Lock()
        self._next = 1
        if session.host.is_local:
            import sys

            python = sys.executable
        else:
            python = session.host.python
        self.python = python
        # -S: the helper needs only the standard library (site_import loads site for the rest).
        self.proc = session.open_process([python, "-S", "-c", BOOTSTRAP, helper_hash()])
        self._start()

    def _start(self) -> None:
        first = self.proc.stdout.readline()
        if first == b"NEED\n":
            source = helper_source()
            self.proc.stdin.write(b"%d\n" % len(source) + source)
            self.proc.stdin.flush()
            first = self.proc.stdout.readline()
        try:
            hello = json.loads(first)
        except ValueError:
            hello = None
        if not isinstance(hello, dict) or not hello.get("ok"):
            rc = self.proc.wait()
            err = self.proc.stderr_text().strip()
            if rc == 127 or "not found" in err:
                raise HelperError(
                    self.name,
                    f"{self.python} is not installed there; wacket needs python3 >= 3.7 on remote "
                    "hosts for this command (install it, or set `python = PATH` on the host)",
                    "no-python",
                )
            if "SyntaxError" in err:
                raise HelperError(
                    self.name, "the remote python3 is too old (wacket needs >= 3.7)", "old-python"
                )
            last = err.splitlines()[-1] if err else f"exit status {rc}"
            raise HelperError(self.name, f"remote helper did not start: {last}", "start")

    def call(self, op: str, **args: Any) -> Any:
        """Run an op; returns its value. Items it streams are dropped: use `stream` for those."""
        result = None
        for kind, value in self._exchange(op, args):
            if kind == "ok":
                result = value
        return result

    def stream(self, op: str, on_done: Callable[[Any], None] | None = None, **args) -> Iterator:
        """Yield the items an op streams (bytes for its bytes items); `on_done` receives its final
        value."""
        for kind, value in self._exchange(op, args):
            if kind == "item":
                yield value
            elif on_done is not None:
                on_done(value)

    def _exchange(self, op: str, args: dict) -> Iterator[tuple[str, Any]]:
        # While an op runs (a streamed walk, a watch), an interrupt ends the helper's process
        # group on the host: closing the channel alone leaves it running there.
        with self._lock, interrupt.running(self.proc.stop, self.proc.pgid):
            rid = self._next
            self._next += 1
            line = json.dumps({"id": rid, "op": op, "args": args}, ensure_ascii=True)
            try:
                self.proc.stdin.write(line.encode("ascii") + b"\n")
                self.proc.stdin.flush()
            except OSError as exc:
                raise HelperError(self.name, f"helper connection lost: {exc}", "lost") from None
            while True:
                raw = self.proc.stdout.readline()
                if not raw:
                    err = self.proc.stderr_text().strip()
                    raise HelperError(
                        self.name, "helper connection lost" + (f": {err}" if err else ""), "lost"
                    )
                msg = json.loads(raw)
                if "bin" in msg:
                    data = self._read_exactly(msg["bin"])
                    if msg.get("id") == rid:
                        yield "item", data
                    continue
                if msg.get("id") != rid:
                    continue
                if "item" in msg:
                    yield "item", msg["item"]
                elif "ok" in msg:
                    yield "ok", msg["ok"]
                    return
                else:
                    if os.environ.get("WACKET_DEBUG") and msg.get("trace"):
                        import sys

                        sys.stderr.write(msg["trace"])
                    raise HelperError(self.name, msg.get("error", "?"), msg.get("kind", "error"))

    def _read_exactly(self, size: int) -> bytes:
        """The `size` bytes of a bytes item (reads return less than asked near a buffer's end)."""
        parts = []
        while size > 0:
            chunk = self.proc.stdout.read(size)
            if not chunk:
                raise HelperError(self.name, "helper connection lost in the middle of data", "lost")
            parts.append(chunk)
            size -= len(chunk)
        return b"".join(parts)

    def close(self) -> None:
        try:
            self.proc.close()
        except OSError:
            pass
