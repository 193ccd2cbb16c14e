# GPIO ops: chips and lines of this machine through whichever backend works here, a holder process
# that keeps output lines requested after the command returns, and edge watching.
# stdlib only, Python >= 3.7; libgpiod's Python bindings are imported lazily inside functions.
# Every top-level name starts with `gpio`/`_gpio`: all op modules share the helper's namespace.
#
# Backends (chosen automatically, `backend` in the host's [gpio.HOST] table overrides):
#   sim       a simulated chip like a Pi's (gpiochip0 "pinctrl-bcm2835", GPIO0..GPIO27) whose state
#             lives in a JSON file under data_dir()/gpio (flock'ed), so separate processes share it
#   manager   libgpiod >= 2.2's gpio-manager daemon, driven with gpiocli (it holds lines itself)
#   bindings  libgpiod's Python bindings, v2 (gpiod.request_lines) or v1 (gpiod.Chip.get_line)
#   tools     gpioinfo/gpioget/gpioset command-line tools, v1 or v2 syntax
#   sysfs     the legacy /sys/class/gpio interface (global number = chip base + offset)
import errno
import fcntl
import glob
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time

GPIO_SIM_CHIP = "gpiochip0"
GPIO_SIM_LABEL = "pinctrl-bcm2835"
GPIO_SIM_LINES = 28
GPIO_CONSUMER = "wacket"
GPIO_WATCH_CONSUMER = "wacket-watch"
GPIO_HEARTBEAT = 5.0
GPIO_SYSFS_ROOT = "/sys/class/gpio"

# ---------------------------------------------------------------------------------------------
# parsers (also loaded on the client by wacket/gpio/parsers.py, and tested against real outputs)

_GPIO_V1_CHIP = re.compile(r"^(\S+) - (\d+) lines:\s*$")
_GPIO_V1_LINE = re.compile(
    r"^\s+line\s+(\d+):\s+(unnamed|\"[^\"]*\")\s+(unused|\"[^\"]*\")\s+(input|output)\s+"
    r"(active-high|active-low)(.*)$"
)
_GPIO_V2_LINE = re.compile(r"^\s+line\s+(\d+):\s*(unnamed|\"[^\"]*\")\s*(.*)$")


def gpio_parse_gpioinfo(text):
    """Lines from `gpioinfo` output, libgpiod v1 or v2 syntax (told apart line by line).

    Returns a list of {chip, offset, name, direction, active_low, used, consumer, bias, drive,
    edge, debounce}; name and consumer are None when the tool printed unnamed/unused.
    """
    lines = []
    chip = None
    for raw in text.splitlines():
        m = _GPIO_V1_CHIP.match(raw)
        if m:
            chip = m.group(1)
            continue
        if chip is None:
            continue
        m = _GPIO_V1_LINE.match(raw)
        if m:
            flags = m.group(6).strip()
            bracket = re.search(r"\[([^\]]*)\]", flags)
            extra = bracket.group(1).split() if bracket else []
            consumer = m.group(3)
            rec = {
                "chip": chip,
                "offset": int(m.group(1)),
                "name": None if m.group(2) == "unnamed" else m.group(2)[1:-1],
                "direction": m.group(4),
                "active_low": m.group(5) == "active-low",
                "used": "used" in extra,
                "consumer": None if consumer == "unused" else consumer[1:-1],
                "bias": "as-is",
                "drive": "push-pull",
                "edge": "none",
                "debounce": None,
            }
            for flag in extra:
                if flag in ("open-drain", "open-source"):
                    rec["drive"] = flag
                elif flag in ("pull-up", "pull-down"):
                    rec["bias"] = flag
                elif flag == "bias-disabled":
                    rec["bias"] = "disabled"
            lines.append(rec)
            continue
        m = _GPIO_V2_LINE.match(raw)
        if m:
            rec = {
                "chip": chip,
                "offset": int(m.group(1)),
                "name": None if m.group(2) == "unnamed" else m.group(2)[1:-1],
                "direction": None,
                "active_low": False,
                "used": False,
                "consumer": None,
                "bias": "as-is",
                "drive": "push-pull",
                "edge": "none",
                "debounce": None,
            }
            rest = m.group(3)
            cm = re.search(r'consumer="((?:[^"\\]|\\.)*)"', rest)
            if cm:
                rec["consumer"] = cm.group(1)
                rec["used"] = True
                rest = rest[: cm.start()] + rest[cm.end() :]
            elif re.search(r"(^|\s)consumer=kernel(\s|$)|(^|\s)used(\s|$)", rest):
                rec["used"] = True
            for word in rest.split():
                key, _, value = word.partition("=")
                if word in ("input", "output"):
                    rec["direction"] = word
                elif word == "active-low":
                    rec["active_low"] = True
                elif key == "bias":
                    rec["bias"] = value
                elif key == "drive":
                    rec["drive"] = value
                elif key == "edges":
                    rec["edge"] = value
                elif key == "debounce-period":
                    rec["debounce"] = value
            lines.append(rec)
    return lines


