# GPIO ops, part 4 of 4: the ops themselves (info, get, set, release, drive, watch).
# ---------------------------------------------------------------------------------------------
# ops
import errno
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import time

from wacket.remote.helper import OpError, op
from wacket.remote.ops.gpio import (
    GPIO_CONSUMER,
    GPIO_HEARTBEAT,
    GPIO_WATCH_CONSUMER,
    _gpio_alive,
    _gpio_norm_bias,
    _gpio_phys,
    _GpioSim,
)
from wacket.remote.ops.gpio_devices import (
    _gpio_backend,
    _gpio_busy_error,
    _gpio_by_chip,
    _gpio_resolve,
    _GpioBindings,
    _GpioManager,
    _GpioSysfs,
    _GpioTools,
)
from wacket.remote.ops.gpio_holder import (
    _gpio_holder_call,
    _gpio_holder_ensure,
    _gpio_holder_running,
)


def _gpio_specs(backend, args):
    return _gpio_resolve(backend, args.get("pins") or [])


def _gpio_public(spec):
    out = {}
    for key in ("pin", "chip", "offset", "name", "value", "was", "active_low"):
        if key in spec:
            out[key] = spec[key]
    return out


@op("gpio.info")
def _gpio_info(args):
    backend = _gpio_backend(args.get("backend"))
    result = backend.describe()
    result["chips"] = backend.chips()
    result["lines"] = backend.lines()
    holder = None
    if not backend.holds_itself and _gpio_holder_running():
        holder = _gpio_holder_call({"cmd": "status"})
    result["holder"] = holder
    # values the listing did not give: lines our holder keeps, then free lines if the backend can
    # read them without changing their direction
    held = {}
    for spec in (holder or {}).get("lines", []):
        held[(spec["chip"], spec["offset"])] = spec
    free = []
    for line in result["lines"]:
        if line.get("value") is not None:
            continue
        spec = held.get((line["chip"], line["offset"]))
        if spec is not None:
            value = spec["value"] ^ (1 if bool(spec.get("active_low")) != line["active_low"] else 0)
            line["value"] = value
        elif not line.get("used"):
            free.append(line)
    if free and hasattr(backend, "read_free"):
        try:
            backend.read_free(free)
        except (OSError, OpError, subprocess.SubprocessError):
            pass
    return result


@op("gpio.get")
def _gpio_get(args):
    backend = _gpio_backend(args.get("backend"))
    specs = _gpio_specs(backend, args)
    values = [None] * len(specs)
    rest = []
    if not backend.holds_itself and not isinstance(backend, _GpioSim) and _gpio_holder_running():
        held = {(s["chip"], s["offset"]): s for s in _gpio_holder_call({"cmd": "status"})["lines"]}
        for i, spec in enumerate(specs):
            h = held.get((spec["chip"], spec["offset"]))
            if h is not None:
                values[i] = h["value"] ^ (1 if spec.get("active_low") != h.get("active_low") else 0)
    for i in range(len(specs)):
        if values[i] is None:
            rest.append(i)
    if rest:
        got = backend.get([specs[i] for i in rest])
        for i, value in zip(rest, got):  # noqa: B905 - Python 3.7
            values[i] = value
    out = []
    for spec, value in zip(specs, values):  # noqa: B905 - Python 3.7
        rec = _gpio_public(spec)
        rec["value"] = value
        rec["direction"] = spec["current"].get("direction")
        rec["consumer"] = spec["current"].get("consumer")
        out.append(rec)
    return out


def _gpio_check_outputs(backend, specs):
    """Refuse lines another consumer holds, naming it (sysfs has no owners: exported is fine)."""
    ours = (GPIO_CONSUMER, "sysfs") if isinstance(backend, _GpioSysfs) else (GPIO_CONSUMER,)
    for spec in specs:
        cur = spec["current"]
        if cur.get("used") and cur.get("consumer") not in ours:
            raise OpError(
                "{} is in use by {!r}".format(spec["name"], cur.get("consumer") or "?"), "busy"
            )


