# GPIO ops, part 3 of 4: the holder process that keeps output lines requested.
# ---------------------------------------------------------------------------------------------
# the holder: one detached process per host that keeps output lines requested
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time

from wacket.remote.helper import OpError
from wacket.remote.ops.gpio import _gpio_dir, _GpioLocked, _GpioSim
from wacket.remote.ops.gpio_devices import _gpio_backend

_GPIO_HOLDER_BOOT = (
    "import sys\n"
    "s=open(sys.argv[1],'rb').read()\n"
    "s=s[:s.rindex(b'\\nmain()')]\n"
    "g={'__name__':'__wacket_gpio_holder__'}\n"
    "exec(compile(s,sys.argv[1],'exec'),g)\n"
    "g['_gpio_holder_main'](sys.argv[2:])\n"
)


def _gpio_holder_paths():
    d = _gpio_dir()
    return (
        os.path.join(d, "holder.sock"),
        os.path.join(d, "holder.lock"),
        os.path.join(d, "holder.pid"),
    )


def _gpio_recv_line(sock):
    """One JSON line from the holder's socket (either end): bytes up to and with the newline."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _gpio_holder_call(request, timeout=30):
    sockpath = _gpio_holder_paths()[0]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(sockpath)
        sock.sendall(json.dumps(request).encode() + b"\n")
        data = _gpio_recv_line(sock)
    finally:
        sock.close()
    reply = json.loads(data.decode())
    if "error" in reply:
        raise OpError(reply["error"], reply.get("kind", "error"))
    return reply["ok"]


def _gpio_holder_running():
    try:
        _gpio_holder_call({"cmd": "ping"}, timeout=5)
        return True
    except (OSError, ValueError):
        return False


def _gpio_holder_ensure(backend_name):
    """Start the holder unless one answers; the lock keeps two commands from starting two."""
    sockpath, lockpath, _ = _gpio_holder_paths()
    if _gpio_holder_running():
        return False
    with _GpioLocked(lockpath):
        if _gpio_holder_running():
            return False
        try:
            os.unlink(sockpath)
        except OSError:
            pass
        helper_path = os.path.abspath(sys.argv[0])
        log = open(os.path.join(_gpio_dir(), "holder.log"), "ab")  # noqa: SIM115 - the child's
        subprocess.Popen(
            [sys.executable, "-c", _GPIO_HOLDER_BOOT, helper_path, backend_name, sockpath],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
            close_fds=True,
            cwd="/",
        )
        log.close()
        deadline = time.time() + 10
        while time.time() < deadline:
            if _gpio_holder_running():
                return True
            time.sleep(0.005)
    raise OpError(
        "the GPIO holder did not start (see {})".format(os.path.join(_gpio_dir(), "holder.log")),
        "holder",
    )


class _GpioHolder:
    def __init__(self, backend):
        self.backend = backend
        self.held = {}  # (chip, offset) -> {"spec": spec, "handle": handle}
        self.pid = os.getpid()

    def set(self, specs):
        results = []
        if isinstance(self.backend, _GpioSim):
            for spec in specs:
                entry = self.held.get((spec["chip"], spec["offset"]))
                spec["was"] = entry["spec"]["value"] if entry else self.backend.get([spec])[0]
                if spec["value"] == "toggle":
                    if entry is None:
                        spec["value"] = 1 - self.backend.get([spec])[0]
                    else:
                        spec["value"] = 1 - entry["spec"]["value"]
            self.backend.claim_output(specs, self.pid)
            for spec in specs:
                self.held[(spec["chip"], spec["offset"])] = {"spec": spec, "handle": None}
                results.append(spec)
            return results
        for spec in specs:
            key = (spec["chip"], spec["offset"])
            entry = self.held.get(key)
            spec["was"] = entry["spec"]["value"] if entry else None
            if spec["value"] == "toggle":
                if entry is None:
                    spec["value"] = 1 - self.backend.get([spec])[0]
                else:
                    spec["value"] = 1 - entry["spec"]["value"]
            if (
                entry is not None
                and entry["spec"].get("active_low") == spec.get("active_low")
                and hasattr(self.backend, "set_held")
            ):
                self.backend.set_held(entry["handle"], spec)
                entry["spec"] = spec
            else:
                if entry is not None:
                    self.backend.unhold(entry["handle"])
                self.held[key] = {"spec": spec, "handle": self.backend.hold(spec)}
            results.append(spec)
        return results

    def release(self, specs):
        keys = list(self.held) if specs is None else [(s["chip"], s["offset"]) for s in specs]
        released = []
        for key in keys:
            entry = self.held.pop(key, None)
            if entry is None:
                continue
            if isinstance(self.backend, _GpioSim):
                self.backend.release([key[1]], self.pid)
            else:
                self.backend.unhold(entry["handle"])
            released.append(entry["spec"])
        return released

    def handle(self, req):
        cmd = req.get("cmd")
        if cmd == "ping":
            return {"pid": self.pid}
        if cmd == "status":
            return {"pid": self.pid, "lines": [e["spec"] for e in self.held.values()]}
        if cmd == "set":
            return self.set(req["lines"])
        if cmd == "pulse":
            specs = req["lines"]
            before = []
            for spec in specs:
                entry = self.held.get((spec["chip"], spec["offset"]))
                if entry is not None:
                    prev = entry["spec"]["value"]
                else:
                    prev = self.backend.get([dict(spec)])[0]
                before.append(dict(spec, value=prev))
            done = self.set(specs)
            time.sleep(req["ms"] / 1000.0)
            self.set(before)
            return done
        if cmd == "release":
            return self.release(req.get("lines"))
        raise OpError(f"unknown holder command {cmd!r}", "protocol")


def _gpio_holder_main(argv):
    backend_name, sockpath = argv[0], argv[1]
    backend = _gpio_backend(backend_name)
    holder = _GpioHolder(backend)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o077)
    try:
        srv.bind(sockpath)
    finally:
        os.umask(old)
    srv.listen(16)
    with open(_gpio_holder_paths()[2], "w") as fh:
        fh.write(f"{os.getpid()}\n")
    stop = []

    def on_term(signum, frame):
        stop.append(signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        while not stop:
            try:
                ready, _, _ = select.select([srv], [], [], 1.0)
            except OSError:
                continue
            if not ready:
                continue
            conn, _ = srv.accept()
            conn.settimeout(10)
            try:
                req = json.loads(_gpio_recv_line(conn).decode())
                try:
                    reply = {"ok": holder.handle(req)}
                except OpError as exc:
                    reply = {"error": str(exc), "kind": exc.kind}
                except Exception as exc:
                    reply = {"error": f"{type(exc).__name__}: {exc}", "kind": "internal"}
                conn.sendall(json.dumps(reply).encode() + b"\n")
            except (OSError, ValueError):
                pass
            finally:
                conn.close()
            if not holder.held and req.get("cmd") in ("release", "set"):
                break
    finally:
        holder.release(None)
        for path in (sockpath, _gpio_holder_paths()[2]):
            try:
                os.unlink(path)
            except OSError:
                pass