def gpio_parse_gpioget(text, names=None):
    """Values from `gpioget` output: v1 prints `1 0`, v2 `"GPIO17"=active "27"=inactive`.

    Returns a list of ints in the order printed (v2: also as {name: value} when names are printed).
    """
    words = text.split()
    values = []
    for word in words:
        if "=" in word:
            name, _, value = word.rpartition("=")
            value = value.strip().lower()
            if value in ("active", "1", "on", "high", "true"):
                values.append(1)
            elif value in ("inactive", "0", "off", "low", "false"):
                values.append(0)
            else:
                raise ValueError("unexpected gpioget value %r" % word)
        elif word in ("0", "1"):
            values.append(int(word))
        elif word in ("active", "inactive"):
            values.append(1 if word == "active" else 0)
        else:
            raise ValueError("unexpected gpioget output %r" % word)
    return values


def gpio_tools_version(text):
    """(major, minor) from `gpioinfo --version` (`gpioinfo (libgpiod) v1.6.3` / `... v2.1`)."""
    m = re.search(r"v(\d+)\.(\d+)", text)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2))


def gpio_parse_sysfs_chip(files):
    """A chip from the files of /sys/class/gpio/gpiochipN: {base, ngpio, label} (strings in)."""
    return {
        "base": int(files["base"].strip()),
        "ngpio": int(files["ngpio"].strip()),
        "label": files.get("label", "").strip(),
    }


def gpio_parse_sysfs_line(files):
    """One exported line from /sys/class/gpio/gpioN: direction, value, active_low, edge."""
    direction = files.get("direction", "in").strip()
    return {
        "direction": "output" if direction in ("out", "high", "low") else "input",
        "value": int(files["value"].strip()) if "value" in files else None,
        "active_low": files.get("active_low", "0").strip() == "1",
        "edge": files.get("edge", "none").strip(),
    }


def gpio_sysfs_number(chips, chip_label_or_name, offset):
    """The global sysfs number of chip:offset: that chip's base + offset.

    `chips` maps gpiochipN dirs (sysfs names, N = base) to parsed chip files; on Raspberry Pi
    kernels >= 6.6 the base of the main chip is 512 or more, so GPIO17 is not sysfs 17.
    """
    for name, chip in chips.items():
        if chip_label_or_name in (name, chip["label"]) and 0 <= offset < chip["ngpio"]:
            return chip["base"] + offset
    raise KeyError(chip_label_or_name)


# ---------------------------------------------------------------------------------------------
# helpers


def _gpio_dir():
    path = os.path.join(data_dir(), "gpio")
    if not os.path.isdir(path):
        os.makedirs(path, 0o700)
    try:
        os.chmod(path, 0o700)
    except OSError:
        pass
    return path


def _gpio_alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    try:
        with open("/proc/%d/stat" % pid) as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True


def _gpio_phys(line):
    """The level on the wire of a sim line."""
    if line["direction"] == "output":
        return line["out"]
    if line.get("ext") is not None:
        return line["ext"]
    return 1 if line.get("bias") == "pull-up" else 0


def _gpio_norm_bias(bias):
    if bias in (None, "", "as-is", "as_is"):
        return None
    bias = str(bias).replace("_", "-")
    if bias not in ("pull-up", "pull-down", "disabled"):
        raise OpError("bad bias %r (pull-up, pull-down, disabled)" % bias, "usage")
    return bias