@op("gpio.set")
def _gpio_set(args):
    """Set output lines (value 0/1 or "toggle"); `pulse_ms` sets, waits, restores."""
    name = args.get("backend") or "auto"
    backend = _gpio_backend(name)
    specs = _gpio_specs(backend, args)
    _gpio_check_outputs(backend, specs)
    if backend.holds_itself:
        done = []
        for spec in specs:
            spec["was"] = None
            if spec["value"] == "toggle" or args.get("pulse_ms"):
                spec["was"] = backend.get([spec])[0]
            if spec["value"] == "toggle":
                spec["value"] = 1 - spec["was"]
            backend.set_direct(spec)
            done.append(spec)
        if args.get("pulse_ms"):
            time.sleep(args["pulse_ms"] / 1000.0)
            for spec in specs:
                backend.set_direct(dict(spec, value=spec["was"]))
        return {"lines": [_gpio_public(s) for s in done], "holder": None}
    for spec in specs:
        spec.pop("current", None)
    started = _gpio_holder_ensure(name)
    if args.get("pulse_ms"):
        done = _gpio_holder_call(
            {"cmd": "pulse", "lines": specs, "ms": args["pulse_ms"]},
            timeout=30 + args["pulse_ms"] / 1000.0,
        )
    else:
        done = _gpio_holder_call({"cmd": "set", "lines": specs})
    status = _gpio_holder_call({"cmd": "ping"}) if _gpio_holder_running() else None
    return {
        "lines": [_gpio_public(s) for s in done],
        "holder": status and status["pid"],
        "holder_started": started,
    }


@op("gpio.release")
def _gpio_release(args):
    """Release lines held by the holder (all of them without pins); the holder exits when empty."""
    backend = _gpio_backend(args.get("backend"))
    if backend.holds_itself:
        specs = _gpio_specs(backend, args)
        if not specs and isinstance(backend, _GpioManager):
            specs = []
            for key in backend._requests():
                chip, _, offset = key.rpartition(":")
                specs.append({"chip": chip, "offset": int(offset), "name": key})
        for spec in specs:
            backend.release(spec)
        return {"lines": [_gpio_public(s) for s in specs], "holder": None}
    if not _gpio_holder_running():
        return {"lines": [], "holder": None}
    pins = args.get("pins")
    specs = None
    if pins:
        specs = _gpio_specs(backend, args)
        for spec in specs:
            spec.pop("current", None)
    pid = _gpio_holder_call({"cmd": "ping"})["pid"]
    done = _gpio_holder_call({"cmd": "release", "lines": specs})
    if specs is None or not _gpio_holder_running():
        for _ in range(500):
            if not _gpio_alive(pid):
                break
            time.sleep(0.01)
    return {"lines": [_gpio_public(s) for s in done], "holder": pid}


@op("gpio.drive")
def _gpio_drive(args):
    """Sim only: set the level on the wire of input lines, in order, `gap` seconds apart."""
    backend = _gpio_backend(args.get("backend"))
    if not isinstance(backend, _GpioSim):
        raise OpError('drive works on the simulated chip only (backend = "sim")', "usage")
    specs = _gpio_specs(backend, args)
    backend.drive([(s["offset"], s["value"]) for s in specs], float(args.get("gap") or 0))
    return [_gpio_public(s) for s in specs]


class _GpioDebouncer:
    """Per line: report a level only once it stayed put for `period` seconds (as the kernel's
    debounce does); with period 0 every change is reported."""

    def __init__(self, level, period):
        self.reported = level
        self.pending = None
        self.deadline = None
        self.period = period

    def change(self, level, ts, now):
        if self.period <= 0:
            if level != self.reported:
                self.reported = level
                return [(level, ts)]
            return []
        self.pending = level
        self.deadline = now + self.period
        return []

    def due(self, now):
        if self.deadline is not None and now >= self.deadline:
            self.deadline = None
            if self.pending != self.reported:
                self.reported = self.pending
                return [(self.reported, time.time())]
        return []


def _gpio_watch_loop(specs, edge, debounce, emit, source):
    """Turn level changes from `source(timeout)` -> [(offset, level, ts)] into edge items."""
    lines = {}
    for spec in specs:
        lines[spec["offset"]] = (spec, _GpioDebouncer(spec["level"], debounce))
    last_beat = time.time()
    stdin = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else None
    while True:
        now = time.time()
        deadlines = [d.deadline for _, d in lines.values() if d.deadline is not None]
        timeout = GPIO_HEARTBEAT - (now - last_beat)
        if deadlines:
            timeout = min(timeout, min(deadlines) - now)
        changes = source(max(0.0, timeout), stdin)
        if changes is None:
            return
        now = time.time()
        reports = []
        for offset, level, ts in changes:
            spec, deb = lines[offset]
            for lv, t in deb.change(level, ts, now):
                reports.append((spec, lv, t))
        for spec, deb in lines.values():
            for lv, t in deb.due(now):
                reports.append((spec, lv, t))
        for spec, level, ts in reports:
            value = level ^ (1 if spec.get("active_low") else 0)
            kind = "rising" if value else "falling"
            if edge in ("both", kind):
                emit(
                    {
                        "pin": spec.get("pin") or spec["name"],
                        "name": spec["name"],
                        "offset": spec["offset"],
                        "edge": kind,
                        "value": value,
                        "timestamp": ts,
                    }
                )
        if time.time() - last_beat >= GPIO_HEARTBEAT:
            emit({"heartbeat": time.time()})
            last_beat = time.time()


def _gpio_wait(sources, stdin, timeout):
    """Which of `sources` (files or fds) are readable within `timeout`; None once the client
    has gone (its end of stdin closed)."""
    watch = list(sources) + ([stdin] if stdin is not None else [])
    ready, _, _ = select.select(watch, [], [], timeout)
    if stdin is not None and stdin in ready and not os.read(stdin.fileno(), 65536):
        return None
    return ready


@op("gpio.watch")
def _gpio_watch(args):
    """Stream edges of input lines until the client goes away (stdin closes).

    Items: {"ready": ...} once armed, then {pin, name, offset, edge, value, timestamp} and a
    {"heartbeat": ts} every few seconds so the client can tell a dead connection from silence.
    """
    backend = _gpio_backend(args.get("backend"))
    specs = _gpio_specs(backend, args)
    edge = args.get("edge") or "both"
    debounce = float(args.get("debounce") or 0)
    emit = args["_emit"]
    if isinstance(backend, _GpioSim):
        return _gpio_watch_sim(backend, specs, edge, debounce, emit)
    if isinstance(backend, _GpioBindings) and backend.v2:
        return _gpio_watch_v2(backend, specs, edge, debounce, emit)
    if isinstance(backend, _GpioBindings):
        return _gpio_watch_v1(backend, specs, edge, debounce, emit)
    if isinstance(backend, _GpioSysfs):
        return _gpio_watch_sysfs(backend, specs, edge, debounce, emit)
    if isinstance(backend, _GpioTools) and shutil.which("gpiomon"):
        return _gpio_watch_gpiomon(backend, specs, edge, debounce, emit)
    raise OpError(
        f"watch needs libgpiod's Python bindings, gpiomon, sysfs or the sim here (backend {backend.name})",
        "unsupported",
    )


def _gpio_watch_sim(backend, specs, edge, debounce, emit):
    pid = os.getpid()
    path = os.path.join(backend.dir, f"w-{pid}.sock")
    try:
        os.unlink(path)
    except OSError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)

    def arm(state):
        for spec in specs:
            line = backend.check_free(state, spec, pid)
            if line["direction"] == "output" and line["consumer"] is None:
                line["direction"] = "input"
        for spec in specs:
            line = state["lines"][spec["offset"]]
            line["consumer"] = GPIO_WATCH_CONSUMER
            line["pid"] = pid
            line["direction"] = "input"
            line["edge"] = edge
            line["active_low"] = bool(spec.get("active_low"))
            bias = _gpio_norm_bias(spec.get("bias"))
            if bias:
                line["bias"] = bias
            spec["level"] = _gpio_phys(line)
        state["watchers"][path] = {"pid": pid, "offsets": [s["offset"] for s in specs]}

    def disarm(state):
        state["watchers"].pop(path, None)
        for spec in specs:
            line = state["lines"][spec["offset"]]
            if line.get("pid") == pid:
                backend._free(line)

    try:
        backend.transact(arm)
        emit(_gpio_ready(specs))

        def source(timeout, stdin):
            ready = _gpio_wait([sock], stdin, timeout)
            if ready is None:
                return None
            changes = []
            if sock in ready:
                while True:
                    try:
                        data = sock.recv(65536, socket.MSG_DONTWAIT)
                    except (BlockingIOError, InterruptedError):
                        break
                    msg = json.loads(data.decode())
                    changes.append((msg["offset"], msg["level"], msg["ts"]))
            return changes

        _gpio_watch_loop(specs, edge, debounce, emit, source)
    finally:
        try:
            backend.transact(disarm)
        finally:
            sock.close()
            try:
                os.unlink(path)
            except OSError:
                pass
    raise SystemExit(0)