class _GpioLocked(object):
    def __init__(self, path):
        self.path = path

    def __enter__(self):
        self.fh = open(self.path, "a")
        fcntl.flock(self.fh, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


# ---------------------------------------------------------------------------------------------
# the simulated chip


class _GpioSim(object):
    name = "sim"
    holds_itself = False

    def __init__(self):
        self.dir = _gpio_dir()
        self.path = os.path.join(self.dir, "sim-chip.json")
        self.lock = os.path.join(self.dir, "sim-chip.lock")

    def describe(self):
        return {"backend": "sim", "detail": "simulated chip, state in %s" % self.path}

    def _fresh(self):
        lines = []
        for i in range(GPIO_SIM_LINES):
            lines.append(
                {
                    "name": "GPIO%d" % i,
                    "direction": "input",
                    "active_low": False,
                    "bias": "as-is",
                    "drive": "push-pull",
                    "edge": "none",
                    "consumer": None,
                    "pid": None,
                    "out": 0,
                    "ext": None,
                }
            )
        return {"chip": GPIO_SIM_CHIP, "label": GPIO_SIM_LABEL, "lines": lines, "watchers": {}}

    def _load(self):
        try:
            with open(self.path) as fh:
                state = json.load(fh)
        except (OSError, ValueError):
            state = self._fresh()
        # The kernel frees a request when its process dies: so does the sim.
        for line in state["lines"]:
            if line["consumer"] is not None and not _gpio_alive(line.get("pid")):
                self._free(line)
        for path, entry in list(state["watchers"].items()):
            if not _gpio_alive(entry.get("pid")):
                del state["watchers"][path]
                try:
                    os.unlink(path)
                except OSError:
                    pass
        return state

    def _free(self, line):
        line["consumer"] = None
        line["pid"] = None
        line["edge"] = "none"
        # What a line does after release is undefined; the sim takes it back to an input.
        line["direction"] = "input"
        line["active_low"] = False

    def _save(self, state):
        tmp = self.path + ".%d" % os.getpid()
        with open(tmp, "w") as fh:
            json.dump(state, fh)
        os.replace(tmp, self.path)

    def _notify(self, state, before):
        """Tell the watchers of lines whose level changed (one datagram per change)."""
        now = time.time()
        for path, entry in list(state["watchers"].items()):
            for offset in entry["offsets"]:
                level = _gpio_phys(state["lines"][offset])
                if level == before[offset]:
                    continue
                msg = json.dumps({"offset": offset, "level": level, "ts": now}).encode()
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                sock.setblocking(False)  # a stopped watcher must not stall the chip
                try:
                    sock.sendto(msg, path)
                except BlockingIOError:
                    pass
                except OSError as exc:
                    if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
                        del state["watchers"][path]
                        break
                finally:
                    sock.close()

    def transact(self, fn):
        with _GpioLocked(self.lock):
            state = self._load()
            before = [_gpio_phys(line) for line in state["lines"]]
            result = fn(state)
            self._notify(state, before)
            self._save(state)
            return result

    def read_state(self):
        with _GpioLocked(self.lock):
            return self._load()

    # -- the backend interface
    def chips(self):
        return [{"chip": GPIO_SIM_CHIP, "label": GPIO_SIM_LABEL, "lines": GPIO_SIM_LINES}]

    def lines(self):
        state = self.read_state()
        out = []
        for i, line in enumerate(state["lines"]):
            level = _gpio_phys(line)
            out.append(
                {
                    "chip": GPIO_SIM_CHIP,
                    "offset": i,
                    "name": line["name"],
                    "direction": line["direction"],
                    "active_low": line["active_low"],
                    "bias": line["bias"],
                    "drive": line["drive"],
                    "edge": line["edge"],
                    "used": line["consumer"] is not None,
                    "consumer": line["consumer"],
                    "value": level ^ (1 if line["active_low"] else 0),
                }
            )
        return out

    def get(self, lines):
        def fn(state):
            values = []
            for spec in lines:
                line = state["lines"][spec["offset"]]
                bias = _gpio_norm_bias(spec.get("bias"))
                if bias and line["consumer"] is None:
                    line["bias"] = bias
                values.append(_gpio_phys(line) ^ (1 if spec.get("active_low") else 0))
            return values

        return self.transact(fn)

    def check_free(self, state, spec, pid):
        line = state["lines"][spec["offset"]]
        if line["consumer"] is not None and line.get("pid") != pid:
            raise OpError("%s is in use by %r" % (line["name"], line["consumer"]), "busy")
        return line

    def claim_output(self, specs, pid):
        def fn(state):
            for spec in specs:
                self.check_free(state, spec, pid)
            for spec in specs:
                line = state["lines"][spec["offset"]]
                line["consumer"] = GPIO_CONSUMER
                line["pid"] = pid
                line["direction"] = "output"
                line["edge"] = "none"
                line["active_low"] = bool(spec.get("active_low"))
                line["drive"] = spec.get("drive") or "push-pull"
                bias = _gpio_norm_bias(spec.get("bias"))
                if bias:
                    line["bias"] = bias
                line["out"] = spec["value"] ^ (1 if line["active_low"] else 0)

        self.transact(fn)

    def release(self, offsets, pid):
        def fn(state):
            for offset in offsets:
                line = state["lines"][offset]
                if line.get("pid") == pid:
                    self._free(line)

        self.transact(fn)

    def drive(self, assignments, gap):
        """Set the level on the wire of input lines (what a switch or sensor would do)."""
        for i, (offset, level) in enumerate(assignments):
            if i and gap:
                time.sleep(gap)

            def fn(state, offset=offset, level=level):
                line = state["lines"][offset]
                if line["direction"] == "output":
                    raise OpError(
                        "%s is an output (held by %r); drive sets the level of inputs"
                        % (line["name"], line["consumer"]),
                        "usage",
                    )
                line["ext"] = None if level is None else int(level)

            self.transact(fn)


# ---------------------------------------------------------------------------------------------
# the character device: libgpiod bindings v2 / v1, command-line tools v1 / v2


def _gpio_chardevs():
    return sorted(glob.glob("/dev/gpiochip*"), key=lambda p: int(re.sub(r"\D", "", p) or 0))


def _gpio_run(argv, timeout=10):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return (
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )


def _gpio_busy_error(name, text):
    m = re.search(r'consumer="([^"]*)"', text)
    return OpError("%s is in use by %r" % (name, m.group(1) if m else "another process"), "busy")


class _GpioTools(object):
    """libgpiod's command-line tools; v1 and v2 take different arguments."""

    name = "tools"
    holds_itself = False

    def __init__(self):
        rc, out, err = _gpio_run(["gpioinfo", "--version"])
        self.version = gpio_tools_version(out + err) or (1, 0)
        self.v2 = self.version[0] >= 2

    def describe(self):
        return {
            "backend": "tools",
            "detail": "gpioinfo/gpioget/gpioset libgpiod v%d.%d" % self.version,
        }

    def chips(self):
        seen = {}
        for line in self.lines():
            seen.setdefault(line["chip"], 0)
            seen[line["chip"]] += 1
        return [{"chip": c, "label": None, "lines": n} for c, n in seen.items()]

    def lines(self):
        rc, out, err = _gpio_run(["gpioinfo"])
        if rc != 0 and not out:
            raise OpError("gpioinfo failed: %s" % err.strip(), "error")
        recs = gpio_parse_gpioinfo(out)
        for rec in recs:
            rec["value"] = None
        return recs

    def get(self, lines):
        values = []
        for spec in lines:
            if self.v2:
                argv = ["gpioget", "--numeric", "--as-is", "-c", spec["chip"]]
                if spec.get("active_low"):
                    argv.append("--active-low")
                if _gpio_norm_bias(spec.get("bias")):
                    argv += ["--bias", spec["bias"]]
                argv.append(str(spec["offset"]))
            else:
                argv = ["gpioget"]
                if spec.get("active_low"):
                    argv.append("--active-low")
                bias = _gpio_norm_bias(spec.get("bias"))
                if bias:  # v1 spells it `disable`
                    argv += ["--bias=" + ("disable" if bias == "disabled" else bias)]
                argv += [spec["chip"], str(spec["offset"])]
            rc, out, err = _gpio_run(argv)
            if rc != 0:
                if "busy" in err.lower():
                    raise _gpio_busy_error(spec["name"], err)
                raise OpError("gpioget: %s" % err.strip(), "error")
            values.append(gpio_parse_gpioget(out)[0])
        return values

    def read_free(self, lines):
        """Fill in the values of unused lines (v2 only: v1's gpioget would make them inputs)."""
        if not self.v2:
            return
        by_chip = {}
        for line in lines:
            by_chip.setdefault(line["chip"], []).append(line)
        for chip, group in by_chip.items():
            argv = ["gpioget", "--numeric", "--as-is", "-c", chip]
            rc, out, err = _gpio_run(argv + [str(line["offset"]) for line in group])
            if rc != 0:
                continue
            for line, value in zip(group, gpio_parse_gpioget(out)):  # noqa: B905 - Python 3.7
                line["value"] = value ^ (1 if line["active_low"] else 0)

    def hold(self, spec):
        """Start a gpioset that holds the line until it is stopped: returns the process."""
        value = str(spec["value"])
        if self.v2:
            argv = ["gpioset", "-c", spec["chip"], "--consumer", GPIO_CONSUMER]
            if spec.get("active_low"):
                argv.append("--active-low")
            argv.append("%d=%s" % (spec["offset"], value))
        else:
            argv = ["gpioset", "--mode=signal"]
            if spec.get("active_low"):
                argv.append("--active-low")
            argv += [spec["chip"], "%d=%s" % (spec["offset"], value)]
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        time.sleep(0.05)
        if proc.poll() is not None:
            err = proc.stderr.read().decode("utf-8", "replace")
            if "busy" in err.lower():
                raise _gpio_busy_error(spec["name"], err)
            raise OpError("gpioset: %s" % err.strip(), "error")
        return proc

    def unhold(self, handle):
        handle.terminate()
        handle.wait()


class _GpioBindings(object):
    """libgpiod's Python bindings: v2 (gpiod.request_lines) or v1 (gpiod.Chip(...).get_line)."""

    name = "bindings"
    holds_itself = False

    def __init__(self):
        import gpiod

        self.gpiod = gpiod
        self.v2 = hasattr(gpiod, "request_lines")

    def describe(self):
        version = getattr(self.gpiod, "__version__", "?")
        return {
            "backend": "bindings",
            "detail": "libgpiod Python bindings %s (v%d API)" % (version, 2 if self.v2 else 1),
        }

    def chips(self):
        out = []
        for path in _gpio_chardevs():
            if self.v2:
                with self.gpiod.Chip(path) as chip:
                    info = chip.get_info()
                    out.append({"chip": info.name, "label": info.label, "lines": info.num_lines})
            else:
                chip = self.gpiod.Chip(path)
                out.append({"chip": chip.name(), "label": chip.label(), "lines": chip.num_lines()})
                chip.close()
        return out

    def lines(self):
        out = []
        for path in _gpio_chardevs():
            if self.v2:
                with self.gpiod.Chip(path) as chip:
                    cname = chip.get_info().name
                    for i in range(chip.get_info().num_lines):
                        li = chip.get_line_info(i)
                        out.append(
                            {
                                "chip": cname,
                                "offset": i,
                                "name": li.name,
                                "direction": str(li.direction).rsplit(".", 1)[-1].lower(),
                                "active_low": li.active_low,
                                "bias": str(li.bias).rsplit(".", 1)[-1].lower().replace("_", "-"),
                                "drive": str(li.drive).rsplit(".", 1)[-1].lower().replace("_", "-"),
                                "edge": str(li.edge_detection).rsplit(".", 1)[-1].lower(),
                                "used": li.used,
                                "consumer": li.consumer or None,
                                "value": None,
                            }
                        )
            else:
                chip = self.gpiod.Chip(path)
                for line in chip.get_all_lines():
                    out.append(
                        {
                            "chip": chip.name(),
                            "offset": line.offset(),
                            "name": line.name(),
                            "direction": "output"
                            if line.direction() == self.gpiod.Line.DIRECTION_OUTPUT
                            else "input",
                            "active_low": line.active_state() == self.gpiod.Line.ACTIVE_LOW,
                            "bias": "as-is",
                            "drive": "push-pull",
                            "edge": "none",
                            "used": line.is_used(),
                            "consumer": line.consumer(),
                            "value": None,
                        }
                    )
                chip.close()
        return out

    def _path(self, chip):
        return chip if chip.startswith("/") else "/dev/" + chip

    def read_free(self, lines):
        """Fill in the values of unused lines (v2: one as-is request per chip)."""
        if not self.v2:
            return
        from gpiod.line import Direction

        by_chip = {}
        for line in lines:
            by_chip.setdefault(line["chip"], []).append(line)
        for chip, group in by_chip.items():
            settings = self.gpiod.LineSettings(direction=Direction.AS_IS)
            config = {tuple(line["offset"] for line in group): settings}
            with self.gpiod.request_lines(
                self._path(chip), consumer=GPIO_CONSUMER, config=config
            ) as req:
                values = req.get_values([line["offset"] for line in group])
            for line, value in zip(group, values):  # noqa: B905 - Python 3.7
                line["value"] = int(value.value) ^ (1 if line["active_low"] else 0)

    def get(self, lines):
        values = []
        for spec in lines:
            try:
                if self.v2:
                    from gpiod.line import Bias, Direction

                    settings = self.gpiod.LineSettings(
                        direction=Direction.AS_IS, active_low=bool(spec.get("active_low"))
                    )
                    bias = _gpio_norm_bias(spec.get("bias"))
                    if bias:
                        settings.bias = getattr(Bias, bias.upper().replace("-", "_"))
                    with self.gpiod.request_lines(
                        self._path(spec["chip"]),
                        consumer=GPIO_CONSUMER,
                        config={spec["offset"]: settings},
                    ) as req:
                        values.append(int(req.get_value(spec["offset"]).value))
                else:
                    chip = self.gpiod.Chip(self._path(spec["chip"]))
                    line = chip.get_line(spec["offset"])
                    flags = self.gpiod.LINE_REQ_FLAG_ACTIVE_LOW if spec.get("active_low") else 0
                    line.request(
                        consumer=GPIO_CONSUMER, type=self.gpiod.LINE_REQ_DIR_AS_IS, flags=flags
                    )
                    values.append(line.get_value())
                    line.release()
                    chip.close()
            except OSError as exc:
                if exc.errno == errno.EBUSY:
                    raise OpError("%s is in use by another process" % spec["name"], "busy")
                raise
        return values

    def hold(self, spec):
        try:
            if self.v2:
                from gpiod.line import Direction, Value

                settings = self.gpiod.LineSettings(
                    direction=Direction.OUTPUT,
                    active_low=bool(spec.get("active_low")),
                    output_value=Value.ACTIVE if spec["value"] else Value.INACTIVE,
                )
                req = self.gpiod.request_lines(
                    self._path(spec["chip"]),
                    consumer=GPIO_CONSUMER,
                    config={spec["offset"]: settings},
                )
                return ("v2", req)
            chip = self.gpiod.Chip(self._path(spec["chip"]))
            line = chip.get_line(spec["offset"])
            flags = self.gpiod.LINE_REQ_FLAG_ACTIVE_LOW if spec.get("active_low") else 0
            line.request(
                consumer=GPIO_CONSUMER,
                type=self.gpiod.LINE_REQ_DIR_OUT,
                flags=flags,
                default_val=spec["value"],
            )
            return ("v1", (chip, line))
        except OSError as exc:
            if exc.errno == errno.EBUSY:
                raise OpError("%s is in use by another process" % spec["name"], "busy")
            raise

    def set_held(self, handle, spec):
        kind, obj = handle
        if kind == "v2":
            from gpiod.line import Value

            obj.set_value(spec["offset"], Value.ACTIVE if spec["value"] else Value.INACTIVE)
        else:
            obj[1].set_value(spec["value"])

    def unhold(self, handle):
        kind, obj = handle
        if kind == "v2":
            obj.release()
        else:
            obj[1].release()
            obj[0].close()


class _GpioSysfs(object):
    """The legacy sysfs interface: values stay set after the writer exits, so no holder."""

    name = "sysfs"
    holds_itself = True

    def __init__(self):
        self.root = GPIO_SYSFS_ROOT

    def describe(self):
        return {"backend": "sysfs", "detail": "legacy %s" % self.root}

    def _chips(self):
        chips = {}
        for path in glob.glob(os.path.join(self.root, "gpiochip*")):
            files = {}
            for key in ("base", "ngpio", "label"):
                try:
                    with open(os.path.join(path, key)) as fh:
                        files[key] = fh.read()
                except OSError:
                    pass
            if "base" in files and "ngpio" in files:
                chips[os.path.basename(path)] = gpio_parse_sysfs_chip(files)
        return chips

    def chips(self):
        out = []
        for i, (_name, chip) in enumerate(
            sorted(self._chips().items(), key=lambda kv: kv[1]["base"])
        ):
            out.append(
                {
                    "chip": "gpiochip%d" % i,
                    "label": chip["label"],
                    "lines": chip["ngpio"],
                    "base": chip["base"],
                }
            )
        return out

    def _line_dir(self, number):
        return os.path.join(self.root, "gpio%d" % number)

    def _read_line(self, number):
        files = {}
        for key in ("direction", "value", "active_low", "edge"):
            try:
                with open(os.path.join(self._line_dir(number), key)) as fh:
                    files[key] = fh.read()
            except OSError:
                pass
        return gpio_parse_sysfs_line(files) if files else None

    def lines(self):
        out = []
        for chip in self.chips():
            for i in range(chip["lines"]):
                rec = {
                    "chip": chip["chip"],
                    "offset": i,
                    "name": None,
                    "direction": None,
                    "active_low": False,
                    "bias": "as-is",
                    "drive": "push-pull",
                    "edge": "none",
                    "used": False,
                    "consumer": None,
                    "value": None,
                    "sysfs": chip["base"] + i,
                }
                exported = self._read_line(chip["base"] + i)
                if exported:
                    rec.update(exported)
                    rec["used"] = True
                    rec["consumer"] = "sysfs"
                out.append(rec)
        return out

    def _export(self, number):
        if not os.path.isdir(self._line_dir(number)):
            with open(os.path.join(self.root, "export"), "w") as fh:
                fh.write(str(number))
            for _ in range(100):  # udev may still be fixing permissions
                if os.access(os.path.join(self._line_dir(number), "value"), os.W_OK):
                    break
                time.sleep(0.01)

    def _write(self, number, key, value):
        with open(os.path.join(self._line_dir(number), key), "w") as fh:
            fh.write(value)

    def get(self, lines):
        values = []
        for spec in lines:
            number = spec["sysfs"]
            self._export(number)
            self._write(number, "active_low", "1" if spec.get("active_low") else "0")
            values.append(self._read_line(number)["value"])
        return values

    def set_direct(self, spec):
        number = spec["sysfs"]
        self._export(number)
        self._write(number, "active_low", "1" if spec.get("active_low") else "0")
        self._write(number, "direction", "out")
        self._write(number, "value", str(spec["value"]))

    def release(self, spec):
        try:
            with open(os.path.join(self.root, "unexport"), "w") as fh:
                fh.write(str(spec["sysfs"]))
        except OSError:
            pass


class _GpioManager(object):
    """libgpiod >= 2.2's gpio-manager (D-Bus), through gpiocli; the daemon holds lines itself.

    Each line wacket sets gets its own request (`gpiocli request --output`), whose name is kept in
    data_dir()/gpio/manager-requests.json so later sets, gets and releases address it.
    """

    name = "manager"
    holds_itself = True

    def __init__(self):
        self.path = os.path.join(_gpio_dir(), "manager-requests.json")

    def describe(self):
        return {"backend": "manager", "detail": "gpio-manager via gpiocli"}

    def _reader(self):
        try:
            return _GpioBindings()
        except ImportError:
            return _GpioTools()

    def chips(self):
        return self._reader().chips()

    def lines(self):
        return self._reader().lines()

    def _requests(self):
        try:
            with open(self.path) as fh:
                return json.load(fh)
        except (OSError, ValueError):
            return {}

    def _save(self, reqs):
        tmp = self.path + ".%d" % os.getpid()
        with open(tmp, "w") as fh:
            json.dump(reqs, fh)
        os.replace(tmp, self.path)

    def _key(self, spec):
        return "%s:%d" % (spec["chip"], spec["offset"])

    def get(self, lines):
        values = []
        reqs = self._requests()
        for spec in lines:
            req = reqs.get(self._key(spec))
            if req is None:
                values.extend(self._reader().get([spec]))
                continue
            rc, out, err = _gpio_run(["gpiocli", "get", "--numeric", "-r", req["name"]])
            if rc != 0:
                raise OpError("gpiocli get: %s" % err.strip(), "error")
            value = gpio_parse_gpioget(out)[0]
            if bool(req.get("active_low")) != bool(spec.get("active_low")):
                value ^= 1
            values.append(value)
        return values

    def set_direct(self, spec):
        reqs = self._requests()
        key = self._key(spec)
        target = "%d=%d" % (spec["offset"], spec["value"])
        req = reqs.get(key)
        if req is not None and bool(req.get("active_low")) == bool(spec.get("active_low")):
            rc, out, err = _gpio_run(["gpiocli", "set", "-r", req["name"], target])
            if rc == 0:
                return
        if req is not None:
            _gpio_run(["gpiocli", "release", req["name"]])
        argv = ["gpiocli", "request", "-c", spec["chip"], "--consumer", GPIO_CONSUMER, "--output"]
        if spec.get("active_low"):
            argv.append("--active-low")
        rc, out, err = _gpio_run(argv + [target])
        if rc != 0:
            if "busy" in err.lower():
                raise _gpio_busy_error(spec["name"], err)
            raise OpError("gpiocli request: %s" % err.strip(), "error")
        reqs[key] = {"name": out.strip(), "active_low": bool(spec.get("active_low"))}
        self._save(reqs)

    def release(self, spec):
        reqs = self._requests()
        req = reqs.pop(self._key(spec), None)
        if req is not None:
            _gpio_run(["gpiocli", "release", req["name"]])
            self._save(reqs)


def _gpio_manager_running():
    if not shutil.which("gpiocli"):
        return False
    try:
        rc, out, err = _gpio_run(["gpiocli", "detect"], timeout=3)
    except (OSError, subprocess.SubprocessError):
        return False
    return rc == 0


def _gpio_backend(name):
    name = name or "auto"
    if name == "sim":
        return _GpioSim()
    chardev = bool(_gpio_chardevs())
    if name in ("auto", "manager") and chardev and _gpio_manager_running():
        return _GpioManager()
    if name in ("auto", "bindings") and chardev:
        try:
            return _GpioBindings()
        except ImportError:
            if name == "bindings":
                raise OpError("libgpiod's Python bindings (gpiod) are not installed", "no-gpio")
    if name in ("auto", "tools") and chardev and shutil.which("gpioinfo"):
        return _GpioTools()
    if name in ("auto", "sysfs") and glob.glob(os.path.join(GPIO_SYSFS_ROOT, "gpiochip*")):
        return _GpioSysfs()
    if name not in ("auto", "manager", "bindings", "tools", "sysfs"):
        raise OpError(
            "unknown GPIO backend %r (auto, sim, manager, bindings, tools, sysfs)" % name, "usage"
        )
    raise OpError(
        "no GPIO on this host (no /dev/gpiochip*, no /sys/class/gpio chips)"
        + ("" if name == "auto" else " for backend %r" % name),
        "no-gpio",
    )


def _gpio_resolve(backend, specs, all_lines=None):
    """Each spec {pin, line} or {pin, chip, offset} -> a full spec with chip, offset, name."""
    if all_lines is None:
        all_lines = backend.lines()
    by_name = {}
    for rec in all_lines:
        if rec["name"]:
            by_name.setdefault(rec["name"], rec)
    chips = backend.chips()
    out = []
    for spec in specs:
        spec = dict(spec)
        if spec.get("line") is not None:
            rec = by_name.get(spec["line"])
            if rec is None:
                named = [r["name"] for r in all_lines if r["name"]]
                hint = ", ".join(named[:6]) + (", ..." if len(named) > 6 else "")
                raise OpError(
                    "no line named %r here (lines: %s)" % (spec["line"], hint or "none named"),
                    "unknown-line",
                )
        else:
            chip = str(spec.get("chip"))
            match = None
            for i, c in enumerate(chips):
                if chip in (c["chip"], str(i), c.get("label"), "/dev/" + c["chip"]):
                    match = c
                    break
            if match is None:
                raise OpError(
                    "no GPIO chip %r here (chips: %s)"
                    % (chip, ", ".join(c["chip"] for c in chips)),
                    "unknown-line",
                )
            offset = int(spec["offset"])
            rec = None
            for r in all_lines:
                if r["chip"] == match["chip"] and r["offset"] == offset:
                    rec = r
                    break
            if rec is None:
                raise OpError(
                    "%s has no line %d (%d lines)" % (match["chip"], offset, match["lines"]),
                    "unknown-line",
                )
        spec["chip"] = rec["chip"]
        spec["offset"] = rec["offset"]
        spec["name"] = rec["name"] or "%s:%d" % (rec["chip"], rec["offset"])
        spec["current"] = rec
        if "sysfs" in rec:
            spec["sysfs"] = rec["sysfs"]
        out.append(spec)
    return out


# ---------------------------------------------------------------------------------------------
# the holder: one detached process per host that keeps output lines requested

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


def _gpio_holder_call(request, timeout=30):
    sockpath = _gpio_holder_paths()[0]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(sockpath)
        sock.sendall(json.dumps(request).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
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
    sockpath, lockpath, pidpath = _gpio_holder_paths()
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
        "the GPIO holder did not start (see %s)" % os.path.join(_gpio_dir(), "holder.log"), "holder"
    )


class _GpioHolder(object):
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
        raise OpError("unknown holder command %r" % cmd, "protocol")


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
        fh.write("%d\n" % os.getpid())
    stop = []

    def on_term(signum, frame):
        stop.append(signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        while not stop:
            try:
                ready, _, _ = select.select([srv], [], [], 1.0)
            except (OSError, select.error):
                continue
            if not ready:
                continue
            conn, _ = srv.accept()
            conn.settimeout(10)
            try:
                data = b""
                while not data.endswith(b"\n"):
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                req = json.loads(data.decode())
                try:
                    reply = {"ok": holder.handle(req)}
                except OpError as exc:
                    reply = {"error": str(exc), "kind": exc.kind}
                except Exception as exc:
                    reply = {"error": "%s: %s" % (type(exc).__name__, exc), "kind": "internal"}
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


# ---------------------------------------------------------------------------------------------
# ops


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
            raise OpError("%s is in use by %r" % (spec["name"], cur.get("consumer") or "?"), "busy")


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


class _GpioDebouncer(object):
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


def _gpio_stdin_closed(stdin, ready):
    if stdin is not None and stdin in ready:
        return not os.read(stdin.fileno(), 65536)
    return False


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
        "watch needs libgpiod's Python bindings, gpiomon, sysfs or the sim here (backend %s)"
        % backend.name,
        "unsupported",
    )


def _gpio_watch_sim(backend, specs, edge, debounce, emit):
    pid = os.getpid()
    path = os.path.join(backend.dir, "w-%d.sock" % pid)
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
        emit(
            {
                "ready": [
                    {
                        "pin": s.get("pin") or s["name"],
                        "name": s["name"],
                        "value": s["level"] ^ (1 if s.get("active_low") else 0),
                    }
                    for s in specs
                ]
            }
        )

        def source(timeout, stdin):
            watch = [sock] + ([stdin] if stdin is not None else [])
            ready, _, _ = select.select(watch, [], [], timeout)
            if _gpio_stdin_closed(stdin, ready):
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
    by_chip = {}
    for spec in specs:
        by_chip.setdefault(spec["chip"], []).append(spec)
    requests = []
    for chip, group in by_chip.items():
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
                raise OpError("%s is in use by another process" % group[0]["name"], "busy")
            raise
        requests.append(req)
        for spec in group:
            spec["level"] = int(req.get_value(spec["offset"]).value)
    emit(
        {
            "ready": [
                {
                    "pin": s.get("pin") or s["name"],
                    "name": s["name"],
                    "value": s["level"] ^ (1 if s.get("active_low") else 0),
                }
                for s in specs
            ]
        }
    )
    try:

        def source(timeout, stdin):
            watch = [r.fd for r in requests] + ([stdin] if stdin is not None else [])
            ready, _, _ = select.select(watch, [], [], timeout)
            if _gpio_stdin_closed(stdin, ready):
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
    emit(
        {
            "ready": [
                {
                    "pin": s.get("pin") or s["name"],
                    "name": s["name"],
                    "value": s["level"] ^ (1 if s.get("active_low") else 0),
                }
                for s in specs
            ]
        }
    )
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
                    raise OpError("%s is in use by another process" % spec["name"], "busy")
                raise
            held.append((chip, line, spec))
            spec["level"] = line.get_value()
        emit(_gpio_ready(specs))
        by_fd = {line.event_get_fd(): (line, spec) for chip, line, spec in held}

        def source(timeout, stdin):
            watch = list(by_fd) + ([stdin] if stdin is not None else [])
            ready, _, _ = select.select(watch, [], [], timeout)
            if _gpio_stdin_closed(stdin, ready):
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
    by_chip = {}
    for spec in specs:
        by_chip.setdefault(spec["chip"], []).append(spec)
    procs = []
    prefix = ["stdbuf", "-oL"] if shutil.which("stdbuf") else []
    for chip, group in by_chip.items():
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
            raise OpError("gpiomon: %s" % err.strip(), "error")
    emit(_gpio_ready(specs))
    by_fd = {proc.stdout.fileno(): (proc, group) for proc, group in procs}

    def source(timeout, stdin):
        watch = list(by_fd) + ([stdin] if stdin is not None else [])
        ready, _, _ = select.select(watch, [], [], timeout)
        if _gpio_stdin_closed(stdin, ready):
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