def _gpio_watch_v2(backend, specs, edge, debounce, emit):
    import datetime

    from gpiod.line import Bias, Direction, Edge

    gpiod = backend.gpiod
    requests = []
    for chip, group in _gpio_by_chip(specs).items():
        config = {}
        for spec in group:
            settings = gpiod.LineSettings(
                direction=Direction.INPUT,
                edge_detection=Edge.BOTH,
                active_low=False,
                debounce_period=datetime.timedelta(seconds=0),
            )
            bias = _gpio_norm_bias(spec.get("bias"))
            if bias:
                settings.bias = getattr(Bias, bias.upper().replace("-", "_"))
            config[spec["offset"]] = settings
        try:
            req = gpiod.request_lines(
                backend._path(chip), consumer=GPIO_WATCH_CONSUMER, config=config
            )
        except OSError as exc:
            if exc.errno == errno.EBUSY:
                raise OpError(
                    "{} is in use by another process".format(group[0]["name"]), "busy"
                ) from None
            raise
        requests.append(req)
        for spec in group:
            spec["level"] = int(req.get_value(spec["offset"]).value)
    emit(_gpio_ready(specs))
    try:

        def source(timeout, stdin):
            ready = _gpio_wait([r.fd for r in requests], stdin, timeout)
            if ready is None:
                return None
            changes = []
            for req in requests:
                if req.fd in ready:
                    for ev in req.read_edge_events():
                        level = 1 if ev.event_type == ev.Type.RISING_EDGE else 0
                        changes.append((ev.line_offset, level, time.time()))
            return changes

        _gpio_watch_loop(specs, edge, debounce, emit, source)
    finally:
        for req in requests:
            req.release()
    raise SystemExit(0)


def _gpio_watch_sysfs(backend, specs, edge, debounce, emit):
    files = {}
    poller = select.poll()
    for spec in specs:
        number = spec["sysfs"]
        backend._export(number)
        backend._write(number, "direction", "in")
        backend._write(number, "active_low", "0")
        backend._write(number, "edge", "both")
        fh = open(os.path.join(backend._line_dir(number), "value"), "rb", buffering=0)  # noqa: SIM115
        spec["level"] = int(fh.read().strip() or 0)
        files[fh.fileno()] = (fh, spec)
        poller.register(fh.fileno(), select.POLLPRI | select.POLLERR)
    emit(_gpio_ready(specs))
    stdin = sys.stdin.buffer
    poller.register(stdin.fileno(), select.POLLIN)

    def source(timeout, _stdin):
        changes = []
        for fd, _mask in poller.poll(timeout * 1000):
            if fd == stdin.fileno():
                if not os.read(fd, 65536):
                    return None
                continue
            fh, spec = files[fd]
            fh.seek(0)
            changes.append((spec["offset"], int(fh.read().strip() or 0), time.time()))
        return changes

    try:
        _gpio_watch_loop(specs, edge, debounce, emit, source)
    finally:
        for fh, _ in files.values():
            fh.close()
    raise SystemExit(0)


def _gpio_ready(specs):
    """The first item of a watch: each watched line and its logical value now."""
    return {
        "ready": [
            {
                "pin": s.get("pin") or s["name"],
                "name": s["name"],
                "value": s["level"] ^ (1 if s.get("active_low") else 0),
            }
            for s in specs
        ]
    }


def _gpio_watch_v1(backend, specs, edge, debounce, emit):
    """libgpiod v1 bindings (Raspberry Pi OS Bookworm's python3-libgpiod): one event request per
    line, levels as on the wire (active-low is applied by the common loop)."""
    gpiod = backend.gpiod
    biases = {
        "pull-up": "LINE_REQ_FLAG_BIAS_PULL_UP",
        "pull-down": "LINE_REQ_FLAG_BIAS_PULL_DOWN",
        "disabled": "LINE_REQ_FLAG_BIAS_DISABLE",
    }
    held = []
    try:
        for spec in specs:
            chip = gpiod.Chip(backend._path(spec["chip"]))
            line = chip.get_line(spec["offset"])
            flags = 0
            bias = _gpio_norm_bias(spec.get("bias"))
            if bias and hasattr(gpiod, biases[bias]):
                flags |= getattr(gpiod, biases[bias])
            try:
                line.request(
                    consumer=GPIO_WATCH_CONSUMER, type=gpiod.LINE_REQ_EV_BOTH_EDGES, flags=flags
                )
            except OSError as exc:
                chip.close()
                if exc.errno == errno.EBUSY:
                    raise OpError(
                        "{} is in use by another process".format(spec["name"]), "busy"
                    ) from None
                raise
            held.append((chip, line, spec))
            spec["level"] = line.get_value()
        emit(_gpio_ready(specs))
        by_fd = {line.event_get_fd(): (line, spec) for chip, line, spec in held}

        def source(timeout, stdin):
            ready = _gpio_wait(by_fd, stdin, timeout)
            if ready is None:
                return None
            changes = []
            for fd in ready:
                if fd in by_fd:
                    line, spec = by_fd[fd]
                    ev = line.event_read()
                    level = 1 if ev.type == gpiod.LineEvent.RISING_EDGE else 0
                    changes.append((spec["offset"], level, time.time()))
            return changes

        _gpio_watch_loop(specs, edge, debounce, emit, source)
    finally:
        for chip, line, _ in held:
            line.release()
            chip.close()
    raise SystemExit(0)


def _gpio_watch_gpiomon(backend, specs, edge, debounce, emit):
    """gpiomon (v1 or v2 syntax) per chip, one line per event: `<edge> <offset>`; v1 prints edge
    0 (falling) / 1 (rising), v2 1 (rising) / 2 (falling)."""
    values = backend.get(specs)
    for spec, value in zip(specs, values):  # noqa: B905 - Python 3.7
        spec["level"] = value ^ (1 if spec.get("active_low") else 0)
    procs = []
    prefix = ["stdbuf", "-oL"] if shutil.which("stdbuf") else []
    for chip, group in _gpio_by_chip(specs).items():
        offsets = [str(s["offset"]) for s in group]
        if backend.v2:
            argv = ["gpiomon", "--format=%e %o", "--consumer", GPIO_WATCH_CONSUMER, "-c", chip]
        else:
            argv = ["gpiomon", "--format=%e %o", chip]
        proc = subprocess.Popen(
            prefix + argv + offsets,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,  # unbuffered: one readline per select, nothing hidden in a buffer
        )
        procs.append((proc, {s["offset"]: s for s in group}))
    time.sleep(0.1)
    for proc, group in procs:
        if proc.poll() is not None:
            err = proc.stderr.read().decode("utf-8", "replace")
            for p, _ in procs:
                if p.poll() is None:
                    p.terminate()
            if "busy" in err.lower():
                raise _gpio_busy_error(list(group.values())[0]["name"], err)
            raise OpError(f"gpiomon: {err.strip()}", "error")
    emit(_gpio_ready(specs))
    by_fd = {proc.stdout.fileno(): (proc, group) for proc, group in procs}

    def source(timeout, stdin):
        ready = _gpio_wait(by_fd, stdin, timeout)
        if ready is None:
            return None
        changes = []
        for fd in ready:
            if fd not in by_fd:
                continue
            proc, group = by_fd[fd]
            line = proc.stdout.readline().decode("ascii", "replace").split()
            if not line:
                raise OpError("gpiomon stopped", "error")
            kind, offset = line[0], int(line[1])
            rising = kind == "1"
            changes.append((offset, 1 if rising else 0, time.time()))
        return changes

    try:
        _gpio_watch_loop(specs, edge, debounce, emit, source)
    finally:
        for proc, _ in procs:
            proc.terminate()
            proc.wait()
    raise SystemExit(0)
